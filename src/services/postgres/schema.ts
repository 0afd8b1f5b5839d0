/**
 * The postgres service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { port, defaulted, SecretRef, name } from "../../inventory/schema-kit";
import { configKey, hostName, url } from "../../inventory/strings";

export const PostgresHa = z
  .object({
    engine: z
      .enum(["stolon", "patroni"])
      .default("patroni")
      .describe("HA manager: Patroni (patroni.yml) or stolon (keepers, sentinels, proxies). @default patroni"),
    clusterName: name
      .default("pg")
      .describe(
        "Patroni `scope` / stolon `--cluster-name`; names the data dir (/var/lib/postgresql/<version>/patroni-<name>) and units. @default pg",
      ),
    nodes: z.array(hostName).min(1).describe("Postgres data nodes (stolon keepers / patroni members)"),
    sentinels: z.array(hostName).optional().describe("stolon sentinels. @default - the nodes"),
    proxies: z.array(hostName).optional().describe("stolon proxies. @default - the nodes"),
    store: defaulted(
      z
        .object({
          backend: z
            .enum(["etcd", "consul", "kubernetes"])
            .default("etcd")
            .describe(
              "DCS: Patroni's `etcd:` (v2; `etcd3:` when the store has v2 off) or `consul:` section; stolon `--store-backend` (etcdv3, consul, kubernetes). @default etcd",
            ),
          endpoints: z.array(url).optional().describe("@default - the quorum store members"),
        })
        .strict(),
    ).describe("Where the HA manager keeps leader and cluster state (the DCS)"),
    port: port()
      .default(5432)
      .describe("PostgreSQL port: patroni.yml `postgresql { listen, connect_address }`; stolon keeper `--pg-port`. @default 5432"),
    proxyPort: port().default(25432).describe("stolon proxy `--port` (clients connect here; stolon only). @default 25432"),
    version: z
      .number()
      .int()
      .min(9)
      .max(99)
      .default(15)
      .describe(
        "PostgreSQL major version: patroni.yml `postgresql { bin_dir: /usr/lib/postgresql/<version>/bin }`, stolon `--pg-bin-path`, the packages. @default 15",
      ),
    superuserPassword: SecretRef.default({ secret: "pgSuperuserPassword" }).describe(
      "postgres superuser password: patroni.yml `authentication { superuser }`, stolon `--pg-su-passwordfile`. @default { secret: pgSuperuserPassword }",
    ),
    replicationPassword: SecretRef.default({ secret: "pgReplicationPassword" }).describe(
      "Replication user's password: patroni.yml `authentication { replication }`, stolon `--pg-repl-passwordfile`. @default { secret: pgReplicationPassword }",
    ),
    spec: z.record(configKey, z.unknown()).default({}).describe("stolon initial cluster spec overrides"),
    ttl: z.number().int().min(20).max(86400).default(30).describe("Patroni DCS ttl, seconds (Patroni refuses less than 20). @default 30"),
    synchronousMode: z
      .boolean()
      .default(false)
      .describe(
        "Patroni `synchronous_mode` (dynamic configuration: patroni.yml `bootstrap.dcs` at the first start, then applied to the " +
          "running cluster with `patronictl edit-config`): a commit is acknowledged only once a synchronous standby has it, and " +
          "only that standby may be promoted, so a failover loses no acknowledged commit. Patroni only. @default false",
      ),
    synchronousModeStrict: z
      .boolean()
      .default(false)
      .describe(
        "Patroni `synchronous_mode_strict`: with `synchronousMode`, writes stop rather than go asynchronous when no standby is left. Patroni only. @default false",
      ),
  })
  .strict();
