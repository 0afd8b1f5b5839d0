/**
 * Bring-up: network, then all hosts at once, then a bounded wait until every sshd answers with
 * the host's own key. Every created resource is journaled in state.json before it exists, and
 * any failure tears down what was created (the error carries the failing host's console tail).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import {
  BRIDGE,
  CLIENT_KEY,
  DEFAULT_HOSTS,
  DEFAULT_PREFIX,
  HOSTS_FILE,
  INVENTORY_FILE,
  KNOWN_HOSTS,
  LIMITS,
  MAX_HOSTS,
  SSH_CONFIG,
  STATE_DIR,
  hostAddress,
  vethName,
} from "./config";
import { acquireClaim, releaseClaim, updateClaim } from "./claim";
import { labDownSync } from "./down";
import { enterHost } from "./enter";
import { bootFiles, initScript } from "./host-init";
import { createBridge, createNetns, createVeth, linkExists, listNetns } from "./net";
import { firstChild, isAlive, LabError, mustSync, procRef, run, runSync, sleep, tail, type ProcRef } from "./proc";
import { newState, readState, saveState, type HostState, type LabState } from "./state";

export interface LabUpOptions {
  /** Number of hosts. @default 3 */
  readonly hosts?: number;
  /** Host names are `${prefix}1..${prefix}N`; also their netns names. @default "lab" */
  readonly prefix?: string;
  /** Progress messages. @default - silent */
  readonly log?: (msg: string) => void;
  /**
   * When another lab holds the bridge (lab/claim.ts), wait this long for it to be released
   * before giving up. @default 0 (refuse at once)
   */
  readonly waitMs?: number;
  /**
   * Hosts with their own /usr (overlay): apt and dpkg may run inside them (a purged and
   * reinstalled host). The others share /usr with the real machine. @default []
   */
  readonly ownRoot?: readonly string[];
}

/** What the rest of haforge (inventory, transport, tests) needs to reach one host. */
export interface LabHost {
  readonly name: string;
  readonly address: string;
  readonly port: 22;
  readonly user: "root";
  /** `ssh-ed25519 AAAA...` (no comment), this host's own key. */
  readonly hostKey: string;
  readonly privateKeyPath: string;
}

export interface LabInfo {
  readonly hosts: LabHost[];
  readonly knownHostsPath: string;
  readonly inventoryPath: string;
  readonly sshConfigPath: string;
  readonly privateKeyPath: string;
  /** Wall time of the bring-up. */
  readonly ms: number;
}

const REQUIRED_TOOLS = ["ip", "setsid", "nsenter", "unshare", "supervisord", "ssh-keygen", "ssh", "timeout"];

function preflight(count: number, prefix: string): void {
  if (process.getuid?.() !== 0) throw new LabError("the lab needs root (namespaces, mounts, bridge)");
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS)
    throw new LabError(`--hosts must be an integer 1..${MAX_HOSTS}, got ${count}`);
  // veth `hf-<prefix><n>` must fit IFNAMSIZ (15 chars)
  if (!/^[a-z][a-z0-9]{0,9}$/.test(prefix)) throw new LabError(`--prefix must match ^[a-z][a-z0-9]{0,9}$, got "${prefix}"`);
  for (const t of REQUIRED_TOOLS) {
    if (runSync("sh", ["-c", `command -v ${t}`]).code !== 0) throw new LabError(`required tool not found: ${t}`);
  }
  if (!fs.existsSync("/usr/sbin/sshd")) throw new LabError("required tool not found: /usr/sbin/sshd");
}

/** A previous lab: refuse if it is alive, clean it up if it is a leftover. */
function handlePrevious(names: string[], log: (m: string) => void): void {
  const prev = readState();
  if (prev) {
    const alive = prev.hosts.some((h) => (h.init && isAlive(h.init)) || (h.launcher && isAlive(h.launcher)));
    if (alive && prev.phase === "up") {
      throw new LabError(`a lab is already up (${prev.hosts.map((h) => h.name).join(", ")}); run \`npm run lab -- down\` first`);
    }
    log("cleaning up a previous lab that did not finish");
    labDownSync({ log });
  } else if (linkExists(BRIDGE)) {
    log(`bridge ${BRIDGE} exists without a journal; removing it`);
    labDownSync({ log });
  }
  const clash = listNetns().filter((n) => names.includes(n));
  if (clash.length)
    throw new LabError(`network namespace(s) already exist and are not ours: ${clash.join(", ")} (remove them or use --prefix)`);
  const vclash = names.map(vethName).filter(linkExists);
  if (vclash.length) throw new LabError(`links already exist and are not ours: ${vclash.join(", ")}`);
}

