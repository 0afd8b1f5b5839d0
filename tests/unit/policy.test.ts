/**
 * AWX instance-group policies (src/services/tower/policy.ts) against the examples of the Tower
 * clustering doc and the invariants of apply_cluster_membership_policies.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { applyMembershipPolicies, type PolicyGroupInput, type PolicyInstanceInput } from "../../src/services/tower/policy";

const insts = (n: number, unmanaged: readonly string[] = []): PolicyInstanceInput[] =>
  Array.from({ length: n }, (_, i) => `i${i + 1}`).map((name) => ({ name, managedByPolicy: !unmanaged.includes(name) }));
const group = (name: string, o: Partial<PolicyGroupInput> = {}): PolicyGroupInput => ({ name, list: [], percentage: 0, minimum: 0, ...o });
const members = (r: ReturnType<typeof applyMembershipPolicies>, name: string) => r.find((g) => g.name === name)!.instances;

describe("AWX membership policies", () => {
  it("doc example: 50% with minimum 2 gives 3 of 6 instances", () => {
    const r = applyMembershipPolicies([group("g", { percentage: 50, minimum: 2 })], insts(6));
    assert.equal(members(r, "g").length, 3);
    assert.deepEqual(members(r, "g"), ["i1", "i2", "i3"]);
  });

  it("doc example: 50% with minimum 2 gives 2 of 2 instances (the minimum wins)", () => {
    const r = applyMembershipPolicies([group("g", { percentage: 50, minimum: 2 })], insts(2));
    assert.deepEqual(members(r, "g"), ["i1", "i2"]);
  });

  it("50% alone over 2 instances gives 1, over 3 gives 2 (AWX stops once 100*n/N >= p: ceil)", () => {
    assert.equal(members(applyMembershipPolicies([group("g", { percentage: 50 })], insts(2)), "g").length, 1);
    assert.equal(members(applyMembershipPolicies([group("g", { percentage: 50 })], insts(3)), "g").length, 2);
    assert.equal(members(applyMembershipPolicies([group("g", { percentage: 34 })], insts(3)), "g").length, 2);
    assert.equal(members(applyMembershipPolicies([group("g", { percentage: 33 })], insts(3)), "g").length, 1);
  });

  it("four 25% groups over 8 instances get disjoint members, 2 each", () => {
    const groups = ["a", "b", "c", "d"].map((n) => group(n, { percentage: 25 }));
    const r = applyMembershipPolicies(groups, insts(8));
    const all = r.flatMap((g) => g.instances);
    for (const g of r) assert.equal(g.instances.length, 2, g.name);
    assert.equal(new Set(all).size, 8, `overlap: ${JSON.stringify(r)}`);
  });

  it("groups whose percentages sum to 100 are disjoint (doc: 'no overlap')", () => {
    for (const [pcts, n] of [
      [[50, 50], 6],
      [[20, 30, 50], 10],
      [[10, 40, 50], 10],
      [[25, 25, 25, 25], 12],
    ] as const) {
      const r = applyMembershipPolicies(
        pcts.map((p, i) => group(`g${i}`, { percentage: p })),
        insts(n),
      );
      const all = r.flatMap((g) => g.instances);
      assert.equal(new Set(all).size, all.length, `overlap for ${JSON.stringify(pcts)} over ${n}: ${JSON.stringify(r)}`);
    }
  });

  it("a pinned managed_by_policy=false instance only lands in groups that list it", () => {
    const r = applyMembershipPolicies(
      [group("tower", { percentage: 100 }), group("east", { minimum: 3 }), group("west", { list: ["i2"], percentage: 100 })],
      insts(3, ["i2"]),
    );
    assert.deepEqual(members(r, "tower"), ["i1", "i3"]);
    assert.deepEqual(members(r, "east"), ["i1", "i3"]); // minimum 3 unreachable: only 2 in the pool
    // AWX counts list members (even pinned ones) in the group size: 100% of a pool of 2 is 2
    // members, and i2 already is one of them.
    assert.deepEqual(members(r, "west"), ["i1", "i2"]);
  });

  it("list membership does not count toward an instance's load", () => {
    // i1 is listed by "a"; the minimum pass for "b" still starts from i1 (load 0, first in order).
    const r = applyMembershipPolicies([group("a", { list: ["i1"] }), group("b", { minimum: 1 })], insts(3));
    assert.deepEqual(members(r, "b"), ["i1"]);
  });

  it("policy additions spread the load: the least-loaded instance goes first", () => {
    const r = applyMembershipPolicies([group("a", { minimum: 1 }), group("b", { minimum: 1 }), group("c", { minimum: 1 })], insts(3));
    assert.deepEqual([members(r, "a"), members(r, "b"), members(r, "c")], [["i1"], ["i2"], ["i3"]]);
  });

  it("isolated groups get their list only and their hosts leave the pool", () => {
    const r = applyMembershipPolicies(
      [group("tower", { percentage: 100 }), group("dmz", { list: ["i3"], isolated: true, minimum: 5, percentage: 100 })],
      insts(3),
    );
    assert.deepEqual(members(r, "tower"), ["i1", "i2"]);
    assert.deepEqual(members(r, "dmz"), ["i3"]);
  });

  it("unknown list entries are skipped and reported", () => {
    const r = applyMembershipPolicies([group("g", { list: ["ghost", "i1"] })], insts(2));
    assert.deepEqual(members(r, "g"), ["i1"]);
    assert.deepEqual(r[0]!.unknown, ["ghost"]);
  });

  it("property: counts respect minimum and percentage, never exceed the pool, stay deterministic", () => {
    const arb = fc.record({
      n: fc.integer({ min: 0, max: 12 }),
      unmanaged: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 4 }),
      groups: fc.array(fc.record({ percentage: fc.integer({ min: 0, max: 100 }), minimum: fc.integer({ min: 0, max: 14 }) }), {
        minLength: 1,
        maxLength: 5,
      }),
    });
    fc.assert(
      fc.property(arb, ({ n, unmanaged, groups }) => {
        const instances = insts(
          n,
          unmanaged.map((u) => `i${u}`),
        );
        const pool = instances.filter((i) => i.managedByPolicy).map((i) => i.name);
        const input = groups.map((g, k) => group(`g${k}`, g));
        const r = applyMembershipPolicies(input, instances);
        assert.deepEqual(applyMembershipPolicies(input, instances), r);
        r.forEach((res, k) => {
          const g = input[k]!;
          const count = res.instances.length;
          assert.ok(count <= pool.length, "never more than the pool");
          assert.ok(
            res.instances.every((h) => pool.includes(h)),
            "no pinned instance without a list",
          );
          assert.equal(new Set(res.instances).size, count, "no duplicates");
          assert.ok(count >= Math.min(g.minimum, pool.length), `minimum ${g.minimum} of ${pool.length}: got ${count}`);
          const wanted = Math.min(pool.length, Math.ceil((g.percentage * pool.length) / 100));
          assert.ok(count >= wanted, `percentage ${g.percentage} of ${pool.length}: got ${count}`);
          // Nothing beyond what one of the two policies asks for.
          assert.ok(count <= Math.max(Math.min(g.minimum, pool.length), wanted), `too many: ${count}`);
        });
      }),
      { numRuns: 400 },
    );
  });
});
