/**
 * Golden trees: every example inventory rendered through the CLI code path (`haforge render`,
 * masked output, the committed throwaway materials and fixed fake secrets of tests/golden) must
 * give exactly the committed tree, manifest.json and every file (Kubernetes objects included)
 * byte for byte. A mismatch shows the unified diff of the first differing files.
 *
 * Regenerate after an intended change, then review the diff like code:
 *   npm run golden:update      (UPDATE_GOLDEN=1 node --import tsx --test tests/unit/golden.test.ts)
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MASK_SALT_KEY, secretsToMask } from "../../src/render/output";
import {
  GOLDEN_DIR,
  compareTrees,
  describeMismatches,
  exampleInventories,
  fakeSecrets,
  goldenDir,
  goldenMaterials,
  goldenTree,
  hasGoldenMaterials,
  listTree,
  renderExample,
} from "../golden/examples";

const UPDATE = process.env["UPDATE_GOLDEN"] === "1";
const work = mkdtempSync(join(tmpdir(), "haforge-golden-"));
after(() => rmSync(work, { recursive: true, force: true }));

const examples = exampleInventories();

describe("golden render trees of the example inventories", () => {
  it("there are examples, and every golden directory belongs to one", () => {
    assert.ok(examples.length >= 8, `only ${examples.length} example inventories found`);
    const dirs = readdirSync(GOLDEN_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    const stale = dirs.filter((d) => !examples.includes(d));
    if (UPDATE) for (const d of stale) rmSync(goldenDir(d), { recursive: true, force: true });
    else assert.deepEqual(stale, [], "golden directories without an inventory: `npm run golden:update` removes them");
  });

  for (const name of examples) {
    describe(name, () => {
      const out = join(work, name, "tree");
      const materials = join(work, name, "materials.json");

      it("renders exactly the committed golden tree", async () => {
        mkdirSync(join(work, name), { recursive: true });
        if (hasGoldenMaterials(name)) copyFileSync(goldenMaterials(name), materials);
        else assert.ok(UPDATE, `tests/golden/${name}/materials.json is missing: run \`npm run golden:update\``);
        const r = await renderExample(name, out, { materials });
        assert.equal(r.code, 0, `render exited ${r.code}\n${r.err}`);
        assert.doesNotMatch(r.err, /unresolved secrets/, "every secret of the example has a fake value");
        if (UPDATE) {
          rmSync(goldenTree(name), { recursive: true, force: true });
          mkdirSync(goldenDir(name), { recursive: true });
          cpSync(out, goldenTree(name), { recursive: true });
          copyFileSync(materials, goldenMaterials(name));
        } else {
          assert.doesNotMatch(
            r.err,
            /generated materials/,
            `tests/golden/${name}/materials.json lacks keys the render needs: run \`npm run golden:update\``,
          );
        }
        const mismatches = compareTrees(goldenTree(name), out);
        assert.equal(
          mismatches.length,
          0,
          `${name}: the render differs from tests/golden/${name}/tree (\`npm run golden:update\` if intended)\n${describeMismatches(mismatches)}`,
        );
      });

      it("the masked tree holds no fake secret and no private material", () => {
        assert.ok(existsSync(out), "rendered above");
        const { refs, values } = fakeSecrets(name);
        const mats = JSON.parse(readFileSync(materials, "utf8")) as Record<string, string>;
        const needles = new Map<string, string>();
        for (const [label, v] of secretsToMask(refs, values, mats)) {
          // Short values are not masked textually (they would hit unrelated text); the file
          // holding one is masked whole and the tests of that service check it.
          if (v.length < 8) continue;
          needles.set(label, v);
          needles.set(`${label} (base64)`, Buffer.from(v).toString("base64"));
        }
        needles.set("mask salt", mats[MASK_SALT_KEY]!);
        for (const [label, v] of Object.entries(values)) if (v.length >= 8) needles.set(`${label} (fake)`, v);
        const files = listTree(out);
        assert.ok(files.includes("manifest.json"));
        const leaks: string[] = [];
        for (const f of files) {
          const text = readFileSync(join(out, f), "latin1");
          for (const [label, v] of needles) if (text.includes(v)) leaks.push(`${f}: ${label}`);
        }
        assert.deepEqual(leaks, [], "secret values in the masked tree");
      });
    });
  }
});
