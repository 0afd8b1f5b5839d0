/**
 * The plan rules against the real daemons' verdicts: for each case, the plan's error and the
 * daemon's refusal must agree (an error the daemon accepts, or a config the daemon refuses with no
 * plan error, fails the test). The configs here are minimal writers of our own, kept apart from the
 * renderers on purpose: this checks the RULES, not the templates.
 *
 * corosync -t -c (rc 0 / 8), crm_verify --xml-file (rc 0 / 78), haproxy -c (rc 0 / 1) and
 * keepalived -t (rc 0 / 5, in a network namespace with a veth named like the instance's interface:
 * keepalived refuses loopback and missing interfaces). A missing binary skips its cases.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Finding } from "../../src/core/findings";
import type { InventoryInput } from "../../src/inventory/schema";
import type { HaproxyPlan, KeepalivedInstancePlan, PacemakerClusterPlan } from "../../src/plan/types";
import { runSteps } from "./plan-helpers";

const which = (bin: string): boolean => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
};

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "haforge-plan-verdicts-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const has = (findings: readonly Finding[], codes: readonly string[]) =>
  findings.some((f) => f.severity === "error" && codes.includes(f.code));

// ---------------------------------------------------------------------------------------------
// Corosync: links, transports, crypto.

type ClusterIn = NonNullable<NonNullable<InventoryInput["pacemaker"]>["clusters"]>[number];
const COROSYNC_RULES = [
  "pacemaker.too-many-links",
  "pacemaker.link-count-mismatch",
  "pacemaker.crypto-cipher-needs-hash",
  "pacemaker.crypto-needs-knet",
];

/** Node 1's links are on loopback so `corosync -t` finds the local node; the others are remote. */
const addrs = (links: number, node: number) => Array.from({ length: links }, (_, l) => (node === 1 ? `127.0.${l}.1` : `10.9.${l}.${node}`));
const csCluster = (links: number[], over: Partial<ClusterIn> = {}): ClusterIn => ({
  name: "cs",
  nodes: links.map((k, i) => ({ host: `n${i + 1}`, addrs: addrs(k, i + 1) })),
  properties: { "stonith-enabled": false },
  ...over,
});

function corosyncConf(c: PacemakerClusterPlan, keyfile: string): string {
  const links = Math.max(...c.nodes.map((n) => n.addrs.length));
  return [
    "totem {",
    "  version: 2",
    `  cluster_name: ${c.name}`,
    `  transport: ${c.spec.transport}`,
    `  crypto_cipher: ${c.spec.crypto.cipher}`,
    `  crypto_hash: ${c.spec.crypto.hash}`,
    `  keyfile: ${keyfile}`,
    ...Array.from({ length: links }, (_, l) => `  interface {\n    linknumber: ${l}\n  }`),
    "}",
    "nodelist {",
    ...c.nodes.map((n) =>
      ["  node {", `    nodeid: ${n.nodeid}`, `    name: ${n.host}`, ...n.addrs.map((a, l) => `    ring${l}_addr: ${a}`), "  }"].join("\n"),
    ),
    "}",
    "quorum {",
    "  provider: corosync_votequorum",
    ...(c.quorum.twoNode ? ["  two_node: 1"] : []),
    "}",
    "logging {",
    "  to_stderr: yes",
    "}",
    "",
  ].join("\n");
}

