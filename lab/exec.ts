/**
 * The lab's library API (used by the e2e tests and lab/cli.ts).
 *
 *   await withLab({ hosts: 3 }, async (lab) => {
 *     const r = await hostExec("lab1", "hostname");
 *   });
 */
import * as fs from "node:fs";
import { KNOWN_HOSTS } from "./config";
import { labDownSync, type DownOptions, type DownReport } from "./down";
import { enterHost, type ExecOptions, type ExecResult } from "./enter";
import { isAlive, LabError, pidNamespaceMembers, type ProcRef } from "./proc";
import { readState, type HostState } from "./state";
import { labUp, sshArgs, sshBanner, type LabInfo, type LabUpOptions } from "./up";
import { labWipe, type LabWipeOptions, type LabWipeReport } from "./wipe";

export { labUp, labDownSync, labWipe, sshArgs, sshBanner, LabError };
export type { LabInfo, LabUpOptions, LabWipeOptions, LabWipeReport, DownOptions, DownReport, ExecOptions, ExecResult };

export async function labDown(opts: DownOptions = {}): Promise<DownReport> {
  return labDownSync(opts);
}

export interface HostRuntime {
  readonly name: string;
  readonly address: string;
  readonly port: 22;
  readonly user: "root";
  readonly hostKey: string | undefined;
  /** The host's PID 1 (supervisord) in the root PID namespace. */
  readonly initPid: number | undefined;
  /** The `setsid nsenter ... unshare` process that holds the host's namespaces. */
  readonly launcherPid: number | undefined;
  readonly running: boolean;
  /** Every PID recorded for this host (for teardown checks). */
  readonly pids: ProcRef[];
}

function hostState(name: string): HostState {
  const st = readState();
  if (!st) throw new LabError("no lab is up (lab/.state/state.json missing); run `npm run lab -- up`");
  const h = st.hosts.find((x) => x.name === name);
  if (!h) throw new LabError(`no lab host named "${name}" (hosts: ${st.hosts.map((x) => x.name).join(", ")})`);
  return h;
}

/** Hosts of the current lab, from the journal. Empty when no lab is up. */
export function hostInfo(): HostRuntime[] {
  const st = readState();
  return (st?.hosts ?? []).map((h) => ({
    name: h.name,
    address: h.address,
    port: 22,
    user: "root",
    hostKey: h.hostKey,
    initPid: h.init?.pid,
    launcherPid: h.launcher?.pid,
    running: !!h.init && isAlive(h.init),
    pids: [h.init, h.launcher].filter((r): r is ProcRef => r !== undefined),
  }));
}

/**
 * Run `sh -c cmd` inside a host: `nsenter -t <host PID 1> -m -u -i -n -p`, i.e. its mounts,
 * hostname, IPC (/dev/shm), network and PIDs. Bounded by opts.timeoutMs (default 60 s).
 */
export async function hostExec(name: string, cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const h = hostState(name);
  if (!h.init) throw new LabError(`host ${name} has no recorded PID 1 (it never finished booting)`);
  return enterHost(name, h.init, cmd, opts);
}

/** Like hostExec but throws with stdout/stderr on a non-zero exit; returns stdout. */
export async function hostExecOk(name: string, cmd: string, opts: ExecOptions = {}): Promise<string> {
  const r = await hostExec(name, cmd, opts);
  if (!r.ok) throw new LabError(`[${name}] ${cmd}: exit ${r.code ?? r.signal}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** PIDs of every process in a host's PID namespace, seen from the root namespace. */
export function hostPids(name: string): number[] {
  const h = hostState(name);
  return h.init ? pidNamespaceMembers(h.init).map((r) => r.pid) : [];
}

/** Memory of a host: sum of Pss/Rss over its processes, plus what its tmpfs mounts hold (KiB). */
export async function hostMemory(name: string): Promise<{ pssKiB: number; rssKiB: number; tmpfsKiB: number; processes: number }> {
  let pss = 0;
  let rss = 0;
  const pids = hostPids(name);
  for (const pid of pids) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      pss += Number(/^Pss:\s+(\d+)/m.exec(s)?.[1] ?? 0);
      rss += Number(/^Rss:\s+(\d+)/m.exec(s)?.[1] ?? 0);
    } catch {
      /* exited meanwhile */
    }
  }
  const df = await hostExec(name, "df -k --output=used /run /tmp /dev/shm | tail -n +2", { timeoutMs: 10_000 });
  const tmpfs = df.ok
    ? df.stdout
        .split(/\s+/)
        .filter(Boolean)
        .reduce((a, b) => a + Number(b), 0)
    : 0;
  return { pssKiB: pss, rssKiB: rss, tmpfsKiB: tmpfs, processes: pids.length };
}

/** `ssh ... root@host cmd` with the lab's key and pinned known_hosts; bounded. */
export function sshCommand(name: string, knownHosts: string = KNOWN_HOSTS): string[] {
  return ["ssh", ...sshArgs(hostState(name).address, knownHosts)];
}

/**
 * Bring a lab up, run fn, and always tear it down: on success, on a throw, on
 * SIGINT/SIGTERM/SIGHUP while it runs, and on process exit (e.g. a test runner giving up).
 * Teardown is synchronous, so it completes even from an 'exit' handler.
 */
export async function withLab<T>(opts: LabUpOptions, fn: (lab: LabInfo) => Promise<T>): Promise<T> {
  const downLog = (m: string) => process.stderr.write(`${m}\n`);
  let done = false;
  const teardown = () => {
    if (done) return;
    done = true;
    labDownSync(opts.log ? { log: opts.log } : {});
  };
  const onSignal = (sig: NodeJS.Signals) => {
    try {
      downLog(`${sig}: tearing the lab down`);
      teardown();
    } finally {
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGHUP" ? 1 : 15));
    }
  };
  const onExit = () => {
    try {
      teardown();
    } catch (e) {
      downLog(`lab teardown at exit failed: ${(e as Error).message}`);
    }
  };
  const sigs: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of sigs) process.on(s, onSignal);
  process.on("exit", onExit);
  let failure: { error: unknown } | undefined;
  try {
    const lab = await labUp(opts);
    return await fn(lab);
  } catch (e) {
    failure = { error: e };
    throw e;
  } finally {
    for (const s of sigs) process.off(s, onSignal);
    process.off("exit", onExit);
    try {
      teardown();
    } catch (downError) {
      // never let a teardown problem hide the test's own failure
      // eslint-disable-next-line no-unsafe-finally -- a teardown failure must surface, with the test's own
      if (!failure) throw downError;
      // eslint-disable-next-line no-unsafe-finally -- (the test's failure is kept in the message)
      throw new LabError(
        `${String((failure.error as Error)?.message ?? failure.error)}\n(and lab teardown failed: ${(downError as Error).message})`,
      );
    }
  }
}
