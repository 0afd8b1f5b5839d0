/**
 * Pacemaker membership changes in Pacemaker's own order, on a REAL namespaced cluster (issue 11):
 * corosync 3 + pacemakerd under supervisord, one network namespace per node, fencing ON with
 * cluster-glue's `null` device (it records every fence request and touches nothing).
 *
 * The apply is what the providers run, in the engine's order: an update writes every node's files
 * and runs their restarts in the roll's order (PacemakerNsCluster.applyNode), the member actions'
 * creates follow; on removal the deletes run after every update, the deprovisionings (the stop)
 * BEFORE the member actions' deletes (the program's dependencies, tests/program/stacks.test.ts),
 * each chain in reverse.
 *
 * 1. Grow 3 → 5, fencing on throughout with a device able to fence all five names (n4 and n5
 *    before they exist): the members reload the nodelist (corosync-apply.sh: startup-fencing off,
 *    `corosync-cfgtool -R`), then n4 and n5 start and join, then the CIB apply (after the
 *    membership actions: the engine's order) puts startup-fencing back. Sampled on n1..n3: quorate,
 *    no node UNCLEAN; no fence in any node's history; 5 votes, every node online.
 * 1b. A node replaced under its name (issue 11): one that stays, runs no resource and is not the
 *    DC loses power (its init killed, its tmpfs state gone), its disk is replaced (every folder
 *    haforge writes emptied), it boots and gets haforge's files again through the same apply
 *    (applyNode: the files all written, its key check, corosync-apply.sh, Pacemaker's start; no
 *    membership action and no CIB apply, the engine keeps those). Sampled every ~200 ms on the
 *    other four: quorate throughout; the dead node UNCLEAN then fenced (the null device: what
 *    Pacemaker does with a lost member), never UNCLEAN once it booted again, no other node
 *    UNCLEAN; then `crm_node -l` the same ids everywhere, its CIB configuration the cluster's,
 *    fence-null not moved nor started again. The fence history is cleared for the later steps.
 * 2. Shrink 5 → 3, n1 and n4 leave (n1 is the runner of every other node's member delete): the
 *    nodes that stay (n2, n3, n5) do not reload while n1 and n4 run (they are marked leaving); n4
 *    then n1 stop (quorum checked before each: Pacemaker, then corosync), then the nodes that stay
 *    reload the nodelist and Pacemaker forgets each; n4's removal, on n1 (stopped by then: not the
 *    place), passes on to n2 (deleteElsewhere, as HostAction runs it). Sampled on the nodes that
 *    stay throughout: quorate in every sample, no node UNCLEAN, no fence request. After: n1/n4 gone
 *    from `crm_node -l` and from the runtime nodelist, 3 expected votes, their daemons stopped.
 * 2b. The same 3 nodes without their pinned ids (default ids would renumber them 1..3): the
 *    renumbered corosync.conf written on n2, corosync's restart (corosync-apply.sh) refuses it,
 *    nothing stopped, the runtime ids, 3 votes and CLUSTER OK unchanged.
 * 3. Destroy of the 3: every node stops (n5, n3, n2), then no node is the place for the member
 *    deletes (every corosync stopped): done without a cluster to remove them from; no fence;
 *    every daemon stopped, each step bounded (the lab's destroy hung in `supervisorctl stop
 *    pacemaker` when the node had been removed while it ran).
 * Run one netns-using file at a time (docs/lab.md): node --import tsx --test tests/system/pacemaker-membership.test.ts
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DELETE_ELSEWHERE_EXIT, type ClusterAction, type DesiredState } from "../../src/core/desired-state";
import type { InventoryInput } from "../../src/inventory/schema";
import { shellQuote } from "../../src/core/escape";
import { deprovisionCommand } from "../../src/render/daemon";
import { restartWithGate } from "../../components/service-resources";
import { PacemakerNsCluster, filesOf, renderWithKeys, requireCommands, servicesOf, sleep } from "./pacemaker-cluster";

const ALL = ["n1", "n2", "n3", "n4", "n5"];
const FIRST = ALL.slice(0, 3);
/** The shrink removes n1 (the runner of every other node's member delete) with n4. */
const LEAVING = ["n4", "n1"];
const KEPT = ["n2", "n3", "n5"];
const cluster = new PacemakerNsCluster("hfpm", ALL, "10.231.12", {
  "/etc/corosync": "corosync",
  "/etc/supervisor/conf.d": "conf.d",
  "/usr/local/lib/haforge": "lib",
  "/var/lib/haforge/pacemaker": "cibs",
});
const inside = (n: string, cmd: string, timeoutMs = 60_000) => cluster.inside(n, cmd, { timeoutMs });
const verdicts: string[] = [];

