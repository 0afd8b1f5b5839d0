/**
 * From the plan to the CIB model (cib.ts): cluster properties, nodes, fencing devices, the
 * lightweight layout's resources, the inventory's primitives/groups/clones, pacemaker_remote
 * nodes, and constraints. Pure; never throws on an inconsistent inventory (the plan step reports
 * those as findings): a reference to an unknown resource is rendered as written, so
 * `crm_verify` refuses the file before it reaches a cluster.
 */
import type { ClusterPlan, PacemakerClusterPlan } from "../../plan/types";
import {
  cibValue,
  parseAgent,
  toPairs,
  type CibClone,
  type CibColocation,
  type CibGroup,
  type CibLocation,
  type CibModel,
  type CibOrder,
  type CibPrimitive,
  type CibResource,
  type Pairs,
} from "./cib";
import { lightweightResources, lightweightSpec } from "./lightweight";
import { plannedHosts } from "../../plan/lookup";

type SpecPrimitive = PacemakerClusterPlan["spec"]["primitives"][number];
type SpecGroup = PacemakerClusterPlan["spec"]["groups"][number];
type SpecClone = PacemakerClusterPlan["spec"]["clones"][number];

/**
 * Resource defaults. resource-stickiness=1 is what pcs sets on every new cluster: a resource
 * stays where it runs after a failed node comes back instead of moving again.
 */
const RSC_DEFAULTS: Pairs = [["resource-stickiness", "1"]];

function fromSpecPrimitive(p: SpecPrimitive): CibPrimitive {
  const agent = parseAgent(p.agent);
  const ops = p.ops.map((o) => ({
    name: o.name,
    interval: o.interval,
    ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
    ...(o.role !== undefined ? { role: o.role } : {}),
  }));
  // Without a recurring monitor Pacemaker never notices a failed resource: add one, like pcs does.
  const monitored = ops.some((o) => o.name === "monitor");
  return {
    kind: "primitive",
    id: p.id,
    class: agent.class,
    ...(agent.provider !== undefined ? { provider: agent.provider } : {}),
    type: agent.type,
    params: toPairs(p.params),
    meta: toPairs(p.meta),
    ops: monitored || agent.class === "stonith" ? ops : [...ops, { name: "monitor", interval: "10s", timeout: "20s" }],
  };
}

/**
 * The inventory's resources as a tree: each primitive once, inside its group (first group listing
 * it), the group or primitive inside its clone (first clone naming it); top-level items in the
 * order their first primitive appears in `primitives`.
 */
function specResources(cluster: PacemakerClusterPlan): CibResource[] {
  const spec = cluster.spec;
  const prims = new Map<string, CibPrimitive>();
  for (const p of spec.primitives) if (!prims.has(p.id)) prims.set(p.id, fromSpecPrimitive(p));
  const groupOf = new Map<string, SpecGroup>();
  for (const g of spec.groups) for (const m of g.members) if (prims.has(m) && !groupOf.has(m)) groupOf.set(m, g);
  const cloneOf = new Map<string, SpecClone>();
  for (const c of spec.clones) if (!cloneOf.has(c.resource)) cloneOf.set(c.resource, c);

  const buildGroup = (g: SpecGroup): CibGroup | undefined => {
    const members = g.members.filter((m) => groupOf.get(m) === g).map((m) => prims.get(m)!);
    // An empty group is not valid CIB; a group whose members are all unknown is dropped.
    return members.length ? { kind: "group", id: g.id, meta: toPairs(g.meta), members } : undefined;
  };
  const out: CibResource[] = [];
  const emitted = new Set<string>();
  for (const p of prims.values()) {
    const g = groupOf.get(p.id);
    const base: CibPrimitive | CibGroup | undefined = g ? buildGroup(g) : p;
    if (!base || emitted.has(base.id)) continue;
    emitted.add(base.id);
    const c = cloneOf.get(base.id);
    if (c) {
      const clone: CibClone = { kind: "clone", id: c.id, promotable: c.promotable, meta: toPairs(c.meta), child: base };
      out.push(clone);
    } else out.push(base);
  }
  return out;
}

