/**
 * The quorum-store service's plan types: its slice of the ClusterPlan (quorum store (etcd/consul)). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */
import type { SecretRef } from "../../inventory/schema";
import type { QuorumMath } from "../../plan/types";

export interface StoreMemberPlan {
  readonly host: string;
  /** Member name (the host name). */
  readonly name: string;
  readonly address: string;
  readonly storeOnly: boolean;
}

export interface QuorumStorePlan {
  readonly kind: "etcd" | "consul";
  readonly members: readonly StoreMemberPlan[];
  readonly clientPort: number;
  readonly peerPort: number;
  readonly enableV2: boolean;
  /** etcd `heartbeat-interval` and `election-timeout` (ms), when the inventory sets them. */
  readonly heartbeatIntervalMs?: number;
  readonly electionTimeoutMs?: number;
  readonly token: string;
  readonly encryptKey?: SecretRef;
  readonly quorum: QuorumMath;
  /** Client endpoints, e.g. `http://10.0.0.1:2379`. */
  readonly endpoints: readonly string[];
}

/** The quorum-store service's slice of the ClusterPlan. */
export interface QuorumStoreSlice {
  readonly quorumStore?: QuorumStorePlan;
}
