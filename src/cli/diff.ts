import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { analyzeInventoryFile } from "../pipeline/analyze";
import { actionsThatWouldRun, formatRun, type ActionManifest, type PlannedRun } from "../render/action-diff";
import { diffTrees, type TreeChange } from "../render/tree-diff";
import { findingsJson } from "./format";
import { EXIT, UsageError, type CliIo } from "./io";
import { limitFailed, limitPatterns, resolveLimit, selectHosts, type Limit } from "./limit";
import { resolveRevision } from "./revision";
import { liveDiffCommand, type LiveDiffCliOptions } from "./live-diff";
import { defaultMaterialsFile, renderCommand, type RenderOptions } from "./render";
import { colourDiff, styleFor } from "./style";

export interface DiffOptions extends Pick<RenderOptions, "secrets" | "materials"> {
  rev?: string;
  exitCode?: boolean;
  /** Diff the inventory's render against the live hosts (see live-diff.ts). */
  live?: boolean;
  /** Older spelling of --limit NAME (repeatable). */
  host?: LiveDiffCliOptions["host"];
  limit?: LiveDiffCliOptions["limit"];
  concurrency?: LiveDiffCliOptions["concurrency"];
  timeout?: LiveDiffCliOptions["timeout"];
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
}

class LimitError extends Error {
  constructor(readonly limit: Limit) {
    super("--limit");
  }
}