/** Fencing devices: class stonith, the nodes they fence in pcmk_host_list. */
function fencingResources(cluster: PacemakerClusterPlan): { resources: CibPrimitive[]; location: CibLocation[] } {
  const resources: CibPrimitive[] = [];
  const location: CibLocation[] = [];
  for (const f of cluster.spec.fencing) {
    const type = f.agent.startsWith("stonith:") ? f.agent.slice("stonith:".length) : f.agent;
    const params: Pairs = f.hosts.length ? [...toPairs(f.params), ["pcmk_host_list", f.hosts.join(" ")]] : toPairs(f.params);
    resources.push({
      kind: "primitive",
      id: f.id,
      class: "stonith",
      type,
      params,
      meta: [],
      ops: [{ name: "monitor", interval: "60s", timeout: "20s" }],
    });
    // A device that fences exactly one node should not run on that node: the node cannot be
    // trusted to fence itself (the usual per-node IPMI/BMC setup).
    if (f.hosts.length === 1) {
      const node = f.hosts[0]!;
      location.push({ id: `location-${f.id}-avoids-${node}`, rsc: f.id, node, score: "-INFINITY" });
    }
  }
  return { resources, location };
}

/** pacemaker_remote nodes: `ocf:pacemaker:remote` resources named after the node. */
function remoteResources(cluster: PacemakerClusterPlan, plan: ClusterPlan): CibPrimitive[] {
  const hosts = plannedHosts(plan);
  return cluster.remoteNodes.map((name) => ({
    kind: "primitive",
    id: name,
    class: "ocf",
    provider: "pacemaker",
    type: "remote",
    params: [["server", hosts.get(name)?.internalAddress ?? name]],
    meta: [],
    ops: [{ name: "monitor", interval: "30s", timeout: "30s" }],
  }));
}

export function buildCibModel(cluster: PacemakerClusterPlan, plan: ClusterPlan): CibModel {
  const spec = cluster.spec;
  const stonith = cibValue(cluster.stonithEnabled);
  // Defaults first, then the inventory, then what the plan decided (stonith-enabled) and what
  // must match corosync (cluster-name): later entries win, first position is kept.
  const properties: Pairs = [
    ["stonith-enabled", stonith],
    ["no-quorum-policy", "stop"],
    ["cluster-name", cluster.name],
    ...toPairs(spec.properties),
    ["stonith-enabled", stonith],
    ["cluster-name", cluster.name],
  ];
  const fencing = fencingResources(cluster);
  const lw = lightweightSpec(cluster, plan);
  const light = lw ? lightweightResources(cluster, plan, lw) : { resources: [], location: [], colocation: [], order: [] };

  // Inventory resources override generated ones with the same id (the plan warns about it).
  const userIds = new Set([...spec.primitives.map((p) => p.id), ...spec.groups.map((g) => g.id), ...spec.clones.map((c) => c.id)]);
  const generated = [...fencing.resources, ...light.resources].filter((r) => !userIds.has(r.id));

  // Inventory constraints win the same way: a generated constraint is dropped when its id is taken
  // or (locations) when the inventory already scores that resource on that node.
  const userLocation = spec.constraints.location.map((l) => ({ id: l.id, rsc: l.resource, node: l.node, score: cibValue(l.score) }));
  const userColocation = spec.constraints.colocation.map((c) => ({ id: c.id, rsc: c.resource, withRsc: c.with, score: cibValue(c.score) }));
  const userOrder = spec.constraints.order.map((o) => ({ id: o.id, first: o.first, then: o.then, kind: o.kind }));
  const taken = new Set([...userLocation, ...userColocation, ...userOrder].map((c) => c.id));
  const placed = new Set(userLocation.map((l) => `${l.rsc}\u0000${l.node}`));
  const location: CibLocation[] = [
    ...[...fencing.location, ...light.location].filter((l) => !taken.has(l.id) && !placed.has(`${l.rsc}\u0000${l.node}`)),
    ...userLocation,
  ];
  const colocation: CibColocation[] = [...light.colocation.filter((c) => !taken.has(c.id)), ...userColocation];
  const order: CibOrder[] = [...light.order.filter((o) => !taken.has(o.id)), ...userOrder];

  return {
    properties,
    nodes: cluster.nodes.map((n) => ({ id: String(n.nodeid), uname: n.host })),
    resources: [...generated, ...specResources(cluster), ...remoteResources(cluster, plan)],
    constraints: { location, colocation, order },
    rscDefaults: RSC_DEFAULTS,
    opDefaults: [],
  };
}
