/**
 * The pacemaker service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md): src/plan/summary.ts
 * composes the summary from every service's part.
 */
import type { ClusterPlan } from "../../plan/types";

export const pacemakerSummary = (plan: ClusterPlan) => ({
  pacemakerClusters: plan.pacemakerClusters.map((c) => ({
    name: c.name,
    nodes: c.nodes.map((n) => n.host),
    remoteNodes: [...c.remoteNodes],
    quorum: c.quorum,
    stonithEnabled: c.stonithEnabled,
  })),
});
