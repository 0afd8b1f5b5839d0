/**
 * Helpers for the plan-step tests: build an Inventory the way a user writes one (YAML through the
 * zod schema), run the plan steps in registry order without withholding the plan on errors, and
 * look findings up by code.
 */
import assert from "node:assert/strict";
import * as yaml from "js-yaml";
import { error, type Finding } from "../../src/core/findings";
import { formatPath } from "../../src/inventory/load";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planHosts } from "../../src/plan/hosts";
import type { ClusterPlan } from "../../src/plan/types";
import { services } from "../../src/services/registry";

export function inventory(doc: string | InventoryInput): Inventory {
  return Inventory.parse(typeof doc === "string" ? yaml.load(doc) : doc);
}

export interface StepsResult {
  readonly plan: Partial<ClusterPlan>;
  readonly findings: Finding[];
  readonly roles: Map<string, string[]>;
}

/**
 * Every service's plan step in registry order, like planCluster, but the plan is always kept. An
 * inventory the schema rejects (a string that is not of its field's kind) yields its
 * `schema.invalid` findings, as the loader reports them, and no plan.
 */
export function runSteps(doc: string | InventoryInput): StepsResult {
  const parsed = Inventory.safeParse(typeof doc === "string" ? yaml.load(doc) : doc);
  if (!parsed.success) {
    const findings = parsed.error.issues.map((i) => error("schema.invalid", formatPath(i.path), i.message));
    return { plan: {}, findings, roles: new Map() };
  }
  const inv = parsed.data;
  const { hosts, findings: hostFindings } = planHosts(inv);
  const findings: Finding[] = [...hostFindings];
  let plan: Partial<ClusterPlan> = {
    name: inv.name,
    target: inv.target,
    keepalived: [],
    pacemakerClusters: [],
    activePassive: [],
    rollingGroups: [],
    inventory: inv,
  };
  const roles = new Map<string, string[]>();
  for (const svc of services) {
    if (!svc.plan) continue;
    const step = svc.plan({ inventory: inv, hosts, plan });
    findings.push(...step.findings);
    plan = { ...plan, ...step.patch, rollingGroups: [...(plan.rollingGroups ?? []), ...(step.patch.rollingGroups ?? [])] };
    for (const [h, rs] of Object.entries(step.roles ?? {})) roles.set(h, [...(roles.get(h) ?? []), ...rs]);
  }
  return { plan, findings, roles };
}

/** Findings of one service (code prefix), e.g. `pacemaker.`, and the schema's (runSteps). */
export const ofService = (findings: readonly Finding[], prefix: string): Finding[] =>
  findings.filter((f) => f.code.startsWith(prefix) || f.code === "schema.invalid");

/** The one finding with `code`; fails with the full list otherwise. */
export function one(findings: readonly Finding[], code: string): Finding {
  const hits = findings.filter((f) => f.code === code);
  assert.equal(hits.length, 1, `expected exactly one ${code}, got ${hits.length}: ${JSON.stringify(findings, null, 1)}`);
  return hits[0]!;
}

export function none(findings: readonly Finding[], code: string): void {
  const hits = findings.filter((f) => f.code === code);
  assert.equal(hits.length, 0, `expected no ${code}, got ${JSON.stringify(hits, null, 1)}`);
}

/** No error at all among the findings of `prefix`. */
export function noErrors(findings: readonly Finding[], prefix = ""): void {
  const errs = findings.filter((f) => f.severity === "error" && f.code.startsWith(prefix));
  assert.deepEqual(errs, [], `unexpected errors: ${JSON.stringify(errs, null, 1)}`);
}

/** Inventory hosts `${prefix}1..n` at 10.0.0.(base+i)/24 on eth0. */
export interface HostIn {
  name: string;
  address: string;
  interfaces: { name: string; address: string }[];
}

export function hosts(n: number, prefix = "h", net = "10.0.0", base = 10): HostIn[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}${i + 1}`,
    address: `${net}.${base + i + 1}`,
    interfaces: [{ name: "eth0", address: `${net}.${base + i + 1}/24` }],
  }));
}

/** Names `${prefix}1..n`. */
export const names = (n: number, prefix = "h"): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
