/**
 * HAProxy plan step: which hosts run it, frontends with their bind resolved, backends with their
 * servers resolved to internal addresses, and the rules HAProxy itself would only report at start
 * (missing backend, mode mismatch: `haproxy -c` rc 1) or never (port collisions between
 * frontends, a `*:PORT` bind over a local server's port: both fail only when binding).
 * https://docs.haproxy.org/2.6/configuration.html#4-bind
 */
import { checkHostList, hostEntries } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import { ipFamily, joinHostPort, sameAddress, splitHostPort } from "../../plan/network";
import type { HaproxyPlan, HaproxyServerPlan, KeepalivedInstancePlan, RollingGroup } from "../../plan/types";
import { allPacemakerVips } from "../pacemaker/vips";
import type { PlanContext, PlanStep } from "../types";

const WILDCARDS = new Set(["*", "0.0.0.0", "::", ""]);
const isWildcard = (a: string) => WILDCARDS.has(a);

/** `ADDR:PORT` with IPv6 bracketed. */

interface Bind {
  readonly address: string;
  readonly port: number;
  readonly path: string;
  readonly what: string;
}

type Section = NonNullable<PlanContext["inventory"]["haproxy"]>;
type BackendPlan = HaproxyPlan["backends"][number];
type FrontendPlan = HaproxyPlan["frontends"][number];

export function plan(ctx: PlanContext): PlanStep {
  const section = ctx.inventory.haproxy;
  if (!section) return { findings: [], patch: {} };
  const findings: Finding[] = [];
  const keepalived: readonly KeepalivedInstancePlan[] = ctx.plan.keepalived ?? [];
  const firstVip = keepalived[0];
  const hosts = planHaproxyHosts(ctx, section, firstVip, findings);
  const { backends, backendNames } = planBackends(ctx, section, findings);
  const binds: Bind[] = [];
  const frontends = planFrontends(ctx, section, keepalived, backendNames, binds, findings);
  const statsBind = planStatsBind(section, firstVip, binds, findings);
  findings.push(...checkBindCollisions(binds));
  findings.push(...serverPortFindings(binds, backends, hosts));
  findings.push(...vipHolderFindings(keepalived, binds, hosts));

  // Roll backups before the VIP holder when the hosts follow a keepalived instance.
  const kaOrder = keepalived.find((k) => k.members.length === hosts.length && k.members.every((m) => hosts.includes(m.host)));
  const order = kaOrder ? [...kaOrder.members].sort((a, b) => a.priority - b.priority).map((m) => m.host) : hosts;
  const rolling: RollingGroup[] = hosts.length > 0 ? [{ id: "haproxy", service: "haproxy", hosts: order, maxUnavailable: 1 }] : [];
  const roles: Record<string, string[]> = {};
  for (const h of hosts) roles[h] = ["haproxy"];

  const plan: HaproxyPlan = {
    hosts,
    frontends,
    backends,
    ...(section.stats
      ? {
          stats: {
            bind: statsBind ? joinHostPort(statsBind.address, statsBind.port) : section.stats.bind,
            user: section.stats.user,
            ...(section.stats.password ? { password: section.stats.password } : {}),
          },
        }
      : {}),
  };
  return { findings, patch: { haproxy: plan, rollingGroups: rolling }, roles };
}

/** Hosts: explicit, else the hosts of the first keepalived instance (where its VIP can land). */
function planHaproxyHosts(ctx: PlanContext, section: Section, firstVip: KeepalivedInstancePlan | undefined, findings: Finding[]): string[] {
  const explicitHosts = section.hosts.length > 0;
  const wanted = explicitHosts ? section.hosts : (firstVip?.members.map((m) => m.host) ?? []);
  const hosts = checkHostList(
    hostEntries(wanted, (i) => (explicitHosts ? `haproxy.hosts[${i}]` : "haproxy.hosts")),
    {
      known: (h) => ctx.hosts.has(h),
      unknown: (h, path) =>
        error("haproxy.unknown-host", path, `HAProxy host '${h}' is not an inventory host`, "Add it under `hosts` or fix the name."),
      duplicate: (h, path) => error("haproxy.duplicate-host", path, `HAProxy host '${h}' is listed twice`, "List each host once."),
    },
    findings,
  ).map((e) => e.host);
  if (wanted.length === 0)
    findings.push(
      error(
        "haproxy.no-hosts",
        "haproxy.hosts",
        "`haproxy.hosts` is empty and there is no keepalived instance to take the hosts from",
        "List the load balancer hosts under `haproxy.hosts`, or define a keepalived instance.",
      ),
    );

  return hosts;
}