function startHost(h: HostState): void {
  const init = path.join(h.dir, "init.sh");
  const out = fs.openSync(path.join(h.dir, "console.log"), "a");
  try {
    // Not `detached`: setsid execs in place only when its caller is not a group leader, so the
    // PID we record is the one that becomes unshare (and the host's PID 1 is its only child).
    const child = spawn(
      "setsid",
      [
        "nsenter",
        `--net=/run/netns/${h.netns}`,
        "unshare",
        "--mount",
        "--uts",
        "--ipc",
        "--pid",
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        init,
      ],
      {
        cwd: "/",
        stdio: ["ignore", out, out],
        env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: "/root" },
      },
    );
    child.on("error", () => undefined); // reported through the readiness wait
    child.unref();
    if (child.pid === undefined) throw new LabError(`could not start host ${h.name}: spawn failed`);
    const ref = procRef(child.pid);
    if (!ref) throw new LabError(`host ${h.name} exited at once: ${tail(path.join(h.dir, "console.log"))}`);
    h.launcher = ref;
  } finally {
    fs.closeSync(out);
  }
}

export function hostFailure(h: HostState, why: string): LabError {
  const sup = path.join(h.dir, "upper", "var", "log", "supervisor", "supervisord.log");
  const sshd = path.join(h.dir, "upper", "var", "log", "supervisor", "sshd.log");
  return new LabError(
    `host ${h.name} (${h.address}): ${why}\n--- ${path.join(h.dir, "console.log")} ---\n${tail(path.join(h.dir, "console.log"))}` +
      (fs.existsSync(sup) ? `\n--- supervisord.log ---\n${tail(sup, 10)}` : "") +
      (fs.existsSync(sshd) ? `\n--- sshd.log ---\n${tail(sshd, 10)}` : ""),
  );
}

/** One TCP probe for an SSH banner, bounded by `ms`. */
export function sshBanner(address: string, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: address, port: 22 });
    let buf = "";
    const done = (v: string | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), ms);
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      const line = buf.split("\r\n")[0] ?? "";
      if (buf.includes("\n")) done(line.startsWith("SSH-") ? line : null);
    });
    sock.on("error", () => done(null));
    sock.on("close", () => done(null));
  });
}

async function waitReady(h: HostState, deadline: number, journal: () => void): Promise<void> {
  // host PID 1 = the only child of unshare
  while (!h.init) {
    if (!h.launcher || !isAlive(h.launcher)) throw hostFailure(h, "exited during boot");
    const kid = firstChild(h.launcher.pid);
    const ref = kid === null ? null : procRef(kid);
    if (ref) {
      h.init = ref;
      journal();
    } else if (Date.now() > deadline) throw hostFailure(h, "PID 1 did not appear in time");
    else await sleep(LIMITS.pollMs);
  }
  for (let attempt = 1; ; attempt++) {
    if (!isAlive(h.init)) throw hostFailure(h, "PID 1 exited during boot");
    const left = deadline - Date.now();
    if (left <= 0) throw hostFailure(h, `sshd did not answer on ${h.address}:22 within ${LIMITS.hostReadyMs} ms (${attempt} probes)`);
    const banner = await sshBanner(h.address, Math.min(1000, left));
    if (banner) return;
    await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
  }
}

