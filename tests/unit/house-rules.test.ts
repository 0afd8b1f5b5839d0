/**
 * The house rules of docs/architecture.md, checked over src/, components/ and index.ts with
 * scripts/long-functions.ts: no line over 200 characters, and no non-test function over 80 lines
 * (the 23 that were longer when the rule was made a test are split along their dividers).
 * Outside the rule: the generated and golden files (schema/inventory.schema.json,
 * docs/inventory-reference.md, tests/golden/*\/tree, templates/: data, not code, written by tools
 * or by the renderers) and tests/, bench/, lab/, scripts/.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { scan } from "../../scripts/long-functions";

const MAX_LINES = 80;
const MAX_WIDTH = 200;

describe("house rules (docs/architecture.md)", () => {
  const r = scan(MAX_LINES, MAX_WIDTH);

  test(`no line over ${MAX_WIDTH} characters`, () => {
    assert.deepEqual(
      r.wideLines.map((w) => `${w.file}:${w.line} (${w.width})`),
      [],
    );
  });

  test(`no function over ${MAX_LINES} lines`, () => {
    assert.deepEqual(
      r.functions.map((f) => `${f.file}:${f.line} ${f.name}: ${f.lines} lines`),
      [],
    );
  });
});
