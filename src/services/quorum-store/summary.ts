/**
 * The quorum-store service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md); the service module
 * registers it (`summary`) and src/pipeline/summary.ts composes the summary from the registered parts.
 */
import type { ClusterPlan } from "../../plan/types";
import type { SummaryPart } from "../../plan/summary-part";

export const quorumStoreSummary = (plan: ClusterPlan) => ({
  quorumStore: plan.quorumStore
    ? { kind: plan.quorumStore.kind, members: plan.quorumStore.members.map((m) => m.host), quorum: plan.quorumStore.quorum }
    : null,
});

export const quorumStoreSummaryPart: SummaryPart<ReturnType<typeof quorumStoreSummary>> = {
  summary: quorumStoreSummary,
  limit: (s, any) => ({ quorumStore: s.quorumStore && any(s.quorumStore.members) ? s.quorumStore : null }),
  lines: ({ quorumStore: q }, { kind: k }) =>
    q ? [`  ${k(q.kind)}: ${q.members.join(", ")} (quorum ${q.quorum.quorum}/${q.quorum.expectedVotes})`] : [],
};
