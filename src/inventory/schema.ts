/**
 * The YAML inventory schema (zod). Both parsers (Tower INI and YAML) produce an `Inventory` that
 * satisfies this schema; defaults are applied here and only here (`.default(...)`), so every later
 * stage can rely on them. The JSON Schema in schema/inventory.schema.json is exported from this
 * file (`npm run schema`), so editors complete inventories.
 *
 * Cross-field rules (quorum, membership, addressing) are NOT checked here: they are plan-time
 * findings with inventory paths and hints (src/plan/).
 */
import { z } from "zod";
import {
  address,
  bindAddress,
  cidr,
  clusterId,
  commandLine,
  configKey,
  connectAddress,
  duration,
  envName,
  fenceAgent,
  freeText,
  hostName,
  hostPath,
  httpCheck,
  identifier,
  imageRef,
  interfaceName,
  k8sLabel,
  k8sName,
  localPath,
  packageName,
  packageVersion,
  pcmkAgent,
  score,
  secretName,
  secretText,
  serviceUnit,
  sshPublicKey,
  unitName,
  url,
  userName,
  xmlId,
} from "./strings";

/**
 * Every string field has a kind from ./strings.ts saying what it may be (unit name, interface
 * name, IP/CIDR, duration, URL, host name, path, identifier, free text without control
 * characters). A plain `z.string()` has no place in this file except for secret literals.
 */
const name = identifier;

/**
 * A secret value. Never a literal in example files: reference a Pulumi config secret (`secret:`)
 * or an environment variable (`env:`). `value:` exists because Tower INI files carry literals
 * (`rabbitmq_password=...`); a literal in YAML is accepted with a warning.
 */
export const SecretRef = z.union([
  z.object({ secret: secretName.describe("Pulumi config secret key (stack config `haforge:<key>` or `<ns>:<key>`)") }).strict(),
  z.object({ env: envName.describe("Environment variable holding the value") }).strict(),
  z.object({ value: secretText.describe("Literal value (discouraged: read as-is from Tower INI files)") }).strict(),
]);
export type SecretRef = z.infer<typeof SecretRef>;

/** A secret that may span lines (an SSH private key in PEM/OpenSSH format). */
export const KeySecretRef = z.union([
  z.object({ secret: secretName.describe("Pulumi config secret key (stack config `haforge:<key>` or `<ns>:<key>`)") }).strict(),
  z.object({ env: envName.describe("Environment variable holding the value") }).strict(),
  z.object({ value: z.string().describe("Literal value (discouraged)") }).strict(),
]);

export const SshSettings = z
  .object({
    user: userName.default("root").describe("SSH user. @default root"),
    port: z.number().int().min(1).max(65535).default(22).describe("SSH port. @default 22"),
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
    name: hostName,
    address: connectAddress.describe("Address haforge connects to (ansible_host). IP or DNS name"),
    internalAddress: address.optional().describe("Cluster-internal address (Tower `rabbitmq_host`). @default - the address"),
    interfaces: z
      .array(z.object({ name: interfaceName, address: cidr.describe("CIDR, e.g. 10.0.0.11/24") }).strict())
      .default([])
      .describe("Network interfaces with their CIDR (used for VIP/subnet checks). @default []"),
    ssh: SshSettings.default(SshSettings.parse({})),
    init: z.enum(["systemd", "supervisor"]).default("systemd").describe("Service manager on the host. @default systemd"),
    os: identifier
      .optional()
      .describe(
        "OS family or distribution of the host (debian, ubuntu, rhel, rocky, almalinux, centos, fedora): picks the package names haforge installs; any other value is a finding. Checked against /etc/os-release on the host before anything is installed. @default - read from the host",
      ),
    managedByPolicy: z.boolean().default(true).describe("AWX managed_by_policy. @default true"),
    vars: z.record(configKey, freeText()).default({}).describe("Extra host vars, kept as-is"),
  })
  .strict();
export type Host = z.infer<typeof Host>;

