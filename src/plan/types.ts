/**
 * ClusterPlan: the derived, validated topology. Pure data; no secrets resolved (SecretRef only).
 * `haforge plan --json` prints a projection of it; render, the Pulumi components and the
 * Kubernetes target consume it.
 */
import type { Finding } from "../core/findings";
import type { InitSystem } from "../core/desired-state";
import type { Inventory, PacemakerCluster, SecretRef, SshSettings } from "../inventory/schema";

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

export interface QuorumMath {
  /** Votes when every member is up. */
  readonly expectedVotes: number;
  /** Votes needed to be quorate. */
  readonly quorum: number;
  /** Members that can fail while staying quorate. */
  readonly failuresTolerated: number;
}

export interface RabbitMqNode {
  readonly host: string;
  /** `rabbit@<internal address or host name>`. */
  readonly nodeName: string;
  /** Address peers use (internal address). */
  readonly address: string;
}

export interface RabbitMqPlan {
  readonly nodes: readonly RabbitMqNode[];
  readonly useLongName: boolean;
  /** True when useLongName was derived from addressing rather than set. */
  readonly useLongNameDerived: boolean;
  readonly port: number;
  readonly vhost: string;
  readonly username: string;
  readonly password: SecretRef;
  readonly cookie: SecretRef;
  readonly enableManagement: boolean;
  readonly managementPort: number;
  readonly partitionHandling: "pause_minority" | "autoheal" | "ignore";
  readonly quorum: QuorumMath;
}

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
  /** stonith-enabled as it will be rendered. */
  readonly stonithEnabled: boolean;
  /** The inventory section (resources, constraints, properties, crypto...), defaults applied. */
  readonly spec: PacemakerCluster;
}

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

export interface HaproxyServerPlan {
  readonly name: string;
  readonly host: string;
  readonly address: string;
  readonly port: number;
}

export interface HaproxyPlan {
  readonly hosts: readonly string[];
  readonly frontends: readonly { name: string; bind: string; mode: "tcp" | "http"; backend: string }[];
  readonly backends: readonly {
    name: string;
    mode: "tcp" | "http";
    balance: string;
    servers: readonly HaproxyServerPlan[];
    stickTable: boolean;
    httpchk?: string;
    /** Port the check probes (`check port N`) when it is not the traffic port. */
    checkPort?: number;
    checkInterval: string;
  }[];
  readonly stats?: { bind: string; user: string; password?: SecretRef };
}

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
  readonly token: string;
  readonly encryptKey?: SecretRef;
  readonly quorum: QuorumMath;
  /** Client endpoints, e.g. `http://10.0.0.1:2379`. */
  readonly endpoints: readonly string[];
}

export interface PostgresPlan {
  readonly engine: "stolon" | "patroni";
  readonly clusterName: string;
  readonly nodes: readonly string[];
  readonly sentinels: readonly string[];
  readonly proxies: readonly string[];
  readonly store: {
    readonly backend: "etcd" | "consul" | "kubernetes";
    /** consul: exactly one, the local agent (`http://127.0.0.1:PORT`) when the store is the quorumStore. */
    readonly endpoints: readonly string[];
    /**
     * consul: hosts that consume the store (Postgres nodes, sentinels, proxies) but are no consul
     * server, so they run a consul client agent for their consumers to talk to.
     */
    readonly agentHosts?: readonly string[];
  };
  readonly port: number;
  readonly proxyPort: number;
  readonly version: number;
  readonly superuserPassword: SecretRef;
  readonly replicationPassword: SecretRef;
  readonly spec: Record<string, unknown>;
  readonly ttl: number;
  /** Where clients connect: `host:port` (VIP via HAProxy/keepalived, or the local stolon proxy). */
  readonly endpoint: string;
}

export interface SyncthingFolderPlan {
  readonly id: string;
  readonly path: string;
  readonly hosts: readonly string[];
  readonly rescanIntervalS: number;
  readonly fsWatcherDelayS: number;
}

export interface SyncthingPlan {
  readonly hosts: readonly string[];
  readonly folders: readonly SyncthingFolderPlan[];
  readonly guiPort: number;
  readonly listenPort: number;
}

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

export interface ClusterPlan {
  readonly name: string;
  readonly target: "ssh" | "kubernetes";
  readonly hosts: readonly PlannedHost[];
  readonly instanceGroups: readonly InstanceGroupPlan[];
  readonly isolatedGroups: readonly IsolatedGroupPlan[];
  readonly database?: {
    readonly hosts: readonly string[];
    readonly host: string;
    readonly port: number;
    readonly name: string;
    readonly username: string;
    readonly password?: SecretRef;
  };
  readonly rabbitmq?: RabbitMqPlan;
  readonly pacemakerClusters: readonly PacemakerClusterPlan[];
  readonly pacemakerLayout: "per-service" | "all-in-one" | "lightweight";
  readonly keepalived: readonly KeepalivedInstancePlan[];
  readonly haproxy?: HaproxyPlan;
  readonly quorumStore?: QuorumStorePlan;
  readonly postgres?: PostgresPlan;
  readonly syncthing?: SyncthingPlan;
  readonly activePassive: readonly ActivePassivePlan[];
  readonly rollingGroups: readonly RollingGroup[];
  /** The validated inventory the plan came from (defaults applied). */
  readonly inventory: Inventory;
}

export interface PlanResult {
  /** Absent when there are errors that make a plan meaningless. */
  readonly plan?: ClusterPlan;
  readonly findings: readonly Finding[];
}
