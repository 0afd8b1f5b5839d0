/**
 * The real daemons judge what the Pacemaker renderer produces (no skipping: a missing tool or a
 * namespace that cannot be created is a failure).
 *
 * - `crm_verify --xml-file` on every rendered CIB (rc 0), and on broken ones (non-zero).
 * - `corosync -t -c` on every rendered corosync.conf, inside a network namespace of our own where
 *   the fixtures' node addresses are local (the check looks for the local node), with the rendered
 *   authkey (raw bytes, decoded from the material) beside it; negative cases give rc 8.
 * - The FileSpec.validate commands themselves, run the way the host runs them (`{file}` -> "$1").
 * - cib-apply.sh against a CIB file standing in for the live CIB (CIB_file), then against a REAL
 *   one-node cluster (corosync + pacemakerd in private network/mount/pid namespaces): patch,
 *   idempotence, the controller's properties and the status kept, the health gates.
 *
 * Run: node --import tsx --test --test-concurrency=1 tests/system/pacemaker.test.ts
 * Needs root (network namespaces, mounts). Everything started is stopped by recorded PID.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileBytes, type FileSpec } from "../../src/core/desired-state";
import type { ClusterPlan, PacemakerClusterPlan } from "../../src/plan/types";
import { renderTemplate } from "../../src/render/templates";
import { cibPath } from "../../src/services/pacemaker/cib";
import {
  CIB_APPLY_SCRIPT,
  COROSYNC_APPLIED,
  COROSYNC_HEALTH,
  PACEMAKER_HEALTH,
  cibApplyCommand,
  renderPart,
} from "../../src/services/pacemaker/render";
import { loadInventoryFile } from "../../src/inventory/load";
import { spawnNsInit } from "./pacemaker-cluster";
import { planCluster } from "../../src/pipeline/plan";
import { fencingPlan, fixtureMaterials, lightweightPlan, qdevicePlan, singleNodePlan, threeNodePlan } from "../fixtures/pacemaker-plan";

interface Run {
  readonly rc: number;
  readonly out: string;
}

/** Run a command (bounded), stdout+stderr together. */
function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, timeout: timeoutMs });
  if (r.error) throw r.error;
  return { rc: r.status ?? 128 + (r.signal ? 9 : 0), out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

const sh = (script: string, env: NodeJS.ProcessEnv = {}, timeoutMs?: number): Run => run("sh", ["-c", script], env, timeoutMs);

/** A FileSpec.validate command run the way the host runs it: `{file}` becomes "$1". */
const runValidate = (validate: string, file: string, prefix: readonly string[] = []): Run =>
  run(prefix[0] ?? "sh", [
    ...prefix.slice(1),
    ...(prefix.length ? ["sh"] : []),
    "-c",
    validate.split("{file}").join(`"$1"`),
    "haforge-validate",
    file,
  ]);

/** Deterministic stand-ins for generated material: fixed bytes of the requested size. */
const testMaterials = (plan: ClusterPlan): Record<string, string> => ({
  ...Object.fromEntries(
    (renderPart.materials!(plan) ?? []).map((m) => [
      m.key,
      Buffer.alloc(m.kind.type === "random-bytes" ? m.kind.bytes : 16, 0x5a).toString("base64"),
    ]),
  ),
  ...fixtureMaterials,
});

const render = (plan: ClusterPlan) => renderPart.render!({ plan, secrets: {}, materials: testMaterials(plan), template: renderTemplate });

const withCluster = (plan: ClusterPlan, f: (c: PacemakerClusterPlan) => PacemakerClusterPlan): ClusterPlan => ({
  ...plan,
  pacemakerClusters: plan.pacemakerClusters.map(f),
});

const work = mkdtempSync(join(tmpdir(), "haforge-pcmk-"));

/** Write a host's rendered file under `work/<tag>/<host><path>` (decoded bytes) and return its path. */
function materialize(tag: string, f: FileSpec): string {
  const p = join(work, tag, f.host, f.path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, fileBytes(f));
  return p;
}

const fileOf = (files: readonly FileSpec[], host: string, path: string): FileSpec => {
  const f = files.find((x) => x.host === host && x.path === path);
  assert.ok(f, `no ${path} on ${host}`);
  return f;
};

/** The first node's CIB of a plan, written to disk. */
function writeCib(tag: string, plan: ClusterPlan): string {
  const c = plan.pacemakerClusters[0]!;
  return materialize(tag, fileOf(render(plan).files, c.nodes[0]!.host, cibPath(c.name)));
}

/** The first node's corosync.conf with its authkey beside it (keyfile pointed there). */
function writeCorosync(tag: string, plan: ClusterPlan, host?: string): string {
  const c = plan.pacemakerClusters[0]!;
  const h = host ?? c.nodes[0]!.host;
  const files = render(plan).files;
  const conf = fileOf(files, h, "/etc/corosync/corosync.conf");
  const key = files.find((f) => f.host === h && f.path === "/etc/corosync/authkey");
  const keyPath = key ? materialize(tag, key) : "/nonexistent-authkey";
  const p = join(work, tag, h, "corosync.conf");
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, conf.content.replace("keyfile: /etc/corosync/authkey", `keyfile: ${keyPath}`));
  return p;
}

