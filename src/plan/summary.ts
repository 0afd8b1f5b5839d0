/**
 * The stable projections of a ClusterPlan: what `haforge plan --json` prints and scripts depend on,
 * and the Pulumi stack outputs.
 * Group names without their prefix (`tower`, `east`). Add fields; never rename.
 */
import { resolveSecret, type SecretValues } from "../core/secrets";
import type { ClusterPlan } from "./types";

export function planSummary(plan: ClusterPlan) {
  return {
    name: plan.name,
    target: plan.target,
    hosts: plan.hosts.map((h) => ({ name: h.name, address: h.address, internalAddress: h.internalAddress, roles: [...h.roles] })),
    instanceGroups: plan.instanceGroups.map((g) => ({
      name: g.name,
      instances: [...g.instances],
      policy: { ...g.policy, list: [...g.policy.list] },
    })),
    isolatedGroups: plan.isolatedGroups.map((g) => ({ name: g.name, controller: g.controller, instances: [...g.instances] })),
    rabbitmq: plan.rabbitmq
      ? {
          nodes: plan.rabbitmq.nodes.map((n) => ({ host: n.host, nodeName: n.nodeName })),
          useLongName: plan.rabbitmq.useLongName,
          useLongNameDerived: plan.rabbitmq.useLongNameDerived,
          port: plan.rabbitmq.port,
          vhost: plan.rabbitmq.vhost,
          partitionHandling: plan.rabbitmq.partitionHandling,
          quorum: plan.rabbitmq.quorum,
        }
      : null,
    pacemakerClusters: plan.pacemakerClusters.map((c) => ({
      name: c.name,
      nodes: c.nodes.map((n) => n.host),
      remoteNodes: [...c.remoteNodes],
      quorum: c.quorum,
      stonithEnabled: c.stonithEnabled,
    })),
    keepalived: plan.keepalived.map((k) => ({
      name: k.name,
      vip: `${k.vip}/${k.prefix}`,
      routerId: k.routerId,
      members: k.members.map((m) => ({ host: m.host, priority: m.priority, state: m.state })),
    })),
    quorumStore: plan.quorumStore
      ? { kind: plan.quorumStore.kind, members: plan.quorumStore.members.map((m) => m.host), quorum: plan.quorumStore.quorum }
      : null,
    postgres: plan.postgres ? { engine: plan.postgres.engine, nodes: [...plan.postgres.nodes], endpoint: plan.postgres.endpoint } : null,
    rollingGroups: plan.rollingGroups.map((r) => ({ id: r.id, service: r.service, hosts: [...r.hosts], maxUnavailable: r.maxUnavailable })),
  };
}

/** amqp://user@host:port/vhost per RabbitMQ node, without the password (a stack output). */
export function amqpUrls(plan: ClusterPlan): string[] {
  const r = plan.rabbitmq;
  return r ? r.nodes.map((n) => `amqp://${encodeURIComponent(r.username)}@${n.address}:${r.port}/${encodeURIComponent(r.vhost)}`) : [];
}

/** The first RabbitMQ node's amqp URL with the password (a secret stack output); undefined without RabbitMQ. */
export function brokerUrl(plan: ClusterPlan, secrets: SecretValues): string | undefined {
  const r = plan.rabbitmq;
  if (!r) return undefined;
  return `amqp://${encodeURIComponent(r.username)}:${encodeURIComponent(resolveSecret(r.password, secrets))}@${r.nodes[0]?.address}:${r.port}/${encodeURIComponent(r.vhost)}`;
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
