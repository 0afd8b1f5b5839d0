import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InventoryInput } from "../../src/inventory/schema";
import { hosts, noErrors, ofService, one, runSteps } from "./plan-helpers";

type AppIn = NonNullable<InventoryInput["activePassive"]>[number];
const app = (over: Partial<AppIn> = {}): AppIn => ({
  name: "drp",
  hosts: ["h1", "h2"],
  vip: "10.0.0.50/24",
  haId: "drp-ha",
  token: { secret: "drpHaToken" },
  ...over,
});
const ap = (apps: AppIn[], extra: Partial<InventoryInput> = {}) => {
  const r = runSteps({ hosts: hosts(3), activePassive: apps, ...extra });
  return { ...r, findings: ofService(r.findings, "active-passive.") };
};

describe("active/passive plan", () => {
  it("plans the app: first host active, roles, active-first rolling group (passives start after it)", () => {
    const { plan, findings, roles } = ap([app()]);
    assert.deepEqual(findings, []);
    assert.deepEqual(plan.activePassive, [
      {
        name: "drp",
        service: "dr-provision",
        hosts: ["h1", "h2"],
        vip: "10.0.0.50/24",
        interface: "eth0",
        haId: "drp-ha",
        token: { secret: "drpHaToken" },
      },
    ]);
    assert.deepEqual(roles.get("h2"), ["active-passive:drp"]);
    assert.deepEqual(plan.rollingGroups, [{ id: "active-passive:drp", service: "dr-provision", hosts: ["h1", "h2"], maxUnavailable: 1 }]);
  });

  it("2 or more distinct inventory hosts", () => {
    const f = ap([app({ hosts: ["h1", "h1"] })]).findings;
    one(f, "active-passive.duplicate-host");
    assert.equal(one(f, "active-passive.too-few-hosts").path, "activePassive[0].hosts");
    assert.equal(one(ap([app({ hosts: ["h1", "zz"] })]).findings, "active-passive.unknown-host").path, "activePassive[0].hosts[1]");
  });

  it("the VIP is a CIDR inside the hosts' subnet on the interface", () => {
    // Not a CIDR: the schema's `cidr` kind rejects it before the plan (same path).
    assert.equal(one(ap([app({ vip: "10.0.0.50" })]).findings, "schema.invalid").path, "activePassive[0].vip");
    const out = ap([app({ vip: "10.1.0.50/24" })]).findings.filter((f) => f.code === "active-passive.vip-outside-subnet");
    assert.equal(out.length, 2);
    assert.equal(out[0]!.path, "activePassive[0].vip");
    assert.equal(ap([app({ interface: "ens3" })]).findings.filter((f) => f.code === "active-passive.interface-missing").length, 2);
    one(ap([app({ vip: "10.0.0.13/24" })]).findings, "active-passive.vip-is-host-address");
  });

  it("haId is not blank and not shared with another app", () => {
    // A blank (or spaced, newline-carrying) haId is not an identifier: a schema finding.
    assert.equal(one(ap([app({ haId: "  " })]).findings, "schema.invalid").path, "activePassive[0].haId");
    one(ap([app(), app({ name: "drp2", vip: "10.0.0.51/24" })]).findings, "active-passive.duplicate-ha-id");
  });

  it("the token is required (an empty literal is an error)", () => {
    assert.equal(one(ap([app({ token: { value: "" } })]).findings, "active-passive.token-missing").path, "activePassive[0].token");
    noErrors(ap([app({ token: { env: "DRP_TOKEN" } })]).findings);
  });

  it("the VIP is not another manager's (keepalived, Pacemaker, another app)", () => {
    const k = one(
      ap([app()], { keepalived: { instances: [{ name: "lb", vip: "10.0.0.50/24", routerId: 9, hosts: ["h1", "h3"] }] } }).findings,
      "active-passive.vip-conflict",
    );
    assert.match(k.message, /keepalived instance 'lb'/);
    const twice = one(ap([app(), app({ name: "b", haId: "other" })]).findings, "active-passive.vip-conflict");
    assert.match(twice.message, /app 'drp'/);
    one(ap([app(), app({ haId: "other", vip: "10.0.0.51/24" })]).findings, "active-passive.duplicate-name");
  });
});
