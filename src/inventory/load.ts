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
  /** invalid_value: the allowed values (enums, literals). */
  readonly values?: readonly unknown[];
  /** too_small / too_big: what was measured, and the bound. */
  readonly origin?: string;
  readonly minimum?: number | bigint;
  readonly maximum?: number | bigint;
  readonly inclusive?: boolean;
  /** invalid_format: the format (`regex`, `ipv4`, ...). */
  readonly format?: string;
  /** not_multiple_of. */
  readonly divisor?: number;
  /** invalid_union: each alternative's issues. */
  readonly errors?: readonly (readonly ZodIssueLike[])[];
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
  // A field named like a secret, unless the schema says it is a number or a boolean (corosync's `token`).
  const isSecret =
    issue.path.some((s) => typeof s === "string" && SECRET_FIELDS.has(s)) &&
    !["number", "int", "boolean"].includes(bare(schemaAt(issue.path))?.def?.type ?? "");
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
      ? `Add ${JSON.stringify(lastKey(issue.path))}: it is required here (${expectedText(schemaAt(issue.path), issue.expected)}).`
      : specificHint(issue, value, schemaAt(issue.path));
  return error("schema.invalid", sourcePath(yamlPath), `${JSON.stringify(where)}${shown}: ${issue.message}`, hint);
}

// ---------------------------------------------------------------------------------------------
// Hints: what the field takes, from zod's issue and the schema node at the path

interface ZodNodeLike {
  readonly def?: { type?: string; innerType?: unknown; options?: unknown[]; element?: unknown; valueType?: unknown; entries?: unknown };
  readonly shape?: Record<string, unknown>;
  readonly minValue?: number | null;
  readonly maxValue?: number | null;
  readonly isInt?: boolean;
  readonly minLength?: number | null;
  readonly maxLength?: number | null;
  meta?: () => { title?: string } | undefined;
}

const WRAPPERS = new Set(["default", "optional", "nullable", "prefault", "readonly", "catch"]);

/** The schema node at `path` (wrappers kept, so a title on any of them is found), or undefined. */
function schemaAt(path: readonly PropertyKey[]): ZodNodeLike | undefined {
  try {
    let s = Inventory as unknown as ZodNodeLike | undefined;
    for (const seg of path) {
      const u = bare(s);
      const def = u?.def;
      if (!def) return undefined;
      if (def.type === "array") s = def.element as ZodNodeLike;
      else if (def.type === "record") s = def.valueType as ZodNodeLike;
      else if (def.type === "object") s = u.shape?.[String(seg)] as ZodNodeLike | undefined;
      else if (def.type === "union") {
        const obj = (def.options ?? []).map((o) => bare(o as ZodNodeLike)).find((o) => o?.def?.type === "object");
        s = obj?.shape?.[String(seg)] as ZodNodeLike | undefined;
      } else return undefined;
      if (s === undefined) return undefined;
    }
    return s;
  } catch {
    return undefined;
  }
}

/** The node without its default/optional wrappers. */
function bare(s: ZodNodeLike | undefined): ZodNodeLike | undefined {
  let cur = s;
  for (let i = 0; i < 10 && cur?.def?.type && WRAPPERS.has(cur.def.type); i++) cur = cur.def.innerType as ZodNodeLike;
  return cur;
}

/** The kind's title (strings.ts: "interface name", "CIDR", ...) on the node or a wrapper of it. */
function titleOf(s: ZodNodeLike | undefined): string | undefined {
  let cur = s;
  for (let i = 0; i < 10 && cur; i++) {
    const t = typeof cur.meta === "function" ? cur.meta()?.title : undefined;
    if (t) return t;
    cur = cur.def?.type && WRAPPERS.has(cur.def.type) ? (cur.def.innerType as ZodNodeLike) : undefined;
  }
  return undefined;
}

const numberBounds = (n: ZodNodeLike): { min?: number; max?: number } => {
  const safe = (v: number | null | undefined) => (typeof v === "number" && Number.isFinite(v) && Math.abs(v) < 2 ** 53 ? v : undefined);
  const min = safe(n.minValue);
  const max = safe(n.maxValue);
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
};

