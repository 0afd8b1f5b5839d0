/**
 * The keepalived service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md); the service module
 * registers it (`summary`) and src/pipeline/summary.ts composes the summary from the registered parts.
 */
import type { ClusterPlan } from "../../plan/types";
import type { SummaryPart } from "../../plan/summary-part";

export const keepalivedSummary = (plan: ClusterPlan) => ({
  keepalived: plan.keepalived.map((k) => ({
    name: k.name,
    vip: `${k.vip}/${k.prefix}`,
    routerId: k.routerId,
    members: k.members.map((m) => ({ host: m.host, priority: m.priority, state: m.state })),
  })),
});

export const keepalivedSummaryPart: SummaryPart<ReturnType<typeof keepalivedSummary>> = {
  summary: keepalivedSummary,
  limit: (s, any) => ({ keepalived: s.keepalived.filter((v) => any(v.members.map((m) => m.host))) }),
  lines: (s, { kind: k, name: n }) =>
    s.keepalived.map(
      (v) => `  ${k("vip")} ${n(v.name)} ${v.vip} (vrid ${v.routerId}): ${v.members.map((m) => `${m.host}:${m.priority}`).join(", ")}`,
    ),
};
