/**
 * Pacemaker/Corosync plan step: membership, Corosync transport and quorum, fencing, layouts, and
 * the CIB rules in ./resources.ts.
 *
 * Sources of the rules:
 * - corosync.conf(5): knet allows up to 8 interface (link) directives, udp/udpu exactly 1; crypto
 *   is knet only, and a cipher needs a hash.
 * - votequorum(5): two_node sets quorum to 1 and turns wait_for_all on; auto_tie_breaker and
 *   last_man_standing disable a quorum device.
 * - Pacemaker Remote (https://clusterlabs.org/pacemaker/doc/2.1/Pacemaker_Remote/html/intro.html):
 *   a full cluster scales to ~16 nodes (32 is the hard ceiling); beyond that, pacemaker_remote.
 * - OpenStack HA guide / linux-system-roles ha_cluster: 3+ nodes, fencing on.
 */
import { clusterUnits, doublyRunFindings, haforgeRuns } from "./owned";
import { checkHostList, hostEntries, hostListChecker } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import type { PacemakerCluster } from "../../inventory/schema";
import { ipFamily } from "../../plan/network";
import { corosyncQuorum } from "../../plan/quorum";
import type { PacemakerClusterPlan, PacemakerNodePlan, PlannedHost, RollingGroup } from "../../plan/types";
import type { PlanContext, PlanStep } from "../types";
import { checkResources, quoteList } from "./resources";
import { allPacemakerVips } from "./vips";

/** Corosync's knet link limit (corosync.conf(5), "interface"). */
export const MAX_KNET_LINKS = 8;
/** Above this, a full-stack cluster is past what Pacemaker recommends. */
export const RECOMMENDED_MAX_NODES = 16;
/** Corosync/Pacemaker's supported ceiling for full cluster nodes. */
export const MAX_NODES = 32;

/** Pacemaker's crm_is_true / crm_str_to_boolean spellings. */
export function pcmkBoolean(v: string | number | boolean | undefined): boolean | undefined | "invalid" {
  if (v === undefined) return undefined;
  if (typeof v === "boolean") return v;
  const t = String(v).trim().toLowerCase();
  if (["true", "on", "yes", "y", "1"].includes(t)) return true;
  if (["false", "off", "no", "n", "0"].includes(t)) return false;
  return "invalid";
}

interface NodeIn {
  readonly host: string;
  readonly nodeid?: number;
  readonly addrs?: readonly string[];
  readonly index: number;
}

type PacemakerSection = NonNullable<PlanContext["inventory"]["pacemaker"]>;
/** Where each host is a member, for the all-in-one rule. */
type MemberOf = Map<string, { cluster: string; path: string }>;

/** Cluster names identify corosync cluster_name, material keys and rolling groups: each used once. */
function clusterNameFindings(section: PacemakerSection): Finding[] {
  const findings: Finding[] = [];
  const names = new Map<string, number>();
  section.clusters.forEach((c, ci) => {
    const prev = names.get(c.name);
    if (prev !== undefined)
      findings.push(
        error(
          "pacemaker.duplicate-cluster",
          `pacemaker.clusters[${ci}].name`,
          `cluster name '${c.name}' is already used by pacemaker.clusters[${prev}]`,
          "Give every cluster its own name.",
        ),
      );
    else names.set(c.name, ci);
  });
  return findings;
}

/** One VIP, one cluster: two clusters moving the same address fight over it. */
function vipOwnerFindings(section: PacemakerSection): Finding[] {
  const findings: Finding[] = [];
  const vipOwner = new Map<string, string>();
  for (const v of allPacemakerVips(section.clusters)) {
    const prev = vipOwner.get(v.address);
    if (prev !== undefined && !prev.startsWith(`${v.cluster}/`))
      findings.push(
        error(
          "pacemaker.duplicate-vip",
          v.path,
          `VIP '${v.address}' of '${v.id}' in cluster '${v.cluster}' is also managed by '${prev.split("/")[1]}' in cluster '${prev.split("/")[0]}'`,
          "Give each VIP to one cluster.",
        ),
      );
    if (prev === undefined) vipOwner.set(v.address, `${v.cluster}/${v.id}`);
  }
  return findings;
}

