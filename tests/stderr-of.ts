/**
 * Captures what a provider prints through console.error (its stderr, which the engine shows as
 * info diagnostics) while `fn` runs.
 */
export async function stderrOf<T>(fn: () => Promise<T>): Promise<{ result: T; stderr: string }> {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  try {
    return { result: await fn(), stderr: lines.join("\n") };
  } finally {
    console.error = orig;
  }
}