export const InstanceGroup = z
  .object({
    name: name.describe("Group name without prefix (`tower`, `east`)"),
    /** Hosts listed under the INI section = policy_instance_list. */
    hosts: z.array(hostName).default([]),
    policy: z
      .object({
        percentage: z.number().int().min(0).max(100).default(0),
        minimum: z.number().int().min(0).default(0),
        list: z.array(hostName).default([]).describe("Extra policy_instance_list entries beyond `hosts`"),
      })
      .strict()
      .default({ percentage: 0, minimum: 0, list: [] }),
  })
  .strict();

export const IsolatedGroup = z
  .object({
    name,
    controller: identifier.optional().describe("Instance group (or `tower`) that controls this isolated group"),
    hosts: z.array(hostName).default([]),
  })
  .strict();

export const Tower = z
  .object({
    instanceGroups: z.array(InstanceGroup).default([]).describe("`tower` first; instance_group_<name> sections"),
    isolatedGroups: z.array(IsolatedGroup).default([]),
    database: z
      .object({
        hosts: z.array(hostName).default([]),
        host: address.optional().describe("External database host (pg_host)"),
        port: z.number().int().min(1).max(65535).default(5432),
        name: identifier.default("awx"),
        username: userName.default("awx"),
        password: SecretRef.optional(),
      })
      .strict()
      .default({ hosts: [], port: 5432, name: "awx", username: "awx" }),
    adminPassword: SecretRef.optional(),
    secretKey: SecretRef.optional(),
  })
  .strict();
export type Tower = z.infer<typeof Tower>;

export const RabbitMq = z
  .object({
    port: z.number().int().min(1).max(65535).default(5672),
    vhost: freeText(255).min(1).default("tower"),
    username: userName.default("tower"),
    password: SecretRef.default({ value: "" }),
    cookie: SecretRef.default({ value: "cookiemonster" }),
    useLongName: z.boolean().optional().describe("@default - derived from addressing: FQDN or IP => true, short names => false"),
    enableManagement: z.boolean().default(false),
    managementPort: z.number().int().min(1).max(65535).default(15672),
    partitionHandling: z.enum(["pause_minority", "autoheal", "ignore"]).default("pause_minority"),
    /** Explicit node hosts. @default - every instance (tower + instance groups). */
    nodes: z.array(hostName).optional(),
  })
  .strict();
export type RabbitMq = z.infer<typeof RabbitMq>;

const KeyValues = z.record(configKey, z.union([freeText(), z.number(), z.boolean()])).default({});

export const PcmkOp = z
  .object({
    name: identifier,
    interval: duration.default("0s"),
    timeout: duration.optional(),
    role: z.enum(["Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave"]).optional(),
  })
  .strict();
export const PcmkPrimitive = z
  .object({
    id: xmlId,
    agent: pcmkAgent.describe("class:provider:type or class:type, e.g. ocf:heartbeat:IPaddr2, stonith:fence_ipmilan"),
    params: KeyValues,
    meta: KeyValues,
    ops: z.array(PcmkOp).default([]),
  })
  .strict();
export const PcmkGroup = z.object({ id: xmlId, members: z.array(xmlId).min(1), meta: KeyValues }).strict();
export const PcmkClone = z.object({ id: xmlId, resource: xmlId, promotable: z.boolean().default(false), meta: KeyValues }).strict();
export const PcmkFencing = z
  .object({
    id: xmlId,
    agent: fenceAgent.describe("Fence agent, e.g. fence_ipmilan, fence_virt"),
    params: KeyValues,
    hosts: z.array(hostName).default([]).describe("Nodes this device fences (pcmk_host_list)"),
  })
  .strict();
export const PcmkLocation = z.object({ id: xmlId, resource: xmlId, node: hostName, score: score.default("INFINITY") }).strict();
export const PcmkColocation = z.object({ id: xmlId, resource: xmlId, with: xmlId, score: score.default("INFINITY") }).strict();
export const PcmkOrder = z
  .object({ id: xmlId, first: xmlId, then: xmlId, kind: z.enum(["Mandatory", "Optional", "Serialize"]).default("Mandatory") })
  .strict();

export const ClusterNode = z.union([
  hostName,
  z
    .object({
      host: hostName,
      nodeid: z.number().int().min(1).optional(),
      addrs: z.array(address).optional().describe("knet link addresses, link 0 first. @default - [host internal address]"),
    })
    .strict(),
]);

