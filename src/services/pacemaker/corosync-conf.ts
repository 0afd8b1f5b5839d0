/**
 * corosync.conf data for one cluster (templates/pacemaker/corosync.conf.hbs formats it).
 *
 * - knet is the only Corosync 3 transport with crypto and multiple links; udp/udpu get neither
 *   (corosync.conf(5), "crypto_cipher": "only valid for knet"), so no crypto lines are written for
 *   them (the plan step warns).
 * - `keyfile` is written explicitly: the validator (`corosync -t -c FILE`) and the daemon both
 *   read the key from it, and the test harness relocates it.
 * - `interface { linknumber: N }` blocks only when there is more than one link (one link needs
 *   no per-link settings).
 * - Quorum flags are written as explicit 0/1: two_node turns wait_for_all on implicitly
 *   (votequorum(5)), and the plan has already resolved waitForAll.
 */
import type { ClusterPlan, PacemakerClusterPlan } from "../../plan/types";
import { plannedHosts } from "../../plan/lookup";

export const COROSYNC_CONF = "/etc/corosync/corosync.conf";
export const COROSYNC_AUTHKEY = "/etc/corosync/authkey";

export interface CorosyncConfData {
  readonly clusterName: string;
  readonly transport: string;
  readonly crypto?: { readonly cipher: string; readonly hash: string; readonly keyfile: string };
  readonly token: number;
  readonly links: readonly number[];
  readonly nodes: readonly {
    readonly name: string;
    readonly nodeid: number;
    readonly addrs: readonly { readonly link: number; readonly addr: string }[];
  }[];
  readonly quorum: {
    readonly twoNode: 0 | 1;
    readonly waitForAll: 0 | 1;
    readonly lastManStanding: 0 | 1;
    readonly autoTieBreaker: 0 | 1;
    readonly device?: { readonly host: string; readonly algorithm: string };
  };
}

/** Whether the cluster's totem traffic is encrypted/authenticated (and so needs the authkey). */
export function usesCrypto(cluster: PacemakerClusterPlan): boolean {
  const c = cluster.spec.crypto;
  return cluster.spec.transport === "knet" && (c.cipher !== "none" || c.hash !== "none");
}

const bit = (b: boolean): 0 | 1 => (b ? 1 : 0);

export function corosyncConfData(cluster: PacemakerClusterPlan, plan: ClusterPlan): CorosyncConfData {
  const spec = cluster.spec;
  const knet = spec.transport === "knet";
  const hosts = plannedHosts(plan);
  // Links beyond the first exist only with knet; other transports use ring0 only.
  const linkCount = knet ? Math.max(1, ...cluster.nodes.map((n) => n.addrs.length)) : 1;
  const q = cluster.quorum;
  const device = q.qdevice
    ? { host: hosts.get(q.qdevice.host)?.internalAddress ?? q.qdevice.host, algorithm: q.qdevice.algorithm }
    : undefined;
  return {
    clusterName: cluster.name,
    transport: spec.transport,
    ...(usesCrypto(cluster) ? { crypto: { cipher: spec.crypto.cipher, hash: spec.crypto.hash, keyfile: COROSYNC_AUTHKEY } } : {}),
    token: spec.token,
    links: linkCount > 1 ? [...Array(linkCount).keys()] : [],
    nodes: cluster.nodes.map((n) => ({
      name: n.host,
      nodeid: n.nodeid,
      addrs: n.addrs.slice(0, linkCount).map((addr, link) => ({ link, addr })),
    })),
    quorum: {
      twoNode: bit(q.twoNode),
      waitForAll: bit(q.waitForAll),
      lastManStanding: bit(q.lastManStanding),
      autoTieBreaker: bit(q.autoTieBreaker),
      ...(device ? { device } : {}),
    },
  };
}
