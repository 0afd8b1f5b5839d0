/**
 * The keepalived service's plan types: its slice of the ClusterPlan (keepalived). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */
import type { SecretRef } from "../../inventory/schema";

export interface KeepalivedMember {
  readonly host: string;
  readonly address: string;
  readonly priority: number;
  readonly state: "MASTER" | "BACKUP";
}

export interface KeepalivedInstancePlan {
  readonly name: string;
  /** VIP address without prefix. */
  readonly vip: string;
  readonly prefix: number;
  readonly interface: string;
  readonly routerId: number;
  readonly advertInt: number;
  readonly unicast: boolean;
  readonly nopreempt: boolean;
  readonly members: readonly KeepalivedMember[];
  readonly authPass?: SecretRef;
  readonly track: readonly { name: string; script: string; interval: number; weight: number; fall: number; rise: number }[];
}

/** The keepalived service's slice of the ClusterPlan. */
export interface KeepalivedSlice {
  readonly keepalived: readonly KeepalivedInstancePlan[];
}
