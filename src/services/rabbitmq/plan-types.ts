/**
 * The rabbitmq service's plan types: its slice of the ClusterPlan (RabbitMQ). In the model layer
 * (docs/architecture.md): src/plan/types.ts composes ClusterPlan from every service's slice.
 */
import type { SecretRef } from "../../inventory/schema";
import type { QuorumMath } from "../../plan/types";

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

/** The rabbitmq service's slice of the ClusterPlan. */
export interface RabbitMqSlice {
  readonly rabbitmq?: RabbitMqPlan;
}
