/**
 * Postgres HA plan step (stolon or Patroni): members, the DCS (store) they elect through, and the
 * endpoint clients use.
 *
 * - stolon's store backends are etcdv2/etcdv3/consul/kubernetes; the kubernetes backend keeps
 *   state in Kubernetes objects, so it only exists on a Kubernetes target
 *   (https://github.com/sorintlab/stolon/blob/master/doc/commands/stolon-keeper.md).
 * - Patroni here uses its `etcd:` (v2) backend: Debian's etcd 3.4 has no v3 gRPC gateway
 *   (docs/lab.md), so the store must keep `enable-v2` on.
 * - stolon sentinels elect a leader among themselves: 3 or more, odd.
 */
import { checkHostList, hostEntries } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import { ipFamily, joinHostPort } from "../../plan/network";
import type { HaproxyPlan, KeepalivedInstancePlan, PostgresPlan, QuorumStorePlan, RollingGroup } from "../../plan/types";
import type { PlanContext, PlanStep } from "../types";

type PgInput = NonNullable<PlanContext["inventory"]["postgres"]>;
/** A host list of the section checked: `(list, field, what)` gives the hosts kept. */
type Members = (list: readonly string[], field: string, what: string) => string[];

/** A host-list checker: inventory hosts only (on a Kubernetes target the names are pod ordinals, not hosts), each once. */
function membersOf(ctx: PlanContext, findings: Finding[]): Members {
  const onSsh = ctx.inventory.target === "ssh";
  return (list, field, what) => {
    const entries = hostEntries(list, (i) => `postgres.${field}[${i}]`);
    return checkHostList(
      entries,
      {
        known: (h) => !onSsh || ctx.hosts.has(h),
        unknown: (h, path) =>
          error("postgres.unknown-host", path, `${what} '${h}' is not an inventory host`, "Add it under `hosts` or fix the name."),
        duplicate: (h, path) =>
          error("postgres.duplicate-host", path, `${what} '${h}' is listed twice in \`postgres.${field}\``, "List each host once."),
      },
      findings,
    ).map((e) => e.host);
  };
}

/** stolon's sentinels and proxies (the nodes unless listed), their count and port checks; Patroni has neither. */
function sentinelsAndProxies(
  pg: PgInput,
  nodes: readonly string[],
  members: Members,
  findings: Finding[],
): { sentinels: string[]; proxies: string[] } {
  let sentinels: string[] = [];
  let proxies: string[] = [];
  if (pg.engine === "stolon") {
    sentinels = pg.sentinels ? members(pg.sentinels, "sentinels", "stolon sentinel") : [...nodes];
    proxies = pg.proxies ? members(pg.proxies, "proxies", "stolon proxy") : [...nodes];
    const n = (pg.sentinels ?? pg.nodes).length;
    if (n < 3 || n % 2 === 0)
      findings.push(
        warning(
          "postgres.sentinel-count",
          pg.sentinels ? "postgres.sentinels" : "postgres.nodes",
          `stolon has ${n} sentinel(s)${pg.sentinels ? "" : " (one per node)"}; the sentinels elect a leader by majority: use 3 or more, odd`,
          "Set `postgres.sentinels` to 3 (or 5) hosts, e.g. the nodes plus the store-only node.",
        ),
      );
    if (pg.port === pg.proxyPort && proxies.some((p) => nodes.includes(p)))
      findings.push(
        error(
          "postgres.port-collision",
          "postgres.proxyPort",
          `\`proxyPort\` ${pg.proxyPort} equals \`port\` ${pg.port}, and stolon proxies run on Postgres nodes (${proxies
            .filter((p) => nodes.includes(p))
            .map((p) => `'${p}'`)
            .join(", ")})`,
          "Use another `proxyPort` (default 25432).",
        ),
      );
  } else {
    for (const field of ["sentinels", "proxies"] as const)
      if (pg[field] !== undefined)
        findings.push(
          warning(
            "postgres.stolon-only-field",
            `postgres.${field}`,
            `\`postgres.${field}\` applies to stolon only; \`engine\` is 'patroni'`,
            `Remove \`${field}\`.`,
          ),
        );
  }
  return { sentinels, proxies };
}

