/**
 * The tower service's plan types: its slice of the ClusterPlan (Ansible Tower / AWX). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */
import type { SecretRef } from "../../inventory/schema";

export interface PolicySpec {
  readonly percentage: number;
  readonly minimum: number;
  /** policy_instance_list: the group's listed hosts + explicit list entries. */
  readonly list: readonly string[];
}

export interface InstanceGroupPlan {
  /** Without prefix: `tower`, `east`. */
  readonly name: string;
  /** Result of AWX's apply_cluster_membership_policies, in inventory order. */
  readonly instances: readonly string[];
  readonly policy: PolicySpec;
}

export interface IsolatedGroupPlan {
  readonly name: string;
  readonly controller: string;
  readonly instances: readonly string[];
}

export interface TowerDatabasePlan {
  readonly hosts: readonly string[];
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly username: string;
  readonly password?: SecretRef;
}

/** The tower service's slice of the ClusterPlan. */
export interface TowerSlice {
  readonly instanceGroups: readonly InstanceGroupPlan[];
  readonly isolatedGroups: readonly IsolatedGroupPlan[];
  readonly database?: TowerDatabasePlan;
}
