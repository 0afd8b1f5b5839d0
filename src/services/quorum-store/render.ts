/**
 * Quorum store renderer: an etcd or consul server on every member of plan.quorumStore. The store
 * is what Patroni/stolon elect their leader through, so its members roll one at a time (rollGroup
 * `etcd` / `consul`) with a health gate that only passes when the local member serves reads that
 * go through the cluster (i.e. the cluster has quorum and a leader).
 */
import type { ClusterAction, FileSpec, ServiceSpec } from "../../core/desired-state";
import { shellWord } from "../../core/escape";
import type { MaterialSpec } from "../../core/materials";
import { resolveSecret } from "../../core/secrets";
import type { ClusterPlan, PlannedHost, QuorumStorePlan, StoreMemberPlan } from "../../plan/types";
import { daemon, firstStartAware, packagedDaemon } from "../../render/daemon";
import { staticFile } from "../../render/templates";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import { joinHostPort } from "../../plan/network";

export const ETCD_CONFIG = "/etc/haforge/etcd/etcd.yml";
/** The membership a member starts with the first time (initial-cluster, state new, the peers' client URLs). */
export const ETCD_SEED = "/etc/haforge/etcd/initial-cluster.yml";
/** Starts etcd: forms the cluster, or joins a running one with `member add` (templates/quorum-store/etcd-start.sh). */
export const ETCD_START = "/usr/local/lib/haforge/etcd-start.sh";
export const ETCD_COMMAND = `/bin/sh ${ETCD_START} ${ETCD_CONFIG} ${ETCD_SEED}`;
/** Under Debian's /var/lib/etcd (owned by the `etcd` user the package creates). */
export const ETCD_DATA_DIR = "/var/lib/etcd/haforge";
export const CONSUL_CONFIG_DIR = "/etc/consul.d";
export const CONSUL_CONFIG = `${CONSUL_CONFIG_DIR}/consul.hcl`;
export const CONSUL_DATA_DIR = "/var/lib/consul";

export const consulGossipKeyMaterial = (qs: QuorumStorePlan): string => `consul/gossip-key/${qs.token}`;

const url = (address: string, port: number): string => `http://${joinHostPort(address, port)}`;

/** The etcd member config, as data (the template only formats it). */
export function etcdMemberConfig(qs: QuorumStorePlan, m: StoreMemberPlan): Record<string, string | boolean> {
  return {
    name: m.name,
    dataDir: ETCD_DATA_DIR,
    // Peers talk over the internal address only; loopback is useless for peer traffic.
    listenPeerUrls: url(m.address, qs.peerPort),
    advertisePeerUrls: url(m.address, qs.peerPort),
    // Clients: the internal address for the other hosts (Patroni, stolon) and 127.0.0.1 for the
    // local health check. Only the internal address is advertised: 127.0.0.1 means another host.
    listenClientUrls: `${url(m.address, qs.clientPort)},${url("127.0.0.1", qs.clientPort)}`,
    advertiseClientUrls: url(m.address, qs.clientPort),
    token: qs.token,
    // Debian's etcd 3.4 has no v3 JSON gateway; Patroni's `etcd:` (v2) backend needs the v2 API
    // (docs/lab.md; https://patroni.readthedocs.io/en/latest/yaml_configuration.html#etcd).
    enableV2: qs.enableV2,
    // Taken at a start only: a change restarts the members one at a time (rollGroup etcd).
    ...(qs.heartbeatIntervalMs !== undefined ? { heartbeatInterval: String(qs.heartbeatIntervalMs) } : {}),
    ...(qs.electionTimeoutMs !== undefined ? { electionTimeout: String(qs.electionTimeoutMs) } : {}),
  };
}

/**
 * The membership the inventory lists, read by etcd-start.sh on a member's first start only: to
 * form the cluster (state new), or to find a running one to join (the other members' client
 * URLs). A running member never reads it again, so a grown or shrunk list restarts nothing.
 */
export function etcdSeed(qs: QuorumStorePlan, m: StoreMemberPlan): Record<string, string> {
  return {
    name: m.name,
    token: qs.token,
    initialCluster: qs.members.map((p) => `${p.name}=${url(p.address, qs.peerPort)}`).join(","),
    initialClusterState: "new",
    endpoints: qs.members
      .filter((p) => p.host !== m.host)
      .map((p) => url(p.address, qs.clientPort))
      .join(","),
  };
}

