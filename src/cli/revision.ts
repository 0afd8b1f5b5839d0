/** An inventory as committed at a git revision (`validate --rev`; same checks as `diff --rev`). */
import { execFileSync } from "node:child_process";
import { dirname, relative, resolve } from "node:path";
import { UsageError } from "./io";

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

export function readAtRevision(file: string, rev: string): string {
  const abs = resolve(file);
  let repoRoot: string;
  try {
    repoRoot = execFileSync("git", ["rev-parse", "--show-toplevel"], {
      cwd: dirname(abs),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch (e) {
    throw new UsageError(`${file} is not in a git work tree: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
  const commit = resolveRevision(rev, repoRoot);
  try {
    // a full commit id and a path: nothing here can be taken for an option
    return execFileSync("git", ["cat-file", "blob", `${commit}:${relative(repoRoot, abs)}`], {
      cwd: repoRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    throw new UsageError(`cannot read ${file} at ${rev}: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
}
