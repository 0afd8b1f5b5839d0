/**
 * The virtual IPs a Pacemaker cluster manages: `ocf:heartbeat:IPaddr2` primitives (param `ip`,
 * optional `cidr_netmask` and `nic`) and the lightweight layout's `vips`. Exported so keepalived
 * and active/passive can refuse a VIP that Pacemaker already moves around (two managers fighting
 * over one address is a guaranteed outage).
 */
import type { PacemakerCluster } from "../../inventory/schema";

export interface PacemakerVip {
  readonly cluster: string;
  /** The primitive or lightweight VIP name. */
  readonly id: string;
  /** The address as written (no prefix). */
  readonly address: string;
  readonly prefix?: number;
  /** True when a prefix was written but is not a whole number. */
  readonly badPrefix: boolean;
  readonly nic?: string;
  /** Inventory path of the address. */
  readonly path: string;
}

const IPADDR_AGENTS = new Set(["ocf:heartbeat:IPaddr2", "ocf:heartbeat:IPaddr", "ocf:heartbeat:IPv6addr"]);

export const isIpAddrAgent = (agent: string): boolean => IPADDR_AGENTS.has(agent);

/** VIPs of one cluster; `base` is the cluster's inventory path (`pacemaker.clusters[0]`). */
export function clusterVips(cluster: PacemakerCluster, base: string): PacemakerVip[] {
  const out: PacemakerVip[] = [];
  cluster.primitives.forEach((p, i) => {
    if (!isIpAddrAgent(p.agent)) return;
    const ip = p.params["ip"] ?? p.params["ipv6addr"];
    if (ip === undefined) return;
    const mask = p.params["cidr_netmask"];
    const prefix = mask === undefined || String(mask).trim() === "" ? undefined : Number(mask);
    const nic = p.params["nic"];
    out.push({
      cluster: cluster.name,
      id: p.id,
      address: String(ip),
      ...(prefix !== undefined && Number.isInteger(prefix) ? { prefix } : {}),
      badPrefix: prefix !== undefined && !Number.isInteger(prefix),
      ...(nic !== undefined ? { nic: String(nic) } : {}),
      path: `${base}.primitives[${i}].params.${p.params["ip"] !== undefined ? "ip" : "ipv6addr"}`,
    });
  });
  cluster.lightweight?.vips.forEach((v, i) => {
    const [address, prefixText] = v.address.split("/");
    const prefix = prefixText === undefined || prefixText === "" ? undefined : Number(prefixText);
    out.push({
      cluster: cluster.name,
      id: v.name,
      address: address ?? v.address,
      ...(prefix !== undefined && Number.isInteger(prefix) ? { prefix } : {}),
      // The lightweight VIPs are CIDRs: a missing prefix is as wrong as a malformed one.
      badPrefix: prefix === undefined || !Number.isInteger(prefix),
      path: `${base}.lightweight.vips[${i}].address`,
    });
  });
  return out;
}

/** Every VIP of every Pacemaker cluster in the inventory. */
export function allPacemakerVips(clusters: readonly PacemakerCluster[]): PacemakerVip[] {
  return clusters.flatMap((c, i) => clusterVips(c, `pacemaker.clusters[${i}]`));
}
