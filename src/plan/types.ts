/**
 * ClusterPlan: the derived, validated topology. Pure data; no secrets resolved (SecretRef only).
 * `haforge plan --json` prints a projection of it; render, the Pulumi components and the
 * Kubernetes target consume it.
 */
import type { Finding } from "../core/findings";
import type { InitSystem } from "../core/desired-state";
import type { Inventory, SshSettings } from "../inventory/schema";
import type { TowerSlice } from "../services/tower/plan-types";
import type { RabbitMqSlice } from "../services/rabbitmq/plan-types";
import type { PacemakerSlice } from "../services/pacemaker/plan-types";
import type { KeepalivedSlice } from "../services/keepalived/plan-types";
import type { HaproxySlice } from "../services/haproxy/plan-types";
import type { QuorumStoreSlice } from "../services/quorum-store/plan-types";
import type { PostgresSlice } from "../services/postgres/plan-types";
import type { SyncthingSlice } from "../services/syncthing/plan-types";
import type { ActivePassiveSlice } from "../services/active-passive/plan-types";

export type { PolicySpec, InstanceGroupPlan, IsolatedGroupPlan, TowerSlice, TowerDatabasePlan } from "../services/tower/plan-types";
export type { RabbitMqNode, RabbitMqPlan, RabbitMqSlice } from "../services/rabbitmq/plan-types";
export type { PacemakerNodePlan, PacemakerClusterPlan, PacemakerSlice } from "../services/pacemaker/plan-types";
export type { KeepalivedMember, KeepalivedInstancePlan, KeepalivedSlice } from "../services/keepalived/plan-types";
export type { HaproxyServerPlan, HaproxyPlan, HaproxySlice } from "../services/haproxy/plan-types";
export type { StoreMemberPlan, QuorumStorePlan, QuorumStoreSlice } from "../services/quorum-store/plan-types";
export type { PostgresPlan, PostgresSlice } from "../services/postgres/plan-types";
export type { SyncthingFolderPlan, SyncthingPlan, SyncthingSlice } from "../services/syncthing/plan-types";
export type { ActivePassivePlan, ActivePassiveSlice } from "../services/active-passive/plan-types";

export interface PlannedHost {
  readonly name: string;
  readonly address: string;
  /** Cluster-internal address (`rabbitmq_host`), defaults to address. */
  readonly internalAddress: string;
  readonly interfaces: readonly { readonly name: string; readonly address: string }[];
  readonly ssh: SshSettings;
  readonly init: InitSystem;
  readonly managedByPolicy: boolean;
  /** Sorted role names, e.g. ["instance", "rabbitmq", "tower", "keepalived"]. */
  readonly roles: readonly string[];
  /** Index in inventory order (ties in AWX's algorithm are broken by it). */
  readonly order: number;
}

export interface QuorumMath {
  /** Votes when every member is up. */
  readonly expectedVotes: number;
  /** Votes needed to be quorate. */
  readonly quorum: number;
  /** Members that can fail while staying quorate. */
  readonly failuresTolerated: number;
}

/**
 * A rolling group: the hosts of one clustered service in the order they may be restarted, and how
 * many may be down at once without losing quorum (always 1 for quorum-based services).
 */
export interface RollingGroup {
  /** Stable id, e.g. `rabbitmq`, `pacemaker:db`, `etcd`, `patroni:pg`. */
  readonly id: string;
  readonly service: string;
  readonly hosts: readonly string[];
  readonly maxUnavailable: number;
  readonly quorum?: QuorumMath;
}

/**
 * The whole plan: the cluster's hosts and rolling groups, and each service's slice (declared in
 * its folder, src/services/<svc>/plan-types.ts).
 */
export interface ClusterPlan
  extends
    TowerSlice,
    RabbitMqSlice,
    PacemakerSlice,
    KeepalivedSlice,
    HaproxySlice,
    QuorumStoreSlice,
    PostgresSlice,
    SyncthingSlice,
    ActivePassiveSlice {
  readonly name: string;
  readonly target: "ssh" | "kubernetes";
  readonly hosts: readonly PlannedHost[];
  readonly rollingGroups: readonly RollingGroup[];
  /** The validated inventory the plan came from (defaults applied). */
  readonly inventory: Inventory;
}

export interface PlanResult {
  /** Absent when there are errors that make a plan meaningless. */
  readonly plan?: ClusterPlan;
  readonly findings: readonly Finding[];
}
