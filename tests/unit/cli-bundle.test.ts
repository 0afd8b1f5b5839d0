/**
 * The compiled CLI (scripts/build.js: one esbuild bundle, dist/cli/main.js, and V8's code cache
 * beside it, loaded by bin/haforge.js) behaves as the sources do, loads none of the libraries
 * `haforge validate` does not need, and its code cache is written when missing and accepted
 * afterwards. Built into a temporary installed-package layout (bin/, dist/, templates/,
 * package.json, node_modules; no src/, as an install from a registry), so the repository's dist/
 * that other tests run is never half-written.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import Module from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import vm from "node:vm";
import { ROOT } from "../helpers/cli";

const EXAMPLE = join(ROOT, "inventories", "openstack-pacemaker.yaml");

describe("compiled CLI (scripts/build.js, bin/haforge.js)", () => {
  let pkg: string;
  before(() => {
    pkg = mkdtempSync(join(tmpdir(), "haforge-bundle-"));
    const r = spawnSync(process.execPath, [join(ROOT, "scripts", "build.js"), "--out", join(pkg, "dist")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    mkdirSync(join(pkg, "bin"));
    copyFileSync(join(ROOT, "bin", "haforge.js"), join(pkg, "bin", "haforge.js"));
    copyFileSync(join(ROOT, "package.json"), join(pkg, "package.json"));
    symlinkSync(join(ROOT, "templates"), join(pkg, "templates"));
    symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"));
  });
  after(() => rmSync(pkg, { recursive: true, force: true }));

  const bundle = (): string => join(pkg, "dist", "cli", "main.js");
  const run = (args: string[], env: NodeJS.ProcessEnv = {}, bin = join(pkg, "bin", "haforge.js")) =>
    spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 60_000 });

  test("one file; the code cache is written by the first run and accepted by V8 afterwards", () => {
    // dist/program: the Pulumi program compiled file by file (program.js runs it).
    assert.deepEqual(readdirSync(join(pkg, "dist")).sort(), ["cli", "program"]);
    assert.deepEqual(readdirSync(join(pkg, "dist", "cli")), ["main.js"]);
    const first = run(["validate", EXAMPLE]);
    assert.equal(first.status, 0, first.stderr);
    assert.ok(existsSync(`${bundle()}.cache`), "the first run wrote the code cache");
    const script = new vm.Script(Module.wrap(readFileSync(bundle(), "utf8")), {
      filename: bundle(),
      cachedData: readFileSync(`${bundle()}.cache`),
    });
    assert.equal(script.cachedDataRejected, false, "V8 accepts the cache for this bundle");
    // A cache of another bundle (a rebuild, another Node) is rejected by V8 and written anew.
    const stale = Buffer.from(readFileSync(`${bundle()}.cache`));
    stale.fill(7, 16, 64);
    const s2 = new vm.Script(Module.wrap(readFileSync(bundle(), "utf8")), { filename: bundle(), cachedData: stale });
    assert.equal(s2.cachedDataRejected, true);
  });

  test("validate loads none of the other commands' libraries, and not zod's locales", () => {
    const script = `
      const Module = require("node:module");
      const seen = [];
      const load = Module._load;
      Module._load = function (request, ...rest) { seen.push(request); return load.call(this, request, ...rest); };
      process.argv = [process.argv[0], ${JSON.stringify(join(pkg, "bin", "haforge.js"))}, "validate", ${JSON.stringify(EXAMPLE)}];
      require(${JSON.stringify(join(pkg, "bin", "haforge.js"))});
      process.on("exit", () => { process.stderr.write("LOADED " + JSON.stringify([...new Set(seen)])); });`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    assert.equal(r.status, 0, r.stderr);
    const loaded = JSON.parse(/LOADED (.*)$/m.exec(r.stderr)![1]!) as string[];
    const bare = loaded.filter((m) => !m.startsWith("node:") && !m.startsWith("/") && !m.startsWith("."));
    // Node's own modules by their bare names (fs, path, ...) are the only bare requests.
    const builtin = new Set(Module.builtinModules);
    assert.deepEqual(
      bare.filter((m) => !builtin.has(m)),
      [],
      `validate required ${bare.join(", ")}`,
    );
  });

  const same = (args: string[]) => {
    const compiled = run(args);
    const source = run(args, { HAFORGE_FROM_SOURCE: "1" }, join(ROOT, "bin", "haforge.js"));
    assert.equal(compiled.status, source.status, `${args.join(" ")}: ${compiled.stderr}`);
    assert.equal(compiled.stdout, source.stdout, args.join(" "));
    assert.equal(compiled.stderr, source.stderr, args.join(" "));
    return compiled;
  };

  test("--version, validate, plan and render print what the sources print", () => {
    const version = run(["--version"]);
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
    same(["validate", EXAMPLE, "--json"]);
    same(["plan", join(ROOT, "inventories", "lab.yaml"), "--json"]);
    const out = mkdtempSync(join(tmpdir(), "haforge-bundle-render-"));
    try {
      const materials = join(out, "materials.json");
      assert.equal(run(["render", EXAMPLE, "--out", join(out, "warm"), "--materials", materials]).status, 0, "generates the materials");
      const a = run(["render", EXAMPLE, "--out", join(out, "a"), "--materials", materials, "--json"]);
      assert.equal(a.status, 0, a.stderr);
      const b = run(
        ["render", EXAMPLE, "--out", join(out, "b"), "--materials", materials, "--json"],
        { HAFORGE_FROM_SOURCE: "1" },
        join(ROOT, "bin", "haforge.js"),
      );
      assert.equal(b.status, 0, b.stderr);
      assert.equal(a.stdout.replaceAll(join(out, "a"), "OUT"), b.stdout.replaceAll(join(out, "b"), "OUT"));
      const files = (d: string): string[] => readdirSync(d, { recursive: true, encoding: "utf8" }).sort();
      assert.deepEqual(files(join(out, "a")), files(join(out, "b")));
      for (const f of files(join(out, "a"))) {
        if (statSync(join(out, "a", f)).isFile())
          assert.equal(readFileSync(join(out, "a", f), "utf8"), readFileSync(join(out, "b", f), "utf8"), f);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
