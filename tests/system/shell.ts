/**
 * Shell and process helpers of the system tests that run a rendered daemon by hand in network
 * namespaces (keepalived, haproxy, active/passive): bounded shell commands, a bounded wait that
 * fails the test with what it waited for, daemons started with a private /run and /tmp, a
 * supervisord of their own, and stops by the recorded child (never by process name: docs/lab.md).
 * The namespaces themselves come from netns-hosts.ts.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";

export interface ShResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `sh -c cmd`, bounded by `timeout` ms. */
export function sh(cmd: string, timeout = 20_000): ShResult {
  const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8", timeout });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** `sh -c cmd` that must exit 0 (the assertion names the command); its stdout. */
export function must(cmd: string): string {
  const r = sh(cmd);
  assert.equal(r.status, 0, `${cmd}\n${r.stderr}`);
  return r.stdout;
}

/** Single-quote `s` for sh. */
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `pred` every 100 ms, at most `timeoutMs` worth of polls; the ms it took, or the test fails
 * naming `what`.
 */
export async function waitUntil(what: string, pred: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; i < Math.ceil(timeoutMs / 100); i++) {
    if (pred()) return Date.now() - t0;
    await sleep(100);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * argv running `cmd` with a private /run and /tmp (pid files, dumps, sockets), as on a lab host.
 * unshare and sh exec, so the PID of the spawned process ends up being the daemon's own.
 */
export const privateRunTmp = (cmd: string): string[] => [
  "unshare",
  "--mount",
  "--propagation",
  "private",
  "sh",
  "-c",
  // cd / first: the checkout may itself live under /tmp, which the fresh tmpfs hides.
  `cd / && mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /tmp && exec ${cmd}`,
];

/** SIGTERM, up to `graceMs` for it to exit, then SIGKILL. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  for (let i = 0; i < graceMs / 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** The processes a test file started, each stopped by its recorded child handle. */
export class Children {
  private readonly started: ChildProcess[] = [];

  /** `argv` inside network namespace `netns`, stdout and stderr appended to `log`. */
  start(netns: string, argv: readonly string[], log: string): ChildProcess {
    const out = openSync(log, "a");
    const child = spawn("ip", ["netns", "exec", netns, ...argv], { stdio: ["ignore", out, out], cwd: "/" });
    closeSync(out);
    this.started.push(child);
    return child;
  }

  /** Stop everything, last started first. */
  async stopAll(graceMs?: number): Promise<void> {
    for (const c of [...this.started].reverse()) await stopChild(c, graceMs);
  }
}

/**
 * A supervisord.conf for one host's own supervisord: socket and pid file in the (private) /run,
 * logs in `hostDir`, programs from `hostDir/conf.d/*.conf`.
 */
export function supervisordConf(hostDir: string): string {
  return [
    "[unix_http_server]",
    "file=/run/supervisor.sock",
    "[supervisord]",
    "nodaemon=true",
    `logfile=${join(hostDir, "supervisord.log")}`,
    "pidfile=/run/supervisord.pid",
    `childlogdir=${hostDir}`,
    "[rpcinterface:supervisor]",
    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    "[supervisorctl]",
    "serverurl=unix:///run/supervisor.sock",
    "[include]",
    `files = ${join(hostDir, "conf.d", "*.conf")}`,
    "",
  ].join("\n");
}
