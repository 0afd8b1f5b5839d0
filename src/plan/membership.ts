/**
 * Quorum safety of a membership change, judged at plan time from the previous and the next plan
 * (pure). A cluster's members are the identities its daemons know each other by (RabbitMQ node
 * names, etcd/consul member names, Corosync nodes, Patroni/stolon members); the rules:
 *
 *  - `membership.majority-removed` (error): a voting cluster loses more members in one change than
 *    it tolerates losing (`failuresTolerated` of its *current* quorum math: 1 of 3, 2 of 5, 1 of a
 *    two_node pair). Removing them at once is indistinguishable, for the survivors, from those
 *    members failing together: the cluster stops (raft: "remove one member at a time",
 *    https://etcd.io/docs/v3.5/op-guide/runtime-configuration/; votequorum(5); RabbitMQ
 *    pause_minority).
 *  - `membership.below-minimum` (error): a voting cluster that tolerated a failure shrinks to one
 *    that tolerates none (3 → 2 raft members; a two_node pair is fine), the quorum minimum below
 *    which a rolling restart or one lost host stops it.
 *  - `membership.no-survivor` (error): a replicated cluster keeps existing but none of its members
 *    stays (every replica is replaced at once: the data has nobody to stream from).
 *  - `membership.cluster-removed` (warning): the cluster is gone from the inventory.
 *  - `membership.nodeid-changed` (error, also with `allowUnsafe`): a Corosync node that stays would
 *    get another node id, or a node id would pass from a node to another one in one change.
 *    Corosync and Pacemaker know a running node by its id (a reload cannot change it; two ids
 *    for one name, or one id for two names, split the membership and the CIB's node entries).
 *    Ids default to the lowest free ones in inventory order, so removing the first node or
 *    inserting one before others renumbers the rest: the hint names the `nodeid:` to pin.
 *
 * An operator recovering from hosts that are already dead for good can downgrade the errors to
 * warnings (`allowUnsafe`: `haforge validate --allow-unsafe-membership`, stack config
 * `haforge:allowUnsafeMembership`).
 */
import { error, warning, type Finding } from "../core/findings";
import type { ClusterPlan, QuorumMath } from "./types";

export interface Membership {
  /** Stable cluster id: `rabbitmq`, `etcd`, `consul`, `pacemaker:<name>`, `patroni:<name>`. */
  readonly id: string;
  /** Inventory path of the member list (for findings). */
  readonly path: string;
  /** Member identities, sorted. */
  readonly members: readonly string[];
  /** Present for voting clusters: quorum math of exactly these members. */
  readonly quorum?: QuorumMath;
  /** Corosync clusters: each member's node id (keys sorted). */
  readonly nodeids?: Readonly<Record<string, number>>;
}

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

/** Every membership the plan defines (SSH target; Kubernetes members are the operator's pods). */
export function memberships(plan: ClusterPlan): Membership[] {
  const out: Membership[] = [];
  if (plan.target !== "ssh") return out;
  if (plan.rabbitmq && plan.rabbitmq.nodes.length)
    out.push({
      id: "rabbitmq",
      path: "rabbitmq.nodes",
      members: sorted(plan.rabbitmq.nodes.map((n) => n.nodeName)),
      quorum: plan.rabbitmq.quorum,
    });
  if (plan.quorumStore && plan.quorumStore.members.length)
    out.push({
      id: plan.quorumStore.kind,
      path: "quorumStore.members",
      members: sorted(plan.quorumStore.members.map((m) => m.name)),
      quorum: plan.quorumStore.quorum,
    });
  plan.pacemakerClusters.forEach((c, i) => {
    if (!c.nodes.length) return;
    const { expectedVotes, quorum, failuresTolerated } = c.quorum;
    out.push({
      id: `pacemaker:${c.name}`,
      path: `pacemaker.clusters[${i}].nodes`,
      members: sorted(c.nodes.map((n) => n.host)),
      quorum: { expectedVotes, quorum, failuresTolerated },
      nodeids: Object.fromEntries(
        [...c.nodes].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)).map((n) => [n.host, n.nodeid]),
      ),
    });
  });
  if (plan.postgres && plan.postgres.nodes.length)
    out.push({ id: `${plan.postgres.engine}:${plan.postgres.clusterName}`, path: "postgres.nodes", members: sorted(plan.postgres.nodes) });
  return out;
}

export interface MembershipChangeOptions {
  /** Report the errors as warnings (members already lost for good). @default false */
  readonly allowUnsafe?: boolean;
}

const list = (xs: readonly string[]) => xs.map((x) => JSON.stringify(x)).join(", ");

