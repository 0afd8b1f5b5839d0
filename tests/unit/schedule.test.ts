/**
 * The apply schedule (src/core/schedule.ts) as a pure function: actions after the ones they
 * depend on, in input order otherwise (the order the components declared them in before); a cycle
 * is a finding naming exactly its actions, never broken by running one of them anyway.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { ActionPhase, ClusterAction, ServiceSpec } from "../../src/core/desired-state";
import { scheduleActions, scheduleRestarts } from "../../src/core/schedule";
import { renderDesiredState } from "../../src/pipeline/render";
import { examplePlans } from "../fixtures/keepalived-plan";

const action = (id: string, dependsOn: string[], phase: ActionPhase = "post-start"): ClusterAction => ({
  id,
  host: "h",
  phase,
  description: id,
  create: "true",
  dependsOn,
  triggers: [],
  secret: false,
});

/** The topological pass the components used before (first ready action in input order). */
function previousOrder(actions: readonly ClusterAction[]): string[] {
  const pending = [...actions];
  const done = new Set<string>();
  const out: string[] = [];
  while (pending.length) {
    const idx = pending.findIndex((a) => a.dependsOn.every((d) => done.has(d) || !actions.some((x) => x.id === d)));
    const a = pending.splice(idx === -1 ? 0 : idx, 1)[0]!;
    out.push(a.id);
    done.add(a.id);
  }
  return out;
}

/** Random actions: `n` ids, each depending on some others (and on ids of other services). */
const graph = (acyclic: boolean) =>
  fc.integer({ min: 1, max: 14 }).chain((n) =>
    fc
      .tuple(
        fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
        fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 3 * n }),
        fc.array(fc.nat(n - 1), { maxLength: 3 }),
      )
      .map(([rank, edges, foreign]) => {
        const deps: string[][] = [...Array(n)].map(() => []);
        for (const [a, b] of edges) {
          // acyclic: only depend on an action of lower rank (a DAG whatever the input order)
          if (acyclic && !(rank[b]! < rank[a]!)) continue;
          if (!deps[a]!.includes(`a${b}`)) deps[a]!.push(`a${b}`);
        }
        for (const f of foreign) deps[f]!.push(`other-service-${f}`);
        return deps.map((d, i) => action(`a${i}`, d));
      }),
  );

/** Tarjan-free reference: i and j are on a common cycle when each reaches the other. */
function reach(actions: readonly ClusterAction[]): Map<string, Set<string>> {
  const ids = new Set(actions.map((a) => a.id));
  const r = new Map(actions.map((a) => [a.id, new Set(a.dependsOn.filter((d) => ids.has(d)))]));
  for (const k of ids) for (const i of ids) if (r.get(i)!.has(k)) for (const j of r.get(k)!) r.get(i)!.add(j);
  return r;
}

describe("scheduleActions", () => {
  it("without a cycle: no finding, every action once, each after its dependencies, the order of before (property)", () => {
    fc.assert(
      fc.property(graph(true), (actions) => {
        const s = scheduleActions(actions);
        assert.deepEqual(s.findings, []);
        const ids = s.order.map((a) => a.id);
        assert.deepEqual([...ids].sort(), actions.map((a) => a.id).sort());
        const at = new Map(ids.map((id, i) => [id, i]));
        for (const a of actions) for (const d of a.dependsOn) if (at.has(d)) assert.ok(at.get(d)! < at.get(a.id)!, `${d} before ${a.id}`);
        assert.deepEqual(ids, previousOrder(actions));
      }),
      { numRuns: 400 },
    );
  });

  it("with cycles: each cycle is one finding naming exactly its actions; nothing in or behind a cycle is scheduled (property)", () => {
    fc.assert(
      fc.property(graph(false), (actions) => {
        const s = scheduleActions(actions, "svc actions");
        const r = reach(actions);
        const cyclic = actions.filter((a) => r.get(a.id)!.has(a.id)).map((a) => a.id);
        const cycleFindings = s.findings.filter((f) => f.code === "schedule.cycle");
        const named = cycleFindings.flatMap((f) => /^actions (.*) depend on each other/.exec(f.message)![1]!.split(", "));
        assert.deepEqual([...named].sort(), [...cyclic].sort());
        // each finding is one strongly connected component
        for (const f of cycleFindings) {
          const ids = /^actions (.*) depend on each other/.exec(f.message)![1]!.split(", ");
          for (const i of ids) for (const j of ids) assert.ok(r.get(i)!.has(j), `${i} reaches ${j}`);
          assert.equal(f.severity, "error");
          assert.equal(f.path, "svc actions");
        }
        // blocked: not on a cycle but reaching one
        const blocked = actions.filter((a) => !cyclic.includes(a.id) && [...r.get(a.id)!].some((d) => cyclic.includes(d))).map((a) => a.id);
        const blockedFinding = s.findings.find((f) => f.code === "schedule.blocked");
        assert.deepEqual(
          blockedFinding ? /^actions (.*) wait for/.exec(blockedFinding.message)![1]!.split(", ").sort() : [],
          blocked.sort(),
        );
        const scheduled = s.order.map((a) => a.id);
        assert.deepEqual(
          [...scheduled].sort(),
          actions
            .map((a) => a.id)
            .filter((id) => !cyclic.includes(id) && !blocked.includes(id))
            .sort(),
        );
        if (cyclic.length === 0) assert.deepEqual(s.findings, []);
      }),
      { numRuns: 400 },
    );
  });

  it("reports a self-dependency and a two-action cycle, and the old pass broke them silently", () => {
    const actions = [action("join", ["start"]), action("start", ["join"]), action("self", ["self"]), action("free", [])];
    const s = scheduleActions(actions, "rabbitmq actions");
    assert.deepEqual(
      s.findings.map((f) => [f.code, f.message]),
      [
        ["schedule.cycle", "actions join, start depend on each other in a cycle: none of them can run first"],
        ["schedule.cycle", "actions self depend on each other in a cycle: none of them can run first"],
      ],
    );
    assert.deepEqual(
      s.order.map((a) => a.id),
      ["free"],
    );
    assert.deepEqual(previousOrder(actions), ["free", "join", "start", "self"], "the previous pass ran the cycle anyway");
  });

  it("a bootstrap action may not wait for a later phase", () => {
    const s = scheduleActions([action("prep", ["join"], "bootstrap"), action("join", [])]);
    assert.deepEqual(
      s.findings.map((f) => f.code),
      ["schedule.phase-inversion"],
    );
  });
});

