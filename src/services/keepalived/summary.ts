/**
 * The keepalived service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md): src/plan/summary.ts
 * composes the summary from every service's part.
 */
import type { ClusterPlan } from "../../plan/types";

export const keepalivedSummary = (plan: ClusterPlan) => ({
  keepalived: plan.keepalived.map((k) => ({
    name: k.name,
    vip: `${k.vip}/${k.prefix}`,
    routerId: k.routerId,
    members: k.members.map((m) => ({ host: m.host, priority: m.priority, state: m.state })),
  })),
});
