/**
 * The stable projection of a ClusterPlan that `haforge plan --json` prints and scripts depend on.
 * Group names without their prefix (`tower`, `east`). Add fields; never rename.
 */
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