export const PacemakerCluster = z
  .object({
    name: name.describe("Cluster name: corosync.conf `totem { cluster_name }`, and the prefix of this cluster's resource names"),
    nodes: z.array(ClusterNode).default([]).describe("Full cluster nodes (corosync `nodelist`, node ids in this order). @default []"),
    remoteNodes: z.array(hostName).default([]).describe("pacemaker_remote nodes (worker pools beyond 16)"),
    transport: z
      .enum(["knet", "udpu", "udp"])
      .default("knet")
      .describe("corosync.conf `totem { transport }`; only knet carries several links and crypto. @default knet"),
    crypto: z
      .object({
        cipher: z
          .enum(["none", "aes256", "aes192", "aes128"])
          .default("aes256")
          .describe("corosync.conf `totem { crypto_cipher }` (knet only). @default aes256"),
        hash: z
          .enum(["none", "md5", "sha1", "sha256", "sha384", "sha512"])
          .default("sha256")
          .describe("corosync.conf `totem { crypto_hash }`; a cipher needs a hash. @default sha256"),
      })
      .strict()
      .default({ cipher: "aes256", hash: "sha256" })
      .describe("Corosync wire encryption with the generated /etc/corosync/authkey (`totem { crypto_cipher, crypto_hash }`)"),
    token: z.number().int().min(100).max(3_600_000).default(3000).describe("totem token timeout, ms. @default 3000"),
    quorum: z
      .object({
        twoNode: z
          .boolean()
          .default(false)
          .describe(
            "votequorum `quorum { two_node }`: a 2-node cluster stays quorate with one node; turns wait_for_all on. @default false",
          ),
        waitForAll: z
          .boolean()
          .optional()
          .describe(
            "votequorum `quorum { wait_for_all }`: quorate only once all nodes were seen together after a full stop. @default - on with twoNode, else off",
          ),
        lastManStanding: z
          .boolean()
          .default(false)
          .describe(
            "votequorum `quorum { last_man_standing }`: expected votes shrink as nodes leave cleanly; excludes a qdevice. @default false",
          ),
        autoTieBreaker: z
          .boolean()
          .default(false)
          .describe(
            "votequorum `quorum { auto_tie_breaker }`: on an even split the half with the lowest node id stays quorate; excludes a qdevice. @default false",
          ),
        qdevice: z
          .object({
            host: address.describe("corosync-qnetd host: `quorum { device { net { host } } }`"),
            algorithm: z
              .enum(["ffsplit", "lms"])
              .default("ffsplit")
              .describe("`quorum { device { net { algorithm } } }`. @default ffsplit"),
          })
          .strict()
          .optional()
          .describe("A quorum device (corosync-qdevice, `quorum { device { model: net } }`). @default - none"),
      })
      .strict()
      .default({ twoNode: false, lastManStanding: false, autoTieBreaker: false })
      .describe("Corosync votequorum options (votequorum(5)); expected votes and the quorum are computed from the nodes"),
    fencing: z
      .array(PcmkFencing)
      .default([])
      .describe("STONITH devices (CIB `primitive class=stonith`); a production cluster needs one. @default []"),
    properties: KeyValues.describe("Cluster properties, e.g. stonith-enabled, no-quorum-policy"),
    primitives: z.array(PcmkPrimitive).default([]).describe("CIB resources (`<primitive>`). @default []"),
    groups: z.array(PcmkGroup).default([]).describe("CIB resource groups (`<group>`: members start in order on one node). @default []"),
    clones: z.array(PcmkClone).default([]).describe("CIB clones (`<clone>`, promotable with `promotable`). @default []"),
    constraints: z
      .object({
        location: z.array(PcmkLocation).default([]),
        colocation: z.array(PcmkColocation).default([]),
        order: z.array(PcmkOrder).default([]),
      })
      .strict()
      .default({ location: [], colocation: [], order: [] }),
    /**
     * The TripleO "lightweight" layout: Pacemaker keeps only VIPs + HAProxy, RabbitMQ, Galera,
     * Redis, cinder-volume; every other service is restarted by the init system.
     */
    lightweight: z
      .object({
        vips: z.array(z.object({ name: xmlId, address: cidr.describe("CIDR") }).strict()).default([]),
        managed: z
          .array(z.enum(["haproxy", "rabbitmq", "galera", "redis", "cinder-volume"]))
          .default(["haproxy", "rabbitmq", "galera", "redis", "cinder-volume"]),
        systemdServices: z.array(serviceUnit).default([]).describe("Services left to systemd with Restart=always"),
      })
      .strict()
      .optional(),
  })
  .strict();
