/**
 * Entering a running host. `ip netns exec` is not enough (it only swaps the netns and /etc; a
 * host's Corosync/Pacemaker IPC lives in its private /dev/shm, its processes in its PID
 * namespace): join all of the host's namespaces through its PID 1.
 */
import { LIMITS } from "./config";
import { isAlive, LabError, run, type ProcRef, type RunResult } from "./proc";

export interface ExecOptions {
  /** Upper bound for the command; it is killed inside the host (timeout -k 5) and outside. @default 60000 */
  readonly timeoutMs?: number;
  /** Written to the command's stdin. @default "" */
  readonly input?: string;
}

export interface ExecResult extends RunResult {
  readonly ok: boolean;
}

/** Environment for commands run inside a host: nothing of the caller's leaks in. */
const HOST_ENV: NodeJS.ProcessEnv = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C.UTF-8",
  USER: "root",
  LOGNAME: "root",
  SHELL: "/bin/sh",
};

export async function enterHost(name: string, init: ProcRef, cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
  if (!isAlive(init)) throw new LabError(`host ${name} is not running (its PID 1, ${init.pid}, is gone)`);
  const timeoutMs = opts.timeoutMs ?? LIMITS.execMs;
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  const args = ["-t", String(init.pid), "-m", "-u", "-i", "-n", "-p", "--", "timeout", "-k", "5", String(secs), "sh", "-c", cmd];
  // the outer bound covers nsenter itself; the inner `timeout` kills the command inside the host
  const r = await run("nsenter", args, { timeoutMs: timeoutMs + 10_000, input: opts.input, env: HOST_ENV });
  return { ...r, ok: r.code === 0 };
}
