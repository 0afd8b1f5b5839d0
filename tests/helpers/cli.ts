/** Run the haforge CLI in-process (fast) or as a real process (exit codes, no stack traces). */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { main } from "../../src/cli/main";

export const ROOT = join(__dirname, "..", "..");

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(
    args,
    { out: (t) => (out += t.endsWith("\n") ? t : t + "\n"), err: (t) => (err += t.endsWith("\n") ? t : t + "\n") },
    env,
  );
  return { code, out, err };
}

export function runCliProcess(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "haforge.js"), ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
