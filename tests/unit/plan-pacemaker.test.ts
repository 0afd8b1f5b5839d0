import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InventoryInput } from "../../src/inventory/schema";
import { hosts, names, noErrors, none, ofService, one, runSteps } from "./plan-helpers";

type ClusterIn = NonNullable<NonNullable<InventoryInput["pacemaker"]>["clusters"]>[number];

/** A cluster of h1..hn with one fencing device covering every node. */
const cluster = (n: number, over: Partial<ClusterIn> = {}): ClusterIn => ({
  name: "db",
  nodes: names(n),
  fencing: [{ id: "fence-all", agent: "fence_ipmilan", params: { ip: "192.0.2.1", username: "admin" }, hosts: names(n) }],
  ...over,
});
const inv = (clusters: ClusterIn[], extra: Partial<InventoryInput> = {}, nHosts = 3): InventoryInput => ({
  hosts: hosts(nHosts),
  pacemaker: { clusters },
  ...extra,
});
const pcmk = (doc: InventoryInput) => {
  const r = runSteps(doc);
  return { ...r, findings: ofService(r.findings, "pacemaker.") };
};

describe("pacemaker plan: membership and quorum", () => {
  it("plans a 3-node fenced cluster: nodeids 1..n, addrs = internal address, votequorum math, roles, rolling group", () => {
    const { plan, findings, roles } = pcmk(inv([cluster(3)]));
    assert.deepEqual(findings, []);
    const c = plan.pacemakerClusters![0]!;
    assert.deepEqual(c.nodes, [
      { host: "h1", nodeid: 1, addrs: ["10.0.0.11"] },
      { host: "h2", nodeid: 2, addrs: ["10.0.0.12"] },
      { host: "h3", nodeid: 3, addrs: ["10.0.0.13"] },
    ]);
    assert.deepEqual(c.quorum, {
      expectedVotes: 3,
      quorum: 2,
      failuresTolerated: 1,
      twoNode: false,
      waitForAll: false,
      lastManStanding: false,
      autoTieBreaker: false,
    });
    assert.equal(c.stonithEnabled, true);
    assert.deepEqual(roles.get("h2"), ["pacemaker:db"]);
    const g = plan.rollingGroups!.find((x) => x.id === "pacemaker:db")!;
    assert.deepEqual(g, {
      id: "pacemaker:db",
      service: "pacemaker",
      hosts: ["h1", "h2", "h3"],
      maxUnavailable: 1,
      quorum: { expectedVotes: 3, quorum: 2, failuresTolerated: 1 },
    });
  });

  it("keeps explicit nodeids and gives the others the lowest free ids, in order", () => {
    const { plan, findings } = pcmk(
      inv([cluster(3, { nodes: [{ host: "h1", nodeid: 2 }, "h2", { host: "h3", addrs: ["10.0.0.13", "10.1.0.13"] }] })]),
    );
    assert.deepEqual(
      findings.map((f) => f.code),
      ["pacemaker.link-count-mismatch"],
    );
    assert.deepEqual(
      plan.pacemakerClusters![0]!.nodes.map((n) => [n.host, n.nodeid]),
      [
        ["h1", 2],
        ["h2", 1],
        ["h3", 3],
      ],
    );
    assert.deepEqual(plan.pacemakerClusters![0]!.nodes[2]!.addrs, ["10.0.0.13", "10.1.0.13"]);
  });

  it("rejects unknown hosts, duplicate nodes and duplicate nodeids, with their paths", () => {
    const { findings } = pcmk(inv([cluster(3, { nodes: ["h1", "h2", "h9", "h2", { host: "h3", nodeid: 1 }, { host: "h1", nodeid: 1 }] })]));
    assert.equal(one(findings, "pacemaker.unknown-host").path, "pacemaker.clusters[0].nodes[2]");
    assert.match(one(findings, "pacemaker.unknown-host").message, /'h9'/);
    const dups = findings.filter((f) => f.code === "pacemaker.duplicate-node").map((f) => f.path);
    assert.deepEqual(dups, ["pacemaker.clusters[0].nodes[3]", "pacemaker.clusters[0].nodes[5]"]);
    none(findings, "pacemaker.duplicate-nodeid"); // h1's second entry was dropped as a duplicate node
    const f2 = pcmk(inv([cluster(3, { nodes: [{ host: "h1", nodeid: 7 }, "h2", { host: "h3", nodeid: 7 }] })])).findings;
    const d = one(f2, "pacemaker.duplicate-nodeid");
    assert.equal(d.path, "pacemaker.clusters[0].nodes[2].nodeid");
    assert.match(d.message, /nodeid 7 of node 'h3'.*'h1'/);
  });

  it("2 nodes: an error without twoNode or qdevice", () => {
    const f = one(pcmk(inv([cluster(2)], {}, 2)).findings, "pacemaker.too-few-nodes");
    assert.equal(f.severity, "error");
    assert.equal(f.path, "pacemaker.clusters[0].nodes");
    assert.match(f.message, /cluster 'db' has 2 nodes/);
    assert.match(f.hint!, /twoNode/);
    assert.equal(one(pcmk(inv([cluster(0, { nodes: [] })])).findings, "pacemaker.too-few-nodes").severity, "error");
  });

  it("2 nodes with twoNode and fencing: quorum 1, wait_for_all forced on", () => {
    const { plan, findings } = pcmk(inv([cluster(2, { quorum: { twoNode: true, waitForAll: false } })], {}, 2));
    noErrors(findings);
    one(findings, "pacemaker.two-node-wait-for-all");
    const q = plan.pacemakerClusters![0]!.quorum;
    assert.deepEqual([q.expectedVotes, q.quorum, q.failuresTolerated, q.twoNode, q.waitForAll], [2, 1, 1, true, true]);
  });

  it("2 nodes with twoNode but no fencing device, or stonith off: an error", () => {
    const noDevice = pcmk(
      inv([cluster(2, { fencing: [], quorum: { twoNode: true }, properties: { "stonith-enabled": true } })], {}, 2),
    ).findings;
    assert.equal(one(noDevice, "pacemaker.two-node-needs-fencing").path, "pacemaker.clusters[0].quorum.twoNode");
    const off = pcmk(inv([cluster(2, { quorum: { twoNode: true }, properties: { "stonith-enabled": "false" } })], {}, 2)).findings;
    assert.match(one(off, "pacemaker.two-node-needs-fencing").message, /stonith-enabled` is false/);
  });

  it("twoNode with 3 nodes is an error", () => {
    const f = one(pcmk(inv([cluster(3, { quorum: { twoNode: true } })])).findings, "pacemaker.two-node-too-many-nodes");
    assert.equal(f.path, "pacemaker.clusters[0].quorum.twoNode");
    assert.match(f.message, /has 3 nodes/);
  });

  it("2 nodes with a qdevice: expected votes n+1; the qnetd host gets a role", () => {
    const { plan, findings, roles } = pcmk(inv([cluster(2, { quorum: { qdevice: { host: "h3" } } })]));
    noErrors(findings);
    none(findings, "pacemaker.even-nodes");
    const q = plan.pacemakerClusters![0]!.quorum;
    assert.deepEqual([q.expectedVotes, q.quorum, q.failuresTolerated], [3, 2, 1]);
    assert.deepEqual(q.qdevice, { host: "h3", algorithm: "ffsplit" });
    assert.deepEqual(roles.get("h3"), ["corosync-qnetd"]);
    // lms gives the device n-1 votes: one node that still sees qnetd stays quorate.
    const lms = pcmk(inv([cluster(3, { nodes: ["h1", "h2", "h3"], quorum: { qdevice: { host: "h4", algorithm: "lms" } } })], {}, 4)).plan
      .pacemakerClusters![0]!.quorum;
    assert.deepEqual([lms.expectedVotes, lms.quorum, lms.failuresTolerated], [5, 3, 2]);
  });

  it("qdevice is incompatible with auto_tie_breaker / last_man_standing and must not be a node", () => {
    const f = one(
      pcmk(inv([cluster(3, { quorum: { qdevice: { host: "h4" }, autoTieBreaker: true, lastManStanding: true } })], {}, 4)).findings,
      "pacemaker.qdevice-incompatible",
    );
    assert.match(f.message, /autoTieBreaker.*lastManStanding/);
    assert.equal(f.path, "pacemaker.clusters[0].quorum");
    one(pcmk(inv([cluster(3, { quorum: { qdevice: { host: "h2" } } })])).findings, "pacemaker.qdevice-on-node");
  });

  it("even counts warn, odd do not", () => {
    const even = one(pcmk(inv([cluster(4)], {}, 4)).findings, "pacemaker.even-nodes");
    assert.equal(even.severity, "warning");
    assert.match(even.message, /4 nodes/);
    none(pcmk(inv([cluster(5)], {}, 5)).findings, "pacemaker.even-nodes");
  });

  it("more than 16 nodes warn with the pacemaker_remote hint; more than 32 is an error; 16 is fine", () => {
    const big = one(pcmk(inv([cluster(17)], {}, 17)).findings, "pacemaker.large-cluster");
    assert.equal(big.severity, "warning");
    assert.match(big.hint!, /remoteNodes.*pacemaker_remote.*single-node clusters/);
    const huge = pcmk(inv([cluster(33)], {}, 33)).findings;
    assert.equal(one(huge, "pacemaker.too-many-nodes").severity, "error");
    none(huge, "pacemaker.large-cluster");
    const ok = pcmk(inv([cluster(16)], {}, 16)).findings;
    none(ok, "pacemaker.large-cluster");
    none(ok, "pacemaker.too-many-nodes");
  });

  it("a single node warns (no failover) and is flagged as a zero-tolerance rolling group", () => {
    const { findings, plan } = pcmk(inv([cluster(1)]));
    noErrors(findings);
    assert.equal(one(findings, "pacemaker.single-node").severity, "warning");
    assert.match(one(findings, "pacemaker.no-failure-tolerance").message, /tolerates 0 node failures/);
    assert.equal(plan.rollingGroups!.find((g) => g.id === "pacemaker:db")!.quorum!.failuresTolerated, 0);
    none(pcmk(inv([cluster(3)])).findings, "pacemaker.no-failure-tolerance");
  });

  it("remote nodes: inventory hosts, not members; they get the pacemaker-remote role", () => {
    const { plan, findings, roles } = pcmk(inv([cluster(3, { remoteNodes: ["h4"] })], {}, 4));
    noErrors(findings);
    assert.deepEqual(plan.pacemakerClusters![0]!.remoteNodes, ["h4"]);
    assert.deepEqual(roles.get("h4"), ["pacemaker-remote:db"]);
    one(pcmk(inv([cluster(3, { remoteNodes: ["h3"] })])).findings, "pacemaker.remote-node-is-member");
    assert.equal(
      one(pcmk(inv([cluster(3, { remoteNodes: ["nope"] })])).findings, "pacemaker.unknown-host").path,
      "pacemaker.clusters[0].remoteNodes[0]",
    );
  });
});

describe("pacemaker plan: fencing", () => {
  it("stonith-enabled unset with no fencing device is an error", () => {
    const f = one(pcmk(inv([cluster(3, { fencing: [] })])).findings, "pacemaker.no-fencing");
    assert.equal(f.severity, "error");
    assert.equal(f.path, "pacemaker.clusters[0].fencing");
    assert.match(f.message, /stonith-enabled` unset \(true\)/);
  });

  it("a stonith: primitive counts as a fencing device", () => {
    noErrors(pcmk(inv([cluster(3, { fencing: [], primitives: [{ id: "fence-virt", agent: "stonith:fence_virt" }] })])).findings);
  });

  it("stonith explicitly disabled is a warning, not an error", () => {
    const { findings, plan } = pcmk(inv([cluster(3, { fencing: [], properties: { "stonith-enabled": false } })]));
    noErrors(findings);
    const f = one(findings, "pacemaker.stonith-disabled");
    assert.equal(f.path, "pacemaker.clusters[0].properties.stonith-enabled");
    assert.equal(plan.pacemakerClusters![0]!.stonithEnabled, false);
  });

  it("stonith-enabled must be a Pacemaker boolean", () => {
    assert.match(
      one(pcmk(inv([cluster(3, { properties: { "stonith-enabled": "maybe" } })])).findings, "pacemaker.invalid-property").message,
      /'maybe'/,
    );
    noErrors(pcmk(inv([cluster(3, { properties: { "stonith-enabled": "yes" } })])).findings);
  });

  it("fencing devices fence cluster nodes; an unlisted node warns", () => {
    const f = pcmk(
      inv([
        cluster(3, {
          fencing: [
            { id: "f1", agent: "fence_ipmilan", hosts: ["h1"] },
            { id: "f2", agent: "fence_ipmilan", hosts: ["h2", "h7"] },
          ],
        }),
      ]),
    ).findings;
    assert.equal(one(f, "pacemaker.unknown-node").path, "pacemaker.clusters[0].fencing[1].hosts[1]");
    assert.match(one(f, "pacemaker.node-not-fenced").message, /'h3'/);
  });
});

