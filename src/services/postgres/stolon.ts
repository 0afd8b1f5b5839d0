/**
 * stolon: keepers (one PostgreSQL each) on the nodes, sentinels, proxies, the initial cluster
 * spec and the `stolonctl init` that writes it to the store. stolon is not packaged by Debian;
 * the binaries are expected in /usr/local/bin (release tarball). Flags are the documented ones:
 * https://github.com/sorintlab/stolon/tree/master/doc/commands (checked by the unit tests against
 * the sets below). Cluster spec: https://github.com/sorintlab/stolon/blob/master/doc/cluster_spec.md
 */
import { shellWord } from "../../core/escape";
import type { ClusterAction, FileSpec, ServiceSpec } from "../../core/desired-state";
import { resolveSecret } from "../../core/secrets";
import type { PostgresPlan } from "../../plan/types";
import { daemon } from "../../render/daemon";
import type { RenderContext } from "../types";
import { PG_REPLICATION_USER, PG_SUPERUSER, POSTGRES_HOME, binDir } from "./patroni";

export const STOLON_BIN = "/usr/local/bin";
export const stolonEtcDir = (pg: PostgresPlan): string => `/etc/stolon/${pg.clusterName}`;
export const STOLON_SPEC_FILE = "/etc/stolon/cluster-spec.json";
export const stolonDataDir = (pg: PostgresPlan): string => `${POSTGRES_HOME}/stolon/${pg.clusterName}`;
/** Metrics endpoints on loopback: the sentinel's is its health check. */
export const STOLON_METRICS = { keeper: 8091, sentinel: 8092, proxy: 8093 } as const;

/**
 * The flags each binary defines, read from stolon's source (github.com/sorintlab/stolon at
 * bcea7a7, master): cmd/common.go AddCommonFlags (every binary; `log-color` not for stolonctl,
 * `kubeconfig`/`kube-context`/`kube-namespace` only for it), cmd/keeper/cmd/keeper.go,
 * cmd/sentinel/cmd/sentinel.go, cmd/proxy/cmd/proxy.go. There is no store username/password
 * flag: consul and etcd credentials go through TLS client certificates.
 */
const COMMON_FLAGS = [
  "cluster-name",
  "kube-resource-kind",
  "log-level",
  "metrics-listen-address",
  "store-backend",
  "store-ca-file",
  "store-cert-file",
  "store-endpoints",
  "store-key",
  "store-prefix",
  "store-skip-tls-verify",
  "store-timeout",
];
export const STOLON_FLAGS: Readonly<Record<"stolon-keeper" | "stolon-sentinel" | "stolon-proxy" | "stolonctl", ReadonlySet<string>>> = {
  "stolon-keeper": new Set([
    ...COMMON_FLAGS,
    "log-color",
    "debug",
    "id",
    "uid",
    "data-dir",
    "pg-listen-address",
    "pg-advertise-address",
    "pg-port",
    "pg-advertise-port",
    "pg-bin-path",
    "pg-repl-auth-method",
    "pg-repl-username",
    "pg-repl-password",
    "pg-repl-passwordfile",
    "pg-su-auth-method",
    "pg-su-username",
    "pg-su-password",
    "pg-su-passwordfile",
    "can-be-master",
    "can-be-synchronous-replica",
    "disable-data-dir-locking",
  ]),
  "stolon-sentinel": new Set([...COMMON_FLAGS, "log-color", "debug", "initial-cluster-spec"]),
  "stolon-proxy": new Set([
    ...COMMON_FLAGS,
    "log-color",
    "debug",
    "listen-address",
    "port",
    "stop-listening",
    "tcp-keepalive-count",
    "tcp-keepalive-idle",
    "tcp-keepalive-interval",
  ]),
  stolonctl: new Set([...COMMON_FLAGS, "kube-context", "kube-namespace", "kubeconfig"]),
};

