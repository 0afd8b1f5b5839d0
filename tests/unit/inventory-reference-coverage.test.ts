/**
 * Every inventory field is documented in the generated reference (docs/inventory-reference.md,
 * `npm run schema`): a `.describe()` saying what it is, with its default and the daemon setting it
 * becomes. No gaps are allowed: a field added without a description fails here.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inventoryJsonSchema } from "../../src/inventory/json-schema";
import { inventoryReference } from "../../src/inventory/reference";

/** `section.field` of every reference row whose description column is empty. */
export function undocumentedFields(markdown: string): string[] {
  const out: string[] = [];
  let section = "";
  for (const line of markdown.split("\n")) {
    const h = /^## `(.+)`$/.exec(line);
    if (h) section = h[1]!;
    const row = /^\| `([^`]+)`[^|]*\|(?:[^|\\]|\\.)*\|(?:[^|\\]|\\.)*\|(.*)\|$/.exec(line);
    if (row && row[2]!.trim() === "") out.push(section === "(top level)" ? row[1]! : `${section}.${row[1]}`);
  }
  return out;
}

describe("inventory reference: every field documented", () => {
  const missing = undocumentedFields(inventoryReference(inventoryJsonSchema()));

  test("no field without a description", () => {
    assert.deepEqual(
      missing,
      [],
      "describe() these fields in src/inventory/schema.ts (what it is, its default, the daemon setting it becomes)",
    );
  });

  test("the reference has a row for every field of the schema (none escapes the check)", () => {
    const rows = (inventoryReference(inventoryJsonSchema()).match(/^\| `[^`]+`/gm) ?? []).length;
    assert.ok(rows >= 224, `only ${rows} field rows in the reference`);
  });

  test("the row parser sees empty and filled descriptions (escaped pipes included)", () => {
    const md = [
      "## `(top level)`",
      "| `a` | string |  |  |",
      '| `b` | `"x"` \\| `"y"` | `"x"` | said |',
      "## `p.q`",
      "| `c` (required) | number |  |  |",
    ].join("\n");
    assert.deepEqual(undocumentedFields(md), ["a", "p.q.c"]);
  });
});
