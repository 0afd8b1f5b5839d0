/**
 * A throwaway network for system tests: one network namespace per "host" holding the host's
 * internal address on eth0, all joined by a bridge that lives in a namespace of its own. Nothing
 * touches the root namespace, so the private addresses of the fixtures never leave this machine
 * and tests cannot collide with the lab (docs/lab.md: only loopback or namespaces we create).
 *
 * Processes are started with `ip netns exec NS cmd` (ip execs the command, so the PID we record
 * is the daemon's own), in their own process group, and stopped by that recorded PID/group.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { chownSync, closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DesiredState } from "../../src/core/desired-state";
import { ETCD_CONFIG, ETCD_DATA_DIR, ETCD_SEED } from "../../src/services/quorum-store/render";

export interface NetHost {
  readonly name: string;
  readonly address: string;
}

export interface Started {
  readonly host: string;
  readonly pid: number;
  readonly child: ChildProcess;
  exited: boolean;
}

const IP_TIMEOUT_MS = 10_000;

function ip(args: readonly string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: IP_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: rc ${r.status} ${r.stderr}`);
}

export class NetnsHosts {
  private readonly started: Started[] = [];
  private readonly created: string[] = [];

  /** `prefix` must be unique per test file (namespace names are global on the machine). */
  constructor(
    private readonly prefix: string,
    readonly hosts: readonly NetHost[],
    private readonly prefixLength = 24,
  ) {}

  ns(host: string): string {
    return `${this.prefix}-${host}`;
  }

  /** The namespace holding the bridge: it has no `eth0` (a look-alike host without its interface). */
  get switchNs(): string {
    return `${this.prefix}-sw`;
  }

  /** Create the namespaces, the bridge and one veth per host. Leftovers of a crashed run go first. */
  up(): void {
    this.removeNamespaces([this.switchNs, ...this.hosts.map((h) => this.ns(h.name))]);
    ip(["netns", "add", this.switchNs]);
    this.created.push(this.switchNs);
    ip(["-n", this.switchNs, "link", "set", "lo", "up"]);
    ip(["-n", this.switchNs, "link", "add", "br0", "type", "bridge"]);
    ip(["-n", this.switchNs, "link", "set", "br0", "up"]);
    this.hosts.forEach((h, i) => {
      const ns = this.ns(h.name);
      ip(["netns", "add", ns]);
      this.created.push(ns);
      ip(["-n", ns, "link", "set", "lo", "up"]);
      ip(["-n", this.switchNs, "link", "add", `v${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      ip(["-n", this.switchNs, "link", "set", `v${i}`, "master", "br0"]);
      ip(["-n", this.switchNs, "link", "set", `v${i}`, "up"]);
      ip(["-n", ns, "addr", "add", `${h.address}/${this.prefixLength}`, "dev", "eth0"]);
      ip(["-n", ns, "link", "set", "eth0", "up"]);
    });
  }

  /** Run a command inside a host's namespace and wait (bounded). */
  exec(
    host: string,
    argv: readonly string[],
    opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
  ): SpawnSyncReturns<string> {
    return spawnSync("ip", ["netns", "exec", this.ns(host), ...argv], {
      encoding: "utf8",
      timeout: opts.timeoutMs ?? 30_000,
      env: opts.env ?? process.env,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
  }

  /** `sh -c SCRIPT` inside a host's namespace: runs rendered health/action commands verbatim. */
  sh(host: string, script: string, timeoutMs = 30_000): SpawnSyncReturns<string> {
    return this.exec(host, ["sh", "-c", script], { timeoutMs });
  }

  /** Start a daemon in a host's namespace, output to `logFile`; its PID is recorded for stop(). */
  start(host: string, argv: readonly string[], logFile: string, opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Started {
    const fd = openSync(logFile, "a");
    const child = spawn("ip", ["netns", "exec", this.ns(host), ...argv], {
      stdio: ["ignore", fd, fd],
      detached: true, // own process group: forked helpers (syncthing's monitor) stop with it
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? "/",
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${argv.join(" ")}`);
    const s: Started = { host, pid: child.pid, child, exited: false };
    child.on("exit", () => {
      s.exited = true;
    });
    this.started.push(s);
    return s;
  }

  /** Stop one started process by its recorded PID (TERM to its group, KILL after `graceMs`). */
  async stop(s: Started, graceMs = 10_000): Promise<void> {
    if (s.exited) return;
    const gone = new Promise<void>((resolve) => {
      if (s.exited) resolve();
      else s.child.once("exit", () => resolve());
    });
    signalGroup(s.pid, "SIGTERM");
    const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), graceMs).unref());
    if ((await Promise.race([gone, timer])) === "timeout") {
      signalGroup(s.pid, "SIGKILL");
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000).unref())]);
    }
  }

  /** Stop everything started here (reverse order), then delete the namespaces. */
  async down(): Promise<string[]> {
    for (const s of [...this.started].reverse()) await this.stop(s);
    return this.removeNamespaces([...this.created].reverse());
  }

  private removeNamespaces(names: readonly string[]): string[] {
    const problems: string[] = [];
    const existing = new Set(
      (spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: IP_TIMEOUT_MS }).stdout ?? "")
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[0])
        .filter(Boolean),
    );
    for (const n of names) {
      if (!existing.has(n)) continue;
      const r = spawnSync("ip", ["netns", "del", n], { encoding: "utf8", timeout: IP_TIMEOUT_MS });
      if (r.status !== 0) problems.push(`ip netns del ${n}: ${r.stderr}`);
    }
    return problems;
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** Poll `check` every `intervalMs` until it returns true or `timeoutMs` passes. Bounded. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Write each member's rendered etcd.yml into `dir` with only data-dir moved (to a directory the
 * `etcd` user owns, as on Debian). `dir` must be traversable by that user. Returns host → path.
 */
export function stageEtcd(state: DesiredState, dir: string, members: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const uid = Number(execFileSync("id", ["-u", "etcd"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "etcd"], { encoding: "utf8" }).trim());
  for (const host of members) {
    const f = state.hosts.find((h) => h.host === host)?.files.find((x) => x.path === ETCD_CONFIG);
    if (!f) throw new Error(`${host}: ${ETCD_CONFIG} not rendered`);
    const line = `data-dir: ${JSON.stringify(ETCD_DATA_DIR)}`;
    if (f.content.split(line).length !== 2) throw new Error(`${host}: expected exactly one '${line}'`);
    const owned = join(dir, `${host}-etcd`);
    mkdirSync(owned, { mode: 0o700 });
    chownSync(owned, uid, gid);
    // a cluster being formed starts from etcd.yml + the seed, as etcd-start.sh does on a first start
    const seed = state.hosts.find((h) => h.host === host)?.files.find((x) => x.path === ETCD_SEED);
    if (!seed) throw new Error(`${host}: ${ETCD_SEED} not rendered`);
    const path = join(dir, `${host}-etcd.yml`);
    writeFileSync(path, f.content.replace(line, `data-dir: ${JSON.stringify(join(owned, "data"))}`) + seed.content, { mode: 0o644 });
    out.set(host, path);
  }
  return out;
}
