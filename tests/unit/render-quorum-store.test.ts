/**
 * Quorum store render (etcd, consul): structure. etcd's real verdict is tests/system/etcd.test.ts
 * (a 3-member cluster boots from these files). consul is not packaged by Debian and cannot run
 * here, so its HCL is checked structurally: every line parses, every key is a documented one.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import yaml from "js-yaml";
import { renderTemplate } from "../../src/render/templates";
import { checkDesiredState, renderDesiredState } from "../../src/pipeline/render";
import { loadInventoryFile } from "../../src/inventory/load";
import { planCluster } from "../../src/pipeline/plan";
import {
  CONSUL_CONFIG,
  ETCD_CONFIG,
  ETCD_DATA_DIR,
  ETCD_SEED,
  ETCD_START,
  consulGossipKeyMaterial,
  renderPart,
} from "../../src/services/quorum-store/render";
import type { ClusterPlan } from "../../src/plan/types";
import type { SecretValues } from "../../src/core/secrets";
import type { Materials } from "../../src/core/materials";
import { CONSUL_GOSSIP_KEY, consulPlan, etcdPlan, etcdSlice } from "../fixtures/quorum-store-plan";

const render = (plan: ClusterPlan, secrets: SecretValues = {}, materials: Materials = {}) =>
  renderPart.render!({ plan, secrets, materials, template: renderTemplate });

/**
 * Keys of etcd 3.4's --config-file (etcd.conf.yml.sample in the etcd repository). etcd decodes
 * the file into a struct and silently IGNORES unknown keys, so a typo would pass every check.
 */
const ETCD_KEYS = new Set([
  "name",
  "data-dir",
  "wal-dir",
  "snapshot-count",
  "heartbeat-interval",
  "election-timeout",
  "quota-backend-bytes",
  "listen-peer-urls",
  "listen-client-urls",
  "max-snapshots",
  "max-wals",
  "cors",
  "initial-advertise-peer-urls",
  "advertise-client-urls",
  "discovery",
  "discovery-fallback",
  "discovery-proxy",
  "discovery-srv",
  "initial-cluster",
  "initial-cluster-token",
  "initial-cluster-state",
  "strict-reconfig-check",
  "enable-v2",
  "enable-pprof",
  "proxy",
  "proxy-failure-wait",
  "proxy-refresh-interval",
  "proxy-dial-timeout",
  "proxy-write-timeout",
  "proxy-read-timeout",
  "client-transport-security",
  "peer-transport-security",
  "debug",
  "logger",
  "log-outputs",
  "force-new-cluster",
  "auto-compaction-mode",
  "auto-compaction-retention",
]);

/** Top-level keys and blocks of a consul agent config (developer.hashicorp.com/consul/docs/agent/config/config-files). */
const CONSUL_KEYS = new Set([
  "node_name",
  "datacenter",
  "server",
  "bootstrap_expect",
  "data_dir",
  "bind_addr",
  "advertise_addr",
  "client_addr",
  "retry_join",
  "encrypt",
  "disable_update_check",
  "leave_on_terminate",
  "ui_config",
  "ports",
  "log_level",
]);
const CONSUL_BLOCK_KEYS: Record<string, Set<string>> = {
  ui_config: new Set(["enabled", "dir", "content_path"]),
  ports: new Set(["dns", "http", "https", "grpc", "serf_lan", "serf_wan", "server"]),
};

/**
 * A structural HCL reader for what we render: `key = <JSON literal>` lines and one-level
 * `name { ... }` blocks, `#` comments. Throws on anything else (so an unbalanced brace or a bad
 * literal fails the test).
 */
function parseFlatHcl(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let block: Record<string, unknown> | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (line === "}") {
      if (!block) throw new Error(`line ${i + 1}: unbalanced }`);
      block = undefined;
      return;
    }
    const open = /^([a-z_]+)\s*\{$/.exec(line);
    if (open) {
      if (block) throw new Error(`line ${i + 1}: nested block`);
      block = {};
      out[open[1]!] = block;
      return;
    }
    const kv = /^([a-z_]+)\s*=\s*(.+)$/.exec(line);
    if (!kv) throw new Error(`line ${i + 1}: not HCL we render: ${line}`);
    (block ?? out)[kv[1]!] = JSON.parse(kv[2]!);
  });
  if (block) throw new Error("unterminated block");
  return out;
}