/** Patroni's endpoint when no HAProxy fronts it: a warning when it does not follow the leader. */
function patroniEndpointFindings(ctx: PlanContext, endpoint: string, findings: Finding[]): void {
  const ka = (ctx.plan.keepalived ?? [])[0];
  if (!ka)
    findings.push(
      warning(
        "postgres.no-stable-endpoint",
        "postgres",
        `Patroni has no HAProxy frontend and no keepalived VIP in front of it; the endpoint is the first node ('${endpoint}'), which is not always the leader`,
        "Add an HAProxy backend over the nodes (checked on Patroni's /primary) behind a keepalived VIP.",
      ),
    );
  else if (ka.track.length === 0)
    findings.push(
      warning(
        "postgres.vip-not-leader-aware",
        "postgres",
        `the endpoint '${endpoint}' is keepalived instance '${ka.name}''s VIP, which follows keepalived priorities, not the Patroni leader`,
        "Front the nodes with HAProxy (httpchk on Patroni's /primary), or add a `track` script to the instance that checks Patroni's /primary.",
      ),
    );
}

/** Each host's roles: Postgres node, stolon sentinel and proxy, Consul agent. */
function postgresRoles(ctx: PlanContext, plan: PostgresPlan): Record<string, string[]> {
  const { nodes, sentinels, proxies, store } = plan;
  const roles: Record<string, string[]> = {};
  const add = (h: string, r: string) => {
    if (!ctx.hosts.has(h)) return;
    const list = (roles[h] ??= []);
    if (!list.includes(r)) list.push(r);
  };
  nodes.forEach((h) => add(h, "postgres"));
  sentinels.forEach((h) => add(h, "stolon-sentinel"));
  proxies.forEach((h) => add(h, "stolon-proxy"));
  (store.agentHosts ?? []).forEach((h) => add(h, "consul-agent"));
  return roles;
}

export function plan(ctx: PlanContext): PlanStep {
  const pg = ctx.inventory.postgres;
  if (!pg) return { findings: [], patch: {} };
  const findings: Finding[] = [];

  const members = membersOf(ctx, findings);

  const nodes = members(pg.nodes, "nodes", "Postgres node");
  if (pg.nodes.length === 1)
    findings.push(
      warning(
        "postgres.single-node",
        "postgres.nodes",
        `\`postgres.nodes\` has one node ('${pg.nodes[0]}'): no replica to fail over to`,
        "List 2 or more nodes (3 recommended).",
      ),
    );

  const { sentinels, proxies } = sentinelsAndProxies(pg, nodes, members, findings);

  const store = planStore(ctx, findings, [...new Set([...nodes, ...sentinels, ...proxies])]);

  const { endpoint, fronted } = planEndpoint(
    pg.engine,
    pg.port,
    pg.proxyPort,
    nodes,
    proxies,
    ctx.plan.haproxy,
    ctx.plan.keepalived ?? [],
    ctx.hosts,
  );
  if (pg.engine === "patroni" && !fronted) patroniEndpointFindings(ctx, endpoint, findings);

  const plan: PostgresPlan = {
    engine: pg.engine,
    clusterName: pg.clusterName,
    nodes,
    sentinels,
    proxies,
    store,
    port: pg.port,
    proxyPort: pg.proxyPort,
    version: pg.version,
    superuserPassword: pg.superuserPassword,
    replicationPassword: pg.replicationPassword,
    spec: pg.spec,
    ...haOptions(pg, findings),
    endpoint,
  };

  const roles = postgresRoles(ctx, plan);

  // Replicas first, the leader-preferred first node last: one switchover at most per roll.
  const rolling: RollingGroup[] =
    nodes.length > 0
      ? [{ id: `${pg.engine}:${pg.clusterName}`, service: pg.engine, hosts: [...nodes.slice(1), nodes[0]!], maxUnavailable: 1 }]
      : [];
  return { findings, patch: { postgres: plan, rollingGroups: rolling }, roles };
}

