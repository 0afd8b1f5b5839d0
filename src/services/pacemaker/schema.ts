/**
 * The pacemaker service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { name, defaulted, KeyValues } from "../../inventory/schema-kit";
import { address, cidr, duration, fenceAgent, hostName, identifier, pcmkAgent, score, serviceUnit, xmlId } from "../../inventory/strings";

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
    corosyncKeyGeneration: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(0)
      .describe(
        "Generation of the corosync authkey (with crypto on). Raise it to rotate the key: haforge generates a new one and, " +
          "once on every node, stops the cluster (Pacemaker, then corosync, on every node), installs the key, starts it again " +
          "and reports the outage; a re-run changes nothing. @default 0 (the key first generated)",
      ),
    pacemakerKeyGeneration: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(0)
      .describe(
        "Generation of the Pacemaker Remote authkey /etc/pacemaker/authkey (with remoteNodes). Raise it to rotate the key: " +
          "haforge generates a new one and, once staged on every node and remote node, stops the remote connections, stops " +
          "pacemaker_remote, installs the key everywhere, starts them again (a minute after they stopped: Pacemaker caches " +
          "the key it read for a minute) and reports the outage; a re-run changes nothing. @default 0 (the key first generated)",
      ),
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
            "Services Pacemaker runs (TripleO ids haproxy-clone, rabbitmq-clone, galera-clone, redis-clone, " +
              "openstack-cinder-volume); haforge then never starts or restarts their units. @default all five",
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
        "per-service: one cluster per service, a host in several " +
          "clusters; all-in-one: one cluster, a host in one cluster only; " +
          "lightweight: Pacemaker keeps only VIPs, HAProxy, RabbitMQ, Galera, " +
          "Redis, cinder-volume (see `lightweight`). @default per-service",
      ),
    clusters: z
      .array(PacemakerCluster)
      .default([])
      .describe("Corosync/Pacemaker clusters: each renders /etc/corosync/corosync.conf and a CIB on its nodes. @default []"),
  })
  .strict();
