/**
 * keepalived's router-id and duplicate-VIP check (checkRouterIds in src/services/keepalived/plan.ts)
 * finds the pairs that can conflict through indexes. The oracle here is the check as it was
 * written first: every instance against every earlier one, subnets by Node's `net.BlockList`.
 * Over random inventories built to collide (few interfaces and router ids, overlapping and
 * disjoint subnets, IPv4 and IPv6 in several spellings, shared and unknown hosts) the findings
 * must be identical: codes, paths, messages, hints and order.
 */
import assert from "node:assert/strict";
import { BlockList } from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { error, type Finding } from "../../src/core/findings";
import { ipFamily, parseCidr, sameAddress, type Cidr } from "../../src/plan/network";
import type { KeepalivedInstancePlan } from "../../src/plan/types";
import { checkRouterIds } from "../../src/services/keepalived/plan";
import { hosts, runSteps } from "./plan-helpers";

type Inst = Parameters<typeof checkRouterIds>[0][number];
type Vip = { cidr: Cidr; index: number } | undefined;

/** Node's verdict on `address` in `network/prefix`. */
function blockListSays(address: string, network: string, prefix: number): boolean {
  const fa = ipFamily(address);
  if (!fa || fa !== ipFamily(network)) return false;
  const list = new BlockList();
  list.addSubnet(network, prefix, fa);
  return list.check(address, fa);
}

/** The all-pairs check (the oracle): each instance against every earlier instance. */
function allPairs(insts: readonly Inst[], vips: readonly Vip[], planned: readonly KeepalivedInstancePlan[]): Finding[] {
  const findings: Finding[] = [];
  for (let k = 0; k < insts.length; k++) {
    const b = insts[k]!;
    const vb = vips[k];
    for (let i = 0; i < k; i++) {
      const a = insts[i]!;
      const va = vips[i];
      if (va && vb && sameAddress(va.cidr.address, vb.cidr.address)) {
        findings.push(
          error(
            "keepalived.duplicate-vip",
            `keepalived.instances[${k}].vip`,
            `VIP '${b.vip}' of instance '${b.name}' is also the VIP of instance '${a.name}'`,
            "Give every instance its own VIP.",
          ),
        );
        continue;
      }
      if (a.interface !== b.interface || a.routerId !== b.routerId) continue;
      const sameSubnet =
        va !== undefined &&
        vb !== undefined &&
        va.cidr.family === vb.cidr.family &&
        (blockListSays(vb.cidr.address, va.cidr.address, va.cidr.prefix) ||
          blockListSays(va.cidr.address, vb.cidr.address, vb.cidr.prefix));
      const hostsA = new Set(planned[i]?.members.map((m) => m.host) ?? []);
      const shared = (planned[k]?.members ?? []).map((m) => m.host).filter((h) => hostsA.has(h));
      if (sameSubnet || shared.length > 0)
        findings.push(
          error(
            "keepalived.duplicate-router-id",
            `keepalived.instances[${k}].routerId`,
            `instance '${b.name}' uses \`routerId\` ${b.routerId} on \`interface\` '${b.interface}' like instance '${a.name}'` +
              (sameSubnet ? ` in the same subnet (VIPs '${a.vip}', '${b.vip}')` : ` on host(s) ${shared.map((h) => `'${h}'`).join(", ")}`),
            "Use a distinct routerId (virtual_router_id 1-255) per instance on a link.",
          ),
        );
    }
  }
  return findings;
}

/** VIP addresses that nest, touch and miss each other; IPv6 in more than one spelling. */
const V4 = ["10.0.0.0", "10.0.0.1", "10.0.0.100", "10.0.0.128", "10.0.0.255", "10.0.1.1", "10.0.1.100", "10.1.0.100", "192.168.0.1"];
const V6 = [
  "2001:db8::1",
  "2001:0db8:0000:0000:0000:0000:0000:0001",
  "2001:DB8::100",
  "2001:db8::8000:1",
  "2001:db8:1::1",
  "::ffff:10.0.0.100",
  "::ffff:a00:164",
  "::ffff:10.0.1.1",
  "fd00::1",
];
const vip = fc.oneof(
  fc.tuple(fc.constantFrom(...V4), fc.constantFrom(0, 8, 16, 23, 24, 25, 30, 31, 32)).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.constantFrom(...V6), fc.constantFrom(0, 16, 32, 48, 64, 96, 104, 112, 120, 127, 128)).map(([a, p]) => `${a}/${p}`),
);
const HOSTS = ["h1", "h2", "h3", "h4", "h5", "h6", "zz"];
const instance = fc.record({
  name: fc.constantFrom("a", "b", "c", "d", "e", "f", "g"),
  vip,
  interface: fc.constantFrom("eth0", "eth1"),
  routerId: fc.integer({ min: 1, max: 3 }),
  hosts: fc.array(fc.constantFrom(...HOSTS), { minLength: 1, maxLength: 4 }),
});

