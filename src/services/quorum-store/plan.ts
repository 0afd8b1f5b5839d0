/**
 * Quorum store plan step (etcd or consul): voting members, ports, endpoints, quorum math.
 *
 * Raft needs a majority of voting members, so 3 is the smallest store that survives a failure and
 * an even count adds a member without adding tolerance
 * (https://etcd.io/docs/v3.4/faq/#why-an-odd-number-of-cluster-members). Cloudify's HA cluster
 * elects its leader through consul by majority (https://docs.cloudify.co/4.3.0/manager/high-availability-clusters/),
 * so 2 managers need one extra "store-only" node that runs nothing but the store. Consul's ports
 * follow the same guide: 8300 server RPC, 8301 serf LAN (what agents join on), 8500 HTTP.
 */
import { checkHostList, hostEntries } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import { majorityQuorum } from "../../plan/quorum";
import type { QuorumStorePlan, RollingGroup, StoreMemberPlan } from "../../plan/types";
import type { PlanContext, PlanStep } from "../types";
import { joinHostPort } from "../../plan/network";

/** Default ports: etcd client/peer; consul HTTP API / serf LAN (what retry_join dials). */
export const STORE_PORTS = {
  etcd: { client: 2379, peer: 2380 },
  consul: { client: 8500, peer: 8301 },
} as const;

/** Beyond 7 voters every write waits on more peers for no gain in practice (etcd FAQ). */
export const MAX_RECOMMENDED_MEMBERS = 7;

/** `http://ADDR:PORT`, bracketing IPv6 literals. */
export const endpointUrl = (address: string, port: number): string => `http://${joinHostPort(address, port)}`;

export function plan(ctx: PlanContext): PlanStep {
  const qs = ctx.inventory.quorumStore;
  if (!qs) return { findings: [], patch: {} };
  const findings: Finding[] = [];
  const kind = qs.kind;
  const members = storeMembers(ctx, qs, findings);
  const voters = qs.members.length + qs.storeOnly.length;
  findings.push(...memberCountRules(qs, voters));
  const clientPort = qs.clientPort ?? STORE_PORTS[kind].client;
  const peerPort = qs.peerPort ?? STORE_PORTS[kind].peer;
  findings.push(...portAndKindRules(ctx, qs, clientPort, peerPort));
  findings.push(...timingRules(qs));

  const quorum = majorityQuorum(members.length);
  const store: QuorumStorePlan = {
    kind,
    members,
    clientPort,
    peerPort,
    enableV2: qs.enableV2,
    ...(qs.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: qs.heartbeatIntervalMs } : {}),
    ...(qs.electionTimeoutMs !== undefined ? { electionTimeoutMs: qs.electionTimeoutMs } : {}),
    token: qs.token,
    ...(qs.encryptKey ? { encryptKey: qs.encryptKey } : {}),
    quorum,
    endpoints: members.map((m) => endpointUrl(m.address, clientPort)),
  };

  const roles: Record<string, string[]> = {};
  for (const m of members) roles[m.host] = [kind];
  // Store-only nodes first: they carry nothing else, so a surprise on them hurts least; one
  // member at a time keeps the majority.
  const order = [...members.filter((m) => m.storeOnly), ...members.filter((m) => !m.storeOnly)].map((m) => m.host);
  const rolling: RollingGroup[] = members.length > 0 ? [{ id: kind, service: kind, hosts: order, maxUnavailable: 1, quorum }] : [];
  if (members.length > 0 && quorum.failuresTolerated === 0 && voters >= 3)
    findings.push(
      warning(
        "quorum-store.no-failure-tolerance",
        "quorumStore.members",
        `the ${kind} store tolerates 0 failures: a rolling restart makes it unavailable`,
        "Add voting members.",
      ),
    );
  return { findings, patch: { quorumStore: store, rollingGroups: rolling }, roles };
}

type QuorumStoreSection = NonNullable<PlanContext["inventory"]["quorumStore"]>;

/** The members and store-only nodes, each an inventory host listed once. */
function storeMembers(ctx: PlanContext, qs: QuorumStoreSection, findings: Finding[]): StoreMemberPlan[] {
  const kind = qs.kind;
  const members: StoreMemberPlan[] = [];
  const entries = [
    ...hostEntries(qs.members, (i) => `quorumStore.members[${i}]`),
    ...hostEntries(qs.storeOnly, (i) => `quorumStore.storeOnly[${i}]`),
  ];
  const kept = checkHostList(
    entries,
    {
      repeatsFirst: true,
      known: (host) => ctx.hosts.has(host),
      unknown: (host, path) =>
        error(
          "quorum-store.unknown-host",
          path,
          `${kind} member '${host}' is not an inventory host`,
          "Add it under `hosts` or fix the name.",
        ),
      duplicate: (host, path, first) =>
        error(
          "quorum-store.duplicate-member",
          path,
          `host '${host}' is already a member of the ${kind} store (${first})`,
          "List each host once, in `members` or in `storeOnly`.",
        ),
    },
    findings,
  );
  for (const e of kept)
    members.push({
      host: e.host,
      name: e.host,
      address: ctx.hosts.get(e.host)!.internalAddress,
      storeOnly: e.path.startsWith("quorumStore.storeOnly"),
    });
  return members;
}

