/**
 * The stable projections of a ClusterPlan: what `haforge plan --json` prints and scripts depend on,
 * and the Pulumi stack outputs, composed from each service's part (src/services/<svc>/summary.ts).
 * Group names without their prefix (`tower`, `east`). Add fields; never rename.
 */
import { keepalivedSummary } from "../services/keepalived/summary";
import { pacemakerSummary } from "../services/pacemaker/summary";
import { postgresSummary } from "../services/postgres/summary";
import { quorumStoreSummary } from "../services/quorum-store/summary";
import { amqpUrls, rabbitmqSummary } from "../services/rabbitmq/summary";
import { towerSummary } from "../services/tower/summary";
import type { ClusterPlan } from "./types";

export { amqpUrls, brokerUrl } from "../services/rabbitmq/summary";

export function planSummary(plan: ClusterPlan) {
  return {
    name: plan.name,
    target: plan.target,
    hosts: plan.hosts.map((h) => ({ name: h.name, address: h.address, internalAddress: h.internalAddress, roles: [...h.roles] })),
    ...towerSummary(plan),
    ...rabbitmqSummary(plan),
    ...pacemakerSummary(plan),
    ...keepalivedSummary(plan),
    ...quorumStoreSummary(plan),
    ...postgresSummary(plan),
    rollingGroups: plan.rollingGroups.map((r) => ({ id: r.id, service: r.service, hosts: [...r.hosts], maxUnavailable: r.maxUnavailable })),
  };
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
