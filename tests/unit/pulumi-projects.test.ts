/**
 * The Pulumi project files as the CLI and the Node.js language host read them:
 *  - no project pins a backend (a project's backend.url wins over `pulumi login`, and
 *    `file://~` is another, empty state for every operator);
 *  - haforge's project runs program.js (the compiled program or its sources);
 *  - examples/consumer runs its own index.ts: the entry point is resolved the way the SDK's
 *    `cmd/run` does it (Pulumi.yaml `main`, else the nearest package.json found searching up from
 *    the project directory and its `main`), using the SDK's own manifest lookup.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import yaml from "js-yaml";

const ROOT = join(__dirname, "..", "..");
const manifest = require("@pulumi/pulumi/runtime/manifest") as {
  searchupPackageManifest(dir: string): string | undefined;
  readPackageManifest(dir: string): { data: Record<string, unknown> };
};

/** Every Pulumi.yaml of the repository (the project files, not stack files). */
function projects(dir = ROOT, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) projects(p, out);
    else if (e.name === "Pulumi.yaml") out.push(p);
  }
  return out;
}

/** The program file the SDK's run.js would load for a project directory. */
function entryPoint(projectDir: string): string {
  const project = yaml.load(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")) as { main?: string };
  const programDir = project.main ? join(projectDir, project.main) : projectDir;
  if (project.main) return programDir;
  const found = manifest.searchupPackageManifest(programDir);
  assert.ok(found, `no package.json above ${projectDir}`);
  const root = dirname(found);
  const main = manifest.readPackageManifest(root).data["main"];
  return typeof main === "string" ? join(root, main) : programDir;
}

describe("Pulumi project files", () => {
  it("no project pins a state backend", () => {
    const files = projects();
    assert.ok(files.length >= 2, files.join(", "));
    for (const f of files) {
      const p = yaml.load(readFileSync(f, "utf8")) as Record<string, unknown>;
      assert.equal(p["backend"], undefined, `${f} pins backend ${JSON.stringify(p["backend"])}`);
    }
  });

  it("examples/consumer resolves to its own entry point, never haforge's index.ts", () => {
    const dir = join(ROOT, "examples", "consumer");
    const entry = entryPoint(dir);
    assert.equal(entry, join(dir, "index.ts"));
    assert.ok(existsSync(entry));
    // Even without the Pulumi.yaml `main`, the nearest package.json is the consumer's own.
    assert.equal(dirname(manifest.searchupPackageManifest(dir)!), dir);
    assert.match(readFileSync(entry, "utf8"), /StackReference/);
    // ...and the root project still runs haforge's program: program.js, which loads the compiled
    // program or index.ts (tests/unit/program-entry.test.ts), from the project directory (Pulumi
    // runs a program in main's directory: the providers' texts and config paths are relative to it).
    assert.equal(entryPoint(ROOT), join(ROOT, "program.js"));
    assert.match(readFileSync(entryPoint(ROOT), "utf8"), /loadModule\("index"\)/);
  });
});
