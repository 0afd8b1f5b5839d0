#!/usr/bin/env node
// The haforge CLI. Runs the JavaScript compiled into dist/ by `npm run build` (which `npm ci` and
// `npm install` run as the `prepare` script): no TypeScript transpiling at every start. When
// dist/ is missing or older than any file under src/ (a checkout being edited, or an install
// with --ignore-scripts), it runs the sources through tsx instead, so it is never stale.
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

let entry = compiled;
if (!compiledIsFresh()) {
  require("tsx/cjs");
  entry = path.join(root, "src", "cli", "main.ts");
}

require(entry)
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(`haforge: internal error: ${err && err.message ? err.message : err}`);
      process.exitCode = 3;
    },
  );
