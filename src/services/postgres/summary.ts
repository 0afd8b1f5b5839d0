/**
 * The postgres service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md); the service module
 * registers it (`summary`) and src/pipeline/summary.ts composes the summary from the registered parts.
 */
import type { ClusterPlan } from "../../plan/types";
import type { SummaryPart } from "../../plan/summary-part";

export const postgresSummary = (plan: ClusterPlan) => ({
  postgres: plan.postgres ? { engine: plan.postgres.engine, nodes: [...plan.postgres.nodes], endpoint: plan.postgres.endpoint } : null,
});

export const postgresSummaryPart: SummaryPart<ReturnType<typeof postgresSummary>> = {
  summary: postgresSummary,
  limit: (s, any) => ({ postgres: s.postgres && any(s.postgres.nodes) ? s.postgres : null }),
  lines: ({ postgres: p }, { kind: k }) => (p ? [`  ${k(`postgres (${p.engine})`)}: ${p.nodes.join(", ")} via ${p.endpoint}`] : []),
};
