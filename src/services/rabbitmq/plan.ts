/**
 * RabbitMQ plan step: the nodes and their Erlang node names, long vs short names, cookie and
 * credentials rules, quorum math and the rolling group.
 *
 * Node names are `rabbit@<host part>`; the host part is the host's `rabbitmq_host` (internal
 * address) when set, else its inventory name — as the Tower installer names them. Erlang
 * distribution has two incompatible modes: short names (`-sname`, host part without dots) and long
 * names (`-name`, FQDN or IP). Erlang refuses `-sname rabbit@10.1.0.11` ("Can't set short node
 * name!"), and a short-name node cannot talk to a long-name node, so every node of a cluster must
 * use the same mode and it must fit the addressing
 * (https://www.rabbitmq.com/docs/clustering#node-names, RABBITMQ_USE_LONGNAME in
 * https://www.rabbitmq.com/docs/configure#supported-environment-variables). The Tower doc says
 * `rabbitmq_use_long_name` "cannot be detected": from the inventory it can, so we derive it.
 */
import { checkHostList, hostEntries } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import { RabbitMq, type SecretRef } from "../../inventory/schema";
import { majorityQuorum } from "../../plan/quorum";
import type { RabbitMqNode, RabbitMqPlan, RollingGroup } from "../../plan/types";
import { towerInstances } from "../tower/plan";
import type { PlanContext, PlanStep } from "../types";

export type NameKind = "short" | "fqdn" | "ipv4" | "ipv6";

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** How Erlang will see the host part of a node name. */
export function nameKind(hostPart: string): NameKind {
  if (IPV4.test(hostPart)) return "ipv4";
  if (hostPart.includes(":")) return "ipv6";
  return hostPart.includes(".") ? "fqdn" : "short";
}

export const needsLongName = (kind: NameKind): boolean => kind !== "short";

/** Default Erlang cookie of the Tower installer: public, so guessable. */
export const TOWER_DEFAULT_COOKIE = "cookiemonster";

/** RabbitMQ's inter-node (distribution) port is the AMQP port + 20000 unless set otherwise. */
const DIST_PORT_OFFSET = 20000;

const literal = (ref: SecretRef): string | undefined => ("value" in ref ? ref.value : undefined);

/**
 * The RabbitMqPlan over `derived.nodes`. The broker settings are the inventory section's (defaults
 * applied) on every target; what each target derives on its own is the nodes, the naming mode
 * and the quorum (SSH: from the hosts, here; Kubernetes: from the pods, k8s-topology.ts).
 */
export function rabbitMqSlice(
  rmq: RabbitMq,
  derived: Pick<RabbitMqPlan, "nodes" | "useLongName" | "useLongNameDerived" | "quorum">,
): RabbitMqPlan {
  return {
    nodes: derived.nodes,
    useLongName: derived.useLongName,
    useLongNameDerived: derived.useLongNameDerived,
    port: rmq.port,
    vhost: rmq.vhost,
    username: rmq.username,
    password: rmq.password,
    cookie: rmq.cookie,
    enableManagement: rmq.enableManagement,
    managementPort: rmq.managementPort,
    partitionHandling: rmq.partitionHandling,
    quorum: derived.quorum,
  };
}

type RabbitMqSection = ReturnType<typeof RabbitMq.parse>;

export function plan(ctx: PlanContext): PlanStep {
  const { inventory } = ctx;
  if (!inventory.rabbitmq && !inventory.tower) return { findings: [], patch: {} };
  const findings: Finding[] = [];
  const rmq = inventory.rabbitmq ?? RabbitMq.parse({});
  const hostIndex = new Map<string, number>();
  inventory.hosts.forEach((h, i) => {
    if (!hostIndex.has(h.name)) hostIndex.set(h.name, i);
  });
  const nodeHosts = planNodeHosts(ctx, rmq, hostIndex, findings);
  if (nodeHosts.length === 0) return { findings, patch: {} };
  const { nodes, useLongName } = planNodeNames(ctx, rmq, nodeHosts, hostIndex, findings);
  findings.push(...secretRules(rmq, nodes.length), ...portRules(rmq));
  const quorum = majorityQuorum(nodes.length);
  findings.push(...partitionRules(rmq, nodes.length, quorum));

  const rabbitmq = rabbitMqSlice(rmq, { nodes, useLongName, useLongNameDerived: rmq.useLongName === undefined, quorum });
  // pause_minority: a node that restarts is a minority of one for a moment; never take down more
  // than one, and restart in inventory order so a roll is reproducible.
  const rolling: RollingGroup = { id: "rabbitmq", service: "rabbitmq-server", hosts: nodes.map((n) => n.host), maxUnavailable: 1, quorum };
  const roles: Record<string, string[]> = {};
  for (const n of nodes) roles[n.host] = ["rabbitmq"];
  return { findings, patch: { rabbitmq, rollingGroups: [rolling] }, roles };
}

