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
import { MAX_INVENTORY_HOSTS } from "./limits";
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

/** A TCP/UDP port (1..65535). */
const port = () => z.number().int().min(1).max(65535);

/**
 * A nested object that may be left out: absent, it is what `{}` parses to, so its default is
 * written once, on its fields (the JSON Schema still shows the whole default object). Each parse
 * gets its own copy.
 */
const defaulted = <T extends z.ZodObject>(schema: T) => schema.default(() => schema.parse({}) as z.util.NoUndefined<z.output<T>>);

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
      "Inventory name of the host (Tower INI: the host line). Node name in corosync.conf `nodelist`, RabbitMQ's `rabbit@<name>` when no internal address is set, Tower's CLUSTER_HOST_ID and `awx-manage provision_instance --hostname`",
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
    hosts: z
      .array(hostName)
      .default([])
      .describe(
        "Instances of the group (the hosts under `[tower]` / `[instance_group_<name>]`): provisioned with `awx-manage provision_instance` and listed in the group's policy_instance_list (`register_queue --hostnames`). @default []",
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
      "secret_key: /etc/tower/SECRET_KEY, identical on every instance (it encrypts credentials in the database). @default - left to the installer (Kubernetes: generated once and kept in the materials)",
    ),
  })
  .strict();
export type Tower = z.infer<typeof Tower>;

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

const KeyValues = z.record(configKey, z.union([freeText(), z.number(), z.boolean()])).default({});

export const PcmkOp = z
  .object({
    name: identifier.describe("Operation name: CIB `<op name>` (monitor, start, stop, promote, demote, notify)"),
    interval: duration.default("0s").describe("CIB `<op interval>`; 0s for start/stop. @default 0s"),
    timeout: duration.optional().describe("CIB `<op timeout>`. @default - Pacemaker's (op_defaults, else 20s)"),
    role: z
      .enum(["Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave"])
      .optional()
      .describe("CIB `<op role>`: a monitor for one role of a promotable clone. @default - any role"),
  })
  .strict();
export const PcmkPrimitive = z
  .object({
    id: xmlId.describe("CIB resource id (`<primitive id>`), unique in the cluster"),
    agent: pcmkAgent.describe("class:provider:type or class:type, e.g. ocf:heartbeat:IPaddr2, stonith:fence_ipmilan"),
    params: KeyValues.describe(
      "Agent parameters: CIB `<instance_attributes>` nvpairs (ids `<id>-instance_attributes-<name>`). @default {}",
    ),
    meta: KeyValues.describe("Resource meta attributes, e.g. resource-stickiness: CIB `<meta_attributes>`. @default {}"),
    ops: z
      .array(PcmkOp)
      .default([])
      .describe("CIB `<operations>`, ids `<id>-<op>-interval-<interval>[-<role>]`; one (name, interval, role) once. @default []"),
  })
  .strict();
export const PcmkGroup = z
  .object({
    id: xmlId.describe("CIB `<group id>`"),
    members: z.array(xmlId).min(1).describe("Primitive ids, started in this order on one node, stopped in reverse"),
    meta: KeyValues.describe("Group meta attributes: CIB `<meta_attributes>`. @default {}"),
  })
  .strict();
export const PcmkClone = z
  .object({
    id: xmlId.describe("CIB `<clone id>`"),
    resource: xmlId.describe("The primitive or group it clones (one per clone)"),
    promotable: z
      .boolean()
      .default(false)
      .describe("A promotable clone: clone meta `promotable=true` (one Promoted instance, the others Unpromoted). @default false"),
    meta: KeyValues.describe("Clone meta attributes, e.g. clone-max, notify: CIB `<meta_attributes>`. @default {}"),
  })
  .strict();
export const PcmkFencing = z
  .object({
    id: xmlId.describe("CIB id of the stonith resource (`<primitive id class=stonith>`)"),
    agent: fenceAgent.describe("Fence agent, e.g. fence_ipmilan, fence_virt"),
    params: KeyValues.describe("Fence agent parameters (ip, username, ...): CIB `<instance_attributes>`. @default {}"),
    hosts: z.array(hostName).default([]).describe("Nodes this device fences (pcmk_host_list)"),
  })
  .strict();
export const PcmkLocation = z
  .object({
    id: xmlId.describe("CIB `<rsc_location id>`"),
    resource: xmlId.describe("Resource it places: `<rsc_location rsc>`"),
    node: hostName.describe("Node: `<rsc_location node>`"),
    score: score.default("INFINITY").describe("`<rsc_location score>`: INFINITY, -INFINITY (never there) or an integer. @default INFINITY"),
  })
  .strict();
