/**
 * Non-test functions over a length, and lines over a width (the house rules of
 * docs/architecture.md): `npx tsx scripts/long-functions.ts [--max-lines 80] [--max-width 200]
 * [--json]`. Reads src/, components/ and index.ts with the TypeScript parser; a function is any
 * declaration, method, accessor, constructor, function expression or arrow function, measured
 * from its first to its last line. Exit 0 always: it reports, the reader decides.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const ROOT = join(__dirname, "..");
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MAX_LINES = arg("max-lines", 80);
const MAX_WIDTH = arg("max-width", 200);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : [];
  });
}

export interface LongFunction {
  file: string;
  name: string;
  line: number;
  lines: number;
}

function functionName(node: ts.Node, sf: ts.SourceFile): string {
  const named = (node as { name?: ts.Node }).name;
  if (named) return named.getText(sf);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(sf);
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(sf).slice(0, 40)})`;
  return "(anonymous)";
}

export function scan(
  maxLines: number,
  maxWidth: number,
): { functions: LongFunction[]; wideLines: { file: string; line: number; width: number }[] } {
  const functions: LongFunction[] = [];
  const wideLines: { file: string; line: number; width: number }[] = [];
  const all = [...files(join(ROOT, "src")), ...files(join(ROOT, "components")), join(ROOT, "index.ts")];
  for (const path of all) {
    const file = relative(ROOT, path);
    const text = readFileSync(path, "utf8");
    text.split("\n").forEach((l, i) => {
      if (l.length > maxWidth) wideLines.push({ file, line: i + 1, width: l.length });
    });
    const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && (node as { body?: ts.Node }).body) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
        if (end - start + 1 > maxLines) functions.push({ file, name: functionName(node, sf), line: start, lines: end - start + 1 });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  functions.sort((a, b) => b.lines - a.lines);
  return { functions, wideLines };
}

if (require.main === module) {
  const r = scan(MAX_LINES, MAX_WIDTH);
  if (process.argv.includes("--json")) console.log(JSON.stringify(r, null, 2));
  else {
    for (const f of r.functions) console.log(`${String(f.lines).padStart(4)} lines  ${f.file}:${f.line} ${f.name}`);
    console.log(`${r.functions.length} functions over ${MAX_LINES} lines; ${r.wideLines.length} lines over ${MAX_WIDTH} characters`);
    for (const w of r.wideLines) console.log(`  ${w.file}:${w.line} (${w.width})`);
  }
}
