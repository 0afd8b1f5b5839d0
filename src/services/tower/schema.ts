/**
 * The tower service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { name, port, defaulted, SecretRef } from "../../inventory/schema-kit";
import { address, hostName, identifier, userName } from "../../inventory/strings";

export const InstanceGroup = z
  .object({
    name: name.describe("Group name without prefix (`tower`, `east`)"),
    /** Hosts listed under the INI section = policy_instance_list. */
    hosts: z
      .array(hostName)
      .default([])
      .describe(
        "Instances of the group (the hosts under `[tower]` / `[instance_group_<name>]`): provisioned with `awx-manage " +
          "provision_instance` and listed in the group's policy_instance_list (`register_queue --hostnames`). @default []",
      ),
    policy: defaulted(
      z
        .object({
          percentage: z
            .number()
            .int()
            .min(0)
            .max(100)
            .default(0)
            .describe(
              "policy_instance_percentage: share of the instances managed by policy the group gets (`awx-manage register_queue --instance_percent`). @default 0",
            ),
          minimum: z
            .number()
            .int()
            .min(0)
            .default(0)
            .describe(
              "policy_instance_minimum: least instances the group gets (`awx-manage register_queue --instance_minimum`). @default 0",
            ),
          list: z.array(hostName).default([]).describe("Extra policy_instance_list entries beyond `hosts`"),
        })
        .strict(),
    ).describe(
      "Tower's instance group policy ([instance_group_<name>:vars] policy_instance_*), applied by haforge's plan as Tower applies it",
    ),
  })
  .strict();

export const IsolatedGroup = z
  .object({
    name: name.describe("Group name without prefix: INI section `[isolated_group_<name>]`, the queue `register_queue --queuename`"),
    controller: identifier.optional().describe("Instance group (or `tower`) that controls this isolated group"),
    hosts: z
      .array(hostName)
      .default([])
      .describe(
        "Isolated nodes of the group (reached over SSH by the controller's instances, never provisioned as instances). @default []",
      ),
  })
  .strict();

export const Tower = z
  .object({
    instanceGroups: z.array(InstanceGroup).default([]).describe("`tower` first; instance_group_<name> sections"),
    isolatedGroups: z
      .array(IsolatedGroup)
      .default([])
      .describe("Isolated instance groups (Tower INI `[isolated_group_<name>]` sections). @default []"),
    database: defaulted(
      z
        .object({
          hosts: z
            .array(hostName)
            .default([])
            .describe(
              "The host running Tower's PostgreSQL (INI `[database]`; at most one). @default [] - an external pg_host, or the only instance of a single-instance Tower",
            ),
          host: address.optional().describe("External database host (pg_host)"),
          port: port().default(5432).describe("pg_port: /etc/tower/conf.d/postgres.py `DATABASES.default.PORT`. @default 5432"),
          name: identifier.default("awx").describe("pg_database: postgres.py `DATABASES.default.NAME`. @default awx"),
          username: userName.default("awx").describe("pg_username: postgres.py `DATABASES.default.USER`. @default awx"),
          password: SecretRef.optional().describe(
            "pg_password: postgres.py `DATABASES.default.PASSWORD` (empty is a finding). @default - none",
          ),
        })
        .strict(),
    ).describe("Tower's database (INI `[database]` and pg_* variables), written to /etc/tower/conf.d/postgres.py on every instance"),
    adminPassword: SecretRef.optional().describe(
      "admin_password: the initial Tower admin's password (AWX_ADMIN_PASSWORD on Kubernetes; unset is a finding). @default - none",
    ),
    secretKey: SecretRef.optional().describe(
      "secret_key: /etc/tower/SECRET_KEY, identical on every instance (it encrypts credentials in the " +
        "database). @default - left to the installer (Kubernetes: generated once and kept in the materials)",
    ),
  })
  .strict();
export type Tower = z.infer<typeof Tower>;
