/**
 * Quorum safety of membership changes (src/plan/membership.ts), judged on real plans: random old
 * and new member sets for RabbitMQ, etcd, a Pacemaker cluster and Patroni, planned by planCluster,
 * compared with an independent statement of the rule (the members that stay must hold the old
 * cluster's quorum; a cluster that tolerated a failure must still tolerate one; a replicated
 * cluster keeps at least one member).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Inventory } from "../../src/inventory/schema";
import { membershipChangeFindings, memberships, type Membership } from "../../src/plan/membership";
import { majorityQuorum } from "../../src/plan/quorum";
import { planCluster } from "../../src/pipeline/plan";
import type { ClusterPlan } from "../../src/plan/types";
import { checkMembershipGuard } from "../../src/providers/membership-guard";

const HOSTS = ["h1", "h2", "h3", "h4", "h5", "h6", "h7"];
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA x";

interface Members {
  rabbitmq: string[];
  etcd: string[];
  pacemaker: string[];
  patroni: string[];
}

export function membersInventory(m: Members): Record<string, unknown> {
  return {
    version: 1,
    name: "m",
    target: "ssh",
    hosts: HOSTS.map((h, i) => ({ name: h, address: `10.9.0.${i + 11}`, ssh: { hostKey: KEY } })),
    rabbitmq: { nodes: m.rabbitmq, password: { secret: "p" }, cookie: { secret: "c" } },
    quorumStore: { kind: "etcd", members: m.etcd },
    pacemaker: { clusters: [{ name: "db", nodes: m.pacemaker, properties: { "stonith-enabled": false } }] },
    postgres: { engine: "patroni", nodes: m.patroni, superuserPassword: { secret: "s" }, replicationPassword: { secret: "r" } },
  };
}

function plan(m: Members): ClusterPlan | undefined {
  const p = Inventory.safeParse(membersInventory(m));
  assert.ok(p.success, JSON.stringify(!p.success && p.error.issues));
  return planCluster(p.data).plan;
}

const subset = fc.subarray(HOSTS, { minLength: 1, maxLength: 7 });
const members = fc.record({ rabbitmq: subset, etcd: subset, pacemaker: subset, patroni: subset });
/** Independently: a node in both plans with another id, or a new node given an id an old node had. */
function nodeidsMove(p0: ClusterPlan, p1: ClusterPlan): boolean {
  const ids0 = new Map(p0.pacemakerClusters[0]!.nodes.map((n) => [n.host, n.nodeid]));
  const ids1 = new Map(p1.pacemakerClusters[0]!.nodes.map((n) => [n.host, n.nodeid]));
  const held = new Set(ids0.values());
  return [...ids1].some(([h, id]) => (ids0.has(h) ? ids0.get(h) !== id : held.has(id)));
}

const codesFor = (fs: ReturnType<typeof membershipChangeFindings>, path: string) =>
  fs
    .filter((f) => f.path === path && f.severity === "error")
    .map((f) => f.code)
    .sort();

