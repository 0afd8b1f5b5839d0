/**
 * Patroni member config (one per postgres node) and its service. Data is computed here; the
 * template (templates/postgres/patroni.yml.hbs) only formats it.
 * Reference: https://patroni.readthedocs.io/en/latest/yaml_configuration.html
 */
import type { ClusterAction, FileSpec, ServiceSpec } from "../../core/desired-state";
import { resolveSecret } from "../../core/secrets";
import type { ClusterPlan, PlannedHost, PostgresPlan } from "../../plan/types";
import { packagedDaemon } from "../../render/daemon";
import { staticFile } from "../../render/templates";
import { shellWord } from "../../core/escape";
import type { RenderContext } from "../types";
import { plannedHost } from "../../plan/lookup";
import { joinHostPort } from "../../plan/network";

export const PATRONI_CONFIG = "/etc/patroni/config.yml";
export const PATRONI_REST_PORT = 8008;
export const PG_SUPERUSER = "postgres";
export const PG_REPLICATION_USER = "replicator";
/** Home of Debian's postgres user: supervisor does not set HOME for `user=`, so we do. */
export const POSTGRES_HOME = "/var/lib/postgresql";

export const binDir = (version: number): string => `/usr/lib/postgresql/${version}/bin`;
/** Versioned, and distinct from Debian's own `<version>/main` cluster (pg_createcluster). */
export const patroniDataDir = (pg: PostgresPlan): string => `${POSTGRES_HOME}/${pg.version}/patroni-${pg.clusterName}`;

/**
 * Parameters Patroni only takes from the DCS (they must be equal on every member), so they belong
 * in bootstrap.dcs and are changed later with `patronictl edit-config`
 * (https://patroni.readthedocs.io/en/latest/patroni_configuration.html).
 */
const DCS_ONLY = new Set([
  "max_connections",
  "max_locks_per_transaction",
  "max_worker_processes",
  "max_prepared_transactions",
  "wal_level",
  "track_commit_timestamp",
  "max_wal_senders",
  "max_replication_slots",
  "wal_keep_segments",
  "wal_keep_size",
  "wal_log_hints",
  "hot_standby",
]);

/** haforge's defaults: what streaming replication with slots and pg_rewind need. */
const DEFAULT_PARAMETERS: Readonly<Record<string, string | number>> = {
  wal_level: "replica",
  hot_standby: "on",
  wal_log_hints: "on", // pg_rewind needs it (or data checksums, which initdb also enables)
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_keep_size: "128MB",
  password_encryption: "scram-sha-256",
};

/** User parameters: plan.postgres.spec.pgParameters (the key stolon's cluster spec uses too). */
export function userParameters(pg: PostgresPlan): Record<string, string | number | boolean> {
  const raw = pg.spec["pgParameters"];
  const out: Record<string, string | number | boolean> = {};
  if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v;
    }
  }
  return out;
}

/**
 * loop_wait + 2 × retry_timeout must not exceed ttl, or a leader can lose its key while merely
 * retrying the store (Patroni docs, "Dynamic configuration"). 30 → 10/10, 20 → 6/7.
 */
export function dcsTimings(ttl: number): { ttl: number; loopWait: number; retryTimeout: number } {
  const loopWait = Math.max(1, Math.min(10, Math.floor(ttl / 3)));
  const retryTimeout = Math.max(1, Math.floor((ttl - loopWait) / 2));
  return { ttl, loopWait, retryTimeout };
}

const cidr = (address: string): string => (address.includes(":") ? `${address}/128` : `${address}/32`);
/** `http://10.0.0.1:2379` → `10.0.0.1:2379` (Patroni's etcd `hosts` take host:port). */
export const stripScheme = (endpoint: string): string => endpoint.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/\/+$/, "");

/**
 * pg_hba: replication from the members only; ordinary logins from the cluster's own hosts
 * (HAProxy, the app hosts) and loopback; everything with scram-sha-256 passwords.
 */
export function pgHba(plan: ClusterPlan, pg: PostgresPlan): string[] {
  const addr = (h: string) => plannedHost(plan, h)?.internalAddress ?? h;
  const lines = [
    "local all postgres peer",
    "local all all scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
    "host all all ::1/128 scram-sha-256",
  ];
  for (const n of pg.nodes) lines.push(`host replication ${PG_REPLICATION_USER} ${cidr(addr(n))} scram-sha-256`);
  const seen = new Set<string>();
  for (const h of plan.hosts) {
    const c = cidr(h.internalAddress);
    if (!seen.has(c)) {
      seen.add(c);
      lines.push(`host all all ${c} scram-sha-256`);
    }
  }
  return lines;
}

