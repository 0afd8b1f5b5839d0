/**
 * The YAML inventory reader: text → plain data + findings. Validation against the zod schema is
 * done by load.ts for both formats; here only YAML syntax and the secret-literal warning.
 *
 * js-yaml with the YAML 1.2 core schema plus merge keys (`<<: *defaults`): no timestamps (a
 * date-looking string must stay a string for zod), no custom tags. Duplicate keys are a syntax
 * error (js-yaml's default), which is what an operator wants: the second `address:` silently
 * winning is how two hosts end up with one IP.
 */
import yaml from "js-yaml";
import { error, warning, type Finding } from "../core/findings";
import { MAX_YAML_CHARS, MAX_YAML_NODES } from "./limits";

// `types` is exported at runtime but missing from @types/js-yaml.
const mergeType = (yaml as unknown as { types: { merge: yaml.Type } }).types.merge;
const SCHEMA = yaml.CORE_SCHEMA.extend({ implicit: [mergeType] }); // implicit: resolved from the plain `<<` key

/** Nodes visited by the secret walk at most (aliases are visited once; this bounds the rest). */
const MAX_WALK_NODES = 200_000;

export interface YamlReadResult {
  /** Parsed document; absent on a syntax error. An empty document reads as `{}`. */
  readonly data?: unknown;
  readonly findings: Finding[];
}

export function readYamlInventory(text: string): YamlReadResult {
  const findings: Finding[] = [];
  let data: unknown;
  try {
    data = yaml.load(text, { schema: SCHEMA, json: false });
  } catch (e) {
    const err = e as { reason?: unknown; mark?: { line?: unknown; column?: unknown }; message?: unknown };
    const line = typeof err.mark?.line === "number" ? err.mark.line + 1 : undefined;
    const column = typeof err.mark?.column === "number" ? err.mark.column + 1 : undefined;
    const reason = typeof err.reason === "string" ? err.reason : String(err.message ?? e);
    findings.push(
      error(
        "yaml.syntax",
        line === undefined ? "(document)" : `line ${line}`,
        line === undefined ? `YAML syntax error: ${reason}` : `YAML syntax error at line ${line}, column ${column}: ${reason}`,
        "Check indentation (spaces only) and quoting; keys may appear once per mapping.",
      ),
    );
    return { findings };
  }
  if (data === undefined || data === null) {
    findings.push(
      error(
        "inventory.empty",
        "(document)",
        "the inventory is empty: there is nothing to deploy",
        "Start from inventories/tower-cluster.yaml or the JSON Schema in schema/inventory.schema.json.",
      ),
    );
    return { findings };
  }
  const size = expandedSize(data);
  if (size.nodes > MAX_YAML_NODES || size.chars > MAX_YAML_CHARS) {
    findings.push(
      error(
        "yaml.too-large",
        "(document)",
        `with its aliases (*name) expanded the document has more than ${size.nodes > MAX_YAML_NODES ? `${MAX_YAML_NODES} values` : `${MAX_YAML_CHARS} characters of text`}`,
        "Aliases that nest aliases multiply (a 'billion laughs' document); write the values out or use fewer levels.",
      ),
    );
    return { findings };
  }
  findings.push(...literalSecretWarnings(data));
  return { data, findings };
}

/**
 * Size of the document with every alias expanded, counted without expanding it: js-yaml shares
 * one object per anchor, so sizes are memoized per object (linear in the parsed document). Stops
 * counting past the limits.
 */
export function expandedSize(data: unknown): { nodes: number; chars: number } {
  const memo = new Map<object, { nodes: number; chars: number }>();
  const visiting = new Set<object>();
  const add = (a: { nodes: number; chars: number }, b: { nodes: number; chars: number }) => ({
    nodes: Math.min(a.nodes + b.nodes, 1e15),
    chars: Math.min(a.chars + b.chars, 1e15),
  });
  const size = (node: unknown): { nodes: number; chars: number } => {
    if (typeof node === "string") return { nodes: 1, chars: node.length };
    if (node === null || typeof node !== "object") return { nodes: 1, chars: 0 };
    const known = memo.get(node);
    if (known) return known;
    if (visiting.has(node)) return { nodes: 1, chars: 0 }; // a recursive alias: js-yaml refuses these anyway
    visiting.add(node);
    let total = { nodes: 1, chars: 0 };
    if (Array.isArray(node)) for (const v of node) total = add(total, size(v));
    else for (const [k, v] of Object.entries(node)) total = add(add(total, { nodes: 0, chars: k.length }), size(v));
    visiting.delete(node);
    memo.set(node, total);
    return total;
  };
  return size(data);
}

/**
 * `{ value: "..." }` is the only literal SecretRef form; YAML inventories are meant to be
 * committed, so each one is worth a warning. Walks the raw document (not the parsed Inventory) so
 * schema defaults such as the Tower default cookie do not warn here (the plan has its own rules
 * for those).
 */
export function literalSecretWarnings(data: unknown): Finding[] {
  const out: Finding[] = [];
  const seen = new WeakSet<object>();
  let budget = MAX_WALK_NODES;
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== "object" || budget-- <= 0) return;
    if (seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, `${path}[${i}]`));
      return;
    }
    const keys = Object.keys(node);
    if (keys.length === 1 && keys[0] === "value" && typeof (node as { value: unknown }).value === "string") {
      out.push(
        warning(
          "secret.literal",
          path || "(document)",
          `${JSON.stringify(path)} holds a literal secret ({ value: ... }); it ends up in plain text wherever the inventory goes`,
          "Reference a Pulumi config secret ({ secret: KEY }) or an environment variable ({ env: NAME }) instead.",
        ),
      );
      return;
    }
    for (const k of keys) walk((node as Record<string, unknown>)[k], joinPath(path, k));
  };
  walk(data, "");
  return out;
}

/** Append a key to a YAML-style path: `a.b`, or `a["odd key"]` when the key is not a plain name. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}
