/**
 * What each Tower instance's settings files say, computed from the plan. Tower reads
 * /etc/tower/settings.py and then every /etc/tower/conf.d/*.py into one namespace
 * (awx/settings/production.py), so each file below sets whole settings; we use the file names
 * Tower's own installer uses for the same settings so ours replace them instead of racing them.
 *
 * Values become Python literals through JSON.stringify: a JSON string is a valid Python 3 str
 * literal (same escapes), so passwords with quotes, backslashes or newlines cannot break out.
 */
import { resolveSecret, type SecretValues } from "../../core/secrets";
import type { ClusterPlan } from "../../plan/types";

/** A Python str literal for `s`. */
export const py = (s: string): string => JSON.stringify(s);

/** Host part of a URL: IPv6 literals go in brackets (RFC 3986 §3.2.2). */
export const urlHost = (h: string): string => (h.includes(":") && !h.startsWith("[") ? `[${h}]` : h);

/** Split `host:port` (or `[v6]:port`); a missing/invalid port yields `fallbackPort`. */
export function splitEndpoint(endpoint: string, fallbackPort: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(endpoint);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : fallbackPort };
  const i = endpoint.lastIndexOf(":");
  if (i > 0 && endpoint.indexOf(":") === i && /^\d+$/.test(endpoint.slice(i + 1))) {
    return { host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)) };
  }
  return { host: endpoint, port: fallbackPort };
}

/**
 * BROKER_URL for `host`: the instance's own RabbitMQ node when it runs one (Tower's layout: every
 * instance talks to its local node over the internal address, so losing a node only affects its
 * own instance), else the first node. User, password and vhost are percent-encoded (kombu
 * unquotes them), so `/` as a vhost becomes `%2F`.
 */
export function brokerUrl(plan: ClusterPlan, host: string, secrets: SecretValues): string | undefined {
  const rmq = plan.rabbitmq;
  const node = (rmq && nodeByHost(rmq.nodes).get(host)) ?? rmq?.nodes[0];
  if (!rmq || !node) return undefined;
  const password = resolveSecret(rmq.password, secrets);
  const enc = encodeURIComponent;
  return `amqp://${enc(rmq.username)}:${enc(password)}@${urlHost(node.address)}:${rmq.port}/${enc(rmq.vhost)}`;
}

type RabbitNodes = NonNullable<ClusterPlan["rabbitmq"]>["nodes"];
const nodeIndexes = new WeakMap<RabbitNodes, Map<string, RabbitNodes[number]>>();
/** host → its (first) RabbitMQ node, built once per plan: every instance looks its node up. */
function nodeByHost(nodes: RabbitNodes): Map<string, RabbitNodes[number]> {
  let m = nodeIndexes.get(nodes);
  if (!m) {
    m = new Map();
    for (const n of nodes) if (!m.has(n.host)) m.set(n.host, n);
    nodeIndexes.set(nodes, m);
  }
  return m;
}

export interface DatabaseSettings {
  readonly name: string;
  readonly user: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
}

/**
 * Where Django connects: the HA Postgres endpoint when the plan has one (the VIP in front of
 * Patroni, or the local stolon proxy), else the inventory's database host. Name, user and
 * password always come from the Tower database section.
 */
export function databaseSettings(plan: ClusterPlan, secrets: SecretValues): DatabaseSettings {
  const db = plan.database;
  const port = db?.port ?? 5432;
  const where = plan.postgres ? splitEndpoint(plan.postgres.endpoint, plan.postgres.port) : { host: db?.host ?? "", port };
  return {
    name: db?.name ?? "awx",
    user: db?.username ?? "awx",
    password: db?.password ? resolveSecret(db.password, secrets) : "",
    host: where.host,
    port: where.port,
  };
}
