/**
 * A stand-in for each host of an example inventory, so every rendered file can be checked "the
 * way the host would": same addresses, same interface names, the rendered files at their real
 * paths, the host's own name.
 *
 * - Network: NetnsHosts (tests/system/netns-hosts.ts) gives one namespace per host on a bridge of
 *   its own; this adds the host's other addresses (address, internalAddress, each interface's
 *   address on an interface of that name — a veth pair, there is no dummy module here).
 * - Files: a per-host "init" process in a private mount + UTS namespace (docs/lab.md's lab host, made
 *   lighter): each top-level directory the render writes to (/etc, /var, /usr, ...) is an overlay
 *   whose layers are, top first, the host's rendered tree (modes and owners applied from the
 *   manifest), a small environment layer (/etc/hosts naming every inventory host, as DNS would on
 *   a real site) and the machine's real directory; writes go to an upper layer in the test's temp
 *   dir, never to the machine. /run is a fresh tmpfs (after detaching /run/netns, which would
 *   otherwise pin every namespace alive). The hostname is the inventory host's name.
 * - Commands and daemons enter that host with `nsenter -t <init pid> -m -u -n`; every process
 *   started is recorded by PID (own process group) and stopped by it. The init itself is a
 *   bounded `sleep`, so a crashed test cannot leave a host behind for long.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NetnsHosts } from "../netns-hosts";

export interface ExampleHost {
  readonly name: string;
  /** Addresses on eth0 (the first is the one NetnsHosts puts there). */
  readonly eth0: readonly string[];
  /** Other interfaces (e.g. TripleO's vlan20) with their addresses (CIDR). */
  readonly interfaces: readonly { readonly name: string; readonly cidr: string }[];
}

export interface Proc {
  readonly host: string;
  readonly what: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly log: string;
  exited: boolean;
  code: number | null;
}

export interface Run {
  readonly rc: number;
  readonly out: string;
}

/** The machine directories a host's overlays may cover (must exist; none has submounts here). */
const OVERLAY_ROOTS = ["/etc", "/var", "/usr", "/srv", "/opt", "/home"];
const HOST_LIFETIME_S = 900;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

function must(cmd: string, args: readonly string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 15_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: rc ${r.status} ${r.stderr ?? ""}${r.error ? String(r.error) : ""}`);
}

const toRun = (r: SpawnSyncReturns<string>): Run => ({
  rc: r.status ?? (r.signal ? 128 : -1),
  out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? `\n${String(r.error)}` : ""}`,
});

export class ExampleHosts {
  private readonly net: NetnsHosts;
  private readonly inits = new Map<string, Proc>();
  private readonly procs: Proc[] = [];

  /**
   * @param prefix unique on the machine (namespace names are global): `hf-ex-<example>`
   * @param treeDir the revealed render tree (DIR/<host>/<path>), already staged (modes, owners)
   * @param workDir scratch space for environment layers, upper dirs and logs
   * @param hostsFile lines of /etc/hosts every host sees
   */
  constructor(
    prefix: string,
    readonly hosts: readonly ExampleHost[],
    private readonly treeDir: string,
    private readonly workDir: string,
    private readonly hostsFile: string,
  ) {
    this.net = new NetnsHosts(
      prefix,
      hosts.map((h) => ({ name: h.name, address: h.eth0[0]!.split("/")[0]! })),
    );
    this.prefixLength = hosts.map((h) => Number(h.eth0[0]!.split("/")[1] ?? 24));
  }
  private readonly prefixLength: number[];

  ns(host: string): string {
    return this.net.ns(host);
  }

  /** Namespaces, addresses, then one init per host holding its mount/UTS namespace. */
  async up(): Promise<void> {
    this.net.up();
    this.hosts.forEach((h, i) => {
      const ns = this.net.ns(h.name);
      // NetnsHosts put eth0[0] as /24 (its default): fix the prefix if the inventory says otherwise.
      const first = h.eth0[0]!.includes("/") ? h.eth0[0]! : `${h.eth0[0]}/24`;
      if (this.prefixLength[i] !== 24) {
        must("ip", ["-n", ns, "addr", "del", `${first.split("/")[0]}/24`, "dev", "eth0"]);
        must("ip", ["-n", ns, "addr", "add", first, "dev", "eth0"]);
      }
      for (const a of h.eth0.slice(1)) must("ip", ["-n", ns, "addr", "add", a.includes("/") ? a : `${a}/32`, "dev", "eth0"]);
      h.interfaces.forEach((itf, k) => {
        // Both ends stay in the host: only the name and the local address matter to the checks.
        const exists = spawnSync("ip", ["-n", ns, "link", "show", itf.name], { encoding: "utf8" }).status === 0;
        if (!exists) {
          must("ip", ["-n", ns, "link", "add", itf.name, "type", "veth", "peer", "name", `hfp${k}`]);
          must("ip", ["-n", ns, "link", "set", `hfp${k}`, "up"]);
        }
        must("ip", ["-n", ns, "addr", "add", itf.cidr, "dev", itf.name]);
        must("ip", ["-n", ns, "link", "set", itf.name, "up"]);
      });
    });
    for (const h of this.hosts) this.inits.set(h.name, this.startInit(h.name));
    for (const h of this.hosts) {
      const init = this.inits.get(h.name)!;
      let ready = false;
      for (let i = 0; i < 100 && !ready && !init.exited; i++) {
        ready = spawnSync("nsenter", ["-t", String(init.pid), "-m", "--", "test", "-e", "/run/hf-ex-ready"]).status === 0;
        if (!ready) await sleep(100);
      }
      if (!ready) throw new Error(`${h.name}: host environment did not come up (see ${init.log})`);
    }
  }

