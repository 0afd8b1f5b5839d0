import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InventoryInput } from "../../src/inventory/schema";
import { hosts, names, noErrors, none, ofService, one, runSteps } from "./plan-helpers";

type PgIn = NonNullable<InventoryInput["postgres"]>;
const etcd3 = { kind: "etcd" as const, members: names(3) };
const pg = (postgres: PgIn, extra: Partial<InventoryInput> = { quorumStore: etcd3 }) => {
  const r = runSteps({ hosts: hosts(4), postgres, ...extra });
  return { ...r, findings: ofService(r.findings, "postgres.") };
};

describe("postgres plan", () => {
  it("patroni on the etcd store: endpoints, roles, rolling group replicas first", () => {
    const { plan, findings, roles } = pg({ engine: "patroni", nodes: names(3) });
    noErrors(findings);
    const p = plan.postgres!;
    assert.deepEqual(p.store, { backend: "etcd", endpoints: ["http://10.0.0.11:2379", "http://10.0.0.12:2379", "http://10.0.0.13:2379"] });
    assert.deepEqual([p.sentinels, p.proxies], [[], []]);
    assert.equal(p.endpoint, "10.0.0.11:5432");
    one(findings, "postgres.no-stable-endpoint");
    assert.deepEqual(roles.get("h1"), ["etcd", "postgres"]);
    assert.deepEqual(
      plan.rollingGroups!.find((g) => g.id === "patroni:pg"),
      { id: "patroni:pg", service: "patroni", hosts: ["h2", "h3", "h1"], maxUnavailable: 1 },
    );
  });

  it("synchronous mode: off by default, carried to the plan; strict without it and either on stolon warn", () => {
    const off = pg({ engine: "patroni", nodes: names(3) });
    assert.deepEqual([off.plan.postgres!.synchronousMode, off.plan.postgres!.synchronousModeStrict], [false, false]);
    const on = pg({ engine: "patroni", nodes: names(3), synchronousMode: true, synchronousModeStrict: true });
    assert.deepEqual([on.plan.postgres!.synchronousMode, on.plan.postgres!.synchronousModeStrict], [true, true]);
    none(on.findings, "postgres.strict-without-synchronous");
    const strictOnly = pg({ engine: "patroni", nodes: names(3), synchronousModeStrict: true });
    assert.equal(one(strictOnly.findings, "postgres.strict-without-synchronous").path, "postgres.synchronousModeStrict");
    const stolon = pg({ engine: "stolon", nodes: names(3), synchronousMode: true });
    assert.equal(one(stolon.findings, "postgres.patroni-only-field").path, "postgres.synchronousMode");
  });

  it("stolon: sentinels and proxies default to the nodes; the endpoint is the local proxy", () => {
    const { plan, findings, roles } = pg({ engine: "stolon", nodes: names(3) });
    assert.deepEqual(findings, []);
    assert.deepEqual([plan.postgres!.sentinels, plan.postgres!.proxies], [names(3), names(3)]);
    assert.equal(plan.postgres!.endpoint, "127.0.0.1:25432");
    assert.deepEqual(roles.get("h2"), ["etcd", "postgres", "stolon-sentinel", "stolon-proxy"]);
    assert.ok(plan.rollingGroups!.some((g) => g.id === "stolon:pg"));
  });

  it("the endpoint is the VIP + the frontend port when HAProxy fronts the nodes", () => {
    const { plan } = pg(
      { engine: "patroni", nodes: names(3) },
      {
        quorumStore: etcd3,
        keepalived: { instances: [{ name: "lb", vip: "10.0.0.100/24", routerId: 51, hosts: ["h1", "h2", "h3"] }] },
        haproxy: {
          frontends: [{ name: "pg", bind: ":5000", backend: "pg" }],
          backends: [{ name: "pg", servers: names(3).map((host) => ({ host, port: 5432 })) }],
        },
      },
    );
    assert.equal(plan.postgres!.endpoint, "10.0.0.100:5000");
  });

  it("patroni on a VIP without HAProxy or a track script warns that the VIP does not follow the leader", () => {
    const r = pg(
      { engine: "patroni", nodes: names(3) },
      { quorumStore: etcd3, keepalived: { instances: [{ name: "lb", vip: "10.0.0.100/24", routerId: 51, hosts: ["h1", "h2"] }] } },
    );
    assert.equal(r.plan.postgres!.endpoint, "10.0.0.100:5432");
    one(r.findings, "postgres.vip-not-leader-aware");
  });

  it("the kubernetes store needs a kubernetes target", () => {
    const f = one(
      pg({ engine: "stolon", nodes: names(3), store: { backend: "kubernetes" } }).findings,
      "postgres.kubernetes-store-needs-kubernetes-target",
    );
    assert.equal(f.path, "postgres.store.backend");
    assert.match(f.message, /`target` is 'ssh'/);
    none(
      ofService(
        runSteps({
          target: "kubernetes",
          postgres: { engine: "stolon", nodes: ["keeper-0", "keeper-1", "keeper-2"], store: { backend: "kubernetes" } },
        }).findings,
        "postgres.",
      ),
      "postgres.kubernetes-store-needs-kubernetes-target",
    );
  });

  it("an etcd/consul backend needs a quorum store of that kind, or explicit endpoints", () => {
    assert.equal(one(pg({ engine: "stolon", nodes: names(3) }, {}).findings, "postgres.store-missing").path, "postgres.store");
    const kind = one(pg({ engine: "stolon", nodes: names(3), store: { backend: "consul" } }).findings, "postgres.store-kind-mismatch");
    assert.match(kind.message, /'consul' but `quorumStore.kind` is 'etcd'/);
    const ext = pg({ engine: "stolon", nodes: names(3), store: { backend: "consul", endpoints: ["http://consul.example:8500"] } }, {});
    noErrors(ext.findings);
    assert.deepEqual(ext.plan.postgres!.store.endpoints, ["http://consul.example:8500"]);
  });

  it("Patroni needs etcd, with the v2 API on", () => {
    one(
      pg({ engine: "patroni", nodes: names(3), store: { backend: "consul" } }, { quorumStore: { kind: "consul", members: names(3) } })
        .findings,
      "postgres.patroni-needs-etcd",
    );
    const v2 = one(
      pg({ engine: "patroni", nodes: names(3) }, { quorumStore: { ...etcd3, enableV2: false } }).findings,
      "postgres.patroni-needs-etcd-v2",
    );
    assert.equal(v2.path, "quorumStore.enableV2");
    none(
      pg({ engine: "stolon", nodes: names(3) }, { quorumStore: { ...etcd3, enableV2: false } }).findings,
      "postgres.patroni-needs-etcd-v2",
    );
  });

  it("one node warns (no HA); two do not", () => {
    assert.equal(one(pg({ engine: "stolon", nodes: ["h1"], sentinels: names(3) }).findings, "postgres.single-node").severity, "warning");
    none(pg({ engine: "stolon", nodes: ["h1", "h2"], sentinels: names(3) }).findings, "postgres.single-node");
  });

  it("stolon sentinels: 3 or more, odd (a warning otherwise)", () => {
    const two = one(pg({ engine: "stolon", nodes: ["h1", "h2"] }).findings, "postgres.sentinel-count");
    assert.equal(two.severity, "warning");
    assert.match(two.message, /2 sentinel\(s\) \(one per node\)/);
    one(pg({ engine: "stolon", nodes: names(3), sentinels: names(4) }).findings, "postgres.sentinel-count");
    none(pg({ engine: "stolon", nodes: ["h1", "h2"], sentinels: names(3) }).findings, "postgres.sentinel-count");
  });

  it("nodes, sentinels and proxies are inventory hosts; proxyPort differs from port", () => {
    const f = pg({ engine: "stolon", nodes: ["h1", "h2", "x9"], proxies: ["h1", "h1"] }).findings;
    assert.equal(one(f, "postgres.unknown-host").path, "postgres.nodes[2]");
    assert.equal(one(f, "postgres.duplicate-host").path, "postgres.proxies[1]");
    one(pg({ engine: "stolon", nodes: names(3), proxyPort: 5432 }).findings, "postgres.port-collision");
  });
});
