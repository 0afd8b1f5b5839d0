/**
 * The "lightweight" layout (TripleO's composable HA): Pacemaker keeps only the services that need
 * a cluster manager's ordering or promotion logic: the VIPs with HAProxy, RabbitMQ, Galera, Redis
 * and cinder-volume. Everything else is left to the init system with Restart=always (the systemd
 * drop-ins are rendered in render.ts).
 * https://docs.openstack.org/tripleo-docs/latest/install/advanced_deployment/high_availability.html
 *
 * Resource ids follow TripleO's (`haproxy-clone`, `rabbitmq-clone`, `galera-clone`,
 * `redis-clone`, `openstack-cinder-volume`); a VIP's resource id is its `name` (the id
 * src/services/pacemaker/vips.ts reports VIP conflicts with).
 */
import { LIGHTWEIGHT_MANAGED, type PacemakerCluster } from "../../inventory/schema";
import type { ClusterPlan, PacemakerClusterPlan } from "../../plan/types";
import type { CibColocation, CibLocation, CibOp, CibOrder, CibPrimitive, CibResource } from "./cib";
import { plannedHosts } from "../../plan/lookup";

export type LightweightSpec = NonNullable<PacemakerCluster["lightweight"]>;

/**
 * OpenStack projects whose services use oslo.db / oslo.messaging (their config lives in
 * /etc/<project>/<project>.conf, oslo.config also reads /etc/<project>/<project>.conf.d/*.conf).
 */
const OSLO_PROJECTS = new Set([
  "aodh",
  "barbican",
  "ceilometer",
  "cinder",
  "designate",
  "glance",
  "gnocchi",
  "heat",
  "ironic",
  "keystone",
  "magnum",
  "manila",
  "mistral",
  "neutron",
  "nova",
  "octavia",
  "panko",
  "placement",
  "sahara",
  "trove",
  "zaqar",
]);

/** The OpenStack project a systemd unit belongs to (`openstack-nova-api` → nova, `neutron-server` → neutron), if any. */
export function osloProject(unit: string): string | undefined {
  const first =
    unit
      .replace(/\.service$/, "")
      .replace(/^openstack-/, "")
      .split("-")[0] ?? "";
  return OSLO_PROJECTS.has(first) ? first : undefined;
}

/** The projects of a list of units, each with the units that read its config (first-seen order). */
export function osloProjects(units: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const u of units) {
    const p = osloProject(u);
    if (p !== undefined) out.set(p, [...(out.get(p) ?? []), u.replace(/\.service$/, "")]);
  }
  return out;
}

/** Where the retry settings go for a project (a file in oslo.config's default config dir). */
export const osloRetryPath = (project: string): string => `/etc/${project}/${project}.conf.d/50-haforge-ha-retry.conf`;

/** The cluster's lightweight section, or the defaults when only `pacemaker.layout` says lightweight. */
export function lightweightSpec(cluster: PacemakerClusterPlan, plan: ClusterPlan): LightweightSpec | undefined {
  if (cluster.spec.lightweight) return cluster.spec.lightweight;
  if (plan.pacemakerLayout !== "lightweight") return undefined;
  return { vips: [], managed: [...LIGHTWEIGHT_MANAGED], systemdServices: [] };
}

export interface LightweightPart {
  readonly resources: readonly CibResource[];
  readonly location: readonly CibLocation[];
  readonly colocation: readonly CibColocation[];
  readonly order: readonly CibOrder[];
}

const op = (name: string, interval: string, timeout: string, role?: string): CibOp =>
  role === undefined ? { name, interval, timeout } : { name, interval, timeout, role };

/**
 * A daemon Pacemaker starts itself. With systemd on every node the `systemd:` class is the
 * TripleO way; without systemd (supervisor hosts, the lab) that class cannot work (docs/lab.md), so
 * `ocf:heartbeat:anything` runs the foreground binary and tracks its pid instead.
 */
function daemonPrimitive(id: string, allSystemd: boolean, unit: string, binfile: string, options: string, timeouts: string): CibPrimitive {
  const ops = [op("start", "0s", timeouts), op("stop", "0s", timeouts), op("monitor", "10s", "20s")];
  return allSystemd
    ? { kind: "primitive", id, class: "systemd", type: unit, params: [], meta: [], ops }
    : {
        kind: "primitive",
        id,
        class: "ocf",
        provider: "heartbeat",
        type: "anything",
        params: [
          ["binfile", binfile],
          ["cmdline_options", options],
          ["pidfile", `/run/haforge-${id}.pid`],
        ],
        meta: [],
        ops,
      };
}

/** A lightweight VIP: an IPaddr2 primitive (with its prefix as cidr_netmask when given). */
function vipPrimitive(vip: LightweightSpec["vips"][number]): CibResource {
  const [ip, prefix] = vip.address.split("/");
  return {
    kind: "primitive",
    id: vip.name,
    class: "ocf",
    provider: "heartbeat",
    type: "IPaddr2",
    params:
      prefix !== undefined && prefix !== ""
        ? [
            ["ip", ip ?? vip.address],
            ["cidr_netmask", prefix],
          ]
        : [["ip", ip ?? vip.address]],
    meta: [],
    ops: [op("start", "0s", "20s"), op("stop", "0s", "20s"), op("monitor", "10s", "20s")],
  };
}