function realHostKey(): string | null {
  try {
    return fs.readFileSync("/etc/ssh/ssh_host_ed25519_key.pub", "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  } catch {
    return null;
  }
}

export function sshArgs(address: string, knownHosts: string = KNOWN_HOSTS): string[] {
  return [
    "-F",
    "/dev/null",
    "-i",
    CLIENT_KEY,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "LogLevel=ERROR",
    `root@${address}`,
  ];
}

function inventoryYaml(hosts: LabHost[]): string {
  const q = (s: string) => JSON.stringify(s); // a JSON string is a YAML double-quoted scalar
  return [
    "# generated by `npm run lab -- up`; the lab's hosts and how to reach them",
    "version: 1",
    "name: lab",
    "hosts:",
    ...hosts.flatMap((h) => [
      `  - name: ${h.name}`,
      `    address: ${h.address}`,
      `    init: supervisor`,
      `    ssh: { user: ${h.user}, port: ${h.port}, hostKey: ${q(h.hostKey)}, privateKeyPath: ${h.privateKeyPath} }`,
    ]),
    "",
  ].join("\n");
}

function sshConfig(hosts: LabHost[]): string {
  return hosts
    .map((h) =>
      [
        `Host ${h.name}`,
        `  HostName ${h.address}`,
        `  User ${h.user}`,
        `  Port ${h.port}`,
        `  IdentityFile ${h.privateKeyPath}`,
        `  IdentitiesOnly yes`,
        `  UserKnownHostsFile ${KNOWN_HOSTS}`,
        `  GlobalKnownHostsFile /dev/null`,
        `  StrictHostKeyChecking yes`,
        `  LogLevel ERROR`,
        "",
      ].join("\n"),
    )
    .join("\n");
}

/** Every PID the claim names: each host's PID 1 and launcher. */
export function claimedPids(state: LabState): ProcRef[] {
  return state.hosts.flatMap((h) => [h.init, h.launcher].filter((r): r is ProcRef => r !== undefined));
}

/** The host's own ed25519 key, read from inside it; refused if it is the real machine's. */
async function ownHostKey(h: HostState): Promise<string> {
  const r = await enterHost(h.name, h.init!, "cat /etc/ssh/ssh_host_ed25519_key.pub", { timeoutMs: 10_000 });
  const key = r.stdout.trim().split(/\s+/).slice(0, 2).join(" ");
  if (!r.ok || !key.startsWith("ssh-ed25519 ")) throw hostFailure(h, `could not read its host key: ${r.stderr.trim()}`);
  if (key === realHostKey()) throw hostFailure(h, "presents the real machine's host key (fresh keys were not generated)");
  return key;
}

/**
 * One host's boot, from its INIT script (`<dir>/init.sh`) in its existing network namespace:
 * start it (synchronously, before the first await), wait for its PID 1 and its sshd until
 * `deadline`, read its own host key. `journal` is called whenever a PID is recorded.
 */
export async function bootHost(h: HostState, deadline: number, journal: () => void): Promise<string> {
  startHost(h);
  journal();
  await waitReady(h, deadline, journal);
  return ownHostKey(h);
}

/** The lab's access files from the journal's host keys: known_hosts, hosts.json, inventory.yaml, ssh_config. */
export function writeAccessFiles(state: LabState): LabHost[] {
  const hosts: LabHost[] = state.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    port: 22,
    user: "root",
    hostKey: h.hostKey!,
    privateKeyPath: path.resolve(CLIENT_KEY),
  }));
  const write = (file: string, content: string) => {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, file);
  };
  write(KNOWN_HOSTS, hosts.map((h) => `${h.address},${h.name} ${h.hostKey}\n`).join(""));
  write(HOSTS_FILE, JSON.stringify(hosts, null, 2) + "\n");
  write(INVENTORY_FILE, inventoryYaml(hosts));
  write(SSH_CONFIG, sshConfig(hosts));
  return hosts;
}

/** End-to-end proof: strict host key checking with the pinned keys, key auth as root (15 s per host). */
export async function proveLogin(hosts: readonly HostState[]): Promise<void> {
  await Promise.all(
    hosts.map(async (h) => {
      const deadline = Date.now() + 15_000;
      for (let attempt = 1; ; attempt++) {
        const r = await run("ssh", [...sshArgs(h.address), "hostname"], { timeoutMs: 10_000 });
        if (r.code === 0 && r.stdout.trim() === h.name) return;
        if (Date.now() + 200 * attempt > deadline)
          throw hostFailure(h, `ssh login with the pinned key failed (exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()})`);
        await sleep(200 * attempt);
      }
    }),
  );
}

