/**
 * The tower service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md): src/plan/summary.ts
 * composes the summary from every service's part.
 */
import type { ClusterPlan } from "../../plan/types";

export const towerSummary = (plan: ClusterPlan) => ({
  instanceGroups: plan.instanceGroups.map((g) => ({
    name: g.name,
    instances: [...g.instances],
    policy: { ...g.policy, list: [...g.policy.list] },
  })),
  isolatedGroups: plan.isolatedGroups.map((g) => ({ name: g.name, controller: g.controller, instances: [...g.instances] })),
});
