/**
 * The YAML inventory schema (zod), composed from each service's slice (src/services/<svc>/schema.ts). Both parsers (Tower INI and YAML) produce an `Inventory` that
 * satisfies this schema; defaults are applied here and only here (`.default(...)`), so every later
 * stage can rely on them. The JSON Schema in schema/inventory.schema.json is exported from this
 * file (`npm run schema`), so editors complete inventories.
 *
 * Cross-field rules (quorum, membership, addressing) are NOT checked here: they are plan-time
 * findings with inventory paths and hints (src/plan/).
 */
import { z } from "zod";
import { MAX_INVENTORY_HOSTS } from "./limits";
import {
  address,
  cidr,
  configKey,
  connectAddress,
  freeText,
  hostName,
  identifier,
  imageRef,
  interfaceName,
  k8sLabel,
  k8sName,
  localPath,
  packageName,
  packageVersion,
  sshPublicKey,
  userName,
} from "./strings";
import { defaulted, KeySecretRef, name, port, SecretRef } from "./schema-kit";
import { Tower } from "../services/tower/schema";
import { RabbitMq } from "../services/rabbitmq/schema";
import { Pacemaker } from "../services/pacemaker/schema";
import { Keepalived } from "../services/keepalived/schema";
import { Haproxy } from "../services/haproxy/schema";
import { QuorumStore } from "../services/quorum-store/schema";
import { PostgresHa } from "../services/postgres/schema";
import { Syncthing } from "../services/syncthing/schema";
import { ActivePassiveApp } from "../services/active-passive/schema";

export { KeySecretRef, SecretRef } from "./schema-kit";
export * from "../services/tower/schema";
export * from "../services/rabbitmq/schema";
export * from "../services/pacemaker/schema";
export * from "../services/keepalived/schema";
export * from "../services/haproxy/schema";
export * from "../services/quorum-store/schema";
export * from "../services/postgres/schema";
export * from "../services/syncthing/schema";
export * from "../services/active-passive/schema";

export const SshSettings = z
  .object({
    user: userName.default("root").describe("SSH user. @default root"),
    port: port().default(22).describe("SSH port. @default 22"),
    hostKey: sshPublicKey
      .optional()
      .describe(
        "Pinned host public key, OpenSSH format (`ssh-ed25519 AAAA...`). Or use knownHostsFile. @default - none: connecting is refused unless trustOnFirstUse",
      ),
    knownHostsFile: localPath.optional().describe("known_hosts file to pin the host key from"),
    trustOnFirstUse: z.boolean().default(false).describe("Accept an unknown host key once (explicit opt-in). @default false"),
    privateKeyPath: localPath.optional().describe("Path to the SSH private key on the machine running haforge"),
    privateKey: KeySecretRef.optional().describe("SSH private key as a secret"),
    password: SecretRef.optional().describe("SSH password as a secret"),
    agent: z.boolean().default(false).describe("Use SSH_AUTH_SOCK. @default false"),
    bastion: hostName.optional().describe("Name of another inventory host to jump through"),
  })
  .strict();
export type SshSettings = z.infer<typeof SshSettings>;

export const Host = z
  .object({
    name: hostName.describe(
      "Inventory name of the host (Tower INI: the host line). Node name in corosync.conf `nodelist`, RabbitMQ's " +
        "`rabbit@<name>` when no internal address is set, Tower's " +
        "CLUSTER_HOST_ID and `awx-manage provision_instance --hostname`",
    ),
    address: connectAddress.describe("Address haforge connects to (ansible_host). IP or DNS name"),
    internalAddress: address.optional().describe("Cluster-internal address (Tower `rabbitmq_host`). @default - the address"),
    interfaces: z
      .array(
        z
          .object({
            name: interfaceName.describe("Interface name on the host, e.g. eth0 (keepalived `interface`, IPaddr2 `nic`, RS_HA_INTERFACE)"),
            address: cidr.describe("The host's address on it in CIDR form, e.g. 10.0.0.11/24"),
          })
          .strict(),
      )
      .default([])
      .describe("Network interfaces with their CIDR (used for VIP/subnet checks). @default []"),
    ssh: defaulted(SshSettings).describe(
      "How haforge reaches the host over SSH (Tower INI: ansible_user, ansible_port, ansible_ssh_private_key_file). @default root on port 22, host key pinned",
    ),
    init: z.enum(["systemd", "supervisor"]).default("systemd").describe("Service manager on the host. @default systemd"),
    os: identifier
      .optional()
      .describe(
        "OS family or distribution of the host (debian, ubuntu, rhel, rocky, " +
          "almalinux, centos, fedora): picks the package names haforge installs; " +
          "any other value is a finding. Checked against /etc/os-release on " +
          "the host before anything is installed. @default - read from the host",
      ),
    managedByPolicy: z.boolean().default(true).describe("AWX managed_by_policy. @default true"),
    vars: z.record(configKey, freeText()).default({}).describe("Extra host vars, kept as-is"),
  })
  .strict();
