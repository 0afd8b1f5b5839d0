/**
 * The engine stand-in's API (see engine.ts for the engine behaviours it reproduces):
 *
 *   const op = { cwd: cloneDir, env: { ...process.env, HOME: homeA }, stack: "lab", checkpointFile };
 *   await preview({ ...op, config, secretKeys });   // program runs, Check/Diff only, nothing written
 *   await up({ ...op, config, secretKeys });        // program runs, steps applied, checkpoint written
 *   await refresh(op);                              // no program: Read with the stored state
 *   await destroy(op);                              // no program: Delete with the stored state
 *   renameStack(checkpointFile, "lab", "lab2");     // like `pulumi stack rename`
 *   cancel(op);                                     // like `pulumi cancel`: removes the stack's locks
 *
 * Every operation starts its own `@pulumi/pulumi/cmd/dynamic-provider` process (plain node,
 * cwd = the project dir, the given env) and talks to it over gRPC. `up`/`preview` run the
 * program in a child process (`node --import tsx`, cwd = the project dir, the given env). Each
 * returns { ok, errors, steps: [{ op, urn, type, oldUrn?, error? }], rpcs, wallMs } (plus the
 * program's outputs and its registrations for up/preview); failures are in `errors`, never thrown.
 * up, refresh and destroy lock the stack as the diy backend does (stack-lock.ts): a second one
 * while the first runs is refused with the backend's message, and nothing of it runs.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as engine from "./engine";
import type { ProgramJob, ProgramResult } from "./program-host";
import { ProviderProcess } from "./provider-process";
import { cancelStack, stackLocks, withStackLock } from "./stack-lock";

export type { Checkpoint, Diagnostic, ResourceState, RunResult, StepRecord } from "./engine";
export type { ProgramResult } from "./program-host";
export { readCheckpoint, renameStack, unwrap, isSecret } from "./engine";
export { ProviderProcess } from "./provider-process";
export { stackLockDir, stackLocks } from "./stack-lock";

/** A URN's resource name: what follows its last "::". */
export const urnName = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);
/** A run's steps other than Same, as sorted "op name" lines. */
export const changedSteps = (r: { readonly steps: readonly { op: string; urn: string }[] }): string[] =>
  r.steps
    .filter((s) => s.op !== "same")
    .map((s) => `${s.op} ${urnName(s.urn)}`)
    .sort();

export interface OperationOptions {
  /** The project directory (a checkout with node_modules): cwd of the program and provider. */
  readonly cwd: string;
  /** The operator's environment (HOME, SSH_AUTH_SOCK, ...). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly stack: string;
  /** @default "haforge" */
  readonly project?: string;
  readonly checkpointFile: string;
  /** Engine and provider log lines. @default none (HAFORGE_ENGINE_VERBOSE=1: stderr) */
  readonly log?: (line: string) => void;
}

export interface ProgramOptions extends OperationOptions {
  /** Program module relative to cwd. @default "index.ts" */
  readonly program?: string;
  /** Stack config, `ns:key` → value. */
  readonly config?: Record<string, string>;
  /** Which config keys are secrets. */
  readonly secretKeys?: readonly string[];
  /** @default 600 s */
  readonly timeoutMs?: number;
  /**
   * Told the running operation once its program host started: its pid, and `kill()`, a SIGKILL of
   * the program host and of every provider process it started (an operator's `kill -9` of
   * `pulumi up` and its plugins). The operation then returns a failure; the checkpoint holds the
   * steps done so far and the stack's lock stays until `cancel`.
   */
  readonly onStarted?: (run: RunningOperation) => void;
}

export interface RunningOperation {
  readonly pid: number;
  kill(): void;
}

/** SIGKILL by recorded pid (one that already ended is skipped). */
function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone already
  }
}

const defaultLog = (): ((l: string) => void) => (process.env["HAFORGE_ENGINE_VERBOSE"] ? (l) => process.stderr.write(`${l}\n`) : () => {});