/** Backends: unique names, servers on inventory hosts, at their internal address. */
function planBackends(
  ctx: PlanContext,
  section: Section,
  findings: Finding[],
): { backends: BackendPlan[]; backendNames: Map<string, number> } {
  const backendNames = new Map<string, number>();
  const backends: BackendPlan[] = [];
  section.backends.forEach((b, bi) => {
    const base = `haproxy.backends[${bi}]`;
    if (backendNames.has(b.name))
      findings.push(
        error(
          "haproxy.duplicate-backend",
          `${base}.name`,
          `backend name '${b.name}' is already used by haproxy.backends[${backendNames.get(b.name)}]`,
          "Name every backend once.",
        ),
      );
    else backendNames.set(b.name, bi);
    const servers: HaproxyServerPlan[] = [];
    const seen = new Set<string>();
    const hostCount = new Map<string, number>();
    b.servers.forEach((s) => hostCount.set(s.host, (hostCount.get(s.host) ?? 0) + 1));
    b.servers.forEach((s, si) => {
      const path = `${base}.servers[${si}]`;
      const h = ctx.hosts.get(s.host);
      if (!h) {
        findings.push(
          error(
            "haproxy.unknown-server-host",
            `${path}.host`,
            `server '${s.host}' of backend '${b.name}' is not an inventory host`,
            "Servers name inventory hosts; add the host or fix the name.",
          ),
        );
        return;
      }
      const key = `${s.host}:${s.port}`;
      if (seen.has(key)) {
        findings.push(error("haproxy.duplicate-server", path, `backend '${b.name}' lists server '${key}' twice`, "List each server once."));
        return;
      }
      seen.add(key);
      // Server names must be unique in a backend: the host name, suffixed by the port when one
      // host serves several ports.
      const name = (hostCount.get(s.host) ?? 0) > 1 ? `${s.host}-${s.port}` : s.host;
      servers.push({ name, host: s.host, address: h.internalAddress, port: s.port });
    });
    if (b.stickTable && b.servers.length < 2)
      findings.push(
        warning(
          "haproxy.stick-table-single-server",
          `${base}.servers`,
          `backend '${b.name}' sets \`stickTable\` (single active server, the others backup) but has ${b.servers.length} server(s)`,
          "A single-active backend needs 2 or more servers to fail over to; otherwise drop `stickTable`.",
        ),
      );
    backends.push({
      name: b.name,
      mode: b.mode,
      balance: b.balance,
      servers,
      stickTable: b.stickTable,
      shutdownSessionsOnDown: b.stickTable || servesPatroniOnly(ctx, servers),
      ...(b.httpchk !== undefined ? { httpchk: b.httpchk } : {}),
      ...(b.checkPort !== undefined ? { checkPort: b.checkPort } : {}),
      checkInterval: b.checkInterval,
    });
  });

  return { backends, backendNames };
}

/**
 * A backend whose servers are all Patroni members at PostgreSQL's port (checked on `/primary`
 * as the lab does): when the leader is demoted (switchover, failover, a pending-restart roll) its
 * check fails only after `fall` checks. Patroni's demotion stops PostgreSQL (fast), which ends the
 * sessions held on it; but until the check fails, HAProxy still sends new clients to the node,
 * which is back as a read-only replica (or, cut off, about to be rewound). Without
 * `on-marked-down shutdown-sessions` those sessions stay there and their writes are refused;
 * cutting them makes them reconnect to the new leader (proven live: tests/e2e/cluster.test.ts,
 * "Patroni switchover behind HAProxy").
 * https://docs.haproxy.org/2.6/configuration.html#5.2-on-marked-down
 */
function servesPatroniOnly(ctx: PlanContext, servers: readonly HaproxyServerPlan[]): boolean {
  const pg = ctx.inventory.postgres;
  if (!pg || pg.engine !== "patroni" || servers.length === 0) return false;
  return servers.every((s) => pg.nodes.includes(s.host) && s.port === pg.port);
}

