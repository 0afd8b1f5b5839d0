/**
 * Process helpers: bounded command runs, and PID identity (pid + start time) so that we only
 * ever signal the processes we started, never a reused PID and never by name.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { LIMITS } from "./config";

export interface ProcRef {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat (start time in clock ticks since boot). */
  readonly startTime: string;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class LabError extends Error {
  override name = "LabError";
}

/** Synchronous, bounded run; never throws on a non-zero exit. */
export function runSync(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): RunResult {
  try {
    const stdout = execFileSync(cmd, args, {
      cwd: "/",
      encoding: "utf8",
      timeout: opts.timeoutMs ?? LIMITS.commandMs,
      killSignal: "SIGKILL",
      input: opts.input,
      stdio: ["pipe", "pipe", "pipe"],
    });
    return { code: 0, signal: null, stdout, stderr: "" };
  } catch (e) {
    const err = e as {
      status?: number | null;
      signal?: NodeJS.Signals | null;
      stdout?: string;
      stderr?: string;
      code?: string;
      message?: string;
    };
    if (err.code === "ENOENT") return { code: 127, signal: null, stdout: "", stderr: `${cmd}: not found` };
    return {
      code: err.status ?? null,
      signal: err.signal ?? null,
      stdout: String(err.stdout ?? ""),
      stderr: String(err.stderr ?? err.message ?? ""),
    };
  }
}

/** Like runSync but throws a LabError with the command and its stderr when it fails. */
export function mustSync(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): string {
  const r = runSync(cmd, args, opts);
  if (r.code !== 0) {
    const why = r.signal ? `killed by ${r.signal} (time limit?)` : `exit ${r.code}`;
    throw new LabError(`${cmd} ${args.join(" ")}: ${why}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** Asynchronous, bounded run (the child is SIGKILLed at the time limit). */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: "/", env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? LIMITS.commandMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: 127, signal: null, stdout, stderr: stderr + String(e) });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr: timedOut ? `${stderr}\n[timed out after ${opts.timeoutMs ?? LIMITS.commandMs} ms]` : stderr,
      });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

export function startTimeOf(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19] ?? null; // field 22 overall; rest[0] is field 3
  } catch {
    return null;
  }
}

export function procRef(pid: number): ProcRef | null {
  const startTime = startTimeOf(pid);
  return startTime === null ? null : { pid, startTime };
}

/** True while the very process we recorded exists (a reused PID does not count). */
export function isAlive(ref: ProcRef): boolean {
  const st = startTimeOf(ref.pid);
  if (st === null || st !== ref.startTime) return false;
  // A zombie is dead for our purposes (its parent has not reaped it yet).
  try {
    const status = fs.readFileSync(`/proc/${ref.pid}/status`, "utf8");
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Signal a recorded process only if it is still the same process. */
export function signalRef(ref: ProcRef, sig: NodeJS.Signals): boolean {
  if (!isAlive(ref)) return false;
  try {
    process.kill(ref.pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** First child of a process (unshare --fork has exactly one: the host's PID 1). */
export function firstChild(pid: number): number | null {
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return kids.length ? Number(kids[0]) : null;
  } catch {
    return null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Blocking sleep, for the synchronous teardown path (signal handlers, process exit). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Poll `pred` until true or the deadline; returns whether it became true. */
export function waitSync(pred: () => boolean, timeoutMs: number, pollMs: number = LIMITS.pollMs): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pred()) return true;
    if (Date.now() >= deadline) return false;
    sleepSync(pollMs);
  }
}

export function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Every process in the PID namespace of `init` (itself included), seen from the root namespace. */
export function pidNamespaceMembers(init: ProcRef): ProcRef[] {
  if (!isAlive(init)) return [];
  let ns: string;
  try {
    ns = fs.readlinkSync(`/proc/${init.pid}/ns/pid`);
  } catch {
    return [];
  }
  const out: ProcRef[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/ns/pid`) !== ns) continue;
    } catch {
      continue; // exited meanwhile
    }
    const ref = procRef(Number(e));
    if (ref) out.push(ref);
  }
  return out;
}
