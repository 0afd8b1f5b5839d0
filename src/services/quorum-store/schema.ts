/**
 * The quorum-store service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { port, SecretRef } from "../../inventory/schema-kit";
import { hostName, identifier } from "../../inventory/strings";

export const QuorumStore = z
  .object({
    kind: z
      .enum(["etcd", "consul"])
      .describe("etcd (/etc/haforge/etcd/etcd.yml, `etcd --config-file`) or consul (servers + client agents)"),
    members: z.array(hostName).default([]).describe("Voting members"),
    storeOnly: z.array(hostName).default([]).describe("Members that run only the store (Cloudify: 2 managers + 1 store-only node)"),
    clientPort: port()
      .optional()
      .describe("etcd `listen-client-urls`/`advertise-client-urls` port; consul `ports { http }`. @default - 2379 (etcd), 8500 (consul)"),
    peerPort: port()
      .optional()
      .describe(
        "etcd `listen-peer-urls`/`initial-cluster` port; consul `ports { serf_lan }` (retry_join). @default - 2380 (etcd), 8301 (consul)",
      ),
    enableV2: z.boolean().default(true).describe("etcd v2 API: Patroni's `etcd:` backend needs it on Debian's etcd 3.4. @default true"),
    heartbeatIntervalMs: z
      .number()
      .int()
      .min(1)
      .max(10000)
      .optional()
      .describe(
        "etcd `heartbeat-interval` (ms): how often the leader tells the followers it leads; taken at a restart (the members roll one at a time). @default - etcd's own, 100",
      ),
    electionTimeoutMs: z
      .number()
      .int()
      .min(1)
      .max(50000)
      .optional()
      .describe(
        "etcd `election-timeout` (ms): how long a follower waits for a heartbeat before it calls an election; at least 5 × the heartbeat. Rolled. @default - etcd's own, 1000",
      ),
    token: identifier
      .default("haforge")
      .describe(
        "etcd `initial-cluster-token`; for consul it names the generated gossip key (`encrypt`) when encryptKey is unset. @default haforge",
      ),
    encryptKey: SecretRef.optional().describe(
      "consul gossip key, consul.hcl `encrypt` (32 bytes, base64). @default - generated once and kept in the materials (a finding)",
    ),
  })
  .strict();
