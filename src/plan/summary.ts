/**
 * The stable projections of a ClusterPlan: what `haforge plan --json` prints and scripts depend on,
 * and the Pulumi stack outputs, composed from each service's part (src/services/<svc>/summary.ts).
 * Group names without their prefix (`tower`, `east`). Add fields; never rename.
 */
import { keepalivedSummaryPart } from "../services/keepalived/summary";
import { pacemakerSummaryPart } from "../services/pacemaker/summary";
import { postgresSummaryPart } from "../services/postgres/summary";
import { quorumStoreSummaryPart } from "../services/quorum-store/summary";
import { amqpUrls, rabbitmqSummaryPart } from "../services/rabbitmq/summary";
import { towerSummaryPart } from "../services/tower/summary";
import type { AnySelected, SummaryPart, SummaryStyle } from "./summary-part";
import type { ClusterPlan } from "./types";

export { amqpUrls, brokerUrl } from "../services/rabbitmq/summary";

export function planSummary(plan: ClusterPlan) {
  return {
    name: plan.name,
    target: plan.target,
    hosts: plan.hosts.map((h) => ({ name: h.name, address: h.address, internalAddress: h.internalAddress, roles: [...h.roles] })),
    ...towerSummaryPart.summary(plan),
    ...rabbitmqSummaryPart.summary(plan),
    ...pacemakerSummaryPart.summary(plan),
    ...keepalivedSummaryPart.summary(plan),
    ...quorumStoreSummaryPart.summary(plan),
    ...postgresSummaryPart.summary(plan),
    rollingGroups: plan.rollingGroups.map((r) => ({ id: r.id, service: r.service, hosts: [...r.hosts], maxUnavailable: r.maxUnavailable })),
  };
}

export type PlanSummary = ReturnType<typeof planSummary>;

/** A part over the whole summary (which holds every part's keys). */
interface ComposedPart {
  limit(s: PlanSummary, any: AnySelected): object;
  lines(s: PlanSummary, style: SummaryStyle): string[];
}
const composed = <S extends object>(p: SummaryPart<S>): ComposedPart => ({
  limit: (s, any) => p.limit(s as PlanSummary & S, any),
  lines: (s, style) => p.lines(s as PlanSummary & S, style),
});

/** The services' parts in the summary's (and `haforge plan`'s) order. */
const parts: readonly ComposedPart[] = [
  composed(towerSummaryPart),
  composed(rabbitmqSummaryPart),
  composed(pacemakerSummaryPart),
  composed(keepalivedSummaryPart),
  composed(quorumStoreSummaryPart),
  composed(postgresSummaryPart),
];

/** The summary restricted to `only` (`--limit`): its hosts, and the structures that have one of them (members listed in full). */
export function limitPlanSummary(s: PlanSummary, only: ReadonlySet<string>): PlanSummary {
  const any: AnySelected = (hosts) => hosts.some((h) => only.has(h));
  const limited = { ...s, hosts: s.hosts.filter((h) => only.has(h.name)), rollingGroups: s.rollingGroups.filter((r) => any(r.hosts)) };
  for (const part of parts) Object.assign(limited, part.limit(s, any));
  return limited;
}

/** `haforge plan`'s text: the cluster, its hosts, every service's lines, the rolling groups. */
export function planSummaryLines(s: PlanSummary, style: SummaryStyle): string[] {
  const { kind: k, name: n } = style;
  const internal = (h: PlanSummary["hosts"][number]) => (h.internalAddress !== h.address ? ` (internal ${h.internalAddress})` : "");
  return [
    n(`cluster ${s.name}`) + ` (target ${s.target}, ${s.hosts.length} hosts)`,
    ...s.hosts.map((h) => `  ${k("host")} ${n(h.name)} ${h.address}${internal(h)}: ${h.roles.join(", ") || "-"}`),
    ...parts.flatMap((part) => part.lines(s, style)),
    ...s.rollingGroups.map((r) => `  ${k("roll")} ${n(r.id)}: ${r.hosts.join(" → ")} (max ${r.maxUnavailable} down)`),
  ];
}

/** The stack outputs StackReference consumers depend on (index.ts): stable names; add fields, never rename. */
export interface ClusterOutputs {
  readonly hosts: { name: string; address: string; roles: string[] }[];
  readonly vips: { name: string; address: string; prefix: number }[];
  readonly endpoints: { amqp: string[]; postgres?: string; haproxy: { name: string; bind: string }[]; etcd: string[] };
  readonly instanceGroups: { name: string; instances: string[] }[];
  readonly isolatedGroups: { name: string; controller: string; instances: string[] }[];
  readonly rabbitmqNodes: string[];
  readonly pacemakerClusters: { name: string; nodes: string[] }[];
}

/**
 * The stack outputs of a plan (with the deploy-time addresses). `kubernetes`: a Kubernetes
 * target's broker and database endpoints and node names, which replace the hosts' (it has none).
 */
export function clusterOutputs(
  plan: ClusterPlan,
  kubernetes?: { readonly amqp: string[]; readonly postgres?: string | undefined; readonly rabbitmqNodes: string[] },
): ClusterOutputs {
  const postgres = kubernetes ? kubernetes.postgres : plan.postgres?.endpoint;
  return {
    hosts: plan.hosts.map((h) => ({ name: h.name, address: h.address, roles: [...h.roles] })),
    vips: plan.keepalived.map((k) => ({ name: k.name, address: k.vip, prefix: k.prefix })),
    endpoints: {
      amqp: kubernetes ? kubernetes.amqp : amqpUrls(plan),
      ...(postgres ? { postgres } : {}),
      haproxy: (plan.haproxy?.frontends ?? []).map((f) => ({ name: f.name, bind: f.bind })),
      etcd: [...(plan.quorumStore?.endpoints ?? [])],
    },
    instanceGroups: plan.instanceGroups.map((g) => ({ name: g.name, instances: [...g.instances] })),
    isolatedGroups: plan.isolatedGroups.map((g) => ({ name: g.name, controller: g.controller, instances: [...g.instances] })),
    rabbitmqNodes: kubernetes ? kubernetes.rabbitmqNodes : (plan.rabbitmq?.nodes ?? []).map((n) => n.nodeName),
    pacemakerClusters: plan.pacemakerClusters.map((p) => ({ name: p.name, nodes: p.nodes.map((n) => n.host) })),
  };
}