/** Which hosts run a node: `rabbitmq.nodes`, else every Tower instance. */
function planNodeHosts(ctx: PlanContext, rmq: RabbitMqSection, hostIndex: ReadonlyMap<string, number>, findings: Finding[]): string[] {
  const { inventory } = ctx;
  let nodeHosts: string[];
  if (rmq.nodes !== undefined) {
    nodeHosts = checkHostList(
      hostEntries(rmq.nodes, (j) => `rabbitmq.nodes[${j}]`),
      {
        known: (h) => hostIndex.has(h),
        unknown: (h, path) =>
          error(
            "rabbitmq.unknown-host",
            path,
            `RabbitMQ node ${JSON.stringify(h)} is not defined in hosts`,
            `Add ${JSON.stringify(h)} to hosts or fix the spelling.`,
          ),
        duplicate: (h, path) => error("rabbitmq.duplicate-node", path, `host ${JSON.stringify(h)} is listed twice as a RabbitMQ node`),
      },
      findings,
    ).map((e) => e.host);
    if (rmq.nodes.length === 0)
      findings.push(
        error(
          "rabbitmq.no-nodes",
          "rabbitmq.nodes",
          "rabbitmq.nodes is empty",
          "List the hosts that run RabbitMQ, or drop `nodes` to use every Tower instance.",
        ),
      );
  } else {
    // Every Tower instance runs a RabbitMQ node (Tower clustering doc: "Each AWX/Tower instance has
    // a deployment of RabbitMQ which will cluster with the other instances' RabbitMQ instances").
    nodeHosts = towerInstances(inventory);
    // (On a Kubernetes target the nodes are pods: kubernetes.replicas.rabbitmq, see kubernetes.ts.)
    if (nodeHosts.length === 0 && !inventory.tower && inventory.target !== "kubernetes") {
      findings.push(
        error(
          "rabbitmq.no-nodes",
          "rabbitmq.nodes",
          "no RabbitMQ nodes: there is no tower section to take instances from and rabbitmq.nodes is not set",
          "Set rabbitmq.nodes to the hosts that run RabbitMQ.",
        ),
      );
    }
  }
  return nodeHosts;
}