const CODES = new Set(["keepalived.duplicate-vip", "keepalived.duplicate-router-id"]);

describe("keepalived router ids and duplicate VIPs: the indexed check against all pairs", () => {
  it("random inventories: the same findings, in the same order (property)", () => {
    const seen = { vip: 0, subnet: 0, host: 0 };
    fc.assert(
      fc.property(fc.array(instance, { maxLength: 30 }), (instances) => {
        const r = runSteps({ hosts: hosts(6), keepalived: { instances } });
        const inv = r.plan.inventory!;
        const insts = inv.keepalived!.instances;
        const vips = insts.map((x, index) => {
          const cidr = parseCidr(x.vip);
          return cidr ? { cidr, index } : undefined;
        });
        const expected = allPairs(insts, vips, r.plan.keepalived!);
        for (const f of expected)
          seen[f.code === "keepalived.duplicate-vip" ? "vip" : f.message.includes("in the same subnet") ? "subnet" : "host"]++;
        assert.deepEqual(
          r.findings.filter((f) => CODES.has(f.code)),
          expected,
        );
      }),
      { numRuns: 400 },
    );
    // The generator collides every way (about 350 duplicate VIPs, 200 subnets, 300 hosts per run).
    assert.ok(seen.vip > 50 && seen.subnet > 50 && seen.host > 50, `the generator collides: ${JSON.stringify(seen)}`);
  });

  it("invalid and zoned VIPs, members straight from the plan (property)", () => {
    const zoned = fc.constantFrom("fe80::1%eth0/64", "fe80::2%eth1/64", "fe80::1/64", "fe80:0::1%eth0/128", "fe80::1:0:0:1/64");
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            inst: instance,
            vip: fc.oneof(vip, zoned, fc.constant("not-a-cidr")),
            members: fc.uniqueArray(fc.constantFrom(...HOSTS), { maxLength: 4 }),
          }),
          { maxLength: 25 },
        ),
        (rows) => {
          const insts = rows.map((r) => ({ ...r.inst, vip: r.vip }) as unknown as Inst);
          const vips: Vip[] = rows.map((r, index) => {
            const cidr = parseCidr(r.vip);
            return cidr ? { cidr, index } : undefined;
          });
          const planned = rows.map((r) => ({ members: r.members.map((host) => ({ host })) }) as unknown as KeepalivedInstancePlan);
          assert.deepEqual(checkRouterIds(insts, vips, planned), allPairs(insts, vips, planned));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("many instances on one router id: the pairs that conflict, and only those", () => {
    // 600 /24s on eth0 with router ids 1..3; every tenth pair shares a host, every 50th a subnet.
    const insts: Inst[] = [];
    const planned: KeepalivedInstancePlan[] = [];
    for (let i = 0; i < 600; i++) {
      const subnet = i % 50 === 49 ? i - 1 : i;
      insts.push({
        name: `v${i}`,
        vip: `10.${subnet >> 8}.${subnet & 255}.${100 + (i % 2)}/24`,
        interface: "eth0",
        routerId: (i % 3) + 1,
      } as Inst);
      planned.push({ members: [{ host: `h${i}` }, { host: i % 10 === 9 ? `h${i - 3}` : `x${i}` }] } as unknown as KeepalivedInstancePlan);
    }
    const vips = insts.map((x, index) => ({ cidr: parseCidr(x.vip)!, index }));
    const found = checkRouterIds(insts, vips, planned);
    assert.deepEqual(found, allPairs(insts, vips, planned));
    assert.ok(found.length > 20);
  });
});
