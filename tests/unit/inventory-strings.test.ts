/**
 * Every inventory string has a kind (src/inventory/strings.ts) that says what it may be; values
 * outside it are `schema.invalid` findings at the field's path, never rendered.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { inventoryJsonSchema } from "../../src/inventory/json-schema";
import { parseInventoryText } from "../../src/inventory/load";
import * as k from "../../src/inventory/strings";

type Json = { [k: string]: unknown };

/** Every string-typed leaf of the JSON Schema, with its path. */
function stringLeaves(node: unknown, path: string, out: { path: string; schema: Json }[], seen = new Set<unknown>()): void {
  if (!node || typeof node !== "object" || seen.has(node)) return;
  seen.add(node);
  const s = node as Json;
  if (s.type === "string" && s.enum === undefined && s.const === undefined) out.push({ path, schema: s });
  for (const [key, v] of Object.entries(s)) {
    if (key === "properties") for (const [p, c] of Object.entries(v as Json)) stringLeaves(c, `${path}.${p}`, out, seen);
    else if (key === "items") stringLeaves(v, `${path}[]`, out, seen);
    else if (key === "additionalProperties") stringLeaves(v, `${path}{}`, out, seen);
    else if (key === "propertyNames") stringLeaves(v, `${path}{key}`, out, seen);
    else if (key === "anyOf" || key === "oneOf") (v as unknown[]).forEach((c) => stringLeaves(c, path, out, seen));
  }
}

const PAYLOADS = ["a\nb", "a\rb", "a\u0000b", "x\u2028y", "\ttab"];
const SHELLISH = ["a;touch /tmp/x", "$(id)", "`id`", "a b", "a'b", 'a"b', "../../etc/x", "a/b", "a\\b", "a#b"];