export const PcmkColocation = z
  .object({
    id: xmlId.describe("CIB `<rsc_colocation id>`"),
    resource: xmlId.describe("Resource placed relative to `with`: `<rsc_colocation rsc>`"),
    with: xmlId.describe("`<rsc_colocation with-rsc>` (placed first)"),
    score: score.default("INFINITY").describe("`<rsc_colocation score>`; -INFINITY keeps them apart. @default INFINITY"),
  })
  .strict();
export const PcmkOrder = z
  .object({
    id: xmlId.describe("CIB `<rsc_order id>`"),
    first: xmlId.describe("`<rsc_order first>`: started before `then`"),
    then: xmlId.describe("`<rsc_order then>`"),
    kind: z.enum(["Mandatory", "Optional", "Serialize"]).default("Mandatory").describe("`<rsc_order kind>`. @default Mandatory"),
  })
  .strict();

export const ClusterNode = z.union([
  hostName,
  z
    .object({
      host: hostName.describe("Inventory host of the node: corosync.conf `nodelist { node { name } }`"),
      nodeid: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe("corosync.conf `node { nodeid }`. @default - the lowest id no other node of the cluster has, in `nodes` order"),
      addrs: z.array(address).optional().describe("knet link addresses, link 0 first. @default - [host internal address]"),
    })
    .strict(),
]);

/** The services Pacemaker keeps in the lightweight layout, and the default of `lightweight.managed`. */
export const LIGHTWEIGHT_MANAGED = ["haproxy", "rabbitmq", "galera", "redis", "cinder-volume"] as const;

export const PacemakerCluster = z
  .object({
    name: name.describe("Cluster name: corosync.conf `totem { cluster_name }`, and the prefix of this cluster's resource names"),
    nodes: z.array(ClusterNode).default([]).describe("Full cluster nodes (corosync `nodelist`, node ids in this order). @default []"),
    remoteNodes: z.array(hostName).default([]).describe("pacemaker_remote nodes (worker pools beyond 16)"),
    transport: z
      .enum(["knet", "udpu", "udp"])
      .default("knet")
      .describe("corosync.conf `totem { transport }`; only knet carries several links and crypto. @default knet"),
    crypto: defaulted(
      z
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
        .strict(),
    ).describe("Corosync wire encryption with the generated /etc/corosync/authkey (`totem { crypto_cipher, crypto_hash }`)"),
    token: z.number().int().min(100).max(3_600_000).default(3000).describe("totem token timeout, ms. @default 3000"),
    quorum: defaulted(
      z
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
        .strict(),
    ).describe("Corosync votequorum options (votequorum(5)); expected votes and the quorum are computed from the nodes"),
    fencing: z
      .array(PcmkFencing)
      .default([])
      .describe("STONITH devices (CIB `primitive class=stonith`); a production cluster needs one. @default []"),
    properties: KeyValues.describe("Cluster properties, e.g. stonith-enabled, no-quorum-policy"),
    primitives: z.array(PcmkPrimitive).default([]).describe("CIB resources (`<primitive>`). @default []"),
    groups: z.array(PcmkGroup).default([]).describe("CIB resource groups (`<group>`: members start in order on one node). @default []"),
    clones: z.array(PcmkClone).default([]).describe("CIB clones (`<clone>`, promotable with `promotable`). @default []"),
    constraints: defaulted(
      z
        .object({
          location: z.array(PcmkLocation).default([]).describe("CIB `<rsc_location>` constraints. @default []"),
          colocation: z.array(PcmkColocation).default([]).describe("CIB `<rsc_colocation>` constraints. @default []"),
          order: z.array(PcmkOrder).default([]).describe("CIB `<rsc_order>` constraints. @default []"),
        })
        .strict(),
    ).describe("CIB `<constraints>`"),
    /**
     * The TripleO "lightweight" layout: Pacemaker keeps only VIPs + HAProxy, RabbitMQ, Galera,
     * Redis, cinder-volume; every other service is restarted by the init system.
     */
    lightweight: z
      .object({
        vips: z
          .array(
            z
              .object({
                name: xmlId.describe("Resource id of the VIP's `ocf:heartbeat:IPaddr2` primitive"),
                address: cidr.describe("The VIP in CIDR form: IPaddr2 `ip` and `cidr_netmask`"),
              })
              .strict(),
          )
          .default([])
          .describe("VIPs Pacemaker moves (IPaddr2 primitives, colocated with haproxy-clone and started after it). @default []"),
        managed: z
          .array(z.enum(LIGHTWEIGHT_MANAGED))
          .default([...LIGHTWEIGHT_MANAGED])
          .describe(
            "Services Pacemaker runs (TripleO ids haproxy-clone, rabbitmq-clone, galera-clone, redis-clone, openstack-cinder-volume); haforge then never starts or restarts their units. @default all five",
          ),
        systemdServices: z.array(serviceUnit).default([]).describe("Services left to systemd with Restart=always"),
      })
      .strict()
      .optional()
      .describe(
        "The lightweight layout's part of this cluster. @default - none (with `layout: lightweight`: every managed service, no VIP)",
      ),
  })
  .strict();
