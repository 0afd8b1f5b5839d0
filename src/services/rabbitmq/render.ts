/**
 * RabbitMQ on SSH targets, per node (plan.rabbitmq.nodes): rabbitmq.conf, rabbitmq-env.conf,
 * enabled_plugins, the definitions file, the Erlang cookie and the service definition; plus the
 * cluster actions (live re-import of the definitions, and leaving the cluster on node deletion).
 *
 * Everything identity-related comes from the plan: `RabbitMqNode.nodeName` is the Erlang node
 * name every file and command uses, and USE_LONGNAME must agree with it on every node and for
 * every CLI call, or nodes and tools cannot reach each other.
 */
import type { ClusterAction, FileSpec, ServiceSpec } from "../../core/desired-state";
import { shellWord } from "../../core/escape";
import { resolveSecret } from "../../core/secrets";
import type { ClusterPlan, RabbitMqNode, RabbitMqPlan } from "../../plan/types";
import { packagedDaemon } from "../../render/daemon";
import { Fragment, staticFile } from "../../render/templates";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import { RABBITMQ_CONF_VALIDATE } from "./conf-check";
import { DEFINITIONS_PATH, definitionsJson, definitionsModel } from "./definitions";

export const RABBITMQ_CONF = "/etc/rabbitmq/rabbitmq.conf";
/**
 * The peer-discovery seed list, in RabbitMQ's conf.d (read after rabbitmq.conf, RabbitMQ 3.9+:
 * https://www.rabbitmq.com/configure.html#config-confd-directory). Peer discovery runs only on a
 * blank node's first boot (https://www.rabbitmq.com/cluster-formation.html#peer-discovery-how-does-it-work),
 * so a new node waits for this file but a changed list restarts no running node.
 */
export const CLUSTER_FORMATION_CONF = "/etc/rabbitmq/conf.d/10-haforge-cluster-formation.conf";
export const RABBITMQ_ENV_CONF = "/etc/rabbitmq/rabbitmq-env.conf";
export const ENABLED_PLUGINS = "/etc/rabbitmq/enabled_plugins";
/** The server reads the cookie from $HOME of the user it runs as (rabbitmq, HOME=/var/lib/rabbitmq). */
export const ERLANG_COOKIE = "/var/lib/rabbitmq/.erlang.cookie";
export { DEFINITIONS_PATH };

export const SERVICE_NAME = "rabbitmq-server";
/**
 * Run around haforge's restart of a node (templates/rabbitmq/rabbitmq-rejoin.sh): a node whose
 * database directory is empty while a running peer lists it as a member (a replaced host) is
 * forgotten on that peer before it starts, joins blank through peer discovery, and gets its
 * quorum queue replicas back (`rabbitmq-queues grow`) once it runs. Every other restart only
 * finds its database directory not empty.
 */
export const REJOIN_SCRIPT = "/usr/local/lib/haforge/rabbitmq-rejoin.sh";
/**
 * The foreground server script (docs/lab.md), not /usr/sbin/rabbitmq-server: the Debian wrapper
 * switches user itself, while both managers here already run it as `rabbitmq`.
 */
export const SERVER_COMMAND = "/usr/lib/rabbitmq/bin/rabbitmq-server";
/**
 * Health gate between hosts of a roll: the node is up with the rabbit app running and has no
 * memory/disk alarm on. /usr/sbin/rabbitmq-diagnostics re-executes as `rabbitmq`, so it uses
 * that user's cookie and this host's rabbitmq-env.conf (node name, long names).
 * https://www.rabbitmq.com/monitoring.html#health-checks
 */
export const HEALTH = "rabbitmq-diagnostics -q check_running && rabbitmq-diagnostics -q check_local_alarms";

/** Single-quote for sh when needed (names from the inventory end up on command lines). */
const sh = shellWord;

function rollGroupFor(plan: ClusterPlan): string {
  return plan.rollingGroups.find((g) => g.id === "rabbitmq" || g.service === SERVICE_NAME || g.service === "rabbitmq")?.id ?? "rabbitmq";
}

/**
 * What rabbitmq.conf.hbs needs; everything computed here, the template only formats. The
 * classic_config node list is in CLUSTER_FORMATION_CONF, the same on every node: rendered once
 * per cluster (classicConfigNodes), not once per node.
 */
export function rabbitmqConfModel(plan: ClusterPlan, rmq: RabbitMqPlan, node: RabbitMqNode) {
  const guestIsOurs = rmq.username === "guest";
  return {
    clusterName: plan.name,
    nodeName: node.nodeName,
    port: rmq.port,
    partitionHandling: rmq.partitionHandling,
    vhost: rmq.vhost,
    username: rmq.username,
    definitionsPath: DEFINITIONS_PATH,
    guestIsOurs,
    // RabbitMQ's default list is [guest]: keep it unless guest is the account Tower connects with.
    guestLoopback: guestIsOurs ? "false" : "true",
    management: rmq.enableManagement ? { port: rmq.managementPort } : undefined,
  };
}

