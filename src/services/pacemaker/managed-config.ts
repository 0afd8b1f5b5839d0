/**
 * Configuration for the daemons Pacemaker runs (owned.ts): Pacemaker starts them, so haforge
 * writes what they need to start and to cluster, and never restarts them (a changed file is
 * picked up at the daemon's next start by Pacemaker; nothing here notifies a service).
 *
 * - RabbitMQ under `ocf:heartbeat:rabbitmq-cluster`: the Erlang cookie shared by every node (a
 *   generated token per cluster, unless a `rabbitmq` section names one) and a rabbitmq.conf with
 *   the partition handling the OpenStack HA guide uses (pause_minority) and the AMQP listener.
 *   The agent itself joins the nodes (it reads the cluster's node list from the CIB).
 * - Galera under `ocf:heartbeat:galera`: the wsrep settings (provider, cluster name and address,
 *   this node's address and name, ROW binlog, InnoDB, autoinc lock mode 2) in a mariadb.conf.d
 *   drop-in; the agent passes the cluster address it computes on start.
 * - A clustercheck on 9200 on every Galera node: HAProxy's Galera backend checks it (`check port
 *   9200`, `httpchk`): HTTP 200 while the node is Synced (wsrep_local_state 4), 503 otherwise. A
 *   small script run by socat per connection as its own daemon (haforge-clustercheck).
 * - Redis under `ocf:heartbeat:redis`: /etc/redis/redis.conf (the agent's default `config`) bound
 *   to the node's internal address and loopback; the agent runs replication itself.
 */
import type { FileSpec, InitSystem, ServiceSpec } from "../../core/desired-state";
import type { MaterialSpec } from "../../core/materials";
import type { ClusterPlan, PacemakerClusterPlan } from "../../plan/types";
import { daemon } from "../../render/daemon";
import { RABBITMQ_CONF_VALIDATE } from "../rabbitmq/conf-check";
import { clusterUnits } from "./owned";
import { plannedHosts } from "../../plan/lookup";

export const RABBITMQ_COOKIE = "/var/lib/rabbitmq/.erlang.cookie";
export const RABBITMQ_CONF = "/etc/rabbitmq/rabbitmq.conf";
export const GALERA_CNF = "/etc/mysql/mariadb.conf.d/60-haforge-galera.cnf";
export const REDIS_CONF = "/etc/redis/redis.conf";
export const CLUSTERCHECK_SCRIPT = "/usr/local/lib/haforge/clustercheck";
export const CLUSTERCHECK_PORT = 9200;
export const CLUSTERCHECK_SERVICE = "haforge-clustercheck";
export const GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so";

export const pacemakerCookieMaterial = (cluster: string): string => `rabbitmq/cookie/pacemaker/${cluster}`;

/** The units this cluster's resources run (on its nodes). */
const unitsOf = (c: PacemakerClusterPlan, plan: ClusterPlan): ReadonlySet<string> =>
  new Set(clusterUnits(c.spec, plan.pacemakerLayout).keys());

export function managedMaterials(plan: ClusterPlan): MaterialSpec[] {
  return plan.pacemakerClusters
    .filter((c) => unitsOf(c, plan).has("rabbitmq-server"))
    .map((c) => ({
      key: pacemakerCookieMaterial(c.name),
      kind: { type: "token" as const, length: 32 },
      description: `Erlang cookie of the RabbitMQ nodes Pacemaker runs in cluster ${c.name}`,
    }));
}

/** The clustercheck script: one HTTP exchange on stdin/stdout (socat EXEC), answered from wsrep_local_state. */
export function clustercheckScript(): string {
  return [
    "#!/bin/sh",
    "# Managed by haforge: Galera clustercheck for HAProxy (HTTP 200 when this node is Synced).",
    "# Run by socat for each connection on port 9200; reads the request line and answers.",
    "read -r _request",
    "state=$(mysql -N -B -e \"SHOW GLOBAL STATUS LIKE 'wsrep_local_state'\" 2>/dev/null | awk '{ print $2 }')",
    'if [ "$state" = 4 ]; then',
    "  printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nConnection: close\\r\\nContent-Length: 27\\r\\n\\r\\nGalera node is synced (4).\\n'",
    "else",
    "  printf 'HTTP/1.1 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\nConnection: close\\r\\nContent-Length: 27\\r\\n\\r\\nGalera node is not synced.\\n'",
    "fi",
    "",
  ].join("\n");
}

/** A root-owned 0644 file notifying nothing, unless `extra` says otherwise. */
const managedFile = (host: string, path: string, content: string, extra: Partial<FileSpec> = {}): FileSpec => ({
  host,
  path,
  content,
  mode: "0644",
  owner: "root",
  group: "root",
  secret: false,
  notify: [],
  ...extra,
});

