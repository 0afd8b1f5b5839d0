/**
 * The pacemaker service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md); the service module
 * registers it (`summary`) and src/pipeline/summary.ts composes the summary from the registered parts.
 */
import type { ClusterPlan } from "../../plan/types";
import type { SummaryPart } from "../../plan/summary-part";

export const pacemakerSummary = (plan: ClusterPlan) => ({
  pacemakerClusters: plan.pacemakerClusters.map((c) => ({
    name: c.name,
    nodes: c.nodes.map((n) => n.host),
    remoteNodes: [...c.remoteNodes],
    quorum: c.quorum,
    stonithEnabled: c.stonithEnabled,
  })),
});

export const pacemakerSummaryPart: SummaryPart<ReturnType<typeof pacemakerSummary>> = {
  summary: pacemakerSummary,
  limit: (s, any) => ({ pacemakerClusters: s.pacemakerClusters.filter((c) => any([...c.nodes, ...c.remoteNodes])) }),
  lines: (s, { kind: k, name: n, warn }) =>
    s.pacemakerClusters.map((c) => {
      const quorum = `quorum ${c.quorum.quorum}/${c.quorum.expectedVotes}, tolerates ${c.quorum.failuresTolerated} failure(s)`;
      return `  ${k("pacemaker")} ${n(c.name)}: ${c.nodes.join(", ")} (${quorum}, stonith ${c.stonithEnabled ? "on" : warn("off")})`;
    }),
};
