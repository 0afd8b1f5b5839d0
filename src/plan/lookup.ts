/**
 * Lookups every render step needs by host name, built once per plan (a `plan.hosts.find` or a new
 * Map per cluster or per host makes a render quadratic in the number of hosts).
 */
import type { ClusterPlan, PlannedHost, RollingGroup } from "./types";

const byName = new WeakMap<readonly PlannedHost[], ReadonlyMap<string, PlannedHost>>();

/** The plan's hosts by name (first definition wins, as in `plan.hosts.find`). */
export function plannedHosts(plan: Pick<ClusterPlan, "hosts">): ReadonlyMap<string, PlannedHost> {
  let m = byName.get(plan.hosts);
  if (!m) {
    const built = new Map<string, PlannedHost>();
    for (const h of plan.hosts) if (!built.has(h.name)) built.set(h.name, h);
    byName.set(plan.hosts, (m = built));
  }
  return m;
}

/** One planned host by name. */
export const plannedHost = (plan: Pick<ClusterPlan, "hosts">, name: string): PlannedHost | undefined => plannedHosts(plan).get(name);

const groupsById = new WeakMap<readonly RollingGroup[], ReadonlyMap<string, readonly RollingGroup[]>>();

/** The plan's rolling groups with this id, in plan order (`plan.rollingGroups.filter` by id, indexed once). */
export function rollingGroupsWithId(plan: Pick<ClusterPlan, "rollingGroups">, id: string): readonly RollingGroup[] {
  let m = groupsById.get(plan.rollingGroups);
  if (!m) {
    const built = new Map<string, RollingGroup[]>();
    for (const g of plan.rollingGroups) {
      const list = built.get(g.id);
      if (list) list.push(g);
      else built.set(g.id, [g]);
    }
    groupsById.set(plan.rollingGroups, (m = built));
  }
  return m.get(id) ?? [];
}

type InventoryHost = ClusterPlan["inventory"]["hosts"][number];
const inventoryByName = new WeakMap<readonly InventoryHost[], ReadonlyMap<string, InventoryHost>>();

/** The inventory's host entry by name (first definition wins, as in `inventory.hosts.find`). */
export function inventoryHost(plan: Pick<ClusterPlan, "inventory">, name: string): InventoryHost | undefined {
  let m = inventoryByName.get(plan.inventory.hosts);
  if (!m) {
    const built = new Map<string, InventoryHost>();
    for (const h of plan.inventory.hosts) if (!built.has(h.name)) built.set(h.name, h);
    inventoryByName.set(plan.inventory.hosts, (m = built));
  }
  return m.get(name);
}
