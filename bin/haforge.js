#!/usr/bin/env node
// The haforge CLI. Runs dist/cli/main.js, the CLI bundled into one file by `npm run build`
// (scripts/build.js; `npm ci` and `npm install` run it as the `prepare` script): no TypeScript
// transpiling and no module resolution at every start, and V8's code cache for it
// (dist/cli/main.js.cache) so the functions a command runs are not compiled again. When dist/ is
// missing or older than any file under src/ (a checkout being edited, or an install with
// --ignore-scripts), it runs the sources through tsx instead, so it is never stale.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const compiled = path.join(root, "dist", "cli", "main.js");

function newestMtimeMs(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    const t = entry.isDirectory() ? newestMtimeMs(p) : fs.statSync(p).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

function compiledIsFresh() {
  if (process.env.HAFORGE_FROM_SOURCE === "1") return false;
  let built;
  try {
    built = fs.statSync(compiled).mtimeMs;
  } catch {
    return false;
  }
  try {
    return newestMtimeMs(path.join(root, "src")) <= built;
  } catch {
    return true; // an installed package without its sources
  }
}

/**
 * Loads the bundle as CommonJS does, through a vm.Script given the code cache beside it. A cache
 * that is missing or that V8 rejects (another Node version, other V8 flags, a rebuilt bundle) is
 * written anew when the command has finished (best effort: a read-only install just starts
 * slower). HAFORGE_COMPILE_CACHE=0 turns the cache off.
 */
function loadCompiled(file) {
  const vm = require("node:vm");
  const Module = require("node:module");
  const useCache = process.env.HAFORGE_COMPILE_CACHE !== "0";
  const cacheFile = `${file}.cache`;
  const source = fs.readFileSync(file, "utf8");
  let cachedData;
  if (useCache) {
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  if (useCache && (cachedData === undefined || script.cachedDataRejected)) {
    process.once("exit", () => {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        try {
          fs.rmSync(tmp, { force: true });
        } catch {
          // nothing to clean up
        }
      }
    });
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  mod.require = Module.createRequire(file);
  script.runInThisContext().call(mod.exports, mod.exports, mod.require, mod, file, path.dirname(file));
  mod.loaded = true;
  return mod.exports;
}

let cli;
if (compiledIsFresh()) {
  cli = loadCompiled(compiled);
} else {
  require("tsx/cjs");
  cli = require(path.join(root, "src", "cli", "main.ts"));
}

cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`haforge: internal error: ${err && err.message ? err.message : err}`);
    process.exitCode = 3;
  },
);
