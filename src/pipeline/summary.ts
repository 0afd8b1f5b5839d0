/**
 * The plan summary: what `haforge plan --json` prints and scripts depend on, and `haforge plan`'s
 * text. Composed from the part each service module registers (`ServiceModule.summary`,
 * src/services/<svc>/summary.ts), in the registry's `summaryOrder`. Group names without their
 * prefix (`tower`, `east`). Add fields; never rename.
 */
import type { AnySelected, SummaryPart, SummaryStyle } from "../plan/summary-part";
import type { ClusterPlan } from "../plan/types";
import { summaryOrder } from "../services/registry";

const baseSummary = (plan: ClusterPlan) => ({
  name: plan.name,
  target: plan.target,
  hosts: plan.hosts.map((h) => ({ name: h.name, address: h.address, internalAddress: h.internalAddress, roles: [...h.roles] })),
});
const rollingSummary = (plan: ClusterPlan) => ({
  rollingGroups: plan.rollingGroups.map((r) => ({ id: r.id, service: r.service, hosts: [...r.hosts], maxUnavailable: r.maxUnavailable })),
});

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type PartSummary<M> = M extends { readonly summary: SummaryPart<infer S> } ? S : never;
/** Every registered part's keys. */
type PartsSummary = UnionToIntersection<PartSummary<(typeof summaryOrder)[number]>>;

export type PlanSummary = ReturnType<typeof baseSummary> & PartsSummary & ReturnType<typeof rollingSummary>;

/** The cluster, its hosts, every service's part in the registry's order, the rolling groups. */
export function planSummary(plan: ClusterPlan): PlanSummary {
  const s: object = baseSummary(plan);
  for (const svc of summaryOrder) Object.assign(s, svc.summary.summary(plan));
  return Object.assign(s, rollingSummary(plan)) as PlanSummary;
}

/** The summary restricted to `only` (`--limit`): its hosts, and the structures that have one of them (members listed in full). */
export function limitPlanSummary(s: PlanSummary, only: ReadonlySet<string>): PlanSummary {
  const any: AnySelected = (hosts) => hosts.some((h) => only.has(h));
  const limited = { ...s, hosts: s.hosts.filter((h) => only.has(h.name)), rollingGroups: s.rollingGroups.filter((r) => any(r.hosts)) };
  for (const svc of summaryOrder) Object.assign(limited, svc.summary.limit(s, any));
  return limited;
}

/** `haforge plan`'s text: the cluster, its hosts, every service's lines, the rolling groups. */
export function planSummaryLines(s: PlanSummary, style: SummaryStyle): string[] {
  const { kind: k, name: n } = style;
  const internal = (h: PlanSummary["hosts"][number]) => (h.internalAddress !== h.address ? ` (internal ${h.internalAddress})` : "");
  return [
    n(`cluster ${s.name}`) + ` (target ${s.target}, ${s.hosts.length} hosts)`,
    ...s.hosts.map((h) => `  ${k("host")} ${n(h.name)} ${h.address}${internal(h)}: ${h.roles.join(", ") || "-"}`),
    ...summaryOrder.flatMap((svc) => svc.summary.lines(s, style)),
    ...s.rollingGroups.map((r) => `  ${k("roll")} ${n(r.id)}: ${r.hosts.join(" → ")} (max ${r.maxUnavailable} down)`),
  ];
}