/**
 * The gate between two members of a roll: the local member serves a quorum read (`endpoint
 * health`: it fails without quorum), and so does every member the store lists (`--cluster`: their
 * client URLs from `member list`). The next member restarts only once none is down, so a roll
 * never takes a second member down while one is still away (maxUnavailable 1): with one member
 * already down a 3-member store would lose its quorum.
 */
export function etcdHealthCommand(qs: QuorumStorePlan): string {
  const local = `ETCDCTL_API=3 etcdctl --endpoints=${url("127.0.0.1", qs.clientPort)} --dial-timeout=3s --command-timeout=5s`;
  return `${local} endpoint health && ${local} endpoint health --cluster`;
}

/** `etcdctl` (API v3) against `endpoints`, bounded. */
const etcdctl = (endpoints: string): string =>
  `ETCDCTL_API=3 etcdctl --endpoints=${shellWord(endpoints)} --dial-timeout=3s --command-timeout=10s`;

/** awk over `etcdctl member list` (`ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER`). */
const memberAwk = (name: string, program: string): string => `awk -F', ' -v n=${shellWord(name)} ${shellWord(program)}`;

/**
 * One action per etcd member, run on another member (the first in plan order): create waits until
 * the store lists it as started (etcd-start.sh adds a new member with `member add` before it
 * starts); delete removes it from the store with `member remove` while it still runs — before its
 * daemon stops (the deprovisioning that follows, components/service-resources.ts), so the store
 * never counts a stopped member in its quorum. The delete asks the other members of the store as
 * last applied (never the leaving one: it stops serving on its own removal, and etcdctl spreads
 * requests over its endpoints), tolerates a member already removed (a retried removal converges)
 * and the last member (a store torn down by destroy), and fails when the store cannot be asked. https://etcd.io/docs/v3.4/op-guide/runtime-configuration/#remove-a-member
 */
export function etcdMemberActions(qs: QuorumStorePlan): ClusterAction[] {
  const actions: ClusterAction[] = [];
  for (const m of qs.members) {
    const anchor = qs.members.find((x) => x.host !== m.host);
    if (!anchor) continue; // a single member has nothing to join or leave
    const local = etcdctl(url("127.0.0.1", qs.clientPort));
    // the other members only: a member that serves its own removal stops before it answers
    const others = etcdctl(
      qs.members
        .filter((x) => x.host !== m.host)
        .map((x) => url(x.address, qs.clientPort))
        .join(","),
    );
    const all = etcdctl(qs.members.map((x) => url(x.address, qs.clientPort)).join(","));
    const isListed = memberAwk(m.name, "$3 == n {f = 1} END {exit !f}");
    actions.push({
      id: `etcd-member-${m.host}`,
      host: anchor.host,
      phase: "post-start",
      description: `etcd: ${m.name} is a member of the store (removed with member remove on delete)`,
      create:
        `i=0; while [ "$i" -lt 90 ]; do ${local} member list 2>/dev/null | ` +
        `${memberAwk(m.name, '$2 == "started" && $3 == n {f = 1} END {exit !f}')} && exit 0; i=$((i+1)); sleep 2; done; ` +
        `echo ${shellWord(`etcd member ${m.name} is not started in the store after 180 s`)} >&2; exit 1`,
      // Up to 5 tries: an answer lost while the removal applied (a leaving member that served the
      // request, a member removed just before) is judged by the list asked again.
      delete:
        `i=0; while :; do ` +
        // the others first; all of them (itself too) when none of the others answers (destroy)
        `list=$(${others} member list 2>/dev/null) || list=$(${all} member list) || exit 1; ` +
        // the last member of a store torn down (destroy) has no store to leave: etcd refuses it
        `[ "$(printf '%s\\n' "$list" | grep -c .)" -gt 1 ] || exit 0; ` +
        `printf '%s\\n' "$list" | ${isListed} || exit 0; ` +
        `[ "$i" -lt 5 ] || { echo ${shellWord(`etcd member ${m.name} is still in the store after 5 removals`)} >&2; exit 1; }; ` +
        `id=$(printf '%s\\n' "$list" | ${memberAwk(m.name, "$3 == n {print $1}")}); ` +
        `${others} member remove "$id" && exit 0; i=$((i+1)); sleep 2; done`,
      dependsOn: [],
      triggers: [],
      secret: false,
    });
  }
  return actions;
}

