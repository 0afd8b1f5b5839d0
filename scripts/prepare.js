#!/usr/bin/env node
// npm's `prepare` (run by `npm ci` and `npm install` in this checkout): build the CLI into dist/
// (scripts/build.js) so bin/haforge.js starts without transpiling. Without esbuild the build is
// skipped; the CLI then runs its sources through tsx (a dependency), just slower to start.
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const r = spawnSync(process.execPath, [path.join(__dirname, "build.js")], { stdio: "inherit" });
process.exit(r.status ?? 1);