export type PacemakerCluster = z.infer<typeof PacemakerCluster>;

export const Pacemaker = z
  .object({
    layout: z.enum(["per-service", "all-in-one", "lightweight"]).default("per-service"),
    clusters: z.array(PacemakerCluster).default([]),
  })
  .strict();

export const VrrpInstance = z
  .object({
    name,
    vip: cidr.describe("VIP in CIDR form, e.g. 10.0.0.100/24"),
    interface: interfaceName.default("eth0"),
    routerId: z.number().int().min(1).max(255),
    hosts: z
      .array(z.union([hostName, z.object({ host: hostName, priority: z.number().int().min(1).max(254) }).strict()]))
      .min(1)
      .describe("First host is the preferred master; priorities default to 150, 140, 130..."),
    unicast: z.boolean().default(true).describe("unicast_peer instead of multicast. @default true"),
    advertInt: z.number().int().min(1).max(255).default(1),
    authPass: SecretRef.optional(),
    track: z
      .array(
        z
          .object({
            name: name,
            script: commandLine,
            interval: z.number().int().min(1).max(3600).default(2),
            weight: z.number().int().min(-254).max(254).default(-20),
            fall: z.number().int().min(1).default(2),
            rise: z.number().int().min(1).default(2),
          })
          .strict(),
      )
      .default([])
      .describe("vrrp_script checks; e.g. `pidof haproxy` or the app's health URL"),
    nopreempt: z.boolean().default(false),
  })
  .strict();

export const Keepalived = z.object({ instances: z.array(VrrpInstance).default([]) }).strict();

export const HaproxyBackend = z
  .object({
    name,
    mode: z.enum(["tcp", "http"]).default("tcp"),
    balance: z.enum(["roundrobin", "leastconn", "source", "first"]).default("roundrobin"),
    servers: z.array(z.object({ host: hostName, port: z.number().int().min(1).max(65535) }).strict()).min(1),
    stickTable: z.boolean().default(false).describe("Single-active backend (e.g. Galera): stick on dst, others backup"),
    httpchk: httpCheck.optional().describe("e.g. `GET /healthz`; http checks against the servers"),
    checkPort: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe(
        "Port the health check probes when it is not the traffic port (Galera clustercheck 9200, Patroni REST 8008). @default - the server's port",
      ),
    checkInterval: duration.default("1s"),
  })
  .strict();
export const HaproxyFrontend = z
  .object({
    name,
    bind: bindAddress.describe("`ADDRESS:PORT` or `*:PORT`; the VIP by default"),
    mode: z.enum(["tcp", "http"]).default("tcp"),
    backend: identifier,
  })
  .strict();
export const Haproxy = z
  .object({
    hosts: z.array(hostName).default([]).describe("@default - the hosts of the first keepalived instance"),
    frontends: z.array(HaproxyFrontend).default([]),
    backends: z.array(HaproxyBackend).default([]),
    stats: z
      .object({ bind: bindAddress, user: userName.default("admin"), password: SecretRef.optional() })
      .strict()
      .optional(),
  })
  .strict();

export const QuorumStore = z
  .object({
    kind: z.enum(["etcd", "consul"]),
    members: z.array(hostName).default([]).describe("Voting members"),
    storeOnly: z.array(hostName).default([]).describe("Members that run only the store (Cloudify: 2 managers + 1 store-only node)"),
    clientPort: z.number().int().min(1).max(65535).optional(),
    peerPort: z.number().int().min(1).max(65535).optional(),
    enableV2: z.boolean().default(true).describe("etcd v2 API: Patroni's `etcd:` backend needs it on Debian's etcd 3.4. @default true"),
    token: identifier.default("haforge"),
    encryptKey: SecretRef.optional().describe("consul gossip key"),
  })
  .strict();

