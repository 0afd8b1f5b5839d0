/**
 * Where `haforge render --out DIR` may write, and what it may remove there.
 *
 * A render never deletes a folder recursively. It writes into:
 * - a folder that does not exist or is empty;
 * - a previous haforge render (a `manifest.json` of ours): only the files that render listed are
 *   removed before writing (directories they leave empty too), anything else there stays;
 * - any other non-empty folder only with `force`, and then nothing is removed at all.
 * Refused always, `force` or not: the current directory or one of its parents, a folder holding
 * one of the run's own inputs (the inventory, the materials file, the secrets file), a path that
 * is not a directory.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

/** The output folder cannot be used: a usage problem (exit 2), nothing was touched. */
export class OutDirRefused extends Error {}

export interface OutDirOptions {
  /** Write into a non-empty folder that is not a previous render (nothing in it is removed). */
  readonly force?: boolean;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** Inputs of this run that must never end up inside the output folder. */
  readonly protect?: readonly { readonly what: string; readonly path: string }[];
}

export interface OutDirPlan {
  /** Absolute, symlinks resolved where the path exists. */
  readonly dir: string;
  /** Files (relative to dir) of the previous render, removed before writing; empty otherwise. */
  readonly previous: readonly string[];
}

/** Follow symlinks of the longest existing prefix: `a/link/new` → `/real/target/new`. */
function realish(p: string): string {
  const abs = resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...tail.reverse());
    } catch {
      const up = dirname(head);
      if (up === head) return abs;
      tail.push(head.slice(up.length).replace(/^[/\\]+/, ""));
      head = up;
    }
  }
}

/** `inner` is `outer` or lies below it. */
export function isInside(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

interface ManifestShape {
  files: { host: string; path: string }[];
  services: unknown[];
  actions: unknown[];
  manifests?: number;
  k8s?: string[];
}

function readOurManifest(dir: string): ManifestShape | undefined {
  const p = join(dir, "manifest.json");
  let m: unknown;
  try {
    if (!lstatSync(p).isFile()) return undefined;
    m = JSON.parse(readFileSync(p, "utf8"));
  } catch {
    return undefined;
  }
  if (!m || typeof m !== "object") return undefined;
  const o = m as Record<string, unknown>;
  if (!Array.isArray(o["files"]) || !Array.isArray(o["services"]) || !Array.isArray(o["actions"])) return undefined;
  const files = o["files"] as unknown[];
  if (
    !files.every(
      (f) =>
        f &&
        typeof f === "object" &&
        typeof (f as Record<string, unknown>)["host"] === "string" &&
        typeof (f as Record<string, unknown>)["path"] === "string",
    )
  ) {
    return undefined;
  }
  if (o["k8s"] !== undefined && !(Array.isArray(o["k8s"]) && o["k8s"].every((n) => typeof n === "string"))) return undefined;
  return m as ManifestShape;
}

/** Kubernetes object files as `writeRenderTree` names them (`k8s/000-kind-name.yaml`). */
export const K8S_FILE = /^\d{3}-[a-z0-9]+-[^/\\]*\.yaml$/;

/** Files a previous render wrote, relative to its folder; entries pointing outside it are dropped. */
function previousFiles(dir: string, m: ManifestShape): string[] {
  const rels = new Set<string>(["manifest.json"]);
  for (const f of m.files) rels.add(join(f.host, f.path));
  const k8sDir = join(dir, "k8s");
  const k8s = m.k8s ?? (m.manifests && existsSync(k8sDir) ? readdirSync(k8sDir).filter((n) => K8S_FILE.test(n)) : []);
  for (const n of k8s) rels.add(join("k8s", n));
  return [...rels].filter((r) => {
    const abs = resolve(dir, r);
    return abs !== dir && isInside(abs, dir);
  });
}

/**
 * Decide whether `out` may be written and what of it goes first. Reads only; throws OutDirRefused
 * with a reason and a way out.
 */
export function inspectOutDir(out: string, opts: OutDirOptions = {}): OutDirPlan {
  const dir = realish(out);
  const cwd = realish(opts.cwd ?? process.cwd());
  if (isInside(cwd, dir)) {
    throw new OutDirRefused(
      `--out ${out}: ${dir === cwd ? "is the current directory" : "contains the current directory"}; a render replaces what is in its folder. Use a folder of its own, e.g. --out render`,
    );
  }
  for (const p of opts.protect ?? []) {
    if (isInside(realish(p.path), dir)) {
      throw new OutDirRefused(
        `--out ${out}: holds the ${p.what} (${p.path}); a render must not write over its own inputs. Use a folder of its own`,
      );
    }
  }
  if (!existsSync(dir)) return { dir, previous: [] };
  if (!statSync(dir).isDirectory()) throw new OutDirRefused(`--out ${out}: exists and is not a directory`);
  const entries = readdirSync(dir);
  if (entries.length === 0) return { dir, previous: [] };
  const m = readOurManifest(dir);
  if (m) return { dir, previous: previousFiles(dir, m) };
  if (opts.force) return { dir, previous: [] };
  const shown = entries.sort().slice(0, 5).join(", ") + (entries.length > 5 ? `, … (${entries.length} entries)` : "");
  throw new OutDirRefused(
    `--out ${out}: not empty and not a previous haforge render (no manifest.json of ours; it holds ${shown}). ` +
      `Use an empty or new folder, or --force to write into it anyway (nothing in it is removed; files of the same name are replaced)`,
  );
}

/** Remove what the previous render wrote (files and symlinks only) and the folders it leaves empty. */
export function clearPrevious(plan: OutDirPlan): void {
  const parents = new Set<string>();
  for (const rel of plan.previous) {
    const abs = resolve(plan.dir, rel);
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      continue;
    }
    if (st.isDirectory()) continue; // we wrote a file there; something else is there now: leave it
    unlinkSync(abs);
    for (let d = dirname(abs); d !== plan.dir && isInside(d, plan.dir); d = dirname(d)) parents.add(d);
  }
  // Deepest first, so a parent becomes empty after its children went.
  for (const d of [...parents].sort((a, b) => b.split(sep).length - a.split(sep).length)) {
    try {
      rmdirSync(d);
    } catch {
      /* not empty: something else lives there */
    }
  }
}