/** The DCS section: which Patroni backend, and where. */
function dcsSection(plan: ClusterPlan, pg: PostgresPlan, _host: string): Record<string, unknown> {
  const endpoints = pg.store.endpoints;
  if (pg.store.backend === "etcd") {
    // `etcd:` is Patroni's v2 client. Debian's etcd 3.4 lacks the v3 JSON gateway that Patroni's
    // `etcd3:` client needs (docs/lab.md), so v2 is used whenever the store serves v2; a store with
    // v2 switched off can only be reached through `etcd3:` (etcd >= 3.5 with its gateway).
    const v2 = plan.quorumStore?.kind !== "etcd" || plan.quorumStore.enableV2;
    const protocol = endpoints.some((e) => e.startsWith("https://")) ? "https" : "http";
    return { etcd: { section: v2 ? "etcd" : "etcd3", protocol, hosts: endpoints.map(stripScheme) } };
  }
  if (pg.store.backend === "consul") {
    // Patroni talks to one agent: the one on its own host (a consul server member, or the client
    // agent the quorum store renders for every other consumer; postgres/plan.ts planStore).
    const port = plan.quorumStore?.clientPort ?? 8500;
    return { consul: { host: stripScheme(endpoints[0] ?? `127.0.0.1:${port}`) } };
  }
  return { kubernetes: true };
}

/** What bootstrap.dcs and dynamic.yml hold besides the parameters (Patroni's dynamic configuration). */
function dcsData(pg: PostgresPlan): Record<string, unknown> {
  return {
    ...dcsTimings(pg.ttl),
    maximumLagOnFailover: 1048576,
    synchronousMode: pg.synchronousMode,
    synchronousModeStrict: pg.synchronousModeStrict,
  };
}

/** The DCS copy of the parameters: haforge's defaults, then the user's (plan.postgres.spec.pgParameters). */
function dcsParametersOf(pg: PostgresPlan): Record<string, string | number | boolean> {
  const all: Record<string, string | number | boolean> = { ...DEFAULT_PARAMETERS, ...userParameters(pg) };
  return Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b)));
}

export function patroniConfigData(ctx: RenderContext, pg: PostgresPlan, host: PlannedHost): Record<string, unknown> {
  // bootstrap.dcs gets everything (the initial cluster-wide copy); the local section gets what
  // Patroni lets a member override, so a later change there converges with a reload.
  const dcsParameters = dcsParametersOf(pg);
  const localParameters = Object.fromEntries(
    [
      ["unix_socket_directories", "/var/run/postgresql"] as [string, string | number | boolean],
      ...Object.entries(dcsParameters).filter(([k]) => !DCS_ONLY.has(k)),
    ].sort(([a], [b]) => String(a).localeCompare(String(b))),
  );
  const su = resolveSecret(pg.superuserPassword, ctx.secrets);
  const repl = resolveSecret(pg.replicationPassword, ctx.secrets);
  return {
    scope: pg.clusterName,
    namespace: "/service/",
    name: host.name,
    restapi: {
      listen: joinHostPort(host.internalAddress, PATRONI_REST_PORT),
      connectAddress: joinHostPort(host.internalAddress, PATRONI_REST_PORT),
    },
    ...dcsSection(ctx.plan, pg, host.name),
    dcs: dcsData(pg),
    dcsParameters,
    pgHba: pgHba(ctx.plan, pg),
    postgresql: {
      // docs/lab.md: exactly "IP,127.0.0.1:PORT".
      listen: `${host.internalAddress},127.0.0.1:${pg.port}`,
      connectAddress: joinHostPort(host.internalAddress, pg.port),
      dataDir: patroniDataDir(pg),
      binDir: binDir(pg.version),
      pgpass: `${POSTGRES_HOME}/.pgpass.patroni-${pg.clusterName}`,
    },
    auth: {
      superuser: { username: PG_SUPERUSER, password: su },
      replication: { username: PG_REPLICATION_USER, password: repl },
      // pg_rewind as the superuser: no third credential to manage.
      rewind: { username: PG_SUPERUSER, password: su },
    },
    localParameters,
  };
}

/**
 * Patroni 3.0.2 creates its roles with `DO $$ ... PASSWORD '<password>' ... $$`
 * (postgresql/bootstrap.py create_or_update_role): a password containing `$$` ends the
 * dollar-quoted block and bootstrap fails with a syntax error (seen in tests/system/patroni.test.ts).
 * Secret values only exist once resolved, so whoever resolves them (CLI, Pulumi layer) should
 * call this and report the problem; render itself cannot.
 */
