/**
 * The pacemaker service's plan types: its slice of the ClusterPlan (Corosync/Pacemaker). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */
import type { PacemakerCluster } from "../../inventory/schema";
import type { QuorumMath } from "../../plan/types";

export interface PacemakerNodePlan {
  readonly host: string;
  readonly nodeid: number;
  /** knet link addresses, link 0 first. */
  readonly addrs: readonly string[];
}

export interface PacemakerClusterPlan {
  readonly name: string;
  readonly nodes: readonly PacemakerNodePlan[];
  readonly remoteNodes: readonly string[];
  readonly quorum: QuorumMath & {
    readonly twoNode: boolean;
    readonly waitForAll: boolean;
    readonly lastManStanding: boolean;
    readonly autoTieBreaker: boolean;
    readonly qdevice?: { readonly host: string; readonly algorithm: "ffsplit" | "lms" };
  };
  /**
   * The daemons the cluster's resources run on its nodes, by systemd unit (owned.ts
   * `clusterUnits`: `systemd:U` primitives, the OCF agents that start a packaged daemon, the
   * lightweight layout's managed services): what the nodes need installed besides Pacemaker.
   */
  readonly units: readonly string[];
  /** stonith-enabled as it will be rendered. */
  readonly stonithEnabled: boolean;
  /** The inventory section (resources, constraints, properties, crypto...), defaults applied. */
  readonly spec: PacemakerCluster;
}

/** The pacemaker service's slice of the ClusterPlan. */
export interface PacemakerSlice {
  readonly pacemakerClusters: readonly PacemakerClusterPlan[];
  readonly pacemakerLayout: "per-service" | "all-in-one" | "lightweight";
}
