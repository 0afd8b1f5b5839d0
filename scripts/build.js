#!/usr/bin/env node
// `npm run build`: the CLI (src/cli/main.ts and what it reaches) bundled by esbuild into one
// CommonJS file, dist/cli/main.js, which bin/haforge.js runs. One file instead of ~220 modules
// (no module resolution, no per-module wrapper at start), zod's ES module build (its locale
// modules are not loaded at start), whitespace and syntax minified (less to read; names kept
// for messages and stack traces). The libraries only other commands load (the SSH client, the
// certificate code, the diff library, the renderers' libraries) stay ordinary require()s of
// node_modules: they load when a command needs them, as before.
// Then one `haforge validate` of an example writes V8's code cache, dist/cli/main.js.cache
// (bin/haforge.js: loadCompiled).
// The Pulumi program is compiled too, file by file (no bundle), into dist/program/ (index.ts,
// components/, src/ keep their places), which program.js runs (Pulumi.yaml `main:`) through
// load-module.js: no TypeScript transform at every `pulumi up` and no source-mapped stack traces
// (the SDK takes several per resource). File by file because each dynamic provider's serialized
// text loads its own module by its path in the program (src/providers/self-loader.ts), in the
// provider process, which must not load the whole program.
// Usage: node scripts/build.js [--out DIR] (default dist/; tests build into a temporary folder).
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const outArg = process.argv.indexOf("--out");
const outDir = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, "dist");

// Bundled: what `haforge validate` loads. Every other dependency stays external.
const BUNDLED = new Set(["zod", "yaml", "js-yaml", "commander", "picocolors"]);

function build() {
  let esbuild;
  try {
    esbuild = require("esbuild");
  } catch {
    console.error("haforge: esbuild is not installed: the CLI will run from its sources");
    return 0;
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) => !BUNDLED.has(d));
  const outfile = path.join(outDir, "cli", "main.js");
  fs.rmSync(path.join(outDir), { recursive: true, force: true });
  const result = esbuild.buildSync({
    entryPoints: [path.join(root, "src", "cli", "main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    mainFields: ["module", "main"],
    external: deps.flatMap((d) => [d, `${d}/*`]),
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    logLevel: "warning",
  });
  if (result.errors.length) return 1;
  if (buildProgram(esbuild) !== 0) return 1;
  // The code cache: written by bin/haforge.js when the bundle runs without one.
  const example = path.join(root, "inventories", "openstack-pacemaker.yaml");
  if (outDir === path.join(root, "dist") && fs.existsSync(example)) {
    const r = spawnSync(process.execPath, [path.join(root, "bin", "haforge.js"), "validate", example], {
      env: { ...process.env, HAFORGE_FROM_SOURCE: "0", HAFORGE_COMPILE_CACHE: "1" },
      encoding: "utf8",
    });
    if (r.status !== 0) {
      console.error(`haforge: the built CLI failed on ${example}:\n${r.stdout}${r.stderr}`);
      return 1;
    }
  }
  return 0;
}

/** Every TypeScript module of the program: index.ts, components/, src/ (no declarations). */
function programSources() {
  const out = [path.join(root, "index.ts")];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
    }
  };
  walk(path.join(root, "components"));
  walk(path.join(root, "src"));
  return out;
}

function buildProgram(esbuild) {
  const result = esbuild.buildSync({
    entryPoints: programSources(),
    outdir: path.join(outDir, "program"),
    outbase: root,
    bundle: false,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "warning",
  });
  return result.errors.length ? 1 : 0;
}

process.exit(build());
