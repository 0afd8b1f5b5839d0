/**
 * haproxy.cfg as data, computed from the plan; templates/haproxy/haproxy.cfg.hbs only prints it.
 * Reference: HAProxy 2.6 configuration manual — https://docs.haproxy.org/2.6/configuration.html
 */
import { confQuote } from "../../core/escape";
import { resolveSecret, type SecretValues } from "../../core/secrets";
import type { ClusterPlan, HaproxyPlan, PlannedHost } from "../../plan/types";

export const HAPROXY_CFG = "/etc/haproxy/haproxy.cfg";
/**
 * Admin socket in /run itself: neither our systemd unit nor a supervisor program creates
 * /run/haproxy (Debian's own unit does, via RuntimeDirectory=).
 */
export const HAPROXY_SOCKET = "/run/haproxy-admin.sock";
export const NONLOCAL_BIND_CONF = "/etc/sysctl.d/60-haforge-nonlocal-bind.conf";

export interface HaproxyBackendModel {
  readonly name: string;
  readonly mode: "tcp" | "http";
  readonly balance: string;
  readonly httpchk?: string;
  readonly stickTable: boolean;
  /** `default-server on-marked-down shutdown-sessions` (see HaproxyPlan). */
  readonly shutdownSessionsOnDown: boolean;
  /** `server` arguments: `NAME ADDRESS:PORT check [port P] inter I [backup]`. */
  readonly servers: readonly string[];
}
export interface HaproxyFrontendModel {
  readonly name: string;
  readonly bind: string;
  readonly mode: "tcp" | "http";
  readonly backend: string;
}
export interface HaproxyStatsModel {
  readonly bind: string;
  /** `stats auth` argument, quoted for HAProxy's parser; absent = no authentication. */
  readonly auth?: string;
}
export interface HaproxyCfgModel {
  readonly host: string;
  readonly socket: string;
  readonly frontends: readonly HaproxyFrontendModel[];
  readonly backends: readonly HaproxyBackendModel[];
  readonly stats?: HaproxyStatsModel;
  readonly secret: boolean;
}

/**
 * HAProxy 2.x double-quoted argument: `\`, `"` and `$` (environment expansion inside double
 * quotes) are escaped; `#` and spaces are literal inside quotes. Checked by the system test
 * against a live haproxy (a password with all of them authenticates).
 */
export const haproxyQuote = confQuote;

/** Split `ADDRESS:PORT` (`[v6]:PORT`, `*:PORT`, `:PORT`); the first word only (bind options follow). */
export function bindAddress(bind: string): { address: string; port: string } {
  const first = bind.trim().split(/\s+/)[0] ?? "";
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(first);
  if (v6) return { address: v6[1]!, port: v6[2]! };
  const at = first.lastIndexOf(":");
  return at < 0 ? { address: first, port: "" } : { address: first.slice(0, at), port: first.slice(at + 1) };
}

const WILDCARDS = new Set(["", "*", "0.0.0.0", "::", "::0"]);
const stripPrefix = (cidr: string) => cidr.split("/")[0] ?? cidr;

/** Addresses a host owns for sure (its own, never a VIP). */
function ownAddresses(host: PlannedHost | undefined): Set<string> {
  if (!host) return new Set();
  return new Set([host.address, host.internalAddress, ...host.interfaces.map((i) => stripPrefix(i.address))]);
}

/**
 * Address families (4, 6) for which this host binds an address it does not own: a VIP that
 * keepalived may hold on another host right now. Loopback and wildcards never need it.
 */
export function nonlocalFamilies(hp: HaproxyPlan, host: PlannedHost | undefined): (4 | 6)[] {
  const own = ownAddresses(host);
  const binds = [...hp.frontends.map((f) => f.bind), ...(hp.stats ? [hp.stats.bind] : [])];
  const fams = new Set<4 | 6>();
  for (const b of binds) {
    const { address } = bindAddress(b);
    if (WILDCARDS.has(address) || own.has(address) || address.startsWith("127.") || address === "::1") continue;
    fams.add(address.includes(":") ? 6 : 4);
  }
  return [...fams].sort();
}

const serverAddress = (a: string) => (a.includes(":") && !a.startsWith("[") ? `[${a}]` : a);

export function haproxyCfgModel(hp: HaproxyPlan, host: string, secrets: SecretValues): HaproxyCfgModel {
  const backends: HaproxyBackendModel[] = hp.backends.map((b) => ({
    name: b.name,
    mode: b.mode,
    balance: b.balance,
    ...(b.httpchk ? { httpchk: b.httpchk } : {}),
    stickTable: b.stickTable,
    shutdownSessionsOnDown: b.shutdownSessionsOnDown,
    // Single-active (Galera style): only the first server takes traffic, the others are
    // `backup`; the one-entry stick table keeps every client on the same node after a
    // failover instead of flapping back when the first one returns.
    servers: b.servers.map(
      (s, i) =>
        `${s.name} ${serverAddress(s.address)}:${s.port} check${b.checkPort !== undefined ? ` port ${b.checkPort}` : ""} inter ${b.checkInterval}${b.stickTable && i > 0 ? " backup" : ""}`,
    ),
  }));
  const stats = hp.stats
    ? {
        bind: hp.stats.bind,
        ...(hp.stats.password ? { auth: haproxyQuote(`${hp.stats.user}:${resolveSecret(hp.stats.password, secrets)}`) } : {}),
      }
    : undefined;
  return {
    host,
    socket: HAPROXY_SOCKET,
    frontends: hp.frontends.map((f) => ({ name: f.name, bind: f.bind, mode: f.mode, backend: f.backend })),
    backends,
    ...(stats ? { stats } : {}),
    secret: stats?.auth !== undefined,
  };
}

/** HAProxy hosts in plan host order. */
export function haproxyHosts(plan: ClusterPlan): string[] {
  const hp = plan.haproxy;
  if (!hp) return [];
  const order = new Map(plan.hosts.map((h) => [h.name, h.order]));
  return [...new Set(hp.hosts)].sort((a, b) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9) || a.localeCompare(b));
}