export function patroniPasswordIssue(value: string): string | undefined {
  if (value.includes("$$")) return "contains `$$`, which breaks Patroni's role creation at bootstrap (DO $$ ... $$ block)";
  if (value.length === 0) return "is empty: Patroni would create the role without a password";
  return undefined;
}

/**
 * `patroni --validate-config` also probes the network: it fails with "Port N is already in use"
 * when something listens on postgresql.listen / restapi.listen — which on a running member is
 * Patroni itself. Those lines (and only those) are tolerated, so updating a live member's config
 * is possible; any other complaint fails the check. It also requires the store's hosts to be
 * reachable, so a config change is refused while the store is down.
 */
export const PATRONI_VALIDATE =
  `out=$(patroni --validate-config {file} 2>&1) && exit 0; ` +
  `rest=$(printf '%s\\n' "$out" | grep -v 'is already in use' | grep -v '^[[:space:]]*$'); ` +
  `if [ -n "$rest" ]; then printf '%s\\n' "$out" >&2; exit 1; fi; exit 0`;

/** haforge's copy of the dynamic configuration, on every member (the action applies the first node's). */
export const PATRONI_DYNAMIC_CONFIG = "/etc/patroni/dynamic.yml";

/**
 * dynamic.yml's check, by Patroni's own table of dynamic settings and their defaults
 * (patroni.config.Config's default configuration), in the interpreter Patroni runs with: every key
 * is one Patroni keeps in its store, of the type of its default (`synchronous_mode: "yes"` is
 * refused), and postgresql holds only what the store's copy may.
 */
export const PATRONI_DYNAMIC_VALIDATE =
  "/usr/bin/python3 -c '" +
  [
    "import sys, yaml",
    "from patroni.config import Config",
    "d = yaml.safe_load(open(sys.argv[1]))",
    "ref = Config._Config__DEFAULT_CONFIG",
    "bad = [k for k in d if k not in ref]",
    'bad += [k for k in d if k in ref and k != "postgresql" and type(d[k]) is not type(ref[k])]',
    'bad += [k for k in d.get("postgresql", {}) if k not in ("use_slots", "use_pg_rewind", "parameters")]',
    'if bad: sys.exit("not Patroni dynamic configuration (or of the wrong type): " + ", ".join(map(str, bad)))',
  ].join("\n") +
  "' {file}";

/**
 * The dynamic configuration (ttl and its timings, synchronous mode, the DCS parameters) applied to
 * the running cluster the way Patroni documents: Patroni reads bootstrap.dcs only when it creates
 * the cluster and keeps the live copy in the store, so a later change of the inventory reaches the
 * cluster only through `patronictl edit-config` (or the REST API's PATCH /config). `--apply`
 * merges the file into the store's copy (keys haforge does not set stay); an unchanged copy prints
 * "Not changed". The store's copy exists once the first leader bootstrapped: until then
 * patronictl fails, so it is asked again for up to 3 minutes.
 * https://patroni.readthedocs.io/en/latest/dynamic_configuration.html
 */
export function patroniDynamicConfigAction(pg: PostgresPlan): ClusterAction | undefined {
  const first = pg.nodes[0];
  if (!first) return undefined;
  const ctl = `patronictl -c ${PATRONI_CONFIG} edit-config --force --apply ${PATRONI_DYNAMIC_CONFIG}`;
  return {
    id: "patroni-dynamic-config",
    host: first,
    phase: "converge",
    description: `Patroni: apply ${PATRONI_DYNAMIC_CONFIG} to cluster ${pg.clusterName}'s dynamic configuration (patronictl edit-config)`,
    create:
      `i=0; while :; do out=$(${ctl} 2>&1) && { printf '%s\n' "$out"; exit 0; }; i=$((i+1)); ` +
      `[ "$i" -lt 90 ] || { printf '%s\n' "$out" >&2; exit 1; }; sleep 2; done`,
    dependsOn: [],
    triggers: [PATRONI_DYNAMIC_CONFIG],
    secret: false,
  };
}

/** Restarts the members with a pending restart, Patroni's way (templates/postgres/patroni-pending-restarts.py). */
export const PATRONI_PENDING_RESTARTS = "/usr/local/lib/haforge/patroni-pending-restarts.py";

