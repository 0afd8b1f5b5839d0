/**
 * Host-level planning: PlannedHost per inventory host (roles are added by the services) and the
 * host rules (duplicate names/addresses, bastions, host-key pinning). Implemented by the core team.
 */
import type { Finding } from "../core/findings";
import type { Inventory } from "../inventory/schema";
import type { PlannedHost } from "./types";

export function planHosts(inventory: Inventory): { hosts: Map<string, PlannedHost>; findings: Finding[] } {
  const hosts = new Map<string, PlannedHost>();
  inventory.hosts.forEach((h, order) => {
    if (hosts.has(h.name)) return;
    hosts.set(h.name, {
      name: h.name,
      address: h.address,
      internalAddress: h.internalAddress ?? h.address,
      interfaces: h.interfaces,
      ssh: h.ssh,
      init: h.init,
      managedByPolicy: h.managedByPolicy,
      roles: [],
      order,
    });
  });
  return { hosts, findings: [] };
}