describe("plan vs corosync -t", { skip: !which("corosync") && "corosync not installed" }, () => {
  const cases: [string, ClusterIn][] = [
    ["knet, 1 link, aes256/sha256", csCluster([1, 1, 1])],
    ["knet, 8 links", csCluster([8, 8, 8])],
    ["knet, 9 links", csCluster([9, 9, 9])],
    ["knet, links 2/2/1", csCluster([2, 2, 1])],
    ["udpu, 1 link, no crypto", csCluster([1, 1, 1], { transport: "udpu", crypto: { cipher: "none", hash: "none" } })],
    ["udpu, 2 links, no crypto", csCluster([2, 2, 2], { transport: "udpu", crypto: { cipher: "none", hash: "none" } })],
    ["udp, 1 link, default crypto", csCluster([1, 1, 1], { transport: "udp" })],
    ["udpu, hash only", csCluster([1, 1, 1], { transport: "udpu", crypto: { cipher: "none", hash: "sha256" } })],
    ["knet, cipher without hash", csCluster([1, 1, 1], { crypto: { cipher: "aes256", hash: "none" } })],
    ["knet, no crypto", csCluster([1, 1, 1], { crypto: { cipher: "none", hash: "none" } })],
  ];
  for (const [name, cluster] of cases) {
    it(name, () => {
      const hosts = (cluster.nodes ?? []).map((_, i) => ({ name: `n${i + 1}`, address: `10.9.0.${i + 1}` }));
      const { plan, findings } = runSteps({ hosts, pacemaker: { clusters: [cluster] } });
      const keyfile = join(dir, "authkey");
      writeFileSync(keyfile, randomBytes(256), { mode: 0o400 });
      const file = join(dir, `corosync-${name.replace(/\W+/g, "-")}.conf`);
      writeFileSync(file, corosyncConf(plan.pacemakerClusters![0]!, keyfile));
      const r = run("corosync", ["-t", "-c", file]);
      assert.ok(r.status === 0 || r.status === 8, `unexpected rc ${r.status}: ${r.out}`);
      const planSays = has(findings, COROSYNC_RULES);
      assert.equal(
        planSays,
        r.status !== 0,
        `plan ${planSays ? "rejects" : "accepts"} but corosync -t rc ${r.status}: ${r.out}\n${JSON.stringify(findings, null, 1)}`,
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Pacemaker CIB: fencing and id references.

const xmlAttr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

function cibXml(c: PacemakerClusterPlan): string {
  const spec = c.spec;
  const agent = (a: string) => {
    const [cls, p2, p3] = a.split(":");
    return p3 === undefined ? `class="${cls}" type="${p2}"` : `class="${cls}" provider="${p2}" type="${p3}"`;
  };
  const nv = (owner: string, kv: Record<string, unknown>) =>
    Object.entries(kv)
      .map(([k, v]) => `<nvpair id="${xmlAttr(`${owner}-${k}`)}" name="${xmlAttr(k)}" value="${xmlAttr(String(v))}"/>`)
      .join("");
  const primitive = (id: string, a: string, params: Record<string, unknown>) =>
    `<primitive id="${xmlAttr(id)}" ${agent(a)}>${Object.keys(params).length ? `<instance_attributes id="${xmlAttr(id)}-ia">${nv(id, params)}</instance_attributes>` : ""}</primitive>`;
  const cloned = new Map(spec.clones.map((cl) => [cl.resource, cl]));
  const resources = [
    ...spec.fencing.map((f) =>
      primitive(f.id, `stonith:${f.agent}`, { ...f.params, ...(f.hosts.length ? { pcmk_host_list: f.hosts.join(",") } : {}) }),
    ),
    ...spec.primitives.map((p) => {
      const xml = primitive(p.id, p.agent, p.params);
      const cl = cloned.get(p.id);
      return cl ? `<clone id="${xmlAttr(cl.id)}">${xml}</clone>` : xml;
    }),
  ];
  const props = Object.entries(spec.properties).map(
    ([k, v]) => `<nvpair id="opt-${xmlAttr(k)}" name="${xmlAttr(k)}" value="${xmlAttr(String(v))}"/>`,
  );
  const cons = [
    ...spec.constraints.location.map(
      (l) => `<rsc_location id="${xmlAttr(l.id)}" rsc="${xmlAttr(l.resource)}" node="${xmlAttr(l.node)}" score="${l.score}"/>`,
    ),
    ...spec.constraints.colocation.map(
      (l) => `<rsc_colocation id="${xmlAttr(l.id)}" rsc="${xmlAttr(l.resource)}" with-rsc="${xmlAttr(l.with)}" score="${l.score}"/>`,
    ),
    ...spec.constraints.order.map(
      (o) => `<rsc_order id="${xmlAttr(o.id)}" first="${xmlAttr(o.first)}" then="${xmlAttr(o.then)}" kind="${o.kind}"/>`,
    ),
  ];
  return [
    // have-quorum and online node states: with an empty status crm_verify only sees unclean,
    // unfenceable nodes and warns (rc 78) whatever the configuration.
    `<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">`,
    "<configuration>",
    `<crm_config><cluster_property_set id="cib-bootstrap-options">${props.join("")}</cluster_property_set></crm_config>`,
    `<nodes>${c.nodes.map((n) => `<node id="${n.nodeid}" uname="${xmlAttr(n.host)}"/>`).join("")}</nodes>`,
    `<resources>${resources.join("")}</resources>`,
    `<constraints>${cons.join("")}</constraints>`,
    "</configuration>",
    `<status>${c.nodes.map((n) => `<node_state id="${n.nodeid}" uname="${xmlAttr(n.host)}" in_ccm="true" crmd="online" join="member" expected="member"/>`).join("")}</status>`,
    "</cib>",
    "",
  ].join("\n");
}

const CIB_RULES = ["pacemaker.no-fencing", "pacemaker.unknown-resource", "pacemaker.duplicate-id"];

describe("plan vs crm_verify", { skip: !which("crm_verify") && "crm_verify not installed" }, () => {
  const base = (over: Partial<ClusterIn>): ClusterIn => ({
    name: "c",
    nodes: ["n1", "n2", "n3"],
    primitives: [{ id: "vip", agent: "ocf:heartbeat:IPaddr2", params: { ip: "10.9.0.100", cidr_netmask: 24 } }],
    ...over,
  });
  const fence = [{ id: "fence-all", agent: "fence_dummy", params: {}, hosts: ["n1", "n2", "n3"] }];
  const cases: [string, ClusterIn][] = [
    ["stonith-enabled unset, no fencing device", base({})],
    ["stonith-enabled true, no fencing device", base({ properties: { "stonith-enabled": true } })],
    ["stonith disabled, no device", base({ properties: { "stonith-enabled": false } })],
    ["fencing device present", base({ fencing: fence })],
    [
      "constraint on an unknown resource",
      base({ fencing: fence, constraints: { location: [{ id: "l1", resource: "nope", node: "n1" }], colocation: [], order: [] } }),
    ],
    [
      "order on an unknown resource",
      base({ fencing: fence, constraints: { location: [], colocation: [], order: [{ id: "o1", first: "vip", then: "ghost" }] } }),
    ],
    [
      "a constraint id equal to a resource id",
      base({ fencing: fence, constraints: { location: [{ id: "vip", resource: "vip", node: "n1" }], colocation: [], order: [] } }),
    ],
    [
      "a clone with colocation and order",
      base({
        fencing: fence,
        primitives: [
          { id: "vip", agent: "ocf:heartbeat:IPaddr2", params: { ip: "10.9.0.100" } },
          { id: "web", agent: "ocf:heartbeat:apache" },
        ],
        clones: [{ id: "web-clone", resource: "web" }],
        constraints: {
          location: [],
          colocation: [{ id: "vip-with-web", resource: "vip", with: "web-clone" }],
          order: [{ id: "web-then-vip", first: "web-clone", then: "vip" }],
        },
      }),
    ],
  ];
  for (const [name, cluster] of cases) {
    it(name, () => {
      const hosts = ["n1", "n2", "n3"].map((n, i) => ({
        name: n,
        address: `10.9.0.${i + 1}`,
        interfaces: [{ name: "eth0", address: `10.9.0.${i + 1}/24` }],
      }));
      const { plan, findings } = runSteps({ hosts, pacemaker: { clusters: [cluster] } });
      const file = join(dir, `cib-${name.replace(/\W+/g, "-")}.xml`);
      writeFileSync(file, cibXml(plan.pacemakerClusters![0]!));
      const r = run("crm_verify", ["--xml-file", file]);
      const planSays = has(findings, CIB_RULES);
      assert.equal(
        planSays,
        r.status !== 0,
        `plan ${planSays ? "rejects" : "accepts"} but crm_verify rc ${r.status}: ${r.out}\n${JSON.stringify(findings, null, 1)}`,
      );
    });
  }

  it("a location constraint on a node outside the cluster: crm_verify accepts it, the plan does not", () => {
    const hosts = ["n1", "n2", "n3", "n4"].map((n, i) => ({ name: n, address: `10.9.0.${i + 1}` }));
    const { plan, findings } = runSteps({
      hosts,
      pacemaker: {
        clusters: [
          base({ fencing: fence, constraints: { location: [{ id: "l1", resource: "vip", node: "n4" }], colocation: [], order: [] } }),
        ],
      },
    });
    const file = join(dir, "cib-foreign-node.xml");
    writeFileSync(file, cibXml(plan.pacemakerClusters![0]!));
    assert.equal(run("crm_verify", ["--xml-file", file]).status, 0);
    assert.ok(
      findings.some((f) => f.code === "pacemaker.unknown-node"),
      "the resource would silently never run there",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// HAProxy: backend references and modes.

function haproxyCfg(hp: HaproxyPlan): string {
  const lines = ["global", "  log stdout local0", "defaults", "  timeout connect 5s", "  timeout client 30s", "  timeout server 30s"];
  for (const f of hp.frontends) lines.push(`frontend ${f.name}`, `  bind ${f.bind}`, `  mode ${f.mode}`, `  default_backend ${f.backend}`);
  for (const b of hp.backends) {
    lines.push(`backend ${b.name}`, `  mode ${b.mode}`, `  balance ${b.balance}`);
    if (b.httpchk) lines.push(`  option httpchk ${b.httpchk}`);
    for (const s of b.servers) lines.push(`  server ${s.name} ${s.address}:${s.port} check${b.checkPort ? ` port ${b.checkPort}` : ""}`);
  }
  return lines.join("\n") + "\n";
}

describe("plan vs haproxy -c", { skip: !which("haproxy") && "haproxy not installed" }, () => {
  type HaIn = NonNullable<InventoryInput["haproxy"]>;
  const be = {
    name: "app",
    servers: [
      { host: "n1", port: 8080 },
      { host: "n2", port: 8080 },
    ],
  };
  const cases: [string, HaIn][] = [
    ["a valid tcp frontend/backend", { hosts: ["n3"], frontends: [{ name: "fe", bind: "*:18080", backend: "app" }], backends: [be] }],
    [
      "an http pair with a check port",
      {
        hosts: ["n3"],
        frontends: [{ name: "fe", bind: "*:18080", mode: "http", backend: "app" }],
        backends: [{ ...be, mode: "http", httpchk: "GET /", checkPort: 9200 }],
      },
    ],
    ["an unknown backend", { hosts: ["n3"], frontends: [{ name: "fe", bind: "*:18080", backend: "nope" }], backends: [be] }],
    [
      "http frontend on a tcp backend",
      { hosts: ["n3"], frontends: [{ name: "fe", bind: "*:18080", mode: "http", backend: "app" }], backends: [be] },
    ],
    [
      "tcp frontend on an http backend",
      { hosts: ["n3"], frontends: [{ name: "fe", bind: "*:18080", backend: "app" }], backends: [{ ...be, mode: "http" }] },
    ],
  ];
  for (const [name, haproxy] of cases) {
    it(name, () => {
      const hosts = ["n1", "n2", "n3"].map((n, i) => ({ name: n, address: `127.0.0.${i + 1}` }));
      const { plan, findings } = runSteps({ hosts, haproxy });
      const file = join(dir, `haproxy-${name.replace(/\W+/g, "-")}.cfg`);
      writeFileSync(file, haproxyCfg(plan.haproxy!));
      const r = run("haproxy", ["-c", "-f", file]);
      const planSays = has(findings, ["haproxy.unknown-backend", "haproxy.mode-mismatch"]);
      assert.equal(planSays, r.status !== 0, `plan ${planSays ? "rejects" : "accepts"} but haproxy -c rc ${r.status}: ${r.out}`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// keepalived: one VRID per interface on a host.

function keepalivedConf(instances: readonly KeepalivedInstancePlan[], host: string): string {
  const out: string[] = [];
  for (const i of instances) {
    const me = i.members.find((m) => m.host === host);
    if (!me) continue;
    out.push(
      `vrrp_instance ${i.name} {`,
      `  state ${me.state}`,
      `  interface ${i.interface}`,
      `  virtual_router_id ${i.routerId}`,
      `  priority ${me.priority}`,
      `  advert_int ${i.advertInt}`,
      `  virtual_ipaddress {`,
      `    ${i.vip}/${i.prefix}`,
      `  }`,
      `}`,
    );
  }
  return out.join("\n") + "\n";
}

const canNetns = process.getuid?.() === 0 && which("ip") && which("keepalived");

describe("plan vs keepalived -t", { skip: !canNetns && "needs root, ip and keepalived" }, () => {
  const ns = `hfplan${process.pid}`;
  before(() => {
    // Our own namespace with a veth named like the instances' interface; nothing leaves it.
    assert.equal(run("ip", ["netns", "add", ns]).status, 0);
    assert.equal(run("ip", ["-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]).status, 0);
    run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
    run("ip", ["-n", ns, "link", "set", "eth0p", "up"]);
    run("ip", ["-n", ns, "addr", "add", "10.9.0.1/24", "dev", "eth0"]);
  });
  after(() => {
    run("ip", ["netns", "del", ns]);
  });

  type InstIn = NonNullable<NonNullable<InventoryInput["keepalived"]>["instances"]>[number];
  const inst = (over: Partial<InstIn>): InstIn => ({ name: "a", vip: "10.9.0.100/24", routerId: 51, hosts: ["n1", "n2"], ...over });
  const cases: [string, InstIn[]][] = [
    ["one instance", [inst({})]],
    ["two instances, distinct router ids", [inst({}), inst({ name: "b", vip: "10.9.0.101/24", routerId: 52 })]],
    ["two instances, same router id on one interface", [inst({}), inst({ name: "b", vip: "10.9.0.101/24" })]],
  ];
  for (const [name, instances] of cases) {
    it(name, () => {
      const hosts = ["n1", "n2"].map((n, i) => ({
        name: n,
        address: `10.9.0.${i + 1}`,
        interfaces: [{ name: "eth0", address: `10.9.0.${i + 1}/24` }],
      }));
      const { plan, findings } = runSteps({ hosts, keepalived: { instances } });
      const file = join(dir, `keepalived-${name.replace(/\W+/g, "-")}.conf`);
      writeFileSync(file, keepalivedConf(plan.keepalived!, "n1"));
      // keepalived -t exits 0 on a missing file (docs/lab.md): make sure it is there.
      assert.ok(existsSync(file));
      const r = run("ip", ["netns", "exec", ns, "keepalived", "-t", "-f", file]);
      const planSays = has(findings, ["keepalived.duplicate-router-id"]);
      assert.equal(planSays, r.status !== 0, `plan ${planSays ? "rejects" : "accepts"} but keepalived -t rc ${r.status}: ${r.out}`);
    });
  }
});