describe("membership changes", () => {
  it("property: errors exactly when the staying members cannot carry the old quorum, a failure-tolerant cluster stops tolerating one, or no replica stays", () => {
    fc.assert(
      fc.property(members, members, (before, after) => {
        const p0 = plan(before);
        const p1 = plan(after);
        fc.pre(p0 !== undefined && p1 !== undefined);
        const findings = membershipChangeFindings(memberships(p0), memberships(p1));
        const voting = (
          old: string[],
          now: string[],
          q0: { quorum: number; failuresTolerated: number },
          q1: { failuresTolerated: number },
        ) => {
          const kept = old.filter((h) => now.includes(h)).length;
          if (kept < q0.quorum) return ["membership.majority-removed"];
          if (now.length < old.length && q0.failuresTolerated >= 1 && q1.failuresTolerated === 0) return ["membership.below-minimum"];
          return [];
        };
        assert.deepEqual(
          codesFor(findings, "rabbitmq.nodes"),
          voting(before.rabbitmq, after.rabbitmq, majorityQuorum(before.rabbitmq.length), majorityQuorum(after.rabbitmq.length)),
        );
        assert.deepEqual(
          codesFor(findings, "quorumStore.members"),
          voting(before.etcd, after.etcd, majorityQuorum(before.etcd.length), majorityQuorum(after.etcd.length)),
        );
        assert.deepEqual(
          codesFor(findings, "pacemaker.clusters[0].nodes"),
          [
            ...voting(before.pacemaker, after.pacemaker, p0.pacemakerClusters[0]!.quorum, p1.pacemakerClusters[0]!.quorum),
            ...(nodeidsMove(p0, p1) ? ["membership.nodeid-changed"] : []),
          ].sort(),
        );
        assert.deepEqual(
          codesFor(findings, "postgres.nodes"),
          before.patroni.some((h) => after.patroni.includes(h)) ? [] : ["membership.no-survivor"],
        );
        // allowUnsafe: the same findings, none of them an error but a node id change
        const allowed = membershipChangeFindings(memberships(p0), memberships(p1), { allowUnsafe: true });
        assert.deepEqual(allowed.map((f) => f.code).sort(), findings.map((f) => f.code).sort());
        assert.ok(allowed.every((f) => (f.severity === "error") === (f.code === "membership.nodeid-changed")));
        // every error names what to do
        for (const f of findings) assert.ok(f.hint && f.message.length > 0);
      }),
      { numRuns: 150 },
    );
  });

  it("property: unchanged or only growing memberships are always accepted; member order does not matter", () => {
    fc.assert(
      fc.property(members, members, (base, extra) => {
        const grown: Members = {
          rabbitmq: [...new Set([...base.rabbitmq, ...extra.rabbitmq])],
          etcd: [...new Set([...base.etcd, ...extra.etcd])],
          pacemaker: [...new Set([...base.pacemaker, ...extra.pacemaker])],
          patroni: [...new Set([...base.patroni, ...extra.patroni])],
        };
        const p0 = plan(base);
        const p1 = plan(grown);
        // (Pacemaker's order is its node ids when none is pinned: see the node id properties below)
        const shuffled = plan({
          rabbitmq: [...base.rabbitmq].reverse(),
          etcd: [...base.etcd].reverse(),
          pacemaker: base.pacemaker,
          patroni: [...base.patroni].reverse(),
        });
        fc.pre(p0 !== undefined && p1 !== undefined && shuffled !== undefined);
        assert.deepEqual(membershipChangeFindings(memberships(p0), memberships(p0)), []);
        assert.deepEqual(membershipChangeFindings(memberships(p0), memberships(shuffled)), []);
        assert.deepEqual(membershipChangeFindings(memberships(p0), memberships(p1)), []);
      }),
      { numRuns: 100 },
    );
  });

  it("property: a chain of accepted changes never loses the previous step's majority (5 → 3 → 5 one member at a time is fine)", () => {
    const m = (n: string[]): Membership => ({
      id: "etcd",
      path: "quorumStore.members",
      members: [...n].sort(),
      quorum: majorityQuorum(n.length),
    });
    fc.assert(
      fc.property(fc.array(subset, { minLength: 2, maxLength: 8 }), (steps) => {
        for (let i = 1; i < steps.length; i++) {
          const ok = membershipChangeFindings([m(steps[i - 1]!)], [m(steps[i]!)]).every((f) => f.severity !== "error");
          const kept = steps[i - 1]!.filter((h) => steps[i]!.includes(h)).length;
          if (ok) assert.ok(kept >= majorityQuorum(steps[i - 1]!.length).quorum);
        }
      }),
    );
    const five = ["h1", "h2", "h3", "h4", "h5"];
    const ok = (a: string[], b: string[]) =>
      membershipChangeFindings([m(a)], [m(b)])
        .filter((f) => f.severity === "error")
        .map((f) => f.code);
    assert.deepEqual(ok(five, ["h1", "h2", "h3"]), []);
    assert.deepEqual(ok(["h1", "h2", "h3"], five), []);
    assert.deepEqual(ok(five, ["h1", "h2"]), ["membership.majority-removed"]);
    assert.deepEqual(ok(["h1", "h2", "h3"], ["h1", "h2"]), ["membership.below-minimum"]);
    assert.deepEqual(ok(["h1", "h2", "h3"], ["h4", "h5", "h6"]), ["membership.majority-removed"]);
  });

  it("a cluster dropped from the inventory is a warning, a new one is nothing", () => {
    const p0 = plan({ rabbitmq: ["h1", "h2", "h3"], etcd: ["h1", "h2", "h3"], pacemaker: ["h1", "h2", "h3"], patroni: ["h1", "h2"] })!;
    const withoutEtcd = memberships(p0).filter((m) => m.id !== "etcd");
    const f = membershipChangeFindings(memberships(p0), withoutEtcd);
    assert.deepEqual(
      f.map((x) => [x.severity, x.code, x.path]),
      [["warning", "membership.cluster-removed", "quorumStore.members"]],
    );
    assert.deepEqual(membershipChangeFindings(withoutEtcd, memberships(p0)), []);
    assert.deepEqual(membershipChangeFindings([], memberships(p0)), []);
  });

  it("RabbitMQ members are node names: a new rabbitmq_host on every node is a replacement of all of them", () => {
    const a: Membership = {
      id: "rabbitmq",
      path: "rabbitmq.nodes",
      members: ["rabbit@h1", "rabbit@h2", "rabbit@h3"],
      quorum: majorityQuorum(3),
    };
    const b: Membership = { ...a, members: ["rabbit@10.0.0.1", "rabbit@10.0.0.2", "rabbit@10.0.0.3"] };
    assert.deepEqual(
      membershipChangeFindings([a], [b]).map((f) => f.code),
      ["membership.majority-removed"],
    );
  });
});

