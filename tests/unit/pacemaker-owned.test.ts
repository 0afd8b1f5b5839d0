/**
 * A daemon Pacemaker runs is never enabled, started or restarted by haforge (properties over the
 * example inventories and random Pacemaker layouts, planned and rendered by the real code), and an
 * inventory that asks for both is refused with a finding. The real daemons' verdict (a
 * Pacemaker-run HAProxy keeps its process through haforge's service handling) is
 * tests/system/pacemaker-procedures.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { DesiredState } from "../../src/core/desired-state";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { renderDesiredState } from "../../src/pipeline/render";
import { pacemakerRunUnits } from "../../src/services/pacemaker/owned";
import { examplePlans } from "../fixtures/keepalived-plan";
import { one } from "./plan-helpers";

/** A command that enables, starts or restarts `unit` (the managers' verbs). */
const startsUnit = (cmd: string, unit: string): boolean =>
  new RegExp(
    `systemctl (?:[a-z-]+ )*(?:enable|start|restart|reload-or-restart|try-restart)(?: --[a-z-]+)* ${unit}\\b|supervisorctl (?:start|restart|update)(?: --[a-z-]+)* ${unit}\\b`,
  ).test(cmd);

function checkNotRun(state: DesiredState, owned: ReturnType<typeof pacemakerRunUnits>): number {
  let checked = 0;
  for (const h of state.hosts) {
    for (const unit of owned.get(h.host)?.keys() ?? []) {
      checked++;
      for (const f of h.files) {
        assert.notEqual(f.path, `/etc/supervisor/conf.d/${unit}.conf`, `${h.host}: a supervisor program for Pacemaker's ${unit}`);
        assert.notEqual(f.path, `/etc/systemd/system/${unit}.service`, `${h.host}: a unit for Pacemaker's ${unit}`);
      }
      for (const s of h.services.filter((x) => x.name === unit)) {
        assert.ok(!startsUnit(s.restart, unit), `${h.host}: ${unit} restart \`${s.restart}\``);
        assert.equal(s.health, undefined, `${h.host}: ${unit} gated on a process Pacemaker may have placed elsewhere`);
      }
      for (const a of state.actions.filter((x) => x.host === h.host))
        assert.ok(!startsUnit(a.create, unit), `${h.host}: action ${a.id} starts ${unit}`);
    }
  }
  return checked;
}