/** The all-in-one layout runs one cluster per host: a node of an earlier cluster is a finding. */
function multiClusterFindings(
  c: PacemakerCluster,
  base: string,
  nodes: readonly PacemakerNodePlan[],
  memberOf: MemberOf,
  layout: string,
): Finding[] {
  const findings: Finding[] = [];
  for (const n of nodes) {
    const path = `${base}.nodes[${c.nodes.findIndex((x) => (typeof x === "string" ? x : x.host) === n.host)}]`;
    const prev = memberOf.get(n.host);
    if (prev && prev.cluster !== c.name && layout === "all-in-one")
      findings.push(
        error(
          "pacemaker.host-in-multiple-clusters",
          path,
          `host '${n.host}' is a node of cluster '${prev.cluster}' (${prev.path}) and of cluster '${c.name}', but \`layout\` is 'all-in-one'`,
          "The all-in-one layout runs one cluster per host: keep each host in one cluster, or use `layout: per-service`.",
        ),
      );
    if (!prev) memberOf.set(n.host, { cluster: c.name, path });
  }
  return findings;
}

/** The cluster's quorum, fencing, counts, transport, remote nodes and resources checked. */
function clusterRules(ctx: PlanContext, c: PacemakerCluster, base: string, nodes: readonly PacemakerNodePlan[], findings: Finding[]) {
  const q = planQuorum(
    c,
    base,
    nodes.length,
    ctx.hosts,
    nodes.map((n) => n.host),
  );
  findings.push(...q.findings);
  const fencing = planFencing(c, base, nodes.length);
  findings.push(...fencing.findings);
  findings.push(...planCounts(c, base, nodes.length, fencing.stonithEnabled, fencing.devices));
  findings.push(...planTransport(c, base, nodes));
  findings.push(
    ...planRemotes(
      c,
      base,
      nodes.map((n) => n.host),
      ctx.hosts,
    ),
  );
  findings.push(
    ...checkResources(
      c,
      base,
      nodes.map((n) => n.host),
      ctx.hosts,
    ),
  );

  const nqp = String(c.properties["no-quorum-policy"] ?? "").toLowerCase();
  if (nqp === "ignore" && nodes.length > 1)
    findings.push(
      warning(
        "pacemaker.no-quorum-policy-ignore",
        `${base}.properties.no-quorum-policy`,
        `cluster '${c.name}' sets \`no-quorum-policy\` 'ignore': a partition without quorum keeps running resources`,
        "Leave it at the default 'stop' (or 'freeze'); for two nodes use `quorum.twoNode: true` with fencing instead.",
      ),
    );
  return { q, fencing };
}

/**
 * One cluster planned: its nodes, the rules on it, its roles' hosts and its rolling group (one
 * node at a time; a cluster that cannot lose a node is flagged because every restart of it is an
 * outage).
 */