describe("etcd render", () => {
  const plan = etcdPlan();
  const r = render(plan);

  test("one config, seed, start script and unit per member; no materials", () => {
    assert.deepEqual(renderPart.materials!(plan), []);
    assert.deepEqual(
      r.files.map((f) => [f.host, f.path]),
      [
        ["db1", ETCD_CONFIG],
        ["db1", ETCD_SEED],
        ["db1", ETCD_START],
        ["db1", "/etc/systemd/system/etcd.service.d/50-haforge.conf"],
        ["db2", ETCD_CONFIG],
        ["db2", ETCD_SEED],
        ["db2", ETCD_START],
        ["db2", "/etc/systemd/system/etcd.service.d/50-haforge.conf"],
        ["db3", ETCD_CONFIG],
        ["db3", ETCD_SEED],
        ["db3", ETCD_START],
        ["db3", "/etc/supervisor/conf.d/etcd.conf"],
      ],
    );
  });

  test("etcd.yml: documented keys only, URLs on the internal address, loopback client listener", () => {
    const doc = yaml.load(r.files.find((f) => f.host === "db2" && f.path === ETCD_CONFIG)!.content) as Record<string, unknown>;
    for (const k of Object.keys(doc)) assert.ok(ETCD_KEYS.has(k), `unknown etcd key ${k}`);
    assert.deepEqual(doc, {
      name: "db2",
      "data-dir": ETCD_DATA_DIR,
      "listen-peer-urls": "http://10.213.37.12:2380",
      "initial-advertise-peer-urls": "http://10.213.37.12:2380",
      "listen-client-urls": "http://10.213.37.12:2379,http://127.0.0.1:2379",
      "advertise-client-urls": "http://10.213.37.12:2379",
      "initial-cluster-token": "haforge-fixture",
      "enable-v2": true,
    });
    // the membership a member starts with the first time is in the seed (etcd-start.sh)
    const seed = yaml.load(r.files.find((f) => f.host === "db2" && f.path === ETCD_SEED)!.content) as Record<string, unknown>;
    for (const k of Object.keys(seed)) assert.ok(ETCD_KEYS.has(k), `unknown etcd key ${k}`);
    assert.deepEqual(seed, {
      "initial-cluster": "db1=http://10.213.37.11:2380,db2=http://10.213.37.12:2380,db3=http://10.213.37.13:2380",
      "initial-cluster-state": "new",
    });
  });

  test("heartbeat-interval and election-timeout: in etcd.yml (numbers) when the inventory sets them, absent otherwise", () => {
    // Absent by default: a haforge upgrade does not change etcd.yml, so it restarts no member.
    for (const f of r.files.filter((x) => x.path === ETCD_CONFIG)) assert.doesNotMatch(f.content, /heartbeat-interval|election-timeout/);
    const timed = render({ ...plan, quorumStore: { ...etcdSlice(), heartbeatIntervalMs: 250, electionTimeoutMs: 2500 } });
    const configs = timed.files.filter((f) => f.path === ETCD_CONFIG);
    assert.equal(configs.length, 3);
    for (const f of configs) {
      const doc = yaml.load(f.content) as Record<string, unknown>;
      for (const k of Object.keys(doc)) assert.ok(ETCD_KEYS.has(k), `unknown etcd key ${k}`);
      assert.equal(doc["heartbeat-interval"], 250);
      assert.equal(doc["election-timeout"], 2500);
      // etcd has no reload: the file restarts the member, one member at a time, gated
      assert.deepEqual(f.notify, ["etcd"]);
    }
    assert.ok(timed.services.every((s) => s.rollGroup === "etcd" && !s.reload));
  });

  test("enableV2 false renders enable-v2: false; IPv6 members are bracketed", () => {
    const v6 = render({
      ...plan,
      quorumStore: { ...etcdSlice(), enableV2: false, members: [{ host: "db1", name: "db1", address: "fd00::1", storeOnly: false }] },
    });
    const doc = yaml.load(v6.files[0]!.content) as Record<string, unknown>;
    assert.equal(doc["enable-v2"], false);
    assert.equal(doc["listen-peer-urls"], "http://[fd00::1]:2380");
  });

  test("service: etcd --config-file as user etcd, quorum health on loopback, rollGroup etcd", () => {
    for (const s of r.services) {
      assert.equal(s.name, "etcd");
      assert.equal(s.rollGroup, "etcd");
      assert.ok(plan.rollingGroups.some((g) => g.id === s.rollGroup));
      // the quorum read gates every restart but a new member's first start (firstStartAware)
      assert.match(
        s.health ?? "",
        // the local member's quorum read, then every listed member's (none down before the next restarts)
        /^if \[ -e \/run\/haforge\/first-start\/etcd \]; then .*; else (ETCDCTL_API=3 etcdctl --endpoints=http:\/\/127\.0\.0\.1:2379 --dial-timeout=3s --command-timeout=5s) endpoint health && \1 endpoint health --cluster; fi$/,
      );
    }
    // Debian's etcd.service (Type=notify, User=etcd) stays; the drop-in only points ExecStart at our file.
    const dropIn = r.files.find((f) => f.path === "/etc/systemd/system/etcd.service.d/50-haforge.conf")!.content;
    assert.equal(
      dropIn,
      "# Managed by haforge\n[Service]\nExecStart=\nExecStart=/bin/sh /usr/local/lib/haforge/etcd-start.sh /etc/haforge/etcd/etcd.yml /etc/haforge/etcd/initial-cluster.yml\n",
    );
    const sup = r.files.find((f) => f.path === "/etc/supervisor/conf.d/etcd.conf")!.content;
    assert.match(sup, /^user=etcd$/m);
  });

  test("deterministic, and nothing without a quorum store", () => {
    assert.deepEqual(render(plan), r);
    assert.deepEqual(render({ ...plan, quorumStore: undefined }), { files: [], services: [], actions: [] });
  });
});

