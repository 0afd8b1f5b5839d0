/**
 * The Pacemaker remote authkey (/etc/pacemaker/authkey) on a REAL running cluster with a
 * pacemaker_remote node: one cluster node n1 (corosync 3 + pacemakerd) and one remote node r1
 * (pacemaker-remoted), each under supervisord in its own network/mount/pid namespaces, the remote
 * connection (`ocf:pacemaker:remote`) in the rendered CIB; fencing ON with cluster-glue's `null`
 * device, which records every fence request and touches nothing.
 *
 * - A changed key, applied as the providers do (tests/system/pacemaker-running.test.ts): the write
 *   is refused by the key's own validate on both hosts (the node's CIB has a remote node; r1 runs
 *   pacemaker-remoted), nothing restarts; r1 stays RemoteOnline (sampled), no fence.
 * - Control: what the previous render did to a remote node (its key written, pacemaker_remote
 *   restarted, while the node still has the old key) loses the connection: r1 does not come back
 *   online and the cluster asks for r1 to be fenced.
 * Run one netns-using file at a time (docs/lab.md): node --import tsx --test tests/system/pacemaker-remote-key.test.ts
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { restartWithGate } from "../../components/service-resources";
import { fileBytes, type ClusterAction, type DesiredState, type FileSpec } from "../../src/core/desired-state";
import { WRITE_EXIT, writeFileScript } from "../../src/core/file-ops";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { renderDesiredState, requiredMaterials } from "../../src/pipeline/render";
import { PACEMAKER_AUTHKEY } from "../../src/services/pacemaker/render";
import { NetnsHosts } from "./netns-hosts";

const NODES = ["n1", "r1"];
const addr = (n: string) => `10.231.11.${11 + NODES.indexOf(n)}`;
const net = new NetnsHosts(
  `hfrk${process.pid % 100000}`,
  NODES.map((n) => ({ name: n, address: addr(n) })),
);
const work = mkdtempSync("/var/tmp/haforge-pcmk-remote-key-");
const verdicts: string[] = [];

function inventory(): InventoryInput {
  return {
    name: "rem",
    hosts: NODES.map((n) => ({
      name: n,
      address: addr(n),
      init: "supervisor" as const,
      interfaces: [{ name: "eth0", address: `${addr(n)}/24` }],
    })),
    pacemaker: {
      clusters: [
        {
          name: "pc",
          nodes: [{ host: "n1" }],
          remoteNodes: ["r1"],
          token: 3000,
          quorum: { twoNode: false, lastManStanding: false, autoTieBreaker: false },
          properties: { "stonith-enabled": false },
        },
      ],
    },
  };
}

/** The desired state, generated keys as fixed bytes (`keyByte`) of the right size. */
function renderFor(keyByte = 0x5a): DesiredState {
  const r = planCluster(Inventory.parse(inventory()));
  assert.ok(r.plan, JSON.stringify(r.findings.filter((f) => f.severity === "error")));
  const materials = Object.fromEntries(
    requiredMaterials(r.plan).map((m) => [
      m.key,
      Buffer.alloc(m.kind.type === "random-bytes" ? m.kind.bytes : 16, keyByte).toString("base64"),
    ]),
  );
  return renderDesiredState(r.plan, {}, materials);
}

const hostDir = (n: string) => join(work, n);
/** Directories the node's init bind-mounts from its own folder (the rest of / is the machine's). */
const MOUNTS: Record<string, string> = {
  "/etc/corosync": "corosync",
  "/etc/pacemaker": "pacemaker",
  "/etc/supervisor/conf.d": "conf.d",
  "/usr/local/lib/haforge": "lib",
  "/var/lib/haforge/pacemaker": "cibs",
};

