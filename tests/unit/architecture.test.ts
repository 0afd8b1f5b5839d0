/**
 * The module graph obeys docs/architecture.md ("Layers"): no arrow runs back up the layers, layers
 * of the same rank do not import each other, `@pulumi/*` only in the Pulumi adapters, and nothing
 * reachable from the CLI entry loads a Pulumi module (checked statically over the parsed imports
 * and at run time over the modules `haforge validate` really loads).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  CLI_ENTRY,
  importSpecifiers,
  layerOf,
  layerViolations,
  parseLayers,
  productEdges,
  type Edge,
  type Layer,
} from "../helpers/module-graph";
import { ROOT } from "../helpers/cli";

const layers = parseLayers(readFileSync(join(ROOT, "docs", "architecture.md"), "utf8"));
const edges = productEdges(ROOT);

describe("module graph (docs/architecture.md, Layers)", () => {
  test("the layer table is read from the docs and covers every product file", () => {
    assert.ok(layers.length >= 8, `layers: ${layers.map((l) => l.name).join(", ")}`);
    const files = new Set(edges.map((e) => e.from));
    const orphans = [...files].filter((f) => !layerOf(layers, f));
    assert.deepEqual(orphans, [], "files in no layer");
  });

  test("no back-arrow, no sideways arrow, @pulumi/* only in providers, components and the program", () => {
    const v = layerViolations(layers, edges);
    assert.deepEqual(
      v.map((x) => x.message),
      [],
    );
  });

  test("the CLI reaches no @pulumi/* module (static graph)", () => {
    const v = layerViolations(layers, edges).filter((x) => x.kind === "pulumi-from-cli");
    assert.deepEqual(v, []);
    assert.ok(
      edges.some((e) => e.from === CLI_ENTRY),
      "the CLI entry was parsed",
    );
  });

  // What `haforge validate` must not load (cold start, bench/cli-start.ts): the Pulumi SDK, the SSH
  // client and its key code, the diff library, the renderers' libraries, the SSH transport (its host-key parser is the plan's).
  const NOT_FOR_VALIDATE = [
    "/node_modules/@pulumi/",
    "/node_modules/ssh2/",
    "/node_modules/@peculiar/",
    "/node_modules/diff/",
    "/node_modules/handlebars/",
    "/node_modules/xmlbuilder2/",
    "/node_modules/kubernetes-models/",
    "/node_modules/picomatch/",
    "/src/transport/pool.ts",
    "/src/transport/host-connection.ts",
    "/src/transport/remote-files.ts",
    "/src/cli/diff.ts",
    "/src/cli/live-diff.ts",
    "/src/cli/render.ts",
  ];
  const loadedByValidate = (): { code: number; loaded: string[] } => {
    const script = `
      const { main } = require(${JSON.stringify(join(ROOT, "src", "cli", "main.ts"))});
      main(["validate", ${JSON.stringify(join(ROOT, "inventories", "openstack-pacemaker.yaml"))}], { out() {}, err() {} }, {}).then((code) => {
        process.stdout.write(JSON.stringify({ code, loaded: Object.keys(require.cache) }));
      });`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { code: number; loaded: string[] };
  };

  test("`haforge validate` of an example loads no @pulumi/* module, SSH client, diff library or renderer library (run time)", () => {
    const { code, loaded } = loadedByValidate();
    assert.equal(code, 0);
    assert.ok(
      loaded.some((k) => k.includes("/node_modules/zod/")),
      "the probe sees the modules validate loads",
    );
    const unwanted = [...new Set(loaded.flatMap((k) => NOT_FOR_VALIDATE.filter((p) => k.includes(p))))];
    assert.deepEqual(unwanted, []);
  });
});

describe("the checker itself", () => {
  const L: Layer[] = [
    { rank: 0, name: "core", where: ["src/core/"] },
    { rank: 1, name: "mid", where: ["src/mid/", "src/mid/special.ts"] },
    { rank: 2, name: "cli", where: ["src/cli/"] },
    { rank: 2, name: "providers", where: ["src/providers/"] },
  ];
  const fileOf = (layer: number, i: number): string => `${L[layer]!.where[0]}f${i}.ts`;

  test("parses every import form (type-only, re-export, require, import(), typeof import())", () => {
    const text = `
      import a from "./a"; import type { B } from "./b"; export * from "./c"; export { d } from "./d";
      import e = require("./e"); const f = require("./f"); const g = await import("./g");
      type H = typeof import("./h"); const notAnImport = requireX("./i");`;
    assert.deepEqual(importSpecifiers("x.ts", text), ["./a", "./b", "./c", "./d", "./e", "./f", "./g", "./h"]);
  });

  test("property: an internal edge is flagged exactly when it goes up a rank or sideways to another layer", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(3), fc.nat(3), fc.nat(5), fc.nat(5)), { maxLength: 30 }), (raw) => {
        const es: Edge[] = raw.map(([a, b, i, j]) => ({ from: fileOf(a, i), to: fileOf(b, j), external: false }));
        const v = layerViolations(L, es, "src/cli/f0.ts");
        const expected = raw.filter(([a, b]) => L[b]!.rank > L[a]!.rank || (L[b]!.rank === L[a]!.rank && a !== b)).length;
        assert.equal(v.length, expected);
      }),
    );
  });

  test("property: @pulumi/* reachable from the CLI entry is found, however long the chain", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), (n) => {
        // cli → mid/f1 → mid/f2 → … → mid/fn (a downward chain: no layer violation) → @pulumi/pulumi
        const es: Edge[] = [{ from: "src/cli/f0.ts", to: "src/mid/f1.ts", external: false }];
        for (let i = 1; i < n; i++) es.push({ from: `src/mid/f${i}.ts`, to: `src/mid/f${i + 1}.ts`, external: false });
        es.push({ from: `src/mid/f${n}.ts`, to: "@pulumi/pulumi", external: true });
        const v = layerViolations(L, es, "src/cli/f0.ts");
        assert.ok(v.some((x) => x.kind === "pulumi-from-cli" && x.message.includes("src/cli/f0.ts → src/mid/f1.ts")));
        assert.ok(v.some((x) => x.kind === "pulumi-outside-adapters"));
        // The same import from a provider, unreachable from the CLI, is allowed.
        assert.deepEqual(layerViolations(L, [{ from: "src/providers/p.ts", to: "@pulumi/pulumi", external: true }], "src/cli/f0.ts"), []);
      }),
    );
  });

  test("the longest `where` wins (a file can be carved out of its folder's layer)", () => {
    assert.equal(layerOf(L, "src/mid/special.ts")?.name, "mid");
    assert.equal(layerOf(L, "src/core/x/y.ts")?.name, "core");
    assert.equal(layerOf(L, "elsewhere.ts"), undefined);
  });

  test("a `*` in `where` stands for one path segment (a service folder's plan types sit in the model layer)", () => {
    const P: Layer[] = [
      { rank: 3, name: "model", where: ["src/plan/", "src/services/*/plan-types.ts"] },
      { rank: 5, name: "services", where: ["src/services/"] },
    ];
    assert.equal(layerOf(P, "src/services/tower/plan-types.ts")?.name, "model");
    assert.equal(layerOf(P, "src/services/tower/plan.ts")?.name, "services");
    assert.equal(layerOf(P, "src/services/tower/x/plan-types.ts")?.name, "services");
    assert.equal(layerOf(P, "src/services/tower/plan-types.tsx")?.name, "services");
    assert.equal(layerOf(layers, "src/services/rabbitmq/plan-types.ts")?.name, "model", "docs/architecture.md");
  });
});