describe("pacemaker plan: corosync transport", () => {
  const addrs = (k: number, n: number) => Array.from({ length: k }, (_, l) => `10.${l}.0.${n}`);
  const withLinks = (k: number, transport: "knet" | "udpu" | "udp" = "knet", extra: Partial<ClusterIn> = {}) =>
    cluster(3, { transport, nodes: [1, 2, 3].map((n) => ({ host: `h${n}`, addrs: addrs(k, n) })), ...extra });

  it("knet: 8 links are fine, 9 are an error", () => {
    noErrors(pcmk(inv([withLinks(8)])).findings);
    const f = pcmk(inv([withLinks(9)])).findings.filter((x) => x.code === "pacemaker.too-many-links");
    assert.equal(f.length, 3);
    assert.equal(f[0]!.path, "pacemaker.clusters[0].nodes[0].addrs");
    assert.match(f[0]!.message, /9 link addresses; `transport` 'knet' allows 8/);
  });

  it("udp/udpu carry exactly one link (and no crypto)", () => {
    noErrors(pcmk(inv([withLinks(1, "udpu", { crypto: { cipher: "none", hash: "none" } })])).findings);
    const f = pcmk(inv([withLinks(2, "udp", { crypto: { cipher: "none", hash: "none" } })])).findings;
    assert.match(f.find((x) => x.code === "pacemaker.too-many-links")!.message, /'udp' allows 1/);
  });

  it("every node has the same number of links", () => {
    const c = cluster(3, {
      nodes: [{ host: "h1", addrs: ["10.0.0.11", "10.1.0.11"] }, { host: "h2", addrs: ["10.0.0.12", "10.1.0.12"] }, "h3"],
    });
    const f = one(pcmk(inv([c])).findings, "pacemaker.link-count-mismatch");
    assert.equal(f.path, "pacemaker.clusters[0].nodes[2].addrs");
    assert.match(f.message, /'h3' .* 1 link\(s\) but node 'h1' has 2/);
  });

  it("a duplicate link address is caught (corosync -t does not)", () => {
    const c = cluster(3, { nodes: [{ host: "h1", addrs: ["10.0.0.11"] }, { host: "h2", addrs: ["10.0.0.11"] }, "h3"] });
    one(pcmk(inv([c])).findings, "pacemaker.duplicate-link-address");
  });

  it("a cipher needs a hash; crypto needs knet; knet without crypto warns", () => {
    const f = one(pcmk(inv([cluster(3, { crypto: { cipher: "aes256", hash: "none" } })])).findings, "pacemaker.crypto-cipher-needs-hash");
    assert.equal(f.path, "pacemaker.clusters[0].crypto.hash");
    assert.match(f.message, /'aes256' with `crypto.hash` 'none'/);
    const u = one(pcmk(inv([cluster(3, { transport: "udpu" })])).findings, "pacemaker.crypto-needs-knet");
    assert.match(u.message, /'udpu' with `crypto` cipher 'aes256' \/ hash 'sha256'/);
    const off = pcmk(inv([cluster(3, { crypto: { cipher: "none", hash: "none" } })])).findings;
    noErrors(off);
    assert.equal(one(off, "pacemaker.crypto-disabled").severity, "warning");
    none(pcmk(inv([cluster(3)])).findings, "pacemaker.crypto-disabled");
  });
});

