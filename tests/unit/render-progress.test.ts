/** Progress of long renders: the pipeline reports through a callback, the CLI prints it throttled. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { SHAPES } from "../../bench/growth";
import { progressReporter } from "../../src/cli/render";
import { parseInventoryText } from "../../src/inventory/load";
import { planCluster } from "../../src/pipeline/plan";
import { writeRenderTree } from "../../src/render/output";
import { renderDesiredState, type RenderProgress } from "../../src/pipeline/render";

describe("render progress", () => {
  it("render and write report every step, in order, ending at total", () => {
    const plan = planCluster(parseInventoryText(SHAPES["keepalived"]!(40), "k.yaml").inventory!).plan!;
    const seen: RenderProgress[] = [];
    const state = renderDesiredState(plan, {}, {}, (p) => seen.push(p));
    const render = seen.filter((p) => p.phase === "render");
    assert.ok(render.length > 1);
    render.forEach((p, i) => assert.equal(p.done, i));
    assert.equal(render.at(-1)!.done, render.at(-1)!.total);
    const dir = mkdtempSync(join(tmpdir(), "haforge-progress-"));
    try {
      const writes: RenderProgress[] = [];
      writeRenderTree(state, join(dir, "out"), { reveal: false, toMask: new Map(), onProgress: (p) => writes.push(p) }, (o) =>
        yaml.dump(o),
      );
      assert.deepEqual(
        writes.map((p) => p.done),
        state.hosts.map((_h, i) => i + 1),
      );
      assert.ok(writes.every((p) => p.phase === "write" && p.total === state.hosts.length));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the CLI prints nothing in the first second, then at most a line a second", () => {
    let t = 0;
    const lines: string[] = [];
    const report = progressReporter({ err: (s: string) => void lines.push(s) }, () => t);
    for (; t < 1000; t += 100) report({ phase: "render", done: 0, total: 9, item: "tower" });
    assert.deepEqual(lines, []);
    for (; t < 3500; t += 100) report({ phase: "write", done: t, total: 10000 });
    assert.deepEqual(lines, [
      "haforge render: writing hosts 1000/10000",
      "haforge render: writing hosts 2000/10000",
      "haforge render: writing hosts 3000/10000",
    ]);
  });
});
