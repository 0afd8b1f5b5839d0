/**
 * The RS_HA_* environment of a dr-provision style active/passive app, and how to write it for
 * each init system. Variable meanings from dr-provision's HA docs
 * (https://provision.readthedocs.io/en/latest/doc/high-availability.html, "High Availability
 * Startup Options"):
 * - RS_HA_ENABLED: true on every node of the cluster;
 * - RS_HA_INTERFACE: the interface the VIP is added to / removed from;
 * - RS_HA_ADDRESS: the VIP in CIDR form (aa.bb.cc.dd/xx);
 * - RS_HA_ID: the cluster id, identical on every node;
 * - RS_HA_TOKEN: a long-lived superuser token shared by the nodes (`drpcli users token
 *   rocketskates ttl 3y`);
 * - RS_HA_PASSIVE: true on the nodes that start passive, i.e. every node but the first;
 * - RS_DRP_ID and RS_STATIC_IP: "must be different on each server" — the host's inventory name
 *   (unique) and its address on the HA interface.
 */
import { isIP } from "node:net";
import { resolveSecret, type SecretValues } from "../../core/secrets";
import type { ActivePassivePlan, PlannedHost } from "../../plan/types";

/** The host's own IP for RS_STATIC_IP: its address on `iface`, else its (internal) address when that is an IP. */
export function staticIp(host: PlannedHost, iface: string): string | undefined {
  const onIface = host.interfaces.find((i) => i.name === iface)?.address.split("/")[0];
  return [onIface, host.internalAddress, host.address].find((a): a is string => a !== undefined && isIP(a) !== 0);
}

export function haEnvironment(app: ActivePassivePlan, host: string, secrets: SecretValues, planned?: PlannedHost): [string, string][] {
  const index = app.hosts.indexOf(host);
  const ip = planned ? staticIp(planned, app.interface) : undefined;
  return [
    ["RS_DRP_ID", host],
    ...(ip ? ([["RS_STATIC_IP", ip]] as [string, string][]) : []),
    ["RS_HA_ENABLED", "true"],
    ["RS_HA_INTERFACE", app.interface],
    ["RS_HA_ADDRESS", app.vip],
    ["RS_HA_ID", app.haId],
    ["RS_HA_TOKEN", resolveSecret(app.token, secrets)],
    // Rendered as "false" on the first node rather than left out, so a stale "true" from another
    // drop-in of the unit cannot survive (the value is explicit on every node).
    ["RS_HA_PASSIVE", index > 0 ? "true" : "false"],
  ];
}

/** `Environment=` lines and `KEY='value'` shell lines: the one escaping module's helpers. */
export { shellAssignment, systemdAssignment } from "../../core/escape";