async function runProgram(o: ProgramOptions, preview: boolean): Promise<ProgramResult> {
  const dir = fs.mkdtempSync(join(tmpdir(), "haforge-engine-job-"));
  const job: ProgramJob = {
    cwd: o.cwd,
    program: o.program ?? "index.ts",
    stack: o.stack,
    project: o.project ?? "haforge",
    checkpointFile: o.checkpointFile,
    resultFile: join(dir, "result.json"),
    preview,
    config: o.config ?? {},
    secretKeys: [...(o.secretKeys ?? [])],
    pidFile: join(dir, "provider-pids"),
  };
  const jobFile = join(dir, "job.json");
  fs.writeFileSync(jobFile, JSON.stringify(job), { mode: 0o600 });
  const log = o.log ?? defaultLog();
  try {
    const env = { ...(o.env ?? process.env) };
    delete env["NODE_OPTIONS"];
    // The language host runs TypeScript programs through a TypeScript loader; here tsx.
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "program-host.ts"), jobFile], {
      cwd: o.cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    o.onStarted?.({
      pid: child.pid!,
      kill: () => {
        killPid(child.pid!);
        const pids = fs.existsSync(job.pidFile!) ? fs.readFileSync(job.pidFile!, "utf8").split("\n").filter(Boolean) : [];
        for (const p of pids) killPid(Number(p));
      },
    });
    let stderr = "";
    let partial = "";
    child.stdout.on("data", () => {});
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) log(l);
    });
    const timeoutMs = o.timeoutMs ?? 600_000;
    const code = await new Promise<number | null>((res) => {
      const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("exit", (c) => {
        clearTimeout(t);
        res(c);
      });
    });
    if (!fs.existsSync(job.resultFile)) {
      return {
        ok: false,
        errors: [`program host exited ${code} without a result:\n${stderr.slice(-4000)}`],
        steps: [],
        rpcs: {},
        wallMs: 0,
        diagnostics: [],
        outputs: {},
        registrations: [],
      };
    }
    return JSON.parse(fs.readFileSync(job.resultFile, "utf8")) as ProgramResult;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `pulumi preview`: runs the program; Check and Diff only; the checkpoint is not written. */
export const preview = (o: ProgramOptions): Promise<ProgramResult> => runProgram(o, true);
/** `pulumi up`: runs the program and applies its steps; writes the checkpoint. */
export const up = (o: ProgramOptions): Promise<ProgramResult> => runProgram(o, false);

const stateOp = (o: OperationOptions): engine.StateOpOptions => ({
  checkpointFile: o.checkpointFile,
  stack: o.stack,
  provider: () => ProviderProcess.start({ cwd: o.cwd, env: o.env ?? process.env }),
  log: o.log ?? defaultLog(),
});

/** A refused operation's result: the lock's message, no step. */
const refused = (message: string): engine.RunResult => ({ ok: false, errors: [message], steps: [], rpcs: {}, wallMs: 0, diagnostics: [] });

/** Runs a state operation under the stack's lock (refused, not thrown, when another holds it). */
async function locked<T extends engine.RunResult>(o: OperationOptions, f: () => Promise<T>): Promise<T | engine.RunResult> {
  try {
    return await withStackLock(o, f);
  } catch (e) {
    if ((e as Error).name === "StackLockedError") return refused((e as Error).message);
    throw e;
  }
}

/** `pulumi refresh`: Read of every resource with the `__provider` stored in state. */
export const refresh = (o: OperationOptions): Promise<engine.RunResult> => locked(o, () => engine.refresh(stateOp(o)));
/** `pulumi destroy`: the program is not run; Delete with the stored state. */
export const destroy = (o: OperationOptions): Promise<engine.RunResult> => locked(o, () => engine.destroy(stateOp(o)));
/** `pulumi cancel` (diy backend): removes every lock of the stack, e.g. one left by a killed `up`; returns how many. */
export const cancel = (o: OperationOptions): number => cancelStack(o);
/** The stack's lock files held now. */
export const locksOf = (o: OperationOptions): string[] => stackLocks(o);

/** A custom resource as a program would register it (top level, no dependencies). */
export interface Registration {
  /** e.g. `pulumi-nodejs:dynamic:Resource` */
  readonly type: string;
  readonly name: string;
  /** Inputs including `__provider` (secrets wrapped as the SDK sends them). */
  readonly inputs: Record<string, unknown>;
}

/**
 * `pulumi up` of a program that registers exactly `resources`, one after the other, without
 * running a program: the same steps (Check, Diff, Same/Create/Update/Replace, deletes of what is
 * no longer registered), the same provider process and checkpoint. Returns each resource's
 * outputs as the engine would answer the program.
 */
export async function upResources(
  o: OperationOptions & { readonly resources: readonly Registration[] },
): Promise<engine.RunResult & { readonly outputs: Record<string, Record<string, unknown>> }> {
  const r = await locked(o, () => upResourcesLocked(o));
  return "outputs" in r ? r : { ...r, outputs: {} };
}

async function upResourcesLocked(
  o: OperationOptions & { readonly resources: readonly Registration[] },
): Promise<engine.RunResult & { readonly outputs: Record<string, Record<string, unknown>> }> {
  const d = new engine.Deployment({
    stack: o.stack,
    project: o.project ?? "haforge",
    checkpointFile: o.checkpointFile,
    preview: false,
    provider: () => ProviderProcess.start({ cwd: o.cwd, env: o.env ?? process.env }),
    log: o.log ?? defaultLog(),
  });
  const outputs: Record<string, Record<string, unknown>> = {};
  for (const r of o.resources) {
    try {
      const got = await d.register({ ...r, parent: "", custom: true, dependencies: [], aliases: [], additionalSecretOutputs: [] });
      outputs[r.name] = engine.unwrap(got.outputs) as Record<string, unknown>;
    } catch {
      // recorded in the deployment's errors
    }
  }
  return { ...(await d.finish()), outputs };
}