function planOneCluster(ctx: PlanContext, c: PacemakerCluster, ci: number, memberOf: MemberOf, layout: string) {
  const base = `pacemaker.clusters[${ci}]`;
  const findings: Finding[] = [];
  const rolling: RollingGroup[] = [];
  const { nodes, findings: nodeFindings } = planNodes(c, base, ctx.hosts);
  findings.push(...nodeFindings);
  findings.push(...multiClusterFindings(c, base, nodes, memberOf, layout));
  const { q, fencing } = clusterRules(ctx, c, base, nodes, findings);
  const planned: PacemakerClusterPlan = {
    name: c.name,
    nodes,
    remoteNodes: [...new Set(c.remoteNodes.filter((r) => ctx.hosts.has(r)))],
    quorum: q.quorum,
    units: [...clusterUnits(c, layout).keys()].sort(),
    stonithEnabled: fencing.stonithEnabled,
    spec: c,
  };

  // Rolling restarts: one node at a time, and a cluster that cannot lose a node is flagged
  // because every restart of it is an outage.
  if (nodes.length > 0) {
    const { expectedVotes, quorum, failuresTolerated } = q.quorum;
    rolling.push({
      id: `pacemaker:${c.name}`,
      service: "pacemaker",
      hosts: nodes.map((n) => n.host),
      maxUnavailable: 1,
      quorum: { expectedVotes, quorum, failuresTolerated },
    });
    if (q.quorum.failuresTolerated === 0)
      findings.push(
        warning(
          "pacemaker.no-failure-tolerance",
          `${base}.nodes`,
          `cluster '${c.name}' tolerates 0 node failures (${nodes.length} node(s), quorum ${q.quorum.quorum} of ${q.quorum.expectedVotes} votes): a rolling restart stops its resources`,
          "Add nodes (3 or more), or a qdevice.",
        ),
      );
  }
  return { planned, rolling, findings };
}

export function plan(ctx: PlanContext): PlanStep {
  const section = ctx.inventory.pacemaker;
  if (!section) return { findings: [], patch: {} };
  const findings: Finding[] = [];
  const roles: Record<string, string[]> = {};
  const addRole = (host: string, role: string) => {
    if (!ctx.hosts.has(host)) return;
    if (!(roles[host] ??= []).includes(role)) roles[host].push(role);
  };
  const layout = section.layout;
  const clusters: PacemakerClusterPlan[] = [];
  const rolling: RollingGroup[] = [];

  if (ctx.inventory.target === "kubernetes" && section.clusters.length > 0)
    findings.push(
      warning(
        "pacemaker.ignored-on-kubernetes",
        "pacemaker",
        `\`target\` is 'kubernetes' but \`pacemaker\` defines ${section.clusters.length} cluster(s); they are planned for SSH hosts only`,
        "Kubernetes restarts pods itself; drop the `pacemaker` section or use `target: ssh`.",
      ),
    );

  findings.push(...clusterNameFindings(section));

  findings.push(...checkLayout(section.layout, section.clusters));

  findings.push(...vipOwnerFindings(section));

  // Where each host is a member, for the all-in-one rule.
  const memberOf: MemberOf = new Map();

  section.clusters.forEach((c, ci) => {
    const one = planOneCluster(ctx, c, ci, memberOf, layout);
    findings.push(...one.findings);
    clusters.push(one.planned);
    rolling.push(...one.rolling);
    for (const n of one.planned.nodes) addRole(n.host, `pacemaker:${c.name}`);
    for (const r of one.planned.remoteNodes) addRole(r, `pacemaker-remote:${c.name}`);
    if (c.quorum.qdevice) addRole(c.quorum.qdevice.host, "corosync-qnetd");
  });

  // A daemon Pacemaker runs is never also run by haforge (owned.ts).
  findings.push(
    ...doublyRunFindings(
      ctx.inventory,
      haforgeRuns(
        ctx.inventory,
        (ctx.plan.rabbitmq?.nodes ?? []).map((n) => n.host),
        (ctx.plan.quorumStore?.members ?? []).map((m) => m.host),
      ),
    ),
  );

  return { findings, patch: { pacemakerClusters: clusters, pacemakerLayout: layout, rollingGroups: rolling }, roles };
}