export type PacemakerCluster = z.infer<typeof PacemakerCluster>;

export const Pacemaker = z
  .object({
    layout: z
      .enum(["per-service", "all-in-one", "lightweight"])
      .default("per-service")
      .describe(
        "per-service: one cluster per service, a host in several clusters; all-in-one: one cluster, a host in one cluster only; lightweight: Pacemaker keeps only VIPs, HAProxy, RabbitMQ, Galera, Redis, cinder-volume (see `lightweight`). @default per-service",
      ),
    clusters: z
      .array(PacemakerCluster)
      .default([])
      .describe("Corosync/Pacemaker clusters: each renders /etc/corosync/corosync.conf and a CIB on its nodes. @default []"),
  })
  .strict();

export const VrrpInstance = z
  .object({
    name: name.describe("keepalived.conf `vrrp_instance <name>`, unique"),
    vip: cidr.describe("VIP in CIDR form, e.g. 10.0.0.100/24"),
    interface: interfaceName
      .default("eth0")
      .describe("keepalived.conf `vrrp_instance { interface }`: where the VIP is added. @default eth0"),
    routerId: z
      .number()
      .int()
      .min(1)
      .max(255)
      .describe("keepalived.conf `virtual_router_id`: unique per interface and subnet (VRRP's VRID, also the VIP's virtual MAC)"),
    hosts: z
      .array(
        z.union([
          hostName,
          z
            .object({
              host: hostName.describe("Inventory host running this instance"),
              priority: z
                .number()
                .int()
                .min(1)
                .max(254)
                .describe("keepalived.conf `priority`; the highest holds the VIP. @default 150, 140, 130... by position"),
            })
            .strict(),
        ]),
      )
      .min(1)
      .describe("First host is the preferred master; priorities default to 150, 140, 130..."),
    unicast: z.boolean().default(true).describe("unicast_peer instead of multicast. @default true"),
    advertInt: z
      .number()
      .int()
      .min(1)
      .max(255)
      .default(1)
      .describe("keepalived.conf `advert_int`, seconds between VRRP adverts. @default 1"),
    authPass: SecretRef.optional().describe(
      "keepalived.conf `authentication { auth_type PASS; auth_pass }` (VRRP carries 8 characters; longer is cut, with a note). @default - no authentication",
    ),
    track: z
      .array(
        z
          .object({
            name: name.describe("Check name: keepalived.conf `vrrp_script <instance>_<name>`, listed in the instance's `track_script`"),
            script: commandLine.describe("vrrp_script `script`: the command (run as root); exit 0 = healthy"),
            interval: z.number().int().min(1).max(3600).default(2).describe("vrrp_script `interval`, seconds. @default 2"),
            weight: z
              .number()
              .int()
              .min(-254)
              .max(254)
              .default(-20)
              .describe("vrrp_script `weight`: added to the priority while the check fails (negative) or passes (positive). @default -20"),
            fall: z.number().int().min(1).default(2).describe("vrrp_script `fall`: failures before it counts as down. @default 2"),
            rise: z.number().int().min(1).default(2).describe("vrrp_script `rise`: successes before it counts as up. @default 2"),
          })
          .strict(),
      )
      .default([])
      .describe("vrrp_script checks; e.g. `pidof haproxy` or the app's health URL"),
    nopreempt: z
      .boolean()
      .default(false)
      .describe(
        "keepalived.conf `nopreempt` (every node then starts in `state BACKUP`): a recovered master does not take the VIP back. @default false",
      ),
  })
  .strict();

export const Keepalived = z
  .object({
    instances: z
      .array(VrrpInstance)
      .default([])
      .describe("VRRP instances: one `vrrp_instance` each in /etc/keepalived/keepalived.conf on its hosts. @default []"),
  })
  .strict();

export const HaproxyBackend = z
  .object({
    name: name.describe("haproxy.cfg `backend <name>`"),
    mode: z.enum(["tcp", "http"]).default("tcp").describe("haproxy.cfg backend `mode`. @default tcp"),
    balance: z
      .enum(["roundrobin", "leastconn", "source", "first"])
      .default("roundrobin")
      .describe("haproxy.cfg backend `balance`. @default roundrobin"),
    servers: z
      .array(
        z
          .object({
            host: hostName.describe("Inventory host: `server <host> <its internal address>:<port> check`"),
            port: port().describe("The server's traffic port"),
          })
          .strict(),
      )
      .min(1)
      .describe("haproxy.cfg `server` lines, health-checked (`check inter <checkInterval>`)"),
    stickTable: z.boolean().default(false).describe("Single-active backend (e.g. Galera): stick on dst, others backup"),
    httpchk: httpCheck.optional().describe("e.g. `GET /healthz`; http checks against the servers"),
    checkPort: port()
      .optional()
      .describe(
        "Port the health check probes when it is not the traffic port (Galera clustercheck 9200, Patroni REST 8008). @default - the server's port",
      ),
    checkInterval: duration.default("1s").describe("haproxy.cfg `server ... inter`: time between health checks. @default 1s"),
  })
  .strict();