function inventory(nodes: readonly string[], pinned = true): InventoryInput {
  return {
    name: "members",
    hosts: nodes.map((n) => ({
      name: n,
      address: cluster.addr(n),
      init: "supervisor" as const,
      interfaces: [{ name: "eth0", address: `${cluster.addr(n)}/24` }],
    })),
    pacemaker: {
      clusters: [
        {
          name: "pm",
          // fixed node ids: without them, removing n1 would renumber the others (ids 1..n in order)
          nodes: nodes.map((host) => (pinned ? { host, nodeid: ALL.indexOf(host) + 1 } : host)),
          token: 3000,
          quorum: { twoNode: false, lastManStanding: false, autoTieBreaker: false },
          // fencing on throughout, declared as an operator would: cluster-glue's `null` device
          // (records every request, touches nothing) able to fence every one of the five names,
          // the nodes a grow adds included, from the start (no pcmk_host_list: Pacemaker asks the
          // device, as with a power switch that serves the whole rack); each CIB apply keeps it
          fencing: [{ id: "fence-null", agent: "stonith:null", params: { hostlist: ALL.join(" ") } }],
        },
      ],
    },
  };
}
const three = renderWithKeys(inventory(FIRST));
const five = renderWithKeys(inventory(ALL));
const kept = renderWithKeys(inventory(KEPT));

interface Sample {
  readonly at: number;
  readonly node: string;
  readonly quorate: boolean;
  readonly unclean: boolean;
}
const t0 = Date.now();
function sampleOn(nodes: readonly string[], into: Sample[]): void {
  for (const n of nodes) {
    const q = inside(n, "corosync-quorumtool -s 2>&1; echo; crm_mon -1 2>&1 | grep -ci unclean", 5_000);
    into.push({
      at: Date.now() - t0,
      node: n,
      quorate: /^Quorate:\s+Yes/m.test(q.out),
      unclean: Number(q.out.trim().split("\n").pop()) > 0,
    });
  }
}
async function sampled<T>(nodes: readonly string[], f: () => Promise<T>): Promise<{ value: T; samples: Sample[] }> {
  const samples: Sample[] = [];
  const timer = setInterval(() => sampleOn(nodes, samples), 400);
  try {
    const value = await f();
    sampleOn(nodes, samples);
    return { value, samples };
  } finally {
    clearInterval(timer);
  }
}

const member = (s: DesiredState, n: string): ClusterAction => s.actions.find((a) => a.id === `pacemaker:pm:member:${n}`)!;
const nodeList = (n: string) =>
  inside(n, "crm_node -l 2>&1")
    .out.trim()
    .split("\n")
    .map((l) => l.split(/\s+/)[1])
    .filter(Boolean)
    .sort();
const runtimeNodes = (n: string) =>
  [...inside(n, "corosync-cmapctl -b nodelist.node 2>&1").out.matchAll(/^nodelist\.node\.\d+\.name \(str\) = (\S+)$/gm)]
    .map((m) => m[1])
    .sort();
/** What the cluster looked like, for a failure's message. */
const state = (n = "n1") =>
  inside(
    n,
    "crm_mon -1 2>&1 | head -30; crm_mon -1 -s 2>&1; corosync-quorumtool -s 2>&1 | tail -12; stonith_admin --history '*' 2>&1 | head",
  ).out;
/** The ids of the node's runtime nodelist, as "name:id" (sorted). */
const runtimeIds = (n: string) => {
  const out = inside(n, "corosync-cmapctl -b nodelist.node 2>&1").out;
  const name = new Map([...out.matchAll(/^nodelist\.node\.(\d+)\.name \(str\) = (\S+)$/gm)].map((m) => [m[1], m[2]]));
  return [...out.matchAll(/^nodelist\.node\.(\d+)\.nodeid \(u32\) = (\d+)$/gm)].map((m) => `${name.get(m[1])}:${m[2]}`).sort();
};
const daemonsOn = (n: string) => inside(n, "for p in pacemakerd corosync; do pgrep -x $p >/dev/null && echo $p; done; true").out.trim();

