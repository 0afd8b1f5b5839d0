/**
 * File facts prefetched once per host per process (the cost of a preview). The engine
 * diffs resources one at a time, and each RemoteFile diff used to read its own file: a preview
 * cost one SSH round trip per file, serially. Instead, the first resource of a host that every
 * file depends on (HostPackages) reads the hash, mode, owner and existence of every path the
 * program declares for that host in ONE command; each file's diff then answers from this cache.
 *
 * - Only metadata and the hash are cached (no content: a host's files could be megabytes). A
 *   diff whose desired hash equals the cached one needs nothing more; one that differs reads its
 *   file again with the content, for the unified diff.
 * - Any write to a host (a RemoteFile create/update/delete, a host action, a package install)
 *   forgets that host's facts: later diffs read live again.
 * - The cache lives in the provider process, i.e. for one Pulumi command. A file changed out of
 *   band between the prefetch and its own diff is at worst shown with the prefetched fact; the
 *   write itself re-checks the live hash right before the rename (writeFileScript's expectLive).
 */
import type { FileFact } from "../core/file-ops";
import type { HostConnection, SshPool } from "./pool";
import { readFileFacts } from "./remote-files";

/** The machine a connection reaches (not who logs in, not with which key): what a write changes. */
export function machineKey(c: HostConnection): string {
  const own = `${c.address}:${c.port ?? 22}`;
  return c.bastion ? `${own} via ${machineKey(c.bastion)}` : own;
}

interface HostFacts {
  readonly user: string;
  readonly facts: ReadonlyMap<string, FileFact | null | false>;
}

const cache = new Map<string, HostFacts>();
/** Prefetches in flight, so an invalidation during one discards its (possibly stale) result. */
const generation = new Map<string, number>();

/**
 * Read the facts (metadata and hash, no content) of `paths` on one host in one command and keep
 * them for this process. Best effort: a failure leaves nothing cached (each diff then reads its
 * own file and reports the error itself). Returns the number of facts cached.
 */
export async function prefetchFileFacts(pool: SshPool, conn: HostConnection, paths: readonly string[]): Promise<number> {
  const unique = [...new Set(paths)];
  if (unique.length === 0) return 0;
  const key = machineKey(conn);
  const gen = (generation.get(key) ?? 0) + 1;
  generation.set(key, gen);
  let facts: Map<string, FileFact | null | false>;
  try {
    facts = await readFileFacts(pool, conn, unique, 0);
  } catch {
    return 0;
  }
  // Something wrote to the host (or another prefetch started) meanwhile: these may be stale.
  if (generation.get(key) !== gen) return 0;
  const previous = cache.get(key);
  const merged = new Map(previous && previous.user === conn.user ? previous.facts : []);
  for (const [p, f] of facts) merged.set(p, f);
  cache.set(key, { user: conn.user, facts: merged });
  return facts.size;
}

/** The prefetched fact of `path`, or undefined when none is cached (read it live). */
export function cachedFileFact(conn: HostConnection, path: string): FileFact | null | false | undefined {
  const entry = cache.get(machineKey(conn));
  if (!entry || entry.user !== conn.user) return undefined;
  return entry.facts.get(path);
}

/** Forget a host's facts: call after anything that may have changed files on it. */
export function invalidateFileFacts(conn: HostConnection): void {
  const key = machineKey(conn);
  cache.delete(key);
  generation.set(key, (generation.get(key) ?? 0) + 1);
}

/** Forget every host's facts (tests). */
export function clearFileFacts(): void {
  cache.clear();
  generation.clear();
}
