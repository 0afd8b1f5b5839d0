/**
 * A REAL Pacemaker cluster in namespaces for system tests: one network namespace per node on a
 * bridge (NetnsHosts), and in it the node's own mount, uts, ipc and pid namespaces with
 * supervisord as its init. Each node has its own /run, /dev/shm and Pacemaker/Corosync state on
 * tmpfs, and the directories named in `mounts` bind-mounted at their real paths from its own
 * folder; the rest of / is the machine's (its packages), nothing of the machine's own is touched.
 *
 * Also what the providers run on a node ("apply"): a file written by RemoteFile's own script
 * (writeFileScript: temp file, the FileSpec's validate on the host, atomic rename), and one node's
 * part of an apply in the providers' order (applyNode).
 *
 * Used by tests/system/pacemaker-procedures.test.ts, pacemaker-running.test.ts,
 * pacemaker-remote-key.test.ts. Run one netns-using file at a time (docs/lab.md).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { restartWithGate } from "../../components/service-resources";
import { fileBytes, type ClusterAction, type DesiredState, type FileSpec } from "../../src/core/desired-state";
import { writeFileScript } from "../../src/core/file-ops";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { renderDesiredState, requiredMaterials } from "../../src/pipeline/render";
import { NetnsHosts } from "./netns-hosts";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fails unless every command is on the PATH. */
export function requireCommands(commands: readonly string[]): void {
  for (const b of commands) assert.equal(spawnSync("sh", ["-c", `command -v ${b}`]).status, 0, `${b} missing`);
}

/**
 * The desired state of an inventory, generated keys as fixed bytes (`keyByte`, or `byteOf` the
 * material's key when it gives one) of the right size.
 */
export function renderWithKeys(
  inventory: InventoryInput,
  keyByte = 0x5a,
  byteOf: (key: string) => number | undefined = () => undefined,
): DesiredState {
  const r = planCluster(Inventory.parse(inventory));
  assert.ok(r.plan, JSON.stringify(r.findings.filter((f) => f.severity === "error")));
  const materials = Object.fromEntries(
    requiredMaterials(r.plan).map((m) => [
      m.key,
      Buffer.alloc(m.kind.type === "random-bytes" ? m.kind.bytes : 16, byteOf(m.key) ?? keyByte).toString("base64"),
    ]),
  );
  return renderDesiredState(r.plan, {}, materials);
}

export const filesOf = (s: DesiredState, n: string) => s.hosts.find((h) => h.host === n)!.files;
export const servicesOf = (s: DesiredState, n: string) => s.hosts.find((h) => h.host === n)!.services;

export interface Applied {
  readonly node: string;
  readonly written: string[];
  readonly refused: { path: string; rc: number; out: string }[];
  readonly failed: { id: string; rc: number; out: string }[];
  /** The node's other actions its written files triggered, not run (`deferActions`): the caller runs them in the engine's order. */
  readonly deferred?: ClusterAction[];
}

export interface Ran {
  readonly node: string;
  readonly kind: "restart" | "action";
  readonly id: string;
  readonly cmd: string;
  /** How long it ran (ms; applyNode's runs). */
  ms?: number;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** State directories every node has on its own tmpfs. */
const STATE_DIRS = [
  "/var/lib/pacemaker",
  "/var/lib/corosync",
  "/var/log/pacemaker",
  "/var/log/cluster",
  "/var/lib/haforge",
  "/var/log/supervisor",
  "/var/lib/heartbeat",
];

/**
 * Starts `script` as the init of its own mount, uts, ipc and pid namespaces inside network
 * namespace `ns` (unshare --kill-child: killing `child` ends the init and every process under it).
 * `inner`: the init's pid seen from here (what nsenter enters), 0 when it did not start within 10 s.
 */
export async function spawnNsInit(ns: string, script: string): Promise<{ child: ChildProcess; inner: number }> {
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      ns,
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
      script,
    ],
    { stdio: ["ignore", "ignore", "ignore"], cwd: "/" },
  );
  // unshare forks the namespace's init; its pid (seen from here) is what nsenter enters.
  let inner = 0;
  for (let i = 0; i < 40 && inner === 0; i++) {
    await sleep(250);
    const children = join("/proc", String(child.pid), "task", String(child.pid), "children");
    if (existsSync(children)) inner = Number(readFileSync(children, "utf8").trim().split(/\s+/)[0] || 0);
  }
  return { child, inner };
}

