/**
 * inSubnet and addressBits (src/plan/network.ts): the plan compares addresses as bits; Node's own
 * `net.BlockList` is the verdict they are held to, over IPv4 and IPv6 in their various spellings.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BlockList } from "node:net";
import fc from "fast-check";
import { addressBits, inSubnet, ipFamily } from "../../src/plan/network";

/** Node's verdict: a fresh BlockList holding `network/prefix`. */
function nodeSays(address: string, network: string, prefix: number): boolean {
  const fa = ipFamily(address);
  if (!fa || fa !== ipFamily(network)) return false;
  const list = new BlockList();
  list.addSubnet(network, prefix, fa);
  return list.check(address, fa);
}

const hex = (bits: string, from: number) => parseInt(bits.slice(from, from + 16), 2).toString(16);
const quad = (bits: string) => [0, 8, 16, 24].map((i) => parseInt(bits.slice(i, i + 8), 2)).join(".");

/** The spellings of 128 bits: full, with `::`, upper case, with a dotted-quad tail. */
function v6Spellings(bits: string): string[] {
  const groups = Array.from({ length: 8 }, (_, i) => hex(bits, 16 * i));
  const full = groups.map((g) => g.padStart(4, "0")).join(":");
  const short = new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
  return [full, short, short.toUpperCase(), `${groups.slice(0, 6).join(":")}:${quad(bits.slice(96))}`];
}

/** An address of `family` given as bits, spelled one of its ways (`pick` chooses). */
const spell = (bits: string, pick: number) => (bits.length === 32 ? quad(bits) : v6Spellings(bits)[pick % 4]!);

/** A network and an address sharing its first `common` bits, then differing at random. */
const pair = fc
  .constantFrom(32, 128)
  .chain((width) =>
    fc.record({
      network: fc.array(fc.constantFrom("0", "1"), { minLength: width, maxLength: width }).map((b) => b.join("")),
      tail: fc.array(fc.constantFrom("0", "1"), { minLength: width, maxLength: width }).map((b) => b.join("")),
      common: fc.integer({ min: 0, max: width }),
      prefix: fc.integer({ min: 0, max: width }),
      pickA: fc.nat(3),
      pickN: fc.nat(3),
    }),
  )
  .map(({ network, tail, common, prefix, pickA, pickN }) => ({
    network: spell(network, pickN),
    address: spell(network.slice(0, common) + tail.slice(common), pickA),
    prefix,
    bits: { network, address: network.slice(0, common) + tail.slice(common) },
  }));

describe("inSubnet", () => {
  it("agrees with Node's BlockList for IPv4 and IPv6, near and far, every spelling (property)", () => {
    fc.assert(
      fc.property(pair, ({ network, address, prefix }) => {
        assert.equal(inSubnet(address, network, prefix), nodeSays(address, network, prefix), `${address} in ${network}/${prefix}`);
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees with Node's BlockList for fast-check's own addresses (property)", () => {
    const v4 = fc.tuple(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 32 }));
    const v6 = fc.tuple(fc.ipV6(), fc.ipV6(), fc.integer({ min: 0, max: 128 }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), ([a, n, p]) => assert.equal(inSubnet(a, n, p), nodeSays(a, n, p), `${a} in ${n}/${p}`)),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (a, p) => assert.equal(inSubnet(a, a, p), true)),
      { numRuns: 500 },
    );
  });

  it("addressBits reads every spelling of the same bits alike; not an IP, zoned or mixed families: no bits", () => {
    fc.assert(
      fc.property(pair, ({ bits, address }) => assert.equal(addressBits(address), bits.address)),
      { numRuns: 1000 },
    );
    assert.equal(addressBits("10.0.0.1"), "00001010" + "0".repeat(23) + "1");
    assert.equal(addressBits("::ffff:10.0.0.1"), addressBits("0:0:0:0:0:ffff:a00:1"));
    for (const x of ["fe80::1%eth0", "db.example", "10.0.0", "1::2::3", ""]) assert.equal(addressBits(x), undefined, x);
    assert.equal(inSubnet("fe80::1%eth0", "fe80::", 64), nodeSays("fe80::1%eth0", "fe80::", 64));
    assert.equal(inSubnet("10.0.0.1", "::ffff:10.0.0.0", 120), false, "an IPv4 address is not in an IPv6 network");
  });
});
