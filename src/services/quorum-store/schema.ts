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
