/**
 * Against the incumbent: the same config files applied to the same lab hosts by haforge
 * (pooled ssh2 transport + `applyFile`, as the RemoteFile provider does it) and by
 * `ansible-playbook` (ansible-core from Debian, `copy` module in a loop, pipelining on).
 *
 *   npm run bench:ansible -- [--rounds 3] [--source lab|synthetic] [--files 25] [--hosts 3]
 *                            [--parallel 16] [--wait-min 30] [--budget-min 60]
 *
 * Four tools, each with a first run (every file new) and a no-op run (nothing may change: checked
 * by inode + mtime + ctime of every file, from inside the hosts):
 * - haforge          one `applyFile` per file (fact read, then write when needed), `--parallel`
 *                    files in flight over one pooled connection per host: the Pulumi path;
 * - haforge-batched  one `readFileFacts` per host first, then writes only for changed files;
 * - ansible-cp       ansible-playbook with Ansible's default ssh_args (ControlMaster=auto,
 *                    ControlPersist=60s);
 * - ansible-nocp     the same with ControlMaster=no: one TCP + SSH handshake per remote step.
 * Runs are interleaved in one invocation: per round all first runs, then all no-op runs, in
 * forward order on even rounds and reversed on odd ones (ABBA), after an untimed warm-up of each
 * tool. Ratios are computed per round (same minute, same machine load), then the median is taken.
 *
 * SSH connections are counted from each host's sshd log (`sshd -D -e` under supervisord writes
 * one "Accepted publickey" line per authenticated connection, read through `hostExec`, which
 * enters the host without SSH and so does not count itself); the pool's `stats().opened` is the
 * cross-check for haforge.
 *
 * Files land under /srv/bench/r<round>/<tool>/<real path> on the hosts (/srv is the host's own
 * overlay; no daemon reads it). Their parent directories are created beforehand for every tool,
 * outside the timing: Ansible's `copy` does not create missing parents (haforge's write does),
 * so this keeps the playbook to the one idiomatic task — it favours Ansible slightly.
 *
 * The lab is brought up and down here (`withLab`), after waiting (20 s polls, `--wait-min`) for it
 * to be free: its bridge and /24 are fixed, so another lab or a running e2e suite on this machine
 * means waiting, not a second lab. If the lab is taken away mid-run, the complete rounds are kept
 * and the JSON says `aborted`.
 * Results: a table on stdout and bench/results/vs-ansible.json.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../src/pipeline/analyze";
import { generateMaterial } from "../src/core/generate-material";
import { sha256Hex, shQuote } from "../src/core/file-ops";
import { secretKey } from "../src/core/secrets";
import { collectSecretRefs } from "../src/render/output";
import { renderDesiredState, requiredMaterials } from "../src/pipeline/render";
import { applyFile, readFileFacts, type FileToApply } from "../src/transport";
import { SshPool, mapLimit, type HostConnection } from "../src/transport";
import { BRIDGE, STATE_FILE } from "../lab/config";
import { hostExec, hostInfo, withLab, type LabInfo } from "../lab/exec";
import { readState } from "../lab/state";

const REPO = resolve(__dirname, "..");
const PLAYBOOKS = join(__dirname, "ansible");
const TOOLS = ["haforge", "haforge-batched", "ansible-cp", "ansible-nocp"] as const;
type Tool = (typeof TOOLS)[number];
type RunKind = "first" | "no-op";

const log = (m: string) => process.stderr.write(`${m}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ---------------------------------------------------------------------------------------------
// Arguments

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function intArg(name: string, dflt: number, max: number): number {
  const raw = argValue(name);
  const v = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`--${name} must be an integer 1..${max}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// The file set

export interface BenchFile {
  /** Lab host it goes to. */
  readonly host: string;
  /** The real path; each tool writes it under its own scratch root. */
  readonly path: string;
  readonly content: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly secret: boolean;
}

/**
 * The lab inventory's real rendered files (inventories/lab.yaml), with throwaway secrets and
 * freshly generated materials, kept in memory only. `validate` commands are dropped on both sides
 * (no daemon config is checked here: this measures the transport). Base64-encoded files (the
 * corosync authkey) are written as their base64 text by both tools: the same bytes either way.
 */
