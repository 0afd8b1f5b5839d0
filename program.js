// The Pulumi program's entry point (Pulumi.yaml `main: program.js`): the program compiled,
// dist/program/index.js, when that build is fresh, else index.ts through tsx (load-module.js).
// Compiled, `pulumi up` transforms no TypeScript and formats no source-mapped stack traces (the
// SDK takes several per resource), as Pulumi runs a JavaScript program (`typescript: false`).
// This file sits in the project directory on purpose: Pulumi runs a program with the directory
// of `main` as its working directory, and the dynamic providers' serialized texts and the stack
// config's paths are relative to the project directory.
"use strict";
module.exports = require("./load-module.js").loadModule("index");
