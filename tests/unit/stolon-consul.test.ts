/**
 * stolon on consul, the Cloudify way (properties over random topologies, planned and rendered by
 * the real code): every stolon binary gets exactly ONE store endpoint — libkv's consul store,
 * which stolon uses, refuses more ("consul does not support multiple endpoints") — and that
 * endpoint is the consul agent on the binary's own host; every host running a stolon component
 * runs a consul agent (the server when it is a store member, a client agent joining the servers
 * otherwise). stolon and consul are not packaged by Debian, so neither can run here: the flags are
 * checked against the sets read from stolon's source (STOLON_FLAGS) and the HCL structurally.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { renderDesiredState } from "../../src/pipeline/render";
import { STOLON_FLAGS } from "../../src/services/postgres/stolon";
import { CONSUL_CONFIG } from "../../src/services/quorum-store/render";
import { one } from "./plan-helpers";

interface Topo {
  readonly n: number;
  readonly servers: number[];
  readonly nodes: number[];
  readonly sentinels: number[];
  readonly proxies: number[];
  readonly clientPort: number | undefined;
  readonly supervisor: boolean[];
}

const subset = (n: number, min: number) => fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: min, maxLength: n });

const topoArb: fc.Arbitrary<Topo> = fc.integer({ min: 3, max: 7 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    servers: fc
      .constantFrom(3, 5)
      .chain((k) => fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: Math.min(k, n), maxLength: Math.min(k, n) })),
    nodes: subset(n, 2),
    sentinels: subset(n, 3),
    proxies: subset(n, 1),
    clientPort: fc.option(fc.integer({ min: 1025, max: 65000 }), { nil: undefined }),
    supervisor: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  }),
);

const name = (i: number) => `m${i + 1}`;

function inventoryOf(t: Topo): InventoryInput {
  return {
    name: "cfy",
    hosts: Array.from({ length: t.n }, (_, i) => ({
      name: name(i),
      address: `10.10.1.${11 + i}`,
      init: t.supervisor[i] ? ("supervisor" as const) : ("systemd" as const),
      interfaces: [{ name: "eth0", address: `10.10.1.${11 + i}/24` }],
    })),
    quorumStore: {
      kind: "consul",
      members: t.servers.map(name),
      encryptKey: { value: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=" },
      ...(t.clientPort !== undefined ? { clientPort: t.clientPort } : {}),
    },
    postgres: {
      engine: "stolon",
      clusterName: "cfy-db",
      nodes: t.nodes.map(name),
      sentinels: t.sentinels.map(name),
      proxies: t.proxies.map(name),
      store: { backend: "consul" },
      superuserPassword: { value: "su" },
      replicationPassword: { value: "repl" },
    },
  };
}

/** `stolon-xxx --a=b ...` command lines of a rendered file (systemd ExecStart= or supervisor command=). */
function stolonCommands(content: string): { bin: keyof typeof STOLON_FLAGS; flags: [string, string][] }[] {
  const out: { bin: keyof typeof STOLON_FLAGS; flags: [string, string][] }[] = [];
  for (const m of content.matchAll(
    /\/usr\/local\/bin\/(stolon-keeper|stolon-sentinel|stolon-proxy|stolonctl)((?: --[a-z-]+=(?:'[^']*'|\S+))+)/g,
  )) {
    const flags = [...m[2]!.matchAll(/--([a-z-]+)=('[^']*'|\S+)/g)].map((f) => [f[1]!, f[2]!.replace(/^'|'$/g, "")] as [string, string]);
    out.push({ bin: m[1] as keyof typeof STOLON_FLAGS, flags });
  }
  return out;
}

describe("stolon on consul: one endpoint, the local agent", () => {
  it("every stolon command (keeper, sentinel, proxy, stolonctl) names exactly one consul endpoint: 127.0.0.1:clientPort; only flags stolon defines", () => {
    fc.assert(
      fc.property(topoArb, (t) => {
        const r = planCluster(Inventory.parse(inventoryOf(t)));
        assert.ok(r.plan, JSON.stringify(r.findings.filter((f) => f.severity === "error")));
        const port = t.clientPort ?? 8500;
        const state = renderDesiredState(r.plan, {}, {});
        const texts = [
          ...state.hosts.flatMap((h) => h.files.map((f) => ({ host: h.host, text: f.content }))),
          ...state.actions.map((a) => ({ host: a.host, text: a.create })),
        ];
        let seen = 0;
        for (const { text } of texts)
          for (const c of stolonCommands(text)) {
            seen++;
            const eps = c.flags.filter(([k]) => k === "store-endpoints").map(([, v]) => v);
            assert.deepEqual(eps, [`http://127.0.0.1:${port}`], `${c.bin}: ${JSON.stringify(c.flags)}`);
            assert.equal(eps[0]!.split(",").length, 1);
            assert.deepEqual(
              c.flags.filter(([k]) => k === "store-backend").map(([, v]) => v),
              ["consul"],
            );
            for (const [k] of c.flags) assert.ok(STOLON_FLAGS[c.bin].has(k), `${c.bin} --${k} is not a flag of stolon's source`);
          }
        assert.ok(seen >= new Set([...t.nodes, ...t.sentinels, ...t.proxies]).size, "every component rendered");
      }),
      { numRuns: 120 },
    );
  });

  it("every host running a stolon component runs a consul agent: the server on members, a client agent joining all servers elsewhere", () => {
    fc.assert(
      fc.property(topoArb, (t) => {
        const r = planCluster(Inventory.parse(inventoryOf(t)));
        assert.ok(r.plan);
        const port = t.clientPort ?? 8500;
        const state = renderDesiredState(r.plan, {}, {});
        const servers = new Set(t.servers.map(name));
        const consumers = new Set([...t.nodes, ...t.sentinels, ...t.proxies].map(name));
        for (const h of state.hosts) {
          const hcl = h.files.find((f) => f.path === CONSUL_CONFIG);
          if (!consumers.has(h.host) && !servers.has(h.host)) {
            assert.equal(hcl, undefined, `${h.host} runs neither stolon nor the store`);
            continue;
          }
          assert.ok(hcl, `${h.host} has a consul agent`);
          assert.ok(h.services.some((s) => s.name === "consul"));
          const isServer = servers.has(h.host);
          assert.match(hcl.content, new RegExp(`^server = ${isServer}$`, "m"));
          assert.equal(/^bootstrap_expect = /m.test(hcl.content), isServer);
          assert.match(hcl.content, new RegExp(`^  http = ${port}$`, "m"));
          assert.match(hcl.content, isServer ? /^client_addr = "127\.0\.0\.1 /m : /^client_addr = "127\.0\.0\.1"$/m);
          const join = JSON.parse(/^retry_join = (.*)$/m.exec(hcl.content)![1]!) as string[];
          const expected = t.servers.filter((i) => name(i) !== h.host).map((i) => `10.10.1.${11 + i}:8301`);
          assert.deepEqual(join, expected, "joins the servers");
          const svc = h.services.find((s) => s.name === "consul")!;
          assert.equal(svc.rollGroup, isServer ? "consul" : undefined, "client agents are not voters: no quorum roll");
        }
        const agents = r.plan.hosts.filter((h) => h.roles.includes("consul-agent")).map((h) => h.name);
        assert.deepEqual(agents.sort(), [...consumers].filter((h) => !servers.has(h)).sort());
      }),
      { numRuns: 120 },
    );
  });

  it("explicit consul endpoints: more than one is an error finding (stolon would refuse to start)", () => {
    const inv = inventoryOf({
      n: 3,
      servers: [0, 1, 2],
      nodes: [0, 1],
      sentinels: [0, 1, 2],
      proxies: [0],
      clientPort: undefined,
      supervisor: [false, false, false],
    });
    const two = Inventory.parse({
      ...inv,
      quorumStore: undefined,
      postgres: { ...inv.postgres!, store: { backend: "consul", endpoints: ["http://10.10.1.11:8500", "http://10.10.1.12:8500"] } },
    });
    const f = one(planCluster(two).findings, "postgres.consul-one-endpoint");
    assert.equal(f.path, "postgres.store.endpoints");
    assert.equal(f.severity, "error");
    const single = Inventory.parse({
      ...inv,
      quorumStore: undefined,
      postgres: { ...inv.postgres!, store: { backend: "consul", endpoints: ["http://127.0.0.1:8500"] } },
    });
    assert.ok(planCluster(single).plan);
  });
});
