/**
 * dr-provision HA procedure, as properties over random inventories (planned by the real planner,
 * rendered by the real renderer):
 * - a deploy without `active` never contains an action that signals the app (no switchover);
 * - with `active`, the switchover checks the target first, then releases the VIP elsewhere, then
 *   promotes, and each step is a no-op when the VIP already is where it should be;
 * - the initially active node (the first host) starts first, the passives after it;
 * - RS_DRP_ID and RS_STATIC_IP differ on every server; RS_HA_PASSIVE is false only on the first.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { renderTemplate } from "../../src/render/templates";
import { renderPart } from "../../src/services/active-passive/render";
import { one } from "./plan-helpers";

interface Case {
  readonly n: number;
  readonly inits: ("systemd" | "supervisor")[];
  readonly active: number | undefined;
  readonly service: string;
}

const caseArb: fc.Arbitrary<Case> = fc.integer({ min: 2, max: 5 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    inits: fc.array(fc.constantFrom("systemd" as const, "supervisor" as const), { minLength: n, maxLength: n }),
    active: fc.option(fc.integer({ min: 0, max: n - 1 }), { nil: undefined }),
    service: fc.constantFrom("dr-provision", "drp-edge"),
  }),
);

function inventoryOf(c: Case): InventoryInput {
  const names = Array.from({ length: c.n }, (_, i) => `node${i + 1}`);
  return {
    name: "ap",
    hosts: names.map((name, i) => ({
      name,
      address: `10.9.0.${11 + i}`,
      init: c.inits[i],
      interfaces: [{ name: "eth0", address: `10.9.0.${11 + i}/24` }],
    })),
    activePassive: [
      {
        name: "drp",
        service: c.service,
        hosts: names,
        vip: "10.9.0.100/24",
        haId: "ha-1",
        token: { value: "tok" },
        ...(c.active !== undefined ? { active: names[c.active]! } : {}),
      },
    ],
  };
}

function renderCase(c: Case) {
  const r = planCluster(Inventory.parse(inventoryOf(c)));
  assert.ok(r.plan, JSON.stringify(r.findings));
  return { plan: r.plan, out: renderPart.render!({ plan: r.plan, secrets: {}, materials: {}, template: renderTemplate }) };
}

const envOf = (content: string, key: string): string | undefined => {
  const m = new RegExp(`^(?:Environment="${key}=([^"]*)"|${key}='([^']*)')$`, "m").exec(content);
  return m ? (m[1] ?? m[2]) : undefined;
};

const SIGNAL = /(--signal=USR[12]|signal USR[12])/;

describe("active/passive procedure (properties)", () => {
  it("no `active`: no action of the deploy signals the app; with `active`: check → release → promote, each guarded", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { out } = renderCase(c);
        const vipTest = '[ -n "$(ip -o addr show dev eth0 to 10.9.0.100)" ]';
        if (c.active === undefined) {
          assert.deepEqual(out.actions, []);
          for (const s of out.services) assert.doesNotMatch(s.restart + (s.health ?? ""), SIGNAL);
          return;
        }
        const target = `node${c.active + 1}`;
        const [check, ...rest] = out.actions;
        const promote = rest.pop()!;
        assert.equal(check!.host, target);
        assert.deepEqual(check!.dependsOn, []);
        assert.doesNotMatch(check!.create, SIGNAL, "the check changes nothing");
        assert.ok(check!.create.startsWith(`if ${vipTest}; then `), "already active: nothing to do");
        assert.match(check!.create, /Stream switch to realtime streaming/);
        assert.deepEqual(
          rest.map((a) => a.host).sort(),
          Array.from({ length: c.n }, (_, i) => `node${i + 1}`)
            .filter((h) => h !== target)
            .sort(),
        );
        for (const a of rest) {
          assert.deepEqual(a.dependsOn, [check!.id], "no demotion before the target is known caught up");
          assert.ok(a.create.startsWith(`if ${vipTest}; then `), "only the VIP holder is demoted");
          assert.match(a.create, /USR2/);
          assert.doesNotMatch(a.create, /USR1/);
        }
        assert.equal(promote.host, target);
        assert.deepEqual(new Set(promote.dependsOn), new Set([check!.id, ...rest.map((a) => a.id)]));
        assert.ok(promote.create.startsWith(`if ${vipTest}; then exit 0; fi; `));
        assert.match(promote.create, /USR1/);
        assert.equal(new Set(out.actions.map((a) => a.id)).size, out.actions.length);
        for (const a of out.actions) {
          assert.equal(a.phase, "switchover");
          assert.ok(a.id.includes(`-active-${target}-`), "ids carry the target: changing `active` runs the steps again");
        }
      }),
      { numRuns: 150 },
    );
  });

  it("the first host starts first (it is the initially active node); every node's gate waits for the VIP or the catch-up", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { plan, out } = renderCase(c);
        const g = plan.rollingGroups.find((x) => x.id === "active-passive:drp")!;
        assert.equal(g.hosts[0], "node1");
        assert.deepEqual([...g.hosts].sort(), Array.from({ length: c.n }, (_, i) => `node${i + 1}`).sort());
        for (const s of out.services) {
          assert.equal(s.rollGroup, "active-passive:drp");
          assert.match(s.health!, /ip -o addr show dev eth0 to 10\.9\.0\.100/);
          assert.match(s.health!, /Stream switch to realtime streaming/);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("RS_DRP_ID and RS_STATIC_IP differ on every server; RS_HA_PASSIVE=false on the first host only", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { out } = renderCase(c);
        const envFiles = out.files.filter((f) => f.path.endsWith("/20-ha.conf") || f.path.endsWith("-ha.env"));
        assert.equal(envFiles.length, c.n);
        const ids = envFiles.map((f) => envOf(f.content, "RS_DRP_ID"));
        const ips = envFiles.map((f) => envOf(f.content, "RS_STATIC_IP"));
        assert.equal(new Set(ids).size, c.n);
        assert.equal(new Set(ips).size, c.n);
        for (const f of envFiles) {
          assert.equal(envOf(f.content, "RS_DRP_ID"), f.host);
          assert.equal(envOf(f.content, "RS_STATIC_IP"), `10.9.0.${10 + Number(f.host.slice(4))}`);
          assert.equal(envOf(f.content, "RS_HA_PASSIVE"), f.host === "node1" ? "false" : "true");
        }
        for (const f of out.files.filter((x) => x.path.startsWith("/etc/systemd/")))
          assert.equal(f.path, `/etc/systemd/system/${c.service}.service.d/20-ha.conf`);
      }),
      { numRuns: 100 },
    );
  });

  it("findings: `active` must be one of the app's hosts; two hosts with one address cannot both be RS_STATIC_IP", () => {
    const bad = Inventory.parse({
      ...inventoryOf({ n: 2, inits: ["systemd", "systemd"], active: undefined, service: "dr-provision" }),
      activePassive: [{ name: "drp", hosts: ["node1", "node2"], vip: "10.9.0.100/24", haId: "x", token: { value: "t" }, active: "node9" }],
    });
    const f = one(planCluster(bad).findings, "active-passive.unknown-active");
    assert.equal(f.path, "activePassive[0].active");
    assert.equal(f.severity, "error");
    const dup = Inventory.parse({
      hosts: [
        { name: "a", address: "10.9.0.11", interfaces: [{ name: "eth0", address: "10.9.0.11/24" }] },
        { name: "b", address: "10.9.0.12", interfaces: [{ name: "eth0", address: "10.9.0.11/24" }] },
      ],
      activePassive: [{ name: "drp", hosts: ["a", "b"], vip: "10.9.0.100/24", haId: "x", token: { value: "t" } }],
    });
    assert.equal(one(planCluster(dup).findings, "active-passive.duplicate-static-ip").path, "activePassive[0].hosts[1]");
  });
});