describe("scheduleRestarts", () => {
  const spec = (host: string, name: string, rollGroup?: string): ServiceSpec => ({
    host,
    name,
    manager: "systemd",
    restart: "true",
    ...(rollGroup ? { rollGroup } : {}),
  });

  it("rolls a group in the plan's host order, unlisted hosts after in inventory order, groups in first-seen order (property)", () => {
    const hosts = ["h0", "h1", "h2", "h3", "h4", "h5"];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...hosts), fc.constantFrom("a", "b"), fc.constantFrom(undefined, "g1", "g2")), { maxLength: 20 }),
        fc.shuffledSubarray(hosts),
        (raw, groupOrder) => {
          const specs = raw.map(([h, n, g]) => spec(h, n, g));
          const chains = scheduleRestarts(specs, [{ id: "g1", hosts: groupOrder }], (h) => hosts.indexOf(h));
          assert.deepEqual(chains.flatMap((c) => c.services).length, specs.length);
          const keys = chains.map((c) => c.key);
          assert.deepEqual(keys, [...new Set(specs.map((s) => s.rollGroup ?? `${s.host}:${s.name}`))]);
          for (const c of chains) {
            const rank = (h: string) => (c.key === "g1" && groupOrder.includes(h) ? groupOrder.indexOf(h) : 1e6 + hosts.indexOf(h));
            for (let i = 1; i < c.services.length; i++) {
              const [p, q] = [c.services[i - 1]!, c.services[i]!];
              assert.ok(
                rank(p.host) < rank(q.host) || (rank(p.host) === rank(q.host) && p.name <= q.name),
                `${p.host}/${p.name} before ${q.host}/${q.name}`,
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the lab: settings etcd and keepalived take at a start roll etcd lab1, lab2, lab3 and keepalived backups first, each gated", () => {
    const lab = examplePlans().find((e) => e.file === "lab.yaml")!;
    const inv = lab.plan.inventory;
    const plan = {
      ...lab.plan,
      quorumStore: { ...lab.plan.quorumStore!, heartbeatIntervalMs: 150, electionTimeoutMs: 1500 },
      inventory: { ...inv, keepalived: { ...inv.keepalived!, startupDelayS: 1 } },
    };
    const state = renderDesiredState(plan, lab.secrets, {});
    const services = state.hosts.flatMap((h) => h.services);
    const chains = new Map(
      scheduleRestarts(services, plan.rollingGroups, (h) => ["lab1", "lab2", "lab3"].indexOf(h)).map((c) => [c.key, c]),
    );
    const etcd = chains.get("etcd")!;
    assert.deepEqual(
      etcd.services.map((x) => x.host),
      ["lab1", "lab2", "lab3"],
    );
    // gated on the local quorum read and every member (never a second member down)
    for (const x of etcd.services) assert.match(x.health!, /endpoint health && .* endpoint health --cluster; fi$/);
    const ka = [...chains.values()].find((c) => c.key.startsWith("keepalived:"))!;
    // backups first (lowest priority), the preferred master last: the VIP moves once
    assert.deepEqual(
      ka.services.map((x) => x.host),
      ["lab3", "lab2", "lab1"],
    );
    for (const x of ka.services) {
      assert.match(
        x.health!,
        /^pidof keepalived >\/dev\/null && \{ ip -o addr show to 10\.213\.7\.100 \| grep -q \. \|\| .*ping -c 1 -W 1 10\.213\.7\.100 /,
      );
      // the start-settings file is written on the host and followed by its restart, which restarts when it is newer
      const f = state.hosts.find((h) => h.host === x.host)!.files.find((y) => y.path === "/etc/haforge/keepalived/start-settings")!;
      assert.deepEqual(f.notify, ["keepalived"]);
      assert.ok(x.restart.includes("-cnewer '/var/lib/haforge/applied/keepalived'"));
      assert.match(
        state.hosts.find((h) => h.host === x.host)!.files.find((y) => y.path === "/etc/haforge/etcd/etcd.yml")?.content ?? "",
        /heartbeat-interval: 150/,
      );
    }
  });
});