/** Node names (`rabbit@host`) and long/short naming, derived from how the nodes are addressed. */
function planNodeNames(
  ctx: PlanContext,
  rmq: RabbitMqSection,
  nodeHosts: readonly string[],
  hostIndex: ReadonlyMap<string, number>,
  findings: Finding[],
): { nodes: RabbitMqNode[]; useLongName: boolean } {
  const { inventory } = ctx;
  const info = nodeHosts.map((name) => {
    const idx = hostIndex.get(name)!;
    const h = inventory.hosts[idx]!;
    const hostPart = h.internalAddress ?? h.name;
    const kind = nameKind(hostPart);
    return {
      name,
      hostPart,
      kind,
      long: needsLongName(kind),
      path: h.internalAddress !== undefined ? `hosts[${idx}].internalAddress` : `hosts[${idx}].name`,
      address: ctx.hosts.get(name)?.internalAddress ?? h.internalAddress ?? h.address,
    };
  });
  const longOnes = info.filter((n) => n.long);
  const shortOnes = info.filter((n) => !n.long);
  const mixed = longOnes.length > 0 && shortOnes.length > 0;
  const derived = longOnes.length > 0;
  if (mixed) {
    const minority = shortOnes.length <= longOnes.length ? shortOnes : longOnes;
    const describeNodes = (list: typeof info) => list.map((n) => `${n.name} (${n.hostPart})`).join(", ");
    findings.push(
      error(
        "rabbitmq.mixed-name-lengths",
        minority[0]!.path,
        `RabbitMQ nodes mix short names (${describeNodes(shortOnes)}) and long names (${describeNodes(longOnes)}); Erlang nodes with short and long names cannot cluster`,
        "Address every node the same way: all FQDNs/IPs (set rabbitmq_host to the internal IP) or all short host names.",
      ),
    );
  } else if (rmq.useLongName !== undefined && rmq.useLongName !== derived) {
    const example = info[0]!;
    findings.push(
      error(
        "rabbitmq.long-name-mismatch",
        "rabbitmq.useLongName",
        rmq.useLongName
          ? `useLongName (rabbitmq_use_long_name) is true but the nodes are addressed by short names (e.g. ${JSON.stringify(example.hostPart)}); long names need an FQDN or an IP`
          : `useLongName (rabbitmq_use_long_name) is false but the nodes are ` +
              `addressed by ${example.kind === "fqdn" ? "FQDN" : "IP address"} ` +
              `(e.g. ${JSON.stringify(example.hostPart)}); Erlang refuses such a short node name ("Can't set short node name!")`,
        `Set it to ${derived}, or remove it: haforge derives it from the addressing.`,
      ),
    );
  }
  const useLongName = rmq.useLongName ?? derived;
  const nodes: RabbitMqNode[] = info.map((n) => ({
    host: n.name,
    // With short names Erlang uses the first label only; with long names the whole FQDN/IP.
    nodeName: `rabbit@${useLongName ? n.hostPart : n.hostPart.split(".")[0]}`,
    address: n.address,
  }));
  findings.push(...nodeNameRules(info, nodes));
  return { nodes, useLongName };
}

/** Each node name: a valid Erlang host part, no IPv6 literal, no two hosts with the same node name. */
function nodeNameRules(
  info: readonly { name: string; hostPart: string; kind: string; path: string }[],
  nodes: readonly RabbitMqNode[],
): Finding[] {
  const findings: Finding[] = [];
  for (const n of info) {
    if (!/^[A-Za-z0-9._:-]+$/.test(n.hostPart)) {
      findings.push(
        error(
          "rabbitmq.invalid-node-host",
          n.path,
          `${JSON.stringify(n.hostPart)} cannot be the host part of an Erlang node name`,
          "Use a DNS name or an IP address.",
        ),
      );
    }
    if (n.kind === "ipv6") {
      findings.push(
        warning(
          "rabbitmq.ipv6-node-name",
          n.path,
          `node ${n.name} would be named rabbit@${n.hostPart}: IPv6 literals in Erlang node names need inet6 distribution and are poorly supported`,
          "Give the node a DNS name (FQDN) that resolves to its IPv6 address.",
        ),
      );
    }
  }
  const seenNode = new Map<string, string>();
  nodes.forEach((n, i) => {
    const prev = seenNode.get(n.nodeName.toLowerCase());
    if (prev !== undefined) {
      findings.push(
        error(
          "rabbitmq.duplicate-node-name",
          info[i]!.path,
          `hosts ${JSON.stringify(prev)} and ${JSON.stringify(n.host)} would both be RabbitMQ node ${JSON.stringify(n.nodeName)}`,
          "Give each node its own rabbitmq_host / host name.",
        ),
      );
    } else seenNode.set(n.nodeName.toLowerCase(), n.host);
  });

  return findings;
}

