/**
 * The active-passive service's plan types: its slice of the ClusterPlan (active/passive). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */
import type { SecretRef } from "../../inventory/schema";

export interface ActivePassivePlan {
  readonly name: string;
  readonly service: string;
  /** First starts active (bootstrap); the others start passive. */
  readonly hosts: readonly string[];
  /** Desired active node when the inventory asks for one (an on-demand switchover); absent: never switch. */
  readonly active?: string;
  readonly vip: string;
  readonly interface: string;
  readonly haId: string;
  readonly token: SecretRef;
}

/** The active-passive service's slice of the ClusterPlan. */
export interface ActivePassiveSlice {
  readonly activePassive: readonly ActivePassivePlan[];
}