/** Frontends: backend exists, modes agree, bind resolved (address omitted → the first VIP); backends no frontend uses. */
function planFrontends(
  ctx: PlanContext,
  section: Section,
  keepalived: readonly KeepalivedInstancePlan[],
  backendNames: ReadonlyMap<string, number>,
  binds: Bind[],
  findings: Finding[],
): FrontendPlan[] {
  const firstVip = keepalived[0];
  const knownVips = [
    ...keepalived.map((k) => ({ address: k.vip, owner: `keepalived instance '${k.name}'`, hosts: k.members.map((m) => m.host) })),
    ...allPacemakerVips(ctx.inventory.pacemaker?.clusters ?? []).map((v) => ({
      address: v.address,
      owner: `Pacemaker '${v.id}' of cluster '${v.cluster}'`,
      hosts: [] as string[],
    })),
  ];

  const frontendNames = new Map<string, number>();
  const frontends: FrontendPlan[] = [];
  const usedBackends = new Set<string>();
  section.frontends.forEach((f, fi) => {
    const base = `haproxy.frontends[${fi}]`;
    if (frontendNames.has(f.name))
      findings.push(
        error(
          "haproxy.duplicate-frontend",
          `${base}.name`,
          `frontend name '${f.name}' is already used by haproxy.frontends[${frontendNames.get(f.name)}]`,
          "Name every frontend once.",
        ),
      );
    else frontendNames.set(f.name, fi);
    const bi = backendNames.get(f.backend);
    if (bi === undefined)
      findings.push(
        error(
          "haproxy.unknown-backend",
          `${base}.backend`,
          `frontend '${f.name}' uses backend '${f.backend}', which is not defined${section.backends.length ? ` (backends: ${section.backends.map((b) => `'${b.name}'`).join(", ")})` : ""}`,
          "Define it under `haproxy.backends` or fix the name.",
        ),
      );
    else {
      usedBackends.add(f.backend);
      const b = section.backends[bi]!;
      // An http frontend cannot hand parsed HTTP to a tcp backend (haproxy -c: "incompatible
      // tcp backend"); the reverse is HAProxy's implicit TCP-to-HTTP upgrade and is accepted.
      if (f.mode === "http" && b.mode === "tcp")
        findings.push(
          error(
            "haproxy.mode-mismatch",
            `${base}.mode`,
            `frontend '${f.name}' is \`mode\` 'http' but its backend '${b.name}' is \`mode\` 'tcp'`,
            "HAProxy refuses an http frontend on a tcp backend: use `mode: http` on the backend (or `mode: tcp` on the frontend).",
          ),
        );
    }
    const bind = frontendBind(f, base, firstVip?.vip, knownVips, binds, findings);
    frontends.push({ name: f.name, bind: bind ? joinHostPort(bind.address, bind.port) : f.bind, mode: f.mode, backend: f.backend });
  });

  section.backends.forEach((b, bi) => {
    if (!usedBackends.has(b.name) && section.frontends.length > 0)
      findings.push(
        warning(
          "haproxy.unused-backend",
          `haproxy.backends[${bi}]`,
          `backend '${b.name}' is used by no frontend`,
          "Reference it from a frontend or remove it.",
        ),
      );
  });

  return frontends;
}

/** A frontend's bind resolved (added to `binds`), and checked against the VIPs it may name. */
function frontendBind(
  f: Section["frontends"][number],
  base: string,
  vip: string | undefined,
  knownVips: readonly { address: string }[],
  binds: Bind[],
  findings: Finding[],
): { address: string; port: number } | undefined {
  const bind = resolveBind(f.bind, vip);
  if (!bind) {
    findings.push(
      error(
        "haproxy.invalid-bind",
        `${base}.bind`,
        `\`bind\` '${f.bind}' of frontend '${f.name}' is not ADDRESS:PORT, *:PORT or :PORT`,
        "e.g. `10.0.0.100:443`, `*:8080`, or `:5432` for the VIP.",
      ),
    );
  } else {
    binds.push({ ...bind, path: `${base}.bind`, what: `frontend '${f.name}'` });
    if (!isWildcard(bind.address) && ipFamily(bind.address) && !knownVips.some((v) => sameAddress(v.address, bind.address)))
      findings.push(
        warning(
          "haproxy.bind-address-unknown",
          `${base}.bind`,
          `frontend '${f.name}' binds '${bind.address}', which is neither a keepalived/Pacemaker VIP nor '*'`,
          "Every HAProxy host must own that address or HAProxy fails to bind; bind the VIP or '*'.",
        ),
      );
  }
  return bind;
}

/** The stats page's bind (checked and added to `binds`). */
function planStatsBind(
  section: Section,
  firstVip: KeepalivedInstancePlan | undefined,
  binds: Bind[],
  findings: Finding[],
): { address: string; port: number } | undefined {
  const statsBind = section.stats ? resolveBind(section.stats.bind, firstVip?.vip) : undefined;
  if (section.stats) {
    const bind = statsBind;
    if (!bind)
      findings.push(
        error(
          "haproxy.invalid-bind",
          "haproxy.stats.bind",
          `\`stats.bind\` '${section.stats.bind}' is not ADDRESS:PORT, *:PORT or :PORT`,
          "e.g. `*:8404`.",
        ),
      );
    else binds.push({ ...bind, path: "haproxy.stats.bind", what: "the stats page" });
    if (!section.stats.password)
      findings.push(
        warning(
          "haproxy.stats-no-password",
          "haproxy.stats.password",
          "the HAProxy stats page has no `password`",
          "Set `password: { secret: haproxyStatsPassword }`.",
        ),
      );
  }

  return statsBind;
}