/**
 * The DCS: explicit endpoints, or the quorum store of the same kind.
 *
 * consul: stolon's consul store takes exactly one endpoint (libkv's consul backend:
 * "consul does not support multiple endpoints"), and consul's own model is a local agent on every
 * host (Cloudify runs one on every manager). So every consumer (keepers, sentinels, proxies,
 * stolonctl, Patroni) talks to the agent on its own host, 127.0.0.1:clientPort: the consul server
 * when the host is a store member, else a client agent rendered by the quorum store.
 */
function planStore(ctx: PlanContext, findings: Finding[], consumers: readonly string[]): PostgresPlan["store"] {
  const pg = ctx.inventory.postgres!;
  const backend = pg.store.backend;
  const qs: QuorumStorePlan | undefined = ctx.plan.quorumStore;
  if (backend === "kubernetes") {
    if (ctx.inventory.target !== "kubernetes")
      findings.push(
        error(
          "postgres.kubernetes-store-needs-kubernetes-target",
          "postgres.store.backend",
          `\`postgres.store.backend\` is 'kubernetes' but \`target\` is '${ctx.inventory.target}'`,
          "The kubernetes store keeps cluster state in Kubernetes objects: use `backend: etcd` (with a quorumStore) on SSH hosts.",
        ),
      );
    if (pg.engine === "patroni") findings.push(patroniNeedsEtcd(backend));
    return { backend, endpoints: pg.store.endpoints ?? [] };
  }
  if (pg.engine === "patroni" && backend !== "etcd") findings.push(patroniNeedsEtcd(backend));
  const explicit = pg.store.endpoints;
  if (explicit && explicit.length > 0) {
    if (backend === "consul" && explicit.length > 1)
      findings.push(
        error(
          "postgres.consul-one-endpoint",
          "postgres.store.endpoints",
          `\`postgres.store.endpoints\` lists ${explicit.length} consul endpoints; stolon's consul store takes exactly one ("consul does not support multiple endpoints")`,
          "Give the one local consul agent's URL (e.g. http://127.0.0.1:8500), or drop `endpoints` and use a consul `quorumStore`: haforge then points every consumer at its local agent.",
        ),
      );
    return { backend, endpoints: explicit };
  }
  if (!qs || qs.kind !== backend) {
    findings.push(
      error(
        qs ? "postgres.store-kind-mismatch" : "postgres.store-missing",
        "postgres.store",
        qs
          ? `\`postgres.store.backend\` is '${backend}' but \`quorumStore.kind\` is '${qs.kind}'`
          : `\`postgres.store.backend\` is '${backend}' but there is no \`quorumStore\` and no \`postgres.store.endpoints\``,
        `Add \`quorumStore: { kind: ${backend}, members: [...] }\`, or list the store's URLs in \`postgres.store.endpoints\`.`,
      ),
    );
    return { backend, endpoints: [] };
  }
  if (pg.engine === "patroni" && qs.kind === "etcd" && !qs.enableV2)
    findings.push(
      error(
        "postgres.patroni-needs-etcd-v2",
        "quorumStore.enableV2",
        "`quorumStore.enableV2` is false but Patroni uses the etcd v2 API (`etcd:` backend)",
        "Set `quorumStore.enableV2: true`: Debian's etcd 3.4 has no v3 gateway for Patroni's `etcd3:` backend.",
      ),
    );
  if (qs.kind === "consul") {
    const servers = new Set(qs.members.map((m) => m.host));
    const agentHosts = consumers.filter((h) => ctx.hosts.has(h) && !servers.has(h));
    return { backend, endpoints: [`http://127.0.0.1:${qs.clientPort}`], agentHosts };
  }
  return { backend, endpoints: qs.endpoints };
}

