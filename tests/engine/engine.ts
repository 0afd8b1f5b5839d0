/**
 * An engine stand-in: the steps `pulumi preview/up/refresh/destroy/stack rename` take for custom
 * resources whose provider is the SDK's dynamic-provider process (provider-process.ts), with the
 * real engine's semantics as read in pulumi/pulumi `pkg/resource/deploy/step_generator.go`,
 * `step.go`, `step_executor.go`, `pkg/resource/plugin/provider_plugin.go`, `pkg/resource/edit`
 * and `sdk/nodejs/cmd/dynamic-provider/index.ts`:
 *
 *  1. State is a checkpoint (JSON) written after every step and read at the start of the next
 *     run; a resource keeps `inputs` and `outputs` (both with the `__provider` text), its id, its
 *     parent and its dependencies.
 *  2. A registration is matched to its old state by URN, else by one of its alias URNs (then the
 *     old URN is not deleted). Check, Diff, Create and Update get the `__provider` of the NEW
 *     program's inputs (Diff: `olds` = old outputs, `news` = checked new inputs, plus old inputs).
 *  3. Diff none → Same step: the new state is the new inputs with the OLD outputs (old
 *     `__provider`, old connection…) — as SameStep does. Diff some → Update (or Replace when
 *     `replaces` is not empty: create the new one first, delete the old one at the end, unless
 *     deleteBeforeReplace). Diff unknown → the engine's own input comparison decides.
 *  4. Read (refresh) and Delete get the state's outputs, so the `__provider` STORED in state: a
 *     provider text that cannot load on this machine fails them.
 *  5. Resources no longer registered are deleted after the program finished, dependents before
 *     their dependencies, independent ones in parallel; nothing is deleted when a step failed.
 *  6. Check and Diff run one at a time (the step generator is serial; PULUMI_PARALLEL_DIFF is not
 *     modelled); Create/Update/Delete of independent resources run in parallel (the SDK only
 *     registers a resource once its dependencies' registrations returned, which orders them).
 *  7. Preview: Check and Diff are real, Create/Update/Delete are not called (the dynamic provider
 *     does not support preview, so provider_plugin.go returns the inputs as outputs): the
 *     program sees output-only properties as unknown. Nothing is written to the checkpoint.
 *  8. The dynamic provider answers Configure with acceptSecrets=false: the engine sends values
 *     with their secret markers removed and marks outputs secret again where the input was secret
 *     or the property is in additionalSecretOutputs (annotateSecrets in provider_plugin.go).
 *  9. `destroy` does not run the program: it deletes every resource of the checkpoint with its
 *     stored state. `stack rename` rewrites the stack part of every URN in the checkpoint.
 * 10. Refresh reads every custom resource (in parallel): an empty id drops it from the state,
 *     returned properties replace the outputs, returned inputs replace the inputs.
 * 11. `up`, `refresh` and `destroy` hold the diy backend's stack lock for the whole operation
 *     (stack-lock.ts; preview does not): a second one meanwhile is refused, a killed one leaves
 *     its lock until `cancel`. An old resource stays in every checkpoint until the step that
 *     replaces it is done, so a kill mid-step keeps its old state (the engine's pending
 *     operations are not recorded: an interrupted create is created again, an interrupted update
 *     or delete runs again, as the engine does after warning about them).
 * Not modelled: protect, ignoreChanges, replaceOnChanges, import, providers other than the
 * dynamic one (component resources are recorded without a provider), PULUMI_PARALLEL_DIFF,
 * --target, continue-on-error.
 */
import * as fs from "node:fs";
import { isDeepStrictEqual } from "node:util";
import type { ProviderProcess } from "./provider-process";

export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const DYNAMIC_TYPE = "pulumi-nodejs:dynamic:Resource";
/**
 * A dynamic resource may name its own type (`pulumi-nodejs:dynamic:HostAction`): the engine
 * routes every `pulumi-nodejs:*` type to the same default provider, the dynamic-provider process.
 */
export const isDynamicType = (type: string): boolean => type.startsWith("pulumi-nodejs:dynamic:");

type Obj = Record<string, unknown>;

export interface ResourceState {
  readonly urn: string;
  readonly type: string;
  readonly custom: boolean;
  readonly id: string;
  readonly parent: string;
  /** Inputs as registered (secrets wrapped `{ [SIG_KEY]: SECRET_SIG, value }`). */
  readonly inputs: Obj;
  readonly outputs: Obj;
  readonly dependencies: string[];
  readonly additionalSecretOutputs?: string[];
}

