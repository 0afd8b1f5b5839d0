/**
 * The loader the CLI and the Pulumi program call: inventory text (Tower INI or YAML) → validated
 * `Inventory` + findings + a translator from YAML paths to the source's own notation.
 *
 * Both formats go through the same zod schema here, so defaults are applied in exactly one place
 * (schema.ts) and schema problems read the same whatever the source. Never throws: any input,
 * however broken, yields findings (the fuzz tests hold us to it).
 */
import { readFileSync, statSync } from "node:fs";
import { extname } from "node:path";
import { error, type Finding } from "../core/findings";
import { Inventory } from "./schema";
import { parseTowerIni } from "./tower-ini";
import { MAX_INVENTORY_BYTES } from "./limits";
import { closest } from "./suggest";
import { joinPath, readYamlInventory } from "./yaml";

export type InventoryFormat = "tower-ini" | "yaml";

export interface LoadResult {
  /** Absent when the file cannot be turned into an Inventory. */
  readonly inventory?: Inventory;
  /** Parse + schema findings, paths already in the source's notation. */
  readonly findings: Finding[];
  readonly format: InventoryFormat;
  /**
   * Translate a YAML-style path into the source's notation (identity for YAML). For INI:
   * `tower.instanceGroups[1].hosts[0]` → `[instance_group_east] hostB`, `rabbitmq.useLongName` →
   * `[all:vars] rabbitmq_use_long_name`, `hosts[3].address` → `[tower] hostC`. Paths already in
   * INI notation are returned unchanged, so translating twice is harmless.
   */
  sourcePath(path: string): string;
}

const identity = (p: string): string => p;