function rangeText(min: number | undefined, max: number | undefined, unit = ""): string {
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}${unit}`;
  if (min !== undefined) return `at least ${min}${unit}`;
  if (max !== undefined) return `at most ${max}${unit}`;
  return "";
}

/** What a node takes, in words: "a whole number from 1 to 255", "one of: ssh, kubernetes", "an interface name". */
function expectedText(node: ZodNodeLike | undefined, expected?: string): string {
  const title = titleOf(node);
  const n = bare(node);
  const type = n?.def?.type ?? expected;
  switch (type) {
    case "number":
    case "int": {
      const { min, max } = n ? numberBounds(n) : {};
      const r = rangeText(min, max);
      return `${n?.isInt ? "a whole number" : "a number"}${r ? ` ${r}` : ""}`;
    }
    case "boolean":
      return "true or false";
    case "enum":
    case "literal": {
      const values = enumValues(n);
      return values.length ? `one of: ${values.map((v) => JSON.stringify(v)).join(", ")}` : "one of the listed values";
    }
    case "string": {
      if (title) return withArticle(title);
      const r = rangeText(n?.minLength ?? undefined, n?.maxLength ?? undefined, " characters");
      return `a string${r ? ` of ${r}` : ""}`;
    }
    case "array":
    case "tuple":
      return `a list${n?.def?.element ? `, each entry ${expectedText(n.def.element)}` : ""}`;
    case "object":
      return n?.shape ? `a mapping (keys: ${Object.keys(n.shape).join(", ")})` : "a mapping";
    case "record":
      return "a mapping";
    case "union": {
      const options = (n?.def?.options ?? []) as ZodNodeLike[];
      return options.length ? options.map((o) => expectedText(o)).join(", or ") : "one of several forms";
    }
    default:
      return title ? withArticle(title) : (expected ?? "another value");
  }
}

const withArticle = (noun: string): string => `${/^([aeio]|u(?!ni)|IP|SSH|HTTP|URL|RHEL|X)/.test(noun) ? "an" : "a"} ${noun}`;

function enumValues(n: ZodNodeLike | undefined): unknown[] {
  const def = n?.def as { entries?: Record<string, unknown>; values?: unknown[] } | undefined;
  if (def?.entries) return Object.values(def.entries);
  if (Array.isArray(def?.values)) return def.values;
  return [];
}

/** What zod found, in words the user can act on. */
function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return "a string";
  return `a ${typeof value}`;
}

/** A hint per failure kind: the expected type, format or allowed values, the range, the forms of a union. */
function specificHint(issue: ZodIssueLike, value: unknown, node: ZodNodeLike | undefined): string {
  const expected = expectedText(node, issue.expected);
  switch (issue.code) {
    case "invalid_type": {
      let extra = "";
      if (typeof value === "string" && (issue.expected === "number" || issue.expected === "int") && /^\s*-?\d+(\.\d+)?\s*$/.test(value))
        extra = ` Write the number without quotes: ${value.trim()}.`;
      else if (typeof value === "string" && issue.expected === "boolean" && /^(true|false|yes|no|on|off)$/i.test(value.trim()))
        extra = ` Write ${/^(true|yes|on)$/i.test(value.trim()) ? "true" : "false"} without quotes.`;
      else if ((typeof value === "number" || typeof value === "boolean") && issue.expected === "string")
        extra = ` Quote it: "${String(value)}".`;
      if (issue.expected === "int" && typeof value === "number") return `Expected ${expected}; got ${value}, not a whole number.`;
      return `Expected ${expected}; got ${typeOf(value)}.${extra}`;
    }
    case "invalid_value": {
      const values = issue.values?.length ? issue.values : enumValues(bare(node));
      const near =
        typeof value === "string"
          ? closest(
              value,
              values.filter((v): v is string => typeof v === "string"),
            )
          : undefined;
      return `${near !== undefined ? `Did you mean ${JSON.stringify(near)}? ` : ""}Allowed: ${values.map((v) => JSON.stringify(v)).join(", ")}.`;
    }
    case "too_small":
    case "too_big": {
      const n = bare(node);
      const bound = Number(issue.code === "too_small" ? issue.minimum : issue.maximum);
      const exclusive = issue.inclusive === false;
      if (issue.origin === "number" || issue.origin === "int") {
        const { min, max } = n ? numberBounds(n) : {};
        const r = rangeText(min, max);
        return (
          `A ${n?.isInt ? "whole number" : "number"} ` +
          `${r || `${issue.code === "too_small" ? (exclusive ? "above" : "at least") : exclusive ? "below" : "at most"} ${bound}`}; ` +
          `got ${String(value)}.`
        );
      }
      if (issue.origin === "string") {
        const r = rangeText(n?.minLength ?? undefined, n?.maxLength ?? undefined, " characters");
        const len = typeof value === "string" ? [...value].length : undefined;
        return (
          `${titleOf(node) ? `A ${titleOf(node)} of` : "A string of"} ` +
          `${r || `${issue.code === "too_small" ? "at least" : "at most"} ${bound} characters`}${len === undefined ? "" : `; this one has ${len}`}.`
        );
      }
      if (issue.origin === "array" || issue.origin === "set") {
        const count = Array.isArray(value) ? value.length : undefined;
        return `List ${issue.code === "too_small" ? "at least" : "at most"} ${bound} entr${bound === 1 ? "y" : "ies"}${count === undefined ? "" : `; this list has ${count}`}.`;
      }
      return `${issue.code === "too_small" ? "At least" : "At most"} ${bound}.`;
    }
    case "invalid_format": {
      const pattern = (issue as { pattern?: string }).pattern;
      return issue.format && issue.format !== "regex"
        ? `Expected ${expected} (format ${issue.format}).`
        : `Expected ${expected}${pattern ? `, matching ${pattern}` : ""}.`;
    }
    case "not_multiple_of":
      return `A multiple of ${issue.divisor}.`;
    case "invalid_union":
      return `Expected ${expected}; got ${typeOf(value)}.`;
    case "invalid_key":
      return `Keys here must each be ${expected === "a mapping" ? "a valid name" : expected}.`;
    case "invalid_element":
      return `Each entry must be ${expected}.`;
    case "custom":
      return `Expected ${expected}.`;
    default:
      return `Expected ${expected}.`;
  }
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