function materials(plan: ClusterPlan): MaterialSpec[] {
  const qs = plan.quorumStore;
  if (!qs || qs.kind !== "consul" || qs.encryptKey) return [];
  // No key in the inventory: generate one (32 random bytes, base64 = what `consul keygen` prints).
  return [
    {
      key: consulGossipKeyMaterial(qs),
      kind: { type: "random-bytes", bytes: 32 },
      description: "consul gossip encryption key",
      // With no state the key the members' consul.hcl hold is adopted (`encrypt = "…"`): a new
      // one would split the gossip ring.
      readBack: qs.members.map((m) => ({ host: m.host, path: CONSUL_CONFIG, between: ['encrypt = "', '"'] as const, base64: false })),
    },
  ];
}

function render(ctx: RenderContext): RenderResult {
  const qs = ctx.plan.quorumStore;
  if (!qs) return { files: [], services: [], actions: [] };
  const hosts = new Map<string, PlannedHost>(ctx.plan.hosts.map((h) => [h.name, h]));
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  for (const m of qs.members) {
    const init = hosts.get(m.host)?.init ?? "systemd";
    if (qs.kind === "etcd") {
      const d = etcdMember(ctx, qs, m, init);
      files.push(...d.files);
      services.push(d.service);
    } else {
      const d = consulAgent(ctx, qs, m, init, true);
      files.push(...d.files);
      services.push(d.service);
    }
  }
  // consul client agents on the hosts whose consumers (stolon, Patroni) are not on a server: every
  // consumer talks to the agent on its own host (postgres/plan.ts planStore).
  if (qs.kind === "consul") {
    const agents = ctx.plan.postgres?.store.backend === "consul" ? (ctx.plan.postgres.store.agentHosts ?? []) : [];
    for (const name of agents) {
      const h = hosts.get(name);
      if (!h || qs.members.some((m) => m.host === name)) continue;
      const d = consulAgent(ctx, qs, { host: name, name, address: h.internalAddress, storeOnly: false }, h.init, false);
      files.push(...d.files);
      services.push(d.service);
    }
  }
  return { files, services, actions: qs.kind === "etcd" ? etcdMemberActions(qs) : [] };
}

/**
 * What a member that left (removed from the store with `member remove`, then stopped) leaves
 * behind: its data directory is set aside (renamed with the time, never deleted: the last member
 * of a destroyed store holds its data). A member of the same name added again later must start
 * from an empty data dir (etcd-start.sh starts a data dir that holds a member as it is: the store
 * would refuse the removed member's id). https://etcd.io/docs/v3.4/op-guide/runtime-configuration/#add-a-new-member
 */
export function etcdRetire(dataDir: string = ETCD_DATA_DIR): string {
  const d = shellWord(dataDir);
  return `if [ -e ${d} ]; then mv ${d} ${d}.removed-$(date -u +%Y%m%dT%H%M%SZ); fi`;
}

/** An etcd member: its config file, the seed read at its first start, the start script, its daemon. */
function etcdMember(
  ctx: RenderContext,
  qs: QuorumStorePlan,
  m: StoreMemberPlan,
  init: PlannedHost["init"],
): { files: FileSpec[]; service: ServiceSpec } {
  const files: FileSpec[] = [];
  files.push({
    host: m.host,
    path: ETCD_CONFIG,
    content: ctx.template("quorum-store", "etcd.yml.hbs", etcdMemberConfig(qs, m)),
    mode: "0644",
    owner: "root",
    group: "root",
    secret: false,
    // etcd has no config-check mode: a bad file is caught by the health gate of the roll,
    // and the system test boots a real cluster from this exact file.
    notify: ["etcd"],
  });
  files.push(
    {
      host: m.host,
      path: ETCD_SEED,
      content: ctx.template("quorum-store", "etcd-seed.yml.hbs", etcdSeed(qs, m)),
      mode: "0644",
      owner: "root",
      group: "root",
      secret: false,
      // read at the member's first start only (etcd-start.sh): a grow or shrink restarts nothing
      notify: [],
      neededAtStart: ["etcd"],
    },
    {
      host: m.host,
      path: ETCD_START,
      content: staticFile("quorum-store", "etcd-start.sh"),
      mode: "0755",
      owner: "root",
      group: "root",
      secret: false,
      validate: "sh -n {file}",
      notify: ["etcd"],
    },
  );
  // systemd: Debian's etcd.service (Type=notify, User=etcd, LimitNOFILE) with ExecStart
  // pointed at haforge's config file (the packaged one runs `etcd $DAEMON_ARGS`).
  const d = packagedDaemon(
    {
      host: m.host,
      init,
      name: "etcd",
      description: `etcd member ${m.name} (haforge)`,
      command: ETCD_COMMAND,
      user: "etcd",
      group: "etcd",
      health: etcdHealthCommand(qs),
      rollGroup: "etcd",
      startsecs: 3,
      limitNofile: 65536,
    },
    { dropIn: `[Service]\nExecStart=\nExecStart=${ETCD_COMMAND}\n` },
  );
  files.push(...d.files);
  // A quorum read cannot pass while the later members are not started yet (first start).
  return { files, service: { ...firstStartAware(d.service), retire: etcdRetire() } };
}

