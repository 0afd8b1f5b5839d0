/**
 * The rabbitmq service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { port, SecretRef } from "../../inventory/schema-kit";
import { freeText, hostName, userName } from "../../inventory/strings";

export const RabbitMq = z
  .object({
    port: port()
      .default(5672)
      .describe("rabbitmq_port: rabbitmq.conf `listeners.tcp.default`, and the port of Tower's BROKER_URL. @default 5672"),
    vhost: freeText(255)
      .min(1)
      .default("tower")
      .describe(
        "rabbitmq_vhost: the vhost created by the definitions file (default queue type quorum), the path of BROKER_URL. @default tower",
      ),
    username: userName
      .default("tower")
      .describe(
        "rabbitmq_username: the user created by the definitions file with all permissions on the vhost; BROKER_URL's user. @default tower",
      ),
    password: SecretRef.default({ value: "" }).describe(
      "rabbitmq_password: that user's password (stored hashed in the definitions file; in clear in BROKER_URL). @default empty (a finding)",
    ),
    cookie: SecretRef.default({ value: "cookiemonster" }).describe(
      "rabbitmq_cookie: the Erlang cookie, /var/lib/rabbitmq/.erlang.cookie (0400), identical on every node. @default cookiemonster, the Tower installer's public default (a finding)",
    ),
    useLongName: z.boolean().optional().describe("@default - derived from addressing: FQDN or IP => true, short names => false"),
    enableManagement: z
      .boolean()
      .default(false)
      .describe(
        "rabbitmq_enable_manager: enabled_plugins gets rabbitmq_management and rabbitmq.conf `management.tcp.port`. @default false",
      ),
    managementPort: port().default(15672).describe("rabbitmq.conf `management.tcp.port` (only with enableManagement). @default 15672"),
    partitionHandling: z
      .enum(["pause_minority", "autoheal", "ignore"])
      .default("pause_minority")
      .describe("rabbitmq.conf `cluster_partition_handling`. @default pause_minority"),
    /** Explicit node hosts. @default - every instance (tower + instance groups). */
    nodes: z
      .array(hostName)
      .optional()
      .describe(
        "Hosts that run a RabbitMQ node (rabbitmq.conf `cluster_formation.classic_config.nodes`). @default - every Tower instance (tower + instance groups)",
      ),
  })
  .strict();
export type RabbitMq = z.infer<typeof RabbitMq>;
