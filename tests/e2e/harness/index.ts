/**
 * The e2e harness, parent side. `applyProgram` is one `pulumi up` of index.ts and `destroyStack`
 * one `pulumi destroy`, both through the engine stand-in of tests/engine: the program runs in its
 * own process (cwd = the operator's checkout, the operator's environment), every custom resource
 * goes to the SDK's own dynamic-provider process over gRPC, the state is a checkpoint file kept
 * between runs, a Same step keeps the old outputs, and delete/refresh use the `__provider` the
 * state holds (see tests/engine/engine.ts for the engine behaviours it reproduces). Nothing of
 * haforge's providers runs in this process. The result is the stand-in's step log, read per
 * resource (`operations`) with what the checkpoint says about each (kind, host, path, stdout).
 * `labInventory` writes the lab inventory with the running lab's real host keys.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as engine from "../../engine";

export { cloneTo, makeHome } from "../../engine/operator";

const ROOT = path.join(__dirname, "..", "..", "..");

/**
 * How long an e2e suite waits for another lab (another checkout, another CI job) to release the
 * bridge before it fails (lab/claim.ts): `HAFORGE_LAB_WAIT_S`, default 15 minutes.
 */
export const LAB_WAIT_MS = Number(process.env["HAFORGE_LAB_WAIT_S"] ?? 900) * 1000;

/** What a resource is, from the provider module its `__provider` text loads (robust to input shapes). */
export type Kind = "file" | "materials" | "guard" | "packages" | "command" | "other";

type Obj = Record<string, unknown>;

export function kindOf(inputs: Obj): Kind {
  const p = typeof inputs["__provider"] === "string" ? inputs["__provider"] : "";
  if (p.includes("providers/remote-file")) return "file";
  if (p.includes("providers/host-action")) return "command";
  if (p.includes("providers/materials")) return "materials";
  if (p.includes("providers/membership-guard")) return "guard";
  if (p.includes("providers/host-packages")) return "packages";
  return "other";
}

/** A property by name at the top level or one object level down (flat or packed inputs). */
export function field(o: Obj | undefined, key: string): unknown {
  if (!o) return undefined;
  if (key in o) return o[key];
  for (const v of Object.values(o)) if (v && typeof v === "object" && !Array.isArray(v) && key in (v as Obj)) return (v as Obj)[key];
  return undefined;
}

/** A string property (flat or packed), "" when absent or not a string. */
export function textField(o: Obj | undefined, key: string): string {
  const v = field(o, key);
  return typeof v === "string" ? v : "";
}

/** One resource of the checkpoint, secrets unwrapped. */
export interface Resource {
  readonly urn: string;
  readonly name: string;
  readonly type: string;
  readonly kind: Kind;
  readonly inputs: Obj;
  readonly outputs: Obj;
  readonly dependencies: readonly string[];
  /** Files and commands: the inventory host the resource acts on. */
  readonly host?: string;
  /** Files: the path on the host. */
  readonly path?: string;
}

const nameOf = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);

function resourceOf(r: engine.ResourceState): Resource {
  const inputs = engine.unwrap(r.inputs) as Obj;
  const outputs = engine.unwrap(r.outputs) as Obj;
  const kind = kindOf(inputs);
  const conn = (field(inputs, "connection") ?? field(outputs, "connection")) as Obj | undefined;
  const host = typeof conn?.["host"] === "string" ? conn["host"] : typeof inputs["host"] === "string" ? inputs["host"] : undefined;
  const p = kind === "file" ? (field(inputs, "path") ?? field(outputs, "path")) : undefined;
  return {
    urn: r.urn,
    name: nameOf(r.urn),
    type: r.type,
    kind,
    inputs,
    outputs,
    dependencies: r.dependencies,
    ...(host ? { host } : {}),
    ...(typeof p === "string" ? { path: p } : {}),
  };
}

/** The checkpoint's resources by name (the stand-in's state, secrets unwrapped). */
export function stateResources(checkpointFile: string): Map<string, Resource> {
  const c = engine.readCheckpoint(checkpointFile, "");
  return new Map(c.resources.map((r) => [nameOf(r.urn), resourceOf(r)]));
}

