/**
 * The haproxy service's plan types: its slice of the ClusterPlan (HAProxy). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */
import type { SecretRef } from "../../inventory/schema";

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
    /**
     * `default-server on-marked-down shutdown-sessions`: a server marked down has its sessions
     * cut at once (a single-active backend, or Patroni's: clients of a demoted primary must not
     * stay connected to a node that went read-only or stale).
     */
    shutdownSessionsOnDown: boolean;
  }[];
  readonly stats?: { bind: string; user: string; password?: SecretRef };
}

/** The haproxy service's slice of the ClusterPlan. */
export interface HaproxySlice {
  readonly haproxy?: HaproxyPlan;
}
