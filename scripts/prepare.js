#!/usr/bin/env node
// npm's `prepare` (run by `npm ci` and `npm install` in this checkout): compile the CLI to dist/
// so bin/haforge.js starts without transpiling. An install without devDependencies
// (--omit=dev) has no TypeScript compiler: skip the build; the CLI then runs its sources through
// tsx (a dependency), just slower to start.
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");

let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc");
} catch {
  console.error("haforge: TypeScript is not installed (--omit=dev?): the CLI will run from its sources");
  process.exit(0);
}
const r = spawnSync(process.execPath, [tsc, "-p", path.join(__dirname, "..", "tsconfig.build.json")], { stdio: "inherit" });
process.exit(r.status ?? 1);
