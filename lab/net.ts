/**
 * The lab's network: one bridge in the root namespace (.1), one netns + veth per host, no
 * default route anywhere in the namespaces (traffic stays on the /24; the real machine does not
 * forward for us). Synchronous `ip` calls; each is bounded by LIMITS.commandMs.
 */
import { BRIDGE, BRIDGE_ADDRESS } from "./config";
import { mustSync, runSync } from "./proc";

export function linkExists(name: string): boolean {
  return runSync("ip", ["link", "show", "dev", name]).code === 0;
}

export function listNetns(): string[] {
  const r = runSync("ip", ["netns", "list"]);
  if (r.code !== 0) return [];
  // lines look like "lab1 (id: 0)" or "lab1"
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

export function createBridge(): void {
  mustSync("ip", ["link", "add", BRIDGE, "type", "bridge"]);
  // Keepalived and Corosync may use multicast; snooping on a bridge with no querier drops it.
  mustSync("ip", ["link", "set", BRIDGE, "type", "bridge", "mcast_snooping", "0"]);
  mustSync("ip", ["addr", "add", `${BRIDGE_ADDRESS}/24`, "dev", BRIDGE]);
  mustSync("ip", ["link", "set", BRIDGE, "up"]);
}

export function createNetns(name: string): void {
  mustSync("ip", ["netns", "add", name]);
  mustSync("ip", ["-n", name, "link", "set", "lo", "up"]);
}

export function createVeth(netns: string, veth: string, address: string): void {
  mustSync("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
  mustSync("ip", ["link", "set", veth, "master", BRIDGE]);
  mustSync("ip", ["link", "set", veth, "up"]);
  mustSync("ip", ["-n", netns, "addr", "add", `${address}/24`, "dev", "eth0"]);
  mustSync("ip", ["-n", netns, "link", "set", "eth0", "up"]);
}

/** Idempotent deletes: absent is fine, any other failure is returned as a message. */
export function deleteLink(name: string): string | null {
  if (!linkExists(name)) return null;
  const r = runSync("ip", ["link", "del", "dev", name]);
  return r.code === 0 || !linkExists(name) ? null : `ip link del ${name}: ${r.stderr.trim()}`;
}

export function deleteNetns(name: string): string | null {
  if (!listNetns().includes(name)) return null;
  const r = runSync("ip", ["netns", "del", name]);
  return r.code === 0 || !listNetns().includes(name) ? null : `ip netns del ${name}: ${r.stderr.trim()}`;
}
