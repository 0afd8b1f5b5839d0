/**
 * Teardown from the journal alone. Synchronous on purpose: it also runs from signal handlers
 * and `finally` blocks of a dying test process. Idempotent: a second run, or a run after a
 * half-finished `up`, only removes what is left. Every wait is bounded.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { mayTouchNetwork, releaseClaim } from "./claim";
import { BRIDGE, LIMITS, STATE_DIR } from "./config";
import { deleteLink, deleteNetns, linkExists } from "./net";
import { isAlive, LabError, runSync, signalRef, waitSync, type ProcRef } from "./proc";
import { readState, saveState } from "./state";

export interface DownOptions {
  readonly log?: (msg: string) => void;
  /** Keep lab/.state (keys, upper layers, logs) for a post-mortem. @default false */
  readonly keepState?: boolean;
}

export interface DownReport {
  readonly hosts: string[];
  readonly killed: number;
  readonly forced: number;
  readonly ms: number;
}

export function mountsUnder(dir: string): string[] {
  try {
    return fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4] ?? "")
      .filter((mp) => mp === dir || mp.startsWith(dir + "/"))
      .sort((a, b) => b.length - a.length); // deepest first
  } catch {
    return [];
  }
}

export function labDownSync(opts: DownOptions = {}): DownReport {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const problems: string[] = [];
  const state = readState();
  const hosts = state?.hosts ?? [];

  // 1. Processes. supervisord is PID 1 of its host: when it exits the kernel kills the rest of
  //    the host's PID namespace, and unshare (--kill-child) follows. TERM first so daemons stop
  //    cleanly, then KILL. PIDs are checked against their recorded start time before signalling.
  const refs: ProcRef[] = hosts.flatMap((h) => [h.init, h.launcher].filter((r): r is ProcRef => r !== undefined));
  // A PID 1 drops signals it has no handler for: TERM is lost while supervisord (python) is
  // still starting. So TERM is repeated every second during the grace period.
  const inits = hosts.map((h) => h.init).filter((r): r is ProcRef => r !== undefined);
  let killed = 0;
  for (const r of inits) if (signalRef(r, "SIGTERM")) killed++;
  let lastTerm = Date.now();
  const stopped = () => {
    if (Date.now() - lastTerm >= 1000) {
      lastTerm = Date.now();
      for (const r of inits) signalRef(r, "SIGTERM");
    }
    return refs.every((r) => !isAlive(r));
  };
  if (!waitSync(stopped, killed ? LIMITS.gracefulStopMs : 0) && killed) {
    // INIT before its exec (bash as PID 1) ignores TERM; a stuck daemon may too.
    log("some hosts did not stop after SIGTERM; sending SIGKILL");
  }
  let forced = 0;
  for (const r of refs) if (signalRef(r, "SIGKILL")) forced++;
  if (!waitSync(() => refs.every((r) => !isAlive(r)), forced ? LIMITS.killWaitMs : 0)) {
    const alive = refs.filter(isAlive).map((r) => r.pid);
    problems.push(`processes still alive after SIGKILL: ${alive.join(", ")}`);
  }

  // 2. Network: veths (deleting one end deletes its peer), namespaces, bridge. Only while no
  //    other live lab holds the bridge (lab/claim.ts): its namespaces may carry the same names.
  const net = mayTouchNetwork(STATE_DIR);
  if (!net.ok) {
    log(`the bridge ${BRIDGE} belongs to the lab in ${net.holder.stateDir}: leaving the network alone`);
  } else {
    for (const h of hosts) {
      const e1 = deleteLink(h.veth);
      if (e1) problems.push(e1);
      const e2 = deleteNetns(h.netns);
      if (e2) problems.push(e2);
    }
    // The bridge name is the lab's by convention: remove it even without a journal.
    if (linkExists(BRIDGE)) {
      const e = deleteLink(BRIDGE);
      if (e) problems.push(e);
    }
  }

  // 3. Mounts. The overlays live in each host's private mount namespace and died with it; this
  //    catches anything that ended up mounted under lab/.state in the root namespace.
  for (const mp of mountsUnder(path.resolve(STATE_DIR))) {
    const r = runSync("umount", ["-l", mp]);
    if (r.code !== 0) problems.push(`umount -l ${mp}: ${r.stderr.trim()}`);
  }

  if (problems.length) {
    if (state) {
      state.phase = "failed";
      saveState(state);
    }
    throw new LabError(`lab down left things behind (run it again, or clean up by hand):\n  ${problems.join("\n  ")}`);
  }
  releaseClaim(STATE_DIR);
  if (!opts.keepState) fs.rmSync(STATE_DIR, { recursive: true, force: true });
  const report = { hosts: hosts.map((h) => h.name), killed, forced, ms: Date.now() - t0 };
  log(`lab down: ${report.hosts.length} host(s) removed in ${report.ms} ms (${forced} needed SIGKILL)`);
  return report;
}