/**
 * A setting that needs a restart (max_connections, shared_buffers, ...) reaches a running member by
 * a reload (patroni.yml) or through the store (dynamic.yml): PostgreSQL then runs with the old
 * value and Patroni flags the member "pending restart", and nothing restarts it. After every
 * change of either file (the first node's: the same settings as every member's), once the
 * members reloaded (the first node is the last of the Patroni roll) and the store's copy is
 * applied, this action restarts the pending members the way Patroni's documentation does:
 * replicas one at a time, then a switchover to a restarted replica (the synchronous standby in
 * synchronous mode), which restarts the old leader as a replica.
 */
export function patroniPendingRestartsAction(pg: PostgresPlan): ClusterAction | undefined {
  const first = pg.nodes[0];
  if (!first) return undefined;
  const settle = 2 * dcsTimings(pg.ttl).loopWait + 2;
  return {
    id: "patroni-pending-restarts",
    host: first,
    phase: "converge",
    description: `Patroni: restart cluster ${pg.clusterName}'s members with a pending restart (replicas, then a switchover)`,
    create: `/usr/bin/python3 ${PATRONI_PENDING_RESTARTS} ${PATRONI_CONFIG} ${shellWord(pg.clusterName)} ${settle}`,
    dependsOn: ["patroni-dynamic-config"],
    triggers: [PATRONI_CONFIG, PATRONI_DYNAMIC_CONFIG],
    secret: false,
  };
}

export function renderPatroni(ctx: RenderContext, pg: PostgresPlan): { files: FileSpec[]; services: ServiceSpec[] } {
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const quorumMembers = new Set(ctx.plan.quorumStore?.members.map((m) => m.host) ?? []);
  for (const name of pg.nodes) {
    const host = plannedHost(ctx.plan, name);
    if (!host) continue; // the plan step reports unknown hosts; render never throws
    files.push({
      host: name,
      path: PATRONI_CONFIG,
      content: ctx.template("postgres", "patroni.yml.hbs", patroniConfigData(ctx, pg, host)),
      mode: "0600",
      owner: "postgres",
      group: "postgres",
      secret: true,
      validate: PATRONI_VALIDATE,
      notify: ["patroni"],
    });
    files.push({
      host: name,
      path: PATRONI_DYNAMIC_CONFIG,
      content: ctx.template("postgres", "patroni-dynamic.yml.hbs", {
        scope: pg.clusterName,
        dcs: dcsData(pg),
        dcsParameters: dcsParametersOf(pg),
      }),
      mode: "0644",
      owner: "root",
      group: "root",
      secret: false,
      validate: PATRONI_DYNAMIC_VALIDATE,
      notify: [],
    });
    files.push({
      host: name,
      path: PATRONI_PENDING_RESTARTS,
      content: staticFile("postgres", "patroni-pending-restarts.py"),
      mode: "0755",
      owner: "root",
      group: "root",
      secret: false,
      validate: `/usr/bin/python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' {file}`,
      notify: [],
    });
    const health = `python3 -c "import urllib.request; urllib.request.urlopen('http://${joinHostPort(host.internalAddress, PATRONI_REST_PORT)}/health', timeout=5)"`;
    // systemd: Debian's patroni.service (the same /etc/patroni/config.yml, User=postgres,
    // KillMode=process so PostgreSQL is not killed with Patroni, HUP reload) plus, on a store
    // member, an ordering after the store.
    const afterStore = quorumMembers.has(name) && ctx.plan.quorumStore ? `${ctx.plan.quorumStore.kind}.service` : undefined;
    const d = packagedDaemon(
      {
        host: name,
        init: host.init,
        name: "patroni",
        description: `Patroni member ${name} of ${pg.clusterName} (haforge)`,
        command: `/usr/bin/patroni ${PATRONI_CONFIG}`,
        user: "postgres",
        group: "postgres",
        workingDirectory: POSTGRES_HOME,
        environment: { HOME: POSTGRES_HOME },
        // Patroni re-reads its config on SIGHUP (https://patroni.readthedocs.io/en/latest/faq.html).
        reloadSignal: "HUP",
        // /health answers 200 once PostgreSQL runs (primary or replica).
        health,
        rollGroup: `patroni:${pg.clusterName}`,
        ...(afterStore ? { after: [afterStore] } : {}),
        startsecs: 5,
        // A fast shutdown of PostgreSQL (checkpoint) may take a while: let Patroni finish it.
        stopwaitsecs: 120,
      },
      { reloadable: true, ...(afterStore ? { dropIn: `[Unit]\nAfter=${afterStore}\nWants=${afterStore}\n` } : {}) },
    );
    files.push(...d.files);
    services.push(d.service);
  }
  return { files, services };
}