export class PacemakerNsCluster {
  readonly net: NetnsHosts;
  readonly work: string;
  /** Every command applyNode ran, in order: what haforge did to the nodes. */
  readonly ran: Ran[] = [];
  private readonly inits = new Map<string, { child: ChildProcess; inner: number }>();

  /**
   * `prefix`: namespace names, unique per test file; `subnet`: the first three octets of the node
   * addresses (node i gets .11+i); `mounts`: real directory -> folder under the node's own dir.
   */
  constructor(
    prefix: string,
    readonly nodes: readonly string[],
    private readonly subnet: string,
    readonly mounts: Readonly<Record<string, string>>,
  ) {
    this.net = new NetnsHosts(
      `${prefix}${process.pid % 100000}`,
      nodes.map((n) => ({ name: n, address: this.addr(n) })),
    );
    this.work = mkdtempSync(`/var/tmp/haforge-${prefix}-`);
  }

  addr(n: string): string {
    return `${this.subnet}.${11 + this.nodes.indexOf(n)}`;
  }

  hostDir(n: string): string {
    return join(this.work, n);
  }

  private nsenter(n: string): string[] {
    const init = this.inits.get(n);
    assert.ok(init, `${n}: not started`);
    return ["-t", String(init.inner), "-m", "-u", "-i", "-n", "-p", "--"];
  }