/** A section header line as Ansible reads it: `[name]`, `[name:vars]`, `[name:children]`. */
const INI_SECTION_LINE = /^\s*\[[^:\]\s,]+(?::\w+)?\]\s*(?:[#;].*)?$/m;

/**
 * Format by extension: `.yaml`/`.yml`/`.json` → YAML, `.ini`/`.cfg` → INI (an Ansible INI file
 * may have no section at all: bare host lines are the `ungrouped` group). Anything else — Tower's
 * bundle calls the file just `inventory` — is sniffed: a `[section]` line means INI. A YAML flow
 * list (`[a, b]`) has commas or spaces inside the brackets, a section header never does.
 */
export function detectFormat(text: string, filename: string): InventoryFormat {
  const ext = extname(filename).toLowerCase();
  if (ext === ".yaml" || ext === ".yml" || ext === ".json") return "yaml";
  if (ext === ".ini" || ext === ".cfg") return "tower-ini";
  return INI_SECTION_LINE.test(text) ? "tower-ini" : "yaml";
}

export function parseInventoryText(text: string, filename: string): LoadResult {
  let format: InventoryFormat = "yaml";
  try {
    format = detectFormat(String(text).slice(0, 65536), String(filename));
    if (String(text).length > MAX_INVENTORY_BYTES) return { format, findings: [tooLarge(String(text).length)], sourcePath: identity };
    if (format === "tower-ini") {
      const ini = parseTowerIni(String(text));
      const v = validate(ini.data, ini.sourcePath);
      const findings = [...ini.findings, ...v.findings, ...emptyFindings(v.inventory, ini.findings)];
      return { format, findings, sourcePath: ini.sourcePath, ...(v.inventory ? { inventory: v.inventory } : {}) };
    }
    const read = readYamlInventory(String(text));
    if (read.data === undefined) return { format, findings: read.findings, sourcePath: identity };
    const v = validate(read.data, identity);
    return {
      format,
      findings: [...read.findings, ...v.findings, ...emptyFindings(v.inventory, read.findings)],
      sourcePath: identity,
      ...(v.inventory ? { inventory: v.inventory } : {}),
    };
  } catch (e) {
    // An exception here is a bug in haforge, not in the inventory; still report, never crash.
    return {
      format,
      findings: [
        error(
          "inventory.internal-error",
          "(document)",
          `haforge could not read ${JSON.stringify(String(filename))}: ${(e as Error)?.message ?? String(e)}`,
          "This is a bug in haforge; please report it with the inventory.",
        ),
      ],
      sourcePath: identity,
    };
  }
}

const tooLarge = (bytes: number): Finding =>
  error(
    "inventory.too-large",
    "(document)",
    `the inventory is ${bytes} bytes; haforge reads at most ${MAX_INVENTORY_BYTES}`,
    "An inventory this large is almost certainly not one: check the file name. Split huge fleets into several inventories.",
  );

/**
 * An inventory with no hosts deploys nothing (a Kubernetes target has none: it needs no SSH
 * hosts). Reported once: the YAML reader already says so for an empty document.
 */
function emptyFindings(inventory: Inventory | undefined, earlier: readonly Finding[]): Finding[] {
  if (!inventory || inventory.target !== "ssh" || inventory.hosts.length > 0 || earlier.some((f) => f.code === "inventory.empty"))
    return [];
  return [
    error(
      "inventory.empty",
      "hosts",
      "the inventory has no hosts: there is nothing to deploy",
      "List the hosts (YAML `hosts:`; INI: host lines under [tower], [database], ... sections).",
    ),
  ];
}

/** Read and parse a file; an unreadable file is a finding too. */
export function loadInventoryFile(path: string): LoadResult {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_INVENTORY_BYTES) return { format: detectFormat("", path), findings: [tooLarge(size)], sourcePath: identity };
    text = readFileSync(path, "utf8");
  } catch (e) {
    const format: InventoryFormat = /\.(ini|cfg)$/i.test(path) ? "tower-ini" : "yaml";
    return {
      format,
      findings: [
        error(
          "inventory.unreadable",
          "(document)",
          `cannot read ${JSON.stringify(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        ),
      ],
      sourcePath: identity,
    };
  }
  return parseInventoryText(text, path);
}

// ---------------------------------------------------------------------------------------------
// Schema validation → findings

interface ZodIssueLike {
  readonly code?: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
  readonly expected?: string;
}

/** Keys whose values are secrets: never quoted back in a message. */
const SECRET_FIELDS = new Set([
  "password",
  "cookie",
  "token",
  "authPass",
  "encryptKey",
  "privateKey",
  "adminPassword",
  "secretKey",
  "superuserPassword",
  "replicationPassword",
]);

function validate(data: unknown, sourcePath: (p: string) => string): { inventory?: Inventory; findings: Finding[] } {
  const parsed = Inventory.safeParse(data);
  if (parsed.success) return { inventory: parsed.data, findings: [] };
  // One finding per place and problem: an INI host name is both `hosts[i].name` and a group's
  // `hosts[j]`, which translate to the same `[group] host`.
  const seen = new Set<string>();
  const findings = parsed.error.issues
    .map((issue) => issueToFinding(issue as unknown as ZodIssueLike, data, sourcePath))
    .filter((f) => {
      const key = `${f.path}\u0000${f.message.replace(/^"[^"]*"/, "")}`;
      return seen.has(key) ? false : (seen.add(key), true);
    });
  return { findings };
}

export function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) out = joinPath(out, typeof s === "number" ? s : String(s));
  return out;
}

function issueToFinding(issue: ZodIssueLike, data: unknown, sourcePath: (p: string) => string): Finding {
  const yamlPath = formatPath(issue.path);
  const isSecret = issue.path.some((s) => typeof s === "string" && SECRET_FIELDS.has(s));
  const where = yamlPath || "(document)";
  if (issue.code === "unrecognized_keys" && issue.keys?.length) {
    const keys = issue.keys;
    const known = knownKeysAt(issue.path);
    const suggestions = keys.map((k) => closest(k, known)).filter((s): s is string => s !== undefined);
    const first = keys[0]!;
    return error(
      "schema.invalid",
      sourcePath(joinPath(yamlPath, first)),
      `unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")} in ${JSON.stringify(where)}`,
      suggestions.length
        ? `Did you mean ${suggestions.map((s) => JSON.stringify(s)).join(", ")}? (schema/inventory.schema.json lists every field)`
        : known.length
          ? `Known fields here: ${known.join(", ")}.`
          : "Remove it; schema/inventory.schema.json lists every field.",
    );
  }
  const value = valueAt(data, issue.path);
  const shown = isSecret || value === undefined ? "" : ` (${describe(value)})`;
  const hint = isSecret
    ? "A secret is { secret: KEY } (Pulumi config secret), { env: NAME } or, discouraged, { value: TEXT }."
    : issue.code === "invalid_type" && value === undefined
      ? `Add ${JSON.stringify(lastKey(issue.path))}: it is required here.`
      : "See schema/inventory.schema.json for the expected shape.";
  return error("schema.invalid", sourcePath(yamlPath), `${JSON.stringify(where)}${shown}: ${issue.message}`, hint);
}

const lastKey = (path: readonly PropertyKey[]): string => String(path[path.length - 1] ?? "");

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

function describe(value: unknown): string {
  if (typeof value === "string") return `value ${JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `value ${String(value)}`;
  if (value === null) return "value null";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return "a mapping";
}

/** Field names the schema allows at `path` (best effort over zod's public `def`). */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  try {
    let s: unknown = Inventory;
    const unwrap = (x: unknown): unknown => {
      let cur = x as { def?: { type?: string; innerType?: unknown } };
      for (
        let i = 0;
        i < 10 && cur?.def && (cur.def.type === "default" || cur.def.type === "optional" || cur.def.type === "nullable");
        i++
      ) {
        cur = cur.def.innerType as typeof cur;
      }
      return cur;
    };
    for (const seg of path) {
      s = unwrap(s);
      const def = (s as { def?: { type?: string; element?: unknown; valueType?: unknown; options?: unknown[] } }).def;
      if (!def) return [];
      if (def.type === "array") s = def.element;
      else if (def.type === "record") s = def.valueType;
      else if (def.type === "object") s = (s as { shape: Record<string, unknown> }).shape[String(seg)];
      else if (def.type === "union") {
        const obj = (def.options ?? []).map(unwrap).find((o) => (o as { def?: { type?: string } }).def?.type === "object");
        if (!obj) return [];
        s = (obj as { shape: Record<string, unknown> }).shape[String(seg)];
      } else return [];
      if (s === undefined) return [];
    }
    s = unwrap(s);
    const def = (s as { def?: { type?: string; options?: unknown[] } }).def;
    if (def?.type === "object") return Object.keys((s as { shape: Record<string, unknown> }).shape);
    if (def?.type === "union") {
      return (def.options ?? [])
        .map(unwrap)
        .filter((o) => (o as { def?: { type?: string } }).def?.type === "object")
        .flatMap((o) => Object.keys((o as { shape: Record<string, unknown> }).shape));
    }
    return [];
  } catch {
    return [];
  }
}
