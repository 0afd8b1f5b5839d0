/**
 * The daemons Pacemaker runs, per host. A unit Pacemaker starts, stops and monitors must not also
 * be enabled, started or restarted by haforge (two managers fight over one process: Pacemaker sees
 * it die and recovers it, or systemd starts it on a node Pacemaker placed it away from). haforge
 * still writes such a daemon's configuration, and applies a change with the daemon's graceful
 * reload only where it runs.
 *
 * What counts as "Pacemaker runs unit U on host H": H is a node (or pacemaker_remote node) of a
 * cluster whose CIB has a `systemd:U` primitive, an OCF agent that starts U's daemon
 * (`ocf:heartbeat:rabbitmq-cluster` → rabbitmq-server, `ocf:heartbeat:galera` → mariadb,
 * `ocf:heartbeat:redis` → redis-server, `ocf:heartbeat:anything` running /usr/sbin/haproxy), or,
 * in the lightweight layout, a managed service (haproxy, rabbitmq, galera, redis, cinder-volume).
 */
import { error, type Finding } from "../../core/findings";
import type { Inventory, PacemakerCluster } from "../../inventory/schema";

/** A cluster node entry: `host` or `{ host, ... }`. */
const nodeName = (n: string | { readonly host: string }): string => (typeof n === "string" ? n : n.host);

/** OCF agents that start a packaged daemon, by the daemon's systemd unit. */
export const OCF_DAEMON_UNITS: Readonly<Record<string, string>> = {
  "ocf:heartbeat:rabbitmq-cluster": "rabbitmq-server",
  "ocf:heartbeat:rabbitmq-server-ha": "rabbitmq-server",
  "ocf:heartbeat:galera": "mariadb",
  "ocf:heartbeat:redis": "redis-server",
};

/** The lightweight layout's managed services, by unit (lightweight.ts builds their resources). */
export const LIGHTWEIGHT_UNITS: Readonly<Record<string, string>> = {
  haproxy: "haproxy",
  rabbitmq: "rabbitmq-server",
  galera: "mariadb",
  redis: "redis-server",
  "cinder-volume": "openstack-cinder-volume",
};

/** The units one cluster's resources run (on each of its nodes and remote nodes). */
export function clusterUnits(spec: PacemakerCluster, layout: string): Map<string, { resource: string; pidfile?: string }> {
  const out = new Map<string, { resource: string; pidfile?: string }>();
  for (const p of spec.primitives) {
    if (p.agent.startsWith("systemd:")) out.set(p.agent.slice("systemd:".length).replace(/\.service$/, ""), { resource: p.id });
    else if (OCF_DAEMON_UNITS[p.agent]) out.set(OCF_DAEMON_UNITS[p.agent]!, { resource: p.id });
    else if (p.agent === "ocf:heartbeat:anything" && /(^|\/)haproxy$/.test(String(p.params?.["binfile"] ?? "")))
      out.set("haproxy", { resource: p.id, ...(p.params?.["pidfile"] !== undefined ? { pidfile: String(p.params["pidfile"]) } : {}) });
  }
  const lw = spec.lightweight ?? (layout === "lightweight" ? { managed: Object.keys(LIGHTWEIGHT_UNITS) } : undefined);
  // lightweight.ts: `ocf:heartbeat:anything` with /run/haforge-<id>.pid where there is no systemd.
  for (const m of lw?.managed ?? [])
    if (LIGHTWEIGHT_UNITS[m]) out.set(LIGHTWEIGHT_UNITS[m], { resource: `${m} (lightweight)`, pidfile: `/run/haforge-${m}.pid` });
  return out;
}

export interface OwnedUnit {
  readonly cluster: string;
  /** The CIB resource that runs it. */
  readonly resource: string;
  /** `ocf:heartbeat:anything`: the pid file the agent keeps. */
  readonly pidfile?: string;
}

