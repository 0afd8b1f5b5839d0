/**
 * The Pulumi SDK wraps every promise of every resource input in `debuggablePromise`, which stores
 * `new Error().stack` on it for its leak report (@pulumi/pulumi/runtime/debuggable.js): four per
 * input property (value, known, secret, dependencies) while the resource is constructed. Under a
 * TypeScript loader every such stack is formatted through source maps, and each string lives as
 * long as the resource's Outputs. For a RemoteFile (16 inputs) that was ~64 formatted stacks:
 * most of the program's time and memory per resource at 1,000 hosts (bench/program.ts).
 *
 * `cheapConstruction` constructs resources with `Error.stackTraceLimit = 0`, so those leak-report
 * stacks are one line; the limit is restored right after. The SDK's own source position of the
 * resource is unaffected (Resource.stackTrace raises the limit itself), and so is every error
 * thrown later (applies, provider calls) or outside the constructor.
 */
export function cheapConstruction<T>(construct: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return construct();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