describe("inventory string kinds", () => {
  it("every string field of the schema has a kind (a JSON Schema title), except secret literals", () => {
    const leaves: { path: string; schema: Json }[] = [];
    stringLeaves(inventoryJsonSchema(), "", leaves);
    assert.ok(leaves.length > 80, `only ${leaves.length} string fields found`);
    const untyped = leaves.filter((l) => l.schema.title === undefined && !l.path.endsWith(".value"));
    assert.deepEqual(
      untyped.map((l) => l.path),
      [],
    );
  });

  it("no kind but free text, command lines and local paths accepts shell, quote, path or space characters", () => {
    const strict = [
      k.identifier,
      k.hostName,
      k.xmlId,
      k.unitName,
      k.serviceUnit,
      k.clusterId,
      k.interfaceName,
      k.userName,
      k.envName,
      k.configKey,
      k.secretName,
      k.k8sLabel,
      k.k8sName,
      k.imageRef,
      k.ipAddress,
      k.address,
      k.connectAddress,
      k.cidr,
      k.duration,
      k.pcmkAgent,
      k.fenceAgent,
      k.httpCheck,
      k.url,
      k.bindAddress,
    ];
    for (const kind of strict)
      for (const p of [...SHELLISH.filter((x) => !x.includes("/") || kind !== k.imageRef), ...PAYLOADS])
        assert.equal(kind.safeParse(p).success, false, `${kind.meta()?.title} accepted ${JSON.stringify(p)}`);
  });

  it("property: a control character anywhere is rejected by every kind (free text included)", () => {
    const all = Object.entries(k).filter(([, v]) => typeof v === "object" && v !== null && "safeParse" in v) as [
      string,
      { safeParse(x: unknown): { success: boolean } },
    ][];
    all.push(["freeText", k.freeText()]);
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        fc.string({ maxLength: 20 }),
        fc.integer({ min: 0, max: 0x9f }).filter((c) => c < 0x20 || c >= 0x7f),
        fc.string({ maxLength: 20 }),
        ([name, kind], a, c, b) => {
          const s = `${a}${String.fromCharCode(c)}${b}`;
          assert.equal(kind.safeParse(s).success, false, `${name} accepted ${JSON.stringify(s)}`);
        },
      ),
      { numRuns: 500, seed: 13 },
    );
  });

  it("IPv4 is strict: four octets 0-255, and a dotted number is not a DNS name", () => {
    for (const bad of ["10.213.7.311", "256.1.1.1", "10.1.1", "010.1.1.1", "1.2.3.4.5", "10.0.0.1 "]) {
      assert.equal(k.ipAddress.safeParse(bad).success, false, bad);
      assert.equal(k.address.safeParse(bad).success, false, bad);
      assert.equal(k.cidr.safeParse(`${bad}/24`).success, false, bad);
    }
    for (const good of ["10.213.7.11", "0.0.0.0", "255.255.255.255", "fd00::1", "db1.example.com", "db-1", "x1"])
      assert.ok(k.address.safeParse(good).success, good);
    assert.ok(k.connectAddress.safeParse("fe80::1%eth0").success);
    assert.equal(k.address.safeParse("fe80::1%eth0").success, false, "a zone never reaches a config");
    assert.equal(k.cidr.safeParse("10.0.0.1/33").success, false);
    assert.ok(k.cidr.safeParse("fd00::1/128").success);
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.integer({ min: 0, max: 32 }),
        (ip, p) => k.address.safeParse(ip).success && k.cidr.safeParse(`${ip}/${p}`).success,
      ),
    );
    fc.assert(fc.property(fc.ipV6(), (ip) => k.ipAddress.safeParse(ip).success));
  });

  it("durations, paths, unit names, URLs and binds", () => {
    for (const bad of ["2 fortnights", "soon", "1.5s", "-1s", "10 s", ""]) assert.equal(k.duration.safeParse(bad).success, false, bad);
    for (const good of ["0", "0s", "10s", "500ms", "2m", "1h"]) assert.ok(k.duration.safeParse(good).success, good);
    for (const bad of ["..", "../x", "a/../b", "x.service", ".hidden", "-x", "a/b", "a b"])
      assert.equal(k.unitName.safeParse(bad).success, false, bad);
    for (const bad of ["..", "../x", "a/../b", ".hidden", "a/b"]) assert.equal(k.serviceUnit.safeParse(bad).success, false, bad);
    assert.ok(k.serviceUnit.safeParse("openstack-glance-api.service").success);
    assert.ok(k.clusterId.safeParse("8c:ec:4b:ea:d9:fe").success);
    for (const good of ["dr-provision", "openstack-nova-api", "getty@tty1", "a.b"]) assert.ok(k.unitName.safeParse(good).success, good);
    for (const bad of ["..", ".", "a..b", "-a", "a-", "a/b", "a b"]) assert.equal(k.hostName.safeParse(bad).success, false, bad);
    for (const bad of ["rel", "/", "/a/../b", "/a/./b", "/a//b", "/a$b"]) assert.equal(k.hostPath.safeParse(bad).success, false, bad);
    for (const good of ["/srv/lab-shared", "/srv/a/", "/opt/My Share"]) assert.ok(k.hostPath.safeParse(good).success, good);
    for (const bad of ["http://a:2379,http://b:2379", "ftp://a", "http://a b", 'http://a:2379/"x', "http://10.213.7.311:2379"])
      assert.equal(k.url.safeParse(bad).success, false, bad);
    for (const good of ["http://10.0.0.1:2379", "https://etcd.example.com:2379/", "http://[fd00::1]:2379"])
      assert.ok(k.url.safeParse(good).success, good);
    for (const bad of ["10.0.0.1", "*:70000", "a b:80", "10.0.0.1:80\nbind"])
      assert.equal(k.bindAddress.safeParse(bad).success, false, bad);
    for (const good of [":5000", "*:8404", "10.20.0.200:3306", "[::]:80", "lb.example.com:443"])
      assert.ok(k.bindAddress.safeParse(good).success, good);
    for (const bad of ["GET /\n    server rogue 1.2.3.4:80", "GET /a b", "GET /#x", "DELETE /"])
      assert.equal(k.httpCheck.safeParse(bad).success, false, bad);
    assert.ok(k.httpCheck.safeParse("GET /healthz").success);
    assert.equal(k.commandLine.safeParse("   ").success, false, "an empty track script always passes");
  });
});