/** The Erlang cookie and the user's password, where they are literals. */
function secretRules(rmq: RabbitMqSection, nodeCount: number): Finding[] {
  const findings: Finding[] = [];
  const cookie = literal(rmq.cookie);
  if (nodeCount > 1 && cookie === "") {
    findings.push(
      error(
        "rabbitmq.cookie-empty",
        "rabbitmq.cookie",
        `the Erlang cookie (rabbitmq_cookie) is empty on a ${nodeCount}-node RabbitMQ cluster`,
        "Nodes authenticate each other with the cookie: set rabbitmq_cookie (YAML: rabbitmq.cookie: { secret: rabbitmqCookie }).",
      ),
    );
  } else if (nodeCount >= 1 && cookie === TOWER_DEFAULT_COOKIE) {
    // A single node too: its distribution port listens on every interface, and the cookie is public.
    const what = nodeCount > 1 ? "join the cluster" : "connect to the node as an Erlang peer";
    findings.push(
      warning(
        "rabbitmq.cookie-default",
        "rabbitmq.cookie",
        `the Erlang cookie is Tower's default ${JSON.stringify(TOWER_DEFAULT_COOKIE)}: anyone who reaches ` +
          `port ${rmq.port + DIST_PORT_OFFSET} (it listens on every interface) can ${what} and run code on it`,
        "Set a random rabbitmq_cookie (YAML: rabbitmq.cookie: { secret: rabbitmqCookie }).",
      ),
    );
  }
  if (cookie !== undefined && cookie.length > 255) {
    findings.push(
      error("rabbitmq.cookie-too-long", "rabbitmq.cookie", `the Erlang cookie is ${cookie.length} characters; Erlang accepts at most 255`),
    );
  }
  if (literal(rmq.password) === "") {
    findings.push(
      warning(
        "rabbitmq.password-empty",
        "rabbitmq.password",
        `the RabbitMQ password of user ${JSON.stringify(rmq.username)} (rabbitmq_password) is empty`,
        "Set rabbitmq_password (YAML: rabbitmq.password: { secret: rabbitmqPassword }).",
      ),
    );
  }

  return findings;
}

/** The AMQP, inter-node and management ports. */
function portRules(rmq: RabbitMqSection): Finding[] {
  const findings: Finding[] = [];
  if (rmq.port + DIST_PORT_OFFSET > 65535) {
    findings.push(
      error(
        "rabbitmq.dist-port-out-of-range",
        "rabbitmq.port",
        `AMQP port ${rmq.port} puts the inter-node port at ${rmq.port + DIST_PORT_OFFSET} (port + ${DIST_PORT_OFFSET}), beyond 65535`,
        "Use a port below 45536 (https://www.rabbitmq.com/docs/networking#ports).",
      ),
    );
  }
  if (rmq.enableManagement && rmq.managementPort === rmq.port) {
    findings.push(
      error("rabbitmq.port-conflict", "rabbitmq.managementPort", `the management UI and AMQP would both listen on port ${rmq.port}`),
    );
  }

  return findings;
}

/** Partition handling against the node count. */
function partitionRules(rmq: RabbitMqSection, nodeCount: number, quorum: ReturnType<typeof majorityQuorum>): Finding[] {
  const findings: Finding[] = [];
  if (nodeCount === 2 && rmq.partitionHandling === "pause_minority") {
    findings.push(
      warning(
        "rabbitmq.pause-minority-two-nodes",
        "rabbitmq.partitionHandling",
        "pause_minority on 2 nodes: on a partition each side is a minority (1 of 2) and both pause",
        "Use 3 nodes (an odd count) or accept the outage (https://www.rabbitmq.com/docs/partitions).",
      ),
    );
  } else if (nodeCount >= 4 && nodeCount % 2 === 0) {
    findings.push(
      warning(
        "rabbitmq.even-node-count",
        "rabbitmq.nodes",
        `${nodeCount} RabbitMQ nodes tolerate ${quorum.failuresTolerated} failure(s), no more than ${nodeCount - 1} would`,
        "An odd number of nodes gets the most out of a majority.",
      ),
    );
  }
  if (nodeCount > 1 && rmq.partitionHandling === "ignore") {
    findings.push(
      warning(
        "rabbitmq.partition-handling-ignore",
        "rabbitmq.partitionHandling",
        "partitionHandling ignore: after a network partition both sides keep accepting messages and diverge",
        "Use pause_minority (the default) unless the network is known never to partition.",
      ),
    );
  }

  return findings;
}
