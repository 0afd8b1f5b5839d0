#!/usr/bin/env node
// Runs the TypeScript CLI in place through tsx, so `npx haforge` works right after `npm ci`
// with no build step.
"use strict";
require("tsx/cjs");
require("../src/cli/main.ts").main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`haforge: internal error: ${err && err.message ? err.message : err}`); process.exitCode = 3; },
);