/** The `cluster_formation.classic_config.nodes.N = ...` lines: every node lists every node. */
export function classicConfigNodes(ctx: RenderContext, rmq: RabbitMqPlan): Fragment {
  return new Fragment(
    ctx.template("rabbitmq", "classic_config_nodes.hbs", { nodes: rmq.nodes.map((n, i) => ({ index: i + 1, nodeName: n.nodeName })) }),
  );
}

/**
 * The node that runs cluster-wide commands about `host`: the first node in plan order that is
 * not `host` itself (forget_cluster_node must run on a remaining member).
 */
function anchorFor(rmq: RabbitMqPlan, host: string): RabbitMqNode | undefined {
  return rmq.nodes.find((n) => n.host !== host);
}

/**
 * True when `nodeName` is listed in this cluster's status. The quotes make the match exact
 * (rabbit@10.0.0.1 must not match rabbit@10.0.0.11).
 */
function isMemberCommand(nodeName: string): string {
  return `rabbitmqctl -q cluster_status --formatter json | grep -qF ${sh(`"${nodeName}"`)}`;
}

/**
 * One action per node, run on another node: create checks that the node joined the cluster
 * (classic_config peer discovery joins on first boot; a node that formed its own cluster shows
 * here); delete makes the cluster forget it. forget_cluster_node refuses a running node, so the
 * delete first stops the app on it (ignored if it is already gone), and it tolerates a node that
 * was already forgotten so a retried destroy converges. RabbitMQ 3.10 also shrinks the node's
 * quorum queue memberships on forget. https://www.rabbitmq.com/clustering.html#removing-nodes
 */
function memberActions(rmq: RabbitMqPlan): ClusterAction[] {
  const actions: ClusterAction[] = [];
  for (const node of rmq.nodes) {
    const anchor = anchorFor(rmq, node.host);
    if (!anchor) continue; // a single-node cluster has nothing to join or forget
    const n = sh(node.nodeName);
    actions.push({
      id: `rabbitmq-member-${node.host}`,
      host: anchor.host,
      phase: "post-start",
      description: `RabbitMQ: ${node.nodeName} is a member of the cluster (forgotten on delete)`,
      // Bounded wait: this runs once the anchor is up, but the node itself restarts later in the
      // rolling chain (one node at a time), so on a first deploy it joins after this starts.
      create:
        `i=0; while [ "$i" -lt 90 ]; do ${isMemberCommand(node.nodeName)} && exit 0; i=$((i+1)); sleep 2; done; ` +
        `echo ${sh(`${node.nodeName} did not join the cluster within 180 s`)} >&2; exit 1`,
      delete:
        `rabbitmqctl -q -n ${n} stop_app >/dev/null 2>&1 || true; ` +
        `rabbitmqctl forget_cluster_node ${n} || ! ${isMemberCommand(node.nodeName)}`,
      dependsOn: [],
      triggers: [],
      secret: false,
    });
  }
  return actions;
}

/** A node's configuration: rabbitmq.conf, the cluster-formation seed list, rabbitmq-env.conf, enabled_plugins. */
function nodeConfigFiles(
  ctx: RenderContext,
  rmq: RabbitMqPlan,
  node: RabbitMqNode,
  nodeList: ReturnType<typeof classicConfigNodes>,
  plugins: readonly string[],
): FileSpec[] {
  const { plan } = ctx;
  const host = node.host;
  const restart = [SERVICE_NAME];
  return [
    {
      host,
      path: RABBITMQ_CONF,
      content: ctx.template("rabbitmq", "rabbitmq.conf.hbs", rabbitmqConfModel(plan, rmq, node)),
      mode: "0640",
      owner: "root",
      group: "rabbitmq",
      secret: false,
      validate: RABBITMQ_CONF_VALIDATE,
      // The check runs load_definitions' file_accessible validator on the definitions file.
      after: [DEFINITIONS_PATH],
      notify: restart,
    },
    {
      host,
      path: CLUSTER_FORMATION_CONF,
      content: ctx.template("rabbitmq", "cluster-formation.conf.hbs", { clusterName: plan.name, nodeList }),
      mode: "0640",
      owner: "root",
      group: "rabbitmq",
      secret: false,
      validate: RABBITMQ_CONF_VALIDATE,
      // Grow or shrink: the running nodes keep running; a new node boots with the list.
      notify: [],
      neededAtStart: restart,
    },
    {
      host,
      path: RABBITMQ_ENV_CONF,
      content: ctx.template("rabbitmq", "rabbitmq-env.conf.hbs", {
        nodeName: sh(node.nodeName),
        useLongName: rmq.useLongName ? "true" : "false",
      }),
      mode: "0644",
      owner: "root",
      group: "root",
      secret: false,
      validate: "sh -n {file}",
      notify: restart,
    },
    {
      host,
      path: ENABLED_PLUGINS,
      content: ctx.template("rabbitmq", "enabled_plugins.hbs", { plugins }),
      // rabbitmq-plugins (run as rabbitmq) rewrites this file.
      mode: "0644",
      owner: "rabbitmq",
      group: "rabbitmq",
      secret: false,
      notify: restart,
    },
  ];
}