/** Top-level ClusterSpec keys (cmd/stolonctl/cmd/spec.go ClusterSpecNoDefaults). */
export const STOLON_SPEC_KEYS: ReadonlySet<string> = new Set([
  "sleepInterval",
  "requestTimeout",
  "convergenceTimeout",
  "initTimeout",
  "syncTimeout",
  "dbWaitReadyTimeout",
  "failInterval",
  "deadKeeperRemovalInterval",
  "proxyCheckInterval",
  "proxyTimeout",
  "maxStandbys",
  "maxStandbysPerSender",
  "maxStandbyLag",
  "synchronousReplication",
  "minSynchronousStandbys",
  "maxSynchronousStandbys",
  "additionalWalSenders",
  "additionalMasterReplicationSlots",
  "usePgrewind",
  "initMode",
  "mergePgParameters",
  "role",
  "newConfig",
  "pitrConfig",
  "existingConfig",
  "standbyConfig",
  "defaultSUReplAccessMode",
  "pgParameters",
  "pgHBA",
  "automaticPgRestart",
]);

/**
 * Keys of plan.postgres.spec that stolon does not know. stolon's JSON decoding silently ignores
 * them, so the plan step should warn (exported for it).
 */
export function unknownStolonSpecKeys(spec: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(spec)
    .filter((k) => !STOLON_SPEC_KEYS.has(k))
    .sort();
}

/**
 * The initial cluster spec: a new cluster (initdb on one keeper, the others clone it), pg_rewind
 * for fast resync after a failover, UTF8 + data checksums like the Patroni path; then the
 * inventory's `spec` on top (top-level keys replace ours).
 */
export function stolonClusterSpec(pg: PostgresPlan): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    initMode: "new",
    usePgrewind: true,
    newConfig: { encoding: "UTF8", dataChecksums: true },
    ...pg.spec,
  };
  // pgParameters is a map[string]string in stolon: a YAML number (`max_connections: 200`) would
  // make stolonctl fail to unmarshal the whole spec, so scalar values are written as strings.
  const params = spec["pgParameters"];
  if (params && typeof params === "object" && !Array.isArray(params)) {
    spec["pgParameters"] = Object.fromEntries(
      Object.entries(params as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === "number" || typeof v === "boolean" ? String(v) : v,
      ]),
    );
  }
  return Object.fromEntries(Object.entries(spec).sort(([a], [b]) => a.localeCompare(b)));
}

/** Store backend name as stolon spells it. etcd → etcdv3: stolon's v3 client speaks gRPC, which
 * Debian's etcd 3.4 serves (only the JSON gateway is missing). */
export function stolonStoreBackend(pg: PostgresPlan): string {
  return pg.store.backend === "etcd" ? "etcdv3" : pg.store.backend;
}

const q = shellWord;

export function flags(f: Readonly<Record<string, string>>): string {
  return Object.entries(f)
    .map(([k, v]) => `--${k}=${q(v)}`)
    .join(" ");
}

/**
 * The store flags every stolon binary gets. consul: the one endpoint planStore chose (the local
 * agent): libkv's consul store refuses more than one ("consul does not support multiple
 * endpoints", github.com/docker/libkv store/consul, which stolon's internal/store uses).
 */
function storeFlags(pg: PostgresPlan): Record<string, string> {
  return {
    "cluster-name": pg.clusterName,
    "store-backend": stolonStoreBackend(pg),
    ...(pg.store.backend === "kubernetes" ? { "kube-resource-kind": "configmap" } : { "store-endpoints": pg.store.endpoints.join(",") }),
  };
}

/** Keeper uids: lower-case letters, digits and `_` only (stolon-keeper --help), unique. */
export function keeperUids(nodes: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const n of nodes) {
    const base = n.toLowerCase().replace(/[^a-z0-9_]/g, "_");
    let uid = base;
    for (let i = 2; used.has(uid); i++) uid = `${base}_${i}`;
    used.add(uid);
    out.set(n, uid);
  }
  return out;
}

export function stolonctl(pg: PostgresPlan, sub: string): string {
  return `${STOLON_BIN}/stolonctl ${flags(storeFlags(pg))} ${sub}`;
}

