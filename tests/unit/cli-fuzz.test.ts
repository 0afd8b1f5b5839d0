/**
 * Property-based: malformed inventories never crash the core or the CLI. Whatever the input, the
 * CLI exits 0, 1 (with an error finding) or 2 (with a message), and never throws.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import yaml from "js-yaml";
import { analyzeInventoryText } from "../../src/pipeline/analyze";
import { ROOT, runCli } from "../helpers/cli";

const dir = mkdtempSync(join(tmpdir(), "hf-fuzz-"));
const examples = readdirSync(join(ROOT, "inventories")).filter((f) => /\.(ya?ml|ini)$/.test(f));
const yamlExamples = examples.filter((f) => /\.ya?ml$/.test(f)).map((f) => yaml.load(readFileSync(join(ROOT, "inventories", f), "utf8")));
const iniExamples = examples.filter((f) => f.endsWith(".ini")).map((f) => readFileSync(join(ROOT, "inventories", f), "utf8"));

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string(), { maxKeys: 3 }),
);

/** Replace the value at a random path of a JSON-ish tree. */
function mutate(tree: unknown, picks: number[], value: unknown): unknown {
  if (picks.length === 0 || tree === null || typeof tree !== "object") return value;
  const [p, ...rest] = picks;
  if (Array.isArray(tree)) {
    if (tree.length === 0) return value;
    const copy = [...tree];
    const i = p! % copy.length;
    copy[i] = mutate(copy[i], rest, value);
    return copy;
  }
  const keys = Object.keys(tree);
  if (keys.length === 0) return value;
  const k = keys[p! % keys.length]!;
  return { ...tree, [k]: mutate((tree as Record<string, unknown>)[k], rest, value) };
}

async function checkCli(text: string, ext: string): Promise<void> {
  const file = join(dir, `inv${ext}`);
  writeFileSync(file, text);
  const r = await runCli(["validate", file, "--json"]);
  assert.ok([0, 1, 2].includes(r.code), `exit ${r.code}`);
  if (r.code !== 2) {
    const j = JSON.parse(r.out) as { valid: boolean; findings: { severity: string; code: string; path: string }[] };
    assert.equal(j.valid, r.code === 0);
    if (r.code === 1) assert.ok(j.findings.some((f) => f.severity === "error" && f.code && typeof f.path === "string"));
  } else assert.ok(r.err.length > 0);
}

describe("malformed inventories never crash", () => {
  it("mutated YAML inventories", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(yamlExamples.length - 1),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        anyValue,
        async (i, picks, value) => {
          const text = yaml.dump(mutate(yamlExamples[i], picks, value));
          assert.doesNotThrow(() => analyzeInventoryText(text, "x.yaml"));
          await checkCli(text, ".yaml");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("mutated Tower INI inventories (lines dropped, duplicated, garbled)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(Math.max(0, iniExamples.length - 1)),
        fc.array(
          fc.tuple(fc.nat(), fc.oneof(fc.constant("drop"), fc.constant("dup"), fc.constant("garble")), fc.string({ maxLength: 20 })),
          { maxLength: 8 },
        ),
        async (i, edits) => {
          const lines = (iniExamples[i] ?? "").split("\n");
          for (const [n, op, s] of edits) {
            const at = lines.length ? n % lines.length : 0;
            if (op === "drop") lines.splice(at, 1);
            else if (op === "dup") lines.splice(at, 0, lines[at] ?? "");
            else lines[at] = (lines[at] ?? "").slice(0, s.length) + s;
          }
          const text = lines.join("\n");
          assert.doesNotThrow(() => analyzeInventoryText(text, "x.ini"));
          await checkCli(text, ".ini");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("arbitrary text in either format", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), fc.constantFrom(".ini", ".yaml", ""), async (text, ext) => {
        await checkCli(text, ext);
      }),
      { numRuns: 200 },
    );
  });
});
