/**
 * Where a finding points in the inventory file: its path (YAML notation `pacemaker.clusters[1].nodes`,
 * or INI notation `[all:vars] rabbitmq_port`, `line 7`) → 1-based line and column.
 *
 * YAML positions come from the `yaml` package's document (node ranges + LineCounter); js-yaml,
 * which reads the inventory, keeps none. The document is parsed only when asked (a valid
 * inventory without findings never pays for it, nor for loading the package: `haforge`'s cold start). A path that goes further than the document
 * (a missing required field) points at the deepest node that exists: the mapping to add it to.
 */
import type { Document, LineCounter, Node } from "yaml";
import type { InventoryFormat } from "./load";
import { expandHostPattern } from "./tower-ini";

export interface SourceLocation {
  readonly line: number;
  readonly col: number;
}

export type Locator = (path: string, message?: string) => SourceLocation | undefined;

/** `a.b[1]["odd key"].c` → ["a", "b", 1, "odd key", "c"] (joinPath's notation, yaml.ts). */
export function parseYamlPath(path: string): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === ".") i++;
    if (path[i] === "[") {
      const num = /^\[(\d+)\]/.exec(path.slice(i));
      if (num) {
        out.push(Number(num[1]));
        i += num[0].length;
        continue;
      }
      const str = /^\[("(?:[^"\\]|\\.)*")\]/.exec(path.slice(i));
      if (!str) return undefined;
      try {
        out.push(JSON.parse(str[1]!) as string);
      } catch {
        return undefined;
      }
      i += str[0].length;
      continue;
    }
    const name = /^[^.[]+/.exec(path.slice(i));
    if (!name) return undefined;
    out.push(name[0]);
    i += name[0].length;
  }
  return out;
}

/** The YAML-path notation is the only thing a YAML finding path can be besides these. */
const NOT_A_PATH = /^\(|^line \d+$/;

function yamlLocator(text: string): Locator {
  let parsed: { doc: Document.Parsed; lc: LineCounter; Y: typeof import("yaml") } | undefined;
  const load = () => {
    if (!parsed) {
      const Y = require("yaml") as typeof import("yaml");
      const { LineCounter, parseDocument } = Y;
      const lc = new LineCounter();
      // Same reading as the inventory's (duplicate keys are already a finding; merge keys allowed).
      const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, merge: true, prettyErrors: false });
      parsed = { doc, lc, Y };
    }
    return parsed;
  };
  return (path, message) => {
    const at = /^line (\d+)$/.exec(path) ?? (message ? /^YAML syntax error at line (\d+), column (\d+)/.exec(message) : null);
    if (at) return { line: Number(at[1]), col: at[2] ? Number(at[2]) : 1 };
    if (NOT_A_PATH.test(path)) return undefined;
    const segs = parseYamlPath(path);
    if (!segs) return undefined;
    const { doc, lc, Y } = load();
    const { isAlias, isMap, isPair, isScalar, isSeq } = Y;
    const deref = (n: unknown): unknown => {
      // An alias stands for its anchor's node (a bounded number of hops: aliases cannot nest here).
      for (let i = 0; i < 16 && isAlias(n); i++) n = n.resolve(doc);
      return n;
    };
    const child = (node: unknown, seg: string | number, depth = 0): { key?: Node; value: unknown } | undefined => {
      node = deref(node);
      if (typeof seg === "number") return isSeq(node) && seg < node.items.length ? { value: node.items[seg] } : undefined;
      if (!isMap(node)) return undefined;
      for (const p of node.items) {
        if (isPair(p) && isScalar(p.key) && String(p.key.value) === seg) return { key: p.key, value: p.value };
      }
      // `<<: *defaults` (or a list of them): the key comes from the merged mapping.
      if (depth > 8) return undefined;
      for (const p of node.items) {
        if (!isPair(p) || !isScalar(p.key) || p.key.value !== "<<") continue;
        const sources = deref(p.value);
        for (const src of isSeq(sources) ? sources.items : [sources]) {
          const hit = child(src, seg, depth + 1);
          if (hit) return hit;
        }
      }
      return undefined;
    };
    let node: unknown = doc.contents;
    let best: Node | undefined = isNodeWithRange(node) ? node : undefined;
    for (const seg of segs) {
      const hit = child(node, seg);
      if (!hit) break;
      const where = isNodeWithRange(hit.value) ? hit.value : hit.key;
      if (where) best = where;
      node = hit.value;
    }
    if (!best?.range) return undefined;
    const pos = lc.linePos(best.range[0]);
    return { line: pos.line, col: pos.col };
  };
}

