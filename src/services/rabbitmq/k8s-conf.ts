/**
 * rabbitmq.conf for a node in a Kubernetes StatefulSet: the SSH renderer's settings (listener,
 * cluster name, partition handling, definitions, guest) with Kubernetes peer discovery instead of
 * classic_config. Written as ordered `key = value` entries; the tests feed the result to
 * RabbitMQ's own Cuttlefish schemas (the k8s plugin's included), as the node's prelaunch does.
 *
 * https://www.rabbitmq.com/docs/cluster-formation#peer-discovery-k8s
 */
import type { ClusterPlan } from "../../plan/types";
import type { RabbitMqOnKubernetes } from "./k8s-topology";

/** Where the pod finds its files (copied there from the ConfigMap and Secret by the init container). */
export const K8S_RABBITMQ_PATHS = {
  etc: "/etc/rabbitmq",
  conf: "/etc/rabbitmq/rabbitmq.conf",
  plugins: "/etc/rabbitmq/enabled_plugins",
  definitions: "/etc/rabbitmq/definitions.json",
  data: "/var/lib/rabbitmq",
  cookie: "/var/lib/rabbitmq/.erlang.cookie",
} as const;

/** The plugins every node enables before its first boot (peer discovery must be on by then). */
export function k8sPlugins(r: RabbitMqOnKubernetes): string[] {
  return ["rabbitmq_peer_discovery_k8s", ...(r.rabbitmq.enableManagement ? ["rabbitmq_management"] : [])].sort();
}

type Entry = readonly [key: string, value: string | number] | readonly [comment: string];

export function k8sRabbitmqConfEntries(plan: ClusterPlan, r: RabbitMqOnKubernetes): Entry[] {
  const rmq = r.rabbitmq;
  const guestIsOurs = rmq.username === "guest";
  return [
    ["AMQP 0-9-1 on every interface of the pod."],
    ["listeners.tcp.default", rmq.port],
    ["Peers come from the endpoints of the headless Service (not-ready ones included, so the first"],
    ["nodes find each other before any is ready). A pod's node name is its stable DNS name."],
    ["cluster_formation.peer_discovery_backend", "rabbit_peer_discovery_k8s"],
    ["cluster_formation.k8s.address_type", "hostname"],
    ["cluster_formation.k8s.service_name", r.names.headless],
    ["cluster_formation.k8s.hostname_suffix", `.${r.names.headless}.${r.target.namespace}`],
    ["A node missing from the endpoints (rescheduling) is never forgotten automatically."],
    ["cluster_formation.node_cleanup.only_log_warning", "true"],
    ["cluster_name", plan.name],
    ["https://www.rabbitmq.com/docs/partitions"],
    ["cluster_partition_handling", rmq.partitionHandling],
    ["vhost (default queue type quorum), user and permissions; no default guest user is seeded."],
    ["load_definitions", K8S_RABBITMQ_PATHS.definitions],
    ["loopback_users.guest", guestIsOurs ? "false" : "true"],
    ...(rmq.enableManagement ? ([["management.tcp.port", rmq.managementPort]] as Entry[]) : []),
  ];
}

export function k8sRabbitmqConf(plan: ClusterPlan, r: RabbitMqOnKubernetes): string {
  const lines = [`# Managed by haforge: RabbitMQ on Kubernetes, cluster "${plan.name}" (${r.replicas} node(s)).`];
  for (const e of k8sRabbitmqConfEntries(plan, r)) lines.push(e.length === 1 ? `## ${e[0]}` : `${e[0]} = ${e[1]}`);
  return lines.join("\n") + "\n";
}