/** What renderStolon writes: the files, the daemons and the cluster actions of one cluster. */
type StolonParts = { files: FileSpec[]; services: ServiceSpec[]; actions: ClusterAction[] };

/** Each data node's keeper: its two password files and its daemon. */
function stolonKeepers(ctx: RenderContext, pg: PostgresPlan, out: StolonParts): void {
  const { files, services } = out;
  const hosts = new Map(ctx.plan.hosts.map((h) => [h.name, h]));
  const etc = stolonEtcDir(pg);
  const suFile = `${etc}/pg-su-password`;
  const replFile = `${etc}/pg-repl-password`;
  const uids = keeperUids(pg.nodes);
  const store = storeFlags(pg);
  const pgIsReady = `${binDir(pg.version)}/pg_isready -q -t 5`;

  const secretFile = (host: string, path: string, value: string): FileSpec => ({
    host,
    path,
    // No trailing newline: the file IS the password.
    content: value,
    mode: "0600",
    owner: "postgres",
    group: "postgres",
    secret: true,
    notify: ["stolon-keeper"],
  });

  for (const name of pg.nodes) {
    const host = hosts.get(name);
    if (!host) continue;
    files.push(
      secretFile(name, suFile, resolveSecret(pg.superuserPassword, ctx.secrets)),
      secretFile(name, replFile, resolveSecret(pg.replicationPassword, ctx.secrets)),
    );
    const d = daemon({
      host: name,
      init: host.init,
      name: "stolon-keeper",
      description: `stolon keeper ${uids.get(name)} of ${pg.clusterName} (haforge)`,
      command: `${STOLON_BIN}/stolon-keeper ${flags({
        ...store,
        // The uid is the keeper's identity in the cluster data: stable, derived from the host.
        uid: uids.get(name)!,
        "data-dir": stolonDataDir(pg),
        "pg-listen-address": host.internalAddress,
        "pg-port": String(pg.port),
        "pg-bin-path": binDir(pg.version),
        "pg-su-username": PG_SUPERUSER,
        "pg-su-passwordfile": suFile,
        "pg-repl-username": PG_REPLICATION_USER,
        "pg-repl-passwordfile": replFile,
        "metrics-listen-address": `127.0.0.1:${STOLON_METRICS.keeper}`,
      })}`,
      user: "postgres",
      group: "postgres",
      workingDirectory: POSTGRES_HOME,
      environment: { HOME: POSTGRES_HOME },
      health: `${pgIsReady} -h ${host.internalAddress} -p ${pg.port}`,
      // The plan's rolling group over the data nodes (src/services/postgres/plan.ts).
      rollGroup: `stolon:${pg.clusterName}`,
      startsecs: 5,
      stopwaitsecs: 120,
    });
    files.push(d.file);
    services.push(d.service);
  }
}

/** The sentinels' daemons. */
function stolonSentinels(ctx: RenderContext, pg: PostgresPlan, out: StolonParts): void {
  const { files, services } = out;
  const hosts = new Map(ctx.plan.hosts.map((h) => [h.name, h]));
  const store = storeFlags(pg);
  for (const name of pg.sentinels) {
    const host = hosts.get(name);
    if (!host) continue;
    const d = daemon({
      host: name,
      init: host.init,
      name: "stolon-sentinel",
      description: `stolon sentinel of ${pg.clusterName} (haforge)`,
      command: `${STOLON_BIN}/stolon-sentinel ${flags({ ...store, "metrics-listen-address": `127.0.0.1:${STOLON_METRICS.sentinel}` })}`,
      user: "postgres",
      group: "postgres",
      environment: { HOME: POSTGRES_HOME },
      health: `curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:${STOLON_METRICS.sentinel}/metrics`,
      // No rolling group in the plan for sentinels/proxies yet (stateless; see the report).
    });
    files.push(d.file);
    services.push(d.service);
  }
}