export async function labUp(opts: LabUpOptions = {}): Promise<LabInfo> {
  const t0 = Date.now();
  const count = opts.hosts ?? DEFAULT_HOSTS;
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const log = opts.log ?? (() => undefined);
  preflight(count, prefix);
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
  // The lab lock: this state directory's claim on the bridge, before anything is touched.
  const claimed = await acquireClaim({ stateDir: STATE_DIR, waitMs: opts.waitMs ?? 0, log });
  try {
    handlePrevious(names, log);
  } catch (e) {
    if (claimed === "created") releaseClaim(STATE_DIR);
    throw e;
  }

  fs.rmSync(STATE_DIR, { recursive: true, force: true });
  fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const state: LabState = newState(prefix);
  saveState(state);
  try {
    // the claim names what this lab creates, so a later lab can clean up after a dead one
    updateClaim(STATE_DIR, { owner: procRef(process.pid)!, netns: names, links: names.map(vethName), hosts: [] });
    mustSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "haforge-lab-client", "-f", CLIENT_KEY]);
    const clientPub = fs.readFileSync(`${CLIENT_KEY}.pub`, "utf8");

    state.bridgeCreated = true; // journal first: down removes it whether or not it got created
    saveState(state);
    createBridge();

    const peers = names.map((name, i) => ({ name, address: hostAddress(i + 1) }));
    for (const [i, name] of names.entries()) {
      const h: HostState = {
        name,
        index: i + 1,
        address: hostAddress(i + 1),
        netns: name,
        veth: vethName(name),
        dir: path.join(path.resolve(STATE_DIR), name),
        netnsCreated: true,
        vethCreated: true,
      };
      state.hosts.push(h);
      saveState(state);
      createNetns(h.netns);
      createVeth(h.netns, h.veth, h.address);
      const spec = { name, dir: h.dir, peers, authorizedKey: clientPub, ownRoot: (opts.ownRoot ?? []).includes(name) };
      fs.mkdirSync(path.join(h.dir, "files"), { recursive: true });
      for (const [f, content] of Object.entries(bootFiles(spec))) fs.writeFileSync(path.join(h.dir, "files", f), content);
      fs.writeFileSync(path.join(h.dir, "init.sh"), initScript(spec), { mode: 0o755 });
    }
    log(`network ready (${BRIDGE}, ${names.length} namespaces) after ${Date.now() - t0} ms`);

    // All netns exist before any host starts, so each host's `umount -l /run/netns` drops them all.
    // (bootHost starts its host before its first await: every host starts before any wait.)
    const deadline = Date.now() + LIMITS.hostReadyMs;
    const results = await Promise.allSettled(state.hosts.map((h) => bootHost(h, deadline, () => saveState(state))));
    saveState(state); // init PIDs
    updateClaim(STATE_DIR, { hosts: claimedPids(state) });
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    log(`all sshd answering after ${Date.now() - t0} ms`);

    // Host keys, read from inside each host (its own, bootHost checked): no two alike.
    const seen = new Set<string>();
    for (const [i, h] of state.hosts.entries()) {
      const key = (results[i] as PromiseFulfilledResult<string>).value;
      if (seen.has(key)) throw hostFailure(h, "shares its host key with another lab host");
      seen.add(key);
      h.hostKey = key;
    }
    saveState(state);

    const hosts = writeAccessFiles(state);
    await proveLogin(state.hosts);

    state.phase = "up";
    saveState(state);
    const ms = Date.now() - t0;
    log(`lab up: ${names.join(", ")} in ${ms} ms`);
    return {
      hosts,
      knownHostsPath: KNOWN_HOSTS,
      inventoryPath: INVENTORY_FILE,
      sshConfigPath: SSH_CONFIG,
      privateKeyPath: path.resolve(CLIENT_KEY),
      ms,
    };
  } catch (e) {
    state.phase = "failed";
    saveState(state);
    log(`lab up failed; tearing down what was created`);
    try {
      labDownSync({ log });
    } catch (e2) {
      throw new LabError(`${(e as Error).message}\n(and teardown failed too: ${(e2 as Error).message})`);
    }
    throw e;
  }
}