  /** A command inside node n: its netns, mount, uts, ipc and pid namespaces. */
  inside(n: string, cmd: string, o: { timeoutMs?: number; input?: Buffer } = {}): { rc: number; out: string } {
    const r = spawnSync("nsenter", [...this.nsenter(n), "sh", "-c", cmd], {
      encoding: "utf8",
      timeout: o.timeoutMs ?? 60_000,
      ...(o.input ? { input: o.input } : {}),
    });
    return { rc: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
  }

  insideAsync(n: string, cmd: string): Promise<{ rc: number; out: string }> {
    return new Promise((resolve) => {
      const c = spawn("nsenter", [...this.nsenter(n), "sh", "-c", cmd], { stdio: ["ignore", "pipe", "pipe"] });
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

  /** The namespaces, each node's init (supervisord) running and answering. */
  async up(): Promise<void> {
    assert.equal(process.getuid?.(), 0, "needs root (network namespaces, mounts)");
    this.net.up();
    for (const n of this.nodes) {
      const d = this.hostDir(n);
      for (const sub of Object.values(this.mounts)) mkdirSync(join(d, sub), { recursive: true });
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
        `for x in ${STATE_DIRS.join(" ")}; do mkdir -p $x && mount -t tmpfs tmpfs $x; done`,
        "mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores",
        "chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker && chmod 750 /var/lib/pacemaker/* && chmod 770 /var/log/pacemaker",
        ...Object.entries(this.mounts).map(([real, sub]) => `mkdir -p ${real} && mount --bind ${join(d, sub)} ${real}`),
        `mount --bind ${join(d, "supervisord.conf")} /etc/supervisor/supervisord.conf`,
        "systemd-tmpfiles --create --prefix=/run >/dev/null 2>&1 || true",
        "cd /",
        "exec supervisord -n -c /etc/supervisor/supervisord.conf",
      ].join("\n");
      writeFileSync(join(d, "init.sh"), init);
      await this.startInit(n);
    }
    for (const n of this.nodes) await this.supervisorAnswers(n);
  }

  private async startInit(n: string): Promise<void> {
    const { child, inner } = await spawnNsInit(this.net.ns(n), join(this.hostDir(n), "init.sh"));
    assert.ok(inner > 0, `${n}: init did not start`);
    this.inits.set(n, { child, inner });
  }

  /** Until supervisord answers on node n (10 s deadline). */
  private async supervisorAnswers(n: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (
      this.inside(n, "supervisorctl status >/dev/null 2>&1; [ $? -ne 4 ] && [ -S /run/supervisor.sock ]").rc !== 0 &&
      Date.now() < deadline
    )
      await sleep(250);
  }

  /**
   * Node n dies the way a host loses power: its init killed (every process in it with it), its
   * tmpfs state (/run, /var/lib/pacemaker, /var/lib/corosync, ...) gone with its mount namespace.
   * Resolves when no process of the node is left (`ms` deadline).
   */
  async powerOff(n: string, ms = 15_000): Promise<void> {
    const init = this.inits.get(n);
    assert.ok(init, `${n}: not started`);
    const exited = new Promise<void>((r) => (init.child.exitCode !== null ? r() : init.child.once("exit", () => r())));
    process.kill(init.child.pid!, "SIGKILL");
    const deadline = Date.now() + ms;
    await exited;
    while (existsSync(join("/proc", String(init.inner))) && Date.now() < deadline) await sleep(100);
    assert.ok(!existsSync(join("/proc", String(init.inner))), `${n}: its init still runs ${ms} ms after the kill`);
    this.inits.delete(n);
  }

  /**
   * The disk of a powered-off node n replaced: every mounted folder (`mounts`: what haforge wrote
   * there) emptied; its tmpfs state went with the power. Then it boots: supervisord as init with no
   * program of haforge's.
   */
  async replaceDisk(n: string): Promise<void> {
    assert.ok(!this.inits.has(n), `${n}: still running`);
    for (const sub of Object.values(this.mounts)) {
      rmSync(join(this.hostDir(n), sub), { recursive: true, force: true });
      mkdirSync(join(this.hostDir(n), sub), { recursive: true });
    }
  }

  /** Boots a powered-off node n again (its init, supervisord answering). */
  async boot(n: string): Promise<void> {
    assert.ok(!this.inits.has(n), `${n}: still running`);
    await this.startInit(n);
    await this.supervisorAnswers(n);
  }

  /** unshare --kill-child: killing it ends the node's init and every process in it. */
  async down(): Promise<void> {
    for (const { child } of this.inits.values()) {
      try {
        process.kill(child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sleep(1000);
    await this.net.down();
    rmSync(this.work, { recursive: true, force: true });
  }

  liveSha(n: string, path: string): string {
    return this.inside(n, `[ -f '${path}' ] && sha256sum '${path}' | cut -d' ' -f1 || echo absent`).out.trim();
  }

  /** RemoteFile's write of one file on node n (its script, its validate); undefined when unchanged. */
  writeFile(n: string, f: FileSpec): { rc: number; out: string } | undefined {
    const body = fileBytes(f);
    const live = this.liveSha(n, f.path);
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
    return this.inside(n, script, { input: body, timeoutMs: 120_000 });
  }

  /**
   * One node's part of an apply, in the providers' order: its files, its bootstrap actions
   * triggered by a written file (all of them on `first`), the restarts of the services a written
   * file notifies (`only`: those services), then the other actions on the node the written files
   * trigger. A refused file writes nothing, and what depends on it does not run. `deferActions`:
   * those other actions are returned instead (the engine runs an action after its dependencies,
   * e.g. the CIB apply after every membership action, which wait for nodes that start later).
   */
  async applyNode(
    s: DesiredState,
    n: string,
    o: { first?: boolean; only?: readonly string[]; deferActions?: boolean } = {},
  ): Promise<Applied> {
    const written: string[] = [];
    const refused: Applied["refused"] = [];
    const failed: Applied["failed"] = [];
    for (const f of filesOf(s, n)) {
      const r = this.writeFile(n, f);
      if (!r) continue;
      if (r.rc === 0) written.push(f.path);
      else refused.push({ path: f.path, rc: r.rc, out: r.out });
    }
    const fires = (a: ClusterAction) => a.host === n && (o.first || a.triggers.some((t) => written.includes(t)));
    const run = async (kind: "restart" | "action", id: string, cmd: string) => {
      const at = Date.now();
      const rec: Ran = { node: n, kind, id, cmd };
      this.ran.push(rec);
      const r = await this.insideAsync(n, cmd);
      rec.ms = Date.now() - at;
      if (r.rc !== 0) failed.push({ id, rc: r.rc, out: r.out });
    };
    if (refused.length) return { node: n, written, refused, failed };
    for (const a of s.actions.filter((x) => x.phase === "bootstrap" && fires(x))) await run("action", a.id, a.create);
    const notified = new Set(filesOf(s, n).flatMap((f) => (written.includes(f.path) ? f.notify : [])));
    for (const sv of servicesOf(s, n))
      if ((o.only ?? [...notified]).includes(sv.name) && (o.first || notified.has(sv.name)))
        await run("restart", sv.name, restartWithGate(sv, 240));
    const later = o.first ? [] : s.actions.filter((x) => x.phase !== "bootstrap" && fires(x));
    if (o.deferActions) return { node: n, written, refused, failed, deferred: later };
    for (const a of later) await run("action", a.id, a.create);
    return { node: n, written, refused, failed };
  }

  /**
   * Cluster actions in the engine's order, in waves: every action whose dependencies (among these)
   * are done runs at once, the next wave after. Stops after a wave with a failure: the results so far
   * (with when each ran, ms since the epoch).
   */
  async runActionsInOrder(actions: readonly ClusterAction[]): Promise<{ id: string; rc: number; out: string; from: number; to: number }[]> {
    const done = new Set<string>();
    const results: { id: string; rc: number; out: string; from: number; to: number }[] = [];
    const ids = new Set(actions.map((a) => a.id));
    let left = [...actions];
    while (left.length) {
      const ready = left.filter((a) => a.dependsOn.every((d) => !ids.has(d) || done.has(d)));
      assert.ok(ready.length, `a dependency cycle among ${left.map((a) => a.id).join(", ")}`);
      const wave = await Promise.all(
        ready.map(async (a) => {
          const from = Date.now();
          const r = await this.runAction(a);
          return { id: a.id, ...r, from, to: Date.now() };
        }),
      );
      results.push(...wave);
      if (wave.some((r) => r.rc !== 0)) return results;
      for (const a of ready) done.add(a.id);
      left = left.filter((a) => !done.has(a.id));
    }
    return results;
  }

  /** Runs a cluster action (its create) on its host, recorded like applyNode's. */
  async runAction(a: ClusterAction): Promise<{ rc: number; out: string }> {
    this.ran.push({ node: a.host, kind: "action", id: a.id, cmd: a.create });
    return this.insideAsync(a.host, a.create);
  }

  /** Pacemaker's fencing history ("0 events found" = none, read as ""), as seen from node n. */
  fenceHistory(n: string): string {
    return this.inside(n, "stonith_admin --history '*' 2>&1")
      .out.trim()
      .replace(/^0 events found$/, "");
  }

  /** Adds cluster-glue's `null` fence device (records every request, touches nothing) and turns fencing on. */
  fencingOn(n: string, hostlist: readonly string[] = this.nodes): void {
    const dev = `<primitive id="fence-null" class="stonith" type="null"><instance_attributes id="fence-null-ia"><nvpair id="fence-null-hl" name="hostlist" value="${hostlist.join(" ")}"/></instance_attributes></primitive>`;
    const c = this.inside(
      n,
      `cibadmin --create -o resources --xml-text '${dev}' && crm_attribute --type crm_config --name stonith-enabled --update true`,
    );
    assert.equal(c.rc, 0, c.out);
  }

  votes(n: string): number {
    return Number(/^Total votes:\s+(\d+)/m.exec(this.inside(n, "corosync-quorumtool -s 2>&1").out)?.[1] ?? 0);
  }

  clusterOk(n: string): boolean {
    return /^CLUSTER OK/m.test(this.inside(n, "crm_mon -1 -s 2>&1").out);
  }

  /** Waits (1 s steps) until `f` holds; fails with the first node's view of the cluster. */
  async until(what: string, f: () => boolean, seconds: number): Promise<void> {
    for (let i = 0; i < seconds; i++) {
      if (f()) return;
      await sleep(1000);
    }
    assert.fail(`${what}: not within ${seconds} s\n${this.inside(this.nodes[0]!, "crm_mon -1 2>&1; corosync-quorumtool -s 2>&1").out}`);
  }
}

/** The cluster's methods bound to it: what a test file destructures at its top level. */
export function boundOps(c: PacemakerNsCluster) {
  return {
    ran: c.ran,
    inside: c.inside.bind(c),
    insideAsync: c.insideAsync.bind(c),
    liveSha: c.liveSha.bind(c),
    writeFile: c.writeFile.bind(c),
    applyNode: c.applyNode.bind(c),
    fenceHistory: c.fenceHistory.bind(c),
    votes: c.votes.bind(c),
    clusterOk: c.clusterOk.bind(c),
    until: c.until.bind(c),
  };
}