describe("pacemaker plan: resources and constraints", () => {
  const vip = (id: string, ip: string, extra: Record<string, string | number> = {}) => ({
    id,
    agent: "ocf:heartbeat:IPaddr2",
    params: { ip, cidr_netmask: 24, ...extra },
  });

  it("a well-formed resource set has no findings", () => {
    const c = cluster(3, {
      primitives: [
        { id: "galera", agent: "ocf:heartbeat:galera" },
        vip("db-vip", "10.0.0.100"),
        { id: "web", agent: "ocf:heartbeat:apache" },
        { id: "fs", agent: "ocf:heartbeat:Filesystem" },
      ],
      groups: [{ id: "web-group", members: ["fs", "web"] }],
      clones: [{ id: "galera-clone", resource: "galera", promotable: true }],
      constraints: {
        location: [{ id: "web-on-h1", resource: "web-group", node: "h1", score: 100 }],
        colocation: [{ id: "vip-with-galera", resource: "db-vip", with: "galera-clone" }],
        order: [{ id: "galera-then-vip", first: "galera-clone", then: "db-vip" }],
      },
    });
    assert.deepEqual(pcmk(inv([c])).findings, []);
  });

  it("ids are unique across primitives, groups, clones, fencing and constraints", () => {
    const c = cluster(3, {
      primitives: [{ id: "galera", agent: "ocf:heartbeat:galera" }],
      clones: [{ id: "galera", resource: "galera" }],
      constraints: { location: [{ id: "fence-all", resource: "galera", node: "h1" }], colocation: [], order: [] },
    });
    const f = pcmk(inv([c])).findings.filter((x) => x.code === "pacemaker.duplicate-id");
    assert.deepEqual(
      f.map((x) => x.path),
      ["pacemaker.clusters[0].clones[0].id", "pacemaker.clusters[0].constraints.location[0].id"],
    );
    assert.match(f[0]!.message, /id 'galera' .*\(a primitive at pacemaker.clusters\[0\].primitives\[0\].id and a clone here/);
  });

  it("groups, clones and constraints reference existing ids; location constraints name cluster nodes", () => {
    const c = cluster(3, {
      primitives: [{ id: "a", agent: "ocf:heartbeat:Dummy" }],
      groups: [{ id: "g", members: ["a", "missing-member"] }],
      clones: [{ id: "c", resource: "missing-clone" }],
      constraints: {
        location: [{ id: "l", resource: "a", node: "h9" }],
        colocation: [{ id: "co", resource: "a", with: "missing-with" }],
        order: [{ id: "o", first: "missing-first", then: "a" }],
      },
    });
    const f = pcmk(inv([c])).findings;
    assert.deepEqual(
      f
        .filter((x) => x.code === "pacemaker.unknown-resource")
        .map((x) => x.path)
        .sort(),
      [
        "pacemaker.clusters[0].clones[0].resource",
        "pacemaker.clusters[0].constraints.colocation[0].with",
        "pacemaker.clusters[0].constraints.order[0].first",
        "pacemaker.clusters[0].groups[0].members[1]",
      ],
    );
    const node = one(f, "pacemaker.unknown-node");
    assert.equal(node.path, "pacemaker.clusters[0].constraints.location[0].node");
    assert.match(node.message, /'h9'.*nodes: 'h1', 'h2', 'h3'/);
  });

  it("groups hold primitives; a group member is cloned through its group; a resource is cloned once", () => {
    const c = cluster(3, {
      primitives: [
        { id: "a", agent: "ocf:heartbeat:Dummy" },
        { id: "b", agent: "ocf:heartbeat:Dummy" },
      ],
      groups: [
        { id: "g", members: ["a"] },
        { id: "g2", members: ["g", "a"] },
      ],
      clones: [
        { id: "c1", resource: "a" },
        { id: "c2", resource: "b" },
        { id: "c3", resource: "b" },
      ],
    });
    const f = pcmk(inv([c])).findings;
    assert.equal(one(f, "pacemaker.invalid-group-member").path, "pacemaker.clusters[0].groups[1].members[0]");
    one(f, "pacemaker.duplicate-group-member");
    assert.match(one(f, "pacemaker.invalid-clone-resource").message, /member of group 'g'/);
    assert.equal(one(f, "pacemaker.duplicate-clone").path, "pacemaker.clusters[0].clones[2].resource");
  });

  it("agents must be class:provider:type or class:type; systemd: on supervisor hosts warns", () => {
    const bad = pcmk(inv([cluster(3, { primitives: [{ id: "x", agent: "IPaddr2" }] })])).findings;
    assert.equal(one(bad, "schema.invalid").path, "pacemaker.clusters[0].primitives[0].agent");
    const sup = hosts(3).map((h) => ({ ...h, init: "supervisor" as const }));
    const w = one(
      pcmk({ hosts: sup, pacemaker: { clusters: [cluster(3, { primitives: [{ id: "hap", agent: "systemd:haproxy" }] })] } }).findings,
      "pacemaker.systemd-agent-without-systemd",
    );
    assert.equal(w.severity, "warning");
    none(
      pcmk(inv([cluster(3, { primitives: [{ id: "hap", agent: "systemd:haproxy" }] })])).findings,
      "pacemaker.systemd-agent-without-systemd",
    );
  });

  it("IPaddr2 VIPs: valid, inside the nodes' subnet, not a host address, not twice", () => {
    noErrors(pcmk(inv([cluster(3, { primitives: [vip("v", "10.0.0.100")] })])).findings);
    const out = one(
      pcmk(inv([cluster(3, { primitives: [vip("v", "10.9.0.100")] })])).findings.filter((f) => f.message.includes("'h1'")),
      "pacemaker.vip-outside-subnet",
    );
    assert.equal(out.path, "pacemaker.clusters[0].primitives[0].params.ip");
    assert.match(out.message, /10\.0\.0\.11\/24 \(interface eth0\)/);
    one(pcmk(inv([cluster(3, { primitives: [vip("v", "10.0.0.999")] })])).findings, "pacemaker.invalid-vip"); // params are free text: the plan judges ip
    one(pcmk(inv([cluster(3, { primitives: [vip("v", "10.0.0.12")] })])).findings, "pacemaker.vip-is-host-address");
    one(pcmk(inv([cluster(3, { primitives: [vip("v", "10.0.0.100"), vip("w", "10.0.0.100")] })])).findings, "pacemaker.duplicate-vip");
    const nic = pcmk(inv([cluster(3, { primitives: [vip("v", "10.0.0.100", { nic: "bond0" })] })])).findings;
    assert.equal(nic.filter((f) => f.code === "pacemaker.vip-interface-missing").length, 3);
  });
});

describe("pacemaker plan: layouts", () => {
  it("per-service: a host in two clusters is fine", () => {
    const { findings, roles } = pcmk(
      inv([cluster(3), cluster(3, { name: "mq", fencing: [{ id: "fence-mq", agent: "fence_ipmilan", hosts: names(3) }] })]),
    );
    noErrors(findings);
    assert.deepEqual(roles.get("h1"), ["pacemaker:db", "pacemaker:mq"]);
  });

  it("all-in-one: one cluster, and a host in one cluster only", () => {
    const f = pcmk({
      hosts: hosts(3),
      pacemaker: {
        layout: "all-in-one",
        clusters: [cluster(3), cluster(3, { name: "mq", fencing: [{ id: "fence-mq", agent: "fence_ipmilan" }] })],
      },
    }).findings;
    one(f, "pacemaker.all-in-one-multiple-clusters");
    const multi = f.filter((x) => x.code === "pacemaker.host-in-multiple-clusters");
    assert.equal(multi.length, 3);
    assert.equal(multi[0]!.path, "pacemaker.clusters[1].nodes[0]");
    assert.match(multi[0]!.message, /host 'h1' is a node of cluster 'db' .* and of cluster 'mq', but `layout` is 'all-in-one'/);
    noErrors(pcmk({ hosts: hosts(3), pacemaker: { layout: "all-in-one", clusters: [cluster(3)] } }).findings);
  });

  it("one VIP in two clusters is an error", () => {
    const v = { id: "v", agent: "ocf:heartbeat:IPaddr2", params: { ip: "10.0.0.100", cidr_netmask: 24 } };
    const f = one(
      pcmk(
        inv([
          cluster(3, { primitives: [v] }),
          cluster(3, { name: "mq", fencing: [{ id: "f2", agent: "fence_ipmilan" }], primitives: [{ ...v, id: "w" }] }),
        ]),
      ).findings,
      "pacemaker.duplicate-vip",
    );
    assert.equal(f.path, "pacemaker.clusters[1].primitives[0].params.ip");
    assert.match(f.message, /also managed by 'v' in cluster 'db'/);
  });

  it("duplicate cluster names are an error", () => {
    one(pcmk(inv([cluster(3), cluster(3, { fencing: [{ id: "f2", agent: "fence_ipmilan" }] })])).findings, "pacemaker.duplicate-cluster");
  });

  it("lightweight needs `layout: lightweight` AND a cluster carrying `lightweight:` with CIDR VIPs", () => {
    const lw = { vips: [{ name: "ip-10.0.0.5", address: "10.0.0.5/24" }], systemdServices: ["openstack-nova-api"] };
    noErrors(pcmk({ hosts: hosts(3), pacemaker: { layout: "lightweight", clusters: [cluster(3, { lightweight: lw })] } }).findings);
    one(pcmk({ hosts: hosts(3), pacemaker: { layout: "lightweight", clusters: [cluster(3)] } }).findings, "pacemaker.lightweight-missing");
    assert.equal(
      one(
        pcmk({ hosts: hosts(3), pacemaker: { clusters: [cluster(3, { lightweight: lw })] } }).findings,
        "pacemaker.lightweight-layout-required",
      ).path,
      "pacemaker.clusters[0].lightweight",
    );
    const bad = pcmk({
      hosts: hosts(3),
      pacemaker: {
        layout: "lightweight",
        clusters: [
          cluster(3, {
            lightweight: {
              vips: [
                { name: "v", address: "10.0.0.5" },
                { name: "w", address: "nope/24" },
              ],
            },
          }),
        ],
      },
    }).findings;
    assert.deepEqual(
      bad.filter((f) => f.code === "schema.invalid").map((f) => f.path),
      ["pacemaker.clusters[0].lightweight.vips[0].address", "pacemaker.clusters[0].lightweight.vips[1].address"],
    );
    const outside = pcmk({
      hosts: hosts(3),
      pacemaker: { layout: "lightweight", clusters: [cluster(3, { lightweight: { vips: [{ name: "v", address: "192.168.9.5/24" }] } })] },
    }).findings;
    assert.equal(outside.filter((f) => f.code === "pacemaker.vip-outside-subnet").length, 3);
  });

  it("lightweight: a service is managed by Pacemaker or systemd, not both; generated ids are reserved", () => {
    const f = pcmk({
      hosts: hosts(3),
      pacemaker: {
        layout: "lightweight",
        clusters: [
          cluster(3, { primitives: [{ id: "galera-clone", agent: "ocf:heartbeat:Dummy" }], lightweight: { systemdServices: ["redis"] } }),
        ],
      },
    }).findings;
    assert.equal(one(f, "pacemaker.lightweight-overlap").path, "pacemaker.clusters[0].lightweight.systemdServices[0]");
    assert.match(one(f, "pacemaker.duplicate-id").message, /'galera-clone'/);
    // ...and user constraints may reference them.
    noErrors(
      pcmk({
        hosts: hosts(3),
        pacemaker: {
          layout: "lightweight",
          clusters: [cluster(3, { constraints: { location: [{ id: "l", resource: "redis-clone", node: "h1" }] }, lightweight: {} })],
        },
      }).findings,
    );
  });

  it("no pacemaker section: nothing planned, no findings", () => {
    const { plan, findings } = runSteps({ hosts: hosts(1) });
    assert.deepEqual(ofService(findings, "pacemaker."), []);
    assert.deepEqual(plan.pacemakerClusters, []);
  });
});

describe("pacemaker plan: duplicate operations", () => {
  it("the same op (name, interval, role) twice is a finding, not a silently dropped op", () => {
    const f = runSteps({
      hosts: [1, 2, 3].map((i) => ({ name: `h${i}`, address: `10.0.0.1${i}`, interfaces: [{ name: "eth0", address: `10.0.0.1${i}/24` }] })),
      pacemaker: {
        clusters: [
          {
            name: "c",
            nodes: ["h1", "h2", "h3"],
            properties: { "stonith-enabled": false },
            primitives: [
              {
                id: "d",
                agent: "ocf:heartbeat:Dummy",
                ops: [
                  { name: "monitor", interval: "10s" },
                  { name: "monitor", interval: "10s", timeout: "20s" },
                  { name: "monitor", interval: "10s", role: "Promoted" },
                ],
              },
            ],
          },
        ],
      },
    }).findings.filter((x) => x.code === "pacemaker.duplicate-op");
    assert.deepEqual(
      f.map((x) => [x.severity, x.path]),
      [["error", "pacemaker.clusters[0].primitives[0].ops[1]"]],
    );
  });
});