describe("consul render (structural: consul is not in Debian, `consul validate` cannot run here)", () => {
  test("consul.hcl: parses, documented keys, servers with bootstrap_expect, retry_join the others", () => {
    const plan = consulPlan();
    const r = render(plan, { "secret:consulGossipKey": CONSUL_GOSSIP_KEY });
    const f = r.files.find((x) => x.host === "db1" && x.path === CONSUL_CONFIG)!;
    assert.deepEqual([f.mode, f.owner, f.group, f.secret], ["0640", "root", "consul", true]);
    assert.equal(f.validate, "consul validate -quiet -config-format=hcl {file}");
    const doc = parseFlatHcl(f.content);
    for (const k of Object.keys(doc)) assert.ok(CONSUL_KEYS.has(k), `unknown consul key ${k}`);
    for (const [b, keys] of Object.entries(CONSUL_BLOCK_KEYS))
      for (const k of Object.keys(doc[b] ?? {})) assert.ok(keys.has(k), `${b}.${k}`);
    assert.deepEqual(doc, {
      node_name: "db1",
      datacenter: "dc1",
      server: true,
      bootstrap_expect: 3,
      data_dir: "/var/lib/consul",
      bind_addr: "10.213.37.11",
      advertise_addr: "10.213.37.11",
      client_addr: "127.0.0.1 10.213.37.11",
      retry_join: ["10.213.37.12:8301", "10.213.37.13:8301"],
      encrypt: CONSUL_GOSSIP_KEY,
      disable_update_check: true,
      leave_on_terminate: false,
      ui_config: { enabled: false },
      ports: { http: 8500, serf_lan: 8301 },
    });
    assert.equal(Buffer.from(doc["encrypt"], "base64").length, 32, "gossip key is 32 bytes");
    assert.equal(renderPart.materials!(plan).length, 0, "the key comes from the secret");
  });

  test("no encryptKey: a generated 32-byte key material is used", () => {
    const plan = consulPlan(false);
    const specs = renderPart.materials!(plan);
    assert.deepEqual(
      specs.map((s) => [s.key, s.kind]),
      [[consulGossipKeyMaterial(plan.quorumStore!), { type: "random-bytes", bytes: 32 }]],
    );
    const r = render(plan, {}, { [specs[0]!.key]: "bWF0ZXJpYWxtYXRlcmlhbG1hdGVyaWFsbWF0ZXJpYWw=" });
    assert.equal(
      parseFlatHcl(r.files.find((f) => f.path === CONSUL_CONFIG)!.content)["encrypt"],
      "bWF0ZXJpYWxtYXRlcmlhbG1hdGVyaWFsbWF0ZXJpYWw=",
    );
    // Without the material: a marker, never a throw.
    assert.match(render(plan).files.find((f) => f.path === CONSUL_CONFIG)!.content, /__HAFORGE_MISSING_MATERIAL_consul_gossip_key_/);
  });

  test("service: consul agent -config-dir as user consul, HUP reload, leader health, rollGroup consul", () => {
    const plan = consulPlan();
    const r = render(plan, { "secret:consulGossipKey": CONSUL_GOSSIP_KEY });
    const s = r.services.find((x) => x.host === "db3")!;
    assert.equal(s.name, "consul");
    assert.equal(s.rollGroup, "consul");
    assert.equal(s.reload, "supervisorctl signal HUP consul");
    assert.match(s.health!, /http:\/\/127\.0\.0\.1:8500\/v1\/status\/leader/);
    const unit = r.files.find((f) => f.host === "db1" && f.path === "/etc/systemd/system/consul.service")!.content;
    assert.match(unit, /^ExecStart=\/usr\/bin\/consul agent -config-dir=\/etc\/consul\.d$/m);
  });
});

describe("quorum store over the example inventories", () => {
  for (const name of ["cloudify.yaml", "lab.yaml"]) {
    test(`${name}: every store member gets etcd.yml and a seed naming all members`, () => {
      const loaded = loadInventoryFile(join(__dirname, "..", "..", "inventories", name));
      assert.ok(loaded.inventory, JSON.stringify(loaded.findings));
      const { plan, findings } = planCluster(loaded.inventory);
      assert.ok(plan?.quorumStore, JSON.stringify(findings));
      const state = renderDesiredState(plan, {}, {});
      assert.deepEqual(checkDesiredState(state), []);
      for (const m of plan.quorumStore.members) {
        const f = state.hosts.find((h) => h.host === m.host)!.files.find((x) => x.path === ETCD_SEED)!;
        const doc = yaml.load(f.content) as Record<string, string>;
        const conf = yaml.load(state.hosts.find((h) => h.host === m.host)!.files.find((x) => x.path === ETCD_CONFIG)!.content) as Record<
          string,
          string
        >;
        assert.equal(conf["name"], m.name);
        for (const p of plan.quorumStore.members)
          assert.ok(doc["initial-cluster"]!.includes(`${p.name}=http://${p.address}:${plan.quorumStore.peerPort}`));
      }
    });
  }
});
