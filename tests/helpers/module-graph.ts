/**
 * The module graph of haforge's own code, read with the TypeScript compiler's parser (no type
 * check, no emit), and the layer rules of docs/architecture.md ("Layers") judged on it.
 *
 * An edge is any static `import`/`export ... from` (type-only ones too: a type is a dependency),
 * `import("x")`, `typeof import("x")` and `require("x")` with a literal argument.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import ts from "typescript";

export interface Layer {
  readonly rank: number;
  readonly name: string;
  /** Repository-relative folders (ending in `/`) or files this layer owns. */
  readonly where: readonly string[];
}

export interface Edge {
  /** Repository-relative path of the importing file. */
  readonly from: string;
  /** Repository-relative path of the imported file, or the bare package specifier. */
  readonly to: string;
  readonly external: boolean;
}

export interface Violation {
  readonly kind: "back-arrow" | "sideways" | "pulumi-outside-adapters" | "pulumi-from-cli";
  readonly from: string;
  readonly to: string;
  readonly message: string;
}

/** Layers that may import `@pulumi/*` (docs/architecture.md). */
export const PULUMI_LAYERS: ReadonlySet<string> = new Set(["providers", "components", "program"]);
export const CLI_ENTRY = "src/cli/main.ts";

/** The layer table of docs/architecture.md: `| rank | layer | where | what |` rows. */
export function parseLayers(markdown: string): Layer[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Layers"));
  if (!section) throw new Error('docs/architecture.md has no "## Layers" section');
  const layers: Layer[] = [];
  for (const line of section.split("\n")) {
    const m = /^\|\s*(\d+)\s*\|\s*([a-z-]+)\s*\|([^|]*)\|/.exec(line);
    if (!m) continue;
    const where = [...m[3]!.matchAll(/`([^`]+)`/g)].map((w) => w[1]!);
    if (where.length === 0) throw new Error(`layer ${m[2]}: no paths in its "where" column`);
    layers.push({ rank: Number(m[1]), name: m[2]!, where });
  }
  if (layers.length === 0) throw new Error("docs/architecture.md: the Layers table has no rows");
  return layers;
}

/** Whether a `where` entry names a file: a folder (`src/core/`), a file, or a file pattern whose `*` stands for one path segment (`src/services/<any>/plan-types.ts`). */
function whereMatches(w: string, file: string): boolean {
  if (w.includes("*")) {
    const escape = (part: string): string => part.replace(/[.+?^$(){}|[\]\\]/g, "\\$&");
    const body = w.split("*").map(escape).join("[^/]+");
    return new RegExp("^" + body + (w.endsWith("/") ? "" : "$")).test(file);
  }
  return w.endsWith("/") ? file.startsWith(w) : file === w;
}

/** The layer owning a repository-relative file; the longest matching `where` wins. */
export function layerOf(layers: readonly Layer[], file: string): Layer | undefined {
  let best: { layer: Layer; len: number } | undefined;
  for (const layer of layers) {
    for (const w of layer.where) {
      const hit = whereMatches(w, file);
      if (hit && (!best || w.length > best.len)) best = { layer, len: w.length };
    }
  }
  return best?.layer;
}

const isPulumi = (spec: string): boolean => spec === "@pulumi" || spec.startsWith("@pulumi/");

/** Specifiers a source file imports, in order of appearance. */
export function importSpecifiers(fileName: string, text: string): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      if (ts.isStringLiteral(e)) out.push(e.text);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) out.push(arg.literal.text);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      const isDynamicImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const [arg] = node.arguments;
      if ((isRequire || isDynamicImport) && arg && ts.isStringLiteralLike(arg)) out.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** `./x` from `src/a/b.ts` → `src/a/x.ts` (or `.../x/index.ts`, `.json`); undefined when absent. */
export function resolveRelative(root: string, from: string, spec: string): string | undefined {
  const base = join(dirname(join(root, from)), spec);
  for (const cand of [base, `${base}.ts`, `${base}.json`, join(base, "index.ts")]) {
    if (existsSync(cand) && statSync(cand).isFile()) return relative(root, cand).split(sep).join("/");
  }
  return undefined;
}

function listTs(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  for (const name of readdirSync(abs).sort()) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) out.push(...listTs(root, rel));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

/** Every edge out of the product code (`src/`, `components/`, `index.ts`). */
export function productEdges(root: string): Edge[] {
  const files = [...listTs(root, "src"), ...listTs(root, "components"), ...(existsSync(join(root, "index.ts")) ? ["index.ts"] : [])];
  const edges: Edge[] = [];
  for (const from of files) {
    for (const spec of importSpecifiers(from, readFileSync(join(root, from), "utf8"))) {
      if (spec.startsWith(".")) {
        const to = resolveRelative(root, from, spec);
        if (!to) throw new Error(`${from}: cannot resolve ${spec}`);
        edges.push({ from, to, external: false });
      } else {
        edges.push({ from, to: spec, external: true });
      }
    }
  }
  return edges;
}

/** Files reachable from `entry` over internal edges (the entry included). */
export function reachable(edges: readonly Edge[], entry: string): Set<string> {
  const next = new Map<string, string[]>();
  for (const e of edges) if (!e.external) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const seen = new Set<string>([entry]);
  const todo = [entry];
  while (todo.length > 0) {
    for (const n of next.get(todo.pop()!) ?? []) {
      if (!seen.has(n)) {
        seen.add(n);
        todo.push(n);
      }
    }
  }
  return seen;
}

/** A path from `entry` to `target` over internal edges, for messages. */
function pathTo(edges: readonly Edge[], entry: string, target: string): string[] {
  const prev = new Map<string, string>();
  const todo = [entry];
  const seen = new Set([entry]);
  while (todo.length > 0) {
    const n = todo.shift()!;
    if (n === target) break;
    for (const e of edges) {
      if (e.external || e.from !== n || seen.has(e.to)) continue;
      seen.add(e.to);
      prev.set(e.to, n);
      todo.push(e.to);
    }
  }
  const path = [target];
  while (prev.has(path[0]!)) path.unshift(prev.get(path[0]!)!);
  return path;
}

/** Every broken rule of docs/architecture.md's "Layers" in `edges`. */
export function layerViolations(layers: readonly Layer[], edges: readonly Edge[], cliEntry = CLI_ENTRY): Violation[] {
  const out: Violation[] = [];
  const orphans = new Set<string>();
  for (const e of edges) {
    const from = layerOf(layers, e.from);
    if (!from) {
      if (!orphans.has(e.from))
        out.push({ kind: "back-arrow", from: e.from, to: e.to, message: `${e.from} belongs to no layer of docs/architecture.md` });
      orphans.add(e.from);
      continue;
    }
    if (e.external) {
      if (isPulumi(e.to) && !PULUMI_LAYERS.has(from.name)) {
        out.push({
          kind: "pulumi-outside-adapters",
          from: e.from,
          to: e.to,
          message: `${e.from} (${from.name}) imports ${e.to}: only ${[...PULUMI_LAYERS].join(", ")} may`,
        });
      }
      continue;
    }
    const to = layerOf(layers, e.to);
    if (!to) {
      out.push({ kind: "back-arrow", from: e.from, to: e.to, message: `${e.from} imports ${e.to}, which belongs to no layer` });
    } else if (to.rank > from.rank) {
      out.push({
        kind: "back-arrow",
        from: e.from,
        to: e.to,
        message: `${e.from} (${from.name}, rank ${from.rank}) imports ${e.to} (${to.name}, rank ${to.rank}): an arrow back up the layers`,
      });
    } else if (to.rank === from.rank && to.name !== from.name) {
      out.push({
        kind: "sideways",
        from: e.from,
        to: e.to,
        message: `${e.from} (${from.name}) imports ${e.to} (${to.name}): layers of the same rank are independent`,
      });
    }
  }
  const fromCli = reachable(edges, cliEntry);
  for (const e of edges) {
    if (e.external && isPulumi(e.to) && fromCli.has(e.from)) {
      out.push({
        kind: "pulumi-from-cli",
        from: e.from,
        to: e.to,
        message: `${e.to} is reachable from ${cliEntry}: ${[...pathTo(edges, cliEntry, e.from), e.to].join(" → ")}`,
      });
    }
  }
  return out;
}
