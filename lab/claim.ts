/**
 * The lab lock: one lab at a time owns the bridge and its /24. A lab's claim is a small file,
 * `${CLAIM_DIR}/<bridge>.json`, naming the state directory of the lab that owns it, the process
 * that created it and, once booted, the hosts' PID 1 and launcher. It outlives the `up` process
 * (the lab stays up after `npm run lab -- up` exits), so it is a lease, not an flock:
 *
 *  - created atomically (written to a temp file, then link(2), which fails if a claim exists);
 *  - *held* while any recorded process is alive (PID and start time, never a reused PID);
 *  - *stale* when none is: the next `up` takes it over (rename(2) away, only one taker wins) and
 *    removes the dead lab's leftover links and namespaces recorded in it;
 *  - released by the owner's `down`. Another lab's `down` touches no network resource while the
 *    claim is held by someone else.
 *
 * CLAIM_DIR is on /run (tmpfs): a reboot drops bridges and claims together.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BRIDGE, CLAIM_DIR, SUBNET_CIDR } from "./config";
import { deleteLink, deleteNetns } from "./net";
import { isAlive, LabError, procRef, sleep, type ProcRef } from "./proc";

export interface LabClaim {
  readonly version: 1;
  readonly bridge: string;
  readonly subnet: string;
  /** Absolute state directory of the owning lab. */
  readonly stateDir: string;
  /** The process that ran `up` (alive while the lab is being created). */
  readonly owner: ProcRef;
  readonly createdAt: string;
  /** Hosts' PID 1 and launchers, recorded once they boot. */
  readonly hosts: readonly ProcRef[];
  /** Network resources the owning lab created (removed on a stale takeover). */
  readonly netns: readonly string[];
  readonly links: readonly string[];
}

export type ClaimStatus = "free" | "ours" | "held" | "stale";

/** Pure: what a lab in `stateDir` may do with the claim it found. */
export function claimStatus(claim: LabClaim | null, stateDir: string, alive: (r: ProcRef) => boolean): ClaimStatus {
  if (!claim) return "free";
  if (path.resolve(claim.stateDir) === path.resolve(stateDir)) return "ours";
  return alive(claim.owner) || claim.hosts.some(alive) ? "held" : "stale";
}

export function claimPath(bridge: string = BRIDGE): string {
  return path.join(CLAIM_DIR, `${bridge}.json`);
}

/** The claim on the bridge, or null when there is none (an unreadable claim counts as absent only if it is empty). */
export function readClaim(bridge: string = BRIDGE): LabClaim | null {
  let text: string;
  try {
    text = fs.readFileSync(claimPath(bridge), "utf8");
  } catch {
    return null;
  }
  try {
    const c = JSON.parse(text) as LabClaim;
    if (c.version === 1 && typeof c.stateDir === "string" && c.owner) return c;
  } catch {
    /* torn or foreign: reported below */
  }
  throw new LabError(`unreadable lab claim ${claimPath(bridge)}; remove it if no lab is running`);
}

export function describeClaim(c: LabClaim): string {
  return `${c.stateDir} (created ${c.createdAt} by pid ${c.owner.pid}; ${c.netns.length ? `hosts ${c.netns.join(", ")}` : "no hosts yet"})`;
}

function tmpName(bridge: string): string {
  return path.join(CLAIM_DIR, `.${bridge}.${process.pid}.${Date.now()}.tmp`);
}