/** RabbitMQ as a clone of the rabbitmq-cluster agent, every non-amq queue mirrored on a majority of the nodes (TripleO's default policy). */
function rabbitmqClone(nodeNames: readonly string[]): CibResource {
  const majority = Math.floor(nodeNames.length / 2) + 1;
  return {
    kind: "clone",
    id: "rabbitmq-clone",
    promotable: false,
    meta: [
      ["notify", "true"],
      ["ordered", "true"],
      ["interleave", "true"],
    ],
    child: {
      kind: "primitive",
      id: "rabbitmq",
      class: "ocf",
      provider: "heartbeat",
      type: "rabbitmq-cluster",
      params: [["set_policy", `ha-all ^(?!amq\\.).* {"ha-mode":"exactly","ha-params":${majority},"ha-promote-on-shutdown":"always"}`]],
      meta: [],
      ops: [op("start", "0s", "200s"), op("stop", "0s", "200s"), op("monitor", "10s", "40s")],
    },
  };
}

/**
 * Galera as a promotable clone: every node is a promoted (writable) member; the agent bootstraps
 * from the node with the most recent seqno. Node names map to addresses so no DNS is needed for
 * gcomm://.
 */
function galeraClone(nodeNames: readonly string[], hosts: ReturnType<typeof plannedHosts>): CibResource {
  const hostMap = nodeNames.map((n) => `${n}:${hosts.get(n)?.internalAddress ?? n}`).join(";");
  return {
    kind: "clone",
    id: "galera-clone",
    promotable: true,
    meta: [
      ["promoted-max", String(nodeNames.length)],
      ["ordered", "true"],
      ["interleave", "true"],
    ],
    child: {
      kind: "primitive",
      id: "galera",
      class: "ocf",
      provider: "heartbeat",
      type: "galera",
      params: [
        ["wsrep_cluster_address", `gcomm://${nodeNames.join(",")}`],
        ["cluster_host_map", hostMap],
        ["enable_creation", "true"],
      ],
      meta: [],
      ops: [
        op("start", "0s", "120s"),
        op("stop", "0s", "120s"),
        op("promote", "0s", "300s"),
        op("demote", "0s", "120s"),
        op("monitor", "20s", "30s"),
        op("monitor", "10s", "30s", "Promoted"),
      ],
    },
  };
}

/** Redis as a promotable clone with one promoted instance. */
function redisClone(): CibResource {
  return {
    kind: "clone",
    id: "redis-clone",
    promotable: true,
    meta: [
      ["promoted-max", "1"],
      ["notify", "true"],
      ["ordered", "true"],
      ["interleave", "true"],
    ],
    child: {
      kind: "primitive",
      id: "redis",
      class: "ocf",
      provider: "heartbeat",
      type: "redis",
      params: [["wait_last_known_master", "true"]],
      meta: [],
      ops: [
        op("start", "0s", "200s"),
        op("stop", "0s", "200s"),
        op("promote", "0s", "120s"),
        op("demote", "0s", "120s"),
        // Distinct intervals per role: Pacemaker identifies a recurring op by name + interval.
        op("monitor", "60s", "60s", "Unpromoted"),
        op("monitor", "45s", "60s", "Promoted"),
      ],
    },
  };
}

export function lightweightResources(cluster: PacemakerClusterPlan, plan: ClusterPlan, lw: LightweightSpec): LightweightPart {
  const hosts = plannedHosts(plan);
  const nodeNames = cluster.nodes.map((n) => n.host);
  const allSystemd = nodeNames.every((n) => (hosts.get(n)?.init ?? "systemd") === "systemd");
  const managed = new Set(lw.managed);
  const resources: CibResource[] = [];
  const colocation: CibColocation[] = [];
  const order: CibOrder[] = [];

  for (const vip of lw.vips) resources.push(vipPrimitive(vip));

  if (managed.has("haproxy")) {
    resources.push({
      kind: "clone",
      id: "haproxy-clone",
      promotable: false,
      meta: [["interleave", "true"]],
      child: daemonPrimitive("haproxy", allSystemd, "haproxy", "/usr/sbin/haproxy", "-W -db -f /etc/haproxy/haproxy.cfg", "200s"),
    });
    // Each VIP lives where an HAProxy instance runs and comes up after it (TripleO pins the VIPs
    // to HAProxy the same way). HAProxy must therefore bind VIPs it does not hold yet:
    // net.ipv4.ip_nonlocal_bind=1 on the nodes.
    for (const vip of lw.vips) {
      colocation.push({ id: `colocation-${vip.name}-with-haproxy-clone`, rsc: vip.name, withRsc: "haproxy-clone", score: "INFINITY" });
      order.push({ id: `order-haproxy-clone-then-${vip.name}`, first: "haproxy-clone", then: vip.name, kind: "Mandatory" });
    }
  }

  if (managed.has("rabbitmq")) resources.push(rabbitmqClone(nodeNames));
  if (managed.has("galera")) resources.push(galeraClone(nodeNames, hosts));
  if (managed.has("redis")) resources.push(redisClone());

  if (managed.has("cinder-volume")) {
    // Active/passive: a single instance (cinder-volume is not safe to run twice on one backend).
    resources.push(
      daemonPrimitive(
        "openstack-cinder-volume",
        allSystemd,
        "openstack-cinder-volume",
        "/usr/bin/cinder-volume",
        "--config-file /etc/cinder/cinder.conf",
        "200s",
      ),
    );
  }

  return { resources, location: [], colocation, order };
}