/**
 * The node's restart with the rejoin check around it. Only the command haforge runs changes (a
 * restart runs when the files it follows change, not when its command does), so an upgrade
 * restarts no running broker, and the server's own start (unit, program) is the packaged one.
 * The peers to ask come from the seed file (CLUSTER_FORMATION_CONF), not the command: a command
 * naming them changed on every grow and shrink, an update of every staying node's restart.
 */
export function rejoinRestart(node: RabbitMqNode, restart: string): string {
  const me = sh(node.nodeName);
  return [`/bin/sh ${REJOIN_SCRIPT} before ${me}`, restart, `/bin/sh ${REJOIN_SCRIPT} after ${me}`].map((c) => `{ ${c}; }`).join(" && ");
}

/** A node's secret files: the definitions (with the password hash) and the Erlang cookie. */
function nodeSecretFiles(host: string, definitions: string, cookie: string): FileSpec[] {
  const restart = [SERVICE_NAME];
  return [
    {
      host,
      path: DEFINITIONS_PATH,
      content: definitions,
      mode: "0640",
      owner: "root",
      group: "rabbitmq",
      // Holds the password hash: as sensitive as the password for an offline guessing attack.
      secret: true,
      // No validate: JSON.stringify output; a bad definition is rejected by the import action.
      // No restart: the rabbitmq-definitions action re-imports it live when it changes.
      notify: [],
    },
    {
      host,
      path: ERLANG_COOKIE,
      // Erlang refuses a cookie readable by others; no trailing newline, as RabbitMQ writes it.
      content: cookie,
      mode: "0400",
      owner: "rabbitmq",
      group: "rabbitmq",
      secret: true,
      // A new cookie cannot be rolled: restarted nodes no longer reach the others until all
      // have it. The restart is still right (the old cookie is gone from disk).
      notify: restart,
    },
  ];
}

function render(ctx: RenderContext): RenderResult {
  const { plan } = ctx;
  const rmq = plan.rabbitmq;
  if (!rmq || rmq.nodes.length === 0) return { files: [], services: [], actions: [] };
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const init = new Map(plan.hosts.map((h) => [h.name, h.init]));
  const password = resolveSecret(rmq.password, ctx.secrets);
  const cookie = resolveSecret(rmq.cookie, ctx.secrets);
  const definitions = definitionsJson(definitionsModel(plan.name, rmq, password));
  const plugins = rmq.enableManagement ? ["rabbitmq_management"] : [];
  const rollGroup = rollGroupFor(plan);
  const nodeList = classicConfigNodes(ctx, rmq);

  for (const node of rmq.nodes) {
    const host = node.host;
    files.push(...nodeConfigFiles(ctx, rmq, node, nodeList, plugins), ...nodeSecretFiles(host, definitions, cookie));
    // systemd: Debian's rabbitmq-server.service as packaged (Type=notify, User=rabbitmq,
    // LimitNOFILE=65536, `rabbitmqctl stop`, 600 s start timeout): nothing to add.
    const d = packagedDaemon({
      host,
      init: init.get(host) ?? "systemd",
      name: SERVICE_NAME,
      description: `RabbitMQ node ${node.nodeName}`,
      command: SERVER_COMMAND,
      user: "rabbitmq",
      group: "rabbitmq",
      workingDirectory: "/var/lib/rabbitmq",
      // supervisord does not set HOME for `user=`; Erlang finds the cookie through it.
      environment: { HOME: "/var/lib/rabbitmq" },
      health: HEALTH,
      rollGroup,
      // https://www.rabbitmq.com/install-debian.html#kernel-resource-limits
      limitNofile: 65536,
      // A node with a bad config dies within seconds; a clean stop with quorum queues can take long.
      startsecs: 10,
      stopwaitsecs: 120,
    });
    files.push(...d.files, {
      host,
      path: REJOIN_SCRIPT,
      content: staticFile("rabbitmq", "rabbitmq-rejoin.sh"),
      mode: "0755",
      owner: "root",
      group: "root",
      secret: false,
      validate: "sh -n {file}",
      // Run by haforge's restart only, never by the server: a new or changed script restarts nothing.
      notify: [],
      neededAtStart: [SERVICE_NAME],
    });
    services.push({ ...d.service, restart: rejoinRestart(node, d.service.restart) });
  }

  const first = rmq.nodes[0]!;
  const actions: ClusterAction[] = [
    {
      id: "rabbitmq-definitions",
      host: first.host,
      phase: "converge",
      description: `RabbitMQ: import ${DEFINITIONS_PATH} (vhost, user, permissions) into the running cluster`,
      // The path only: the password is in the (secret) file, never on the command line.
      create: `rabbitmqctl -q import_definitions ${DEFINITIONS_PATH}`,
      dependsOn: [],
      triggers: [DEFINITIONS_PATH],
      secret: false,
    },
    ...memberActions(rmq),
  ];
  return { files, services, actions };
}

/** rabbitmq renderer: files, services, cluster actions (and materials it needs). */
export const renderPart: Pick<ServiceModule, "render" | "materials"> = { render };