/** Write a claim only if none exists (link(2) is atomic and fails with EEXIST). */
function createExclusive(c: LabClaim): boolean {
  fs.mkdirSync(CLAIM_DIR, { recursive: true, mode: 0o755 });
  const tmp = tmpName(c.bridge);
  fs.writeFileSync(tmp, JSON.stringify(c, null, 2) + "\n");
  try {
    fs.linkSync(tmp, claimPath(c.bridge));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Remove what a dead lab left on the network (its claim names them). */
function cleanStale(c: LabClaim, log: (m: string) => void): void {
  log(`taking over the bridge from a lab that is gone: ${describeClaim(c)}`);
  const problems = [...c.links.map(deleteLink), ...c.netns.map(deleteNetns), deleteLink(c.bridge)].filter((p): p is string => p !== null);
  if (problems.length) throw new LabError(`could not remove a dead lab's leftovers:\n  ${problems.join("\n  ")}`);
}

export interface AcquireOptions {
  readonly stateDir: string;
  /** Wait this long for a held claim to be released. @default 0 (refuse at once) */
  readonly waitMs?: number;
  readonly log?: (m: string) => void;
  /** For tests. @default isAlive */
  readonly alive?: (r: ProcRef) => boolean;
  readonly bridge?: string;
}

/**
 * Claim the bridge for the lab in `stateDir`. Returns "created" (a fresh claim) or "ours" (this
 * state directory already held it). Throws a LabError naming the holder when another live lab
 * holds it past `waitMs`.
 */
export async function acquireClaim(o: AcquireOptions): Promise<"created" | "ours"> {
  const log = o.log ?? (() => undefined);
  const alive = o.alive ?? isAlive;
  const bridge = o.bridge ?? BRIDGE;
  const stateDir = path.resolve(o.stateDir);
  const deadline = Date.now() + (o.waitMs ?? 0);
  const me = procRef(process.pid);
  if (!me) throw new LabError("cannot read this process's start time from /proc");
  let announced = false;
  for (;;) {
    const fresh: LabClaim = {
      version: 1,
      bridge,
      subnet: SUBNET_CIDR,
      stateDir,
      owner: me,
      createdAt: new Date().toISOString(),
      hosts: [],
      netns: [],
      links: [],
    };
    if (createExclusive(fresh)) return "created";
    const found = readClaim(bridge);
    const status = claimStatus(found, stateDir, alive);
    if (status === "free") continue; // released between our link and our read
    if (status === "ours") {
      updateClaim(stateDir, { owner: me }, bridge);
      return "ours";
    }
    if (status === "stale") {
      // rename(2) is atomic: of several takers only one moves this very claim away
      const grave = `${claimPath(bridge)}.stale.${process.pid}`;
      try {
        fs.renameSync(claimPath(bridge), grave);
      } catch {
        continue;
      }
      const moved = JSON.parse(fs.readFileSync(grave, "utf8")) as LabClaim;
      fs.rmSync(grave, { force: true });
      if (claimStatus(moved, stateDir, alive) !== "stale") {
        // it changed hands between our read and the rename: put it back if the slot is free
        if (!createExclusive(moved)) log(`a lab claim changed hands during a takeover: ${describeClaim(moved)}`);
        continue;
      }
      cleanStale(moved, log);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LabError(
        `the lab bridge ${bridge} (${SUBNET_CIDR}) is in use by the lab in ${describeClaim(found!)}; run \`npm run lab -- down\` there (HAFORGE_LAB_STATE=${found!.stateDir}), or pass --wait SECONDS`,
      );
    }
    if (!announced) {
      log(`waiting for the bridge ${bridge}: in use by the lab in ${describeClaim(found!)}`);
      announced = true;
    }
    await sleep(Math.min(1000, Math.max(50, deadline - Date.now())));
  }
}

/** Rewrite our own claim (tmp + rename); a claim held by someone else is never touched. */
export function updateClaim(
  stateDir: string,
  patch: Partial<Pick<LabClaim, "owner" | "hosts" | "netns" | "links">>,
  bridge: string = BRIDGE,
): void {
  const c = readClaim(bridge);
  if (!c || path.resolve(c.stateDir) !== path.resolve(stateDir))
    throw new LabError(`the lab in ${stateDir} does not hold the bridge ${bridge}`);
  const tmp = tmpName(bridge);
  fs.writeFileSync(tmp, JSON.stringify({ ...c, ...patch }, null, 2) + "\n");
  fs.renameSync(tmp, claimPath(bridge));
}

/**
 * May the lab in `stateDir` remove network resources? Yes when it holds the claim, when there is
 * none, or when the holder is gone. Never while another live lab holds it.
 */
export function mayTouchNetwork(
  stateDir: string,
  bridge: string = BRIDGE,
  alive: (r: ProcRef) => boolean = isAlive,
): { ok: true } | { ok: false; holder: LabClaim } {
  let c: LabClaim | null;
  try {
    c = readClaim(bridge);
  } catch {
    return { ok: true };
  }
  return claimStatus(c, stateDir, alive) === "held" ? { ok: false, holder: c! } : { ok: true };
}

/** Drop our claim (after our network resources are gone). Someone else's claim stays. */
export function releaseClaim(stateDir: string, bridge: string = BRIDGE): void {
  let c: LabClaim | null;
  try {
    c = readClaim(bridge);
  } catch {
    return;
  }
  if (c && path.resolve(c.stateDir) === path.resolve(stateDir)) fs.rmSync(claimPath(bridge), { force: true });
}