/** Raft's counts: a store-only node beside 2 members, at least 3 voters, an odd count, not too many. */
function memberCountRules(qs: QuorumStoreSection, voters: number): Finding[] {
  const kind = qs.kind;
  const findings: Finding[] = [];
  if (qs.members.length === 2 && qs.storeOnly.length === 0) {
    findings.push(
      error(
        "quorum-store.needs-store-only",
        "quorumStore.storeOnly",
        `the ${kind} store has 2 \`members\` (${qs.members.map((m) => `'${m}'`).join(", ")}) and no \`storeOnly\` node: losing either loses quorum`,
        "Cloudify's rule: 2 managers need 1 store-only node. Add a third host under `quorumStore.storeOnly`.",
      ),
    );
  } else if (voters < 3) {
    findings.push(
      error(
        "quorum-store.too-few-members",
        "quorumStore.members",
        `the ${kind} store has ${voters} voting member(s); raft needs at least 3 to survive a failure`,
        "List 3 (or 5) hosts across `members` and `storeOnly`.",
      ),
    );
  } else if (voters % 2 === 0) {
    findings.push(
      warning(
        "quorum-store.even-members",
        "quorumStore.members",
        `the ${kind} store has ${voters} voting members, an even count: it tolerates no more failures than ${voters - 1} would`,
        "Use an odd number of voting members (3, 5, 7).",
      ),
    );
  }
  if (voters > MAX_RECOMMENDED_MEMBERS)
    findings.push(
      warning(
        "quorum-store.too-many-members",
        "quorumStore.members",
        `the ${kind} store has ${voters} voting members; more than ${MAX_RECOMMENDED_MEMBERS} slows every write`,
        "Keep 3, 5 or 7 voting members.",
      ),
    );
  return findings;
}

/** Two different ports; consul's gossip key; etcd-only settings on consul. */
function portAndKindRules(ctx: PlanContext, qs: QuorumStoreSection, clientPort: number, peerPort: number): Finding[] {
  const kind = qs.kind;
  const findings: Finding[] = [];
  if (clientPort === peerPort)
    findings.push(
      error(
        "quorum-store.port-collision",
        qs.clientPort !== undefined ? "quorumStore.clientPort" : "quorumStore.peerPort",
        `\`clientPort\` and \`peerPort\` of the ${kind} store are both ${clientPort}`,
        "Use two different ports.",
      ),
    );
  if (kind === "consul" && !qs.encryptKey)
    findings.push(
      warning(
        "quorum-store.consul-no-encrypt",
        "quorumStore.encryptKey",
        "the consul store has no `encryptKey`: gossip between agents is unencrypted",
        "Set `encryptKey: { secret: consulGossipKey }` (a 32-byte base64 key).",
      ),
    );
  if (kind === "consul" && ctx.inventory.quorumStore?.enableV2 === false)
    findings.push(
      warning(
        "quorum-store.enable-v2-ignored",
        "quorumStore.enableV2",
        "`enableV2` applies to etcd only; the store is consul",
        "Remove `enableV2`.",
      ),
    );
  return findings;
}

/** etcd's defaults (https://etcd.io/docs/v3.4/tuning/#time-parameters). */
export const ETCD_TIMING_DEFAULTS = { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 } as const;

/**
 * etcd refuses to start when `election-timeout` is under 5 × `heartbeat-interval` (etcdmain
 * config.go: "--election-timeout[...] should be at least as 5 times as --heartbeat-interval"): a
 * rolled member would not come back, and the roll stops at its health gate. Consul has neither.
 */
function timingRules(qs: QuorumStoreSection): Finding[] {
  const set = (["heartbeatIntervalMs", "electionTimeoutMs"] as const).filter((f) => qs[f] !== undefined);
  if (set.length === 0) return [];
  if (qs.kind !== "etcd")
    return set.map((f) =>
      warning(
        "quorum-store.etcd-only-field",
        `quorumStore.${f}`,
        `\`${f}\` applies to etcd only; the store is ${qs.kind}`,
        `Remove \`${f}\`.`,
      ),
    );
  const heartbeat = qs.heartbeatIntervalMs ?? ETCD_TIMING_DEFAULTS.heartbeatIntervalMs;
  const election = qs.electionTimeoutMs ?? ETCD_TIMING_DEFAULTS.electionTimeoutMs;
  if (election >= 5 * heartbeat) return [];
  return [
    error(
      "quorum-store.election-timeout-too-short",
      qs.electionTimeoutMs !== undefined ? "quorumStore.electionTimeoutMs" : "quorumStore.heartbeatIntervalMs",
      `etcd's election timeout ${election} ms is under 5 × the heartbeat interval ${heartbeat} ms: etcd refuses to start`,
      `Set \`electionTimeoutMs\` to ${5 * heartbeat} or more (10 × the heartbeat is etcd's advice), or lower \`heartbeatIntervalMs\`.`,
    ),
  ];
}
