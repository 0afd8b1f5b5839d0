/**
 * Structure of what the Pacemaker renderer produces (corosync.conf, authkey, CIB, apply script,
 * daemons, actions, materials). The system test (tests/system/pacemaker.test.ts) has the real
 * daemons judge the same files.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "xmlbuilder2";
import type { FileSpec } from "../../src/core/desired-state";
import { fileBytes } from "../../src/core/desired-state";
import type { Materials } from "../../src/core/materials";
import type { ClusterPlan, PacemakerClusterPlan } from "../../src/plan/types";
import { renderTemplate } from "../../src/render/templates";
import { CIB_VALIDATE_WITH, cibPath } from "../../src/services/pacemaker/cib";
import {
  CIB_APPLY_SCRIPT,
  cibApplyCommand,
  COROSYNC_APPLY_SCRIPT,
  PACEMAKER_HEALTH,
  COROSYNC_HEALTH,
  corosyncRollHealth,
  corosyncValidateWithKey,
  corosyncWireValidate,
  renderPart,
  memberRemoveCommand,
} from "../../src/services/pacemaker/render";
import { firstStartAware } from "../../src/render/daemon";
import { pacemakerService } from "../../src/services/pacemaker";
import { checkDesiredState, renderDesiredState } from "../../src/pipeline/render";
import { loadInventoryFile } from "../../src/inventory/load";
import { planCluster } from "../../src/pipeline/plan";
import { fencingPlan, fixtureMaterials, lightweightPlan, qdevicePlan, singleNodePlan, threeNodePlan } from "../fixtures/pacemaker-plan";
import { osloProject } from "../../src/services/pacemaker/lightweight";

// The DOM xmlbuilder2 parses into (tsconfig has no DOM lib: the few members used here).
interface El {
  readonly tagName: string;
  readonly nodeType: number;
  readonly parentNode: El | null;
  readonly childNodes: ArrayLike<El>;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  getElementsByTagName(name: string): ArrayLike<El>;
}

const render = (plan: ClusterPlan, materials: Materials = fixtureMaterials) =>
  renderPart.render!({ plan, secrets: {}, materials, template: renderTemplate });

const fileOf = (files: readonly FileSpec[], host: string, path: string): FileSpec => {
  const f = files.find((x) => x.host === host && x.path === path);
  assert.ok(f, `no ${path} on ${host}`);
  return f;
};

const parseCib = (xml: string): El => (create(xml).node as unknown as { documentElement: El }).documentElement;
const all = (root: El, tag: string): El[] => Array.from(root.getElementsByTagName(tag));
const children = (e: El): El[] => Array.from(e.childNodes).filter((n) => n.nodeType === 1);
const byId = (root: El, id: string): El => {
  const hit = Array.from(root.getElementsByTagName("*")).find((e) => e.getAttribute("id") === id);
  assert.ok(hit, `no element with id ${id}`);
  return hit;
};
const nv = (set: El | undefined, name: string): string | undefined =>
  set
    ? (all(set, "nvpair")
        .find((p) => p.getAttribute("name") === name)
        ?.getAttribute("value") ?? undefined)
    : undefined;
const directChild = (e: El, tag: string): El | undefined => children(e).find((c) => c.tagName === tag);

const withCluster = (plan: ClusterPlan, f: (c: PacemakerClusterPlan) => PacemakerClusterPlan): ClusterPlan => ({
  ...plan,
  pacemakerClusters: plan.pacemakerClusters.map(f),
});

describe("pacemaker render: files per node", () => {
  it("renders corosync.conf, authkey, CIB, apply script and both daemons on every node, nothing twice", () => {
    for (const plan of [threeNodePlan, lightweightPlan, fencingPlan, singleNodePlan]) {
      const r = render(plan);
      const cluster = plan.pacemakerClusters[0]!;
      for (const n of cluster.nodes) {
        const paths = r.files.filter((f) => f.host === n.host).map((f) => f.path);
        assert.equal(new Set(paths).size, paths.length, `duplicate path on ${n.host}`);
        const init = plan.hosts.find((h) => h.name === n.host)!.init;
        // systemd hosts keep the packaged corosync/pacemaker units (no file of ours at all);
        // supervisor hosts get program files.
        const units = init === "systemd" ? [] : ["/etc/supervisor/conf.d/corosync.conf", "/etc/supervisor/conf.d/pacemaker.conf"];
        for (const p of [
          "/etc/corosync/corosync.conf",
          "/etc/corosync/authkey",
          cibPath(cluster.name),
          CIB_APPLY_SCRIPT,
          COROSYNC_APPLY_SCRIPT,
          ...units,
        ]) {
          assert.ok(paths.includes(p), `${p} missing on ${n.host} (${plan.name})`);
        }
        for (const p of paths)
          assert.doesNotMatch(
            p,
            /^\/etc\/systemd\/system\/(corosync|pacemaker|pacemaker_remote)\.service(\.d\/|$)/,
            `${p}: packaged unit replaced or dropped into`,
          );
      }
    }
  });

  it("validates each config with the daemon's own check on the host", () => {
    const r = render(threeNodePlan);
    // corosync -t with crypto needs a key: a throwaway one while the authkey is not in place yet
    assert.equal(
      fileOf(r.files, "db1", "/etc/corosync/corosync.conf").validate,
      `( ${corosyncValidateWithKey("/etc/corosync/authkey")} ) && ${corosyncWireValidate()}`,
    );
    assert.match(
      corosyncValidateWithKey("/etc/corosync/authkey"),
      /^if \[ -r \/etc\/corosync\/authkey \]; then corosync -t -c \{file\}; else /,
    );
    assert.equal(fileOf(r.files, "db1", cibPath("db")).validate, "crm_verify --xml-file {file}");
    assert.match(fileOf(r.files, "db1", "/etc/corosync/authkey").validate ?? "", /wc -c < \{file\}.*-eq 256/);
    assert.deepEqual(fileOf(r.files, "db1", "/etc/corosync/corosync.conf").notify, ["corosync"]);
    assert.deepEqual(fileOf(r.files, "db1", cibPath("db")).notify, [], "the CIB is applied by its action, never by a restart");
    assert.equal(fileOf(r.files, "db1", CIB_APPLY_SCRIPT).mode, "0755");
  });

  it("writes the authkey as raw bytes: base64 content, 0400, secret", () => {
    const r = render(fencingPlan);
    const key = fileOf(r.files, "nfs2", "/etc/corosync/authkey");
    assert.equal(key.encoding, "base64");
    assert.equal(key.mode, "0400");
    assert.equal(key.owner, "root");
    assert.equal(key.secret, true);
    const bytes = fileBytes(key);
    assert.equal(bytes.length, 256);
    assert.deepEqual([...bytes.subarray(0, 4)], [0, 1, 2, 3], "content is the material decoded, not its text");
    // Same key on every node.
    assert.equal(fileOf(r.files, "nfs1", "/etc/corosync/authkey").content, key.content);
  });

  it("renders an empty (refused on the host) authkey instead of crashing when the material is missing", () => {
    const r = render(fencingPlan, {});
    const key = fileOf(r.files, "nfs1", "/etc/corosync/authkey");
    assert.equal(fileBytes(key).length, 0);
  });

  it("pacemaker_remote: shared /etc/pacemaker/authkey on nodes and remotes, remote daemon on the remote", () => {
    const r = render(threeNodePlan);
    for (const h of ["db1", "db2", "db3", "worker1"]) {
      const k = fileOf(r.files, h, "/etc/pacemaker/authkey");
      assert.equal(fileBytes(k).length, 4096);
      assert.equal(k.owner, "hacluster");
      assert.equal(k.group, "haclient");
      assert.equal(k.secret, true);
    }
    assert.ok(r.services.some((s) => s.host === "worker1" && s.name === "pacemaker_remote"));
    assert.ok(!r.files.some((f) => f.host === "worker1" && f.path === "/etc/corosync/corosync.conf"), "a remote node runs no corosync");
  });
});

describe("pacemaker render: corosync.conf", () => {
  const conf = (plan: ClusterPlan, host: string) => fileOf(render(plan).files, host, "/etc/corosync/corosync.conf").content;

  it("totem: version 2, cluster name, knet, crypto with an explicit keyfile, token, one interface block per link", () => {
    const c = conf(threeNodePlan, "db2");
    assert.match(c, /^totem \{$/m);
    assert.match(c, /^ {4}version: 2$/m);
    assert.match(c, /^ {4}cluster_name: db$/m);
    assert.match(c, /^ {4}transport: knet$/m);
    assert.match(c, /^ {4}crypto_cipher: aes256$/m);
    assert.match(c, /^ {4}crypto_hash: sha256$/m);
    assert.match(c, /^ {4}keyfile: \/etc\/corosync\/authkey$/m);
    assert.match(c, /^ {4}token: 3000$/m);
    assert.equal(c.match(/interface \{/g)?.length, 2);
    assert.match(c, /linknumber: 0[\s\S]*linknumber: 1/);
  });

  it("nodelist: ringN_addr per link, name and nodeid per node", () => {
    const c = conf(threeNodePlan, "db1");
    const nodes = c.split(/^ {4}node \{$/m).slice(1);
    assert.equal(nodes.length, 3);
    assert.match(nodes[1]!, /ring0_addr: 10\.231\.0\.12\n\s+ring1_addr: 10\.231\.1\.12\n\s+name: db2\n\s+nodeid: 2/);
  });

  it("one link: no interface block; two_node implies wait_for_all; the cluster's own cipher/hash/token", () => {
    const c = conf(fencingPlan, "nfs1");
    assert.doesNotMatch(c, /interface \{/);
    assert.match(c, /crypto_cipher: aes128\n\s+crypto_hash: sha512/);
    assert.match(c, /token: 5000/);
    assert.match(c, /provider: corosync_votequorum\n\s+two_node: 1\n\s+wait_for_all: 1\n\s+last_man_standing: 0\n\s+auto_tie_breaker: 0/);
  });

  it("quorum flags follow the plan, each on its own", () => {
    const flags = withCluster(threeNodePlan, (c) => ({
      ...c,
      quorum: { ...c.quorum, twoNode: false, waitForAll: true, lastManStanding: true, autoTieBreaker: false },
    }));
    assert.match(conf(flags, "db1"), /two_node: 0\n\s+wait_for_all: 1\n\s+last_man_standing: 1\n\s+auto_tie_breaker: 0\n/);
    const atb = withCluster(threeNodePlan, (c) => ({ ...c, quorum: { ...c.quorum, autoTieBreaker: true } }));
    assert.match(conf(atb, "db1"), /auto_tie_breaker: 1/);
  });

  it("quorum device: model net with the qnetd host's address and the algorithm", () => {
    const c = conf(qdevicePlan, "db1");
    assert.match(c, /device \{\n\s+model: net\n\s+net \{\n\s+host: 10\.231\.0\.21\n\s+algorithm: lms\n/);
    assert.doesNotMatch(conf(threeNodePlan, "db1"), /device \{/);
  });

  it("no crypto lines (and no authkey) without crypto or with a non-knet transport", () => {
    const none = withCluster(fencingPlan, (c) => ({ ...c, spec: { ...c.spec, crypto: { cipher: "none", hash: "none" } } }));
    const r = render(none);
    assert.doesNotMatch(fileOf(r.files, "nfs1", "/etc/corosync/corosync.conf").content, /crypto_|keyfile/);
    assert.ok(!r.files.some((f) => f.path === "/etc/corosync/authkey"));
    assert.deepEqual(renderPart.materials!(none), []);
    const udpu = withCluster(threeNodePlan, (c) => ({ ...c, spec: { ...c.spec, transport: "udpu" } }));
    const u = fileOf(render(udpu).files, "db1", "/etc/corosync/corosync.conf").content;
    assert.match(u, /transport: udpu/);
    assert.doesNotMatch(u, /crypto_|interface \{|ring1_addr/);
  });

  it("logs to stderr with timestamps (so `corosync -t` and supervisor show the messages)", () => {
    const c = conf(singleNodePlan, "solo1");
    assert.match(c, /logging \{[\s\S]*to_stderr: yes[\s\S]*timestamp: on[\s\S]*\}/);
  });
});

describe("pacemaker render: the CIB document", () => {
  const cibOf = (plan: ClusterPlan) =>
    fileOf(render(plan).files, plan.pacemakerClusters[0]!.nodes[0]!.host, cibPath(plan.pacemakerClusters[0]!.name));

  it("root: validate-with, epoch, admin_epoch 0, num_updates 0, no crm_feature_set; configuration + status", () => {
    const root = parseCib(cibOf(threeNodePlan).content);
    assert.equal(root.tagName, "cib");
    assert.equal(root.getAttribute("validate-with"), CIB_VALIDATE_WITH);
    assert.equal(root.getAttribute("admin_epoch"), "0");
    assert.equal(root.getAttribute("num_updates"), "0");
    assert.ok(Number(root.getAttribute("epoch")) >= 1000);
    assert.equal(root.hasAttribute("crm_feature_set"), false);
    assert.deepEqual(
      children(root).map((c) => c.tagName),
      ["configuration", "status"],
    );
    const conf = directChild(root, "configuration")!;
    assert.deepEqual(
      children(conf).map((c) => c.tagName),
      ["crm_config", "nodes", "resources", "constraints", "rsc_defaults"],
    );
  });

  it("every id is unique", () => {
    for (const plan of [threeNodePlan, lightweightPlan, fencingPlan, singleNodePlan]) {
      const ids = all(parseCib(cibOf(plan).content), "*")
        .map((e) => e.getAttribute("id"))
        .filter((x): x is string => x !== null);
      // node_state ids repeat the node ids by design (they are the same nodes); everything else is unique.
      const configIds = all(directChild(parseCib(cibOf(plan).content), "configuration")!, "*")
        .map((e) => e.getAttribute("id"))
        .filter((x): x is string => x !== null);
      assert.equal(new Set(configIds).size, configIds.length, `duplicate ids in ${plan.name}`);
      assert.ok(ids.length > configIds.length);
    }
  });

  it("is deterministic, and the epoch follows the content", () => {
    assert.equal(cibOf(threeNodePlan).content, cibOf(threeNodePlan).content);
    const changed = withCluster(threeNodePlan, (c) => ({
      ...c,
      spec: { ...c.spec, properties: { ...c.spec.properties, "dc-deadtime": "6s" } },
    }));
    const a = parseCib(cibOf(threeNodePlan).content).getAttribute("epoch");
    const b = parseCib(cibOf(changed).content).getAttribute("epoch");
    assert.notEqual(a, b);
  });

  it("properties: stonith-enabled from the plan (not the inventory), cluster-name, defaults, inventory values", () => {
    const set = byId(parseCib(cibOf(threeNodePlan).content), "cib-bootstrap-options");
    assert.equal(nv(set, "stonith-enabled"), "false", "plan.stonithEnabled wins over properties['stonith-enabled']");
    assert.equal(nv(set, "cluster-name"), "db");
    assert.equal(nv(set, "no-quorum-policy"), "stop");
    assert.equal(nv(set, "dc-deadtime"), "5s");
    assert.equal(nv(set, "cluster-recheck-interval"), "1min");
    assert.equal(all(set, "nvpair").filter((p) => p.getAttribute("name") === "stonith-enabled").length, 1);
    assert.equal(all(set, "nvpair")[0]!.getAttribute("id"), "cib-bootstrap-options-stonith-enabled", "pcs/pacemaker id convention");
    assert.equal(nv(byId(parseCib(cibOf(fencingPlan).content), "cib-bootstrap-options"), "stonith-enabled"), "true");
  });

  it("nodes: corosync nodeid as id, host as uname; status marks them cleanly down", () => {
    const root = parseCib(cibOf(threeNodePlan).content);
    assert.deepEqual(
      all(directChild(directChild(root, "configuration")!, "nodes")!, "node").map((n) => [n.getAttribute("id"), n.getAttribute("uname")]),
      [
        ["1", "db1"],
        ["2", "db2"],
        ["3", "db3"],
      ],
    );
    const states = all(directChild(root, "status")!, "node_state");
    assert.deepEqual(
      states.map((s) => [s.getAttribute("id"), s.getAttribute("crmd"), s.getAttribute("expected")]),
      [
        ["1", "offline", "down"],
        ["2", "offline", "down"],
        ["3", "offline", "down"],
      ],
    );
  });

  it("resources: each primitive once; groups contain their members; clones wrap; promotable = clone + meta", () => {
    const root = parseCib(cibOf(threeNodePlan).content);
    const prims = all(root, "primitive").map((p) => p.getAttribute("id"));
    assert.deepEqual(prims, ["vip-db", "fs-data", "app", "ping", "pgsql", "worker1"]);
    const resources = directChild(directChild(root, "configuration")!, "resources")!;
    assert.deepEqual(
      children(resources).map((c) => `${c.tagName}:${c.getAttribute("id")}`),
      ["primitive:vip-db", "group:g-app", "clone:ping-clone", "clone:pgsql-clone", "primitive:worker1"],
    );
    assert.deepEqual(
      all(byId(root, "g-app"), "primitive").map((p) => p.getAttribute("id")),
      ["fs-data", "app"],
    );
    const pg = byId(root, "pgsql-clone");
    assert.equal(all(pg, "master").length, 0);
    assert.equal(nv(directChild(pg, "meta_attributes"), "promotable"), "true");
    assert.equal(nv(directChild(pg, "meta_attributes"), "promoted-max"), "1");
    assert.equal(nv(directChild(byId(root, "ping-clone"), "meta_attributes"), "promotable"), undefined);
    const ops = all(byId(root, "pgsql"), "op").map((o) => [o.getAttribute("id"), o.getAttribute("role")]);
    assert.deepEqual(ops, [
      ["pgsql-monitor-interval-10s-Promoted", "Promoted"],
      ["pgsql-monitor-interval-11s-Unpromoted", "Unpromoted"],
    ]);
  });

  it("primitive: class/provider/type split, instance and meta attributes, a default monitor when none is given", () => {
    const root = parseCib(cibOf(threeNodePlan).content);
    const vip = byId(root, "vip-db");
    assert.deepEqual([vip.getAttribute("class"), vip.getAttribute("provider"), vip.getAttribute("type")], ["ocf", "heartbeat", "IPaddr2"]);
    assert.equal(nv(byId(root, "vip-db-instance_attributes"), "ip"), "10.231.0.100");
    assert.equal(nv(byId(root, "vip-db-instance_attributes"), "cidr_netmask"), "24");
    assert.equal(nv(byId(root, "app-meta_attributes"), "migration-threshold"), "3");
    assert.deepEqual(
      all(byId(root, "app"), "op").map((o) => `${o.getAttribute("name")}/${o.getAttribute("interval")}`),
      ["monitor/10s"],
    );
    const remote = byId(root, "worker1");
    assert.deepEqual(
      [remote.getAttribute("class"), remote.getAttribute("provider"), remote.getAttribute("type")],
      ["ocf", "pacemaker", "remote"],
    );
    assert.equal(nv(remote, "server"), "10.231.0.21");
  });

  it("constraints: location, colocation, order as written", () => {
    const root = parseCib(cibOf(threeNodePlan).content);
    const loc = byId(root, "loc-app-db1");
    assert.deepEqual(
      [loc.tagName, loc.getAttribute("rsc"), loc.getAttribute("node"), loc.getAttribute("score")],
      ["rsc_location", "g-app", "db1", "100"],
    );
    const col = byId(root, "col-vip-with-pgsql");
    assert.deepEqual(
      [col.tagName, col.getAttribute("rsc"), col.getAttribute("with-rsc"), col.getAttribute("score")],
      ["rsc_colocation", "vip-db", "pgsql-clone", "INFINITY"],
    );
    const ord = byId(root, "ord-ping-then-app");
    assert.deepEqual(
      [ord.tagName, ord.getAttribute("first"), ord.getAttribute("then"), ord.getAttribute("kind")],
      ["rsc_order", "ping-clone", "g-app", "Optional"],
    );
    assert.equal(nv(byId(root, "rsc-options"), "resource-stickiness"), "1");
  });

  it("fencing: class stonith, agent without prefix, pcmk_host_list, escaped values, avoid-self locations, secret file", () => {
    const f = cibOf(fencingPlan);
    assert.equal(f.secret, true, "fence passwords make the CIB secret");
    assert.equal(f.mode, "0600");
    assert.match(f.content, /value="s3cr&amp;t&lt;x&gt;"/);
    const root = parseCib(f.content);
    const ipmi = byId(root, "fence-nfs2");
    assert.deepEqual(
      [ipmi.getAttribute("class"), ipmi.hasAttribute("provider"), ipmi.getAttribute("type")],
      ["stonith", false, "fence_ipmilan"],
    );
    assert.equal(nv(ipmi, "password"), "other");
    assert.equal(nv(byId(root, "fence-nfs1"), "password"), "s3cr&t<x>");
    assert.equal(nv(byId(root, "fence-virt"), "pcmk_host_list"), "nfs1 nfs2");
    const avoid = byId(root, "location-fence-nfs1-avoids-nfs1");
    assert.deepEqual(
      [avoid.getAttribute("rsc"), avoid.getAttribute("node"), avoid.getAttribute("score")],
      ["fence-nfs1", "nfs1", "-INFINITY"],
    );
    assert.equal(all(root, "rsc_location").length, 2, "no avoid-self constraint for a device fencing several nodes");
    assert.equal(cibOf(threeNodePlan).secret, false);
  });

  it("inventory constraints win over generated ones (same id, or the same resource/node location)", () => {
    const explicit = withCluster(fencingPlan, (c) => ({
      ...c,
      spec: {
        ...c.spec,
        constraints: {
          ...c.spec.constraints,
          location: [
            { id: "location-fence-nfs1-avoids-nfs1", resource: "fence-nfs1", node: "nfs1", score: "-INFINITY" },
            { id: "my-fence-nfs2-placement", resource: "fence-nfs2", node: "nfs2", score: -1000 },
          ],
        },
      },
    }));
    const locs = all(parseCib(cibOf(explicit).content), "rsc_location").map((l) => `${l.getAttribute("id")}:${l.getAttribute("score")}`);
    assert.deepEqual(locs, ["location-fence-nfs1-avoids-nfs1:-INFINITY", "my-fence-nfs2-placement:-1000"]);
  });

  it("does not throw on an inconsistent inventory (the plan reports it; crm_verify refuses the file)", () => {
    const broken = withCluster(threeNodePlan, (c) => ({
      ...c,
      spec: {
        ...c.spec,
        groups: [...c.spec.groups, { id: "g-ghost", members: ["nope"], meta: {} }],
        clones: [...c.spec.clones, { id: "ghost-clone", resource: "nope", promotable: false, meta: {} }],
        primitives: [...c.spec.primitives, { id: "bare", agent: "Dummy", params: {}, meta: {}, ops: [] }],
        constraints: { ...c.spec.constraints, order: [{ id: "o-ghost", first: "nope", then: "app", kind: "Mandatory" }] },
      },
    }));
    const root = parseCib(cibOf(broken).content);
    assert.equal(all(root, "group").length, 1, "a group with no known member is dropped");
    assert.equal(byId(root, "bare").getAttribute("provider"), "heartbeat");
    assert.equal(byId(root, "o-ghost").getAttribute("first"), "nope", "rendered as written");
    const empty = withCluster(threeNodePlan, (c) => ({ ...c, nodes: [], remoteNodes: [] }));
    const r = render(empty);
    assert.deepEqual(r.files, []);
    assert.deepEqual(r.actions, []);
  });
});

describe("pacemaker render: lightweight layout", () => {
  const lw = render(lightweightPlan);
  const root = parseCib(fileOf(lw.files, "ctl0", cibPath("overcloud")).content);

  it("VIPs are IPaddr2 primitives named after the VIP, with the prefix as cidr_netmask", () => {
    const vip = byId(root, "ip-internal");
    assert.equal(vip.getAttribute("type"), "IPaddr2");
    assert.equal(nv(vip, "ip"), "10.231.2.100");
    assert.equal(nv(vip, "cidr_netmask"), "24");
    assert.equal(nv(byId(root, "ip-public"), "ip"), "10.231.3.100");
  });

  it("HAProxy is a clone; every VIP is colocated with it and ordered after it", () => {
    const hc = byId(root, "haproxy-clone");
    assert.equal(hc.tagName, "clone");
    assert.equal(byId(root, "haproxy").getAttribute("class"), "systemd");
    for (const vip of ["ip-internal", "ip-public"]) {
      const col = byId(root, `colocation-${vip}-with-haproxy-clone`);
      assert.deepEqual(
        [col.getAttribute("rsc"), col.getAttribute("with-rsc"), col.getAttribute("score")],
        [vip, "haproxy-clone", "INFINITY"],
      );
      const ord = byId(root, `order-haproxy-clone-then-${vip}`);
      assert.deepEqual(
        [ord.getAttribute("first"), ord.getAttribute("then"), ord.getAttribute("kind")],
        ["haproxy-clone", vip, "Mandatory"],
      );
    }
  });

  it("RabbitMQ clone, Galera and Redis promotable clones, single cinder-volume", () => {
    const rmq = byId(root, "rabbitmq-clone");
    assert.equal(nv(directChild(rmq, "meta_attributes"), "promotable"), undefined);
    assert.equal(byId(root, "rabbitmq").getAttribute("type"), "rabbitmq-cluster");
    assert.equal(
      nv(byId(root, "rabbitmq"), "set_policy"),
      'ha-all ^(?!amq\\.).* {"ha-mode":"exactly","ha-params":2,"ha-promote-on-shutdown":"always"}',
    );
    const galera = byId(root, "galera-clone");
    assert.equal(nv(directChild(galera, "meta_attributes"), "promotable"), "true");
    assert.equal(nv(directChild(galera, "meta_attributes"), "promoted-max"), "3");
    assert.equal(nv(byId(root, "galera"), "wsrep_cluster_address"), "gcomm://ctl0,ctl1,ctl2");
    assert.equal(nv(byId(root, "galera"), "cluster_host_map"), "ctl0:10.231.2.10;ctl1:10.231.2.11;ctl2:10.231.2.12");
    const redis = byId(root, "redis-clone");
    assert.equal(nv(directChild(redis, "meta_attributes"), "promotable"), "true");
    assert.equal(nv(directChild(redis, "meta_attributes"), "promoted-max"), "1");
    const cinder = byId(root, "openstack-cinder-volume");
    assert.equal(cinder.parentNode?.tagName, "resources", "cinder-volume is a single top-level primitive");
    assert.equal(cinder.getAttribute("class"), "systemd");
  });

  it("every systemdServices entry gets a Restart=always drop-in on every node", () => {
    for (const host of ["ctl0", "ctl1", "ctl2"]) {
      for (const unit of ["openstack-nova-api", "openstack-glance-api", "httpd"]) {
        const d = fileOf(lw.files, host, `/etc/systemd/system/${unit}.service.d/haforge-restart.conf`);
        assert.match(d.content, /^\[Service\]\nRestart=always\n/m);
        assert.match(d.content, /^\[Unit\]\nStartLimitIntervalSec=0\n/m, "retry forever: no start limit");
        assert.deepEqual(d.notify, [unit]);
      }
    }
  });

  it("the OpenStack services left to systemd retry their database and broker forever: one oslo.config drop-in per project", () => {
    for (const host of ["ctl0", "ctl1", "ctl2"]) {
      const nova = fileOf(lw.files, host, "/etc/nova/nova.conf.d/50-haforge-ha-retry.conf");
      assert.match(nova.content, /^\[database\]\n(?:#.*\n)*max_retries = -1$/m, "oslo.db: retry forever at startup");
      assert.match(nova.content, /^\[oslo_messaging_rabbit\]\n/m);
      assert.deepEqual([nova.mode, nova.owner, nova.secret], ["0644", "root", false]);
      assert.deepEqual(nova.notify, ["openstack-nova-api"]);
      fileOf(lw.files, host, "/etc/glance/glance.conf.d/50-haforge-ha-retry.conf");
      // httpd is no OpenStack project of its own: nothing for it.
      assert.ok(!lw.files.some((f) => f.host === host && /\/etc\/httpd\//.test(f.path)));
    }
    assert.equal(osloProject("openstack-nova-conductor"), "nova");
    assert.equal(osloProject("neutron-server.service"), "neutron");
    assert.equal(osloProject("memcached"), undefined);
    assert.equal(osloProject("httpd"), undefined);
  });

  it("only the managed services; supervisor nodes get ocf:heartbeat:anything and no drop-ins", () => {
    const onSupervisor: ClusterPlan = {
      ...withCluster(lightweightPlan, (c) => ({
        ...c,
        spec: { ...c.spec, lightweight: { ...c.spec.lightweight!, managed: ["haproxy", "cinder-volume"] } },
      })),
      hosts: lightweightPlan.hosts.map((h) => ({ ...h, init: "supervisor" as const })),
    };
    const r = render(onSupervisor);
    const cib = parseCib(fileOf(r.files, "ctl1", cibPath("overcloud")).content);
    const ids = all(cib, "primitive").map((p) => p.getAttribute("id"));
    assert.deepEqual(ids, ["ip-internal", "ip-public", "haproxy", "openstack-cinder-volume"]);
    const hp = byId(cib, "haproxy");
    assert.deepEqual([hp.getAttribute("class"), hp.getAttribute("type")], ["ocf", "anything"]);
    assert.equal(nv(hp, "binfile"), "/usr/sbin/haproxy");
    assert.ok(!r.files.some((f) => f.path.includes(".service.d/")));
  });

  it("pacemaker.layout lightweight without a lightweight section still renders the managed services", () => {
    const bare = withCluster(lightweightPlan, (c) => {
      const { lightweight: _omit, ...spec } = c.spec;
      return { ...c, spec };
    });
    const cib = parseCib(fileOf(render(bare).files, "ctl0", cibPath("overcloud")).content);
    for (const id of ["haproxy-clone", "rabbitmq-clone", "galera-clone", "redis-clone", "openstack-cinder-volume"]) byId(cib, id);
    const perService: ClusterPlan = { ...bare, pacemakerLayout: "per-service" };
    assert.equal(all(parseCib(fileOf(render(perService).files, "ctl0", cibPath("overcloud")).content), "primitive").length, 0);
  });
});

describe("pacemaker render: services, actions, materials", () => {
  it("corosync and pacemaker for the host's init system, with health gates and the rolling group", () => {
    const r = render(threeNodePlan);
    const coro = r.services.find((s) => s.host === "db3" && s.name === "corosync")!;
    assert.equal(coro.manager, "supervisor");
    assert.equal(coro.rollGroup, "pacemaker:db");
    // quorum gate, except right after a new member's first start (firstStartAware)
    // quorate, and the whole Pacemaker cluster back when Pacemaker runs here
    assert.equal(coro.health, firstStartAware({ ...coro, health: corosyncRollHealth("supervisor") }).health);
    assert.match(
      coro.health ?? "",
      new RegExp(`\\|\\| \\{ ${COROSYNC_HEALTH.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} && \\{ ! supervisorctl status pacemaker`),
    );
    assert.match(
      coro.restart,
      new RegExp(`&& /bin/sh ${COROSYNC_APPLY_SCRIPT}$`),
      "a corosync change goes through corosync-apply.sh, never a bare restart",
    );
    assert.equal(coro.reload, "corosync-cfgtool -R");
    const pcmk = r.services.find((s) => s.host === "db3" && s.name === "pacemaker")!;
    assert.equal(pcmk.health, firstStartAware({ ...pcmk, health: PACEMAKER_HEALTH }).health);
    assert.equal(pcmk.rollGroup, "pacemaker:db");
    assert.match(fileOf(r.files, "db3", "/etc/supervisor/conf.d/corosync.conf").content, /^command=\/usr\/sbin\/corosync -f$/m);
    assert.match(fileOf(r.files, "db3", "/etc/supervisor/conf.d/pacemaker.conf").content, /^command=\/usr\/sbin\/pacemakerd$/m);
    const sd = render(lightweightPlan);
    assert.equal(
      sd.files.find((f) => f.path === "/etc/systemd/system/pacemaker.service"),
      undefined,
      "the packaged pacemaker.service stays",
    );
    assert.equal(sd.services.find((s) => s.host === "ctl2" && s.name === "corosync")!.manager, "systemd");
  });

  it("one CIB action on the first node, triggered by the CIB and the script, after every membership action", () => {
    const r = render(threeNodePlan);
    const cib = r.actions.filter((a) => a.id.endsWith(":cib"));
    assert.equal(cib.length, 1);
    assert.equal(cib[0]!.host, "db1");
    assert.equal(cib[0]!.id, "pacemaker:db:cib");
    assert.equal(cib[0]!.create, cibApplyCommand("/var/lib/haforge/pacemaker/db/cib.xml"));
    assert.match(
      cib[0]!.create,
      /^\/bin\/sh \/usr\/local\/lib\/haforge\/cib-apply\.sh -a 5 -r 30 -k cluster-infrastructure .* \/var\/lib\/haforge\/pacemaker\/db\/cib\.xml$/,
    );
    assert.deepEqual(cib[0]!.triggers, ["/var/lib/haforge/pacemaker/db/cib.xml", CIB_APPLY_SCRIPT]);
    assert.deepEqual(cib[0]!.dependsOn, ["pacemaker:db:member:db1", "pacemaker:db:member:db2", "pacemaker:db:member:db3"]);
    assert.equal(new Set(r.actions.map((a) => a.id)).size, r.actions.length);
  });

  it("membership actions run on another node; their delete removes the node once it stopped (reload, then crm_node -R)", () => {
    const r = render(threeNodePlan);
    const m1 = r.actions.find((a) => a.id === "pacemaker:db:member:db1")!;
    assert.equal(m1.host, "db2");
    assert.equal(m1.delete, memberRemoveCommand("db1", threeNodePlan.pacemakerClusters[0]!.nodes[0]!.nodeid, "db"));
    assert.match(
      m1.delete,
      /corosync-cfgtool -R >\/dev\/null \|\| exit 1; .*crm_node --force -R 'db1'.*still lists "'db1'" after 15 removals/,
    );
    assert.match(m1.create, /crm_node -l/);
    assert.match(m1.create, /-lt 60/, "bounded wait");
    assert.equal(r.actions.find((a) => a.id === "pacemaker:db:member:db3")!.host, "db1");
    const solo = render(singleNodePlan).actions.find((a) => a.id === "pacemaker:solo:member:solo1")!;
    assert.equal(solo.host, "solo1");
  });

  it("materials: the corosync authkey (256 random bytes) per crypto cluster, the remote key when there are remotes", () => {
    assert.deepEqual(renderPart.materials!(threeNodePlan), [
      {
        key: "corosync/authkey/db",
        kind: { type: "random-bytes", bytes: 256 },
        description: "Corosync authkey of cluster db (totem crypto)",
      },
      { key: "pacemaker/authkey/db", kind: { type: "random-bytes", bytes: 4096 }, description: "Pacemaker remote authkey of cluster db" },
    ]);
    assert.deepEqual(
      renderPart.materials!(fencingPlan).map((m) => m.key),
      ["corosync/authkey/nfs"],
    );
  });

  it("is wired into the service module", () => {
    assert.equal(pacemakerService.render, renderPart.render);
    assert.equal(pacemakerService.materials, renderPart.materials);
  });

  it("renders byte-identical output twice", () => {
    for (const plan of [threeNodePlan, lightweightPlan, fencingPlan, qdevicePlan]) {
      assert.deepEqual(render(plan), render(plan));
    }
  });
});

describe("pacemaker render: through the whole pipeline", () => {
  it("renderDesiredState keeps every file once per host and the action graph closed", () => {
    for (const plan of [threeNodePlan, lightweightPlan, fencingPlan]) {
      const state = renderDesiredState(plan, {}, fixtureMaterials);
      assert.deepEqual(checkDesiredState(state), []);
      assert.ok(state.hosts.some((h) => h.files.some((f) => f.path === "/etc/corosync/corosync.conf")));
    }
  });

  // The example inventories, planned by the real plan step.
  for (const file of ["lab.yaml", "openstack-pacemaker.yaml", "tripleo-lightweight.yaml"]) {
    it(`inventories/${file}: every cluster renders its corosync.conf, CIB and actions`, () => {
      const loaded = loadInventoryFile(`inventories/${file}`);
      assert.ok(loaded.inventory, JSON.stringify(loaded.findings));
      const { plan, findings } = planCluster(loaded.inventory);
      assert.ok(plan, JSON.stringify(findings));
      assert.ok(plan.pacemakerClusters.length > 0);
      const materials = Object.fromEntries(
        (renderPart.materials!(plan) ?? []).map((m) => [
          m.key,
          Buffer.alloc(m.kind.type === "random-bytes" ? m.kind.bytes : 16, 1).toString("base64"),
        ]),
      );
      const r = render(plan, materials);
      for (const c of plan.pacemakerClusters) {
        for (const n of c.nodes) {
          assert.match(fileOf(r.files, n.host, "/etc/corosync/corosync.conf").content, new RegExp(`cluster_name: ${c.name}\n`));
          const root = parseCib(fileOf(r.files, n.host, cibPath(c.name)).content);
          assert.equal(nv(byId(root, "cib-bootstrap-options"), "stonith-enabled"), String(c.stonithEnabled));
          assert.equal(all(root, "node").length, c.nodes.length);
        }
        assert.ok(r.actions.some((a) => a.id === `pacemaker:${c.name}:cib` && a.host === c.nodes[0]!.host));
      }
      if (plan.pacemakerLayout === "lightweight") {
        const c = plan.pacemakerClusters[0]!;
        const root = parseCib(fileOf(r.files, c.nodes[0]!.host, cibPath(c.name)).content);
        byId(root, "haproxy-clone");
      }
    });
  }
});