/** Nodes: inventory hosts, no duplicates, unique nodeids; ids 1..n in order unless given. */
function planNodes(
  c: PacemakerCluster,
  base: string,
  hosts: ReadonlyMap<string, PlannedHost>,
): { nodes: PacemakerNodePlan[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const raw: NodeIn[] = c.nodes.map((n, index) => (typeof n === "string" ? { host: n, index } : { ...n, index }));
  const listed = hostListChecker(
    {
      known: (host) => hosts.has(host),
      unknown: (host, path) =>
        error(
          "pacemaker.unknown-host",
          path,
          `node '${host}' of cluster '${c.name}' is not an inventory host`,
          "Add it under `hosts` or fix the name.",
        ),
      duplicate: (host, path) =>
        error(
          "pacemaker.duplicate-node",
          path,
          `host '${host}' is listed twice in the nodes of cluster '${c.name}'`,
          "List each node once.",
        ),
    },
    findings,
  );
  const kept = raw.filter((n) => listed({ host: n.host, path: `${base}.nodes[${n.index}]`, index: n.index }));
  const ids = new Map<number, string>();
  for (const n of kept) {
    if (n.nodeid === undefined) continue;
    const prev = ids.get(n.nodeid);
    if (prev !== undefined)
      findings.push(
        error(
          "pacemaker.duplicate-nodeid",
          `${base}.nodes[${n.index}].nodeid`,
          `nodeid ${n.nodeid} of node '${n.host}' is already the nodeid of '${prev}' in cluster '${c.name}'`,
          "Corosync identifies members by nodeid: give every node its own.",
        ),
      );
    else ids.set(n.nodeid, n.host);
  }
  // Nodes without an explicit nodeid take the lowest free id, in order, so adding an id to one
  // node never renumbers the others.
  let next = 1;
  const nodes = kept.map((n) => {
    let nodeid = n.nodeid;
    if (nodeid === undefined) {
      while (ids.has(next)) next++;
      nodeid = next;
      ids.set(next, n.host);
    }
    const host = hosts.get(n.host)!;
    return { host: n.host, nodeid, addrs: n.addrs ?? [host.internalAddress] };
  });
  return { nodes, findings };
}

function planLayoutMessage(layout: string): string {
  return `\`layout\` is '${layout}'`;
}

/** Layout rules: all-in-one = one cluster; lightweight needs exactly one cluster carrying `lightweight`. */
function checkLayout(layout: "per-service" | "all-in-one" | "lightweight", clusters: readonly PacemakerCluster[]): Finding[] {
  const findings: Finding[] = [];
  if (layout === "all-in-one" && clusters.length > 1)
    findings.push(
      error(
        "pacemaker.all-in-one-multiple-clusters",
        "pacemaker.clusters",
        `${planLayoutMessage(layout)} but ${clusters.length} clusters are defined (${quoteList(clusters.map((c) => c.name))})`,
        "All-in-one runs every resource in one cluster: merge them, or use `layout: per-service`.",
      ),
    );
  const light = clusters.map((c, i) => ({ c, i })).filter((x) => x.c.lightweight !== undefined);
  if (layout === "lightweight" && light.length === 0)
    findings.push(
      error(
        "pacemaker.lightweight-missing",
        "pacemaker.layout",
        `${planLayoutMessage(layout)} but no cluster has a \`lightweight\` section`,
        "Add `lightweight: { vips: [...], systemdServices: [...] }` to the controllers' cluster.",
      ),
    );
  if (layout === "lightweight" && light.length > 1)
    light
      .slice(1)
      .forEach(({ c, i }) =>
        findings.push(
          error(
            "pacemaker.lightweight-multiple",
            `pacemaker.clusters[${i}].lightweight`,
            `cluster '${c.name}' carries a \`lightweight\` section, and so does cluster '${light[0]!.c.name}'`,
            "The lightweight layout has one controllers' cluster.",
          ),
        ),
      );
  if (layout !== "lightweight")
    light.forEach(({ c, i }) =>
      findings.push(
        error(
          "pacemaker.lightweight-layout-required",
          `pacemaker.clusters[${i}].lightweight`,
          `cluster '${c.name}' carries a \`lightweight\` section but ${planLayoutMessage(layout)}`,
          "Set `pacemaker.layout: lightweight`, or drop the `lightweight` section.",
        ),
      ),
    );
  for (const { c, i } of light) {
    const lw = c.lightweight!;
    const base = `pacemaker.clusters[${i}].lightweight`;
    lw.systemdServices.forEach((s, si) => {
      if ((lw.managed as readonly string[]).includes(s))
        findings.push(
          error(
            "pacemaker.lightweight-overlap",
            `${base}.systemdServices[${si}]`,
            `service '${s}' is in both \`managed\` (Pacemaker) and \`systemdServices\` of cluster '${c.name}'`,
            "A service has one manager: Pacemaker or the init system, never both.",
          ),
        );
    });
  }
  return findings;
}

/** votequorum settings and math. */
function planQuorum(
  c: PacemakerCluster,
  base: string,
  n: number,
  hosts: ReadonlyMap<string, PlannedHost>,
  nodeHosts: readonly string[],
): { quorum: PacemakerClusterPlan["quorum"]; findings: Finding[] } {
  const findings: Finding[] = [];
  const q = c.quorum;
  if (q.twoNode && n > 2)
    findings.push(
      error(
        "pacemaker.two-node-too-many-nodes",
        `${base}.quorum.twoNode`,
        `cluster '${c.name}' sets \`quorum.twoNode\` but has ${n} nodes`,
        "two_node is for exactly 2 nodes (votequorum(5)); remove it for 3 or more.",
      ),
    );
  if (q.qdevice) {
    const incompatible = [q.autoTieBreaker && "autoTieBreaker", q.lastManStanding && "lastManStanding", q.twoNode && "twoNode"].filter(
      Boolean,
    ) as string[];
    if (incompatible.length > 0)
      findings.push(
        error(
          "pacemaker.qdevice-incompatible",
          `${base}.quorum`,
          `cluster '${c.name}' has a \`quorum.qdevice\` and ${incompatible.map((x) => `\`quorum.${x}\``).join(", ")}: votequorum disables the quorum device when they are set`,
          "Use either the qdevice or auto_tie_breaker/last_man_standing/two_node, not both (votequorum(5)).",
        ),
      );
    if (!hosts.has(q.qdevice.host))
      findings.push(
        error(
          "pacemaker.unknown-host",
          `${base}.quorum.qdevice.host`,
          `qdevice host '${q.qdevice.host}' of cluster '${c.name}' is not an inventory host`,
          "Add the qnetd host under `hosts`.",
        ),
      );
    else if (nodeHosts.includes(q.qdevice.host))
      findings.push(
        error(
          "pacemaker.qdevice-on-node",
          `${base}.quorum.qdevice.host`,
          `qdevice host '${q.qdevice.host}' is a node of cluster '${c.name}'`,
          "The qnetd arbiter must run outside the cluster, or it fails with the node it lives on.",
        ),
      );
  }
  const twoNode = q.twoNode && n === 2 && !q.qdevice;
  if (twoNode && q.waitForAll === false)
    findings.push(
      warning(
        "pacemaker.two-node-wait-for-all",
        `${base}.quorum.waitForAll`,
        `cluster '${c.name}' sets \`quorum.twoNode\` with \`quorum.waitForAll\` false; haforge keeps wait_for_all on`,
        "With two_node and no wait_for_all, both nodes booting apart each become quorate and fence each other.",
      ),
    );
  const math = corosyncQuorum(n, { twoNode, ...(q.qdevice ? { qdevice: q.qdevice.algorithm } : {}) });
  return {
    quorum: {
      ...math,
      twoNode,
      waitForAll: twoNode ? true : (q.waitForAll ?? false),
      lastManStanding: q.lastManStanding,
      autoTieBreaker: q.autoTieBreaker,
      ...(q.qdevice ? { qdevice: { host: q.qdevice.host, algorithm: q.qdevice.algorithm } } : {}),
    },
    findings,
  };
}