/** One step of a run, as the e2e reads it. */
export interface Operation {
  readonly name: string;
  readonly urn: string;
  readonly kind: Kind;
  readonly op: engine.StepRecord["op"] | "failed";
  /** Files: the host path; commands: "create" when the create command ran, "delete" when the delete did, else "no-op". */
  readonly detail?: string;
  readonly host?: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Commands that ran: the tail of their stdout. */
  readonly stdout?: string;
  readonly error?: string;
}

export interface RunSummary {
  readonly ok: boolean;
  readonly errors: string[];
  readonly operations: Operation[];
  /** File steps other than Same (create, update, replace, delete) that succeeded. */
  readonly writes: number;
  /** Command executions on hosts: creates, updates that re-ran `create`, deletes with a `delete` command, and those that failed on the host. */
  readonly commandRuns: number;
  /** Registrations the program made (0 for destroy). */
  readonly registered: number;
  /** Provider RPCs by method: a run that never asked the provider anything never reached a host. */
  readonly rpcs: Record<string, number>;
  readonly wallMs: number;
  /** Everything the program, the stand-in and the provider process printed. */
  readonly stderr: string;
}

export type ApplyResult = RunSummary;

function summarize(
  r: engine.RunResult,
  before: Map<string, Resource>,
  after: Map<string, Resource>,
  registered: number,
  lines: string[],
  extraErrors: string[] = [],
): RunSummary {
  const byUrn = (m: Map<string, Resource>) => new Map([...m.values()].map((x) => [x.urn, x]));
  const b = byUrn(before);
  const a = byUrn(after);
  let writes = 0;
  let commandRuns = 0;
  const operations = r.steps.map((s): Operation => {
    // what the resource is now (created, updated), or was (deleted, failed)
    const res = (s.op === "delete" ? (b.get(s.urn) ?? a.get(s.urn)) : (a.get(s.urn) ?? b.get(s.urn) ?? b.get(s.oldUrn ?? ""))) ?? undefined;
    const kind = res?.kind ?? "other";
    let detail: string | undefined = res?.path;
    let stdout: string | undefined;
    // A failed step wrote nothing; a command that failed in create/update/delete did run. Steps
    // refused before the provider ran anything: Check failures and the steps the stand-in stops
    // issuing after a failure (tests/engine/engine.ts).
    const notRun = !!s.error && /^(check failed|an earlier step failed)/.test(s.error);
    if (kind === "file" && s.op !== "same" && !s.error) writes++;
    if (kind === "command" && s.op !== "same") {
      const create = textField(res?.inputs, "create").trim();
      const del = textField(res?.inputs, "delete").trim();
      const ran =
        s.op === "delete"
          ? del !== ""
          : s.error
            ? !notRun
            : s.op === "create" || s.op === "replace"
              ? create !== ""
              : field(res?.outputs, "ran") === "create" && create !== "";
      if (ran) commandRuns++;
      detail = ran ? (s.op === "delete" ? "delete" : "create") : "no-op";
      if (ran && s.op !== "delete" && !s.error) stdout = textField(res?.outputs, "stdout");
    }
    return {
      name: nameOf(s.urn),
      urn: s.urn,
      kind,
      op: s.error ? "failed" : s.op,
      startMs: s.startMs,
      endMs: s.endMs,
      ...(detail ? { detail } : {}),
      ...(res?.host ? { host: res.host } : {}),
      ...(stdout !== undefined ? { stdout } : {}),
      ...(s.error ? { error: s.error } : {}),
    };
  });
  const errors = [...r.errors, ...extraErrors];
  return {
    ok: r.ok && !extraErrors.length,
    errors,
    operations,
    writes,
    commandRuns,
    registered,
    rpcs: r.rpcs,
    wallMs: r.wallMs,
    // What the CLI prints besides the steps: the log lines, and the program's diagnostics
    // (pulumi.log: the stand-in takes them in the program host since c3e790d, so they no longer
    // reach its stderr; the inventory's findings are among them).
    stderr: [...lines, ...r.diagnostics.filter((d) => d.from === "program").map((d) => `${d.severity}: ${d.message}`)].join("\n"),
  };
}