  private startInit(host: string): Proc {
    const tree = join(this.treeDir, host);
    const env = join(this.workDir, "env", host);
    const upper = join(this.workDir, "upper", host);
    mkdirSync(join(env, "etc"), { recursive: true });
    writeFileSync(join(env, "etc", "hosts"), this.hostsFile);
    writeFileSync(join(env, "etc", "hostname"), `${host}\n`);
    const mounts: string[] = [];
    for (const root of OVERLAY_ROOTS) {
      if (!existsSync(root)) continue;
      const layers = [join(tree, root), join(env, root)].filter((d) => existsSync(d));
      // Writable even when nothing is rendered there: daemons write their state and logs.
      const up = join(upper, root, "u");
      const wk = join(upper, root, "w");
      mkdirSync(up, { recursive: true });
      mkdirSync(wk, { recursive: true });
      mounts.push(
        `mount -t overlay overlay -o ${[`lowerdir=${[...layers, root].join(":")}`, `upperdir=${up}`, `workdir=${wk}`].join(",")} ${root}`,
      );
    }
    const script = [
      "set -e",
      "umount -l /run/netns 2>/dev/null || true",
      ...mounts,
      "mount -t tmpfs -o mode=0755 tmpfs /run",
      "mkdir -p /run/lock",
      `hostname ${host}`,
      "touch /run/hf-ex-ready",
      `exec sleep ${HOST_LIFETIME_S}`,
    ].join("\n");
    return this.spawnRecorded(
      host,
      "init",
      ["ip", "netns", "exec", this.net.ns(host), "unshare", "--mount", "--uts", "--propagation", "private", "--", "sh", "-c", script],
      {},
    );
  }

  private spawnRecorded(host: string, what: string, argv: readonly string[], env: NodeJS.ProcessEnv): Proc {
    const logDir = join(this.workDir, "logs");
    mkdirSync(logDir, { recursive: true });
    const log = join(logDir, `${host}-${what.replace(/[^A-Za-z0-9_.-]/g, "_")}.log`);
    const fd = openSync(log, "a");
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", fd, fd], detached: true, cwd: "/", env });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${argv.join(" ")}`);
    const p: Proc = { host, what, pid: child.pid, child, log, exited: false, code: null };
    child.on("exit", (code, signal) => {
      p.exited = true;
      p.code = code ?? (signal ? 128 : null);
    });
    this.procs.push(p);
    return p;
  }

  private enter(host: string): string[] {
    const init = this.inits.get(host);
    if (!init || init.exited) throw new Error(`${host}: host environment is not running`);
    return ["nsenter", "-t", String(init.pid), "-m", "-u", "-n", "--"];
  }

