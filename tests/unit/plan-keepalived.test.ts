import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InventoryInput } from "../../src/inventory/schema";
import { hosts, noErrors, none, ofService, one, runSteps } from "./plan-helpers";

type InstIn = NonNullable<NonNullable<InventoryInput["keepalived"]>["instances"]>[number];
const inst = (over: Partial<InstIn> = {}): InstIn => ({
  name: "lb",
  vip: "10.0.0.100/24",
  routerId: 51,
  hosts: ["h1", "h2", "h3"],
  ...over,
});
const ka = (instances: InstIn[], extra: Partial<InventoryInput> = {}) => {
  const r = runSteps({ hosts: hosts(3), keepalived: { instances }, ...extra });
  return { ...r, findings: ofService(r.findings, "keepalived.") };
};

describe("keepalived plan", () => {
  it("members: priorities 150, 140, 130; first MASTER; addresses; rolling backups first, master last", () => {
    const { plan, findings, roles } = ka([inst()]);
    assert.deepEqual(findings, []);
    const i = plan.keepalived![0]!;
    assert.deepEqual([i.vip, i.prefix, i.interface, i.routerId, i.unicast], ["10.0.0.100", 24, "eth0", 51, true]);
    assert.deepEqual(i.members, [
      { host: "h1", address: "10.0.0.11", priority: 150, state: "MASTER" },
      { host: "h2", address: "10.0.0.12", priority: 140, state: "BACKUP" },
      { host: "h3", address: "10.0.0.13", priority: 130, state: "BACKUP" },
    ]);
    assert.deepEqual(roles.get("h3"), ["keepalived"]);
    assert.deepEqual(plan.rollingGroups, [{ id: "keepalived:lb", service: "keepalived", hosts: ["h3", "h2", "h1"], maxUnavailable: 1 }]);
  });

  it("explicit priorities are kept; nopreempt starts everyone BACKUP", () => {
    const { plan, findings } = ka([inst({ hosts: [{ host: "h1", priority: 200 }, "h2"], nopreempt: true })]);
    noErrors(findings);
    assert.deepEqual(
      plan.keepalived![0]!.members.map((m) => [m.priority, m.state]),
      [
        [200, "BACKUP"],
        [140, "BACKUP"],
      ],
    );
  });

  it("priorities are distinct within an instance", () => {
    const f = one(ka([inst({ hosts: ["h1", { host: "h2", priority: 150 }] })]).findings, "keepalived.duplicate-priority");
    assert.equal(f.path, "keepalived.instances[0].hosts[1].priority");
    assert.match(f.message, /'h2' .* priority 150, like host 'h1'/);
  });

  it("a MASTER that is not the highest priority warns", () => {
    const f = one(ka([inst({ hosts: ["h1", { host: "h2", priority: 200 }] })]).findings, "keepalived.master-not-highest");
    assert.equal(f.severity, "warning");
  });

  it("the VIP must be a CIDR", () => {
    // The schema's `cidr` kind rejects them before the plan, at the same path.
    const f = one(ka([inst({ vip: "10.0.0.100" })]).findings, "schema.invalid");
    assert.equal(f.path, "keepalived.instances[0].vip");
    assert.match(f.message, /ADDRESS\/PREFIX/);
    one(ka([inst({ vip: "10.0.0.300/24" })]).findings, "schema.invalid");
  });

  it("the VIP sits in the subnet of the interface on every member (interfaces by name)", () => {
    const f = ka([inst({ vip: "10.0.1.100/24" })]).findings.filter((x) => x.code === "keepalived.vip-outside-subnet");
    assert.equal(f.length, 3);
    assert.match(f[0]!.message, /'10.0.1.100\/24' .* host 'h1''s subnet 10.0.0.11\/24 \(interface eth0\)/);
    // A wider VIP prefix does not rescue it: the interface's own subnet decides.
    assert.equal(ka([inst({ vip: "10.0.1.100/16" })]).findings.filter((x) => x.code === "keepalived.vip-outside-subnet").length, 3);
    const missing = ka([inst({ interface: "bond0" })]).findings.filter((x) => x.code === "keepalived.interface-missing");
    assert.equal(missing.length, 3);
    assert.match(missing[0]!.message, /'bond0'.*it has 'eth0'/);
  });

  it("without interfaces, the host address with the VIP's prefix decides", () => {
    const bare = [1, 2].map((n) => ({ name: `b${n}`, address: `192.168.5.${n}` }));
    noErrors(
      ofService(
        runSteps({ hosts: bare, keepalived: { instances: [inst({ vip: "192.168.5.100/24", hosts: ["b1", "b2"] })] } }).findings,
        "keepalived.",
      ),
    );
    const out = ofService(
      runSteps({ hosts: bare, keepalived: { instances: [inst({ vip: "192.168.5.100/30", hosts: ["b1", "b2"] })] } }).findings,
      "keepalived.",
    );
    assert.match(
      one(
        out.filter((f) => f.message.includes("'b1'")),
        "keepalived.vip-outside-subnet",
      ).message,
      /192\.168\.5\.1\/30 \(address\)/,
    );
    const dns = ofService(
      runSteps({
        hosts: [
          { name: "d1", address: "db1.example.com" },
          { name: "d2", address: "db2.example.com" },
        ],
        keepalived: { instances: [inst({ hosts: ["d1", "d2"], unicast: false })] },
      }).findings,
      "keepalived.",
    );
    assert.equal(dns.filter((f) => f.code === "keepalived.vip-subnet-unchecked" && f.severity === "warning").length, 2);
    const uni = ofService(
      runSteps({
        hosts: [
          { name: "d1", address: "db1.example.com" },
          { name: "d2", address: "db2.example.com" },
        ],
        keepalived: { instances: [inst({ hosts: ["d1", "d2"] })] },
      }).findings,
      "keepalived.",
    );
    assert.equal(uni.filter((f) => f.code === "keepalived.unicast-peer-not-ip").length, 2);
  });

  it("the VIP is never a host's address", () => {
    const f = one(ka([inst({ vip: "10.0.0.12/24" })]).findings, "keepalived.vip-is-host-address");
    assert.match(f.message, /host 'h2'/);
  });

  it("router ids: same interface + same subnet + same id is an error; another subnet or interface is fine", () => {
    const f = one(
      ka([inst(), inst({ name: "api", vip: "10.0.0.101/24", hosts: ["h3"] }), inst({ name: "other", vip: "10.0.0.102/24", routerId: 52 })])
        .findings,
      "keepalived.duplicate-router-id",
    );
    assert.equal(f.path, "keepalived.instances[1].routerId");
    assert.match(f.message, /`routerId` 51 on `interface` 'eth0' like instance 'lb' in the same subnet/);
    const multi = [...hosts(2), ...hosts(2, "m", "10.0.5")];
    noErrors(
      ofService(
        runSteps({
          hosts: multi,
          keepalived: { instances: [inst({ hosts: ["h1", "h2"] }), inst({ name: "far", vip: "10.0.5.100/24", hosts: ["m1", "m2"] })] },
        }).findings,
        "keepalived.",
      ),
    );
  });

  it("router ids: one host cannot run two instances with the same id on one interface (keepalived -t refuses)", () => {
    // eth0 carries a second subnet; eth1 a third.
    const twoNics = hosts(2).map((h, i) => ({
      ...h,
      interfaces: [...h.interfaces, { name: "eth0", address: `10.8.0.${11 + i}/24` }, { name: "eth1", address: `10.7.0.${11 + i}/24` }],
    }));
    const f = ofService(
      runSteps({
        hosts: twoNics,
        keepalived: { instances: [inst({ hosts: ["h1", "h2"] }), inst({ name: "b", vip: "10.8.0.100/24", hosts: ["h1"] })] },
      }).findings,
      "keepalived.",
    );
    assert.match(one(f, "keepalived.duplicate-router-id").message, /on host\(s\) 'h1'/);
    noErrors(
      ofService(
        runSteps({
          hosts: twoNics,
          keepalived: {
            instances: [inst({ hosts: ["h1", "h2"] }), inst({ name: "b", interface: "eth1", vip: "10.7.0.100/24", hosts: ["h1", "h2"] })],
          },
        }).findings,
        "keepalived.",
      ),
    );
  });

  it("the same VIP in two instances is an error; instance names are unique", () => {
    const f = ka([inst(), inst({ routerId: 60 })]).findings;
    one(f, "keepalived.duplicate-vip");
    one(f, "keepalived.duplicate-instance");
  });

  it("a VIP that Pacemaker already manages is an error", () => {
    const f = one(
      ka([inst()], {
        pacemaker: {
          clusters: [
            {
              name: "db",
              nodes: ["h1", "h2", "h3"],
              properties: { "stonith-enabled": false },
              primitives: [{ id: "db-vip", agent: "ocf:heartbeat:IPaddr2", params: { ip: "10.0.0.100", cidr_netmask: 24 } }],
            },
          ],
        },
      }).findings,
      "keepalived.vip-conflicts-pacemaker",
    );
    assert.match(f.message, /'db-vip' of cluster 'db', pacemaker.clusters\[0\].primitives\[0\].params.ip/);
  });

  it("hosts are inventory hosts, listed once; one host warns", () => {
    const f = ka([inst({ hosts: ["h1", "h1", "zz"] })]).findings;
    assert.equal(one(f, "keepalived.unknown-host").path, "keepalived.instances[0].hosts[2]");
    assert.equal(one(f, "keepalived.duplicate-host").path, "keepalived.instances[0].hosts[1]");
    one(f, "keepalived.single-host");
    none(ka([inst()]).findings, "keepalived.single-host");
  });
});
