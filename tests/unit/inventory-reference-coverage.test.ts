/**
 * Every inventory field is documented in the generated reference (docs/inventory-reference.md,
 * `npm run schema`): a `.describe()` saying what it is, with its default and the daemon setting it
 * becomes. Fields not yet documented are listed in inventory-reference-gaps.json; the list may
 * only shrink: a new undocumented field fails, and so does a listed field that got documented
 * (remove it from the list).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
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

const gaps: string[] = JSON.parse(readFileSync(join(__dirname, "inventory-reference-gaps.json"), "utf8"));

describe("inventory reference: every field documented", () => {
  const missing = undocumentedFields(inventoryReference(inventoryJsonSchema()));

  test("no field without a description beyond the known gaps", () => {
    const fresh = missing.filter((f) => !gaps.includes(f));
    assert.deepEqual(
      fresh,
      [],
      "describe() these fields in src/inventory/schema.ts (what it is, its default, the daemon setting it becomes)",
    );
  });

  test("the list of known gaps only shrinks", () => {
    const documented = gaps.filter((f) => !missing.includes(f));
    assert.deepEqual(documented, [], "documented now: remove them from tests/unit/inventory-reference-gaps.json");
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