/** Who runs Pulumi: their checkout and their environment (HOME: their key, their known_hosts). */
export interface Operator {
  /** The project directory (a checkout with node_modules). @default this checkout */
  readonly cwd?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ApplyOptions extends Operator {
  readonly inventory: string;
  /** The stand-in's checkpoint (JSON), kept between applies. */
  readonly stateFile: string;
  /** @default "lab" */
  readonly stack?: string;
  /** Values of the inventory's `secret:` references, by name (`haforge:<name>` config). */
  readonly secrets: Record<string, string>;
  /** Extra plain config, e.g. `haforge:force`. */
  readonly config?: Record<string, string>;
  /** Bound on the whole apply. @default 480 s */
  readonly timeoutMs?: number;
  /** Log lines of the program, the stand-in and the provider. @default stderr when HAFORGE_E2E_VERBOSE is set */
  readonly log?: (line: string) => void;
  /** Told the running apply's program host pid and `kill()` (SIGKILL of it and its provider processes). */
  readonly onStarted?: (run: engine.RunningOperation) => void;
}

const defaultLog = () => (process.env["HAFORGE_E2E_VERBOSE"] ? (l: string) => process.stderr.write(`${l}\n`) : () => {});

function envOf(o: Operator): NodeJS.ProcessEnv {
  return { ...(o.env ?? process.env), PULUMI_CONFIG_PASSPHRASE: "" };
}

export async function applyProgram(o: ApplyOptions): Promise<ApplyResult> {
  const config: Record<string, string> = { "haforge:inventory": o.inventory, ...(o.config ?? {}) };
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(o.secrets)) {
    const key = k.includes(":") ? k : `haforge:${k}`;
    config[key] = v;
    secretKeys.push(key);
  }
  const lines: string[] = [];
  const log = o.log ?? defaultLog();
  const before = stateResources(o.stateFile);
  const r = await engine.up({
    cwd: o.cwd ?? ROOT,
    env: envOf(o),
    stack: o.stack ?? "lab",
    checkpointFile: o.stateFile,
    config,
    secretKeys,
    timeoutMs: o.timeoutMs ?? 480_000,
    ...(o.onStarted ? { onStarted: o.onStarted } : {}),
    log: (l) => {
      lines.push(l);
      log(l);
    },
  });
  return summarize(r, before, stateResources(o.stateFile), r.registrations.length, lines);
}

export interface DestroyOptions extends Operator {
  readonly stateFile: string;
  /** @default "lab" */
  readonly stack?: string;
  readonly log?: (line: string) => void;
}

/** `pulumi destroy`: the program does not run; every resource is deleted with its stored state. */
export async function destroyStack(o: DestroyOptions): Promise<RunSummary> {
  const lines: string[] = [];
  const log = o.log ?? defaultLog();
  const before = stateResources(o.stateFile);
  const r = await engine.destroy({
    cwd: o.cwd ?? ROOT,
    env: envOf(o),
    stack: o.stack ?? "lab",
    checkpointFile: o.stateFile,
    log: (l) => {
      lines.push(l);
      log(l);
    },
  });
  return summarize(r, before, stateResources(o.stateFile), 0, lines);
}

/** `pulumi cancel`: removes the stack's locks (one left by a killed apply); returns how many. */
export const cancelStack = (o: { readonly stateFile: string; readonly stack?: string }): number =>
  engine.cancel({ cwd: ROOT, stack: o.stack ?? "lab", checkpointFile: o.stateFile });

/** `pulumi stack rename` with the checkpoint moved to `to` (the backend keeps one file per stack). */
export function renameStack(fromFile: string, toFile: string, from: string, to: string): void {
  engine.renameStack(fromFile, from, to);
  fs.renameSync(fromFile, toFile);
}

/** Short human description of a failed run, for assertion messages. */
export function describeFailure(r: RunSummary): string {
  return `run failed:\n${r.errors.map((e) => `  - ${e.slice(0, 2500)}`).join("\n")}\n--- log tail ---\n${r.stderr.slice(-3000)}`;
}

export { labInventory } from "../../../lab/inventory";
