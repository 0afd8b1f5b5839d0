/**
 * `wipe NAME`: the host replaced under the same name (a fresh disk, new SSH host keys). Its PID 1
 * is stopped by its recorded PID (every process of its PID namespace gone, bounded), its own
 * writes are deleted (the overlay upper and work directories: its /etc, /var, /opt, /home, /srv,
 * /usr/local, and its /root), and it boots again from the same INIT in the same network namespace
 * and address: sshd generates new host keys on that first boot. The other hosts are not touched.
 * The lab's access files (known_hosts, hosts.json, inventory.yaml) then pin the new key; an
 * inventory written before keeps the old one (what an operator's inventory does).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { updateClaim } from "./claim";
import { LIMITS, STATE_DIR } from "./config";
import { mountsUnder } from "./down";
import { isAlive, LabError, pidNamespaceMembers, signalRef, sleep, type ProcRef } from "./proc";
import { readState, saveState } from "./state";
import { bootHost, claimedPids, hostFailure, proveLogin, writeAccessFiles, type LabHost } from "./up";

export interface LabWipeOptions {
  /** Progress messages. @default - silent */
  readonly log?: (msg: string) => void;
}

export interface LabWipeReport {
  /** The host as it is now reached (its new key). */
  readonly host: LabHost;
  /** The key it had before the wipe. */
  readonly oldHostKey: string | undefined;
  /** How many processes its PID namespace held when it was stopped (all gone). */
  readonly stopped: number;
  readonly stopMs: number;
  readonly bootMs: number;
  readonly ms: number;
}

/** The host's own writes under its directory (what a fresh disk does not have). */
const WIPED = ["upper", "work", "root-home"] as const;

/** TERM to PID 1 every second (a PID 1 still booting drops it) until `graceMs`, then KILL; every ref gone within the deadline. */
async function stopAll(init: ProcRef, refs: readonly ProcRef[], graceMs: number, killMs: number): Promise<ProcRef[]> {
  const gone = () => refs.every((r) => !isAlive(r));
  const graceEnd = Date.now() + graceMs;
  let lastTerm = 0;
  while (!gone() && Date.now() < graceEnd) {
    if (Date.now() - lastTerm >= 1000) {
      signalRef(init, "SIGTERM");
      lastTerm = Date.now();
    }
    await sleep(LIMITS.pollMs);
  }
  for (const r of refs) signalRef(r, "SIGKILL");
  const killEnd = Date.now() + killMs;
  while (!gone() && Date.now() < killEnd) await sleep(LIMITS.pollMs);
  return refs.filter(isAlive);
}

export async function labWipe(name: string, opts: LabWipeOptions = {}): Promise<LabWipeReport> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const state = readState();
  if (!state) throw new LabError("no lab is up (lab/.state/state.json missing); run `npm run lab -- up`");
  if (state.phase !== "up") throw new LabError(`the lab is not up (phase ${state.phase}): nothing to wipe`);
  const h = state.hosts.find((x) => x.name === name);
  if (!h) throw new LabError(`no lab host named "${name}" (hosts: ${state.hosts.map((x) => x.name).join(", ")})`);
  if (!fs.existsSync(`/run/netns/${h.netns}`)) throw new LabError(`host ${name}: its network namespace ${h.netns} is gone`);
  const init = path.join(h.dir, "init.sh");
  if (!fs.existsSync(init)) throw new LabError(`host ${name}: ${init} is missing`);

  // 1. Stop it: every process of its PID namespace, by recorded PID and start time.
  const oldHostKey = h.hostKey;
  const refs: ProcRef[] = [...(h.init ? pidNamespaceMembers(h.init) : []), ...(h.launcher ? [h.launcher] : [])];
  if (h.init && !refs.some((r) => r.pid === h.init!.pid)) refs.push(h.init);
  const left = h.init ? await stopAll(h.init, refs, LIMITS.gracefulStopMs, LIMITS.killWaitMs) : [];
  if (left.length) throw new LabError(`host ${name}: processes still alive after SIGKILL: ${left.map((r) => r.pid).join(", ")}`);
  const stopMs = Date.now() - t0;
  delete h.init;
  delete h.launcher;
  delete h.hostKey;
  saveState(state);
  updateClaim(STATE_DIR, { hosts: claimedPids(state) });
  log(`${name}: ${refs.length} process(es) stopped in ${stopMs} ms`);

  // 2. Its disk: the overlays lived in its own mount namespace and died with it.
  const mounted = mountsUnder(h.dir);
  if (mounted.length) throw new LabError(`host ${name}: still mounted in the root namespace: ${mounted.join(", ")}`);
  for (const d of WIPED) fs.rmSync(path.join(h.dir, d), { recursive: true, force: true });
  fs.appendFileSync(
    path.join(h.dir, "console.log"),
    `--- lab wipe ${name} at ${new Date().toISOString()}: upper, work, root-home deleted ---\n`,
  );

  // 3. Its first boot again: new host keys.
  const b0 = Date.now();
  const key = await bootHost(h, b0 + LIMITS.hostReadyMs, () => saveState(state));
  const bootMs = Date.now() - b0;
  updateClaim(STATE_DIR, { hosts: claimedPids(state) });
  if (key === oldHostKey) throw hostFailure(h, "presents its old host key after the wipe");
  if (state.hosts.some((x) => x !== h && x.hostKey === key)) throw hostFailure(h, "shares its host key with another lab host");
  h.hostKey = key;
  saveState(state);
  const hosts = writeAccessFiles(state);
  await proveLogin([h]);
  const ms = Date.now() - t0;
  log(`${name}: wiped and booted again in ${ms} ms (stop ${stopMs} ms, boot ${bootMs} ms); new host key ${key}`);
  return { host: hosts.find((x) => x.name === name)!, oldHostKey, stopped: refs.length, stopMs, bootMs, ms };
}
