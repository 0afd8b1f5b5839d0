/**
 * The Pulumi SDK as the program uses it, from the SDK's own modules instead of its package index.
 * `require("@pulumi/pulumi")` (index.js) also loads the Automation API (with npm's arborist and
 * pacote) and the closure serializer (with the TypeScript compiler): ~580 modules and ~0.7 s of
 * CPU at every program start (measured alone at load ≈2: 970 ms for the index, 330 ms for
 * resource.js), none of which a program run uses; the language host that runs the program
 * (`@pulumi/pulumi/cmd/run`) does not load them either. These are the very objects the index
 * re-exports (one module instance each), so `Output.isInstance`, resources and config behave as
 * through `@pulumi/pulumi`. Modules write `import * as pulumi from "./pulumi-sdk"` and read as
 * before; tests/program/compiled.test.ts fails when a program run loads the index.
 */
export * from "@pulumi/pulumi/config";
export * from "@pulumi/pulumi/errors";
export * from "@pulumi/pulumi/metadata";
export * from "@pulumi/pulumi/output";
export * from "@pulumi/pulumi/resource";
export * as log from "@pulumi/pulumi/log";
/** `pulumi.runtime.unknownValue`: what an unknown input holds during preview. */
export { unknownValue } from "@pulumi/pulumi/runtime/rpc";
