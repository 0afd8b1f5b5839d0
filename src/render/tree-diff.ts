/**
 * Unified diffs between two render trees (DIR/<host>/<path> + manifest.json), per host and
 * file, for review in CI. Mode/owner changes come from the manifests.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { createTwoFilesPatch } from "diff";

export interface TreeChange {
  readonly host: string;
  readonly path: string;
  readonly kind: "added" | "removed" | "changed" | "meta";
  /** Unified diff of the content (absent for metadata-only changes). */
  readonly diff?: string;
  readonly meta?: string;
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.filter((f) => f !== "manifest.json");
}

type MetaMap = Map<string, { mode: string; owner: string; group: string }>;
function manifestMeta(dir: string): MetaMap {
  const m: MetaMap = new Map();
  const p = join(dir, "manifest.json");
  if (!existsSync(p)) return m;
  try {
    const man = JSON.parse(readFileSync(p, "utf8")) as {
      files?: { host: string; path: string; mode: string; owner: string; group: string }[];
    };
    for (const f of man.files ?? []) m.set(`${f.host}${f.path}`, { mode: f.mode, owner: f.owner, group: f.group });
  } catch {
    /* a tree without a readable manifest diffs on content only */
  }
  return m;
}

const isBinary = (b: Buffer) => b.includes(0);

export function diffTrees(oldDir: string, newDir: string): TreeChange[] {
  const oldFiles = new Set(listFiles(oldDir));
  const newFiles = new Set(listFiles(newDir));
  const oldMeta = manifestMeta(oldDir);
  const newMeta = manifestMeta(newDir);
  const all = [...new Set([...oldFiles, ...newFiles])].sort();
  const changes: TreeChange[] = [];
  for (const rel of all) {
    const parts = rel.split(sep);
    const host = parts[0]!;
    const path = "/" + parts.slice(1).join("/");
    const a = oldFiles.has(rel) ? readFileSync(join(oldDir, rel)) : undefined;
    const b = newFiles.has(rel) ? readFileSync(join(newDir, rel)) : undefined;
    const label = `${host}:${path}`;
    const text = (buf: Buffer | undefined) =>
      buf === undefined ? "" : isBinary(buf) ? `<binary ${buf.length} bytes>\n` : buf.toString("utf8");
    if (a && b && a.equals(b)) {
      const ma = oldMeta.get(`${host}${path}`);
      const mb = newMeta.get(`${host}${path}`);
      if (ma && mb && (ma.mode !== mb.mode || ma.owner !== mb.owner || ma.group !== mb.group))
        changes.push({ host, path, kind: "meta", meta: `${ma.mode} ${ma.owner}:${ma.group} → ${mb.mode} ${mb.owner}:${mb.group}` });
      continue;
    }
    const kind = a === undefined ? "added" : b === undefined ? "removed" : "changed";
    const diff = createTwoFilesPatch(a ? `a/${label}` : "/dev/null", b ? `b/${label}` : "/dev/null", text(a), text(b), "", "", {
      context: 3,
    });
    changes.push({ host, path, kind, diff });
  }
  return changes;
}
