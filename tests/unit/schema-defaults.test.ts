/**
 * Nested defaults are written once, on the fields: a nested object left out of the inventory is
 * what `{}` parses to, and no two parses share a default's arrays or objects (zod copies a
 * literal default only one level deep, so a parsed inventory that appended to
 * `policy.list` changed the default of every later parse).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { z } from "zod";
import { Inventory } from "../../src/inventory/schema";

type Any = z.core.$ZodType;
const def = (s: Any): z.core.$ZodTypeDef & Record<string, unknown> => s._zod.def as never;

/** Every `.default(...)` over an object schema in the inventory schema, with its path. */
function objectDefaults(root: Any): { path: string; schema: Any; inner: Any }[] {
  const out: { path: string; schema: Any; inner: Any }[] = [];
  const seen = new Set<Any>();
  const walk = (s: Any, path: string): void => {
    if (seen.has(s)) return;
    seen.add(s);
    const d = def(s);
    switch (d.type) {
      case "object":
        for (const [k, v] of Object.entries((d as unknown as { shape: Record<string, Any> }).shape)) walk(v, `${path}.${k}`);
        return;
      case "default": {
        const inner = (d as unknown as { innerType: Any }).innerType;
        if (def(inner).type === "object") out.push({ path, schema: s, inner });
        walk(inner, path);
        return;
      }
      case "optional":
      case "nullable":
      case "prefault":
      case "readonly":
      case "pipe":
        walk((d as unknown as { innerType?: Any; in?: Any }).innerType ?? (d as unknown as { in: Any }).in, path);
        return;
      case "array":
        walk((d as unknown as { element: Any }).element, `${path}[]`);
        return;
      case "record":
        walk((d as unknown as { valueType: Any }).valueType, `${path}{}`);
        return;
      case "union":
        for (const o of (d as unknown as { options: Any[] }).options) walk(o, path);
        return;
      default:
        return;
    }
  };
  walk(root, "inventory");
  return out;
}

/** Objects and arrays reachable from both values (by identity). */
function shared(a: unknown, b: unknown, path = ""): string[] {
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return [];
  if (a === b) return [path || "(root)"];
  return Object.keys(a).flatMap((k) => shared((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`));
}

describe("nested schema defaults", () => {
  const defaults = objectDefaults(Inventory);

  test("the walk finds the nested object defaults", () => {
    const paths = defaults.map((d) => d.path);
    for (const p of ["inventory.tower.instanceGroups[].policy", "inventory.tower.database", "inventory.kubernetes.replicas"])
      assert.ok(paths.includes(p), `${p} in ${paths.join(", ")}`);
  });

  test("a nested object left out is what {} parses to", () => {
    for (const d of defaults) assert.deepEqual(z.parse(d.schema, undefined), z.parse(d.inner, {}), d.path);
  });

  test("no two parses share a default's arrays or objects", () => {
    for (const d of defaults) assert.deepEqual(shared(z.parse(d.schema, undefined), z.parse(d.schema, undefined)), [], d.path);
  });
});
