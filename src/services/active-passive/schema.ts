/**
 * The active-passive service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { name, SecretRef } from "../../inventory/schema-kit";
import { cidr, clusterId, hostName, interfaceName, unitName } from "../../inventory/strings";

export const ActivePassiveApp = z
  .object({
    name: name.describe("App name (unique): names its env file, drop-in and rolling group"),
    service: unitName.default("dr-provision").describe("systemd unit / supervisor program of the app"),
    hosts: z.array(hostName).min(2).describe("First host starts active (it starts first); the others passive, after it is up"),
    active: hostName
      .optional()
      .describe(
        "Desired active node (switchover on demand). Absent: a deploy never changes " +
          "which node is active. Set (or changed): haforge checks that this node has caught " +
          "up ('Stream switch to realtime streaming'), demotes the node holding the " +
          "VIP (USR2) and promotes this one (USR1); a no-op when it already holds the VIP",
      ),
    vip: cidr.describe("RS_HA_ADDRESS: the VIP in CIDR form the active node holds"),
    interface: interfaceName
      .default("eth0")
      .describe("RS_HA_INTERFACE: where the VIP is added; RS_STATIC_IP is the host's address on it. @default eth0"),
    haId: clusterId.describe("RS_HA_ID: identical on all nodes"),
    token: SecretRef.describe("RS_HA_TOKEN shared by all nodes"),
  })
  .strict();