describe("careless input through the loader", () => {
  const yaml = (body: string) =>
    parseInventoryText(`version: 1\nhosts:\n  - { name: h1, address: 10.0.0.1 }\n  - { name: h2, address: 10.0.0.2 }\n${body}`, "i.yaml");
  const invalidAt = (body: string, path: string) => {
    const r = yaml(body);
    assert.equal(r.inventory, undefined, `accepted: ${body}`);
    assert.ok(
      r.findings.some((f) => f.code === "schema.invalid" && f.path === path && f.severity === "error"),
      `${path}: ${JSON.stringify(r.findings)}`,
    );
  };

  it("the issue's examples are findings at their path", () => {
    invalidAt("postgres: { nodes: [h1], ttl: -5 }", "postgres.ttl");
    invalidAt(
      "haproxy: { backends: [{ name: b, servers: [{ host: h1, port: 80 }], checkInterval: 2 fortnights }] }",
      "haproxy.backends[0].checkInterval",
    );
    invalidAt(
      "pacemaker: { clusters: [{ name: c, nodes: [h1, h2], primitives: [{ id: p, agent: 'ocf:heartbeat:Dummy', ops: [{ name: monitor, interval: soon }] }] }] }",
      "pacemaker.clusters[0].primitives[0].ops[0].interval",
    );
    invalidAt(
      "keepalived: { instances: [{ name: k, vip: 10.0.0.100/24, routerId: 1, hosts: [h1, h2], track: [{ name: t, script: '' }] }] }",
      "keepalived.instances[0].track[0].script",
    );
    const r = parseInventoryText("version: 1\nhosts:\n  - { name: h1, address: 10.213.7.311 }\n", "i.yaml");
    assert.ok(r.findings.some((f) => f.code === "schema.invalid" && f.path === "hosts[0].address"));
  });

  it("newline and shell payloads in the fields the issue names are findings", () => {
    invalidAt(
      'haproxy: { backends: [{ name: b, servers: [{ host: h1, port: 80 }], httpchk: "GET /\\n    server rogue 10.9.9.9:80" }] }',
      "haproxy.backends[0].httpchk",
    );
    invalidAt(
      'haproxy: { backends: [{ name: b, servers: [{ host: h1, port: 80 }], checkInterval: "1s\\n    server rogue 10.9.9.9:80" }] }',
      "haproxy.backends[0].checkInterval",
    );
    invalidAt('haproxy: { stats: { bind: "*:8404", user: "admin\\n  stats admin if TRUE" } }', "haproxy.stats.user");
    invalidAt(
      'pacemaker: { clusters: [{ name: c, nodes: [h1, { host: h2, addrs: ["10.0.0.2\\n  }\\n  node {\\n    nodeid: 9"] }] }] }',
      "pacemaker.clusters[0].nodes[1].addrs[0]",
    );
    invalidAt(
      'activePassive: [{ name: a, hosts: [h1, h2], vip: 10.0.0.50/24, haId: "x\\nExecStartPre=/bin/touch /tmp/pwned", token: { secret: t } }]',
      "activePassive[0].haId",
    );
    invalidAt(
      'activePassive: [{ name: a, service: "x; touch /tmp/pwned", hosts: [h1, h2], vip: 10.0.0.50/24, haId: x, token: { secret: t } }]',
      "activePassive[0].service",
    );
    invalidAt(
      'activePassive: [{ name: a, service: "../../../tmp/x", hosts: [h1, h2], vip: 10.0.0.50/24, haId: x, token: { secret: t } }]',
      "activePassive[0].service",
    );
    invalidAt(
      'activePassive: [{ name: a, interface: "eth0$(touch /tmp/pwned)", hosts: [h1, h2], vip: 10.0.0.50/24, haId: x, token: { secret: t } }]',
      "activePassive[0].interface",
    );
    invalidAt('quorumStore: { kind: etcd, members: [h1], token: "t\\ninitial-cluster-state: existing" }', "quorumStore.token");
    invalidAt('postgres: { nodes: [h1], store: { endpoints: ["http://10.0.0.1:2379\\n  x: y"] } }', "postgres.store.endpoints[0]");
    invalidAt(
      'keepalived: { instances: [{ name: k, vip: 10.0.0.100/24, routerId: 1, interface: "eth0\\n}", hosts: [h1, h2] }] }',
      "keepalived.instances[0].interface",
    );
    invalidAt('syncthing: { folders: [{ id: f, path: "/srv/a\\"/><folder id=\\"x", hosts: [h1, h2] }] }', "syncthing.folders[0].path");
    invalidAt(
      'pacemaker: { layout: lightweight, clusters: [{ name: c, nodes: [h1, h2], lightweight: { systemdServices: ["../../../../tmp/x"] } }] }',
      "pacemaker.clusters[0].lightweight.systemdServices[0]",
    );
    const dotdot = parseInventoryText("version: 1\nhosts:\n  - { name: '..', address: 10.0.0.1 }\n", "i.yaml");
    assert.ok(dotdot.findings.some((f) => f.code === "schema.invalid" && f.path === "hosts[0].name"));
  });
});
