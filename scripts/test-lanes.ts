/**
 * `npm test`: every suite, in two lanes that run side by side (README "Tests", docs/lab.md "CI").
 *
 * A lane runs its stages one after another; the lanes run at the same time. The first stage that
 * fails stops everything: no further stage starts, the running ones get SIGTERM (their whole
 * process group) and SIGKILL after a grace period, and the command exits 1 naming that stage.
 * Each stage writes to a log file of its own; a stage's log is printed whole when the stage ends
 * (never interleaved with the other lane's), and a table of stage times closes the run.
 *
 * The layout keeps the lab's rules (docs/lab.md "CI"): everything that boots the e2e lab stays in
 * one lane (one lab per bridge), and the system suite, which never leaves its own namespaces,
 * runs beside it. keepalived's system test runs first: its track script `pidof haproxy` sees
 * every process of the machine, the lab hosts' HAProxy included, so it must not overlap the lab.
 *
 * `node --import tsx scripts/test-lanes.ts [layout.json]`: a JSON file `[[{name, command}, ...], ...]`
 * replaces the layout (tests/unit/test-lanes.test.ts).
 */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Stage {
  readonly name: string;
  /** Run by `sh -c` from the repository's root, in a process group of its own. */
  readonly command: string;
}
export type Lane = readonly Stage[];

export interface StageResult {
  readonly lane: number;
  readonly name: string;
  readonly status: "pass" | "fail" | "stopped" | "not run";
  readonly seconds?: number;
  readonly code?: number | null;
  readonly signal?: string | null;
}

export interface RunOptions {
  readonly logDir: string;
  readonly cwd: string;
  readonly out: (text: string) => void;
  /** After SIGTERM, how long a stopped stage gets before SIGKILL. */
  readonly graceMs: number;
}

const NODE_TEST = "node --import tsx --test --test-reporter=spec --test-concurrency=1";

/** The system test files in the order the CI lane runs them: keepalived first, then the rest. */
export function systemFiles(root: string): { first: string[]; rest: string[] } {
  const all = readdirSync(join(root, "tests/system"))
    .filter((f) => f.endsWith(".test.ts"))
    .sort()
    .map((f) => `tests/system/${f}`);
  const first: string[] = all.filter((f) => f === "tests/system/keepalived.test.ts");
  return { first, rest: all.filter((f) => !first.includes(f)) };
}

/** The CI layout: lane 1 ends with the lab (e2e), lane 2 is engine and system. */
export function defaultLayout(root: string): Lane[] {
  const sys = systemFiles(root);
  return [
    [
      { name: "format", command: "npm run -s format:check" },
      { name: "typecheck", command: "npm run -s typecheck" },
      { name: "lint", command: "npm run -s lint" },
      { name: "unit", command: "npm run -s test:unit" },
      { name: "providers", command: "npm run -s test:providers" },
      { name: "program", command: "npm run -s test:program" },
      { name: "e2e", command: "npm run -s test:e2e" },
    ],
    [
      { name: "system:keepalived", command: `${NODE_TEST} ${sys.first.join(" ")}` },
      { name: "engine", command: "npm run -s test:engine" },
      { name: "system", command: `${NODE_TEST} ${sys.rest.join(" ")}` },
    ],
  ];
}

const secs = (ms: number) => Math.round(ms / 100) / 10;