function labFiles(hosts: readonly string[]): BenchFile[] {
  const a = analyzeInventoryFile(join(REPO, "inventories", "lab.yaml"));
  if (!a.plan) throw new Error(`inventories/lab.yaml does not plan: ${a.findings.map((f) => `${f.code} ${f.path}`).join("; ")}`);
  const secrets: Record<string, string> = {};
  for (const ref of collectSecretRefs(a.plan.inventory))
    secrets[secretKey(ref)] = `bench-${generateMaterial({ type: "token", length: 16 })}`;
  const materials: Record<string, string> = {};
  for (const spec of requiredMaterials(a.plan)) materials[spec.key] = generateMaterial(spec.kind);
  const rendered = renderDesiredState(a.plan, secrets, materials).hosts.filter((h) => h.files.length > 0);
  if (rendered.length === 0) throw new Error("inventories/lab.yaml rendered no files");
  // Bench host i gets rendered host i's files (round robin when --hosts exceeds the inventory's).
  return hosts.flatMap((host, i) =>
    rendered[i % rendered.length]!.files.map((f) => ({
      host,
      path: f.path,
      content: f.content,
      mode: f.mode,
      owner: f.owner,
      group: f.group,
      secret: f.secret,
    })),
  );
}

/** N synthetic config files per host: ~1.2 KB each, a mix of modes and owners. */
function syntheticFiles(hosts: readonly string[], perHost: number): BenchFile[] {
  const modes = ["0644", "0640", "0600", "0755"];
  const owners: Array<[string, string]> = [
    ["root", "root"],
    ["root", "rabbitmq"],
    ["postgres", "postgres"],
  ];
  return hosts.flatMap((host) =>
    Array.from({ length: perHost }, (_, i) => {
      const [owner, group] = owners[i % owners.length]!;
      return {
        host,
        path: `/etc/bench/conf.d/${String(i).padStart(3, "0")}-${host}.conf`,
        content:
          `# haforge bench file ${i} of ${host}\n` + Array.from({ length: 40 }, (_, l) => `key_${l} = value-${host}-${i}-${l}\n`).join(""),
        mode: modes[i % modes.length]!,
        owner,
        group,
        secret: false,
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The lab: waiting for it to be free, connection counts, what is on the hosts

/** Why the lab is busy, or null. Its bridge and /24 are fixed: a second lab would collide. */
function labBusy(): string | null {
  if (existsSync(STATE_FILE)) return `${STATE_FILE} exists`;
  if (spawnSync("ip", ["link", "show", BRIDGE], { stdio: "ignore", timeout: 10_000 }).status === 0) return `bridge ${BRIDGE} exists`;
  const ns = spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 10_000 }).stdout ?? "";
  const labNs = ns
    .split("\n")
    .map((l) => l.split(/\s+/)[0] ?? "")
    .filter((n) => /^lab\d+$/.test(n));
  if (labNs.length) return `lab namespaces exist (${labNs.join(", ")})`;
  // The e2e suite tears down whatever lab it finds when it starts (a leftover of a killed run, as
  // far as it can tell): while it runs, a lab of ours would be taken away mid-measurement.
  const e2e = runningE2e();
  if (e2e.length) return `an e2e test run is in progress (pid ${e2e.join(", ")})`;
  return null;
}

/** PIDs whose command line runs tests/e2e (read-only scan of /proc). */
function runningE2e(): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (/tests\/e2e\//.test(readFileSync(`/proc/${e}/cmdline`, "utf8"))) out.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

async function waitForFreeLab(maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const why = labBusy();
    if (!why) return;
    if (Date.now() + 20_000 > deadline)
      throw new Error(`the lab stayed busy for ${Math.round(maxMs / 60_000)} min (${why}); not starting a second one`);
    log(`lab busy (${why}); checking again in 20 s`);
    await sleep(20_000);
  }
}

async function hostSh(host: string, cmd: string, timeoutMs = 60_000): Promise<string> {
  const r = await hostExec(host, cmd, { timeoutMs });
  if (!r.ok) throw new Error(`[${host}] ${cmd.slice(0, 80)}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** "Accepted publickey" lines in a host's sshd log: authenticated SSH connections so far. */
async function acceptedCount(host: string): Promise<number> {
  return Number((await hostSh(host, "grep -c 'Accepted publickey' /var/log/supervisor/sshd.log || true")).trim() || 0);
}

/**
 * Per-host counts once they stop moving: supervisord copies sshd's stderr into the log from its
 * own loop, so a line can land a moment after the connection. Bounded: 20 × 250 ms.
 */
async function settledCounts(hosts: readonly string[]): Promise<number[]> {
  let prev = await Promise.all(hosts.map(acceptedCount));
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    const now = await Promise.all(hosts.map(acceptedCount));
    if (now.every((n, j) => n === prev[j])) return now;
    prev = now;
  }
  return prev;
}

interface LiveFile {
  readonly ino: string;
  readonly mtime: string;
  readonly ctime: string;
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
  readonly sha256: string;
}

/** Every regular file under `root` on a host, read from inside the host (no SSH). */
async function tree(host: string, root: string): Promise<Map<string, LiveFile>> {
  const q = shQuote(root);
  const out = await hostSh(
    host,
    `cd ${q} 2>/dev/null || exit 0; find . -type f -printf '/%P\\t%i\\t%T@\\t%C@\\t%m\\t%u\\t%g\\t' -exec sh -c 'sha256sum < "$1" | cut -d" " -f1' _ {} \\;`,
    120_000,
  );
  const files = new Map<string, LiveFile>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [path, ino, mtime, ctime, mode, owner, group, sha256] = line.split("\t");
    files.set(path!, { ino: ino!, mtime: mtime!, ctime: ctime!, mode: parseInt(mode!, 8), owner: owner!, group: group!, sha256: sha256! });
  }
  return files;
}

/** The tool put exactly the desired files there: same set, bytes, mode, owner and group. */
function checkTree(tool: Tool, host: string, live: Map<string, LiveFile>, want: readonly BenchFile[]): void {
  const problems: string[] = [];
  for (const f of want) {
    const l = live.get(f.path);
    if (!l) problems.push(`${f.path} missing`);
    else {
      if (l.sha256 !== sha256Hex(f.content)) problems.push(`${f.path} content differs`);
      if (l.mode !== parseInt(f.mode, 8)) problems.push(`${f.path} mode ${l.mode.toString(8)} != ${f.mode}`);
      if (l.owner !== f.owner || l.group !== f.group) problems.push(`${f.path} owner ${l.owner}:${l.group} != ${f.owner}:${f.group}`);
    }
  }
  const wanted = new Set(want.map((f) => f.path));
  for (const p of live.keys()) if (!wanted.has(p)) problems.push(`${p} left behind`);
  if (problems.length)
    throw new Error(`${tool} on ${host}: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? ` (+${problems.length - 5})` : ""}`);
}

function sameTree(a: Map<string, LiveFile>, b: Map<string, LiveFile>): string[] {
  const touched: string[] = [];
  for (const [p, x] of a) {
    const y = b.get(p);
    if (!y || y.ino !== x.ino || y.mtime !== x.mtime || y.ctime !== x.ctime) touched.push(p);
  }
  for (const p of b.keys()) if (!a.has(p)) touched.push(p);
  return touched;
}

// ---------------------------------------------------------------------------------------------
// haforge side

interface ToolRun {
  readonly seconds: number;
  readonly filesChanged: number;
  /** Remote commands (channels) — haforge only; Ansible's are not observable from here. */
  readonly commands?: number;
  /** Connections the pool opened — haforge only. */
  readonly poolOpened?: number;
}

async function runHaforge(
  batched: boolean,
  conns: ReadonlyMap<string, HostConnection>,
  files: readonly BenchFile[],
  root: string,
  parallel: number,
  lastSha: Map<string, string>,
): Promise<ToolRun> {
  const pool = new SshPool();
  // Files interleaved across hosts, so the bounded parallelism spreads over every host at once.
  const byHost = [...conns.keys()].map((h) => files.filter((f) => f.host === h));
  const jobs: BenchFile[] = [];
  for (let i = 0; i < Math.max(...byHost.map((l) => l.length)); i++) for (const l of byHost) if (l[i]) jobs.push(l[i]!);
  const spec = (f: BenchFile): FileToApply => ({
    path: root + f.path,
    content: f.content,
    mode: f.mode,
    owner: f.owner,
    group: f.group,
    secret: f.secret,
  });
  const key = (f: BenchFile) => `${f.host}:${f.path}`;
  let changed = 0;
  const t0 = performance.now();
  try {
    let facts: Map<string, Awaited<ReturnType<typeof readFileFacts>>> | undefined;
    if (batched) {
      const hosts = [...conns.keys()];
      const all = await Promise.all(
        hosts.map((h) =>
          readFileFacts(
            pool,
            conns.get(h)!,
            files.filter((f) => f.host === h).map((f) => root + f.path),
          ),
        ),
      );
      facts = new Map(hosts.map((h, i) => [h, all[i]!]));
    }
    await mapLimit(jobs, parallel, async (f) => {
      const prev = lastSha.get(key(f));
      const live = facts?.get(f.host)?.get(root + f.path);
      const r = await applyFile(conns.get(f.host)!, spec(f), {
        pool,
        ...(prev === undefined ? {} : { lastSha: prev }),
        ...(live === undefined ? {} : { live }),
      });
      if (r.changed) changed++;
      lastSha.set(key(f), r.sha256);
    });
    const seconds = (performance.now() - t0) / 1000;
    const s = pool.stats();
    return { seconds, filesChanged: changed, commands: s.execs, poolOpened: s.opened };
  } finally {
    await pool.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Ansible side

interface AnsibleWorkdir {
  readonly dir: string;
  readonly inventory: string;
  readonly cfg: Record<"ansible-cp" | "ansible-nocp", string>;
  readonly sshArgs: Record<"ansible-cp" | "ansible-nocp", string>;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Inventory (pinned known_hosts, the lab key), host_vars with each host's file list, the files
 * themselves, and one ansible.cfg per variant. Nothing from the caller's ANSIBLE_* environment
 * leaks in. https://docs.ansible.com/ansible/latest/reference_appendices/config.html
 */
export function stageAnsible(
  dir: string,
  lab: Pick<LabInfo, "hosts" | "knownHostsPath" | "privateKeyPath">,
  files: readonly BenchFile[],
  forks: number,
): AnsibleWorkdir {
  mkdirSync(join(dir, "host_vars"), { recursive: true });
  const common = [
    `-o UserKnownHostsFile=${lab.knownHostsPath}`,
    "-o StrictHostKeyChecking=yes",
    "-o GlobalKnownHostsFile=/dev/null",
    "-o IdentitiesOnly=yes",
    "-o BatchMode=yes",
  ].join(" ");
  const inventory = join(dir, "inventory.ini");
  writeFileSync(
    inventory,
    [
      "[bench]",
      ...lab.hosts.map((h) => `${h.name} ansible_host=${h.address} ansible_port=${h.port}`),
      "",
      "[bench:vars]",
      "ansible_user=root",
      `ansible_ssh_private_key_file=${lab.privateKeyPath}`,
      `ansible_ssh_common_args='${common}'`,
      // an explicit interpreter skips discovery (one more round trip per host)
      "ansible_python_interpreter=/usr/bin/python3",
      "",
    ].join("\n"),
  );
  for (const h of lab.hosts) {
    const mine = files.filter((f) => f.host === h.name);
    mkdirSync(join(dir, "files", h.name), { recursive: true });
    const list = mine.map((f, i) => {
      const src = join(dir, "files", h.name, String(i));
      writeFileSync(src, f.content, { mode: 0o600 });
      return { src, path: f.path, mode: f.mode, owner: f.owner, group: f.group };
    });
    writeFileSync(join(dir, "host_vars", `${h.name}.yml`), yaml.dump({ bench_files: list }));
  }
  // Ansible's own default ssh_args are "-C -o ControlMaster=auto -o ControlPersist=60s"; the
  // no-ControlPersist variant changes only the multiplexing.
  // https://docs.ansible.com/ansible/latest/collections/ansible/builtin/ssh_connection.html
  const sshArgs = {
    "ansible-cp": "-C -o ControlMaster=auto -o ControlPersist=60s",
    "ansible-nocp": "-C -o ControlMaster=no -o ControlPersist=no",
  };
  const cfg = {} as Record<"ansible-cp" | "ansible-nocp", string>;
  for (const v of ["ansible-cp", "ansible-nocp"] as const) {
    cfg[v] = join(dir, `${v}.cfg`);
    writeFileSync(
      cfg[v],
      [
        "[defaults]",
        `inventory = ${inventory}`,
        `forks = ${forks}`,
        "host_key_checking = True",
        "gathering = explicit",
        "retry_files_enabled = False",
        "nocolor = True",
        "",
        "[ssh_connection]",
        "pipelining = True",
        `ssh_args = ${sshArgs[v]}`,
        "",
      ].join("\n"),
    );
  }
  mkdirSync(join(dir, "home"), { recursive: true });
  mkdirSync(join(dir, "local"), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    LANG: "C.UTF-8",
    ANSIBLE_HOME: join(dir, "home"),
    ANSIBLE_LOCAL_TEMP: join(dir, "local"),
  };
  return { dir, inventory, cfg, sshArgs, env };
}

/** The ansible-playbook process running now: killed (its process group) if we exit early. */
let running: { pid: number } | undefined;
process.on("exit", () => {
  if (running) {
    try {
      process.kill(-running.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

interface Proc {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Run a command in its own process group; SIGTERM then SIGKILL to the group after `timeoutMs`. */
function runProc(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Proc> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: REPO, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    if (child.pid === undefined) return reject(new Error(`cannot start ${cmd}`));
    const me = { pid: child.pid };
    running = me;
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      stderr += `\n[bench] ${cmd} exceeded ${timeoutMs / 1000} s; killing it\n`;
      try {
        process.kill(-me.pid, "SIGTERM");
      } catch {
        /* gone */
      }
      killer = setTimeout(() => {
        try {
          process.kill(-me.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }, 5000);
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      if (running === me) running = undefined;
      resolvePromise({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/**
 * Masters left behind by ControlPersist: closed through their control sockets (no new
 * connection), so every run starts cold and the next run's count is its own. They would exit on
 * their own after 60 s idle anyway.
 */
function closeMasters(controlDir: string): number {
  if (!existsSync(controlDir)) return 0;
  const socks = readdirSync(controlDir);
  for (const s of socks)
    spawnSync("ssh", ["-o", `ControlPath=${join(controlDir, s)}`, "-O", "exit", "bench-host"], { stdio: "ignore", timeout: 15_000 });
  return socks.length;
}

let controlSeq = 0;

export async function runAnsible(
  w: AnsibleWorkdir,
  variant: "ansible-cp" | "ansible-nocp",
  playbook: string,
  root: string | undefined,
): Promise<ToolRun & { output: string }> {
  // A fresh, short control directory per run (unix socket paths are limited to 108 bytes).
  const controlDir = join(w.dir, "c", String(++controlSeq));
  mkdirSync(controlDir, { recursive: true });
  const env = { ...w.env, ANSIBLE_CONFIG: w.cfg[variant], ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir };
  const args = [join(PLAYBOOKS, playbook), ...(root === undefined ? [] : ["-e", `bench_root=${root}`])];
  let p: Proc;
  try {
    p = await runProc("ansible-playbook", args, env, 15 * 60_000);
  } finally {
    closeMasters(controlDir);
  }
  const output = `${p.stdout}\n${p.stderr}`;
  if (p.code !== 0) throw new Error(`ansible-playbook ${playbook} (${variant}) exit ${p.code}:\n${output.slice(-3000)}`);
  // One "changed: [host] => (item=<path>)" line per file the copy module changed.
  const changed = (p.stdout.match(/^changed: \[[^\]]+\] => \(item=/gm) ?? []).length;
  return { seconds: p.seconds, filesChanged: changed, output };
}

// ---------------------------------------------------------------------------------------------
// Main

interface RunRecord extends ToolRun {
  readonly round: number;
  /** 1-based position of this run within its round. */
  readonly position: number;
  readonly tool: Tool;
  readonly run: RunKind;
  readonly sshdConnections: number;
  readonly sshdConnectionsPerHost: Record<string, number>;
}

const pad = (rows: string[][]) => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join("  ")).join("\n");
};

async function main() {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  const rounds = intArg("rounds", 3, 50);
  const hostCount = intArg("hosts", 3, 50);
  const parallel = intArg("parallel", 16, 256);
  const perHost = intArg("files", 25, 1000);
  const waitMin = intArg("wait-min", 30, 240);
  const budgetMin = intArg("budget-min", 60, 600);
  const source = argValue("source") ?? "lab";
  if (source !== "lab" && source !== "synthetic") throw new Error("--source must be lab or synthetic");
  const version = spawnSync("ansible-playbook", ["--version"], { encoding: "utf8", timeout: 60_000 });
  if (version.status !== 0) throw new Error("ansible-playbook is not installed (apt-get install ansible-core)");
  const ansibleVersion = /core ([\d.]+)/.exec(version.stdout)?.[1] ?? "unknown";
  const sshVersion = spawnSync("ssh", ["-V"], { encoding: "utf8", timeout: 10_000 }).stderr.trim();

  const names = Array.from({ length: hostCount }, (_, i) => `lab${i + 1}`);
  const files = source === "lab" ? labFiles(names) : syntheticFiles(names, perHost);
  const bytes = files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
  log(`file set: ${source}, ${files.length} files (${(bytes / 1024).toFixed(1)} KiB) on ${hostCount} hosts`);

  await waitForFreeLab(waitMin * 60_000);
  const loadStart = loadavg()[0]!;
  const work = mkdtempSync(join(tmpdir(), "hfva-"));
  const records: RunRecord[] = [];
  const overhead = { ansibleEmptyPlaySeconds: [] as number[], haforgeModuleLoadSeconds: [] as number[] };
  let labUpMs = 0;
  let aborted: string | undefined;
  const budgetEnd = Date.now() + budgetMin * 60_000;
  try {
    await withLab({ hosts: hostCount, log }, async (lab) => {
      labUpMs = lab.ms;
      const hosts = lab.hosts.map((h) => h.name);
      const conns = new Map<string, HostConnection>(
        lab.hosts.map((h) => [
          h.name,
          {
            host: h.name,
            address: h.address,
            port: 22,
            user: "root",
            knownHostsFile: lab.knownHostsPath,
            privateKeyPath: lab.privateKeyPath,
          },
        ]),
      );
      const w = stageAnsible(join(work, "a"), lab, files, Math.max(5, hostCount));
      const rootOf = (round: number, tool: Tool) => `/srv/bench/r${round}/${tool}`;

      // Parent directories for every tool and round, outside the timing (see the header).
      for (const h of hosts) {
        const dirs = new Set<string>();
        for (let r = 1; r <= rounds; r++)
          for (const t of TOOLS) for (const f of files) if (f.host === h) dirs.add(dirname(rootOf(r, t) + f.path));
        await hostSh(h, `mkdir -p -- ${[...dirs].map(shQuote).join(" ")}`);
      }

      // Untimed warm-up: page cache, Python bytecode, the first key exchange of each tool.
      log("warm-up");
      const warm = new SshPool();
      try {
        await Promise.all([...conns.values()].map((c) => warm.exec(c, "true", { timeoutMs: 30_000 })));
      } finally {
        await warm.close();
      }
      await runAnsible(w, "ansible-nocp", "warmup.yml", undefined);
      await runAnsible(w, "ansible-cp", "warmup.yml", undefined);
      // Fixed per-invocation costs, for reading the ratios (not part of them).
      for (let i = 0; i < 3; i++) {
        overhead.ansibleEmptyPlaySeconds.push((await runAnsible(w, "ansible-nocp", "empty.yml", undefined)).seconds);
        const load = await runProc(
          process.execPath,
          ["--require", require.resolve("tsx/cjs"), "-e", "require('./src/providers'); require('./src/transport')"],
          { PATH: process.env.PATH ?? "" },
          120_000,
        );
        if (load.code !== 0) throw new Error(`loading haforge's transport failed: ${load.stderr}`);
        overhead.haforgeModuleLoadSeconds.push(load.seconds);
      }

      const lastSha = new Map<Tool, Map<string, string>>(TOOLS.map((t) => [t, new Map()]));
      const ours = readState()?.createdAt;
      for (let round = 1; round <= rounds; round++) {
        if (round > 1 && Date.now() > budgetEnd) {
          log(`time budget of ${budgetMin} min used up: stopping after ${round - 1} round(s)`);
          break;
        }
        try {
          const order = round % 2 === 1 ? [...TOOLS] : [...TOOLS].reverse();
          const before = new Map<Tool, Map<string, Map<string, LiveFile>>>();
          let position = 0;
          for (const kind of ["first", "no-op"] as const) {
            for (const tool of order) {
              const root = rootOf(round, tool);
              const mark = await settledCounts(hosts);
              let r: ToolRun;
              if (tool === "haforge" || tool === "haforge-batched") {
                if (kind === "first") lastSha.set(tool, new Map());
                r = await runHaforge(tool === "haforge-batched", conns, files, root, parallel, lastSha.get(tool)!);
              } else {
                const a = await runAnsible(w, tool, "copy.yml", root);
                r = { seconds: a.seconds, filesChanged: a.filesChanged };
              }
              const after = await settledCounts(hosts);
              const perHostConns = Object.fromEntries(hosts.map((h, i) => [h, after[i]! - mark[i]!]));
              const rec: RunRecord = {
                round,
                position: ++position,
                tool,
                run: kind,
                ...r,
                sshdConnections: Object.values(perHostConns).reduce((a, b) => a + b, 0),
                sshdConnectionsPerHost: perHostConns,
              };
              records.push(rec);
              log(
                `round ${round} ${kind.padEnd(5)} ${tool.padEnd(15)} ${r.seconds.toFixed(2).padStart(7)} s  changed ${r.filesChanged}  ssh connections ${rec.sshdConnections}`,
              );

              // Correctness, outside the timing: first runs write everything, no-op runs nothing.
              const live = new Map<string, Map<string, LiveFile>>();
              for (const h of hosts) live.set(h, await tree(h, root));
              if (kind === "first") {
                if (r.filesChanged !== files.length)
                  throw new Error(`${tool} first run changed ${r.filesChanged} of ${files.length} files`);
                for (const h of hosts)
                  checkTree(
                    tool,
                    h,
                    live.get(h)!,
                    files.filter((f) => f.host === h),
                  );
                before.set(tool, live);
              } else {
                const touched = hosts.flatMap((h) => sameTree(before.get(tool)!.get(h)!, live.get(h)!).map((p) => `${h}:${p}`));
                if (touched.length || r.filesChanged !== 0)
                  throw new Error(
                    `${tool} no-op run changed ${r.filesChanged} files and touched ${touched.length}: ${touched.slice(0, 5).join(", ")}`,
                  );
              }
            }
          }
        } catch (e) {
          // Keep the rounds already complete; say whether someone else took the lab away (its
          // bridge and journal are shared by everything on this machine that runs a lab).
          const st = readState();
          const lost = st?.createdAt !== ours || !hostInfo().every((h) => h.running);
          aborted = `round ${round}: ${(e as Error).message.split("\n")[0]}${lost ? " (the lab was taken down or replaced by another process meanwhile)" : ""}`;
          log(`aborted: ${(e as Error).message.slice(0, 3000)}`);
          break;
        }
      }
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------------- summary
  // Only rounds with all eight runs count: a ratio needs both sides measured in the same round.
  const completedRounds = [...new Set(records.map((r) => r.round))].filter(
    (round) => records.filter((r) => r.round === round).length === TOOLS.length * 2,
  );
  if (completedRounds.length === 0) throw new Error(`no complete round${aborted ? `: ${aborted}` : ""}`);
  const counted = records.filter((r) => completedRounds.includes(r.round));
  const get = (round: number, tool: Tool, run: RunKind) => records.find((r) => r.round === round && r.tool === tool && r.run === run);
  const summary = TOOLS.flatMap((tool) =>
    (["first", "no-op"] as const).map((run) => {
      const rs = counted.filter((r) => r.tool === tool && r.run === run);
      const secs = rs.map((r) => r.seconds);
      return {
        tool,
        run,
        medianSeconds: median(secs),
        minSeconds: Math.min(...secs),
        maxSeconds: Math.max(...secs),
        filesChanged: rs[0]?.filesChanged ?? 0,
        sshdConnections: median(rs.map((r) => r.sshdConnections)),
        poolOpened: rs[0]?.poolOpened,
        commands: rs[0]?.commands,
      };
    }),
  );
  const ratio = (num: Tool, den: Tool, run: RunKind) => {
    const per = completedRounds.map((round) => get(round, num, run)!.seconds / get(round, den, run)!.seconds);
    return { perRound: per.map((x) => Number(x.toFixed(2))), median: Number(median(per).toFixed(2)) };
  };
  const ratios = {
    "ansible-cp / haforge": { first: ratio("ansible-cp", "haforge", "first"), noop: ratio("ansible-cp", "haforge", "no-op") },
    "ansible-nocp / haforge": { first: ratio("ansible-nocp", "haforge", "first"), noop: ratio("ansible-nocp", "haforge", "no-op") },
    "ansible-cp / haforge-batched": {
      first: ratio("ansible-cp", "haforge-batched", "first"),
      noop: ratio("ansible-cp", "haforge-batched", "no-op"),
    },
    "ansible-nocp / haforge-batched": {
      first: ratio("ansible-nocp", "haforge-batched", "first"),
      noop: ratio("ansible-nocp", "haforge-batched", "no-op"),
    },
  };

  const rows = [
    ["tool", "run", "median s", "min s", "max s", "changed", "ssh conns (sshd log)", "conns (pool)", "commands"],
    ...summary.map((s) => [
      s.tool,
      s.run,
      s.medianSeconds.toFixed(2),
      s.minSeconds.toFixed(2),
      s.maxSeconds.toFixed(2),
      String(s.filesChanged),
      String(s.sshdConnections),
      s.poolOpened === undefined ? "-" : String(s.poolOpened),
      s.commands === undefined ? "-" : String(s.commands),
    ]),
  ];
  console.log(
    `\nvs-ansible: ${files.length} files (${source}, ${(bytes / 1024).toFixed(1)} KiB) on ${hostCount} lab hosts; ${completedRounds.length} round(s); haforge parallel ${parallel}; ansible-core ${ansibleVersion}, forks ${Math.max(5, hostCount)}, pipelining on`,
  );
  console.log(pad(rows));
  console.log("\nwall-time ratios (median of per-round ratios; per round in brackets):");
  for (const [name, r] of Object.entries(ratios)) {
    console.log(
      `  ${name.padEnd(31)} first ${r.first.median.toFixed(2)}x [${r.first.perRound.join(", ")}]   no-op ${r.noop.median.toFixed(2)}x [${r.noop.perRound.join(", ")}]`,
    );
  }
  console.log(
    `fixed costs (median, not in the ratios): ansible-playbook with an empty play ${median(overhead.ansibleEmptyPlaySeconds).toFixed(2)} s; ` +
      `node loading haforge's transport ${median(overhead.haforgeModuleLoadSeconds).toFixed(2)} s`,
  );

  const outDir = join(__dirname, "results");
  mkdirSync(outDir, { recursive: true });
  const out = {
    benchmark: "vs-ansible",
    date: new Date().toISOString(),
    params: {
      source,
      files: files.length,
      bytes,
      hosts: hostCount,
      rounds: completedRounds.length,
      haforgeParallel: parallel,
      ansibleForks: Math.max(5, hostCount),
    },
    tools: {
      haforge: "SshPool + applyFile per file (fact read + write), mapLimit across hosts; a new pool per run",
      "haforge-batched": "SshPool + readFileFacts per host, then applyFile for changed files",
      "ansible-cp":
        "ansible-playbook bench/ansible/copy.yml, pipelining=True, ssh_args '-C -o ControlMaster=auto -o ControlPersist=60s' (Ansible's default), fresh ControlPath dir per run, masters closed after it",
      "ansible-nocp": "the same with ssh_args '-C -o ControlMaster=no -o ControlPersist=no'",
    },
    machine: {
      cpus: cpus().length,
      loadavg1mAtStart: Number(loadStart.toFixed(2)),
      loadavg1mAtEnd: Number(loadavg()[0]!.toFixed(2)),
      node: process.version,
      ansibleCore: ansibleVersion,
      openssh: sshVersion,
    },
    labUpMs,
    ...(aborted ? { aborted } : {}),
    overhead: {
      ansibleEmptyPlaySeconds: overhead.ansibleEmptyPlaySeconds.map((x) => Number(x.toFixed(3))),
      haforgeModuleLoadSeconds: overhead.haforgeModuleLoadSeconds.map((x) => Number(x.toFixed(3))),
    },
    ratios,
    summary,
    runs: records.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(3)) })),
  };
  writeFileSync(join(outDir, "vs-ansible.json"), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${join(outDir, "vs-ansible.json")}`);
  if (aborted) {
    console.error(`incomplete: ${aborted}`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
