/**
 * A real OpenSSH sshd on 127.0.0.1 for provider tests and the converge bench.
 *
 * Each instance lives in its own temp dir with its own host keys (ed25519 + ecdsa, so pinning one
 * type exercises the host-key algorithm restriction), client key and authorized_keys, logs at
 * DEBUG1 to a file (so tests can see connections and user-auth requests), and is stopped by its
 * recorded PID — never by process name (docs/lab.md, "Rules for tests that use the network").
 *
 * `isolated: true` makes the sshd a host of its own for programs that write system paths (the
 * engine's two-operator test applies the Pulumi program to it): sshd runs in its own mount
 * namespace (`unshare --mount`) with an overlay over the real machine's /etc, /var, /opt, /home,
 * /srv and /usr/local (upper layers in the fixture dir, as a lab host has, docs/lab.md), a fresh
 * /run and a fresh root home. What a session writes there never reaches the real machine; tests
 * read it with `hostPath()` (/proc/PID/root, which resolves in sshd's mount namespace). `stubs`
 * are scripts installed as /usr/local/sbin/NAME of that host, ahead of /usr/sbin and /usr/bin in
 * sshd's default PATH (e.g. a service manager that only records what it was asked).
 *
 * Every sshd, isolated or not, serves its sessions with a fresh root home (Debian's base-files
 * .bashrc and .profile, bind-mounted over /root in sshd's own mount namespace): Debian's bash
 * sources ~/.bashrc for every `ssh host cmd`, so the runner's own dotfiles would run in every
 * command a test sends (docs/lab.md: a pyenv init there cost ~0.7 s of CPU per session here and
 * its rehash lock stalls parallel sessions; the pool test's 120 commands took 157-350 s). The
 * rest of a non-isolated sshd's file system is the real machine's.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostConnection } from "../../src/transport";

const SSHD = "/usr/sbin/sshd";

export interface Sshd {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** `ssh-ed25519 AAAA…` of the server. */
  readonly hostKeyLine: string;
  readonly clientKeyPath: string;
  readonly logPath: string;
  /** A pinned, key-authenticated root connection to this sshd (overridable). */
  conn(overrides?: Partial<HostConnection>): HostConnection;
  /** Current log length: pass to `logSince` to look only at what happened after. */
  mark(): number;
  logSince(mark?: number): string;
  /** TCP connections sshd accepted since `mark` ("Connection from …" lines). */
  connectionsSince(mark?: number): number;
  /** PIDs of sshd's per-connection children (the processes serving live connections). */
  sessionPids(): number[];
  /** Where `path` of this host is readable from the test (isolated: inside sshd's mount namespace). */
  hostPath(path: string): string;
  /** SIGKILL every per-connection child: the client's connections die mid-flight. */
  killSessions(): void;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

const keygen = (type: string, path: string) =>
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "", "-f", path], { stdio: "ignore" });

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The real machine's directories an isolated sshd sees through its own overlay (as a lab host). */
const ISOLATED_OVERLAYS = ["etc", "var", "opt", "home", "srv", "usr/local"] as const;

