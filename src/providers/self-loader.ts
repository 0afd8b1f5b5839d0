/**
 * How a dynamic provider's methods reach their module inside the provider process.
 *
 * Pulumi serializes a dynamic provider's methods with its closure serializer, stores the text in
 * every resource's `__provider` input AND output, and runs it in a separate plain-node process:
 * the `pulumi-resource-pulumi-nodejs` plugin script runs `@pulumi/pulumi/cmd/dynamic-provider`
 * resolved from its working directory, which the engine sets to the project directory (the
 * directory the program itself runs in). Check/Diff/Create/Update load the text of the NEW
 * program, but Read (refresh) and Delete load the text stored in state — written by whichever
 * operator ran `up` last, on whichever machine.
 *
 * So the text must hold nothing machine-specific: it names haforge's load-module.js by its path
 * RELATIVE to the program's working directory (the project directory), resolved against the
 * provider process's own working directory at call time, and the provider's module by its path
 * in the program without extension; load-module.js takes the compiled module (dist/program/) or
 * the source through tsx, as the program itself does. No absolute path, no home directory, no
 * tsx location, no build.
 * tests/providers/serialization.test.ts runs every provider through that serializer, and
 * tests/engine drives the real provider process from two checkouts.
 * https://www.pulumi.com/docs/iac/concepts/resources/dynamic-providers/
 */
import { join, relative, sep } from "node:path";
import { PACKAGE_ROOT } from "../core/package-root";
import * as pulumi from "./pulumi-sdk";

/** `modulePath` relative to the project directory, with `/` separators. */
export function projectRelative(modulePath: string, projectDir: string = process.cwd()): string {
  return relative(projectDir, modulePath).split(sep).join("/");
}

/**
 * A loader for the module at `modulePath` (pass the provider module's `__filename`). When that
 * module is a .ts file and no TypeScript loader is registered, tsx's hook (resolved from the
 * project directory) is registered first.
 */
export function selfLoader<T>(modulePath: string): () => T {
  // Captured by value into the serialized provider: one relative path.
  const rel: string = projectRelative(modulePath);
  return function loadImpl(): T {
    const abs: string = (require("path") as typeof import("path")).resolve(rel);
    if (abs.endsWith(".ts") && !require.extensions[".ts"]) require(require.resolve("tsx/cjs", { paths: [process.cwd()] }));
    return require(abs) as T;
  };
}

/** The program's root: index.ts's directory, or dist/program/ when it runs compiled (this module is <root>/src/providers/). */
const PROGRAM_ROOT = join(__dirname, "..", "..");

/**
 * A module of the program by its path without extension relative to the program's root
 * (`src/providers/remote-file`): the same for the source (.ts) and the compiled module
 * (dist/program/...js), as load-module.js takes it.
 */
export function programModuleOf(modulePath: string): string {
  return relative(PROGRAM_ROOT, modulePath)
    .split(sep)
    .join("/")
    .replace(/\.(ts|js)$/, "");
}

/**
 * The `__provider` text of the provider exported as `exportName` by the module at `modulePath`
 * (its `__filename`): a CommonJS module whose `handler()` loads that module through haforge's
 * load-module.js (found relative to the project directory: the compiled module when the build is
 * fresh, else the source through tsx) and returns the export. The dynamic-provider process runs
 * exactly this (`require-from-string(text).handler()`, @pulumi/pulumi/cmd/dynamic-provider).
 * The text is the same whether the program runs compiled or from its sources.
 *
 * Written here instead of running the SDK's closure serializer over the provider object: that
 * text held every method in its own `with` wrapper (2.46 KB for RemoteFile), stored twice (inputs
 * and outputs) in every resource's state. This text is ~200 bytes.
 */
export function providerText(modulePath: string, exportName: string): string {
  const loader = JSON.stringify(projectRelative(join(PACKAGE_ROOT, "load-module.js")));
  return (
    `exports.handler = function () { return require(require("path").resolve(${loader}))` +
    `.loadModule(${JSON.stringify(programModuleOf(modulePath))})[${JSON.stringify(exportName)}]; };\n`
  );
}

/** The SDK's type token of dynamic resources: `pulumi-nodejs:dynamic:<type>`. */
const dynamicType = (type: string): string => `pulumi-nodejs:dynamic:${type}`;

/**
 * A dynamic resource (what `pulumi.dynamic.Resource` registers: the `pulumi-nodejs` provider, its
 * type token, the provider text in the `__provider` property) whose `__provider` is `text`
 * (`providerText`), not the SDK's serialization of a provider object.
 */
export abstract class SelfLoadedResource extends pulumi.CustomResource {
  protected constructor(
    text: string,
    name: string,
    props: pulumi.Inputs,
    opts: pulumi.CustomResourceOptions = {},
    type: string = "Resource",
  ) {
    if ("__provider" in props) throw new Error("A dynamic resource must not define the __provider key");
    super(dynamicType(type), name, { ...props, __provider: text }, opts);
  }
}

/** The engine passes the serialized provider as `__provider` in olds (state) and news (program). */
export function providerTextChanged(olds: object | undefined, news: object | undefined): boolean {
  const a = (olds as { __provider?: unknown } | undefined)?.__provider;
  const b = (news as { __provider?: unknown } | undefined)?.__provider;
  return typeof a === "string" && typeof b === "string" && a !== b;
}
