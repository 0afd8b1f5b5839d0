/**
 * A markdown reference of the YAML inventory, generated from the same JSON Schema editors use
 * (so it cannot drift from the zod schema): one table per object, every field with its type,
 * default and description.
 */
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  /** The string kind (src/inventory/strings.ts): `host name`, `CIDR`, `duration`, ... */
  title?: string;
  additionalProperties?: Schema | boolean;
  minimum?: number;
  maximum?: number;
};

const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function typeOf(s: Schema): string {
  if (isSecretRef(s)) return "secret ref";
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" | ");
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(" | ");
  if (s.type === "array") return `${s.items ? typeOf(s.items) : "any"}[]`;
  if (s.type === "object" && s.properties) {
    const keys = Object.keys(s.properties);
    if (keys.length === 1) return `{ ${keys[0]}: ${typeOf(s.properties[keys[0]!]!)} }`;
    return "object";
  }
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object")
    return `map of ${typeOf(s.additionalProperties)}`;
  if (s.title && s.type === "string") return `string (${s.title})`;
  const t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any");
  const range = s.minimum !== undefined || s.maximum !== undefined ? ` (${s.minimum ?? ""}..${s.maximum ?? ""})` : "";
  return t + range;
}

const isSecretRef = (s: Schema): boolean => {
  const alts = s.anyOf ?? s.oneOf;
  return (
    !!alts &&
    alts.every(
      (a) => a.properties && Object.keys(a.properties).length === 1 && ["secret", "env", "value"].includes(Object.keys(a.properties)[0]!),
    )
  );
};

/** Objects worth their own table (reached through arrays and unions too); secret refs are not. */
function nested(s: Schema): Schema | undefined {
  if (isSecretRef(s)) return undefined;
  if (s.type === "object" && s.properties) return s;
  if (s.type === "array" && s.items) return nested(s.items);
  const alts = s.anyOf ?? s.oneOf;
  if (alts)
    for (const a of alts) {
      const n = nested(a);
      if (n) return n;
    }
  return undefined;
}

export function inventoryReference(root: Schema): string {
  const out: string[] = [
    "# Inventory reference (YAML)",
    "",
    "Generated from `src/inventory/schema.ts` by `npm run schema` (with `schema/inventory.schema.json`). Do not edit by hand.",
    "Secret fields take a reference: `{ secret: NAME }` (Pulumi config secret `haforge:NAME`), `{ env: VAR }`, or — discouraged — `{ value: ... }`.",
    "",
  ];
  const queue: [string, Schema][] = [["(top level)", root]];
  const seen = new Set<string>();
  while (queue.length) {
    const [path, s] = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    out.push(`## \`${path}\``, "", "| field | type | default | description |", "| --- | --- | --- | --- |");
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      const def = v.default === undefined ? "" : `\`${esc(JSON.stringify(v.default))}\``;
      const req = s.required?.includes(k) && v.default === undefined ? " (required)" : "";
      out.push(`| \`${k}\`${req} | ${esc(typeOf(v))} | ${def} | ${esc(v.description ?? "")} |`);
      const n = nested(v);
      if (n) queue.push([path === "(top level)" ? k : `${path}.${k}`, n]);
    }
    out.push("");
  }
  return out.join("\n");
}