/** `crm_node -l` on node n: "id name state" lines, sorted. */
const nodeIds = (n: string) => inside(n, "crm_node -l 2>&1").out.trim().split("\n").sort();
/** The node a resource runs on, as node n1's crm_mon shows it ("" when stopped). */
const locate = (rsc: string) => new RegExp(`${rsc}\\s.*\\sStarted (\\S+)`).exec(inside("n1", "crm_mon -1 2>&1").out)?.[1] ?? "";
/** The CIB's configuration section on node n (nodes, properties, resources, constraints). */
const configuration = (n: string) => inside(n, "cibadmin --query --local --scope configuration 2>&1").out;
/** Every resource's last start on the nodes other than `except` (operation, call id, node), from the CIB's status. */
const startOps = (except: string) =>
  [...inside("n1", "cibadmin --query --scope status 2>&1").out.matchAll(/<node_state [^>]*uname="([^"]+)"[\s\S]*?<\/node_state>/g)]
    .filter((m) => m[1] !== except)
    .flatMap((m) =>
      [...m[0].matchAll(/<lrm_rsc_op [^>]*operation="start"[^>]*>/g)].map(
        (o) => `${m[1]} ${/ id="([^"]+)"/.exec(o[0])?.[1]} call-id=${/call-id="(\d+)"/.exec(o[0])?.[1]}`,
      ),
    )
    .sort();
/** Until `f` holds, by a deadline (ms); fails with the cluster as n1 sees it. */
async function within(what: string, ms: number, f: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms\n${state()}`);
    await sleep(200);
  }
}
interface Sample2 {
  readonly at: number;
  readonly node: string;
  readonly quorate: boolean;
  /** The nodes this node's crm_mon listed UNCLEAN. */
  readonly unclean: string[];
}
/** Samples the nodes every ~200 ms (in parallel, off the event loop) until `stop` is set. */
function sampleUntil(nodes: readonly string[], into: Sample2[]): { stop: boolean; done: Promise<void> } {
  const s = { stop: false, done: Promise.resolve() };
  s.done = (async () => {
    while (!s.stop) {
      const next = sleep(200);
      await Promise.all(
        nodes.map(async (n) => {
          const q = await cluster.insideAsync(n, "timeout 5 corosync-quorumtool -s 2>&1; echo ===; timeout 5 crm_mon -1 2>&1");
          const [quorum, mon] = q.out.split("\n===\n");
          into.push({
            at: Date.now() - t0,
            node: n,
            quorate: /^Quorate:\s+Yes/m.test(quorum ?? ""),
            unclean: [...(mon ?? "").matchAll(/Node (\S+): UNCLEAN|\b(\S+): UNCLEAN|UNCLEAN[^:]*: \[([^\]]*)\]/g)].flatMap((m) =>
              (m[1] ?? m[2] ?? m[3] ?? "").trim().split(/\s+/),
            ),
          });
        }),
      );
      await next;
    }
  })();
  return s;
}

/** A deprovisioning's delete on its host (the stop), as the engine runs it on removal. */
async function deprovision(s: DesiredState, n: string): Promise<{ rc: number; out: string; ms: number }> {
  const at = Date.now();
  const r = await cluster.insideAsync(n, `timeout 300 sh -c ${shellQuote(deprovisionCommand(servicesOf(s, n)))}`);
  return { ...r, ms: Date.now() - at };
}
/** A member action's delete as HostAction runs it: on its runner, then its deleteElsewhere nodes while one is not the place. */
async function removeMember(s: DesiredState, n: string): Promise<{ rc: number; out: string; on: string }> {
  const a = member(s, n);
  let out = "";
  for (const on of [a.host, ...(a.deleteElsewhere ?? [])]) {
    const r = await cluster.insideAsync(on, a.delete!);
    out += r.out;
    if (r.rc !== DELETE_ELSEWHERE_EXIT) return { rc: r.rc, out, on };
  }
  return { rc: 0, out, on: "" };
}

before(async () => {
  requireCommands(["corosync", "pacemakerd", "supervisord", "crm_mon", "crm_node", "stonith_admin", "cibadmin", "nsenter", "unshare"]);
  await cluster.up();
});

after(async () => {
  await cluster.down();
  console.log(`# pacemaker membership verdicts\n${verdicts.map((v) => `#   ${v}`).join("\n")}`);
});