export interface Checkpoint {
  readonly stack: string;
  readonly project: string;
  readonly resources: ResourceState[];
}

export type StepOp = "create" | "update" | "same" | "replace" | "delete" | "refresh" | "refresh-gone";

export interface StepRecord {
  readonly op: StepOp;
  readonly urn: string;
  readonly type: string;
  /** The matched old URN when it differs (an alias). */
  readonly oldUrn?: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly error?: string;
}

export interface RunResult {
  readonly ok: boolean;
  readonly errors: string[];
  readonly steps: StepRecord[];
  /** Provider RPC counts by method (check, diff, create, ...). */
  readonly rpcs: Record<string, number>;
  readonly wallMs: number;
  /**
   * What the CLI shows the user besides the steps: the program's log messages (pulumi.log, the
   * engine's Log service) and every non-empty line the provider process printed on stderr — the
   * engine forwards a plugin's stderr line by line as an info diagnostic on the error stream
   * (pulumi pkg/resource/plugin/plugin.go, runtrace: Diag.Infoerrf); the SDK's dynamic provider
   * (3.248) has no connection to the engine's Log service, so its notes reach the user only so.
   */
  readonly diagnostics: Diagnostic[];
}

export interface Diagnostic {
  readonly from: "program" | "provider";
  readonly severity: "debug" | "info" | "warning" | "error";
  readonly message: string;
}

/** The provider's stderr as the engine shows it: one info diagnostic per non-empty line. */
export const providerDiagnostics = (stderr: string): Diagnostic[] =>
  stderr
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((message) => ({ from: "provider", severity: "info", message }));

