/**
 * Plan and render stay linear in the number of hosts, for every service shape of bench/growth.ts
 * (AWX policy groups, RabbitMQ on every host, single-node Pacemaker clusters, pacemaker_remote
 * pools, keepalived with a VIP per host pair).
 *
 * Not a timed test: the input (the inventory for the plan, the plan for the render) is wrapped in
 * a counting proxy and the test compares how many property reads the step makes at n and 4n
 * hosts. A linear step reads ~4× as much, an n·log n one a little more; a step that scans every
 * host once per host reads ~16× as much. Deterministic, so it can fail only on a real change of
 * complexity. Timings live in bench/growth.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BlockList, isIP } from "node:net";
import { SHAPES } from "../../bench/growth";
import { parseInventoryText } from "../../src/inventory/load";
import type { Inventory } from "../../src/inventory/schema";
import { AddressIndex, sameAddress } from "../../src/plan/network";
import { planCluster } from "../../src/pipeline/plan";
import type { ClusterPlan } from "../../src/plan/types";
import { renderDesiredState, requiredMaterials } from "../../src/pipeline/render";

/** Deep read-counting view of plain data (objects and arrays; Maps, Sets and frozen values stay raw). */
function counting<T extends object>(root: T): { value: T; reads: () => number } {
  let reads = 0;
  const proxies = new WeakMap<object, object>();
  const wrap = (v: unknown): unknown => {
    if (v === null || typeof v !== "object") return v;
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) return v;
    let p = proxies.get(v);
    if (!p) {
      p = new Proxy(v, {
        get(target, key, receiver) {
          reads++;
          const out = Reflect.get(target, key, receiver);
          const d = Object.getOwnPropertyDescriptor(target, key);
          // Proxy invariant: a non-configurable, non-writable property must read as itself.
          return d && !d.configurable && !d.writable ? out : wrap(out);
        },
      });
      proxies.set(v, p);
    }
    return p;
  };
  return { value: wrap(root) as T, reads: () => reads };
}

const SECRETS = {
  "secret:rabbitmqPassword": "pw-12345678",
  "secret:rabbitmqCookie": "cookie-12345678",
  "secret:pgPassword": "pg-12345678",
  "secret:towerAdminPassword": "adm-12345678",
};

function inventory(shape: string, n: number): Inventory {
  const loaded = parseInventoryText(SHAPES[shape]!(n), `${shape}.yaml`);
  assert.ok(loaded.inventory, `${shape} ${n}: ${JSON.stringify(loaded.findings.slice(0, 3))}`);
  return loaded.inventory;
}

/** Property reads of planCluster on the inventory. */
function planReads(shape: string, n: number): number {
  const c = counting(inventory(shape, n));
  const r = planCluster(c.value);
  assert.ok(r.plan, `${shape} ${n} plans: ${JSON.stringify(r.findings.filter((f) => f.severity === "error").slice(0, 3))}`);
  return c.reads();
}

/** Property reads of renderDesiredState on the plan. */
function renderReads(shape: string, n: number): number {
  const plan = planCluster(inventory(shape, n)).plan as ClusterPlan;
  // Cheap material stand-ins of the right shape: the render only formats them.
  const materials = Object.fromEntries(
    requiredMaterials(plan).map((m) => [
      m.key,
      m.kind.type === "rsa-keypair"
        ? JSON.stringify({ privateKey: "-----BEGIN X-----\nAAAA\n-----END X-----\n", publicKey: "ssh-rsa AAAA x" })
        : "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
    ]),
  );
  const c = counting(plan);
  renderDesiredState(c.value, SECRETS, materials);
  return c.reads();
}

/** Linear with room for n·log n and small per-size constants; quadratic is ~16 at 4×. */
const MAX_GROWTH_AT_4X = 6;

describe("plan and render grow linearly with the number of hosts", () => {
  for (const shape of Object.keys(SHAPES)) {
    it(`${shape}: plan and render reads at 4× hosts grow < ${MAX_GROWTH_AT_4X}×`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 120, max: 260 }), (n) => {
          const plan = planReads(shape, 4 * n) / planReads(shape, n);
          assert.ok(plan < MAX_GROWTH_AT_4X, `${shape}: plan reads grew ${plan.toFixed(1)}× from ${n} to ${4 * n} hosts`);
          const render = renderReads(shape, 4 * n) / renderReads(shape, n);
          assert.ok(render < MAX_GROWTH_AT_4X, `${shape}: render reads grew ${render.toFixed(1)}× from ${n} to ${4 * n} hosts`);
        }),
        { numRuns: 2, includeErrorInReport: true },
      );
    });
  }
});

describe("AddressIndex answers like a scan with sameAddress", () => {
  // Spellings that are equal (IPv6 forms, IPv4-mapped), unequal, zoned and non-IP.
  const pool = [
    "10.0.0.1",
    "10.0.0.2",
    "::1",
    "0:0:0:0:0:0:0:1",
    "::ffff:10.0.0.1",
    "::ffff:a00:1",
    "2001:db8::1",
    "2001:DB8:0:0::1",
    "fe80::1%eth0",
    "fe80::1",
    "db1",
    "DB1",
    "db1.example.net",
  ];
  it("lookup(a) is every added value whose address sameAddress(a), in insertion order", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pool), { maxLength: 30 }), fc.constantFrom(...pool), (added, query) => {
        const index = new AddressIndex<number>();
        added.forEach((a, i) => index.add(a, i));
        const expected = added.flatMap((a, i) => (sameAddress(a, query) ? [i] : []));
        assert.deepEqual(index.lookup(query), expected);
      }),
    );
  });
  it("sameAddress (canonical keys) agrees with Node's BlockList on every pair", () => {
    const reference = (a: string, b: string): boolean => {
      const fa = isIP(a);
      if (!fa || fa !== isIP(b)) return a === b;
      const list = new BlockList();
      list.addAddress(b, fa === 4 ? "ipv4" : "ipv6");
      return list.check(a, fa === 4 ? "ipv4" : "ipv6");
    };
    for (const a of pool) for (const b of pool) assert.equal(sameAddress(a, b), reference(a, b), `${a} vs ${b}`);
  });
});