/** host → unit → the cluster/resource running it. */
export function pacemakerRunUnits(inventory: Inventory): Map<string, Map<string, OwnedUnit>> {
  const out = new Map<string, Map<string, OwnedUnit>>();
  const layout = inventory.pacemaker?.layout ?? "per-service";
  for (const c of inventory.pacemaker?.clusters ?? []) {
    const units = clusterUnits(c, layout);
    for (const host of [...c.nodes.map(nodeName), ...c.remoteNodes]) {
      const m = out.get(host) ?? new Map<string, OwnedUnit>();
      for (const [unit, r] of units) m.set(unit, { cluster: c.name, ...r });
      out.set(host, m);
    }
  }
  return out;
}

/** True when Pacemaker runs `unit` on `host`. */
export function runByPacemaker(
  owned: ReadonlyMap<string, ReadonlyMap<string, OwnedUnit>>,
  host: string,
  unit: string,
): OwnedUnit | undefined {
  return owned.get(host)?.get(unit);
}

/**
 * Findings: an inventory that asks haforge to run (enable, start, restart) a unit on a host where
 * Pacemaker runs it too. HAProxy is not one: haforge only writes its config and reloads it there.
 */
export interface HaforgeRun {
  readonly host: string;
  readonly unit: string;
  readonly path: string;
  readonly what: string;
}

/** Every (host, unit) the inventory asks haforge itself to run, with the inventory path asking. */
export function haforgeRuns(inventory: Inventory, rabbitmqHosts: readonly string[], storeMembers: readonly string[]): HaforgeRun[] {
  const out: HaforgeRun[] = [];
  for (const h of rabbitmqHosts) out.push({ host: h, unit: "rabbitmq-server", path: "rabbitmq", what: "the RabbitMQ cluster" });
  const store = inventory.quorumStore;
  if (store)
    for (const h of storeMembers) out.push({ host: h, unit: store.kind, path: "quorumStore", what: `the ${store.kind} quorum store` });
  (inventory.keepalived?.instances ?? []).forEach((k, i) =>
    k.hosts.forEach((h, j) =>
      out.push({
        host: typeof h === "string" ? h : h.host,
        unit: "keepalived",
        path: `keepalived.instances[${i}].hosts[${j}]`,
        what: `keepalived instance '${k.name}'`,
      }),
    ),
  );
  const pg = inventory.postgres;
  if (pg?.engine === "patroni")
    pg.nodes.forEach((h, i) => out.push({ host: h, unit: "patroni", path: `postgres.nodes[${i}]`, what: "Patroni" }));
  inventory.activePassive.forEach((a, i) =>
    a.hosts.forEach((h, j) =>
      out.push({ host: h, unit: a.service, path: `activePassive[${i}].hosts[${j}]`, what: `active/passive app '${a.name}'` }),
    ),
  );
  (inventory.pacemaker?.clusters ?? []).forEach((c, i) =>
    (c.lightweight?.systemdServices ?? []).forEach((svc, j) => {
      for (const n of c.nodes)
        out.push({
          host: nodeName(n),
          unit: svc.replace(/\.service$/, ""),
          path: `pacemaker.clusters[${i}].lightweight.systemdServices[${j}]`,
          what: "`systemdServices` (left to systemd with Restart=always)",
        });
    }),
  );
  return out;
}

export function doublyRunFindings(inventory: Inventory, runs: readonly HaforgeRun[]): Finding[] {
  const owned = pacemakerRunUnits(inventory);
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const r of runs) {
    const o = runByPacemaker(owned, r.host, r.unit);
    // One finding per inventory path and unit (the first host that clashes is named).
    const key = `${r.unit}/${r.path}`;
    if (!o || seen.has(key)) continue;
    seen.add(key);
    findings.push(
      error(
        "pacemaker.unit-run-twice",
        r.path,
        `${r.what} asks haforge to run '${r.unit}' on host '${r.host}', where Pacemaker cluster '${o.cluster}' runs it (resource '${o.resource}')`,
        "One manager per daemon: remove the host from the haforge service, or the resource from the Pacemaker cluster.",
      ),
    );
  }
  return findings;
}