const patroniNeedsEtcd = (backend: string): Finding =>
  error(
    "postgres.patroni-needs-etcd",
    "postgres.store.backend",
    `\`postgres.engine\` is 'patroni' with \`store.backend\` '${backend}'; haforge runs Patroni on etcd`,
    "Use `store.backend: etcd` with an etcd `quorumStore`, or `engine: stolon`.",
  );

/**
 * Where clients connect. An HAProxy frontend whose backend serves only the Postgres nodes (or
 * stolon proxies) wins: its bind (the VIP when bound to '*'). Otherwise stolon's local proxy on
 * every host, or Patroni's VIP, or the first node as a last resort.
 */
function planEndpoint(
  engine: "stolon" | "patroni",
  port: number,
  proxyPort: number,
  nodes: readonly string[],
  proxies: readonly string[],
  haproxy: HaproxyPlan | undefined,
  keepalived: readonly KeepalivedInstancePlan[],
  hosts: PlanContext["hosts"],
): { endpoint: string; fronted: boolean } {
  const vip = keepalived[0]?.vip;
  const pgHosts = new Set([...nodes, ...proxies]);
  const pgPorts = new Set([port, proxyPort]);
  if (haproxy) {
    for (const f of haproxy.frontends) {
      const be = haproxy.backends.find((b) => b.name === f.backend);
      if (!be || be.servers.length === 0) continue;
      if (!be.servers.every((s) => pgHosts.has(s.host) && pgPorts.has(s.port))) continue;
      const i = f.bind.lastIndexOf(":");
      const addr = f.bind.slice(0, i).replace(/^\[|\]$/g, "");
      const p = Number(f.bind.slice(i + 1));
      const host = addr === "*" || addr === "" || addr === "0.0.0.0" || addr === "::" ? vip : addr;
      if (host !== undefined) return { endpoint: joinHostPort(host, p), fronted: true };
    }
  }
  if (engine === "stolon") return { endpoint: `127.0.0.1:${proxyPort}`, fronted: false };
  if (vip !== undefined) return { endpoint: joinHostPort(vip, port), fronted: false };
  const first = nodes[0] !== undefined ? hosts.get(nodes[0]) : undefined;
  const addr = first?.internalAddress ?? nodes[0] ?? "127.0.0.1";
  return { endpoint: ipFamily(addr) === "ipv6" ? joinHostPort(addr, port) : `${addr}:${port}`, fronted: false };
}

/** Patroni's DCS options (ttl, synchronous mode); the synchronous fields are Patroni's only. */
function haOptions(
  pg: NonNullable<PlanContext["inventory"]["postgres"]>,
  findings: Finding[],
): Pick<PostgresPlan, "ttl" | "synchronousMode" | "synchronousModeStrict"> {
  for (const field of ["synchronousMode", "synchronousModeStrict"] as const)
    if (pg[field] && pg.engine !== "patroni")
      findings.push(
        warning(
          "postgres.patroni-only-field",
          `postgres.${field}`,
          `\`postgres.${field}\` applies to Patroni only; \`engine\` is '${pg.engine}'`,
          "Use stolon's cluster spec (`postgres.spec`: synchronousReplication) instead.",
        ),
      );
  if (pg.synchronousModeStrict && !pg.synchronousMode)
    findings.push(
      warning(
        "postgres.strict-without-synchronous",
        "postgres.synchronousModeStrict",
        "`synchronousModeStrict` is true but `synchronousMode` is false: Patroni ignores strict mode without synchronous mode",
        "Set `synchronousMode: true` as well, or remove `synchronousModeStrict`.",
      ),
    );
  return { ttl: pg.ttl, synchronousMode: pg.synchronousMode, synchronousModeStrict: pg.synchronousModeStrict };
}
