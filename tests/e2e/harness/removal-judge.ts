/**
 * What a destroy's samples must show about the members not yet removed (pure: the e2e destroy
 * test and its unit property, tests/unit/removal-judge.test.ts).
 *
 * A sample ran over [atMs, endMs] and saw, per host, whether each cluster's member there answered.
 * A member is judged only in samples that ended before its removal began (`removalStartMs`): for
 * RabbitMQ and etcd the member delete, for a Pacemaker node its deprovisioning (it stops first,
 * Pacemaker's order). A voting cluster that stops its nodes one at a time (Pacemaker on destroy:
 * every node stops, then the member deletes find no cluster left) cannot stay quorate once
 * fewer than `quorum` of its nodes can still run: a 3-node cluster's last node is alone of 3
 * votes from the moment the second one's corosync stops until its own stop begins. So a
 * `voting` cluster's member is judged only while the nodes whose removal had not begun by the
 * sample's end are at least `quorum`: every such sample must show it quorate.
 */
export interface RemovalSample {
  readonly atMs: number;
  readonly endMs: number;
  /** cluster label → host → answered (quorate, AMQP, healthy) */
  readonly up: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
}

export interface RemovedMember {
  readonly cluster: string;
  readonly host: string;
  /** When its removal began (ms, same clock as the samples). */
  readonly removalStartMs: number;
}

export interface ClusterRule {
  /** The cluster's quorum when it stops node by node without shrinking (votequorum); absent: every member judged until its removal. */
  readonly voting?: { readonly quorum: number };
}

export interface RemovalVerdict {
  /** Members seen down while they had to answer. */
  readonly violations: string[];
  /** How many (sample, member) pairs were judged, per cluster label. */
  readonly judged: Record<string, number>;
}

export function judgeRemovalSamples(
  samples: readonly RemovalSample[],
  members: readonly RemovedMember[],
  rules: Readonly<Record<string, ClusterRule>>,
): RemovalVerdict {
  const violations: string[] = [];
  const judged: Record<string, number> = {};
  for (const sm of samples) {
    for (const m of members) {
      // required up only when the whole sample ran before its removal began
      if (sm.endMs >= m.removalStartMs) continue;
      const voting = rules[m.cluster]?.voting;
      if (voting) {
        const stillRunning = members.filter((o) => o.cluster === m.cluster && sm.endMs < o.removalStartMs).length;
        if (stillRunning < voting.quorum) continue;
      }
      judged[m.cluster] = (judged[m.cluster] ?? 0) + 1;
      if (!sm.up[m.cluster]?.[m.host]) violations.push(`${m.cluster} ${m.host} down at ${sm.atMs} ms, before its removal`);
    }
  }
  return { violations, judged };
}