/** A render tree to diff must be an existing folder: a typo must not read as "no changes". */
function requireDir(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new UsageError(`cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isDirectory()) throw new UsageError(`${dir} is not a folder (diff compares two render trees, or INVENTORY --rev REV)`);
}

/** The review of two render trees: files per host, the actions they would run, in text or JSON. */
export interface TreeReview {
  readonly hosts: { host: string; files: TreeChange[]; actions: PlannedRun[] }[];
  readonly changedFiles: number;
  readonly changedHosts: number;
  readonly actions: number;
}

function readManifest(dir: string): ActionManifest {
  try {
    return JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as ActionManifest;
  } catch {
    return {}; // a tree without a readable manifest: files only
  }
}

export function reviewTrees(oldDir: string, newDir: string, only?: (host: string) => boolean): TreeReview {
  const changes = diffTrees(oldDir, newDir).filter((c) => !only || only(c.host));
  const changed = new Set(changes.filter((c) => c.kind !== "meta").map((c) => `${c.host}:${c.path}`));
  const runs = actionsThatWouldRun(readManifest(oldDir), readManifest(newDir), changed).filter((r) => !only || only(r.host));
  const hosts = new Map<string, { host: string; files: TreeChange[]; actions: PlannedRun[] }>();
  const entry = (host: string) => hosts.get(host) ?? hosts.set(host, { host, files: [], actions: [] }).get(host)!;
  for (const c of changes) entry(c.host).files.push(c);
  for (const r of runs) entry(r.host).actions.push(r);
  return {
    hosts: [...hosts.values()],
    changedFiles: changes.length,
    changedHosts: new Set(changes.map((c) => c.host)).size,
    actions: runs.length,
  };
}

function printReview(
  review: TreeReview,
  opts: DiffOptions,
  io: CliIo,
  env: NodeJS.ProcessEnv,
  extra: { findings?: unknown[] } = {},
): number {
  const style = styleFor(io, env, opts);
  if (opts.json) {
    io.out(
      JSON.stringify(
        {
          hosts: review.hosts.map((h) => ({
            host: h.host,
            files: h.files.map((c) => ({
              path: c.path,
              change: c.kind,
              ...(c.diff !== undefined ? { diff: c.diff } : {}),
              ...(c.meta ? { meta: c.meta } : {}),
            })),
            actions: h.actions.map(({ host: _h, ...r }) => r),
          })),
          changedFiles: review.changedFiles,
          changedHosts: review.changedHosts,
          actions: review.actions,
          unreachableHosts: [],
          ...extra,
        },
        null,
        2,
      ),
    );
  } else {
    for (const h of review.hosts) {
      for (const c of h.files) {
        if (opts.quiet) io.out(`${c.kind} ${c.host}:${c.path}`);
        else
          io.out(
            c.diff !== undefined
              ? colourDiff(c.diff.endsWith("\n") ? c.diff.slice(0, -1) : c.diff, style)
              : `${c.host}:${c.path}: ${c.meta}`,
          );
      }
      if (h.actions.length) {
        if (!opts.quiet) io.out(style.bold(`== ${h.host}: actions that would run`));
        for (const r of h.actions)
          io.out(opts.quiet ? `${r.run} ${h.host}:${r.id}` : `  ${r.run === "delete" ? style.red(formatRun(r)) : formatRun(r)}`);
      }
    }
    if (!opts.quiet) {
      // The files line keeps its shape (scripts read it); the actions get a line of their own.
      if (review.changedFiles) io.out(`${review.changedFiles} file(s) differ on ${review.changedHosts} host(s)`);
      if (review.actions) io.out(`${review.actions} action(s) would run`);
      if (!review.changedFiles && !review.actions) io.out("no changes");
    }
  }
  return opts.exitCode && (review.changedFiles || review.actions) ? 1 : EXIT.ok;
}

/** Hosts of two trees that --limit selects (names and globs: a tree has no groups). */
function treeLimit(oldDir: string, newDir: string, limit: readonly string[]): ((host: string) => boolean) | undefined {
  if (!limit.length) return undefined;
  const hosts = [...new Set([oldDir, newDir].flatMap((d) => readdirSync(d).filter((e) => e !== "manifest.json")))].sort();
  const r = selectHosts(hosts, new Map(), limit);
  if (r.findings.length) throw new LimitError(r);
  const set = new Set(r.hosts);
  return (h) => set.has(h);
}

function printChanges(
  oldDir: string,
  newDir: string,
  opts: DiffOptions,
  io: CliIo,
  env: NodeJS.ProcessEnv,
  only?: (host: string) => boolean,
): number {
  requireDir(oldDir);
  requireDir(newDir);
  return printReview(reviewTrees(oldDir, newDir, only ?? treeLimit(oldDir, newDir, limitPatterns(opts))), opts, io, env);
}

/**
 * `haforge diff OLD_DIR NEW_DIR`, or `haforge diff INVENTORY --rev REV`: renders the inventory as
 * committed at REV and as it is now (same secrets and materials) and diffs the two trees.
 * `haforge diff INVENTORY --live`: against the files on the hosts.
 */
export function diffCommand(
  a: string,
  b: string | undefined,
  opts: DiffOptions,
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): number | Promise<number> {
  if (opts.live) {
    if (b !== undefined || opts.rev) throw new UsageError("diff --live takes one INVENTORY (no NEW_DIR, no --rev)");
    return liveDiffCommand(a, opts, io, env);
  }
  if (opts.concurrency !== undefined || opts.timeout !== undefined) throw new UsageError("--concurrency and --timeout need --live");
  if (!opts.rev) {
    if (!b) throw new UsageError("diff needs OLD_DIR NEW_DIR, or INVENTORY --rev REV");
    try {
      return printChanges(a, b, opts, io, env);
    } catch (e) {
      if (e instanceof LimitError) return limitFailed(e.limit, opts, io)!;
      throw e;
    }
  }
  const inv = resolve(a);
  let repoRoot: string;
  let oldText: string;
  try {
    repoRoot = execFileSync("git", ["rev-parse", "--show-toplevel"], {
      cwd: dirname(inv),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch (e) {
    throw new UsageError(`${a} is not in a git work tree: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
  const commit = resolveRevision(opts.rev, repoRoot);
  try {
    // A full commit id and a path: nothing here can be taken for an option.
    oldText = execFileSync("git", ["cat-file", "blob", `${commit}:${relative(repoRoot, inv)}`], {
      cwd: repoRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    throw new UsageError(`cannot read ${a} at ${opts.rev}: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
  const work = mkdtempSync(join(tmpdir(), "haforge-diff-"));
  try {
    const oldInv = join(work, basename(inv));
    writeFileSync(oldInv, oldText);
    const quiet: CliIo = { out: () => {}, err: (t) => (opts.json ? undefined : io.err(t)), isTTY: io.isTTY === true };
    // Both sides with the working copy's materials: the copy of the old inventory lives elsewhere.
    const common = {
      ...(opts.secrets ? { secrets: opts.secrets } : {}),
      materials: opts.materials ?? defaultMaterialsFile(inv),
      quiet: true,
    };
    const rcOld = renderCommand(oldInv, { ...common, out: join(work, "old") }, quiet);
    const rcNew = renderCommand(inv, { ...common, out: join(work, "new") }, quiet);
    if (rcNew !== EXIT.ok) {
      if (opts.json) {
        const now = analyzeInventoryFile(inv);
        io.out(JSON.stringify({ valid: false, findings: findingsJson(now.findings, now) }, null, 2));
      }
      return rcNew;
    }
    if (rcOld !== EXIT.ok && !opts.quiet) io.err(`note: ${a} at ${opts.rev} did not render (rc ${rcOld}); showing everything as added`);
    let only: ((host: string) => boolean) | undefined;
    const patterns = limitPatterns(opts);
    if (patterns.length) {
      // Groups come from the working copy's plan (it rendered, so it has one).
      const limit = resolveLimit(analyzeInventoryFile(inv).plan!, patterns);
      const failed = limitFailed(limit, opts, io);
      if (failed !== undefined) return failed;
      const set = new Set(limit.hosts);
      only = (h) => set.has(h);
    }
    return printChanges(join(work, "old"), join(work, "new"), opts, io, env, only);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
