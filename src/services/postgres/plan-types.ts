/**
 * The postgres service's plan types: its slice of the ClusterPlan (Postgres HA). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */
import type { SecretRef } from "../../inventory/schema";

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
  /** Patroni `synchronous_mode` / `synchronous_mode_strict` (dynamic configuration). */
  readonly synchronousMode: boolean;
  readonly synchronousModeStrict: boolean;
  /** Where clients connect: `host:port` (VIP via HAProxy/keepalived, or the local stolon proxy). */
  readonly endpoint: string;
}

/** The postgres service's slice of the ClusterPlan. */
export interface PostgresSlice {
  readonly postgres?: PostgresPlan;
}
