/**
 * The e2e destroy's judge of the members not yet removed (tests/e2e/harness/removal-judge.ts),
 * against a model of a destroy: a votequorum cluster of n nodes (Pacemaker: two_node off, no
 * last_man_standing, as the lab renders it) whose nodes stop one at a time, each stop beginning
 * after the previous one ended and its corosync leaving at some instant inside it; samples of any
 * length at any time, each reading the quorum at one instant inside it. A node is quorate when
 * its corosync runs and the running ones are at least floor(n/2)+1.
 *
 * Seen failing before: the judge of 02718ea's e2e (a Pacemaker member judged in every sample that
 * ended before its stop began) failed the lab's destroy ("lab1 not quorate at 45106 ms, before
 * its removal"): lab1, alone of 3 votes once lab2's corosync stopped, before its own stop. The
 * same rule as a judge here fails the first property (counterexample: n = 3, a sample between the
 * second node's corosync stop and the third node's stop).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { judgeRemovalSamples, type RemovalSample, type RemovedMember } from "../e2e/harness/removal-judge";

interface Timeline {
  readonly n: number;
  /** per node in stop order: [stop start, corosync gone, stop end] */
  readonly stops: readonly (readonly [number, number, number])[];
  readonly samples: readonly { atMs: number; endMs: number; readAt: number }[];
}

const timeline: fc.Arbitrary<Timeline> = fc.integer({ min: 3, max: 7 }).chain((n) =>
  fc
    .record({
      gaps: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: n, maxLength: n }),
      lengths: fc.array(fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 1, noNaN: true })), {
        minLength: n,
        maxLength: n,
      }),
      samples: fc.array(
        fc.tuple(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 1, max: 4000 }), fc.double({ min: 0, max: 1, noNaN: true })),
        { minLength: 1, maxLength: 60 },
      ),
    })
    .map(({ gaps, lengths, samples }) => {
      const stops: [number, number, number][] = [];
      let t = 0;
      for (let i = 0; i < n; i++) {
        const start = t + gaps[i]!;
        const [len, f] = lengths[i]!;
        const end = start + len;
        stops.push([start, start + Math.floor(f * len), end]);
        t = end;
      }
      return {
        n,
        stops,
        samples: samples.map(([at, len, f]) => ({ atMs: at, endMs: at + len, readAt: at + Math.floor(f * len) })),
      };
    }),
);

const host = (i: number) => `pm${i + 1}`;

/** The samples a real votequorum cluster gives on this timeline; `early`: node `early` lost its corosync at 0 (out of order). */
function sampled(tl: Timeline, early?: number): { samples: RemovalSample[]; members: RemovedMember[] } {
  const quorum = Math.floor(tl.n / 2) + 1;
  const gone = (i: number, t: number) => (i === early ? true : t >= tl.stops[i]![1]);
  const samples = tl.samples.map((s) => {
    const running = tl.stops.map((_, i) => !gone(i, s.readAt));
    const count = running.filter(Boolean).length;
    return {
      atMs: s.atMs,
      endMs: s.endMs,
      up: { pacemaker: Object.fromEntries(running.map((r, i) => [host(i), r && count >= quorum])) },
    };
  });
  const members = tl.stops.map(([start], i) => ({ cluster: "pacemaker", host: host(i), removalStartMs: start }));
  return { samples, members };
}

describe("the e2e destroy's judge of members not yet removed", () => {
  it("a destroy that stops a voting cluster's nodes one at a time is never a violation (the last ones are alone)", () => {
    fc.assert(
      fc.property(timeline, (tl) => {
        const { samples, members } = sampled(tl);
        const v = judgeRemovalSamples(samples, members, { pacemaker: { voting: { quorum: Math.floor(tl.n / 2) + 1 } } });
        assert.deepEqual(v.violations, []);
      }),
      { numRuns: 300 },
    );
  });

  it("a node that loses its corosync before its turn, while a majority must still run, is a violation", () => {
    fc.assert(
      fc.property(
        timeline.filter((tl) => tl.samples.some((s) => s.endMs < tl.stops[0]![0])),
        fc.nat(),
        (tl, k) => {
          // the last node in stop order lost its corosync from the start; a sample before any stop sees it
          const early = tl.n - 1 - (k % Math.max(1, tl.n - 1));
          const { samples, members } = sampled(tl, early);
          const v = judgeRemovalSamples(samples, members, { pacemaker: { voting: { quorum: Math.floor(tl.n / 2) + 1 } } });
          assert.ok(
            v.violations.some((x) => x.startsWith(`pacemaker ${host(early)} down`)),
            JSON.stringify(v),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a cluster that shrinks as members leave (no voting rule) is judged until each member's removal", () => {
    const members: RemovedMember[] = [
      { cluster: "rabbitmq", host: "lab3", removalStartMs: 100 },
      { cluster: "rabbitmq", host: "lab2", removalStartMs: 200 },
      { cluster: "rabbitmq", host: "lab1", removalStartMs: 300 },
    ];
    const up = (lab1: boolean) => ({ rabbitmq: { lab1, lab2: false, lab3: false } });
    const ok = judgeRemovalSamples([{ atMs: 250, endMs: 260, up: up(true) }], members, {});
    assert.deepEqual(ok, { violations: [], judged: { rabbitmq: 1 } });
    const bad = judgeRemovalSamples([{ atMs: 250, endMs: 260, up: up(false) }], members, {});
    assert.deepEqual(bad.violations, ["rabbitmq lab1 down at 250 ms, before its removal"]);
  });
});