export type Host = z.infer<typeof Host>;

/** A member count on Kubernetes: each replica is planned like a host, so bounded like the hosts (limits.ts). */
const replicas = (d: number) => z.number().int().min(1).max(MAX_INVENTORY_HOSTS).default(d);

export const Kubernetes = z
  .object({
    namespace: k8sLabel.default("haforge").describe("Namespace of every object haforge creates. @default haforge"),
    storageClass: k8sName
      .optional()
      .describe("PVC `storageClassName` of the StatefulSets' volumes. @default - the cluster's default class"),
    replicas: defaulted(
      z
        .object({
          rabbitmq: replicas(3).describe("RabbitMQ StatefulSet replicas (cluster nodes). @default 3"),
          web: replicas(2).describe("Tower web pods per instance group. @default 2"),
          task: replicas(2).describe("Tower task pods per instance group (at least its policy minimum). @default 2"),
          keepers: replicas(3).describe("stolon keeper StatefulSet replicas (Postgres data nodes). @default 3"),
          sentinels: replicas(3).describe("stolon sentinel Deployment replicas. @default 3"),
          proxies: replicas(2).describe("stolon proxy Deployment replicas. @default 2"),
        })
        .strict(),
    ).describe("Member counts on this target (there are no hosts to count)"),
    ingress: z
      .object({
        host: address.describe("Ingress rule `host` routed to the Tower web Service"),
        className: k8sName.optional().describe("Ingress `ingressClassName`. @default - the cluster's default class"),
      })
      .strict()
      .optional()
      .describe("An Ingress in front of Tower's web pods. @default - none"),
    loadBalancer: z.boolean().default(false).describe("Tower's entry Service is `type: LoadBalancer` instead of ClusterIP. @default false"),
    images: z
      .record(configKey, imageRef)
      .default({})
      .describe(
        "Image overrides by key: rabbitmq, stolon, web, task, memcached (a digest, or your registry's copy). @default {} " +
          "(rabbitmq:3.10, sorintlab/stolon:master-pg<version>, " +
          "ansible/awx_web:2.1.2, ansible/awx_task:2.1.2, memcached:1.6-alpine)",
      ),
  })
  .strict();

export const Packages = z
  .object({
    manage: z
      .boolean()
      .default(true)
      .describe(
        "Install the packages every service on a host needs (only what is missing or at the wrong version, before its files, daemons not started until configured). @default true",
      ),
    versions: z
      .record(packageName, packageVersion)
      .default({})
      .describe(
        "Pinned versions by distribution package name, as the package manager prints them (`rabbitmq-server: 3.10.8-1.1+deb12u1`). @default {} (any version)",
      ),
  })
  .strict()
  .describe("Software on the hosts");
export type Packages = z.infer<typeof Packages>;

export const Inventory = z
  .object({
    version: z.literal(1).default(1).describe("Inventory format version. @default 1"),
    name: name
      .default("haforge")
      .describe(
        "Cluster name: RabbitMQ `cluster_name`, the salt of the definitions' password hash, the Kubernetes instance label and object-name prefix. @default haforge",
      ),
    target: z
      .enum(["ssh", "kubernetes"])
      .default("ssh")
      .describe("ssh: files and daemons on the hosts over SSH; kubernetes: objects in a cluster (sizes from `kubernetes`). @default ssh"),
    hosts: z.array(Host).default([]).describe("The machines haforge configures (Tower INI: every host line). @default []"),
    tower: Tower.optional().describe("Ansible Tower / AWX instances, groups and database (Tower INI). @default - no Tower"),
    rabbitmq: RabbitMq.optional().describe(
      "The RabbitMQ cluster (Tower INI rabbitmq_* variables). @default - none, or the defaults when there is a Tower",
    ),
    pacemaker: Pacemaker.optional().describe("Corosync/Pacemaker clusters. @default - none"),
    keepalived: Keepalived.optional().describe("keepalived VRRP VIPs. @default - none"),
    haproxy: Haproxy.optional().describe("HAProxy load balancers (/etc/haproxy/haproxy.cfg). @default - none"),
    quorumStore: QuorumStore.optional().describe("An etcd or consul cluster, the DCS of Patroni/stolon. @default - none"),
    postgres: PostgresHa.optional().describe("Replicated PostgreSQL with Patroni or stolon. @default - none"),
    syncthing: Syncthing.optional().describe("Folders kept in sync between hosts by syncthing. @default - none"),
    activePassive: z
      .array(ActivePassiveApp)
      .default([])
      .describe("Apps with built-in active/passive HA (dr-provision style RS_HA_* environment). @default []"),
    kubernetes: Kubernetes.optional().describe("Settings of the kubernetes target. @default - the defaults below"),
    packages: defaulted(Packages),
  })
  .strict();
export type Inventory = z.infer<typeof Inventory>;
export type InventoryInput = z.input<typeof Inventory>;
