/**
 * program.js, the Pulumi program's entry (Pulumi.yaml `main`), through load-module.js (which the
 * dynamic providers' texts use too): it runs the compiled program (dist/program/index.js) only
 * when that is at least as new as every source of the program (files and directories: a deleted
 * file changes its directory), and the sources through tsx otherwise, so `pulumi up` in a
 * checkout being edited never runs stale code. Checked on copies of both in a scratch project
 * whose "program" modules export where they came from.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const ROOT = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "haforge-program-entry-"));
after(() => rmSync(dir, { recursive: true, force: true }));

copyFileSync(join(ROOT, "program.js"), join(dir, "program.js"));
copyFileSync(join(ROOT, "load-module.js"), join(dir, "load-module.js"));
symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
for (const d of ["components", "src/core", "dist/program"]) mkdirSync(join(dir, d), { recursive: true });
writeFileSync(join(dir, "index.ts"), 'const from: string = "sources";\nexport { from };\n');
writeFileSync(join(dir, "components", "c.ts"), "export {};\n");
writeFileSync(join(dir, "src", "core", "x.ts"), "export {};\n");
writeFileSync(join(dir, "dist", "program", "index.js"), 'exports.from = "compiled";\n');

const at = (file: string, seconds: number) => utimesSync(join(dir, file), seconds, seconds);
const sources = ["index.ts", "components", "components/c.ts", "src", "src/core", "src/core/x.ts"];

/** What `require("program.js")` exports under plain node, as the language host loads it. */
function load(env: NodeJS.ProcessEnv = {}): string {
  const e = { ...process.env, ...env };
  delete e["NODE_OPTIONS"];
  const r = spawnSync(process.execPath, ["-e", `console.log(require(${JSON.stringify(join(dir, "program.js"))}).from)`], {
    cwd: dir,
    env: e,
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe("program.js", { concurrency: false }, () => {
  it("runs the compiled program when it is as new as every source", () => {
    for (const f of sources) at(f, 1_000_000);
    at("dist/program/index.js", 1_000_000);
    assert.equal(load(), "compiled");
  });

  it("runs the sources through tsx when any source is newer than the build", () => {
    for (const f of sources) {
      for (const g of sources) at(g, 1_000_000);
      at("dist/program/index.js", 1_000_000);
      at(f, 1_000_001);
      assert.equal(load(), "sources", f);
    }
  });

  it("runs the sources with HAFORGE_FROM_SOURCE=1, and when there is no build", () => {
    for (const f of sources) at(f, 1_000_000);
    at("dist/program/index.js", 1_000_000);
    assert.equal(load({ HAFORGE_FROM_SOURCE: "1" }), "sources");
    rmSync(join(dir, "dist"), { recursive: true });
    assert.equal(load(), "sources");
  });
});
