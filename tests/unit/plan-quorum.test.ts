import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { corosyncQuorum, majorityQuorum } from "../../src/plan/quorum";

describe("quorum math", () => {
  it("majority: floor(n/2)+1, tolerating n - quorum", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 7].map((n) => majorityQuorum(n)),
      [
        { expectedVotes: 1, quorum: 1, failuresTolerated: 0 },
        { expectedVotes: 2, quorum: 2, failuresTolerated: 0 },
        { expectedVotes: 3, quorum: 2, failuresTolerated: 1 },
        { expectedVotes: 4, quorum: 3, failuresTolerated: 1 },
        { expectedVotes: 5, quorum: 3, failuresTolerated: 2 },
        { expectedVotes: 7, quorum: 4, failuresTolerated: 3 },
      ],
    );
  });

  it("majority: any two quorate partitions overlap, and an even count adds no tolerance", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (n) => {
        const q = majorityQuorum(n);
        assert.ok(2 * q.quorum > n, "two disjoint partitions can never both be quorate");
        assert.ok(n - q.failuresTolerated >= q.quorum);
        if (n % 2 === 0) assert.equal(q.failuresTolerated, majorityQuorum(n - 1).failuresTolerated);
      }),
    );
  });

  it("corosync two_node: quorum 1 of 2, one failure tolerated", () => {
    assert.deepEqual(corosyncQuorum(2, { twoNode: true }), { expectedVotes: 2, quorum: 1, failuresTolerated: 1 });
    // two_node only applies to exactly 2 nodes (votequorum(5)): 3 nodes use the majority.
    assert.deepEqual(corosyncQuorum(3, { twoNode: true }), majorityQuorum(3));
  });

  it("corosync qdevice: ffsplit +1 vote, lms n-1 votes", () => {
    assert.deepEqual(corosyncQuorum(2, { qdevice: "ffsplit" }), { expectedVotes: 3, quorum: 2, failuresTolerated: 1 });
    assert.deepEqual(corosyncQuorum(4, { qdevice: "ffsplit" }), { expectedVotes: 5, quorum: 3, failuresTolerated: 2 });
    assert.deepEqual(corosyncQuorum(3, { qdevice: "lms" }), { expectedVotes: 5, quorum: 3, failuresTolerated: 2 });
    // failures are counted in nodes: never all of them
    assert.deepEqual(corosyncQuorum(1, { qdevice: "ffsplit" }), { expectedVotes: 2, quorum: 2, failuresTolerated: 0 });
  });
});
