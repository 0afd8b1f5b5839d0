/**
 * The registry is the one place a service is listed: every service that renders has a Pulumi
 * component spec, the deploy order lists each service once and after the services it depends on,
 * and nothing in components/ names a service (the components are built from the registry); every
 * service has a part of the plan summary, and the summary is composed from those parts alone.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { addressRules } from "../../src/pipeline/plan";
import { deployOrder, services, summaryOrder } from "../../src/services/registry";
import { planSummary } from "../../src/pipeline/summary";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { ROOT } from "../helpers/cli";

describe("service registry", () => {
  test("every service that renders for SSH hosts has a component spec, with a unique type and name", () => {
    const missing = services.filter((s) => s.render && !s.component).map((s) => s.name);
    assert.deepEqual(missing, []);
    const specs = services.flatMap((s) => (s.component ? [s.component] : []));
    assert.equal(new Set(specs.map((c) => c.type)).size, specs.length, "component types are unique");
    assert.equal(new Set(specs.map((c) => c.suffix)).size, specs.length, "component names are unique");
  });

  test("the deploy order lists every service once, each after the services it depends on", () => {
    assert.deepEqual(deployOrder.map((s) => s.name).sort(), services.map((s) => s.name).sort());
    const names = new Set(services.map((s) => s.name));
    deployOrder.forEach((s, i) => {
      for (const dep of s.component?.after ?? []) {
        assert.ok(names.has(dep), `${s.name} depends on an unknown service ${dep}`);
        assert.ok(deployOrder.findIndex((x) => x.name === dep) < i, `${s.name} is deployed before ${dep}`);
      }
    });
  });

  test("every registered service has a summary part, and the summary order lists each service once", () => {
    const missing = services.filter((s) => typeof s.summary?.summary !== "function").map((s) => s.name);
    assert.deepEqual(missing, [], "services without a summary part (noSummary for one that shows nothing)");
    assert.deepEqual(summaryOrder.map((s) => s.name).sort(), services.map((s) => s.name).sort());
    assert.equal(new Set(summaryOrder).size, summaryOrder.length);
  });

  test("the plan summary holds exactly the base keys and the registered parts' keys", () => {
    const a = analyzeInventoryFile(join(ROOT, "inventories", "lab.yaml"));
    assert.ok(a.plan);
    const parts = summaryOrder.flatMap((s) => Object.keys(s.summary.summary(a.plan!)));
    assert.deepEqual(Object.keys(planSummary(a.plan)), ["name", "target", "hosts", ...parts, "rollingGroups"]);
  });

  test("components/ names no service and no component type (they come from the registry)", () => {
    const dir = join(ROOT, "components");
    const words = [...services.map((s) => s.name), ...services.flatMap((s) => (s.component ? [s.component.type] : []))];
    const found: string[] = [];
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".ts"))) {
      const text = readFileSync(join(dir, f), "utf8");
      for (const w of words) if (text.includes(`"${w}"`) || text.includes(`'${w}'`) || text.includes(`\`${w}\``)) found.push(`${f}: ${w}`);
    }
    assert.deepEqual(found, []);
  });

  test("the address rules are exactly the codes the plan emits that judge host addresses", () => {
    // Every code literal in src/ with an address-judging suffix, and the VIP placement codes of
    // each service that calls vipPlacementFindings (`code: "<prefix>"`).
    const SUFFIX =
      /"([a-z-]+\.(?:vip-outside-subnet|vip-is-host-address|vip-subnet-unchecked|unicast-peer-not-ip|duplicate-link-address|invalid-address|duplicate-address|duplicate-internal-address))"/g;
    const emitted = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith(".ts")) {
          // Not the declarations themselves: the service modules (index.ts) and the hosts' list.
          if (p.endsWith("index.ts") && p.includes("/services/")) continue;
          const text = readFileSync(p, "utf8").replace(/HOST_ADDRESS_RULES[^;]*;/, "");
          for (const m of text.matchAll(SUFFIX)) emitted.add(m[1]!);
          for (const m of text.matchAll(/vipPlacementFindings\([^]*?code: "([a-z-]+)"/g))
            for (const suffix of ["vip-outside-subnet", "vip-subnet-unchecked"]) emitted.add(`${m[1]!}.${suffix}`);
        }
      }
    };
    walk(join(ROOT, "src"));
    assert.ok(emitted.size >= 10, [...emitted].join(", "));
    assert.deepEqual([...addressRules()].sort(), [...emitted].sort());
  });
});