/** stonith-enabled and the devices that back it. */
function planFencing(c: PacemakerCluster, base: string, n: number): { stonithEnabled: boolean; devices: number; findings: Finding[] } {
  const findings: Finding[] = [];
  const prop = pcmkBoolean(c.properties["stonith-enabled"]);
  if (prop === "invalid")
    findings.push(
      error(
        "pacemaker.invalid-property",
        `${base}.properties.stonith-enabled`,
        `\`stonith-enabled\` of cluster '${c.name}' is '${String(c.properties["stonith-enabled"])}', not a boolean`,
        "Use true or false.",
      ),
    );
  const stonithEnabled = prop !== false;
  const devices = c.fencing.length + c.primitives.filter((p) => p.agent.startsWith("stonith:")).length;
  if (stonithEnabled && devices === 0 && n > 0)
    findings.push(
      error(
        "pacemaker.no-fencing",
        `${base}.fencing`,
        `cluster '${c.name}' has \`stonith-enabled\` ${c.properties["stonith-enabled"] === undefined ? "unset (true)" : `'${String(c.properties["stonith-enabled"])}'`} but no fencing device`,
        "Add a device under `fencing` (e.g. fence_ipmilan with each node's BMC); only for a lab, set `properties: { stonith-enabled: false }`.",
      ),
    );
  if (prop === false)
    findings.push(
      warning(
        "pacemaker.stonith-disabled",
        `${base}.properties.stonith-enabled`,
        `cluster '${c.name}' sets \`stonith-enabled\` false: a hung node is never fenced and its resources may run twice`,
        "Fine for a lab; production clusters need fencing (https://clusterlabs.org/pacemaker/doc/2.1/Pacemaker_Explained/html/fencing.html).",
      ),
    );
  return { stonithEnabled, devices, findings };
}

