/**
 * The keepalived service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { name, SecretRef } from "../../inventory/schema-kit";
import { cidr, commandLine, hostName, interfaceName } from "../../inventory/strings";

export const VrrpInstance = z
  .object({
    name: name.describe("keepalived.conf `vrrp_instance <name>`, unique"),
    vip: cidr.describe("VIP in CIDR form, e.g. 10.0.0.100/24"),
    interface: interfaceName
      .default("eth0")
      .describe("keepalived.conf `vrrp_instance { interface }`: where the VIP is added. @default eth0"),
    routerId: z
      .number()
      .int()
      .min(1)
      .max(255)
      .describe("keepalived.conf `virtual_router_id`: unique per interface and subnet (VRRP's VRID, also the VIP's virtual MAC)"),
    hosts: z
      .array(
        z.union([
          hostName,
          z
            .object({
              host: hostName.describe("Inventory host running this instance"),
              priority: z
                .number()
                .int()
                .min(1)
                .max(254)
                .describe("keepalived.conf `priority`; the highest holds the VIP. @default 150, 140, 130... by position"),
            })
            .strict(),
        ]),
      )
      .min(1)
      .describe("First host is the preferred master; priorities default to 150, 140, 130..."),
    unicast: z.boolean().default(true).describe("unicast_peer instead of multicast. @default true"),
    advertInt: z
      .number()
      .int()
      .min(1)
      .max(255)
      .default(1)
      .describe("keepalived.conf `advert_int`, seconds between VRRP adverts. @default 1"),
    authPass: SecretRef.optional().describe(
      "keepalived.conf `authentication { auth_type PASS; auth_pass }` (VRRP carries 8 characters; longer is cut, with a note). @default - no authentication",
    ),
    track: z
      .array(
        z
          .object({
            name: name.describe("Check name: keepalived.conf `vrrp_script <instance>_<name>`, listed in the instance's `track_script`"),
            script: commandLine.describe("vrrp_script `script`: the command (run as root); exit 0 = healthy"),
            interval: z.number().int().min(1).max(3600).default(2).describe("vrrp_script `interval`, seconds. @default 2"),
            weight: z
              .number()
              .int()
              .min(-254)
              .max(254)
              .default(-20)
              .describe("vrrp_script `weight`: added to the priority while the check fails (negative) or passes (positive). @default -20"),
            fall: z.number().int().min(1).default(2).describe("vrrp_script `fall`: failures before it counts as down. @default 2"),
            rise: z.number().int().min(1).default(2).describe("vrrp_script `rise`: successes before it counts as up. @default 2"),
          })
          .strict(),
      )
      .default([])
      .describe("vrrp_script checks; e.g. `pidof haproxy` or the app's health URL"),
    nopreempt: z
      .boolean()
      .default(false)
      .describe(
        "keepalived.conf `nopreempt` (every node then starts in `state BACKUP`): a recovered master does not take the VIP back. @default false",
      ),
  })
  .strict();

export const Keepalived = z
  .object({
    instances: z
      .array(VrrpInstance)
      .default([])
      .describe("VRRP instances: one `vrrp_instance` each in /etc/keepalived/keepalived.conf on its hosts. @default []"),
    startupDelayS: z
      .number()
      .min(0)
      .max(3600)
      .optional()
      .describe(
        "keepalived.conf `vrrp_startup_delay`: seconds VRRP waits after a start (a late network must not claim the VIP). A change restarts keepalived host by host. @default - none",
      ),
  })
  .strict();