describe("Pacemaker membership: grow 3 → 5, shrink 5 → 3 in Pacemaker's order, destroy (real daemons)", () => {
  it("bootstrap: 3 nodes, CLUSTER OK, fencing on (the inventory's null device)", async () => {
    for (const only of ["corosync", "pacemaker"])
      for (const n of FIRST) {
        const r = await cluster.applyNode(three, n, { first: true, only: [only] });
        assert.deepEqual([r.refused, r.failed], [[], []], n);
      }
    for (const a of three.actions.filter((x) => x.phase !== "bootstrap")) {
      const r = await cluster.runAction(a);
      assert.equal(r.rc, 0, `${a.id}: ${r.out}`);
    }
    assert.doesNotMatch(configuration("n1"), /name="stonith-enabled" value="false"/, "fencing on");
    await cluster.until(
      "CLUSTER OK with the fence device",
      () => cluster.clusterOk("n1") && /fence-null.*Started/.test(inside("n1", "crm_mon -1").out),
      90,
    );
    assert.equal(cluster.fenceHistory("n1"), "");
  });

  it("grow 3 → 5: the members reload the nodelist, then n4 and n5 start and join; quorate throughout, no fence", async () => {
    // the device can fence the nodes being added (Pacemaker asks it: dynamic list)
    for (const n of ["n4", "n5"]) assert.match(inside("n1", `stonith_admin --list ${n} 2>&1`).out, /fence-null/, `a device for ${n}`);
    const from = cluster.ran.length;
    const samples: Sample2[] = [];
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${Date.now() - t0} ms: ${what}`);
    const sampler = sampleUntil(FIRST, samples);
    const value = [];
    try {
      // the engine's order: the members' updates (files, corosync's reload), the new nodes' start,
      // the membership actions (each waits for its node), then what depends on them: the CIB apply
      // (a node it lists before the node joined would be "unseen" and fenced by startup-fencing)
      const updates = [];
      for (const n of FIRST) updates.push(await cluster.applyNode(five, n, { deferActions: true }));
      value.push(...updates);
      mark("members updated");
      for (const n of ["n4", "n5"]) value.push(await cluster.applyNode(five, n, { first: true }));
      mark("n4, n5 started");
      for (const n of ["n4", "n5"]) value.push({ node: n, member: await cluster.runAction(member(five, n)) });
      mark("n4, n5 members");
      const deferred = updates.flatMap((u) => u.deferred ?? []);
      assert.deepEqual(
        deferred.map((a) => a.id),
        ["pacemaker:pm:cib"],
      );
      for (const a of deferred) value.push({ node: a.host, member: await cluster.runAction(a) });
      mark("CIB applied");
      await cluster.until("5 votes and CLUSTER OK", () => cluster.votes("n1") === 5 && cluster.clusterOk("n1"), 120);
      mark("5 votes, CLUSTER OK");
    } finally {
      sampler.stop = true;
      await sampler.done;
    }
    for (const r of value)
      if ("member" in r) assert.equal(r.member.rc, 0, `${r.node}: ${r.member.out}\n${state()}`);
      else assert.deepEqual([r.refused, r.failed], [[], []], `${r.node}\n${state()}`);
    const reloads = cluster.ran.slice(from).filter((x) => FIRST.includes(x.node) && x.kind === "restart");
    assert.deepEqual(
      reloads.map((x) => `${x.node}:${x.id}`),
      FIRST.map((n) => `${n}:corosync`),
      "the members ran corosync-apply only",
    );
    assert.deepEqual(nodeList("n1"), ALL);
    const bad = samples.filter((x) => !x.quorate || x.unclean.length);
    const fences = ALL.map((n) => [n, cluster.fenceHistory(n)]).filter(([, h]) => h);
    assert.deepEqual(
      {
        samples: bad
          .slice(0, 6)
          .map((x) => `${x.at} ms ${x.node}: ${x.quorate ? "quorate" : "NOT quorate"}, UNCLEAN [${x.unclean.join(" ")}]`),
        fences,
      },
      { samples: [], fences: [] },
      `a member lost quorum or saw a node UNCLEAN (${bad.length} of ${samples.length} samples), or a node was fenced; ${marks.join("; ")}`,
    );
    // fencing stayed on, and the CIB apply put the inventory's properties back (startup-fencing
    // was off from the members' reload until every new node was a member: corosync-apply.sh)
    const config = configuration("n1");
    assert.doesNotMatch(config, /name="stonith-enabled" value="false"/);
    assert.doesNotMatch(config, /name="startup-fencing"/, "startup-fencing back to its default");
    verdicts.push(`grow: 5 votes, ${samples.length} samples on n1..n3 quorate, none UNCLEAN, no fence on any node; ${marks.join("; ")}`);
  });

  it("a node replaced under its name (power lost, fresh disk, haforge's files again): it rejoins under its nodeid with the cluster's CIB; quorate throughout, only the dead node fenced, never UNCLEAN once back, nothing moved", async () => {
    // the grow's CIB apply kept the inventory's fence device, now over the 5 nodes
    assert.match(configuration("n1"), new RegExp(`name="hostlist" value="${ALL.join(" ")}"`));
    // settled, then the replaced node: one that stays after the shrink, runs no resource and is
    // not the DC
    await within("fence-null started, CLUSTER OK", 60_000, () => locate("fence-null") !== "" && cluster.clusterOk("n1"));
    const dc = /Current DC: (\S+)/.exec(inside("n1", "crm_mon -1 2>&1").out)?.[1];
    const placed = locate("fence-null");
    const r = KEPT.find((n) => n !== dc && n !== placed);
    assert.ok(r && dc && placed, `DC ${dc}, fence-null on ${placed}`);
    const others = ALL.filter((n) => n !== r);
    const members = nodeIds("n1");
    assert.ok(members.includes(`${ALL.indexOf(r) + 1} ${r} member`), members.join(", "));
    const starts = startOps(r);
    assert.ok(
      starts.some((x) => x.startsWith(`${placed} fence-null`)),
      starts.join(", "),
    );
    const config = configuration("n1");
    const from = cluster.ran.length;
    const samples: Sample2[] = [];
    const sampler = sampleUntil(others, samples);
    const ms = { offline: 0, apply: 0, online: 0 };
    let bootAt = 0;
    try {
      // a dead host: its init and every process under it killed, its tmpfs state gone with it
      const killAt = Date.now();
      await cluster.powerOff(r);
      // Pacemaker's answer to a lost member: UNCLEAN, fenced (the null device), then OFFLINE
      await within(`the others see ${r} offline`, 60_000, () =>
        others.every((n) => new RegExp(`OFFLINE: \\[[^\\]]*\\b${r}\\b`).test(inside(n, "crm_mon -1 2>&1").out)),
      );
      ms.offline = Date.now() - killAt;
      // its disk replaced: none of haforge's files, no cluster state, nothing running
      await cluster.replaceDisk(r);
      await cluster.boot(r);
      bootAt = Date.now() - t0;
      const fresh = [
        "/etc/corosync",
        "/etc/supervisor/conf.d",
        "/usr/local/lib/haforge",
        "/var/lib/haforge/pacemaker",
        "/var/lib/pacemaker/cib",
        "/var/lib/corosync",
      ];
      assert.equal(inside(r, `find ${fresh.join(" ")} -mindepth 1 2>&1; pgrep -x corosync; pgrep -x pacemakerd; true`).out.trim(), "");
      // `up`: every file absent, so written; what a written file triggers on the node runs
      const applyAt = Date.now();
      const applied = await cluster.applyNode(five, r);
      ms.apply = Date.now() - applyAt;
      assert.deepEqual([applied.refused, applied.failed], [[], []], `${r}\n${state()}`);
      assert.deepEqual(
        [...applied.written].sort(),
        filesOf(five, r)
          .map((f) => f.path)
          .sort(),
        "every file written again",
      );
      assert.deepEqual(
        cluster.ran.slice(from).map((x) => `${x.node}:${x.kind}:${x.id}`),
        [`${r}:action:pacemaker:pm:keys:${r}`, `${r}:restart:corosync`, `${r}:restart:pacemaker`],
        "a replaced host's apply: its file-triggered action and restarts; no membership action, no CIB apply (their inputs did not change)",
      );
      const appliedAt = Date.now();
      await within(
        `${r} online, CLUSTER OK, 5 votes`,
        90_000,
        () =>
          others.every((n) => new RegExp(`Online: \\[[^\\]]*\\b${r}\\b`).test(inside(n, "crm_mon -1 2>&1").out)) &&
          cluster.votes("n1") === 5 &&
          cluster.clusterOk("n1"),
      );
      ms.online = Date.now() - appliedAt;
    } finally {
      sampler.stop = true;
      await sampler.done;
    }
    for (const n of ALL) assert.deepEqual(nodeIds(n), members, `${n}: crm_node -l, the same ids`);
    assert.equal(configuration(r), configuration("n1"), `${r}'s CIB configuration is the cluster's`);
    assert.equal(configuration("n1"), config, "the configuration unchanged");
    assert.equal(locate("fence-null"), placed, "fence-null not moved");
    assert.deepEqual(startOps(r), starts, "no resource started again on another node");
    assert.ok(samples.length >= 20, `too few samples: ${samples.length}`);
    assert.deepEqual(
      samples.filter((x) => !x.quorate),
      [],
      "a node that stayed lost quorum",
    );
    assert.deepEqual(
      samples.filter((x) => x.unclean.some((u) => u !== r)),
      [],
      `a node other than ${r} seen UNCLEAN`,
    );
    assert.deepEqual(
      samples.filter((x) => x.at > bootAt && x.unclean.length),
      [],
      `${r} seen UNCLEAN after it booted again`,
    );
    // the one fence: the dead node's (a host that died is fenced; the replaced one is not fenced again)
    const fences = cluster.fenceHistory("n1");
    assert.match(fences, new RegExp(`^reboot of ${r} successful[^\\n]*\\n1 event found$`), fences);
    const unclean = samples.filter((x) => x.unclean.length).length;
    // the later steps assert "no fence" of their own: the history cleared (it is cluster-wide)
    assert.equal(inside("n1", `stonith_admin --history ${r} --cleanup 2>&1`).rc, 0);
    await within("the fence history cleared on every node", 30_000, () => ALL.every((n) => cluster.fenceHistory(n) === ""));
    verdicts.push(
      `replace ${r}: offline (fenced) ${ms.offline} ms after the kill, apply ${ms.apply} ms (${cluster.ran
        .slice(from)
        .map((x) => `${x.id} ${x.ms} ms`)
        .join(", ")}), online ${ms.online} ms after it; ` +
        `${samples.length} samples on ${others.join(", ")} quorate, ${unclean} saw ${r} UNCLEAN (while dead), none after its boot; ` +
        `same ids, CIB configuration equal, fence-null stayed on ${placed}`,
    );
  });

  it("shrink 5 → 3 (n1 and n4 leave; n1 runs the member deletes): no reload while they run; they stop first (quorum checked), then leave the nodelist and the CIB, n4's removal on a node that stays; quorate, no UNCLEAN, no fence", async () => {
    const steps: string[] = [];
    const { samples } = await sampled(KEPT, async () => {
      // the update: the members' corosync.conf without n4/n5
      for (const n of KEPT) {
        const r = await cluster.applyNode(kept, n);
        assert.deepEqual([r.refused, r.failed], [[], []], n);
      }
      assert.deepEqual(runtimeNodes("n2"), ALL, "no reload while n1 and n4 run");
      assert.equal(cluster.votes("n2"), 5);
      for (const n of LEAVING)
        assert.match(inside("n2", `crm_attribute --type nodes --node ${n} --name haforge-leaving --query --quiet`).out, /^true$/m, n);
      // the deletes: the stops (n4, then n1), then the member deletes (n4, then n1)
      for (const n of LEAVING) {
        const r = await deprovision(five, n);
        assert.equal(r.rc, 0, `${n}'s deprovisioning: ${r.out}`);
        steps.push(`${n} stopped in ${r.ms} ms`);
      }
      for (const n of LEAVING) {
        const r = await removeMember(five, n);
        assert.equal(r.rc, 0, `${n}'s removal: ${r.out}`);
        assert.ok(KEPT.includes(r.on), `${n}'s removal ran on ${r.on || "no node"}, not on a node that stays: ${r.out}`);
        steps.push(`${n} removed on ${r.on}`);
      }
    });
    await cluster.until(
      "3 expected votes, CLUSTER OK",
      () => /^Expected votes:\s+3$/m.test(inside("n2", "corosync-quorumtool -s").out) && cluster.clusterOk("n2"),
      60,
    );
    for (const n of KEPT) {
      assert.deepEqual(nodeList(n), KEPT, `${n}: crm_node -l\n${state(n)}`);
      assert.deepEqual(runtimeNodes(n), KEPT, `${n}: the runtime nodelist`);
    }
    for (const n of LEAVING) assert.equal(daemonsOn(n), "", `${n}: its daemons stopped`);
    assert.deepEqual(
      samples.filter((x) => !x.quorate || x.unclean),
      [],
      "a member lost quorum or saw a node UNCLEAN",
    );
    assert.ok(samples.length >= 9, `too few samples: ${samples.length}`);
    assert.equal(cluster.fenceHistory("n2"), "");
    verdicts.push(`shrink: ${steps.join(", ")}; ${samples.length} samples on n2, n3, n5 quorate, none UNCLEAN, no fence`);
  });

  it("the same 3 nodes without their pinned ids (they would be renumbered 1..3): corosync's restart refuses it on the node, nothing stopped, ids and votes unchanged", async () => {
    const before = runtimeIds("n2");
    assert.deepEqual(before, ["n2:2", "n3:3", "n5:5"]);
    // the renumbered corosync.conf written, then corosync's declared restart (the engine runs nothing
    // that waits for that restart, e.g. the CIB apply, whose cib.xml carries the node ids too)
    const renumbered = renderWithKeys(inventory(KEPT, false));
    const conf = filesOf(renumbered, "n2").find((f) => f.path === "/etc/corosync/corosync.conf")!;
    assert.equal(cluster.writeFile("n2", conf)?.rc, 0);
    const r = await cluster.insideAsync(
      "n2",
      restartWithGate(
        servicesOf(renumbered, "n2").find((x) => x.name === "corosync")!,
        240,
      ),
    );
    assert.notEqual(r.rc, 0, r.out);
    assert.match(r.out, /node ids would change \([^)]*n2 2->1,n3 3->2,n5 5->3\)[\s\S]*nothing stopped/);
    assert.equal(daemonsOn("n2"), "pacemakerd\ncorosync", "nothing stopped");
    assert.deepEqual(runtimeIds("n2"), before);
    assert.ok(cluster.votes("n2") === 3 && cluster.clusterOk("n2"), state("n2"));
    // the pinned file again: corosync already runs it
    const back = await cluster.applyNode(kept, "n2");
    assert.deepEqual([back.refused, back.failed], [[], []]);
    verdicts.push(`renumbering refused on n2: ${before.join(" ")} kept, 3 votes, CLUSTER OK`);
  });

  it("a leaving node whose cluster would lose quorum without it does not stop (nothing stopped)", async () => {
    // n5 marked leaving with only 3 votes and 2 needed is fine; with n3 stopped it is not
    inside("n2", "crm_attribute --type nodes --node n5 --name haforge-leaving --update true");
    const down = inside("n3", "supervisorctl stop pacemaker && supervisorctl stop corosync");
    assert.equal(down.rc, 0, down.out);
    await cluster.until("n2 sees 2 votes", () => cluster.votes("n2") === 2, 60);
    const r = await deprovision(kept, "n5");
    assert.notEqual(r.rc, 0);
    assert.match(r.out, /would have 1 of the 2 votes it needs/);
    assert.equal(daemonsOn("n5"), "pacemakerd\ncorosync", "nothing stopped");
    inside("n2", "crm_attribute --type nodes --node n5 --name haforge-leaving --delete");
    const up = inside("n3", "supervisorctl start corosync && supervisorctl start pacemaker");
    assert.equal(up.rc, 0, up.out);
    await cluster.until("CLUSTER OK again", () => cluster.votes("n2") === 3 && cluster.clusterOk("n2"), 120);
  });

  it("destroy: every node stops (n5, n3, n2), the member deletes find no cluster left; no fence, every daemon stopped", async () => {
    const steps: string[] = [];
    for (const n of ["n5", "n3", "n2"]) {
      const fence = n === "n2" ? "" : cluster.fenceHistory("n2");
      assert.equal(fence, "", `a fence before ${n} stopped`);
      const r = await deprovision(kept, n);
      assert.equal(r.rc, 0, `${n}'s deprovisioning: ${r.out}`);
      steps.push(`${n} ${r.ms} ms`);
    }
    for (const n of ["n5", "n3", "n2"]) {
      const r = await removeMember(kept, n);
      assert.equal(r.rc, 0, `${n}'s removal: ${r.out}`);
      assert.equal(r.on, "", `${n}'s removal: no node is the place (${r.out})`);
      assert.match(r.out, /torn down/);
    }
    for (const n of KEPT) assert.equal(daemonsOn(n), "", `${n}: daemons stopped`);
    verdicts.push(`destroy: stops ${steps.join(", ")}`);
  });
});
