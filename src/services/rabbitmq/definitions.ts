/**
 * The RabbitMQ definitions file: the vhost (with quorum as its default queue type), the user and
 * its permissions. Imported by every node at boot (`load_definitions`) and re-imported live by a
 * converge action when it changes, so it is the single source of truth for them.
 *
 * Why definitions rather than `default_user`/`default_pass` + rabbitmqctl actions:
 * - RabbitMQ 3.10 has no `default_queue_type` config key (it arrived in 3.11's schema; an unknown
 *   key stops the node at boot). 3.10 does honour a vhost's `default_queue_type` metadata
 *   (rabbit_amqqueue applies it to durable, non-exclusive, non-auto-delete queues declared without
 *   `x-queue-type`), and the metadata can only be set when the vhost is created:
 *   `rabbitmqctl add_vhost --default-queue-type` or a definitions file (rabbit_definitions:add_vhost
 *   reads `metadata.default_queue_type`). A vhost seeded from `default_vhost` never gets it.
 * - Declarative and idempotent: a password rotation is a file change plus
 *   `rabbitmqctl import_definitions`; no secret ever appears on a command line.
 * - With definitions configured, 3.10 does not seed the default `guest` user at all
 *   (rabbit:maybe_insert_default_data), so no well-known admin account exists (CVE-2019-19340 was
 *   Tower exposing exactly that through the management UI).
 *
 * https://www.rabbitmq.com/definitions.html, https://www.rabbitmq.com/vhosts.html#default-queue-type
 */
import { createHash } from "node:crypto";
import type { RabbitMqPlan } from "../../plan/types";

export const DEFINITIONS_PATH = "/etc/rabbitmq/definitions.json";

/** Module name RabbitMQ records with a hash (https://www.rabbitmq.com/passwords.html#computing-password-hash). */
export const HASHING_ALGORITHM = "rabbit_password_hashing_sha256";

/**
 * RabbitMQ's salted SHA-256 password hash: base64(salt ‖ sha256(salt ‖ utf8(password))) with a
 * 4-byte salt (rabbit_password:hash/2). The salt is derived from the cluster and user names
 * instead of drawn at random so the same inputs render byte-identical files; it still differs
 * between clusters and users, which is what a salt is for.
 */
export function rabbitPasswordHash(clusterName: string, username: string, password: string): string {
  const salt = createHash("sha256").update(`haforge/rabbitmq/${clusterName}/${username}`).digest().subarray(0, 4);
  const digest = createHash("sha256")
    .update(Buffer.concat([salt, Buffer.from(password, "utf8")]))
    .digest();
  return Buffer.concat([salt, digest]).toString("base64");
}

export interface DefinitionsModel {
  readonly users: readonly {
    name: string;
    password_hash: string;
    hashing_algorithm: string;
    tags: readonly string[];
  }[];
  readonly vhosts: readonly {
    name: string;
    metadata: { description: string; tags: readonly string[]; default_queue_type: "quorum" };
  }[];
  readonly permissions: readonly { user: string; vhost: string; configure: string; write: string; read: string }[];
}

/** The definitions for one cluster (identical on every node). */
export function definitionsModel(clusterName: string, rmq: RabbitMqPlan, password: string): DefinitionsModel {
  return {
    users: [
      {
        name: rmq.username,
        password_hash: rabbitPasswordHash(clusterName, rmq.username, password),
        hashing_algorithm: HASHING_ALGORITHM,
        // `monitoring` lets the account log into the management UI and see every node and queue
        // (cluster health), without the `administrator` rights to change users or policies.
        tags: rmq.enableManagement ? ["monitoring"] : [],
      },
    ],
    vhosts: [
      {
        name: rmq.vhost,
        metadata: { description: "Managed by haforge", tags: [], default_queue_type: "quorum" },
      },
    ],
    permissions: [{ user: rmq.username, vhost: rmq.vhost, configure: ".*", write: ".*", read: ".*" }],
  };
}

/** JSON text of the definitions; key order is fixed by the model, so output is stable. */
export function definitionsJson(model: DefinitionsModel): string {
  return JSON.stringify(model, null, 2) + "\n";
}
