// Loads a module of haforge's Pulumi program by its path without extension, relative to this
// package's root ("index", "src/providers/remote-file"): compiled, dist/program/<path>.js
// (scripts/build.js; `npm ci` and `npm install` build it as the `prepare` script), when that
// build is at least as new as every source of the program (index.ts, components/, src/), else
// the source, <path>.ts, through tsx, so a checkout being edited never runs stale code.
// HAFORGE_FROM_SOURCE=1 forces the sources.
//
// program.js (the Pulumi program) loads `index` through it, and so does every dynamic provider's
// serialized text for its module (src/providers/self-loader.ts providerText): the program and the
// dynamic-provider process take the same build, and the text stored in state names no build: it
// is the same whether the program ran compiled or from its sources, so switching between the two
// is no change to any resource. The decision is taken once per process.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const compiledRoot = path.join(__dirname, "dist", "program");

/** The newest modification time in a tree (directories count: a deleted file changes its directory's). */
function newestMtimeMs(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of fs.readdirSync(p)) newest = Math.max(newest, newestMtimeMs(path.join(p, entry)));
  return newest;
}

function compiledIsFresh() {
  if (process.env.HAFORGE_FROM_SOURCE === "1") return false;
  let built;
  try {
    built = fs.statSync(path.join(compiledRoot, "index.js")).mtimeMs;
  } catch {
    return false;
  }
  try {
    return ["index.ts", "components", "src"].every((p) => newestMtimeMs(path.join(__dirname, p)) <= built);
  } catch {
    return true; // an installed package without its sources
  }
}

let compiled;
/** Whether this process runs the compiled program. */
function useCompiled() {
  if (compiled === undefined) compiled = compiledIsFresh();
  return compiled;
}

function loadModule(rel) {
  if (useCompiled()) return require(path.join(compiledRoot, `${rel}.js`));
  if (!require.extensions[".ts"]) require("tsx/cjs");
  return require(path.join(__dirname, `${rel}.ts`));
}

module.exports = { loadModule, useCompiled };