export interface RegisterRequest {
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly custom: boolean;
  /** Inputs as the SDK sent them (secrets wrapped, unknowns as the sentinel string). */
  readonly inputs: Obj;
  readonly dependencies: readonly string[];
  /** Aliases as the SDK sent them (URNs or specs); the engine expands them (aliasUrns). */
  readonly aliases: readonly AliasSpec[];
  readonly additionalSecretOutputs: readonly string[];
  readonly deleteBeforeReplace?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Values

export const isSecret = (v: unknown): v is { value: unknown } => !!v && typeof v === "object" && (v as Obj)[SIG_KEY] === SECRET_SIG;
export const secret = (value: unknown): Obj => ({ [SIG_KEY]: SECRET_SIG, value });

/** Removes every secret marker (what the engine sends to a provider that does not accept secrets). */
export function unwrap(v: unknown): unknown {
  if (isSecret(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

const containsSecret = (v: unknown): boolean =>
  isSecret(v) || (Array.isArray(v) ? v.some(containsSecret) : !!v && typeof v === "object" && Object.values(v as Obj).some(containsSecret));

/** annotateSecrets: outputs are secret where the corresponding input was, plus additionalSecretOutputs. */
export function annotate(outputs: Obj, like: Obj, additional: readonly string[] = []): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(outputs))
    out[k] = (containsSecret(like[k]) || additional.includes(k)) && !isSecret(v) ? secret(v) : v;
  return out;
}

/** pulumirpc.Alias: a URN, or a spec whose empty fields default to the resource's own. */
export interface AliasSpec {
  readonly urn?: string;
  readonly name?: string;
  readonly type?: string;
  readonly stack?: string;
  readonly project?: string;
  readonly parentUrn?: string;
  readonly noParent?: boolean;
}

/** Reads the SDK's pulumirpc.Alias messages. */
export function aliasesFromProto(list: readonly any[]): AliasSpec[] {
  return list.map((a) => {
    if (a.getUrn()) return { urn: a.getUrn() as string };
    const s = a.getSpec();
    if (!s) return {};
    const o: Record<string, unknown> = {};
    if (s.getName()) o["name"] = s.getName();
    if (s.getType()) o["type"] = s.getType();
    if (s.getStack()) o["stack"] = s.getStack();
    if (s.getProject()) o["project"] = s.getProject();
    if (s.getParenturn()) o["parentUrn"] = s.getParenturn();
    if (s.getNoparent()) o["noParent"] = true;
    return o;
  });
}

const nameOfUrn = (urn: string): string => urn.split("::").slice(3).join("::");

/**
 * The alias URNs of a registration, as step_generator.go's generateAliases computes them: each
 * alias collapsed to a URN (collapseAliasToUrn), then — when the parent itself was matched to an
 * old URN through an alias — the inherited child aliases: the old parent's type chain, and the
 * child's name with the parent's name prefix replaced by the old parent's name
 * (inheritedChildAlias).
 */
export function aliasUrns(
  stack: string,
  project: string,
  req: { readonly type: string; readonly name: string; readonly parent: string; readonly aliases: readonly AliasSpec[] },
  parentMatchedFrom?: string,
): string[] {
  const collapse = (a: AliasSpec): string =>
    a.urn ??
    urnOf(a.stack ?? stack, a.project ?? project, a.noParent ? "" : (a.parentUrn ?? req.parent), a.type ?? req.type, a.name ?? req.name);
  const out = new Set(req.aliases.map(collapse));
  if (req.parent && parentMatchedFrom) {
    const parentName = nameOfUrn(req.parent);
    const inherit = (type: string, name: string) =>
      urnOf(
        stack,
        project,
        parentMatchedFrom,
        type,
        name.startsWith(parentName) ? nameOfUrn(parentMatchedFrom) + name.slice(parentName.length) : name,
      );
    out.add(inherit(req.type, req.name));
    for (const a of req.aliases) {
      const u = collapse(a);
      out.add(inherit(u.split("::")[2]!.split("$").pop()!, nameOfUrn(u)));
    }
  }
  return [...out];
}

export function urnOf(stack: string, project: string, parent: string, type: string, name: string): string {
  const parentTypes = parent ? `${parent.split("::")[2]}$` : "";
  return `urn:pulumi:${stack}::${project}::${parentTypes}${type}::${name}`;
}

export function readCheckpoint(file: string, stack: string, project = "haforge"): Checkpoint {
  if (!fs.existsSync(file)) return { stack, project, resources: [] };
  return JSON.parse(fs.readFileSync(file, "utf8")) as Checkpoint;
}

export function writeCheckpoint(file: string, c: Checkpoint): void {
  // Holds secrets in the clear (the real backend encrypts them): owner-only, replaced atomically.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(c, null, 1), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/** A mutex: the step generator's serial Check/Diff. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const next = this.tail.then(f, f);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

// ---------------------------------------------------------------------------------------------
// preview / up

export interface DeploymentOptions {
  readonly stack: string;
  readonly project?: string;
  readonly checkpointFile: string;
  readonly preview: boolean;
  /** The dynamic-provider process for this run (started lazily, once). */
  readonly provider: () => Promise<ProviderProcess>;
  readonly log?: (line: string) => void;
}

/** One `pulumi up` (or preview): feed it registrations, then `finish()`. */
export class Deployment {
  readonly steps: StepRecord[] = [];
  readonly errors: string[] = [];
  private readonly old: Checkpoint;
  private readonly oldByUrn: Map<string, ResourceState>;
  /** Old URNs matched by a registration (directly or through an alias). */
  private readonly taken = new Set<string>();
  /** New URN → the old URN it was matched to through an alias (the engine's sg.aliases). */
  private readonly matchedFrom = new Map<string, string>();
  /** Old URNs whose step is done (their new state is in `news`) or that were deleted. */
  private readonly settled = new Set<string>();
  /** Old resources replaced create-before-delete: deleted at the end. */
  private readonly pendingDeletes: ResourceState[] = [];
  private readonly news = new Map<string, ResourceState>();
  private readonly serial = new Serial();
  private readonly t0 = Date.now();
  private providerP: Promise<ProviderProcess> | undefined;
  inFlight = 0;
  registered = 0;

  constructor(private readonly o: DeploymentOptions) {
    this.old = readCheckpoint(o.checkpointFile, o.stack, o.project);
    this.oldByUrn = new Map(this.old.resources.map((r) => [r.urn, r]));
  }

  get project(): string {
    return this.o.project ?? "haforge";
  }

  provider(): Promise<ProviderProcess> {
    return (this.providerP ??= this.o.provider());
  }

  private rel(): number {
    return Date.now() - this.t0;
  }

  private record(step: Omit<StepRecord, "endMs">): void {
    const s = { ...step, endMs: this.rel() };
    this.steps.push(s);
    if (s.op !== "same")
      this.o.log?.(`${this.o.preview ? "[preview] " : ""}${s.op}${s.error ? " FAILED" : ""} ${s.urn}${s.error ? `: ${s.error}` : ""}`);
  }

  private checkpoint(): void {
    if (this.o.preview) return;
    const resources = [...this.news.values()];
    // An old resource stays until the step that replaces it is done: one whose step is still
    // running (or waits for its Check/Diff) keeps its old state in every checkpoint written
    // meanwhile, as the engine's snapshot does, so a kill mid-step loses nothing.
    for (const r of this.old.resources) if (!this.settled.has(r.urn) || this.pendingDeletes.includes(r)) resources.push(r);
    writeCheckpoint(this.o.checkpointFile, { stack: this.o.stack, project: this.project, resources });
  }

  /** RegisterResource: returns what the engine answers the SDK (URN, id, outputs). */
  async register(req: RegisterRequest): Promise<{ urn: string; id: string; outputs: Obj }> {
    this.registered++;
    this.inFlight++;
    const urn = urnOf(this.o.stack, this.project, req.parent, req.type, req.name);
    const aliases = aliasUrns(this.o.stack, this.project, req, this.matchedFrom.get(req.parent));
    const old = this.oldByUrn.get(urn) ?? aliases.map((a) => this.oldByUrn.get(a)).find((r) => r !== undefined && !this.taken.has(r.urn));
    if (old) this.taken.add(old.urn);
    if (old && old.urn !== urn) this.matchedFrom.set(urn, old.urn);
    const startMs = this.rel();
    const base = { urn, type: req.type, ...(old && old.urn !== urn ? { oldUrn: old.urn } : {}) };
    try {
      if (this.errors.length) throw new Error("an earlier step failed: the deployment stops issuing steps");
      const common = {
        urn,
        type: req.type,
        custom: req.custom,
        parent: req.parent,
        dependencies: [...req.dependencies],
        ...(req.additionalSecretOutputs.length ? { additionalSecretOutputs: [...req.additionalSecretOutputs] } : {}),
      };
      if (!req.custom) {
        const st: ResourceState = { ...common, id: "", inputs: req.inputs, outputs: old?.outputs ?? {} };
        this.news.set(urn, st);
        if (old) this.settled.add(old.urn);
        this.record({ ...base, op: old ? "same" : "create", startMs });
        this.checkpoint();
        return { urn, id: "", outputs: {} };
      }
      if (!isDynamicType(req.type)) throw new Error(`the stand-in only drives dynamic resources, not ${req.type}`);
      const prov = await this.provider();
      const aso = req.additionalSecretOutputs;
      // Step generation: Check then Diff, serially.
      const decided = await this.serial.run(async () => {
        const checked = await prov.check(urn, unwrap(old?.inputs ?? {}) as Obj, unwrap(req.inputs) as Obj);
        if (checked.failures.length)
          throw new Error(`check failed: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
        const inputs = annotate(checked.inputs, req.inputs);
        if (!old) return { op: "create" as const, inputs };
        const d = await prov.diff(urn, old.id, unwrap(old.outputs) as Obj, checked.inputs, unwrap(old.inputs) as Obj);
        const changes = d.changes === "unknown" ? !isDeepStrictEqual(unwrap(old.inputs), checked.inputs) : d.changes === "some";
        if (!changes) return { op: "same" as const, inputs };
        if (d.replaces.length)
          return { op: "replace" as const, inputs, deleteBeforeReplace: d.deleteBeforeReplace || !!req.deleteBeforeReplace };
        return { op: "update" as const, inputs };
      });
      let st: ResourceState;
      if (decided.op === "same") {
        // SameStep: new inputs, OLD outputs.
        st = { ...common, id: old!.id, inputs: decided.inputs, outputs: old!.outputs };
      } else if (this.o.preview) {
        // provider_plugin.go: no preview support → the inputs come back as the outputs.
        st = { ...common, id: old?.id ?? "", inputs: decided.inputs, outputs: decided.inputs };
      } else if (decided.op === "update") {
        const outs = await prov.update(
          urn,
          old!.id,
          unwrap(old!.outputs) as Obj,
          unwrap(decided.inputs) as Obj,
          unwrap(old!.inputs) as Obj,
        );
        st = { ...common, id: old!.id, inputs: decided.inputs, outputs: annotate(outs, decided.inputs, aso) };
      } else {
        if (decided.op === "replace" && decided.deleteBeforeReplace) {
          await prov.delete(old!.urn, old!.id, unwrap(old!.outputs) as Obj, unwrap(old!.inputs) as Obj);
        } else if (decided.op === "replace") {
          this.pendingDeletes.push(old!);
        }
        const made = await prov.create(urn, unwrap(decided.inputs) as Obj);
        st = { ...common, id: made.id, inputs: decided.inputs, outputs: annotate(made.properties, decided.inputs, aso) };
      }
      this.news.set(urn, st);
      if (old) this.settled.add(old.urn);
      this.record({ ...base, op: decided.op, startMs });
      this.checkpoint();
      return { urn, id: st.id, outputs: st.outputs };
    } catch (e) {
      const msg = `${urn}: ${(e as Error).message}`;
      this.errors.push(msg);
      this.record({ ...base, op: old ? "update" : "create", startMs, error: (e as Error).message });
      // A failed step keeps the old state entry (the engine's checkpoint is unchanged for it).
      if (old) this.news.set(old.urn === urn ? urn : old.urn, old);
      if (old) this.settled.add(old.urn);
      throw e;
    } finally {
      this.inFlight--;
    }
  }

  /** After the program: delete what it no longer declares (and what was replaced); write the checkpoint. */
  async finish(programError?: string): Promise<RunResult> {
    if (programError) this.errors.push(programError);
    if (!this.errors.length) {
      const gone = [...this.old.resources.filter((r) => !this.taken.has(r.urn)), ...this.pendingDeletes];
      if (this.o.preview) {
        for (const r of gone) this.record({ op: "delete", urn: r.urn, type: r.type, startMs: this.rel() });
      } else {
        await deleteInOrder(
          gone,
          this.provider.bind(this),
          (r, startMs, error) => {
            this.record({ op: "delete", urn: r.urn, type: r.type, startMs, ...(error ? { error } : {}) });
            if (error) this.errors.push(`${r.urn}: delete: ${error}`);
            else {
              this.taken.add(r.urn);
              this.settled.add(r.urn);
              const i = this.pendingDeletes.indexOf(r);
              if (i >= 0) this.pendingDeletes.splice(i, 1);
            }
            this.checkpoint();
          },
          this.rel.bind(this),
        );
      }
    }
    this.checkpoint();
    const rpcs = this.providerP ? { ...(await this.providerP).calls } : {};
    if (this.providerP) await (await this.providerP).stop();
    const diagnostics = this.providerP ? providerDiagnostics((await this.providerP).stderr) : [];
    return { ok: this.errors.length === 0, errors: this.errors, steps: this.steps, rpcs, wallMs: this.rel(), diagnostics };
  }
}

/** Deletes dependents before their dependencies (and children before parents); independent ones in parallel. */
async function deleteInOrder(
  gone: readonly ResourceState[],
  provider: () => Promise<ProviderProcess>,
  done: (r: ResourceState, startMs: number, error?: string) => void,
  now: () => number,
): Promise<void> {
  const remaining = new Set(gone);
  while (remaining.size) {
    const blocked = (r: ResourceState) => [...remaining].some((o) => o !== r && (o.dependencies.includes(r.urn) || o.parent === r.urn));
    let wave = [...remaining].filter((r) => !blocked(r));
    if (!wave.length) wave = [remaining.values().next().value!]; // a cycle: should not happen
    await Promise.all(
      wave.map(async (r) => {
        remaining.delete(r);
        const startMs = now();
        try {
          if (r.custom) {
            const p = await provider();
            await p.delete(r.urn, r.id, unwrap(r.outputs) as Obj, unwrap(r.inputs) as Obj);
          }
          done(r, startMs);
        } catch (e) {
          done(r, startMs, (e as Error).message);
        }
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// refresh / destroy / stack rename (no program)

export interface StateOpOptions {
  readonly checkpointFile: string;
  readonly stack: string;
  readonly provider: () => Promise<ProviderProcess>;
  readonly log?: (line: string) => void;
}

async function withProvider<T>(
  o: StateOpOptions,
  f: (p: () => Promise<ProviderProcess>) => Promise<T>,
): Promise<{ value: T; rpcs: Record<string, number>; diagnostics: Diagnostic[] }> {
  let pp: Promise<ProviderProcess> | undefined;
  const get = () => (pp ??= o.provider());
  const stop = async () => {
    if (!pp) return { rpcs: {}, diagnostics: [] };
    const p = await pp;
    await p.stop();
    return { rpcs: { ...p.calls }, diagnostics: providerDiagnostics(p.stderr) };
  };
  let value: T;
  try {
    value = await f(get);
  } catch (e) {
    await stop();
    throw e;
  }
  return { value, ...(await stop()) };
}

/** `pulumi refresh`: Read every custom resource with its stored state (and stored `__provider`). */
export async function refresh(o: StateOpOptions): Promise<RunResult> {
  const t0 = Date.now();
  const c = readCheckpoint(o.checkpointFile, o.stack);
  const steps: StepRecord[] = [];
  const errors: string[] = [];
  const { rpcs, diagnostics } = await withProvider(o, async (provider) => {
    const next = await Promise.all(
      c.resources.map(async (r): Promise<ResourceState | undefined> => {
        if (!r.custom) return r;
        const startMs = Date.now() - t0;
        try {
          const p = await provider();
          const got = await p.read(r.urn, r.id, unwrap(r.outputs) as Obj, unwrap(r.inputs) as Obj);
          if (!got.id) {
            steps.push({ op: "refresh-gone", urn: r.urn, type: r.type, startMs, endMs: Date.now() - t0 });
            return undefined;
          }
          steps.push({ op: "refresh", urn: r.urn, type: r.type, startMs, endMs: Date.now() - t0 });
          return {
            ...r,
            id: got.id,
            outputs: annotate(got.properties, r.outputs, r.additionalSecretOutputs),
            ...(got.inputs ? { inputs: annotate(got.inputs, r.inputs) } : {}),
          };
        } catch (e) {
          errors.push(`${r.urn}: refresh: ${(e as Error).message}`);
          steps.push({ op: "refresh", urn: r.urn, type: r.type, startMs, endMs: Date.now() - t0, error: (e as Error).message });
          return r;
        }
      }),
    );
    // A failed refresh writes nothing.
    if (!errors.length) writeCheckpoint(o.checkpointFile, { ...c, resources: next.filter((r): r is ResourceState => r !== undefined) });
  });
  for (const s of steps) o.log?.(`${s.op}${s.error ? " FAILED" : ""} ${s.urn}${s.error ? `: ${s.error}` : ""}`);
  return { ok: !errors.length, errors, steps, rpcs, wallMs: Date.now() - t0, diagnostics };
}

/** `pulumi destroy`: the program is not run; every resource is deleted with its stored state. */
export async function destroy(o: StateOpOptions): Promise<RunResult> {
  const t0 = Date.now();
  const c = readCheckpoint(o.checkpointFile, o.stack);
  const steps: StepRecord[] = [];
  const errors: string[] = [];
  const left = new Set(c.resources);
  const { rpcs, diagnostics } = await withProvider(o, (provider) =>
    deleteInOrder(
      c.resources,
      provider,
      (r, startMs, error) => {
        steps.push({ op: "delete", urn: r.urn, type: r.type, startMs, endMs: Date.now() - t0, ...(error ? { error } : {}) });
        o.log?.(`delete${error ? " FAILED" : ""} ${r.urn}${error ? `: ${error}` : ""}`);
        if (error) errors.push(`${r.urn}: delete: ${error}`);
        else left.delete(r);
        writeCheckpoint(o.checkpointFile, { ...c, resources: c.resources.filter((x) => left.has(x)) });
      },
      () => Date.now() - t0,
    ),
  );
  return { ok: !errors.length, errors, steps, rpcs, wallMs: Date.now() - t0, diagnostics };
}

/** `pulumi stack rename`: every URN (and every reference to one) gets the new stack name. */
export function renameStack(checkpointFile: string, from: string, to: string): void {
  const c = readCheckpoint(checkpointFile, from);
  const re = (u: string) => (u.startsWith(`urn:pulumi:${from}::`) ? `urn:pulumi:${to}::${u.slice(`urn:pulumi:${from}::`.length)}` : u);
  writeCheckpoint(checkpointFile, {
    ...c,
    stack: to,
    resources: c.resources.map((r) => ({ ...r, urn: re(r.urn), parent: re(r.parent), dependencies: r.dependencies.map(re) })),
  });
}