describe("Corosync node ids of the nodes that stay (membership.nodeid-changed)", () => {
  // A node: its host and, when pinned, its `nodeid:` (the pin travels with the node's entry).
  type Node = { host: string; nodeid?: number };
  const pacemakerPlan = (nodes: readonly Node[]) => {
    const inv = membersInventory({ rabbitmq: ["h1"], etcd: ["h1", "h2", "h3"], pacemaker: [], patroni: ["h1"] });
    const p = Inventory.safeParse({
      ...inv,
      pacemaker: {
        clusters: [
          { name: "db", nodes: nodes.map((n) => (n.nodeid === undefined ? n.host : n)), properties: { "stonith-enabled": false } },
        ],
      },
    });
    return p.success ? planCluster(p.data).plan : undefined;
  };
  const pinned = (hosts: readonly string[]) =>
    fc
      .array(fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined, freq: 3 }), { minLength: hosts.length, maxLength: hosts.length })
      .map((ids): Node[] => hosts.map((host, i) => (ids[i] === undefined ? { host } : { host, nodeid: ids[i] })));
  // old: 3..6 nodes in any order, some pinned; new: any of them staying, in any order, with new
  // nodes (maybe pinned) inserted anywhere
  const change = fc
    .shuffledSubarray(HOSTS, { minLength: 3, maxLength: 6 })
    .chain(pinned)
    .chain((old) =>
      fc
        .record({
          stay: fc.shuffledSubarray(old, { minLength: 1 }),
          added: fc.subarray(HOSTS.filter((h) => !old.some((n) => n.host === h))).chain(pinned),
          at: fc.array(fc.nat(), { maxLength: 4 }),
        })
        .map(({ stay, added, at }) => {
          const next = [...stay];
          added.forEach((n, i) => next.splice((at[i] ?? 0) % (next.length + 1), 0, n));
          return { old, next };
        }),
    );

  it("property: any staying set in any order: no staying node's id changes, or the guard refuses the change before any step", () => {
    fc.assert(
      fc.property(change, fc.boolean(), ({ old, next }, allowUnsafe) => {
        const p0 = pacemakerPlan(old);
        const p1 = pacemakerPlan(next);
        fc.pre(p0 !== undefined && p1 !== undefined);
        const r = checkMembershipGuard({ memberships: memberships(p0), allowUnsafe }, { memberships: memberships(p1), allowUnsafe });
        const refused = (r.failures ?? []).filter((f) => f.reason.startsWith("membership.nodeid-changed"));
        const ids0 = new Map(p0.pacemakerClusters[0]!.nodes.map((n) => [n.host, n.nodeid]));
        const changed = p1.pacemakerClusters[0]!.nodes.filter((n) => ids0.has(n.host) && ids0.get(n.host) !== n.nodeid);
        if (changed.length) {
          assert.equal(
            refused.length,
            1,
            `${JSON.stringify({ old, next })}: ${changed.map((n) => n.host).join(", ")} renumbered, not refused`,
          );
          // the hint names the id each of them runs with
          for (const n of changed) assert.match(refused[0]!.reason, new RegExp(`${n.host}: nodeid ${ids0.get(n.host)}\\b`));
        }
        assert.equal(refused.length > 0, nodeidsMove(p0, p1), JSON.stringify({ old, next }));
        // pinning what the hint says makes the same change accepted as far as ids go
        if (changed.length) {
          const pinnedNext = next.map((n) => (ids0.has(n.host) ? { host: n.host, nodeid: ids0.get(n.host)! } : n));
          const p2 = pacemakerPlan(pinnedNext);
          fc.pre(p2 !== undefined && !nodeidsMove(p0, p2));
          const again = checkMembershipGuard({ memberships: memberships(p0), allowUnsafe }, { memberships: memberships(p2), allowUnsafe });
          assert.ok(!(again.failures ?? []).some((f) => f.reason.startsWith("membership.nodeid-changed")));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("removing the first node, inserting one before the others, a removed node's id given to a new one: refused; appending: accepted", () => {
    const codes = (a: Node[], b: Node[]) =>
      membershipChangeFindings(memberships(pacemakerPlan(a)!), memberships(pacemakerPlan(b)!)).map((f) => `${f.severity} ${f.code}`);
    const h = (...xs: string[]) => xs.map((host) => ({ host }));
    assert.deepEqual(codes(h("h1", "h2", "h3", "h4"), h("h2", "h3", "h4")), ["error membership.nodeid-changed"]);
    assert.deepEqual(codes(h("h1", "h2", "h3"), h("h4", "h1", "h2", "h3")), ["error membership.nodeid-changed"]);
    assert.deepEqual(codes(h("h1", "h2", "h3"), h("h1", "h2", "h4")), ["error membership.nodeid-changed"]);
    assert.deepEqual(codes(h("h1", "h2", "h3"), h("h1", "h2", "h3", "h4")), []);
    assert.deepEqual(
      codes(h("h1", "h2", "h3", "h4"), [
        { host: "h2", nodeid: 2 },
        { host: "h3", nodeid: 3 },
        { host: "h4", nodeid: 4 },
      ]),
      [],
    );
    // a state written before ids were recorded: nothing to compare
    const old = memberships(pacemakerPlan(h("h1", "h2", "h3", "h4"))!).map(({ nodeids: _, ...m }) => m);
    assert.deepEqual(membershipChangeFindings(old, memberships(pacemakerPlan(h("h2", "h3", "h4"))!)), []);
  });
});

describe("haforge validate --previous / --rev", () => {
  const { mkdtempSync, writeFileSync, rmSync, readFileSync } = require("node:fs") as typeof import("node:fs");
  // eslint-disable-next-line @typescript-eslint/unbound-method -- path.join does not use `this`
  const { join } = require("node:path") as typeof import("node:path");
  const { tmpdir } = require("node:os") as typeof import("node:os");
  const { execFileSync } = require("node:child_process") as typeof import("node:child_process");
  const yaml = require("js-yaml") as typeof import("js-yaml");
  const { runCli } = require("../helpers/cli") as typeof import("../helpers/cli");
  const three = ["h1", "h2", "h3"];
  const all3: Members = { rabbitmq: three, etcd: three, pacemaker: three, patroni: three };

  it("refuses removing 2 of 3 RabbitMQ nodes at once, accepts one at a time, downgrades with --allow-unsafe-membership", async () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-membership-"));
    try {
      const write = (name: string, m: Members) => {
        const f = join(dir, name);
        writeFileSync(f, yaml.dump(membersInventory(m)));
        return f;
      };
      const old = write("old.yaml", all3);
      const bad = write("bad.yaml", { ...all3, rabbitmq: ["h1"] });
      const fine = write("fine.yaml", { ...all3, etcd: ["h1", "h2", "h3", "h4"], rabbitmq: ["h1", "h2", "h3", "h4", "h5"] });
      // without --previous the shrunk inventory is valid on its own
      assert.equal((await runCli(["validate", bad])).code, 0);
      const r = await runCli(["validate", bad, "--previous", old, "--json"]);
      assert.equal(r.code, 1, r.out + r.err);
      const j = JSON.parse(r.out) as { valid: boolean; findings: { severity: string; code: string; path: string; hint?: string }[] };
      assert.equal(j.valid, false);
      const f = j.findings.find((x) => x.code === "membership.majority-removed");
      assert.ok(f, r.out);
      assert.equal(f.path, "rabbitmq.nodes");
      assert.match(f.hint ?? "", /at most 1 member/);
      assert.equal((await runCli(["validate", fine, "--previous", old])).code, 0);
      const allowed = await runCli(["validate", bad, "--previous", old, "--allow-unsafe-membership"]);
      assert.equal(allowed.code, 0, allowed.out);
      assert.match(allowed.out, /warning membership\.majority-removed/);
      // usage problems: exit 2, a message, no stack
      const both = await runCli(["validate", bad, "--previous", old, "--rev", "HEAD"]);
      assert.equal(both.code, 2);
      const missing = await runCli(["validate", bad, "--previous", join(dir, "nope.yaml")]);
      assert.equal(missing.code, 2);
      assert.match(missing.err, /cannot read previous inventory/);
      // a broken previous inventory: a warning, the new one is still judged on its own
      writeFileSync(join(dir, "broken.yaml"), "version: 1\nhosts: 3\n");
      const broken = await runCli(["validate", bad, "--previous", join(dir, "broken.yaml")]);
      assert.equal(broken.code, 0);
      assert.match(broken.out, /membership\.previous-invalid/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--rev judges the working copy against the committed inventory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-membership-git-"));
    try {
      const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dir, stdio: "pipe" });
      git("init", "-q");
      const f = join(dir, "cluster.yaml");
      writeFileSync(f, yaml.dump(membersInventory(all3)));
      git("add", "cluster.yaml");
      git("commit", "-qm", "three");
      writeFileSync(f, yaml.dump(membersInventory({ ...all3, pacemaker: ["h4", "h5", "h6"], patroni: ["h4", "h5"] })));
      const r = await runCli(["validate", f, "--rev", "HEAD", "--json"]);
      assert.equal(r.code, 1, r.out + r.err);
      const codes = (JSON.parse(r.out) as { findings: { code: string; path: string }[] }).findings.map((x) => `${x.code} ${x.path}`);
      assert.ok(codes.includes("membership.majority-removed pacemaker.clusters[0].nodes"), codes.join("\n"));
      assert.ok(codes.includes("membership.no-survivor postgres.nodes"), codes.join("\n"));
      const unknown = await runCli(["validate", f, "--rev", "no-such-rev"]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.err, /no-such-rev.*no such commit/);
      assert.ok(readFileSync(f, "utf8").includes("h4"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a Tower INI inventory: findings in the INI's own notation", async () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-membership-ini-"));
    try {
      const ini = (hosts: string[]) =>
        `[tower]\n${hosts.join("\n")}\n\n[database]\ndb1\n\n[all:vars]\nrabbitmq_cookie=${"c".repeat(20)}\nrabbitmq_password=p\npg_password=p\nadmin_password=p\n`;
      writeFileSync(join(dir, "old.ini"), ini(["t1", "t2", "t3"]));
      writeFileSync(join(dir, "new.ini"), ini(["t1"]));
      const r = await runCli(["validate", join(dir, "new.ini"), "--previous", join(dir, "old.ini")]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.out, /error membership\.majority-removed at \S+/);
      assert.doesNotMatch(r.out, /at rabbitmq\.nodes/, "the path is translated to the INI's notation");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