export const HaproxyFrontend = z
  .object({
    name: name.describe("haproxy.cfg `frontend <name>`"),
    bind: bindAddress.describe("`ADDRESS:PORT` or `*:PORT`; the VIP by default"),
    mode: z.enum(["tcp", "http"]).default("tcp").describe("haproxy.cfg frontend `mode` (http adds httplog and forwardfor). @default tcp"),
    backend: identifier.describe("haproxy.cfg `default_backend`: a backend's name"),
  })
  .strict();
export const Haproxy = z
  .object({
    hosts: z.array(hostName).default([]).describe("@default - the hosts of the first keepalived instance"),
    frontends: z.array(HaproxyFrontend).default([]).describe("haproxy.cfg `frontend` sections. @default []"),
    backends: z.array(HaproxyBackend).default([]).describe("haproxy.cfg `backend` sections. @default []"),
    stats: z
      .object({
        bind: bindAddress.describe("haproxy.cfg `listen stats` `bind`: `ADDRESS:PORT`, `*:PORT` or `:PORT`"),
        user: userName.default("admin").describe("User of `stats auth USER:PASSWORD`. @default admin"),
        password: SecretRef.optional().describe("Password of `stats auth`; without it the page is open (a finding). @default - none"),
      })
      .strict()
      .optional()
      .describe("The stats page (haproxy.cfg `listen stats`, `stats uri /`). @default - none"),
  })
  .strict();

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
  })
  .strict();

export const SyncthingFolder = z
  .object({
    id: name.describe("config.xml `<folder id label>`: identical on every device sharing it"),
    path: hostPath.describe("config.xml `<folder path>`: the folder on each host"),
    hosts: z.array(hostName).min(2).describe("Hosts sharing the folder: its `<device>` entries (each host's syncthing device id)"),
    rescanIntervalS: z
      .number()
      .int()
      .min(0)
      .max(86400)
      .default(60)
      .describe("config.xml `<folder rescanIntervalS>`: full rescan period, seconds (0: never). @default 60"),
    fsWatcherDelayS: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(1)
      .describe("config.xml `<folder fsWatcherDelayS>`: seconds changes are gathered before a sync. @default 1"),
  })
  .strict();
export const Syncthing = z
  .object({
    folders: z
      .array(SyncthingFolder)
      .default([])
      .describe("Shared folders (config.xml `<folder>`); their hosts run syncthing. @default []"),
    guiPort: port()
      .default(8384)
      .describe("config.xml `<gui><address>127.0.0.1:<port>`: the REST API haforge checks sync through, loopback only. @default 8384"),
    listenPort: port()
      .default(22000)
      .describe("config.xml `<options><listenAddress>tcp://<internal address>:<port>` and peers' `<device><address>`. @default 22000"),
  })
  .strict();

export const ActivePassiveApp = z
  .object({
    name: name.describe("App name (unique): names its env file, drop-in and rolling group"),
    service: unitName.default("dr-provision").describe("systemd unit / supervisor program of the app"),
    hosts: z.array(hostName).min(2).describe("First host starts active (it starts first); the others passive, after it is up"),
    active: hostName
      .optional()
      .describe(
        "Desired active node (switchover on demand). Absent: a deploy never changes which node is active. Set (or changed): haforge checks that this node has caught up ('Stream switch to realtime streaming'), demotes the node holding the VIP (USR2) and promotes this one (USR1); a no-op when it already holds the VIP",
      ),
    vip: cidr.describe("RS_HA_ADDRESS: the VIP in CIDR form the active node holds"),
    interface: interfaceName
      .default("eth0")
      .describe("RS_HA_INTERFACE: where the VIP is added; RS_STATIC_IP is the host's address on it. @default eth0"),
    haId: clusterId.describe("RS_HA_ID: identical on all nodes"),
    token: SecretRef.describe("RS_HA_TOKEN shared by all nodes"),
  })
  .strict();

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
        "Image overrides by key: rabbitmq, stolon, web, task, memcached (a digest, or your registry's copy). @default {} (rabbitmq:3.10, sorintlab/stolon:master-pg<version>, ansible/awx_web:2.1.2, ansible/awx_task:2.1.2, memcached:1.6-alpine)",
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
