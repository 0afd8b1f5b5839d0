/**
 * The plan step: hosts first, then every service's plan step in registry order, each seeing the
 * slices of the ones before it. Pure and deterministic.
 */
import { hasErrors, sortFindings, type Finding } from "../core/findings";
import type { Inventory } from "../inventory/schema";
import { services } from "../services/registry";
import { HOST_ADDRESS_RULES, planHosts } from "../plan/hosts";
import { packageFindings } from "../plan/packages";
import type { ClusterPlan, PlanResult, PlannedHost } from "../plan/types";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface PlanOptions {
  /**
   * Finding codes that do not gate the plan (they are dropped). Used by the Pulumi layer for
   * address rules when addresses are only known at deploy time; never by the CLI.
   */
  readonly ignore?: (code: string) => boolean;
}

/** Every finding code whose verdict depends on host addresses: the hosts' and each service's. */
export function addressRules(): ReadonlySet<string> {
  return new Set([...HOST_ADDRESS_RULES, ...services.flatMap((s) => s.addressRules ?? [])]);
}

export function planCluster(inventory: Inventory, opts: PlanOptions = {}): PlanResult {
  const findings: Finding[] = [];
  const { hosts, findings: hostFindings } = planHosts(inventory);
  findings.push(...hostFindings);

  let plan: Mutable<Partial<ClusterPlan>> = {
    name: inventory.name,
    target: inventory.target,
    instanceGroups: [],
    isolatedGroups: [],
    pacemakerClusters: [],
    pacemakerLayout: inventory.pacemaker?.layout ?? "per-service",
    keepalived: [],
    activePassive: [],
    rollingGroups: [],
    inventory,
  };
  const roles = new Map<string, Set<string>>();
  for (const svc of services) {
    if (!svc.plan) continue;
    const step = svc.plan({ inventory, hosts, plan });
    findings.push(...step.findings);
    const rolling = [...(plan.rollingGroups ?? []), ...(step.patch.rollingGroups ?? [])];
    plan = { ...plan, ...step.patch, rollingGroups: rolling };
    for (const [host, rs] of Object.entries(step.roles ?? {})) {
      const set = roles.get(host) ?? new Set<string>();
      rs.forEach((r) => set.add(r));
      roles.set(host, set);
    }
  }
  const plannedHosts: PlannedHost[] = [...hosts.values()].map((h) => ({ ...h, roles: [...(roles.get(h.name) ?? [])].sort() }));
  plan.hosts = plannedHosts;
  findings.push(...packageFindings(plan as ClusterPlan));
  const sorted = sortFindings(opts.ignore ? findings.filter((f) => !opts.ignore!(f.code)) : findings);
  return hasErrors(sorted) ? { findings: sorted } : { plan: plan as ClusterPlan, findings: sorted };
}