describe("units Pacemaker runs are not run by haforge", () => {
  it("example inventories: HAProxy in the lb cluster / the lightweight haproxy-clone is configured and reloaded only", () => {
    let checked = 0;
    for (const ex of examplePlans()) {
      if (ex.plan.target !== "ssh") continue;
      const state = renderDesiredState(ex.plan, ex.secrets, {});
      checked += checkNotRun(state, pacemakerRunUnits(ex.plan.inventory));
    }
    assert.ok(checked >= 6, `${checked} owned (host, unit) pairs checked`);
    const tripleo = examplePlans().find((e) => e.file === "tripleo-lightweight.yaml")!;
    const s = renderDesiredState(tripleo.plan, tripleo.secrets, {});
    const hp = s.hosts.find((h) => h.host === "controller-0")!.services.find((x) => x.name === "haproxy")!;
    assert.match(hp.restart, /if systemctl is-active --quiet haproxy; then systemctl reload haproxy; else/);
    assert.ok(
      s.hosts.find((h) => h.host === "controller-0")!.files.some((f) => f.path === "/etc/haproxy/haproxy.cfg"),
      "the config is still haforge's",
    );
    assert.ok(s.actions.some((a) => a.id === "haproxy-pacemaker-owned-controller-0" && a.create === "systemctl disable --quiet haproxy"));
  });

  it("random layouts (agent, init, which nodes run HAProxy): never a start/enable/restart of a Pacemaker-run HAProxy", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("systemd:haproxy", "ocf:heartbeat:anything", "lightweight"),
        fc.constantFrom<"systemd" | "supervisor">("systemd", "supervisor"),
        fc.integer({ min: 1, max: 3 }),
        (agent, init, extra) => {
          if (agent === "systemd:haproxy" && init === "supervisor") return; // refused by the plan (no systemd)
          const nodes = ["c1", "c2", "c3"];
          const lbHosts = [...nodes, ...Array.from({ length: extra }, (_, i) => `e${i + 1}`)];
          const inv: InventoryInput = {
            name: "own",
            hosts: lbHosts.map((h, i) => ({
              name: h,
              address: `10.7.0.${11 + i}`,
              init,
              interfaces: [{ name: "eth0", address: `10.7.0.${11 + i}/24` }],
            })),
            pacemaker: {
              ...(agent === "lightweight" ? { layout: "lightweight" as const } : {}),
              clusters: [
                {
                  name: "lb",
                  nodes: nodes.map((host) => ({ host })),
                  properties: { "stonith-enabled": false },
                  ...(agent === "lightweight"
                    ? { lightweight: { vips: [], managed: ["haproxy"], systemdServices: [] } }
                    : {
                        primitives: [
                          agent === "systemd:haproxy"
                            ? { id: "haproxy", agent }
                            : {
                                id: "haproxy",
                                agent,
                                params: {
                                  binfile: "/usr/sbin/haproxy",
                                  cmdline_options: "-W -db -f /etc/haproxy/haproxy.cfg",
                                  pidfile: "/run/hp.pid",
                                },
                              },
                        ],
                        clones: [{ id: "haproxy-clone", resource: "haproxy" }],
                      }),
                },
              ],
            },
            haproxy: {
              hosts: lbHosts,
              frontends: [{ name: "web", bind: "*:8080", backend: "web" }],
              backends: [{ name: "web", servers: [{ host: "c1", port: 80 }] }],
            },
          };
          const r = planCluster(Inventory.parse(inv));
          assert.ok(r.plan, JSON.stringify(r.findings.filter((f) => f.severity === "error")));
          const state = renderDesiredState(r.plan, {}, {});
          const owned = pacemakerRunUnits(r.plan.inventory);
          assert.equal(checkNotRun(state, owned), nodes.length);
          // Hosts outside the cluster: haforge runs HAProxy there as before.
          for (const e of lbHosts.filter((h) => !nodes.includes(h))) {
            const s = state.hosts.find((h) => h.host === e)!.services.find((x) => x.name === "haproxy")!;
            assert.ok(startsUnit(s.restart, "haproxy"), `${e}: haforge's own HAProxy is started`);
          }
          if (agent === "ocf:heartbeat:anything")
            assert.match(
              state.hosts.find((h) => h.host === "c1")!.services.find((x) => x.name === "haproxy")!.restart,
              /cat \/run\/hp\.pid/,
            );
        },
      ),
      { numRuns: 30 },
    );
  });

  it("an inventory asking haforge AND Pacemaker to run one daemon is refused (pacemaker.unit-run-twice)", () => {
    const hosts = ["m1", "m2", "m3"].map((h, i) => ({
      name: h,
      address: `10.8.0.${11 + i}`,
      interfaces: [{ name: "eth0", address: `10.8.0.${11 + i}/24` }],
    }));
    const cluster = (extra: object) => ({
      name: "mq",
      nodes: [{ host: "m1" }, { host: "m2" }, { host: "m3" }],
      properties: { "stonith-enabled": false },
      ...extra,
    });
    // RabbitMQ in the CIB (rabbitmq-cluster) and haforge's own RabbitMQ on the same hosts.
    const both = Inventory.parse({
      hosts,
      pacemaker: {
        clusters: [
          cluster({
            primitives: [{ id: "rabbitmq", agent: "ocf:heartbeat:rabbitmq-cluster" }],
            clones: [{ id: "rabbitmq-clone", resource: "rabbitmq" }],
          }),
        ],
      },
      rabbitmq: { nodes: ["m1", "m2", "m3"], password: { value: "x" } },
    });
    const f = planCluster(both).findings.filter((x) => x.code === "pacemaker.unit-run-twice")[0]!;
    assert.equal(planCluster(both).findings.filter((x) => x.code === "pacemaker.unit-run-twice").length, 1, "one per inventory path");
    assert.equal(f.severity, "error");
    assert.match(f.message, /'rabbitmq-server' on host 'm1'.*cluster 'mq' runs it \(resource 'rabbitmq'\)/);
    // The lightweight layout's managed HAProxy listed again under systemdServices.
    const lw = Inventory.parse({
      hosts,
      pacemaker: {
        layout: "lightweight",
        clusters: [cluster({ lightweight: { vips: [], managed: ["haproxy"], systemdServices: ["haproxy"] } })],
      },
    });
    assert.equal(one(planCluster(lw).findings, "pacemaker.unit-run-twice").path, "pacemaker.clusters[0].lightweight.systemdServices[0]");
    // systemd:keepalived in the CIB and a keepalived instance on its nodes.
    const ka = Inventory.parse({
      hosts,
      pacemaker: { clusters: [cluster({ primitives: [{ id: "ka", agent: "systemd:keepalived" }] })] },
      keepalived: { instances: [{ name: "v", vip: "10.8.0.100/24", routerId: 5, hosts: ["m1", "m2"] }] },
    });
    assert.equal(planCluster(ka).findings.filter((x) => x.code === "pacemaker.unit-run-twice").length, 2);
    // HAProxy is not one: configured by haforge, run by Pacemaker.
    const hp = Inventory.parse({
      hosts,
      pacemaker: { clusters: [cluster({ primitives: [{ id: "haproxy", agent: "systemd:haproxy" }] })] },
      haproxy: {
        hosts: ["m1", "m2", "m3"],
        frontends: [{ name: "w", bind: "*:80", backend: "w" }],
        backends: [{ name: "w", servers: [{ host: "m1", port: 8080 }] }],
      },
    });
    assert.equal(planCluster(hp).findings.filter((x) => x.code === "pacemaker.unit-run-twice").length, 0);
  });
});