const inits = new Map<string, { child: ChildProcess; inner: number }>();
const nsenter = (n: string) => ["-t", String(inits.get(n)!.inner), "-m", "-u", "-i", "-n", "-p", "--"];
/** A command inside node n: its netns, mount, uts, ipc and pid namespaces. */
function inside(n: string, cmd: string, o: { timeoutMs?: number; input?: Buffer } = {}) {
  const r = spawnSync("nsenter", [...nsenter(n), "sh", "-c", cmd], {
    encoding: "utf8",
    timeout: o.timeoutMs ?? 60_000,
    ...(o.input ? { input: o.input } : {}),
  });
  return { rc: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
function insideAsync(n: string, cmd: string): Promise<{ rc: number; out: string }> {
  return new Promise((resolve) => {
    const c = spawn("nsenter", [...nsenter(n), "sh", "-c", cmd], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => (out += String(d)));
    c.stderr.on("data", (d) => (out += String(d)));
    const t = setTimeout(() => c.kill("SIGKILL"), 600_000);
    c.on("close", (code) => {
      clearTimeout(t);
      resolve({ rc: code ?? -1, out });
    });
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every command the "apply" below ran, in order: what haforge did to the nodes. */
const ran: { node: string; kind: "restart" | "action"; id: string; cmd: string }[] = [];

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
function liveSha(n: string, path: string): string {
  const r = inside(n, `[ -f '${path}' ] && sha256sum '${path}' | cut -d' ' -f1 || echo absent`);
  return r.out.trim();
}

/** RemoteFile's write of one file on node n (its script, its validate); undefined when unchanged. */
function writeFile(n: string, f: FileSpec): { rc: number; out: string } | undefined {
  const body = fileBytes(f);
  const live = liveSha(n, f.path);
  if (live === sha(body)) return undefined;
  const script = writeFileScript({
    path: f.path,
    mode: f.mode,
    owner: f.owner,
    group: f.group,
    sha256: sha(body),
    size: body.length,
    expectLive: live,
    ...(f.validate ? { validate: f.validate } : {}),
    keepPrevious: false,
  });
  return inside(n, script, { input: body, timeoutMs: 120_000 });
}

interface Applied {
  readonly node: string;
  readonly written: string[];
  readonly refused: { path: string; rc: number; out: string }[];
  readonly failed: { id: string; rc: number; out: string }[];
}

const filesOf = (s: DesiredState, n: string) => s.hosts.find((h) => h.host === n)!.files;
const servicesOf = (s: DesiredState, n: string) => s.hosts.find((h) => h.host === n)!.services;

/**
 * One node's part of an apply, in the providers' order: its files, its bootstrap actions
 * triggered by a written file (all of them on `first`), the restarts of the services a written
 * file notifies (`only`: those services), then the other actions on the node the written files
 * trigger. A refused file writes nothing, and what depends on it does not run.
 */
async function applyNode(s: DesiredState, n: string, o: { first?: boolean; only?: readonly string[] } = {}): Promise<Applied> {
  const written: string[] = [];
  const refused: Applied["refused"] = [];
  const failed: Applied["failed"] = [];
  for (const f of filesOf(s, n)) {
    const r = writeFile(n, f);
    if (!r) continue;
    if (r.rc === 0) written.push(f.path);
    else refused.push({ path: f.path, rc: r.rc, out: r.out });
  }
  const fires = (a: ClusterAction) => a.host === n && (o.first || a.triggers.some((t) => written.includes(t)));
  const run = async (kind: "restart" | "action", id: string, cmd: string) => {
    ran.push({ node: n, kind, id, cmd });
    const r = await insideAsync(n, cmd);
    if (r.rc !== 0) failed.push({ id, rc: r.rc, out: r.out });
  };
  if (refused.length) return { node: n, written, refused, failed };
  for (const a of s.actions.filter((x) => x.phase === "bootstrap" && fires(x))) await run("action", a.id, a.create);
  const notified = new Set(filesOf(s, n).flatMap((f) => (written.includes(f.path) ? f.notify : [])));
  for (const sv of servicesOf(s, n))
    if ((o.only ?? [...notified]).includes(sv.name) && (o.first || notified.has(sv.name)))
      await run("restart", sv.name, restartWithGate(sv, 240));
  if (!o.first) for (const a of s.actions.filter((x) => x.phase !== "bootstrap" && fires(x))) await run("action", a.id, a.create);
  return { node: n, written, refused, failed };
}

const fenceHistory = (n: string) =>
  inside(n, "stonith_admin --history '*' 2>&1")
    .out.trim()
    .replace(/^0 events found$/, "");
async function until(what: string, f: () => boolean, seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    if (f()) return;
    await sleep(1000);
  }
  assert.fail(`${what}: not within ${seconds} s\n${inside("n1", "crm_mon -1 2>&1; corosync-quorumtool -s 2>&1").out}`);
}

before(async () => {
  assert.equal(process.getuid?.(), 0, "needs root (network namespaces, mounts)");
  for (const b of [
    "corosync",
    "pacemakerd",
    "pacemaker-remoted",
    "supervisord",
    "crm_mon",
    "stonith_admin",
    "cibadmin",
    "nsenter",
    "unshare",
  ])
    assert.equal(spawnSync("sh", ["-c", `command -v ${b}`]).status, 0, `${b} missing`);
  assert.ok(existsSync("/usr/lib/ocf/resource.d/pacemaker/remote"), "Pacemaker's remote agent");
  net.up();
  for (const n of NODES) {
    const d = hostDir(n);
    for (const sub of Object.values(MOUNTS)) mkdirSync(join(d, sub), { recursive: true });
    writeFileSync(
      join(d, "supervisord.conf"),
      [
        "[unix_http_server]",
        "file=/run/supervisor.sock",
        "[supervisord]",
        "nodaemon=true",
        `logfile=${join(d, "supervisord.log")}`,
        "pidfile=/run/supervisord.pid",
        `childlogdir=${d}`,
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "[supervisorctl]",
        "serverurl=unix:///run/supervisor.sock",
        "[include]",
        "files = /etc/supervisor/conf.d/*.conf",
        "",
      ].join("\n"),
    );
    const init = [
      "set -eu",
      `hostname ${n}`,
      "mount -t tmpfs tmpfs /dev/shm",
      "mount -t tmpfs tmpfs /run",
      "for x in /var/lib/pacemaker /var/lib/corosync /var/log/pacemaker /var/log/cluster /var/lib/haforge /var/log/supervisor /var/lib/heartbeat; do mkdir -p $x && mount -t tmpfs tmpfs $x; done",
      "mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores",
      "chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker && chmod 750 /var/lib/pacemaker/* && chmod 770 /var/log/pacemaker",
      ...Object.entries(MOUNTS).map(([real, sub]) => `mkdir -p ${real} && mount --bind ${join(d, sub)} ${real}`),
      `mount --bind ${join(d, "supervisord.conf")} /etc/supervisor/supervisord.conf`,
      "systemd-tmpfiles --create --prefix=/run >/dev/null 2>&1 || true",
      "cd /",
      "exec supervisord -n -c /etc/supervisor/supervisord.conf",
    ].join("\n");
    writeFileSync(join(d, "init.sh"), init);
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        net.ns(n),
        "unshare",
        "--mount",
        "--uts",
        "--ipc",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--propagation",
        "private",
        "sh",
        join(d, "init.sh"),
      ],
      { stdio: ["ignore", "ignore", "ignore"], cwd: "/" },
    );
    let inner = 0;
    for (let i = 0; i < 40 && inner === 0; i++) {
      await sleep(250);
      const children = join("/proc", String(child.pid), "task", String(child.pid), "children");
      if (existsSync(children)) inner = Number(readFileSync(children, "utf8").trim().split(/\s+/)[0] || 0);
    }
    assert.ok(inner > 0, `${n}: init did not start`);
    inits.set(n, { child, inner });
  }
  for (const n of NODES)
    for (let i = 0; i < 40 && inside(n, "supervisorctl status >/dev/null 2>&1; [ $? -ne 4 ] && [ -S /run/supervisor.sock ]").rc !== 0; i++)
      await sleep(250);
});

after(async () => {
  for (const { child } of inits.values()) {
    try {
      process.kill(child.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  await sleep(1000);
  await net.down();
  rmSync(work, { recursive: true, force: true });
  console.log(`# pacemaker remote key verdicts\n${verdicts.map((v) => `#   ${v}`).join("\n")}`);
});

const remoteOnline = () => /RemoteOnline:\s*\[\s*r1\s*\]/.test(inside("n1", "crm_mon -1 2>&1").out);
const remotedPid = () => inside("r1", "supervisorctl pid pacemaker_remote").out.trim();

describe("the Pacemaker remote authkey on a running cluster with a remote node (real daemons)", () => {
  const start = renderFor();

  it("bootstrap: r1's pacemaker_remote, n1's corosync and pacemaker through the rendered gates, CIB applied: r1 RemoteOnline; fencing on", async () => {
    const r = await applyNode(start, "r1", { first: true });
    assert.deepEqual([r.refused, r.failed], [[], []], "r1");
    for (const only of [["corosync"], ["pacemaker"]]) {
      const x = await applyNode(start, "n1", { first: true, only });
      assert.deepEqual([x.refused, x.failed], [[], []], "n1");
    }
    for (const a of start.actions.filter((x) => x.phase !== "bootstrap")) {
      ran.push({ node: a.host, kind: "action", id: a.id, cmd: a.create });
      const y = await insideAsync(a.host, a.create);
      assert.equal(y.rc, 0, `${a.id}: ${y.out}`);
    }
    await until("r1 RemoteOnline", remoteOnline, 120);
    const dev = `<primitive id="fence-null" class="stonith" type="null"><instance_attributes id="fence-null-ia"><nvpair id="fence-null-hl" name="hostlist" value="n1 r1"/></instance_attributes></primitive>`;
    const c = inside(
      "n1",
      `cibadmin --create -o resources --xml-text '${dev}' && crm_attribute --type crm_config --name stonith-enabled --update true`,
    );
    assert.equal(c.rc, 0, c.out);
    await until("the null fence device started", () => /fence-null.*Started/.test(inside("n1", "crm_mon -1").out) && remoteOnline(), 60);
    assert.equal(fenceHistory("n1"), "");
    verdicts.push(`bootstrap: n1 + remote r1 RemoteOnline (pacemaker-remoted pid ${remotedPid()}), stonith on (null device)`);
  });

  it("a changed key: refused on the node (its CIB has a remote node) and on r1 (pacemaker-remoted runs), nothing restarted, r1 stays online, no fence", async () => {
    const keyed = renderFor(0x33);
    const old = { n1: liveSha("n1", PACEMAKER_AUTHKEY), r1: liveSha("r1", PACEMAKER_AUTHKEY) };
    const pid = remotedPid();
    const from = ran.length;
    const seen: boolean[] = [];
    const timer = setInterval(() => seen.push(remoteOnline()), 500);
    const out = [await applyNode(keyed, "r1"), await applyNode(keyed, "n1")];
    await sleep(5000);
    clearInterval(timer);
    for (const r of out) {
      const key = r.refused.find((x) => x.path === PACEMAKER_AUTHKEY);
      assert.equal(key?.rc, WRITE_EXIT.validate, `${r.node}: ${JSON.stringify(r)}`);
      assert.match(key.out, /refusing to replace \/etc\/pacemaker\/authkey/);
    }
    assert.match(out[0]!.refused[0]!.out, /pacemaker-remoted runs here/);
    assert.match(out[1]!.refused.find((x) => x.path === PACEMAKER_AUTHKEY)!.out, /the CIB has remote or guest nodes/);
    assert.deepEqual({ n1: liveSha("n1", PACEMAKER_AUTHKEY), r1: liveSha("r1", PACEMAKER_AUTHKEY) }, old, "keys unchanged");
    assert.deepEqual(ran.slice(from), [], "nothing restarted");
    assert.equal(remotedPid(), pid);
    assert.ok(seen.length >= 5 && seen.every(Boolean), `r1 online in every sample: ${seen.join(",")}`);
    assert.equal(fenceHistory("n1"), "", "no fence");
    verdicts.push(
      `changed key: refused on r1 and n1 (validate exit ${WRITE_EXIT.validate}), keys unchanged, nothing run, pacemaker-remoted pid kept, r1 online in ${seen.length} samples, no fence`,
    );
  });

  it("control: the key written on r1 and pacemaker_remote restarted there (the previous notify) while n1 keeps its key: the connection is lost and r1 is fenced", async () => {
    const keyed = renderFor(0x33);
    const f = filesOf(keyed, "r1").find((x) => x.path === PACEMAKER_AUTHKEY)!;
    const w = writeFile("r1", { ...f, validate: `test "$(wc -c < {file})" -eq 4096` });
    assert.equal(w?.rc, 0, w?.out);
    const sv = servicesOf(keyed, "r1").find((x) => x.name === "pacemaker_remote")!;
    const r = await insideAsync("r1", restartWithGate(sv));
    assert.equal(r.rc, 0, r.out);
    let history = "";
    let online = true;
    for (let i = 0; i < 60 && (history === "" || online); i++) {
      await sleep(1000);
      history = fenceHistory("n1");
      online = remoteOnline();
    }
    verdicts.push(
      `control (new key on r1 only, pacemaker_remote restarted): r1 online: ${online}; fencing history: ${history.split("\n")[0] || "(empty)"}`,
    );
    assert.ok(!online || /r1/.test(history), `the mismatch went unnoticed: ${inside("n1", "crm_mon -1").out}`);
  });
});
