/**
 * The stack lock of Pulumi's diy (file) backend, as pulumi/pulumi `pkg/backend/diy/lock.go` and
 * `backend.go` implement it, for the engine stand-in:
 *
 *  - `pulumi up`, `refresh`, `destroy` (and `import`) lock the stack for the whole operation;
 *    `preview` does not.
 *  - A lock is one file per backend instance, `<root>/.pulumi/locks/organization/<project>/<stack>/
 *    <uuid>.json`, holding `{pid, username, hostname, timestamp}`. Locking lists the stack's lock
 *    folder: any other lock file refuses the operation with "the stack is currently locked by N
 *    lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi
 *    cancel`." and one line per lock (`<path>: created by user@host (pid N) at <RFC 3339>`);
 *    otherwise it writes its own file and lists again (two that locked at once both see the other:
 *    both remove theirs and fail, none proceeds).
 *  - The operation removes its own file when it ends, failed or not (`defer Unlock`). A process
 *    that is killed leaves its file: the next operation is refused until `pulumi cancel`
 *    (CancelCurrentUpdate: every lock file of the stack deleted) or the file is removed by hand.
 *
 * The stand-in's checkpoint file plays the stack file, so its folder is the backend's root: the
 * locks live in `<checkpoint folder>/.pulumi/locks/organization/<project>/<stack>/`. The engine
 * stand-in takes the lock in the process that runs the deployment (the program host for up, the
 * caller for refresh/destroy), as the CLI takes it in its own process: a SIGKILL of that process
 * leaves the lock behind, as it does with `pulumi up`.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { hostname, userInfo } from "node:os";
import { dirname, join } from "node:path";

export interface StackRef {
  readonly checkpointFile: string;
  readonly stack: string;
  /** @default "haforge" */
  readonly project?: string;
}

export interface LockContent {
  readonly pid: number;
  readonly username: string;
  readonly hostname: string;
  readonly timestamp: string;
}

/** The stack's lock folder (lock.go stackLockDir: `.pulumi/locks/organization/<project>/<stack>`). */
export const stackLockDir = (s: StackRef): string =>
  join(dirname(s.checkpointFile), ".pulumi", "locks", "organization", s.project ?? "haforge", s.stack);

/** The lock files the stack's folder holds, but `own` (lock.go checkForLock). */
function otherLocks(dir: string, own?: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => join(dir, n))
    .filter((p) => p !== own && fs.statSync(p, { throwIfNoEntry: false })?.isFile())
    .sort();
}

/** What a refused operation says: lock.go's message with one line per lock held. */
function lockedMessage(locks: readonly string[]): string {
  const lines = locks.map((p) => {
    let l: Partial<LockContent> = {};
    try {
      l = JSON.parse(fs.readFileSync(p, "utf8")) as LockContent;
    } catch {
      // a lock file that vanished or is unreadable is still reported
    }
    return `\n  ${p}: created by ${l.username ?? "?"}@${l.hostname ?? "?"} (pid ${l.pid ?? "?"}) at ${l.timestamp ?? "?"}`;
  });
  return (
    `the stack is currently locked by ${locks.length} lock(s). Either wait for the other process(es) to end ` +
    `or delete the lock file with \`pulumi cancel\`.${lines.join("")}`
  );
}

export class StackLockedError extends Error {
  override readonly name = "StackLockedError";
}

/** Locks the stack (lock.go Lock): throws StackLockedError when another lock is held; returns the unlock. */
export function lockStack(s: StackRef): () => void {
  const dir = stackLockDir(s);
  const before = otherLocks(dir);
  if (before.length) throw new StackLockedError(lockedMessage(before));
  fs.mkdirSync(dir, { recursive: true });
  const own = join(dir, `${randomUUID()}.json`);
  const content: LockContent = {
    pid: process.pid,
    username: userInfo().username,
    hostname: hostname(),
    timestamp: new Date().toISOString(),
  };
  fs.writeFileSync(own, JSON.stringify(content));
  const unlock = () => fs.rmSync(own, { force: true });
  const after = otherLocks(dir, own);
  if (after.length) {
    unlock();
    throw new StackLockedError(lockedMessage(after));
  }
  return unlock;
}

/** Runs `f` with the stack locked; the lock is removed however `f` ends (not when the process is killed). */
export async function withStackLock<T>(s: StackRef, f: () => Promise<T>): Promise<T> {
  const unlock = lockStack(s);
  try {
    return await f();
  } finally {
    unlock();
  }
}

/** `pulumi cancel` on a diy backend (CancelCurrentUpdate): deletes every lock file of the stack; returns how many. */
export function cancelStack(s: StackRef): number {
  const locks = otherLocks(stackLockDir(s));
  for (const p of locks) fs.rmSync(p, { force: true });
  return locks.length;
}

/** The locks the stack holds now (for tests). */
export const stackLocks = (s: StackRef): string[] => otherLocks(stackLockDir(s));
