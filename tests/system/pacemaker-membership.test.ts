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
 * 1. Grow 3 → 5: the members reload the nodelist (corosync-apply.sh: `corosync-cfgtool -R`), then
 *    n4 and n5 start and join: 5 votes, every node online.
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
import { PacemakerNsCluster, filesOf, renderWithKeys, requireCommands, servicesOf } from "./pacemaker-cluster";

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
          properties: { "stonith-enabled": false },
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
  it("bootstrap: 3 nodes, CLUSTER OK, fencing on (null device over the 5 names)", async () => {
    for (const only of ["corosync", "pacemaker"])
      for (const n of FIRST) {
        const r = await cluster.applyNode(three, n, { first: true, only: [only] });
        assert.deepEqual([r.refused, r.failed], [[], []], n);
      }
    for (const a of three.actions.filter((x) => x.phase !== "bootstrap")) {
      const r = await cluster.runAction(a);
      assert.equal(r.rc, 0, `${a.id}: ${r.out}`);
    }
    cluster.fencingOn("n1", ALL);
    await cluster.until(
      "CLUSTER OK with the fence device",
      () => cluster.clusterOk("n1") && /fence-null.*Started/.test(inside("n1", "crm_mon -1").out),
      90,
    );
    assert.equal(cluster.fenceHistory("n1"), "");
  });

  it("grow 3 → 5: the members reload the nodelist, then n4 and n5 start and join; quorate throughout, no fence", async () => {
    const from = cluster.ran.length;
    const { value, samples } = await sampled(FIRST, async () => {
      const out = [];
      for (const n of FIRST) out.push(await cluster.applyNode(five, n));
      for (const n of ["n4", "n5"]) out.push(await cluster.applyNode(five, n, { first: true }));
      for (const n of ["n4", "n5"]) out.push({ node: n, member: await cluster.runAction(member(five, n)) });
      return out;
    });
    for (const r of value)
      if ("member" in r) assert.equal(r.member.rc, 0, `${r.node}: ${r.member.out}\n${state()}`);
      else assert.deepEqual([r.refused, r.failed], [[], []], `${r.node}\n${state()}`);
    const reloads = cluster.ran.slice(from).filter((x) => FIRST.includes(x.node) && x.kind === "restart");
    assert.deepEqual(
      reloads.map((x) => `${x.node}:${x.id}`),
      FIRST.map((n) => `${n}:corosync`),
      "the members ran corosync-apply only",
    );
    await cluster.until("5 votes and CLUSTER OK", () => cluster.votes("n1") === 5 && cluster.clusterOk("n1"), 120);
    assert.deepEqual(nodeList("n1"), ALL);
    assert.deepEqual(
      samples.filter((x) => !x.quorate || x.unclean),
      [],
      "a member lost quorum or saw a node UNCLEAN",
    );
    assert.equal(cluster.fenceHistory("n1"), "");
    verdicts.push(`grow: 5 votes, ${samples.length} samples on n1..n3 quorate, none UNCLEAN, no fence`);
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
