import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { diffTrees } from "../render/tree-diff";
import { EXIT, UsageError, type CliIo } from "./io";
import { liveDiffCommand, type LiveDiffCliOptions } from "./live-diff";
import { defaultMaterialsFile, renderCommand, type RenderOptions } from "./render";

export interface DiffOptions extends Pick<RenderOptions, "secrets" | "materials"> {
  rev?: string;
  exitCode?: boolean;
  /** Diff the inventory's render against the live hosts (see live-diff.ts). */
  live?: boolean;
  host?: LiveDiffCliOptions["host"];
  concurrency?: LiveDiffCliOptions["concurrency"];
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

/**
 * A revision as git names it, resolved to a commit id before use: never passed where git could
 * read it as an option (`--rev=--output=FILE`).
 */
export function resolveRevision(rev: string, cwd: string): string {
  if (rev === "" || rev.startsWith("-") || /[\0\n]/.test(rev)) throw new UsageError(`--rev ${JSON.stringify(rev)} is not a revision`);
  try {
    return execFileSync("git", ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`], {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch {
    throw new UsageError(`--rev ${JSON.stringify(rev)}: no such commit`);
  }
}

function printChanges(oldDir: string, newDir: string, opts: DiffOptions, io: CliIo): number {
  requireDir(oldDir);
  requireDir(newDir);
  const changes = diffTrees(oldDir, newDir);
  for (const c of changes) io.out(c.diff ?? `${c.host}:${c.path}: ${c.meta}`);
  const hosts = new Set(changes.map((c) => c.host)).size;
  io.out(changes.length ? `${changes.length} file(s) differ on ${hosts} host(s)` : "no changes");
  return opts.exitCode && changes.length ? 1 : EXIT.ok;
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
  if (opts.host?.length || opts.concurrency !== undefined) throw new UsageError("--host and --concurrency need --live");
  if (!opts.rev) {
    if (!b) throw new UsageError("diff needs OLD_DIR NEW_DIR, or INVENTORY --rev REV");
    return printChanges(a, b, opts, io);
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
    const quiet: CliIo = { out: () => {}, err: (t) => io.err(t) };
    // Both sides with the working copy's materials: the copy of the old inventory lives elsewhere.
    const common = {
      ...(opts.secrets ? { secrets: opts.secrets } : {}),
      materials: opts.materials ?? defaultMaterialsFile(inv),
      quiet: true,
    };
    const rcOld = renderCommand(oldInv, { ...common, out: join(work, "old") }, quiet);
    const rcNew = renderCommand(inv, { ...common, out: join(work, "new") }, quiet);
    if (rcNew !== EXIT.ok) return rcNew;
    if (rcOld !== EXIT.ok) io.err(`note: ${a} at ${opts.rev} did not render (rc ${rcOld}); showing everything as added`);
    return printChanges(join(work, "old"), join(work, "new"), opts, io);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
