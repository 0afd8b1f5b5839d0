/**
 * Quorum math shared by every quorum-based service (Corosync votequorum, etcd/consul raft,
 * RabbitMQ pause_minority). Pure functions over vote counts; the plan steps decide how many votes
 * each member carries.
 *
 * Majority rule: a partition is quorate when it holds more than half of the expected votes,
 * i.e. floor(votes / 2) + 1 (votequorum(5) "50% of the votes + 1"; raft: a majority of members,
 * https://etcd.io/docs/v3.4/faq/#why-an-odd-number-of-cluster-members).
 */
import type { QuorumMath } from "./types";

/** Quorum for `votes` equal single votes: floor(votes/2)+1, tolerating votes - quorum failures. */
export function majorityQuorum(votes: number): QuorumMath {
  const expectedVotes = Math.max(0, Math.floor(votes));
  const quorum = Math.floor(expectedVotes / 2) + 1;
  return { expectedVotes, quorum, failuresTolerated: Math.max(0, expectedVotes - quorum) };
}

/**
 * Corosync votequorum for `nodes` one-vote nodes, optionally with a quorum device.
 *
 * - two_node: quorum is set artificially to 1 and wait_for_all is turned on (votequorum(5),
 *   "two_node"), so one node survives the loss of the other: that is why fencing is mandatory.
 * - qdevice ffsplit gives the device 1 vote; lms gives it nodes - 1 votes (corosync-qdevice(8)),
 *   so a single surviving node that still sees the qnetd server stays quorate.
 *
 * Failures are counted in nodes (the qdevice is assumed reachable) and never exceed nodes - 1.
 */
export function corosyncQuorum(nodes: number, opts: { readonly twoNode?: boolean; readonly qdevice?: "ffsplit" | "lms" } = {}): QuorumMath {
  if (opts.twoNode && nodes === 2 && !opts.qdevice) {
    return { expectedVotes: 2, quorum: 1, failuresTolerated: 1 };
  }
  const deviceVotes = opts.qdevice === undefined ? 0 : opts.qdevice === "lms" ? Math.max(1, nodes - 1) : 1;
  const m = majorityQuorum(nodes + deviceVotes);
  return { ...m, failuresTolerated: Math.max(0, Math.min(m.failuresTolerated, nodes - 1)) };
}
