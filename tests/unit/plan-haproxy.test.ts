import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { renderTemplate } from "../../src/render/templates";
import { renderPart } from "../../src/services/haproxy/render";
import type { InventoryInput } from "../../src/inventory/schema";
import { hosts, inventory, noErrors, none, ofService, one, runSteps } from "./plan-helpers";
import { planHosts } from "../../src/plan/hosts";
import type { ClusterPlan } from "../../src/plan/types";

type HaIn = NonNullable<InventoryInput["haproxy"]>;
const vrrp = { instances: [{ name: "lb", vip: "10.0.0.100/24", routerId: 51, hosts: ["h1", "h2"] }] };
const base: HaIn = {
  frontends: [{ name: "db", bind: ":3306", backend: "galera" }],
  backends: [
    {
      name: "galera",
      stickTable: true,
      servers: [
        { host: "h3", port: 3306 },
        { host: "h4", port: 3306 },
      ],
    },
  ],
};
const hp = (haproxy: HaIn, extra: Partial<InventoryInput> = { keepalived: vrrp }) => {
  const r = runSteps({ hosts: hosts(4), haproxy, ...extra });
  return { ...r, findings: ofService(r.findings, "haproxy.") };
};

describe("haproxy plan", () => {
  it("hosts default to the first keepalived instance; binds default to its VIP; servers at internal addresses", () => {
    const { plan, findings, roles } = hp(base);
    assert.deepEqual(findings, []);
    const p = plan.haproxy!;
    assert.deepEqual(p.hosts, ["h1", "h2"]);
    assert.deepEqual(p.frontends, [{ name: "db", bind: "10.0.0.100:3306", mode: "tcp", backend: "galera" }]);
    assert.deepEqual(p.backends[0]!.servers, [
      { name: "h3", host: "h3", address: "10.0.0.13", port: 3306 },
      { name: "h4", host: "h4", address: "10.0.0.14", port: 3306 },
    ]);
    assert.deepEqual(roles.get("h1"), ["keepalived", "haproxy"]);
    // Backups before the VIP holder.
    assert.deepEqual(
      plan.rollingGroups!.find((g) => g.id === "haproxy"),
      { id: "haproxy", service: "haproxy", hosts: ["h2", "h1"], maxUnavailable: 1 },
    );
  });

  it("internalAddress wins for servers; explicit binds are kept; a host serving two ports gets port-suffixed names", () => {
    const h = hosts(4).map((x) => (x.name === "h3" ? { ...x, internalAddress: "172.16.0.13" } : x));
    const r = runSteps({
      hosts: h,
      keepalived: vrrp,
      haproxy: {
        ...base,
        frontends: [{ name: "db", bind: "*:3306", backend: "galera" }],
        backends: [
          {
            name: "galera",
            servers: [
              { host: "h3", port: 3306 },
              { host: "h3", port: 3307 },
            ],
          },
        ],
      },
    });
    noErrors(r.findings, "haproxy.");
    assert.equal(r.plan.haproxy!.frontends[0]!.bind, "*:3306");
    assert.deepEqual(
      r.plan.haproxy!.backends[0]!.servers.map((s) => [s.name, s.address]),
      [
        ["h3-3306", "172.16.0.13"],
        ["h3-3307", "172.16.0.13"],
      ],
    );
  });

  it("without keepalived and without hosts: an error", () => {
    const f = one(hp(base, {}).findings, "haproxy.no-hosts");
    assert.equal(f.path, "haproxy.hosts");
    noErrors(hp({ ...base, hosts: ["h1"] }, {}).findings);
    assert.equal(hp({ ...base, hosts: ["h1"] }, {}).plan.haproxy!.frontends[0]!.bind, "*:3306");
  });

  it("frontends reference existing backends", () => {
    const f = one(hp({ ...base, frontends: [{ name: "db", bind: ":3306", backend: "mysql" }] }).findings, "haproxy.unknown-backend");
    assert.equal(f.path, "haproxy.frontends[0].backend");
    assert.match(f.message, /backend 'mysql', which is not defined \(backends: 'galera'\)/);
  });

  it("an http frontend on a tcp backend is an error (haproxy -c refuses it); tcp on http is HAProxy's upgrade", () => {
    const f = one(
      hp({ ...base, frontends: [{ name: "db", bind: ":3306", mode: "http", backend: "galera" }] }).findings,
      "haproxy.mode-mismatch",
    );
    assert.equal(f.path, "haproxy.frontends[0].mode");
    assert.match(f.message, /'http' but its backend 'galera' is `mode` 'tcp'/);
    none(hp({ ...base, backends: [{ ...base.backends![0]!, mode: "http" }] }).findings, "haproxy.mode-mismatch");
  });

  it("servers name inventory hosts", () => {
    const f = one(
      hp({
        ...base,
        backends: [
          {
            name: "galera",
            servers: [
              { host: "h3", port: 3306 },
              { host: "db9", port: 3306 },
            ],
          },
        ],
      }).findings,
      "haproxy.unknown-server-host",
    );
    assert.equal(f.path, "haproxy.backends[0].servers[1].host");
    one(
      hp({
        ...base,
        backends: [
          {
            name: "galera",
            servers: [
              { host: "h3", port: 3306 },
              { host: "h3", port: 3306 },
            ],
          },
        ],
      }).findings,
      "haproxy.duplicate-server",
    );
  });

  it("a stick-table backend needs 2 or more servers", () => {
    const f = one(
      hp({ ...base, backends: [{ name: "galera", stickTable: true, servers: [{ host: "h3", port: 3306 }] }] }).findings,
      "haproxy.stick-table-single-server",
    );
    assert.equal(f.path, "haproxy.backends[0].servers");
    none(hp(base).findings, "haproxy.stick-table-single-server");
  });

  it("bind ports do not collide on the same address (a wildcard collides with every address)", () => {
    const be = {
      name: "web",
      servers: [
        { host: "h3", port: 80 },
        { host: "h4", port: 80 },
      ],
    };
    const same = one(
      hp({ ...base, frontends: [...base.frontends!, { name: "x", bind: "10.0.0.100:3306", backend: "galera" }] }).findings,
      "haproxy.bind-collision",
    );
    assert.equal(same.path, "haproxy.frontends[1].bind");
    assert.match(same.message, /frontend 'x' binds '10.0.0.100:3306', which collides with frontend 'db' on '10.0.0.100:3306'/);
    one(
      hp({
        ...base,
        backends: [...base.backends!, be],
        frontends: [
          { name: "a", bind: "*:80", backend: "web" },
          { name: "b", bind: "10.0.0.100:80", backend: "web" },
        ],
      }).findings,
      "haproxy.bind-collision",
    );
    noErrors(
      hp({
        ...base,
        backends: [...base.backends!, be],
        frontends: [
          { name: "a", bind: "10.0.0.100:80", backend: "web" },
          { name: "b", bind: "10.0.0.101:80", backend: "web" },
        ],
      }).findings,
    );
    assert.equal(one(hp({ ...base, stats: { bind: ":3306" } }).findings, "haproxy.bind-collision").path, "haproxy.stats.bind");
  });

  it("a '*:PORT' bind on a host that serves that port is an error; VIP:PORT only a reminder", () => {
    const f = hp({ hosts: ["h3", "h4"], ...base, frontends: [{ name: "db", bind: "*:3306", backend: "galera" }] }).findings.filter(
      (x) => x.code === "haproxy.bind-collides-with-server",
    );
    assert.deepEqual(
      f.map((x) => x.severity),
      ["error", "error"],
    );
    assert.match(f[0]!.message, /binds '\*:3306' on host 'h3'/);
    const w = one(
      hp({ hosts: ["h3", "h4"], ...base, frontends: [{ name: "db", bind: "10.0.0.100:3306", backend: "galera" }] }).findings,
      "haproxy.bind-may-collide-with-server",
    );
    assert.equal(w.severity, "warning");
  });

  it("malformed binds are an error", () => {
    // The schema's `listen address` kind rejects them before the plan, at the same path.
    assert.equal(
      one(hp({ ...base, frontends: [{ name: "db", bind: "10.0.0.100", backend: "galera" }] }).findings, "schema.invalid").path,
      "haproxy.frontends[0].bind",
    );
    one(hp({ ...base, frontends: [{ name: "db", bind: "*:70000", backend: "galera" }] }).findings, "schema.invalid");
  });

  it("binding an address that no VIP manager owns warns; the VIP moving to a host without HAProxy warns", () => {
    one(hp({ ...base, frontends: [{ name: "db", bind: "10.0.0.55:3306", backend: "galera" }] }).findings, "haproxy.bind-address-unknown");
    const w = one(hp({ ...base, hosts: ["h1"] }).findings, "haproxy.vip-holder-without-haproxy");
    assert.match(w.message, /VIP '10.0.0.100' to 'h2'/);
  });

  it("checkPort is carried to the plan", () => {
    const { plan } = hp({ ...base, backends: [{ ...base.backends![0]!, httpchk: "GET /", checkPort: 9200 }] });
    assert.equal(plan.haproxy!.backends[0]!.checkPort, 9200);
    assert.equal(plan.haproxy!.backends[0]!.httpchk, "GET /");
  });

  it("a backend of Patroni members at PostgreSQL's port, or a single-active one, cuts the sessions of a server marked down; no other does", () => {
    // Before: only stickTable backends had `on-marked-down shutdown-sessions`, so the clients of a
    // demoted Patroni leader stayed connected to it (the property failed on the Patroni case).
    const server = fc.record({ host: fc.constantFrom("h1", "h2", "h3", "h4"), port: fc.constantFrom(5432, 5433, 5672) });
    fc.assert(
      fc.property(
        fc.record({
          engine: fc.constantFrom("patroni" as const, "stolon" as const),
          nodes: fc.subarray(["h1", "h2", "h3", "h4"], { minLength: 1 }),
          port: fc.constantFrom(5432, 5433),
          servers: fc.uniqueArray(server, { minLength: 1, maxLength: 4, selector: (s) => `${s.host}:${s.port}` }),
          stickTable: fc.boolean(),
          // Half the cases: a backend over exactly the nodes at PostgreSQL's port (the lab's shape).
          overNodes: fc.boolean(),
        }),
        ({ engine, nodes, port, servers: drawn, stickTable, overNodes }) => {
          const servers = overNodes ? nodes.map((host) => ({ host, port })) : drawn;
          const doc: InventoryInput = {
            hosts: hosts(4),
            keepalived: vrrp,
            postgres: { engine, nodes, port },
            haproxy: { frontends: [{ name: "db", bind: ":5000", backend: "db" }], backends: [{ name: "db", stickTable, servers }] },
          };
          const { plan } = runSteps(doc);
          const patroni = engine === "patroni" && servers.every((s) => nodes.includes(s.host) && s.port === port);
          const want = stickTable || patroni;
          assert.equal(plan.haproxy!.backends[0]!.shutdownSessionsOnDown, want);
          const files = renderPart.render!({
            plan: { ...plan, hosts: [...planHosts(inventory(doc)).hosts.values()] } as ClusterPlan,
            secrets: {},
            materials: {},
            template: renderTemplate,
          }).files;
          const cfg = files.find((f) => f.host === "h1" && f.path === "/etc/haproxy/haproxy.cfg")!.content;
          assert.equal(/^ {4}default-server on-marked-down shutdown-sessions$/m.test(cfg), want);
        },
      ),
      { numRuns: 60 },
    );
  });
});