export async function runLanes(
  lanes: readonly Lane[],
  o: RunOptions,
): Promise<{ ok: boolean; firstFailure?: string; results: StageResult[] }> {
  const results: StageResult[] = [];
  const running = new Map<string, { pid: number; done: Promise<void> }>();
  let firstFailure: string | undefined;
  const t0 = Date.now();
  const stamp = () =>
    `[${secs(Date.now() - t0)
      .toFixed(1)
      .padStart(7)} s]`;

  const printLog = (lane: number, s: Stage, verdict: string) => {
    let text: string;
    try {
      text = readFileSync(join(o.logDir, `${s.name.replace(/[^\w.-]/g, "_")}.log`), "utf8");
    } catch {
      text = "(no log)\n";
    }
    o.out(
      `\n===== lane ${lane} ${s.name}: ${verdict} — log follows =====\n${text}${text.endsWith("\n") ? "" : "\n"}===== end of ${s.name} =====\n`,
    );
  };

  const stopAll = async () => {
    const waits = [...running.values()].map(async ({ pid, done }) => {
      signalGroup(pid, "SIGTERM");
      const timer = new Promise<"late">((r) => setTimeout(() => r("late"), o.graceMs).unref());
      if ((await Promise.race([done.then(() => "done" as const), timer])) === "late") signalGroup(pid, "SIGKILL");
      await done;
    });
    await Promise.all(waits);
  };

  const runStage = (lane: number, s: Stage): Promise<StageResult> => {
    const log = openSync(join(o.logDir, `${s.name.replace(/[^\w.-]/g, "_")}.log`), "w");
    const start = Date.now();
    o.out(`${stamp()} lane ${lane}: ${s.name} starts: ${s.command}\n`);
    const child = spawn("sh", ["-c", s.command], { cwd: o.cwd, detached: true, stdio: ["ignore", log, log], env: stageEnv() });
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    const result = new Promise<StageResult>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        closeSync(log);
        running.delete(s.name);
        settle();
        const seconds = secs(Date.now() - start);
        const status = firstFailure !== undefined && code !== 0 ? "stopped" : code === 0 ? "pass" : "fail";
        resolve({ lane, name: s.name, status, seconds, code, signal });
      };
      child.once("error", () => finish(127, null));
      child.once("exit", finish);
    });
    if (child.pid !== undefined) running.set(s.name, { pid: child.pid, done });
    return result;
  };

  const runLane = async (lane: number, stages: Lane) => {
    for (const s of stages) {
      if (firstFailure !== undefined) {
        results.push({ lane, name: s.name, status: "not run" });
        continue;
      }
      const r = await runStage(lane, s);
      results.push(r);
      const how = r.signal ? `signal ${r.signal}` : `rc ${r.code}`;
      o.out(
        `${stamp()} lane ${lane}: ${s.name} ${r.status === "pass" ? "passed" : r.status === "fail" ? `FAILED (${how})` : `stopped (${how})`} in ${r.seconds} s\n`,
      );
      printLog(lane, s, r.status === "pass" ? `passed in ${r.seconds} s` : `${r.status.toUpperCase()} (${how}) after ${r.seconds} s`);
      if (r.status === "fail" && firstFailure === undefined) {
        firstFailure = s.name;
        o.out(`${stamp()} first failure: ${s.name} (lane ${lane}); stopping the other lane\n`);
        await stopAll();
      }
    }
  };

  // Cancelled from outside (CI timeout, Ctrl-C): the stages are in process groups of their own,
  // so they are stopped here, not left running.
  const onSignal = (sig: NodeJS.Signals) => {
    firstFailure ??= `(${sig} to the runner)`;
    o.out(`${stamp()} ${sig}: stopping every stage\n`);
    void stopAll().then(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  await Promise.all(lanes.map((l, i) => runLane(i + 1, l)));
  process.removeListener("SIGINT", onSignal).removeListener("SIGTERM", onSignal);

  const order = lanes.flatMap((l, i) => l.map((s) => `${i + 1}/${s.name}`));
  results.sort((a, b) => order.indexOf(`${a.lane}/${a.name}`) - order.indexOf(`${b.lane}/${b.name}`));
  o.out(`\n===== stages (logs in ${o.logDir}) =====\n`);
  for (const r of results)
    o.out(`lane ${r.lane}  ${r.name.padEnd(18)} ${r.status.padEnd(8)} ${r.seconds === undefined ? "" : `${r.seconds} s`}\n`);
  const ok = firstFailure === undefined && results.every((r) => r.status === "pass");
  o.out(
    ok
      ? `all ${results.length} stages passed in ${secs(Date.now() - t0)} s\n`
      : `FAILED: first failure in stage ${firstFailure ?? "?"} (${secs(Date.now() - t0)} s)\n`,
  );
  return { ok, firstFailure, results };
}

/**
 * A stage is a test run of its own: node's test runner marks its children with NODE_TEST_CONTEXT,
 * and a `node --test` that inherits it skips its files, so the mark is not passed on.
 */
function stageEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env["NODE_TEST_CONTEXT"];
  return env;
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
}

async function main(): Promise<void> {
  const root = join(__dirname, "..");
  const layoutFile = process.argv[2];
  const lanes = layoutFile ? (JSON.parse(readFileSync(layoutFile, "utf8")) as Lane[]) : defaultLayout(root);
  const logDir = mkdtempSync(join(tmpdir(), "haforge-test-"));
  const r = await runLanes(lanes, { logDir, cwd: root, out: (t) => process.stdout.write(t), graceMs: 30_000 });
  process.exitCode = r.ok ? 0 : 1;
}

if (require.main === module) void main();
