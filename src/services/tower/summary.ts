/**
 * The tower service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md); the service module
 * registers it (`summary`) and src/pipeline/summary.ts composes the summary from the registered parts.
 */
import type { ClusterPlan } from "../../plan/types";
import type { SummaryPart } from "../../plan/summary-part";

export const towerSummary = (plan: ClusterPlan) => ({
  instanceGroups: plan.instanceGroups.map((g) => ({
    name: g.name,
    instances: [...g.instances],
    policy: { ...g.policy, list: [...g.policy.list] },
  })),
  isolatedGroups: plan.isolatedGroups.map((g) => ({ name: g.name, controller: g.controller, instances: [...g.instances] })),
});

export const towerSummaryPart: SummaryPart<ReturnType<typeof towerSummary>> = {
  summary: towerSummary,
  limit: (s, any) => ({
    instanceGroups: s.instanceGroups.filter((g) => any(g.instances)),
    isolatedGroups: s.isolatedGroups.filter((g) => any([...g.instances, g.controller])),
  }),
  lines: (s, { kind: k, name: n, warn }) => [
    ...s.instanceGroups.map((g) => {
      const policy = `[percentage ${g.policy.percentage}, minimum ${g.policy.minimum}, list ${g.policy.list.join(",") || "-"}]`;
      return `  ${k("instance group")} ${n(g.name)}: ${g.instances.join(", ") || warn("(empty)")}  ${policy}`;
    }),
    ...s.isolatedGroups.map((g) => `  ${k("isolated group")} ${n(g.name)} (controller ${g.controller}): ${g.instances.join(", ")}`),
  ],
};