/** Binds against the backend servers running on the HAProxy hosts themselves. */
function serverPortFindings(binds: readonly Bind[], backends: readonly BackendPlan[], hosts: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  // A `*:PORT` bind on a host that also runs a backend server on that port: one of them cannot
  // bind (classic on controllers where Galera listens on 3306 and HAProxy fronts it).
  const vipPorts = new Map<number, Set<string>>();
  for (const b of binds) {
    if (!isWildcard(b.address)) {
      for (const be of backends)
        for (const s of be.servers)
          if (s.port === b.port && hosts.includes(s.host))
            (vipPorts.get(b.port) ?? vipPorts.set(b.port, new Set()).get(b.port)!).add(s.host);
      continue;
    }
    for (const be of backends)
      for (const s of be.servers)
        if (s.port === b.port && hosts.includes(s.host))
          findings.push(
            error(
              "haproxy.bind-collides-with-server",
              b.path,
              `${b.what} binds '*:${b.port}' on host '${s.host}', which also serves backend '${be.name}' on port ${s.port}`,
              "Bind the VIP (ADDRESS:PORT) instead of '*', or move the server to another port.",
            ),
          );
  }

  // A VIP:PORT bind beside a server on the same port works only if that server listens on its
  // own address (Galera and RabbitMQ default to every address): one reminder for all of them.
  if (vipPorts.size > 0) {
    const ports = [...vipPorts.keys()].sort((a, b) => a - b);
    const on = [...new Set([...vipPorts.values()].flatMap((x) => [...x]))];
    findings.push(
      warning(
        "haproxy.bind-may-collide-with-server",
        "haproxy.frontends",
        `frontends bind port(s) ${ports.join(", ")} on a VIP of host(s) ${on.map((h) => `'${h}'`).join(", ")}, which also serve those ports as backend servers`,
        "Make those servers listen on their internal address only (not 0.0.0.0), or HAProxy and the server cannot both bind.",
      ),
    );
  }

  return findings;
}

/** The VIPs the frontends bind must land on hosts that run HAProxy. */
function vipHolderFindings(keepalived: readonly KeepalivedInstancePlan[], binds: readonly Bind[], hosts: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  for (const k of keepalived) {
    if (!binds.some((b) => sameAddress(b.address, k.vip))) continue;
    const missing = k.members.map((m) => m.host).filter((h) => !hosts.includes(h));
    if (missing.length > 0)
      findings.push(
        warning(
          "haproxy.vip-holder-without-haproxy",
          "haproxy.hosts",
          `keepalived instance '${k.name}' can move VIP '${k.vip}' to ${missing.map((h) => `'${h}'`).join(", ")}, which run(s) no HAProxy`,
          "Run HAProxy on every member of the instance (or track haproxy in the instance so the VIP leaves a host without it).",
        ),
      );
  }

  return findings;
}

/** `PORT` / `:PORT` → the VIP (or `*` without one); `*:PORT`, `ADDR:PORT`, `[v6]:PORT` as written. */
export function resolveBind(bind: string, vip: string | undefined): { address: string; port: number } | undefined {
  const hp = splitHostPort(bind);
  if (!hp) return undefined;
  if (hp.host === "") return { address: vip ?? "*", port: hp.port };
  if (hp.host !== "*" && !ipFamily(hp.host) && !/^[A-Za-z0-9.-]+$/.test(hp.host)) return undefined;
  return { address: hp.host, port: hp.port };
}

/** Two listeners on one port collide when their addresses are equal or either is a wildcard. */
function checkBindCollisions(binds: readonly Bind[]): Finding[] {
  const findings: Finding[] = [];
  for (let k = 1; k < binds.length; k++)
    for (let i = 0; i < k; i++) {
      const a = binds[i]!;
      const b = binds[k]!;
      if (a.port !== b.port) continue;
      if (isWildcard(a.address) || isWildcard(b.address) || sameAddress(a.address, b.address)) {
        findings.push(
          error(
            "haproxy.bind-collision",
            b.path,
            `${b.what} binds '${joinHostPort(b.address, b.port)}', which collides with ${a.what} on '${joinHostPort(a.address, a.port)}'`,
            "Use a different port or address for one of them.",
          ),
        );
        break;
      }
    }
  return findings;
}
