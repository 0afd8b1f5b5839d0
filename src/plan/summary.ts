/**
 * The Pulumi stack outputs of a ClusterPlan (components/ha-cluster.ts). The plan summary of
 * `haforge plan` is composed from the services' registered parts in src/pipeline/summary.ts.
 * Add fields; never rename.
 */
import { amqpUrls } from "../services/rabbitmq/summary";
import type { ClusterPlan } from "./types";

export { amqpUrls, brokerUrl } from "../services/rabbitmq/summary";

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