  /** Base environment of a command on the host (clean: nothing of this test process leaks in). */
  static baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: "/root", ...extra };
  }

  /** `sh -c script` on the host as root, bounded; `args` become $1... */
  sh(
    host: string,
    script: string,
    opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; args?: readonly string[]; user?: string } = {},
  ): Run {
    const asUser =
      opts.user && opts.user !== "root" ? ["setpriv", `--reuid=${opts.user}`, `--regid=${opts.user}`, "--init-groups", "--"] : [];
    const argv = [...this.enter(host), ...asUser, "sh", "-c", script, "sh", ...(opts.args ?? [])];
    return toRun(
      spawnSync(argv[0]!, argv.slice(1), {
        encoding: "utf8",
        timeout: opts.timeoutMs ?? 60_000,
        env: ExampleHosts.baseEnv(opts.env),
        cwd: "/",
      }),
    );
  }

  /** Async twin of sh() (for checks that may run side by side). */
  shAsync(
    host: string,
    script: string,
    opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; args?: readonly string[] } = {},
  ): Promise<Run> {
    const argv = [...this.enter(host), "sh", "-c", script, "sh", ...(opts.args ?? [])];
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { env: ExampleHosts.baseEnv(opts.env), cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d) => (out += String(d)));
      child.stderr.on("data", (d) => (out += String(d)));
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
      child.on("error", (e) => (out += String(e)));
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ rc: code ?? (signal ? 128 : -1), out });
      });
    });
  }

  /** Start a daemon on the host (as `user`, with `env`, in `cwd`), recorded by PID. */
  start(host: string, what: string, argv: readonly string[], opts: { user?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Proc {
    const asUser =
      opts.user && opts.user !== "root" ? ["setpriv", `--reuid=${opts.user}`, `--regid=${opts.user}`, "--init-groups", "--"] : [];
    // cd inside the host's mount namespace (the directory may exist only in its overlay).
    const inDir = ["sh", "-c", 'cd "$0" && exec "$@"', opts.cwd ?? "/"];
    return this.spawnRecorded(host, what, [...this.enter(host), ...asUser, ...inDir, ...argv], ExampleHosts.baseEnv(opts.env));
  }

  /** Stop one process by its recorded PID: TERM to its group, KILL after `graceMs`. */
  async stop(p: Proc, graceMs = 15_000): Promise<void> {
    if (p.exited) return;
    signalGroup(p.pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (!p.exited && Date.now() < deadline) await sleep(100);
    if (!p.exited) {
      signalGroup(p.pid, "SIGKILL");
      const hard = Date.now() + 5_000;
      while (!p.exited && Date.now() < hard) await sleep(100);
    }
  }

  /** True when `p` exited within `ms`. */
  async exitsWithin(p: Proc, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!p.exited && Date.now() < deadline) await sleep(200);
    return p.exited;
  }

  /**
   * Stop everything started here (daemons, then the inits), then whatever still runs inside the
   * namespaces this test created (forked helpers such as epmd: PIDs listed by `ip netns pids`),
   * then delete the namespaces. Returns the problems met.
   */
  async down(): Promise<string[]> {
    const daemons = this.procs.filter((p) => p.what !== "init");
    await Promise.all(daemons.map((p) => this.stop(p)));
    await Promise.all([...this.inits.values()].map((p) => this.stop(p, 5_000)));
    for (const h of this.hosts) {
      const r = spawnSync("ip", ["netns", "pids", this.net.ns(h.name)], { encoding: "utf8", timeout: 10_000 });
      for (const pid of (r.stdout ?? "").split("\n").filter(Boolean).map(Number)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
    return this.net.down();
  }

  /** Where a daemon's writes landed (the upper layer of `root`), to see what it rewrote. */
  upperOf(host: string, root: string): string {
    return join(this.workDir, "upper", host, root, "u");
  }
}

/** uid/gid of a user and group of this machine, undefined when absent. */
export function ids(user: string, group: string): { uid: number; gid: number } | undefined {
  const u = spawnSync("id", ["-u", user], { encoding: "utf8" });
  const g = spawnSync("getent", ["group", group], { encoding: "utf8" });
  if (u.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.split(":")[2]) };
}

/**
 * Make a revealed render tree look as the host would after a deploy: each file gets its
 * manifest mode and owner (when that user exists on this machine), and each directory that also
 * exists on the machine takes the machine's owner and mode — the overlay shows the top layer's
 * directory attributes, and /var/lib/rabbitmq owned by root would stop RabbitMQ from writing.
 * Returns the owners that do not exist here.
 */
export function stageTree(
  treeDir: string,
  files: readonly { host: string; path: string; mode: string; owner: string; group: string }[],
): string[] {
  const unknown = new Set<string>();
  for (const f of files) {
    const p = join(treeDir, f.host, f.path);
    chmodSync(p, parseInt(f.mode, 8));
    const id = ids(f.owner, f.group);
    if (id) chownSync(p, id.uid, id.gid);
    else unknown.add(`${f.owner}:${f.group}`);
  }
  const walk = (dir: string, real: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const d = join(dir, e.name);
      const r = join(real, e.name);
      if (existsSync(r) && statSync(r).isDirectory()) {
        const st = statSync(r);
        chownSync(d, st.uid, st.gid);
        chmodSync(d, st.mode & 0o7777);
      } else {
        // A folder the host does not have yet is made by the apply's `mkdir -p` (0755); the render
        // tree's own folders are private (0700) under --reveal-secrets, which would hide the
        // files below from the daemons' users.
        chmodSync(d, 0o755);
      }
      walk(d, r);
    }
  };
  for (const host of readdirSync(treeDir, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== "k8s"))
    walk(join(treeDir, host.name), "/");
  return [...unknown].sort();
}