/** A consul agent (server on a store member, client elsewhere): its config file and daemon. */
function consulAgent(
  ctx: RenderContext,
  qs: QuorumStorePlan,
  m: StoreMemberPlan,
  init: PlannedHost["init"],
  server: boolean,
): { files: FileSpec[]; service: ServiceSpec } {
  const encrypt = qs.encryptKey
    ? resolveSecret(qs.encryptKey, ctx.secrets)
    : (ctx.materials[consulGossipKeyMaterial(qs)] ??
      `__HAFORGE_MISSING_MATERIAL_${consulGossipKeyMaterial(qs).replace(/[^A-Za-z0-9]/g, "_")}__`);
  const config: FileSpec = {
    host: m.host,
    path: CONSUL_CONFIG,
    content: ctx.template(
      "quorum-store",
      "consul.hcl.hbs",
      server ? consulServerConfig(qs, m, encrypt) : consulClientConfig(qs, m, encrypt),
    ),
    mode: "0640",
    owner: "root",
    group: "consul",
    secret: true,
    // consul is not packaged by Debian, so this cannot run here; on a consul host it checks the
    // candidate alone (the temp file has no .hcl extension, hence -config-format).
    validate: "consul validate -quiet -config-format=hcl {file}",
    notify: ["consul"],
  };
  const d = daemon({
    host: m.host,
    init,
    name: "consul",
    description: server ? `consul server ${m.name} (haforge)` : `consul client agent ${m.name} (haforge)`,
    command: `/usr/bin/consul agent -config-dir=${CONSUL_CONFIG_DIR}`,
    user: "consul",
    group: "consul",
    reloadSignal: "HUP",
    // /v1/status/leader is `""` until a leader is elected, then `"IP:8300"` (a client agent
    // forwards the question to the servers: it passes once it has joined them).
    health: `curl -fsS --max-time 5 ${url("127.0.0.1", qs.clientPort)}/v1/status/leader | grep -q ':'`,
    ...(server ? { rollGroup: "consul" } : {}),
    startsecs: 3,
    limitNofile: 65536,
  });
  return { files: [config, d.file], service: firstStartAware(d.service) };
}

/**
 * A consul client agent: joins the servers, serves the HTTP API on loopback only (its consumers
 * are on the same host), no vote.
 */
export function consulClientConfig(qs: QuorumStorePlan, m: StoreMemberPlan, encrypt: string): Record<string, unknown> {
  return {
    nodeName: m.name,
    datacenter: "dc1",
    server: false,
    dataDir: CONSUL_DATA_DIR,
    bindAddr: m.address,
    clientAddr: "127.0.0.1",
    retryJoin: qs.members.map((p) => `${p.address}:${qs.peerPort}`),
    encrypt,
    httpPort: qs.clientPort,
    serfLanPort: qs.peerPort,
  };
}

/** The consul server config, as data. `peerPort` is the Serf LAN port that retry_join dials. */
export function consulServerConfig(qs: QuorumStorePlan, m: StoreMemberPlan, encrypt: string): Record<string, unknown> {
  return {
    nodeName: m.name,
    server: true,
    datacenter: "dc1",
    // Every member is a voting server (store-only members included): bootstrap waits for all.
    bootstrapExpect: qs.members.length,
    dataDir: CONSUL_DATA_DIR,
    bindAddr: m.address,
    // Space-separated list (go-sockaddr template): local agents and other hosts' clients.
    clientAddr: `127.0.0.1 ${m.address}`,
    retryJoin: qs.members.filter((p) => p.host !== m.host).map((p) => `${p.address}:${qs.peerPort}`),
    encrypt,
    httpPort: qs.clientPort,
    serfLanPort: qs.peerPort,
  };
}

export const renderPart: Pick<ServiceModule, "render" | "materials"> = { render, materials };