/** Member counts: 3+ (2 only with two_node + fencing, or a qdevice), odd, ≤ 16 advised, ≤ 32. */
function planCounts(c: PacemakerCluster, base: string, n: number, stonithEnabled: boolean, devices: number): Finding[] {
  const findings: Finding[] = [];
  const path = `${base}.nodes`;
  const q = c.quorum;
  if (n === 0) {
    findings.push(
      error("pacemaker.too-few-nodes", path, `cluster '${c.name}' has no nodes`, "List 3 or more inventory hosts under `nodes`."),
    );
  } else if (n === 1) {
    findings.push(
      warning(
        "pacemaker.single-node",
        path,
        `cluster '${c.name}' has 1 node: resources are restarted locally but never fail over`,
        "Fine for a worker beyond 16 nodes managed on its own; for HA list 3 or more nodes.",
      ),
    );
  } else if (n === 2 && !q.qdevice) {
    if (!q.twoNode)
      findings.push(
        error(
          "pacemaker.too-few-nodes",
          path,
          `cluster '${c.name}' has 2 nodes without \`quorum.twoNode\` or a \`quorum.qdevice\`: losing either node loses quorum`,
          "Add a third node, or a qdevice, or set `quorum.twoNode: true` together with fencing devices.",
        ),
      );
    else if (!stonithEnabled || devices === 0)
      findings.push(
        error(
          "pacemaker.two-node-needs-fencing",
          `${base}.quorum.twoNode`,
          `cluster '${c.name}' sets \`quorum.twoNode\` but ${!stonithEnabled ? "`stonith-enabled` is false" : "has no fencing device"}: after a split both nodes stay quorate`,
          "A two-node cluster is safe only when each node can fence the other: add `fencing` devices and keep stonith enabled.",
        ),
      );
  } else if (n % 2 === 0 && !q.qdevice) {
    findings.push(
      warning(
        "pacemaker.even-nodes",
        path,
        `cluster '${c.name}' has ${n} nodes, an even count: it tolerates no more failures than ${n - 1} nodes would, and a clean split leaves no side quorate`,
        "Use an odd number of nodes, or add a qdevice.",
      ),
    );
  }
  if (n > MAX_NODES)
    findings.push(
      error(
        "pacemaker.too-many-nodes",
        path,
        `cluster '${c.name}' has ${n} nodes; Corosync/Pacemaker support at most ${MAX_NODES} full cluster nodes`,
        `Keep at most ${RECOMMENDED_MAX_NODES} full nodes; put the rest of the worker pool in \`remoteNodes\` (pacemaker_remote) or run them as single-node clusters.`,
      ),
    );
  else if (n > RECOMMENDED_MAX_NODES)
    findings.push(
      warning(
        "pacemaker.large-cluster",
        path,
        `cluster '${c.name}' has ${n} nodes, more than the ${RECOMMENDED_MAX_NODES} a full Pacemaker cluster scales to`,
        `Keep ${RECOMMENDED_MAX_NODES} full nodes; nodes beyond ${RECOMMENDED_MAX_NODES} should go in \`remoteNodes\` (pacemaker_remote) or run as single-node clusters.`,
      ),
    );
  return findings;
}