/** The proxies' daemons. */
function stolonProxies(ctx: RenderContext, pg: PostgresPlan, out: StolonParts): void {
  const { files, services } = out;
  const hosts = new Map(ctx.plan.hosts.map((h) => [h.name, h]));
  const store = storeFlags(pg);
  const pgIsReady = `${binDir(pg.version)}/pg_isready -q -t 5`;
  for (const name of pg.proxies) {
    const host = hosts.get(name);
    if (!host) continue;
    const d = daemon({
      host: name,
      init: host.init,
      name: "stolon-proxy",
      description: `stolon proxy of ${pg.clusterName} (haforge)`,
      command: `${STOLON_BIN}/stolon-proxy ${flags({
        ...store,
        // All addresses: local clients use 127.0.0.1, HAProxy/VIP clients the internal address.
        // The proxy only forwards to the current master; pg_hba on the keepers still applies.
        "listen-address": "0.0.0.0",
        port: String(pg.proxyPort),
        "metrics-listen-address": `127.0.0.1:${STOLON_METRICS.proxy}`,
      })}`,
      user: "postgres",
      group: "postgres",
      environment: { HOME: POSTGRES_HOME },
      // The proxy refuses connections while there is no elected master: a real gate.
      health: `${pgIsReady} -h 127.0.0.1 -p ${pg.proxyPort}`,
    });
    files.push(d.file);
    services.push(d.service);
  }
}

/** The cluster spec on the first data node, the init that runs once and the update on a spec change. */
function stolonSpecActions(pg: PostgresPlan, first: string, out: StolonParts): void {
  const { files, actions } = out;

  files.push({
    host: first,
    path: STOLON_SPEC_FILE,
    content: `${JSON.stringify(stolonClusterSpec(pg), null, 2)}\n`,
    mode: "0644",
    owner: "root",
    group: "root",
    secret: false,
    // JSON.stringify output: valid by construction (no validator, which would only add a
    // dependency on the host); unknown keys are for the plan step (unknownStolonSpecKeys).
    notify: [],
  });
  const initId = `postgres-stolon-init-${pg.clusterName}`;
  // `stolonctl init --yes` on an initialised cluster WIPES its cluster data (init.go: "The
  // current cluster data will be removed"). So: init only when the store answers "nil cluster
  // data"; skip when cluster data exists; fail on anything else (store down, auth) rather than
  // guess. Not triggered by spec changes — those go through `update` below.
  actions.push({
    id: initId,
    host: first,
    phase: "bootstrap",
    description: `initialise stolon cluster ${pg.clusterName} from ${STOLON_SPEC_FILE} (once)`,
    create: [
      `out=$(${stolonctl(pg, "clusterdata read")} 2>&1) && { echo "stolon cluster ${pg.clusterName} already initialised: not re-initialising"; exit 0; }`,
      `case "$out" in *"nil cluster data"*) ;; *) printf '%s\\n' "$out" >&2; exit 1;; esac`,
      `${stolonctl(pg, `init --yes -f ${STOLON_SPEC_FILE}`)}`,
    ].join("\n"),
    dependsOn: [],
    triggers: [],
    secret: false,
  });
  actions.push({
    id: `postgres-stolon-spec-${pg.clusterName}`,
    host: first,
    phase: "converge",
    description: `replace the cluster spec of ${pg.clusterName} with ${STOLON_SPEC_FILE}`,
    // Full replace (not --patch): a key removed from the inventory goes back to its default.
    create: stolonctl(pg, `update -f ${STOLON_SPEC_FILE}`),
    dependsOn: [initId],
    triggers: [STOLON_SPEC_FILE],
    secret: false,
  });
}

export function renderStolon(ctx: RenderContext, pg: PostgresPlan): StolonParts {
  const out: StolonParts = { files: [], services: [], actions: [] };
  stolonKeepers(ctx, pg, out);
  stolonSentinels(ctx, pg, out);
  stolonProxies(ctx, pg, out);
  const first = pg.nodes.find((n) => ctx.plan.hosts.some((h) => h.name === n));
  if (first) stolonSpecActions(pg, first, out);
  return out;
}
