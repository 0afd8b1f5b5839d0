/**
 * The e2e harness, parent side: `applyProgram` runs one `pulumi up` equivalent of index.ts (in a
 * child process, see run-program.ts) against the lab and returns what it did; `labInventory`
 * writes the lab inventory with the running lab's real host keys and key path.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { RunSummary } from "./engine";
import type { Job } from "./run-program";

export type { RunSummary, Operation } from "./engine";

const ROOT = path.join(__dirname, "..", "..", "..");

/**
 * How long an e2e suite waits for another lab (another checkout, another CI job) to release the
 * bridge before it fails (lab/claim.ts): `HAFORGE_LAB_WAIT_S`, default 15 minutes.
 */
export const LAB_WAIT_MS = Number(process.env["HAFORGE_LAB_WAIT_S"] ?? 900) * 1000;

export interface ApplyOptions {
  readonly inventory: string;
  /** The emulated Pulumi state (JSON), kept between applies. */
  readonly stateFile: string;
  /** Values of the inventory's `secret:` references, by name (`haforge:<name>` config). */
  readonly secrets: Record<string, string>;
  /** Extra plain config, e.g. `haforge:force`. */
  readonly config?: Record<string, string>;
  /** Bound on the whole apply. @default 480 s */
  readonly timeoutMs?: number;
  /** Bound on one remote command. @default 300 s */
  readonly commandTimeoutMs?: number;
  /** Harness log lines (one per operation). @default stderr when HAFORGE_E2E_VERBOSE is set */
  readonly log?: (line: string) => void;
}

export interface ApplyResult extends RunSummary {
  /** The child's exit code (0 also when the apply failed: `ok` says that). */
  readonly exitCode: number | null;
  readonly stderr: string;
}

export async function applyProgram(o: ApplyOptions): Promise<ApplyResult> {
  const dir = path.dirname(o.stateFile);
  const jobFile = path.join(dir, `job-${process.pid}-${Date.now()}.json`);
  const summaryFile = `${jobFile}.summary`;
  const config: Record<string, string> = { "haforge:inventory": o.inventory, ...(o.config ?? {}) };
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(o.secrets)) {
    const key = k.includes(":") ? k : `haforge:${k}`;
    config[key] = v;
    secretKeys.push(key);
  }
  const job: Job = { stateFile: o.stateFile, summaryFile, config, secretKeys, commandTimeoutMs: o.commandTimeoutMs ?? 300_000 };
  fs.writeFileSync(jobFile, JSON.stringify(job), { mode: 0o600 });
  const log = o.log ?? (process.env["HAFORGE_E2E_VERBOSE"] ? (l: string) => process.stderr.write(`${l}\n`) : () => {});
  try {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "run-program.ts"), jobFile], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PULUMI_CONFIG_PASSPHRASE: "" },
    });
    let stderr = "";
    let partial = "";
    child.stdout.on("data", () => {});
    child.stderr.on("data", (d: Buffer) => {
      const s = d.toString();
      stderr += s;
      partial += s;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) log(l);
    });
    const timeoutMs = o.timeoutMs ?? 480_000;
    const exitCode = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        stderr += `\napply timed out after ${timeoutMs} ms: killing the harness (pid ${child.pid})\n`;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    if (!fs.existsSync(summaryFile)) {
      return {
        ok: false,
        errors: [`harness exited ${exitCode} without a summary:\n${stderr.slice(-4000)}`],
        operations: [],
        writes: 0,
        commandRuns: 0,
        sshConnections: 0,
        registered: 0,
        wallMs: 0,
        exitCode,
        stderr,
      };
    }
    const summary = JSON.parse(fs.readFileSync(summaryFile, "utf8")) as RunSummary;
    return { ...summary, exitCode, stderr };
  } finally {
    fs.rmSync(jobFile, { force: true });
    fs.rmSync(summaryFile, { force: true });
  }
}

/** Short human description of a failed apply, for assertion messages. */
export function describeFailure(r: ApplyResult): string {
  return `apply failed:\n${r.errors.map((e) => `  - ${e.slice(0, 2500)}`).join("\n")}\n--- harness log tail ---\n${r.stderr.slice(-3000)}`;
}

export { labInventory } from "../../../lab/inventory";