/** The index of a host in the cluster's `nodes`. */
const nodeIndexOf = (c: PacemakerCluster, host: string): number => c.nodes.findIndex((x) => (typeof x === "string" ? x : x.host) === host);

/** Each node's link count: at least one, at most the transport's, the same on every node. */
function linkCountFindings(c: PacemakerCluster, base: string, nodes: readonly PacemakerNodePlan[]): Finding[] {
  const findings: Finding[] = [];
  const maxLinks = c.transport === "knet" ? MAX_KNET_LINKS : 1;
  const nodeIndex = (host: string) => nodeIndexOf(c, host);
  const first = nodes[0];
  for (const n of nodes) {
    const path = `${base}.nodes[${nodeIndex(n.host)}].addrs`;
    if (n.addrs.length === 0)
      findings.push(
        error(
          "pacemaker.no-links",
          path,
          `node '${n.host}' of cluster '${c.name}' has an empty \`addrs\``,
          "Give at least one link address, or omit `addrs` to use the host's internal address.",
        ),
      );
    else if (n.addrs.length > maxLinks)
      findings.push(
        error(
          "pacemaker.too-many-links",
          path,
          `node '${n.host}' of cluster '${c.name}' has ${n.addrs.length} link addresses; \`transport\` '${c.transport}' allows ${maxLinks}`,
          c.transport === "knet"
            ? "knet supports links 0-7 (corosync.conf(5))."
            : "udp/udpu carry one ring: use `transport: knet` for redundant links.",
        ),
      );
    if (first && n !== first && n.addrs.length !== first.addrs.length)
      findings.push(
        error(
          "pacemaker.link-count-mismatch",
          path,
          `node '${n.host}' of cluster '${c.name}' has ${n.addrs.length} link(s) but node '${first.host}' has ${first.addrs.length}`,
          "Every node needs an address on every link (ring0_addr, ring1_addr, ...).",
        ),
      );
  }
  return findings;
}

/** Each link's addresses: one per node, one address family. */
function linkAddressFindings(c: PacemakerCluster, base: string, nodes: readonly PacemakerNodePlan[]): Finding[] {
  const findings: Finding[] = [];
  const nodeIndex = (host: string) => nodeIndexOf(c, host);
  // One address per link: corosync -t does not catch a duplicate ringX_addr (docs/lab.md), the
  // cluster just never forms. Families must be consistent per link.
  const links = Math.max(0, ...nodes.map((n) => n.addrs.length));
  for (let l = 0; l < links; l++) {
    const owner = new Map<string, string>();
    const fams = new Set<string>();
    for (const n of nodes) {
      const a = n.addrs[l];
      if (a === undefined) continue;
      const path = `${base}.nodes[${nodeIndex(n.host)}].addrs`;
      const prev = owner.get(a);
      if (prev !== undefined)
        findings.push(
          error(
            "pacemaker.duplicate-link-address",
            path,
            `link ${l} address '${a}' of node '${n.host}' is also node '${prev}''s`,
            "Every node needs its own address on each link.",
          ),
        );
      else owner.set(a, n.host);
      const fam = ipFamily(a);
      if (fam) fams.add(fam);
    }
    if (fams.size > 1)
      findings.push(
        error(
          "pacemaker.link-family-mismatch",
          `${base}.nodes`,
          `link ${l} of cluster '${c.name}' mixes IPv4 and IPv6 addresses`,
          "Use one address family per link (corosync.conf(5), ip_version).",
        ),
      );
  }
  return findings;
}