const verdicts: string[] = [];
const record = (what: string, r: Run): void => {
  const lines = r.out
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "");
  const last = lines.filter((l) => l.startsWith("cib-apply:")).slice(-1)[0] ?? lines.slice(-1)[0] ?? "";
  verdicts.push(`${what}: rc ${r.rc}${last ? ` (${last.trim().slice(0, 140)})` : ""}`);
};

const NEEDED = [
  "corosync",
  "crm_verify",
  "cibadmin",
  "crm_diff",
  "crm_mon",
  "crm_node",
  "corosync-quorumtool",
  "corosync-cfgtool",
  "pacemakerd",
  "ip",
  "nsenter",
  "unshare",
];

before(() => {
  const missing = NEEDED.filter((b) => sh(`command -v ${b}`).rc !== 0);
  assert.deepEqual(missing, [], `tools missing on this machine: ${missing.join(", ")}`);
  assert.equal(process.getuid?.(), 0, "system tests need root (network namespaces, mounts)");
});

after(() => {
  rmSync(work, { recursive: true, force: true });
  // The verdicts, for the report (node --test prints diagnostics from stdout of the test file).
  console.log(`# pacemaker system verdicts\n${verdicts.map((v) => `#   ${v}`).join("\n")}`);
});

// ---------------------------------------------------------------------------------------------

describe("crm_verify --xml-file on the rendered CIB", () => {
  const fixtures: [string, ClusterPlan][] = [
    ["3-node", threeNodePlan],
    ["lightweight", lightweightPlan],
    ["fencing", fencingPlan],
    ["qdevice", qdevicePlan],
    ["single", singleNodePlan],
  ];
  for (const [tag, plan] of fixtures) {
    it(`${tag}: rc 0`, () => {
      const cib = writeCib(`verify-${tag}`, plan);
      const r = run("crm_verify", ["--xml-file", cib]);
      record(`crm_verify ${tag}`, r);
      assert.equal(r.rc, 0, r.out);
    });
  }

  it("the FileSpec.validate of every CIB and key file passes as the host would run it", () => {
    for (const [tag, plan] of fixtures) {
      for (const f of render(plan).files.filter((x) => x.validate && !x.path.endsWith("corosync.conf"))) {
        const r = runValidate(f.validate!, materialize(`validate-${tag}`, f));
        assert.equal(r.rc, 0, `${tag} ${f.host}:${f.path}: ${f.validate}\n${r.out}`);
      }
    }
    const broken = materialize("validate-broken", { ...fileOf(render(fencingPlan).files, "nfs1", "/etc/corosync/authkey"), content: "" });
    const r = runValidate(fileOf(render(fencingPlan).files, "nfs1", "/etc/corosync/authkey").validate!, broken);
    record("authkey validate on an empty key", r);
    assert.notEqual(r.rc, 0, "an empty authkey must be refused");
  });

  it("negative: a constraint referencing an unknown resource is refused (rc 78)", () => {
    const dangling = withCluster(threeNodePlan, (c) => ({
      ...c,
      spec: {
        ...c.spec,
        constraints: {
          ...c.spec.constraints,
          colocation: [...c.spec.constraints.colocation, { id: "col-ghost", resource: "vip-db", with: "ghost", score: "INFINITY" }],
        },
      },
    }));
    const r = run("crm_verify", ["--xml-file", writeCib("verify-dangling", dangling)]);
    record("crm_verify dangling colocation", r);
    assert.notEqual(r.rc, 0);
    assert.equal(r.rc, 78, r.out);
  });

  it("negative: stonith-enabled with no fencing device is refused (rc 78)", () => {
    const noDevice = withCluster(fencingPlan, (c) => ({ ...c, stonithEnabled: true, spec: { ...c.spec, fencing: [] } }));
    const r = run("crm_verify", ["--xml-file", writeCib("verify-nostonith", noDevice)]);
    record("crm_verify stonith-enabled without devices", r);
    assert.equal(r.rc, 78, r.out);
  });
});

// ---------------------------------------------------------------------------------------------

describe("corosync -t -c in a network namespace with the node addresses", () => {
  const nsLocal = `hf-test-${process.pid}-cs`;
  const nsEmpty = `hf-test-${process.pid}-empty`;
  // First node of each fixture, every link.
  const local = ["10.231.0.11", "10.231.1.11", "10.231.2.10", "10.231.4.11", "10.231.5.11"];

  before(() => {
    for (const [cmd, ...args] of [
      ["ip", "netns", "add", nsLocal],
      ["ip", "netns", "add", nsEmpty],
      ["ip", "-n", nsLocal, "link", "add", "hf0", "type", "veth", "peer", "name", "hf1"],
      ...local.map((a) => ["ip", "-n", nsLocal, "addr", "add", `${a}/24`, "dev", "hf0"]),
      ["ip", "-n", nsLocal, "link", "set", "hf0", "up"],
      ["ip", "-n", nsLocal, "link", "set", "hf1", "up"],
      ["ip", "-n", nsLocal, "link", "set", "lo", "up"],
      ["ip", "-n", nsEmpty, "link", "set", "lo", "up"],
    ] as string[][]) {
      const r = run(cmd!, args);
      assert.equal(r.rc, 0, `${cmd} ${args.join(" ")}: ${r.out}`);
    }
  });
  after(() => {
    run("ip", ["netns", "del", nsLocal]);
    run("ip", ["netns", "del", nsEmpty]);
  });

  const check = (ns: string, conf: string): Run => run("ip", ["netns", "exec", ns, "corosync", "-t", "-c", conf]);

  for (const [tag, plan] of [
    ["3-node (2 knet links, aes256/sha256)", threeNodePlan],
    ["lightweight", lightweightPlan],
    ["fencing (two_node, aes128/sha512)", fencingPlan],
    ["qdevice (lms)", qdevicePlan],
    ["single", singleNodePlan],
  ] as [string, ClusterPlan][]) {
    it(`${tag}: rc 0`, () => {
      const r = check(nsLocal, writeCorosync(`cs-${tag.split(" ")[0]}`, plan));
      record(`corosync -t ${tag}`, r);
      assert.equal(r.rc, 0, r.out);
    });
  }

  it("the FileSpec.validate command (`corosync -t -c {file}`) passes on the node", () => {
    const conf = writeCorosync("cs-validate", threeNodePlan);
    const f = fileOf(render(threeNodePlan).files, "db1", "/etc/corosync/corosync.conf");
    // Its transport/crypto guard reads corosync-apply.sh's record and `pidof corosync`: other
    // tests' corosyncs are visible from here, so the guard is pointed at a node without a record
    // (tests/unit/corosync-wire.test.ts).
    const v = f.validate!.split(`'${COROSYNC_APPLIED}'`).join("'/nonexistent/corosync.conf'");
    assert.notEqual(v, f.validate);
    const r = runValidate(v, conf, ["ip", "netns", "exec", nsLocal]);
    assert.equal(r.rc, 0, r.out);
  });

  it("negative: no local address in the nodelist gives rc 8", () => {
    const r = check(nsEmpty, writeCorosync("cs-notlocal", threeNodePlan));
    record("corosync -t without a local ring address", r);
    assert.equal(r.rc, 8, r.out);
    assert.match(r.out, /No valid name found for local host/);
  });

  it("negative: crypto_cipher without crypto_hash gives rc 8", () => {
    const noHash = withCluster(threeNodePlan, (c) => ({ ...c, spec: { ...c.spec, crypto: { cipher: "aes256", hash: "none" } } }));
    const r = check(nsLocal, writeCorosync("cs-nohash", noHash));
    record("corosync -t crypto_cipher without crypto_hash", r);
    assert.equal(r.rc, 8, r.out);
  });

  it("negative: crypto without the authkey gives rc 8", () => {
    const conf = writeCorosync("cs-nokey", threeNodePlan);
    writeFileSync(conf, readFileSync(conf, "utf8").replace(/keyfile: .*/, "keyfile: /nonexistent-authkey"));
    const r = check(nsLocal, conf);
    record("corosync -t with the authkey missing", r);
    assert.equal(r.rc, 8, r.out);
  });
});

// ---------------------------------------------------------------------------------------------

describe("the example inventories, planned by the real plan step", () => {
  const examples = ["lab.yaml", "openstack-pacemaker.yaml", "tripleo-lightweight.yaml"].flatMap((file) => {
    const { plan } = planCluster(loadInventoryFile(`inventories/${file}`).inventory!);
    assert.ok(plan, file);
    return plan.pacemakerClusters.map((c, i) => ({ file, plan: { ...plan, pacemakerClusters: [c] }, cluster: c, i }));
  });

  for (const { file, plan, cluster, i } of examples) {
    it(`${file} cluster ${cluster.name}: crm_verify rc 0 and corosync -t rc 0 on ${cluster.nodes[0]!.host}`, () => {
      const tag = `example-${file}-${cluster.name}`;
      const v = run("crm_verify", ["--xml-file", writeCib(tag, plan)]);
      record(`crm_verify ${file} ${cluster.name}`, v);
      assert.equal(v.rc, 0, v.out);
      const ns = `hf-test-${process.pid}-ex${i}`;
      try {
        for (const args of [
          ["netns", "add", ns],
          ["-n", ns, "link", "add", "hf0", "type", "veth", "peer", "name", "hf1"],
          ...cluster.nodes[0]!.addrs.map((a) => ["-n", ns, "addr", "add", `${a}/24`, "dev", "hf0"]),
          ["-n", ns, "link", "set", "hf0", "up"],
          ["-n", ns, "link", "set", "lo", "up"],
        ]) {
          const r = run("ip", args);
          assert.equal(r.rc, 0, `ip ${args.join(" ")}: ${r.out}`);
        }
        const c = run("ip", ["netns", "exec", ns, "corosync", "-t", "-c", writeCorosync(tag, plan)]);
        record(`corosync -t ${file} ${cluster.name}`, c);
        assert.equal(c.rc, 0, c.out);
      } finally {
        run("ip", ["netns", "del", ns]);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------

/** A CIB as a running cluster holds it: controller properties, a standby node, a stale resource, status. */
const LIVE_CIB = `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="42" num_updates="17" admin_epoch="0" cib-last-written="Thu Jan  1 00:00:00 2025" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-have-watchdog" name="have-watchdog" value="false"/>
        <nvpair id="cib-bootstrap-options-dc-version" name="dc-version" value="2.1.5-a3f44794f94"/>
        <nvpair id="cib-bootstrap-options-cluster-infrastructure" name="cluster-infrastructure" value="corosync"/>
        <nvpair id="cib-bootstrap-options-cluster-name" name="cluster-name" value="db"/>
        <nvpair id="cib-bootstrap-options-maintenance-mode" name="maintenance-mode" value="true"/>
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="1" uname="db1"><instance_attributes id="nodes-1"><nvpair id="nodes-1-standby" name="standby" value="on"/></instance_attributes></node>
    </nodes>
    <resources><primitive id="stale" class="ocf" provider="heartbeat" type="Dummy"/></resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="db1" in_ccm="true" crmd="online" crm-debug-origin="do_state_transition" join="member" expected="member"/>
  </status>
</cib>
`;

describe("cib-apply.sh against a CIB file (CIB_file)", () => {
  const dir = join(work, "apply-file");
  const live = join(dir, "live.xml");
  let script = "";
  const apply = (cib: string): Run => run("sh", ["-c", cibApplyCommand(cib, script)], { CIB_file: live });
  const query = (scope: string): string => run("cibadmin", ["--query", "--scope", scope], { CIB_file: live }).out;

  before(() => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(live, LIVE_CIB);
    script = materialize("apply-file", fileOf(render(threeNodePlan).files, "db1", CIB_APPLY_SCRIPT));
    chmodSync(script, 0o755);
  });

  it("patches the live CIB: our sections in, the stale resource and foreign property out, controller state kept", () => {
    const r = apply(writeCib("apply-file", threeNodePlan));
    record("cib-apply.sh first apply (CIB_file)", r);
    assert.equal(r.rc, 0, r.out);
    assert.match(r.out, /CIB patched/);
    const resources = query("resources");
    for (const id of ["vip-db", "g-app", "ping-clone", "pgsql-clone", "worker1"]) assert.match(resources, new RegExp(`id="${id}"`));
    assert.doesNotMatch(resources, /id="stale"/);
    const crm = query("crm_config");
    assert.match(crm, /name="dc-version" value="2.1.5-a3f44794f94"/, "controller-owned property kept");
    assert.match(crm, /name="dc-deadtime" value="5s"/);
    assert.doesNotMatch(crm, /maintenance-mode/, "a property haforge does not render is removed");
    const nodes = query("nodes");
    assert.match(nodes, /name="standby" value="on"/, "node attributes are runtime state: kept");
    assert.match(nodes, /uname="db3"/);
    assert.match(query("status"), /crmd="online"/, "status untouched");
    const root = readFileSync(live, "utf8").split("\n")[0]!;
    assert.ok(Number(/ epoch="(\d+)"/.exec(root)![1]) > 42, `epoch moved above the live one: ${root}`);
    assert.match(root, /crm_feature_set="3.16.1"/);
  });

  it("is idempotent: the second run changes nothing", () => {
    const before = readFileSync(live, "utf8");
    const r = apply(writeCib("apply-file", threeNodePlan));
    record("cib-apply.sh second apply (CIB_file)", r);
    assert.equal(r.rc, 0, r.out);
    assert.match(r.out, /already up to date/);
    assert.equal(readFileSync(live, "utf8"), before);
  });

  it("refuses a rendered CIB that does not verify and leaves the live CIB alone", () => {
    const before = readFileSync(live, "utf8");
    const bad = withCluster(threeNodePlan, (c) => ({
      ...c,
      spec: {
        ...c.spec,
        constraints: { ...c.spec.constraints, order: [{ id: "o-ghost", first: "ghost", then: "app", kind: "Mandatory" }] },
      },
    }));
    const r = apply(writeCib("apply-file-bad", bad));
    record("cib-apply.sh with a CIB that does not verify", r);
    assert.equal(r.rc, 3, r.out);
    assert.equal(readFileSync(live, "utf8"), before);
  });
});

// ---------------------------------------------------------------------------------------------

describe("a real one-node cluster: corosync + pacemakerd from the rendered files", () => {
  const ns = `hf-test-${process.pid}-live`;
  const dir = join(work, "live");
  let host: ChildProcess | undefined;
  let inner = 0;
  const inside = (cmd: string, timeoutMs = 60_000): Run =>
    run("nsenter", ["-t", String(inner), "-m", "-u", "-i", "-n", "-p", "--", "sh", "-c", cmd], {}, timeoutMs);

  /** Poll `cmd` inside the host until rc 0 (bounded). */
  const until = async (cmd: string, seconds: number): Promise<{ ok: boolean; last: Run; waited: number }> => {
    const t0 = Date.now();
    let last: Run = { rc: -1, out: "" };
    for (let i = 0; i < seconds * 2; i++) {
      last = inside(cmd, 20_000);
      if (last.rc === 0) return { ok: true, last, waited: (Date.now() - t0) / 1000 };
      await new Promise((res) => setTimeout(res, 500));
    }
    return { ok: false, last, waited: (Date.now() - t0) / 1000 };
  };

  before(async () => {
    mkdirSync(dir, { recursive: true });
    for (const [cmd, ...args] of [
      ["ip", "netns", "add", ns],
      ["ip", "-n", ns, "link", "add", "hf0", "type", "veth", "peer", "name", "hf1"],
      ["ip", "-n", ns, "addr", "add", "10.231.5.11/24", "dev", "hf0"],
      ["ip", "-n", ns, "link", "set", "hf0", "up"],
      ["ip", "-n", ns, "link", "set", "hf1", "up"],
      ["ip", "-n", ns, "link", "set", "lo", "up"],
    ] as string[][]) {
      const r = run(cmd!, args);
      assert.equal(r.rc, 0, `${cmd} ${args.join(" ")}: ${r.out}`);
    }
    const conf = writeCorosync("live", singleNodePlan);
    // The host's init: private /dev/shm and /run (Corosync/Pacemaker IPC), the Pacemaker and
    // Corosync state directories on tmpfs (never the machine's own), tmpfiles for /run, then the
    // daemons as the rendered service definitions start them.
    const init = [
      "set -u",
      "hostname solo1",
      "mount -t tmpfs tmpfs /dev/shm",
      "mount -t tmpfs tmpfs /run",
      "for d in /var/lib/pacemaker /var/lib/corosync /var/log/pacemaker /var/log/cluster; do mkdir -p $d && mount -t tmpfs tmpfs $d; done",
      "mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores",
      "chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker && chmod 750 /var/lib/pacemaker/* && chmod 770 /var/log/pacemaker",
      "systemd-tmpfiles --create --prefix=/run >/dev/null 2>&1",
      `/usr/sbin/corosync -f -c ${conf} > ${dir}/corosync.log 2>&1 &`,
      "i=0; until corosync-quorumtool -s >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i+1)); sleep 0.5; done",
      `/usr/sbin/pacemakerd > ${dir}/pacemakerd.log 2>&1 &`,
      "wait",
    ].join("\n");
    writeFileSync(join(dir, "init.sh"), init);
    ({ child: host, inner } = await spawnNsInit(ns, join(dir, "init.sh")));
    assert.ok(inner > 0, "the host's init did not start");
  });

  after(async () => {
    if (host?.pid) {
      // unshare --kill-child: killing it kills the namespace's init, which ends every process in it.
      try {
        process.kill(host.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 40 && inner > 0 && existsSync(`/proc/${inner}`); i++) await new Promise((res) => setTimeout(res, 250));
    }
    run("ip", ["netns", "del", ns]);
  });

  it("corosync starts from the rendered corosync.conf + authkey and is quorate (corosync health gate rc 0)", async () => {
    const q = await until(COROSYNC_HEALTH, 30);
    record(`live corosync health \`${COROSYNC_HEALTH}\` after ${q.waited.toFixed(1)} s`, q.last);
    assert.ok(q.ok, q.last.out);
  });

  it("the pacemaker health gate is false until there is a DC, then true", async () => {
    const early = inside(PACEMAKER_HEALTH);
    const mon = inside("crm_mon -1 -s");
    record("live pacemaker health right after start", { rc: early.rc, out: mon.out });
    record("live `crm_mon -1 -s` exit code at that moment (why the gate reads the text)", mon);
    const r = await until(PACEMAKER_HEALTH, 60);
    record(`live pacemaker health \`${PACEMAKER_HEALTH}\` after ${r.waited.toFixed(1)} s`, {
      rc: r.last.rc,
      out: inside("crm_mon -1 -s").out,
    });
    assert.ok(r.ok, inside("crm_mon -1").out);
  });

  it("the membership action's create sees the node as a member", () => {
    const a = render(singleNodePlan).actions.find((x) => x.id === "pacemaker:solo:member:solo1")!;
    const r = inside(a.create, 150_000);
    record("live membership action create", r);
    assert.equal(r.rc, 0, r.out);
  });

  it("cib-apply.sh patches the live CIB, is idempotent, and Pacemaker starts the resources", async () => {
    const files = render(singleNodePlan).files;
    const script = materialize("live", fileOf(files, "solo1", CIB_APPLY_SCRIPT));
    const cib = materialize("live", fileOf(files, "solo1", cibPath("solo")));
    const before = inside("cibadmin --query | head -n 1").out;
    const first = inside(cibApplyCommand(cib, script), 120_000);
    record("live cib-apply.sh first apply", first);
    assert.equal(first.rc, 0, first.out);
    assert.match(first.out, /CIB patched/);
    const second = inside(cibApplyCommand(cib, script), 120_000);
    record("live cib-apply.sh second apply", second);
    assert.match(second.out, /already up to date/);
    const crm = inside("cibadmin --query --scope crm_config").out;
    assert.match(crm, /name="dc-version"/, "the controller's dc-version is kept");
    assert.match(crm, /name="dc-deadtime" value="5s"/);
    const after = inside("cibadmin --query | head -n 1").out;
    const epoch = (s: string) => Number(/ epoch="(\d+)"/.exec(s)?.[1] ?? NaN);
    assert.ok(epoch(after) > epoch(before), `live epoch ${epoch(before)} -> ${epoch(after)}`);
    const started = await until("crm_mon -1 | grep -q 'dummy-b.*Started solo1'", 30);
    record("live resources started (crm_mon)", {
      rc: started.last.rc,
      out: inside("crm_mon -1 | grep -E 'dummy-(a|b)'").out.replace(/\s+/g, " "),
    });
    assert.ok(started.ok, inside("crm_mon -1").out);
  });

  it("a changed inventory is applied as a patch: a removed resource leaves the live CIB", () => {
    const smaller = withCluster(singleNodePlan, (c) => ({
      ...c,
      spec: {
        ...c.spec,
        primitives: c.spec.primitives.filter((p) => p.id !== "dummy-b"),
        constraints: { ...c.spec.constraints, order: [] },
      },
    }));
    const files = render(smaller).files;
    const cib = materialize("live-smaller", fileOf(files, "solo1", cibPath("solo")));
    const script = materialize("live-smaller", fileOf(files, "solo1", CIB_APPLY_SCRIPT));
    const r = inside(cibApplyCommand(cib, script), 120_000);
    record("live cib-apply.sh after removing a resource", r);
    assert.equal(r.rc, 0, r.out);
    assert.match(r.out, /CIB patched/);
    const resources = inside("cibadmin --query --scope resources").out;
    assert.match(resources, /id="dummy-a"/);
    assert.doesNotMatch(resources, /id="dummy-b"/);
  });

  it("corosync reloads its config in place (the corosync service's reload command)", () => {
    const svc = render(singleNodePlan).services.find((s) => s.name === "corosync")!;
    const r = inside(svc.reload!);
    record(`live corosync reload \`${svc.reload}\``, r);
    assert.equal(r.rc, 0, r.out);
  });
});