const isNodeWithRange = (n: unknown): n is Node => n !== null && typeof n === "object" && Array.isArray((n as Node).range);

const SECTION_LINE = /^\s*\[([^\]]+)\]/;

/** The host names an INI host pattern expands to (a plain name: itself), remembered per pattern. */
const patternCache = new Map<string, ReadonlySet<string>>();
function patternNames(pattern: string): ReadonlySet<string> {
  let names = patternCache.get(pattern);
  if (!names) {
    const e = /[[:]/.test(pattern) ? expandHostPattern(pattern) : undefined;
    names = new Set(e && e.error === undefined ? e.names : [pattern]);
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(pattern, names);
  }
  return names;
}

/**
 * INI: `line N` (or a message starting `line N:`), `[section] name` (a host or variable line in
 * that section: the value of `name=value`, else the name) and `[section]` (its header).
 */
function iniLocator(text: string): Locator {
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
  const firstCol = (n: number) => (lines[n - 1] ?? "").search(/\S/) + 1 || 1;
  return (path, message) => {
    const at = /^line (\d+)$/.exec(path) ?? (message ? /^line (\d+):/.exec(message) : null);
    if (at) return { line: Number(at[1]), col: firstCol(Number(at[1])) };
    const m = /^\[([^\]]+)\](?: (.+))?$/.exec(path);
    if (!m) return undefined;
    const section = m[1]!;
    const name = m[2];
    let header: number | undefined;
    let inSection = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const sec = SECTION_LINE.exec(line);
      if (sec) {
        inSection = sec[1]!.trim() === section;
        if (inSection && header === undefined) header = i + 1;
        continue;
      }
      if (!inSection || name === undefined) continue;
      const body = line.trimStart();
      const first = /^[^\s=]+/.exec(body)?.[0];
      if (first === undefined) continue;
      const indent = line.length - body.length;
      const vars = section.endsWith(":vars");
      // A host line names its host by a pattern: `web[01:10]`, `host:2222` (the line of the
      // pattern is the host's line, as Ansible expands it).
      if (first !== name && (vars || !patternNames(first).has(name))) continue;
      const eq = /^[^\s=]+\s*=\s*/.exec(body);
      // `key=value` under :vars points at the value; a host line at the host name, or at the value
      // of the host variable the message is about (`"ansible_port" is "abc", ...`).
      if (eq && vars) return { line: i + 1, col: indent + 1 + eq[0].length };
      const key = message ? /^"([A-Za-z_][A-Za-z0-9_]*)"/.exec(message)?.[1] : undefined;
      const kv = key ? new RegExp(`(^|\\s)${key}\\s*=\\s*`).exec(line) : null;
      return { line: i + 1, col: kv ? kv.index + kv[0].length + 1 : indent + 1 };
    }
    if (header !== undefined) return { line: header, col: firstCol(header) };
    // A group the file names without its own section (`[east:vars]`, or a child of a
    // `[...:children]` section): the line that names it.
    let children = false;
    for (let i = 0; i < lines.length; i++) {
      const sec = SECTION_LINE.exec(lines[i]!);
      if (sec) {
        const [group, suffix] = sec[1]!.trim().split(":");
        if (group === section && suffix !== undefined) return { line: i + 1, col: firstCol(i + 1) };
        children = suffix === "children";
        continue;
      }
      if (children && lines[i]!.trim() === section) return { line: i + 1, col: firstCol(i + 1) };
    }
    return undefined;
  };
}

export function sourceLocator(text: string, format: InventoryFormat): Locator {
  const locate = format === "yaml" ? yamlLocator(text) : iniLocator(text);
  return (path, message) => {
    try {
      return locate(path, message);
    } catch {
      return undefined; // a position is a courtesy: never a reason to fail
    }
  };
}
