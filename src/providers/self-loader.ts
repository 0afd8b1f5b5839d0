/**
 * How a dynamic provider's methods reach their module inside the provider process.
 *
 * Pulumi serializes a dynamic provider's methods with its closure serializer and runs them in a
 * separate plain-node process (no TypeScript loader). So the methods must not capture module
 * objects: they call the loader made here, which captures two strings only (the module's path
 * and tsx's CommonJS hook, "" when tsx is absent) and `require()`s the module at call time.
 * tests/providers/serialization.test.ts runs every provider through that serializer.
 * https://www.pulumi.com/docs/iac/concepts/resources/dynamic-providers/
 */

/** tsx's CommonJS hook, resolved here: the serialized loader gets the path, not the resolver. */
function resolveTsxCjs(): string {
  try {
    return require.resolve("tsx/cjs");
  } catch {
    return "";
  }
}

/**
 * A loader for the module at `modulePath` (pass the provider module's `__filename`). When that
 * module is a .ts file and no TypeScript loader is registered, tsx's hook is registered first.
 */
export function selfLoader<T>(modulePath: string): () => T {
  // Captured by value into the serialized provider: plain strings only.
  const path: string = modulePath;
  const tsxCjs: string = resolveTsxCjs();
  return function loadImpl(): T {
    if (path.endsWith(".ts") && !require.extensions[".ts"] && tsxCjs) require(tsxCjs);
    return require(path) as T;
  };
}
