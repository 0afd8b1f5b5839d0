/**
 * lab/.state/state.json: a journal written *before and after* every resource the lab creates,
 * so `down` can undo a half-finished `up` (crash, Ctrl-C, failed wait) from the file alone.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BRIDGE, STATE_DIR, STATE_FILE } from "./config";
import type { ProcRef } from "./proc";

export interface HostState {
  readonly name: string;
  readonly index: number;
  readonly address: string;
  /** netns name (same as the host name). */
  readonly netns: string;
  /** Host-side veth in the root namespace. */
  readonly veth: string;
  /** The host's directory under lab/.state. */
  readonly dir: string;
  netnsCreated: boolean;
  vethCreated: boolean;
  /** The spawned `setsid nsenter ... unshare` process (unshare after the execs). */
  launcher?: ProcRef;
  /** The host's PID 1 (INIT, then supervisord) as seen from the root namespace. */
  init?: ProcRef;
  /** `ssh-ed25519 AAAA...` read from inside the host once it is up. */
  hostKey?: string;
}

export interface LabState {
  readonly version: 1;
  readonly prefix: string;
  readonly bridge: string;
  readonly createdAt: string;
  bridgeCreated: boolean;
  phase: "creating" | "up" | "failed";
  hosts: HostState[];
}

export function newState(prefix: string): LabState {
  return { version: 1, prefix, bridge: BRIDGE, createdAt: new Date().toISOString(), bridgeCreated: false, phase: "creating", hosts: [] };
}

export function readState(): LabState | null {
  try {
    const s = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as LabState;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

/** Atomic write (tmp + rename), so a crash never leaves a torn journal. */
export function saveState(s: LabState): void {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const tmp = path.join(STATE_DIR, `.state.json.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n");
  fs.renameSync(tmp, STATE_FILE);
}