export interface SshdOptions {
  readonly name?: string;
  readonly extraConfig?: readonly string[];
  /** sshd's MaxSessions (open session channels per connection). @default 10 */
  readonly maxSessions?: number;
  /** Public key lines authorized for root besides the fixture's own client key. */
  readonly authorizedKeys?: readonly string[];
  /** Own mount namespace with overlays (see the file comment). @default false */
  readonly isolated?: boolean;
  /** Isolated only: scripts installed as /usr/local/sbin/<name> on the host (mode 0755). */
  readonly stubs?: Readonly<Record<string, string>>;
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The shell that turns a fresh mount namespace into the isolated host, then execs sshd. Not
 * isolated: only the fresh root home.
 */
function namespaceBoot(dir: string, sshdArgs: readonly string[], isolated: boolean): string {
  const lines = ["set -eu"];
  for (const d of isolated ? ISOLATED_OVERLAYS : []) {
    const key = d.replace(/\//g, "_");
    const upper = join(dir, "upper", key);
    const work = join(dir, "work", key);
    lines.push(
      `if [ -d /${d} ]; then mkdir -p ${sq(upper)} ${sq(work)}; chmod --reference=/${d} ${sq(upper)}; chown --reference=/${d} ${sq(upper)};` +
        ` mount -t overlay haforge-sshd -o ${sq(`lowerdir=/${d},upperdir=${upper},workdir=${work}`)} /${d}; fi`,
    );
  }
  if (isolated) lines.push("mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run", "mkdir -p /run/sshd /run/lock");
  lines.push(
    `mkdir -p ${sq(join(dir, "root-home"))}; chmod 0700 ${sq(join(dir, "root-home"))}`,
    `mount --bind ${sq(join(dir, "root-home"))} /root`,
    `exec ${sshdArgs.map(sq).join(" ")}`,
  );
  return lines.join("\n");
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: install openssh-server`);
  // sshd's privilege-separation directory (Debian's service unit creates it; we have no unit).
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const name = opts.name ?? "sshd";
  const dir = mkdtempSync(join(tmpdir(), `haforge-${name}-`));
  keygen("ed25519", join(dir, "host_ed25519"));
  keygen("ecdsa", join(dir, "host_ecdsa"));
  keygen("ed25519", join(dir, "client_ed25519"));
  writeFileSync(
    join(dir, "authorized_keys"),
    [readFileSync(join(dir, "client_ed25519.pub"), "utf8").trim(), ...(opts.authorizedKeys ?? []).map((k) => k.trim()), ""].join("\n"),
  );
  if (opts.isolated) {
    // Stubs go into the upper layer of /usr/local before it is mounted.
    const sbin = join(dir, "upper", "usr_local", "sbin");
    mkdirSync(sbin, { recursive: true });
    for (const [n, body] of Object.entries(opts.stubs ?? {})) writeFileSync(join(sbin, n), body, { mode: 0o755 });
  } else if (opts.stubs) throw new Error("sshd fixture: stubs need isolated: true");
  // A fresh root home like a lab host's (see the file comment).
  mkdirSync(join(dir, "root-home"), { recursive: true, mode: 0o700 });
  for (const f of ["bashrc", "profile"]) {
    const src = `/usr/share/base-files/dot.${f}`;
    writeFileSync(join(dir, "root-home", `.${f}`), existsSync(src) ? readFileSync(src) : "");
  }
  const logPath = join(dir, "sshd.log");

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const cfg = join(dir, "sshd_config");
    writeFileSync(
      cfg,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${join(dir, "host_ed25519")}`,
        `HostKey ${join(dir, "host_ecdsa")}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "StrictModes no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AllowTcpForwarding yes",
        "LogLevel DEBUG1",
        "MaxStartups 100:30:200",
        `MaxSessions ${opts.maxSessions ?? 10}`,
        ...(opts.extraConfig ?? []),
        "",
      ].join("\n"),
    );
    writeFileSync(logPath, "");
    const sshdArgs = [SSHD, "-D", "-f", cfg, "-E", logPath];
    // unshare execs sh, which execs sshd — one PID throughout, recorded and stopped by it.
    const boot = namespaceBoot(dir, sshdArgs, opts.isolated ?? false);
    const child: ChildProcess = spawn("unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", boot], {
      stdio: ["ignore", "ignore", "pipe"],
      cwd: "/",
    });
    let bootErr = "";
    child.stderr?.on("data", (d: Buffer) => (bootErr += d.toString()));
    const pid = child.pid!;
    let exited = false;
    child.once("exit", () => (exited = true));
    const deadline = Date.now() + 5000;
    while (!exited && Date.now() < deadline && !readFileSync(logPath, "utf8").includes(`Server listening on 127.0.0.1 port ${port}`))
      await sleep(20);
    const log = readFileSync(logPath, "utf8");
    if (exited || !log.includes("Server listening")) {
      if (!exited) process.kill(pid, "SIGKILL");
      if (attempt < 5 && /Bind to port|Address already in use/.test(log)) continue; // lost the port race
      throw new Error(`sshd did not start on port ${port}:\n${log}${bootErr}`);
    }
    const hostKeyLine = readFileSync(join(dir, "host_ed25519.pub"), "utf8").trim();
    const clientKeyPath = join(dir, "client_ed25519");
    const logSince = (m = 0) => readFileSync(logPath, "utf8").slice(m);
    const sessionPids = () => childPids(pid);
    return {
      name,
      port,
      dir,
      pid,
      hostKeyLine,
      clientKeyPath,
      logPath,
      conn: (o = {}) => ({
        host: name,
        address: "127.0.0.1",
        port,
        user: "root",
        hostKey: hostKeyLine,
        privateKeyPath: clientKeyPath,
        ...o,
      }),
      mark: () => readFileSync(logPath, "utf8").length,
      hostPath: (p: string) => (opts.isolated ? `/proc/${pid}/root${p}` : p),
      logSince,
      connectionsSince: (m = 0) => (logSince(m).match(/^Connection from 127\.0\.0\.1 port \d+ on /gm) ?? []).length,
      sessionPids,
      killSessions() {
        for (const p of sessionPids()) {
          try {
            process.kill(p, "SIGKILL");
          } catch {
            /* already gone */
          }
        }
      },
      async stop() {
        const sessions = sessionPids();
        for (const p of [pid, ...sessions]) {
          try {
            process.kill(p, "SIGTERM");
          } catch {
            /* already gone */
          }
        }
        const until = Date.now() + 3000;
        while (!exited && Date.now() < until) await sleep(20);
        if (!exited) process.kill(pid, "SIGKILL");
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