export const PostgresHa = z
  .object({
    engine: z.enum(["stolon", "patroni"]).default("patroni"),
    clusterName: name.default("pg"),
    nodes: z.array(hostName).min(1).describe("Postgres data nodes (stolon keepers / patroni members)"),
    sentinels: z.array(hostName).optional().describe("stolon sentinels. @default - the nodes"),
    proxies: z.array(hostName).optional().describe("stolon proxies. @default - the nodes"),
    store: z
      .object({
        backend: z.enum(["etcd", "consul", "kubernetes"]).default("etcd"),
        endpoints: z.array(url).optional().describe("@default - the quorum store members"),
      })
      .strict()
      .default({ backend: "etcd" }),
    port: z.number().int().min(1).max(65535).default(5432),
    proxyPort: z.number().int().min(1).max(65535).default(25432),
    version: z.number().int().min(9).max(99).default(15),
    superuserPassword: SecretRef.default({ secret: "pgSuperuserPassword" }),
    replicationPassword: SecretRef.default({ secret: "pgReplicationPassword" }),
    spec: z.record(configKey, z.unknown()).default({}).describe("stolon initial cluster spec overrides"),
    ttl: z.number().int().min(20).max(86400).default(30).describe("Patroni DCS ttl, seconds (Patroni refuses less than 20). @default 30"),
  })
  .strict();

export const SyncthingFolder = z
  .object({
    id: name,
    path: hostPath,
    hosts: z.array(hostName).min(2),
    rescanIntervalS: z.number().int().min(0).max(86400).default(60),
    fsWatcherDelayS: z.number().int().min(1).max(3600).default(1),
  })
  .strict();
export const Syncthing = z
  .object({
    folders: z.array(SyncthingFolder).default([]),
    guiPort: z.number().int().min(1).max(65535).default(8384),
    listenPort: z.number().int().min(1).max(65535).default(22000),
  })
  .strict();

export const ActivePassiveApp = z
  .object({
    name,
    service: unitName.default("dr-provision").describe("systemd unit / supervisor program of the app"),
    hosts: z.array(hostName).min(2).describe("First host starts active (it starts first); the others passive, after it is up"),
    active: hostName
      .optional()
      .describe(
        "Desired active node (switchover on demand). Absent: a deploy never changes which node is active. Set (or changed): haforge checks that this node has caught up ('Stream switch to realtime streaming'), demotes the node holding the VIP (USR2) and promotes this one (USR1); a no-op when it already holds the VIP",
      ),
    vip: cidr.describe("CIDR"),
    interface: interfaceName.default("eth0"),
    haId: clusterId.describe("RS_HA_ID: identical on all nodes"),
    token: SecretRef.describe("RS_HA_TOKEN shared by all nodes"),
  })
  .strict();

export const Kubernetes = z
  .object({
    namespace: k8sLabel.default("haforge"),
    storageClass: k8sName.optional(),
    replicas: z
      .object({
        rabbitmq: z.number().int().min(1).default(3),
        web: z.number().int().min(1).default(2),
        task: z.number().int().min(1).default(2),
        keepers: z.number().int().min(1).default(3),
        sentinels: z.number().int().min(1).default(3),
        proxies: z.number().int().min(1).default(2),
      })
      .strict()
      .default({ rabbitmq: 3, web: 2, task: 2, keepers: 3, sentinels: 3, proxies: 2 }),
    ingress: z.object({ host: address, className: k8sName.optional() }).strict().optional(),
    loadBalancer: z.boolean().default(false),
    images: z.record(configKey, imageRef).default({}),
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
    version: z.literal(1).default(1),
    name: name.default("haforge"),
    target: z.enum(["ssh", "kubernetes"]).default("ssh"),
    hosts: z.array(Host).default([]),
    tower: Tower.optional(),
    rabbitmq: RabbitMq.optional(),
    pacemaker: Pacemaker.optional(),
    keepalived: Keepalived.optional(),
    haproxy: Haproxy.optional(),
    quorumStore: QuorumStore.optional(),
    postgres: PostgresHa.optional(),
    syncthing: Syncthing.optional(),
    activePassive: z.array(ActivePassiveApp).default([]),
    kubernetes: Kubernetes.optional(),
    packages: Packages.default(Packages.parse({})),
  })
  .strict();
export type Inventory = z.infer<typeof Inventory>;
export type InventoryInput = z.input<typeof Inventory>;