/** Findings for going from `previous` to `next` memberships (see the module comment). */
export function membershipChangeFindings(
  previous: readonly Membership[],
  next: readonly Membership[],
  opts: MembershipChangeOptions = {},
): Finding[] {
  const findings: Finding[] = [];
  const bad = (code: string, path: string, message: string, hint: string) =>
    findings.push(
      opts.allowUnsafe
        ? warning(code, path, `${message} (allowed: allowUnsafeMembership)`, hint)
        : error(
            code,
            path,
            message,
            `${hint} If those members are already lost for good, allow it explicitly (haforge validate --allow-unsafe-membership; stack config haforge:allowUnsafeMembership true).`,
          ),
    );
  for (const old of previous) {
    if (!old.members.length) continue;
    const now = next.find((m) => m.id === old.id);
    if (now) findings.push(...nodeidFindings(old, now));
    if (!now || !now.members.length) {
      findings.push(
        warning(
          "membership.cluster-removed",
          old.path,
          `cluster ${old.id} (${list(old.members)}) is removed from the inventory`,
          "Its members are no longer managed; stop and remove them deliberately.",
        ),
      );
      continue;
    }
    const kept = old.members.filter((m) => now.members.includes(m));
    const removed = old.members.filter((m) => !now.members.includes(m));
    if (old.quorum) {
      const tolerated = old.quorum.failuresTolerated;
      if (removed.length > tolerated) {
        bad(
          "membership.majority-removed",
          now.path,
          `cluster ${old.id} would lose ${removed.length} of its ${old.members.length} members at once ` +
            `(${list(removed)}); it tolerates losing ${tolerated}, so the remaining ${kept.length} cannot keep quorum`,
          `Remove at most ${Math.max(1, tolerated)} member(s) per change and apply in between.`,
        );
      } else if (now.quorum && tolerated >= 1 && now.quorum.failuresTolerated === 0 && now.members.length < old.members.length) {
        bad(
          "membership.below-minimum",
          now.path,
          `cluster ${old.id} would shrink from ${old.members.length} to ${now.members.length} member(s), which tolerate no failure (quorum ${now.quorum.quorum} of ${now.quorum.expectedVotes})`,
          "Keep at least 3 voting members (a Pacemaker pair needs two_node), or replace the members instead of removing them.",
        );
      }
    } else if (kept.length === 0) {
      bad(
        "membership.no-survivor",
        now.path,
        `cluster ${old.id} would replace all of its members at once (${list(old.members)} → ${list(now.members)}): no member stays to hand its data over`,
        "Add the new members first, apply, then remove the old ones.",
      );
    }
  }
  return findings;
}

/**
 * `membership.nodeid-changed`: a node that stays with another id, or an id that passes to another
 * node, between two memberships that both record ids (a state written before ids were recorded
 * has none: nothing to compare). Never downgraded: no member being lost for good makes a
 * renumbering safe.
 */
function nodeidFindings(old: Membership, now: Membership): Finding[] {
  if (!old.nodeids || !now.nodeids) return [];
  const before = old.nodeids;
  const after = now.nodeids;
  const renumbered = Object.keys(before).filter((h) => after[h] !== undefined && after[h] !== before[h]);
  const holder = new Map(Object.entries(before).map(([h, id]) => [id, h]));
  const passed = Object.entries(after).filter(([h, id]) => holder.has(id) && holder.get(id) !== h && before[h] === undefined);
  if (!renumbered.length && !passed.length) return [];
  const free = Math.max(0, ...Object.values(before), ...Object.values(after)) + 1;
  const what = [
    ...renumbered.map((h) => `${JSON.stringify(h)} ${before[h]} → ${after[h]}`),
    ...passed.map(([h, id]) => `id ${id} from ${JSON.stringify(holder.get(id))} to the new node ${JSON.stringify(h)}`),
  ].join(", ");
  const hints = [
    ...(renumbered.length
      ? [
          `pin the ids the nodes that stay run with (\`nodeid:\` on each node: ${renumbered.map((h) => `${h}: nodeid ${before[h]}`).join(", ")})`,
        ]
      : []),
    ...(passed.length
      ? [
          `give ${passed.map(([h]) => h).join(", ")} a node id no node of this change holds (\`nodeid: ${free}\` or higher), or add it in a later change than the removal`,
        ]
      : []),
  ];
  return [
    error(
      "membership.nodeid-changed",
      now.path,
      `cluster ${old.id} would change node ids (${what}): Corosync and Pacemaker know a running node by its id and cannot change it`,
      `${hints.join("; ")}. Node ids default to the lowest free ones in inventory order: removing a node or inserting one before others renumbers the rest.`,
    ),
  ];
}