export function renderManaged(
  plan: ClusterPlan,
  cluster: PacemakerClusterPlan,
  materials: Readonly<Record<string, string>>,
  initOf: (host: string) => InitSystem,
): { files: FileSpec[]; services: ServiceSpec[] } {
  const units = unitsOf(cluster, plan);
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const hosts = plannedHosts(plan);
  const names = cluster.nodes.map((n) => n.host);

  for (const host of names) {
    const addr = hosts.get(host)?.internalAddress ?? host;
    // haforge's own RabbitMQ service (src/services/rabbitmq) never shares hosts with this one (pacemaker.unit-run-twice).
    if (units.has("rabbitmq-server")) files.push(...rabbitmqFiles(cluster, materials, host, addr));
    if (units.has("mariadb")) {
      files.push(...galeraFiles(cluster, names, host, addr));
      const d = daemon({
        host,
        init: initOf(host),
        name: CLUSTERCHECK_SERVICE,
        description: `Galera clustercheck on ${CLUSTERCHECK_PORT} for HAProxy (haforge)`,
        command: `/usr/bin/socat TCP-LISTEN:${CLUSTERCHECK_PORT},reuseaddr,fork EXEC:${CLUSTERCHECK_SCRIPT}`,
        // It answers (200 or 503) once listening: the gate is that it answers, not that Galera is synced.
        health: `curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:${CLUSTERCHECK_PORT}/ | grep -qE '^(200|503)$'`,
      });
      files.push(d.file);
      services.push(d.service);
    }
    if (units.has("redis-server")) {
      files.push(
        managedFile(
          host,
          REDIS_CONF,
          [
            `# Managed by haforge: Redis node ${host} of Pacemaker cluster ${cluster.name} (ocf:heartbeat:redis starts it and runs replication).`,
            `bind ${addr} 127.0.0.1`,
            "port 6379",
            "protected-mode yes",
            "dir /var/lib/redis",
            "appendonly no",
            "",
          ].join("\n"),
          { owner: "redis", group: "redis", mode: "0640" },
        ),
      );
    }
  }
  return { files, services };
}

/** A RabbitMQ node's cookie and rabbitmq.conf (ocf:heartbeat:rabbitmq-cluster joins the nodes). */
function rabbitmqFiles(cluster: PacemakerClusterPlan, materials: Readonly<Record<string, string>>, host: string, addr: string): FileSpec[] {
  const cookie = materials[pacemakerCookieMaterial(cluster.name)] ?? "";
  return [
    // Erlang refuses a cookie others can read; no trailing newline. The key size check refuses
    // an empty (missing material) cookie on the host.
    managedFile(host, RABBITMQ_COOKIE, cookie, {
      mode: "0400",
      owner: "rabbitmq",
      group: "rabbitmq",
      secret: true,
      validate: `test "$(wc -c < {file})" -ge 20`,
    }),
    managedFile(
      host,
      RABBITMQ_CONF,
      [
        `# Managed by haforge: RabbitMQ node of Pacemaker cluster ${cluster.name} (ocf:heartbeat:rabbitmq-cluster joins the nodes).`,
        `listeners.tcp.default = ${addr.includes(":") ? `[${addr}]` : addr}:5672`,
        "cluster_partition_handling = pause_minority",
        "",
      ].join("\n"),
      // RabbitMQ's own schema (cuttlefish) judges it on the host, as for haforge's RabbitMQ.
      { owner: "rabbitmq", group: "rabbitmq", validate: RABBITMQ_CONF_VALIDATE },
    ),
  ];
}

/** A Galera member's galera.cnf (ocf:heartbeat:galera starts it) and the clustercheck script. */
function galeraFiles(cluster: PacemakerClusterPlan, names: readonly string[], host: string, addr: string): FileSpec[] {
  return [
    managedFile(
      host,
      GALERA_CNF,
      [
        `# Managed by haforge: Galera member ${host} of Pacemaker cluster ${cluster.name} (ocf:heartbeat:galera starts it).`,
        "[galera]",
        "wsrep_on = ON",
        `wsrep_provider = ${GALERA_PROVIDER}`,
        `wsrep_cluster_name = ${cluster.name}`,
        `wsrep_cluster_address = gcomm://${names.join(",")}`,
        `wsrep_node_address = ${addr}`,
        `wsrep_node_name = ${host}`,
        "wsrep_sst_method = rsync",
        "binlog_format = ROW",
        "default_storage_engine = InnoDB",
        "innodb_autoinc_lock_mode = 2",
        `bind-address = ${addr}`,
        "",
      ].join("\n"),
    ),
    managedFile(host, CLUSTERCHECK_SCRIPT, clustercheckScript(), {
      mode: "0755",
      validate: "sh -n {file}",
      notify: [CLUSTERCHECK_SERVICE],
    }),
  ];
}
