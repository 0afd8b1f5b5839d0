/**
 * Bad input is a finding, never an exception (docs/architecture.md, "The one idea"): the HA plan steps run over
 * inventories whose addresses, VIPs, binds, names and counts are drawn from awkward values.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseInventoryText } from "../../src/inventory/load";
import { planCluster } from "../../src/pipeline/plan";
import { runSteps } from "./plan-helpers";

// Mostly well-typed values (so the plan steps run on odd but valid topologies), sometimes
// awkward ones (which the schema's string kinds must turn into findings).
const rarely = <T>(valid: fc.Arbitrary<T>, awkward: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: awkward, weight: 1 });
const addr = rarely(
  fc.oneof(fc.constantFrom("10.0.0.11", "10.0.0.100", "fd00::1", "::", "0.0.0.0", "db1.example.com"), fc.ipV4(), fc.ipV6()),
  fc.oneof(fc.constantFrom("10.0.0.300", "", "1.2.3", "[::1]", "10.213.7.311"), fc.string({ maxLength: 12 })),
);
const cidr = rarely(
  fc.oneof(
    fc.tuple(addr, fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
    fc.constantFrom("10.0.0.100/24", "fd00::100/64"),
  ),
  fc.oneof(
    fc.tuple(addr, fc.integer({ min: -2, max: 140 })).map(([a, p]) => `${a}/${p}`),
    addr,
    fc.constantFrom("10.0.0.100/", "/24", "10.0.0.100/24/1"),
  ),
);
const bind = rarely(
  fc.tuple(fc.constantFrom("", "*", "10.0.0.100", "[fd00::1]"), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
  fc.oneof(
    fc
      .tuple(fc.constantFrom("", "*", "10.0.0.100", "[fd00::1]", "fd00::1", "x y"), fc.integer({ min: -1, max: 70000 }))
      .map(([h, p]) => `${h}:${p}`),
    fc.string({ maxLength: 10 }),
  ),
);
const hostName = fc.constantFrom("h1", "h2", "h3", "h4", "zz");
const hostList = fc.array(hostName, { minLength: 0, maxLength: 5 });

const doc = fc.record({
  hostAddrs: fc.array(fc.tuple(addr, cidr), { minLength: 1, maxLength: 4 }),
  nodes: fc.array(
    fc.oneof(hostName, fc.record({ host: hostName, nodeid: fc.integer({ min: 1, max: 4 }), addrs: fc.array(addr, { maxLength: 3 }) })),
    { maxLength: 6 },
  ),
  transport: fc.constantFrom("knet", "udpu", "udp"),
  cipher: fc.constantFrom("none", "aes256"),
  hash: fc.constantFrom("none", "sha256"),
  stonith: fc.constantFrom(undefined, true, false, "maybe", 0),
  ipaddr: cidr,
  vip: cidr,
  kaHosts: fc.array(fc.oneof(hostName, fc.record({ host: hostName, priority: fc.integer({ min: 1, max: 254 }) })), {
    minLength: 1,
    maxLength: 4,
  }),
  routerId: fc.integer({ min: 1, max: 3 }),
  binds: fc.array(bind, { maxLength: 3 }),
  storeMembers: hostList,
  storeOnly: hostList,
  pgNodes: fc.array(hostName, { minLength: 1, maxLength: 4 }),
  engine: fc.constantFrom("stolon", "patroni"),
  backend: fc.constantFrom("etcd", "consul", "kubernetes"),
  path: rarely(fc.constantFrom("/srv/a", "/srv/a/b"), fc.constantFrom("rel", "/", "")),
  apHosts: fc.array(hostName, { minLength: 2, maxLength: 3 }),
});

describe("plan fuzz", () => {
  it("never throws, whatever the HA sections hold", () => {
    let planned = 0;
    fc.assert(
      fc.property(doc, (d) => {
        const input = {
          hosts: d.hostAddrs.map(([a, c], i) => ({
            name: `h${i + 1}`,
            address: a || "x",
            interfaces: [{ name: "eth0", address: c || "x" }],
          })),
          pacemaker: {
            clusters: [
              {
                name: "c",
                nodes: d.nodes,
                transport: d.transport,
                crypto: { cipher: d.cipher, hash: d.hash },
                ...(d.stonith === undefined ? {} : { properties: { "stonith-enabled": d.stonith } }),
                primitives: [
                  {
                    id: "v",
                    agent: "ocf:heartbeat:IPaddr2",
                    params: { ip: d.ipaddr.split("/")[0] ?? "", cidr_netmask: d.ipaddr.split("/")[1] ?? "" },
                  },
                ],
                lightweight: { vips: [{ name: "lv", address: d.vip }] },
              },
            ],
          },
          keepalived: {
            instances: [
              { name: "k", vip: d.vip, routerId: d.routerId, hosts: d.kaHosts },
              { name: "k2", vip: d.ipaddr, routerId: d.routerId, hosts: d.kaHosts },
            ],
          },
          haproxy: {
            frontends: d.binds.map((b, i) => ({ name: `f${i}`, bind: b, backend: i % 2 ? "b" : "missing" })),
            backends: [{ name: "b", servers: d.pgNodes.map((host) => ({ host, port: 5432 })), stickTable: true }],
            stats: { bind: d.binds[0] ?? ":8404" },
          },
          quorumStore: { kind: "etcd" as const, members: d.storeMembers, storeOnly: d.storeOnly },
          postgres: { engine: d.engine, nodes: d.pgNodes, store: { backend: d.backend } },
          syncthing: {
            folders: [
              { id: "a", path: d.path || "/x", hosts: d.apHosts },
              { id: "a", path: "/srv/a", hosts: d.apHosts },
            ],
          },
          activePassive: [{ name: "ap", hosts: d.apHosts, vip: d.vip, haId: "ap-ha", token: { value: "" } }],
        };
        // Through the loader, as the CLI reads it: the schema's string kinds reject most awkward
        // values as findings; whatever passes is planned, and the plan steps must not throw on it.
        const loaded = parseInventoryText(JSON.stringify(input), "fuzz.json");
        const r = loaded.inventory ? runSteps(loaded.inventory) : { findings: loaded.findings };
        assert.ok(loaded.inventory || loaded.findings.some((f) => f.severity === "error"));
        for (const f of r.findings) {
          assert.match(f.code, /^[a-z-]+(\.[a-z0-9-]+)+$/);
          assert.ok(f.path.length > 0 && f.message.length > 0);
        }
        if (loaded.inventory) {
          planned++;
          planCluster(loaded.inventory);
        }
      }),
      { numRuns: 300, seed: 13 },
    );
    // The generators must reach the plan steps, not only the schema.
    assert.ok(planned >= 30, `only ${planned} of 300 inventories passed the schema`);
  });
});