/** Corosync's crypto: a cipher needs a hash, crypto needs knet, knet without crypto is a warning. */
function cryptoFindings(c: PacemakerCluster, base: string): Finding[] {
  const findings: Finding[] = [];
  const { cipher, hash } = c.crypto;
  if (cipher !== "none" && hash === "none")
    findings.push(
      error(
        "pacemaker.crypto-cipher-needs-hash",
        `${base}.crypto.hash`,
        `cluster '${c.name}' sets \`crypto.cipher\` '${cipher}' with \`crypto.hash\` 'none'`,
        "Enabling crypto_cipher requires crypto_hash (corosync.conf(5)): use e.g. sha256.",
      ),
    );
  if (c.transport !== "knet" && (cipher !== "none" || hash !== "none"))
    findings.push(
      error(
        "pacemaker.crypto-needs-knet",
        `${base}.crypto`,
        `cluster '${c.name}' uses \`transport\` '${c.transport}' with \`crypto\` cipher '${cipher}' / hash '${hash}'; Corosync encrypts and authenticates only over knet`,
        "Use `transport: knet` (the default), or set `crypto: { cipher: none, hash: none }` for udp/udpu.",
      ),
    );
  if (c.transport === "knet" && cipher === "none" && hash === "none")
    findings.push(
      warning(
        "pacemaker.crypto-disabled",
        `${base}.crypto`,
        `cluster '${c.name}' runs knet without crypto: any host on the link can inject membership messages`,
        "Keep the default `crypto: { cipher: aes256, hash: sha256 }` (haforge generates the authkey).",
      ),
    );
  return findings;
}

/** Links and crypto (corosync.conf(5)). */
function planTransport(c: PacemakerCluster, base: string, nodes: readonly PacemakerNodePlan[]): Finding[] {
  return [...linkCountFindings(c, base, nodes), ...linkAddressFindings(c, base, nodes), ...cryptoFindings(c, base)];
}

/** pacemaker_remote nodes: inventory hosts, not members of the same cluster, listed once. */
function planRemotes(c: PacemakerCluster, base: string, nodes: readonly string[], hosts: ReadonlyMap<string, PlannedHost>): Finding[] {
  const findings: Finding[] = [];
  checkHostList(
    hostEntries(c.remoteNodes, (i) => `${base}.remoteNodes[${i}]`),
    {
      known: (r) => hosts.has(r),
      unknown: (r, path) =>
        error(
          "pacemaker.unknown-host",
          path,
          `remote node '${r}' of cluster '${c.name}' is not an inventory host`,
          "Add it under `hosts` or fix the name.",
        ),
      refuse: (r, path) =>
        nodes.includes(r)
          ? error(
              "pacemaker.remote-node-is-member",
              path,
              `host '${r}' is both a node and a remote node of cluster '${c.name}'`,
              "A host runs either the full stack (corosync + pacemaker) or pacemaker_remote.",
            )
          : undefined,
      duplicate: (r, path) =>
        error("pacemaker.duplicate-node", path, `remote node '${r}' is listed twice in cluster '${c.name}'`, "List each remote node once."),
    },
    findings,
  );
  return findings;
}
