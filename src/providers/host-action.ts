/**
 * HostAction: a command run on a host over haforge's own SSH transport (restarts behind health
 * gates, host bootstrap, cluster membership with a deprovisioning `delete`). It replaces
 * `@pulumi/command`'s `remote.Command` and is built for a team sharing one stack:
 *
 * - Inputs hold nothing that depends on who runs Pulumi. The connection is the inventory's
 *   (address, port, user, the host key pinned by the inventory or a committed known_hosts, a
 *   `privateKeyPath` exactly as the inventory wrote it) and never key text. Credentials are
 *   resolved when connecting: an explicit `credentials` secret (the inventory's `secret:` keys,
 *   or one deploy key from stack config), the inventory's key path (`~` and relative paths are
 *   expanded then, in the provider process), else ssh-agent.
 * - Every connection, bastions included, verifies a pinned host key; `check` refuses one
 *   without (there is no trust-on-first-use or ignore-host-key path here).
 * - An update runs something on the host only when `triggers` changed, or when the command
 *   itself changed and `rerun` is "change" (cluster actions); restarts use "triggers". A changed
 *   connection, credential or timeout is an update that records the new inputs and runs nothing.
 *   Nothing is ever replaced (a replacement would run the old `delete`: a deprovision).
 * - An action with a `delete` (membership) cannot also have `triggers`.
 * - Every command runs under `timeout` on the host. stdout/stderr are secret outputs (the
 *   resource declares them so), only their tails are kept, and they are never logged; a failure
 *   names the host, the step and the exit code, with the stderr tail unless the action is secret.
 *
 * Same serialization discipline as RemoteFile: the provider's methods capture only the
 * self-loader and call module-level functions at run time.
 */
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import * as pulumi from "./pulumi-sdk";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { getDefaultPool, invalidateFileFacts, parsePublicKeyLine, type HostConnection, type SshPool } from "../transport";
import { providerText, providerTextChanged, SelfLoadedResource, selfLoader } from "./self-loader";
import { DELETE_ELSEWHERE_EXIT } from "../core/desired-state";

/** How to reach the host: plain, operator-independent data (stored in state as is). */
export interface ActionConnection {
  /** Inventory host name: used in every message and to look up `credentials`. */
  readonly host: string;
  readonly address: string;
  /** @default 22 */
  readonly port?: number;
  readonly user: string;
  /** Pinned host key line(s), `<type> <base64>`: required. */
  readonly hostKey: string | readonly string[];
  /** As written in the inventory (`~/...` or relative to the project): expanded when connecting. */
  readonly privateKeyPath?: string;
  /** Use `$SSH_AUTH_SOCK` (the default anyway when no other credential is given). */
  readonly agent?: boolean;
  readonly bastion?: ActionConnection;
}

export interface ActionCredential {
  readonly privateKey?: string;
  readonly passphrase?: string;
  readonly password?: string;
}

/** Secret credentials by inventory host name; `"*"` is the stack's deploy key for every other host. */
export type ActionCredentials = Readonly<Record<string, ActionCredential>>;

/** When an update runs the `create` command again. */
export type RerunPolicy = "triggers" | "change";

export interface HostActionInputs {
  readonly connection: ActionConnection;
  readonly credentials?: ActionCredentials;
  /** Run on create (and again on update, see `rerun`). */
  readonly create: string;
  /** Run on delete: deprovisioning. Not allowed together with `triggers`. */
  readonly delete?: string;
  /**
   * Where `delete` runs next, in order, when a host answers DELETE_ELSEWHERE_EXIT (not the place:
   * e.g. it leaves the cluster in the same change) or cannot be reached. None of them can: done.
   * Credentials for them are looked up in `credentials` by host name, as for `connection`.
   */
  readonly deleteElsewhere?: readonly ActionConnection[];
  /** Values whose change re-runs `create` (e.g. the hashes of the files a restart follows). */
  readonly triggers?: readonly unknown[];
  /** "triggers": only a trigger change re-runs `create` (restarts); "change": so does a changed `create`. @default "change" */
  readonly rerun?: RerunPolicy;
  /** Host-side bound on create/update, seconds. @default 600 */
  readonly timeoutSeconds?: number;
  /** Host-side bound on delete, seconds. @default 300 */
  readonly deleteTimeoutSeconds?: number;
  /** The commands carry secret material: failures show no output. @default false */
  readonly secret?: boolean;
  /** What the action does, for messages. */
  readonly description?: string;
}

export interface HostActionOutputs extends HostActionInputs {
  /** Tails of the last run's output (secret outputs). */
  readonly stdout: string;
  readonly stderr: string;
  /** What the last create/update ran: "create" or "none". */
  readonly ran: "create" | "none";
}

/**
 * The wire shape (what the program registers and state stores): few top-level properties, as
 * for RemoteFile (the SDK pays per property; docs/architecture.md, "The program's size"):
 * `connection`, `spec` (rerun, timeouts, secret flag, description: a plain object), `credentials`
 * (secret), `create` and `delete` (secret for a secret action), `triggers`, and one output,
 * `result` (stdout and stderr tails, what ran: secret). State written by an older haforge has
 * the flat shape (HostActionInputs/HostActionOutputs): every method accepts both, and Diff
 * reports an update for a flat one, which runs nothing (the triggers keep their values).
 */
export type HostActionSpec = Pick<HostActionInputs, "rerun" | "timeoutSeconds" | "deleteTimeoutSeconds" | "secret" | "description">;

export interface HostActionWireInputs {
  readonly connection: ActionConnection;
  readonly spec: HostActionSpec;
  readonly credentials?: ActionCredentials;
  readonly create: string;
  readonly delete?: string;
  readonly deleteElsewhere?: readonly ActionConnection[];
  readonly triggers?: readonly unknown[];
}

export interface HostActionWireOutputs extends HostActionWireInputs {
  readonly result: Pick<HostActionOutputs, "stdout" | "stderr" | "ran">;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The packed (current) shape: a `spec` object. */
export const isPackedHostAction = (raw: unknown): boolean => isRecord(raw) && isRecord(raw["spec"]);

/** Inputs or outputs in either shape (packed, or flat from an older state) as the flat model. */
export function hostActionOf<T extends HostActionInputs>(raw: unknown): T {
  if (!isPackedHostAction(raw)) return raw as T;
  const { spec, result, ...rest } = raw as Record<string, unknown>;
  return { ...rest, ...(spec as object), ...(isRecord(result) ? result : {}) } as unknown as T;
}

/** The flat model in the packed shape (outputs: with `result`). */
export function packHostAction(o: HostActionOutputs): HostActionWireOutputs;
export function packHostAction(o: HostActionInputs): HostActionWireInputs;
export function packHostAction(o: HostActionInputs | HostActionOutputs): HostActionWireInputs | HostActionWireOutputs {
  const {
    connection,
    credentials,
    create,
    delete: del,
    deleteElsewhere,
    triggers,
    rerun,
    timeoutSeconds,
    deleteTimeoutSeconds,
    secret,
    description,
    ...rest
  } = o as HostActionOutputs;
  const { stdout, stderr, ran, ...other } = rest;
  const spec = withoutNulls({ rerun, timeoutSeconds, deleteTimeoutSeconds, secret, description });
  return withoutNulls({
    ...other,
    connection,
    spec,
    credentials,
    create,
    delete: del,
    deleteElsewhere,
    triggers,
    ...(ran === undefined ? {} : { result: withoutNulls({ stdout, stderr, ran }) }),
  });
}

export const DEFAULT_TIMEOUT_SECONDS = 600;
export const DEFAULT_DELETE_TIMEOUT_SECONDS = 300;
/** Output kept in state per stream. */
export const OUTPUT_TAIL_BYTES = 4096;
const MAX_BASTION_DEPTH = 4;

export class HostActionError extends Error {
  override readonly name = "HostActionError";
  constructor(
    readonly host: string,
    readonly step: string,
    detail: string,
  ) {
    super(`${host}: ${step}: ${detail}`);
  }
}

const isUnknown = (v: unknown): boolean => v === pulumi.unknownValue;
const hasUnknown = (v: unknown): boolean =>
  isUnknown(v) || (Array.isArray(v) ? v.some(hasUnknown) : typeof v === "object" && v !== null && Object.values(v).some(hasUnknown));
const known = (v: unknown): boolean => v !== undefined && !hasUnknown(v);

/** The engine (and the SDK's mocks) may send an absent optional input as null: treat it as absent. */
export function withoutNulls<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as T;
}

const tailOf = (s: string, max = OUTPUT_TAIL_BYTES): string => (s.length > max ? `…${s.slice(-max)}` : s);

// ---------------------------------------------------------------------------------------------
// Connecting

/** `~/x` → this process's home; a relative path → against `cwd` (the project directory). */
export function expandKeyPath(p: string, cwd: string = process.cwd(), home: string = homedir()): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return home + p.slice(1);
  return isAbsolute(p) ? p : resolve(cwd, p);
}

/**
 * The transport connection, built when connecting: credentials from `credentials` (the host's
 * own, else the deploy key `"*"`), the key path expanded here, else the agent.
 */
export function transportConnection(c: ActionConnection, credentials?: ActionCredentials | null, cwd?: string, depth = 0): HostConnection {
  const own: ActionCredential = withoutNulls({ ...credentials?.["*"], ...credentials?.[c.host] });
  const usePath = own.privateKey === undefined && c.privateKeyPath !== undefined;
  return {
    host: c.host,
    address: c.address,
    port: c.port ?? 22,
    user: c.user,
    hostKey: typeof c.hostKey === "string" ? c.hostKey : [...c.hostKey],
    ...(own.privateKey !== undefined ? { privateKey: own.privateKey } : {}),
    ...(own.passphrase !== undefined ? { passphrase: own.passphrase } : {}),
    ...(own.password !== undefined ? { password: own.password } : {}),
    ...(usePath ? { privateKeyPath: expandKeyPath(c.privateKeyPath, cwd) } : {}),
    ...(c.agent ? { agent: true } : {}),
    ...(c.bastion && depth < MAX_BASTION_DEPTH ? { bastion: transportConnection(c.bastion, credentials, cwd, depth + 1) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Check

const CREDENTIAL_FIELDS = ["privateKey", "password", "passphrase", "knownHostsFile", "trustOnFirstUse"] as const;

function checkConnection(c: unknown, where: string, fail: (property: string, reason: string) => void, depth = 0): void {
  if (!known(c)) return;
  if (typeof c !== "object" || c === null) return fail("connection", `${where} must be an object`);
  const o = c as Record<string, unknown>;
  const name = typeof o["host"] === "string" && o["host"] ? JSON.stringify(o["host"]) : undefined;
  if (!name) fail("connection", `${where}.host is required (the inventory host name)`);
  if (typeof o["address"] !== "string" || !o["address"]) fail("connection", `${where}.address is required`);
  if (typeof o["user"] !== "string" || !o["user"]) fail("connection", `${where}.user is required`);
  const port = o["port"] ?? 22;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
    fail("connection", `${where}.port ${JSON.stringify(port)} is not a TCP port`);
  for (const k of CREDENTIAL_FIELDS) {
    if (o[k] !== undefined) {
      fail(
        "connection",
        k === "knownHostsFile" || k === "trustOnFirstUse"
          ? `${where}.${k} is not accepted: a host action pins its host key in connection.hostKey (from the inventory or a committed known_hosts)`
          : `${where}.${k} is not accepted: credentials are never part of the connection (use credentials, a key path or ssh-agent)`,
      );
    }
  }
  const hk = o["hostKey"];
  const lines = hk === undefined ? [] : typeof hk === "string" ? [hk] : Array.isArray(hk) ? hk : [hk];
  if (lines.length === 0 || lines.every((l) => typeof l === "string" && l.trim() === "")) {
    fail(
      "connection",
      `${where}: host ${name ?? "(unnamed)"} has no pinned host key: every host action verifies one (set hosts[].ssh.hostKey or a committed known_hosts); refusing to connect without it`,
    );
  }
  for (const line of lines) {
    if (typeof line !== "string") {
      fail("connection", `${where}.hostKey must be a string or a list of strings`);
      continue;
    }
    if (line.trim() === "") continue;
    try {
      parsePublicKeyLine(line);
    } catch (e) {
      fail("connection", `${where}.hostKey ${JSON.stringify(line.slice(0, 40))}…: ${(e as Error).message}`);
    }
  }
  if (o["bastion"] !== undefined) {
    if (depth >= MAX_BASTION_DEPTH) fail("connection", `${where}: bastion chain deeper than ${MAX_BASTION_DEPTH}`);
    else checkConnection(o["bastion"], `${where}.bastion`, fail, depth + 1);
  }
}

export async function checkHostAction(
  raw: HostActionInputs,
): Promise<{ readonly inputs: HostActionInputs; readonly failures?: dynamic.CheckFailure[] }> {
  const news = withoutNulls(raw);
  const failures: dynamic.CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  if (news.connection === undefined || news.connection === null) fail("connection", "connection is required");
  else checkConnection(news.connection, "connection", fail);
  if (news.create === undefined || news.create === null) fail("create", "create is required");
  else if (known(news.create) && typeof news.create !== "string") fail("create", "create must be a string");
  if (known(news.delete) && typeof news.delete !== "string") fail("delete", "delete must be a string");
  if (news.deleteElsewhere !== undefined && !isUnknown(news.deleteElsewhere)) {
    if (!Array.isArray(news.deleteElsewhere)) fail("deleteElsewhere", "deleteElsewhere must be a list of connections");
    else news.deleteElsewhere.forEach((c, i) => !hasUnknown(c) && checkConnection(c, `deleteElsewhere[${i}]`, fail));
  }
  if (news.triggers !== undefined && !isUnknown(news.triggers) && !Array.isArray(news.triggers))
    fail("triggers", "triggers must be a list");
  const hasDelete = typeof news.delete === "string" ? news.delete.trim() !== "" : isUnknown(news.delete);
  const hasTriggers = Array.isArray(news.triggers) ? news.triggers.length > 0 : isUnknown(news.triggers);
  if (hasDelete && hasTriggers) {
    fail(
      "triggers",
      "an action with a delete command cannot have triggers: a trigger change would re-run it, and a deprovisioning action must only ever run its delete when it is removed",
    );
  }
  if (news.rerun !== undefined && known(news.rerun) && news.rerun !== "triggers" && news.rerun !== "change")
    fail("rerun", `rerun must be "triggers" or "change"`);
  for (const k of ["timeoutSeconds", "deleteTimeoutSeconds"] as const) {
    const v = news[k];
    if (v !== undefined && known(v) && (!Number.isInteger(v) || v < 1 || v > 86_400))
      fail(k, `${k} must be a whole number of seconds between 1 and 86400`);
  }
  return failures.length > 0 ? { inputs: news, failures } : { inputs: news };
}

// ---------------------------------------------------------------------------------------------
// Diff

/** The host-facing meaning of an update from `olds` to `news`. */
export interface ActionPlan {
  /** Inputs differ at all (the update records them). */
  readonly changes: boolean;
  /** What the update runs on the host. */
  readonly runs: "create" | "none";
  /** Names of the inputs that differ (for previews and tests). */
  readonly changed: readonly string[];
}

const DIFFED_KEYS = [
  "connection",
  "credentials",
  "create",
  "delete",
  "deleteElsewhere",
  "triggers",
  "rerun",
  "timeoutSeconds",
  "deleteTimeoutSeconds",
  "secret",
  "description",
] as const;

const norm = (k: (typeof DIFFED_KEYS)[number], v: unknown): unknown => {
  if (k === "triggers") return v ?? [];
  if (k === "delete") return v === "" ? undefined : v;
  if (k === "rerun") return v ?? "change";
  if (k === "secret") return v ?? false;
  if (k === "credentials") return v && typeof v === "object" && Object.keys(v).length === 0 ? undefined : v;
  if (k === "deleteElsewhere") return Array.isArray(v) && v.length === 0 ? undefined : v;
  return v;
};

/**
 * Pure: what an update does. Unknown values (preview) count as changed only where they decide a
 * run: unknown triggers (a file that changes) mean "runs"; an unknown connection alone runs nothing
 * and is reported as no change (it is recorded by the update that `up` then sees).
 */
export function planHostAction(rawOlds: Partial<HostActionOutputs>, rawNews: HostActionInputs): ActionPlan {
  const olds = withoutNulls(rawOlds);
  const news = withoutNulls(rawNews);
  const changed: string[] = [];
  for (const k of DIFFED_KEYS) {
    const n = norm(k, news[k]);
    if (k === "connection" && hasUnknown(n)) continue;
    if (hasUnknown(n) || !isDeepStrictEqual(norm(k, olds[k]), n)) changed.push(k);
  }
  const rerun = news.rerun ?? "change";
  const runs = changed.includes("triggers") || (rerun === "change" && changed.includes("create")) ? "create" : "none";
  return { changes: changed.length > 0, runs, changed };
}

export interface HostActionDiffResult extends dynamic.DiffResult {
  readonly plan?: ActionPlan;
}

export async function diffHostAction(olds: HostActionOutputs, news: HostActionInputs): Promise<HostActionDiffResult> {
  const plan = planHostAction(olds, news);
  // Another serialized provider (an older haforge, another layout): report an update that runs
  // nothing, so state gets the new `__provider` (refresh and delete load the one in state).
  const providerChanged = providerTextChanged(olds, news);
  // Never a replacement: it would run the old resource's delete (a deprovision) after the create.
  return { changes: plan.changes || providerChanged, replaces: [], deleteBeforeReplace: false, plan };
}

// ---------------------------------------------------------------------------------------------
// Run

export interface RunOptions {
  readonly pool?: SshPool;
  /** Directory relative key paths are resolved against. @default process.cwd() (the project) */
  readonly cwd?: string;
}

async function run(
  i: HostActionInputs,
  which: "create" | "delete",
  script: string,
  opts: RunOptions,
  on: ActionConnection = i.connection,
  elsewhereExit?: number,
): Promise<{ stdout: string; stderr: string; elsewhere?: true }> {
  const pool = opts.pool ?? getDefaultPool();
  const conn = transportConnection(on, i.credentials, opts.cwd);
  const seconds =
    which === "delete" ? (i.deleteTimeoutSeconds ?? DEFAULT_DELETE_TIMEOUT_SECONDS) : (i.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS);
  const step = `${which}${i.description ? ` (${i.description})` : ""}`;
  // `timeoutMs` wraps the command in `timeout` on the host (and the client gives up 10 s later).
  // An action may change files on the host: the host's prefetched file facts are forgotten.
  const r = await pool.exec(conn, script, { step, timeoutMs: seconds * 1000 }).finally(() => invalidateFileFacts(conn));
  if (elsewhereExit !== undefined && r.code === elsewhereExit)
    return { stdout: tailOf(r.stdout), stderr: tailOf(r.stderr), elsewhere: true };
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${seconds} s (killed on the host)` : `exited ${r.code ?? `on signal ${r.signal}`}`;
    const out = i.secret
      ? "output withheld: the action is secret"
      : r.stderr.trim()
        ? `stderr:\n${tailOf(r.stderr.trim(), 2000)}`
        : "no stderr";
    throw new HostActionError(on.host, step, `${why}; ${out}`);
  }
  return { stdout: tailOf(r.stdout), stderr: tailOf(r.stderr) };
}

const outputsOf = (i: HostActionInputs, ran: "create" | "none", out: { stdout: string; stderr: string }): HostActionOutputs => ({
  ...i,
  stdout: out.stdout,
  stderr: out.stderr,
  ran,
});

export async function createHostAction(
  raw: HostActionInputs,
  opts: RunOptions = {},
): Promise<{ readonly id: string; readonly outs: HostActionOutputs }> {
  const inputs = withoutNulls(raw);
  const out = inputs.create.trim() === "" ? { stdout: "", stderr: "" } : await run(inputs, "create", inputs.create, opts);
  return { id: `${inputs.connection.host}:${Date.now().toString(36)}`, outs: outputsOf(inputs, "create", out) };
}

export async function updateHostAction(
  olds: HostActionOutputs,
  raw: HostActionInputs,
  opts: RunOptions = {},
): Promise<{ readonly outs: HostActionOutputs }> {
  const news = withoutNulls(raw);
  const plan = planHostAction(olds, news);
  if (plan.runs === "none" || news.create.trim() === "") {
    return { outs: outputsOf(news, "none", { stdout: olds.stdout ?? "", stderr: olds.stderr ?? "" }) };
  }
  return { outs: outputsOf(news, "create", await run(news, "create", news.create, opts)) };
}

/** Runs `delete` with the connection and command stored in state (the engine deletes with old outputs). */
export async function deleteHostAction(raw: HostActionOutputs, opts: RunOptions = {}): Promise<"ran" | "nothing"> {
  const props = withoutNulls(raw);
  if (!props.delete || props.delete.trim() === "") return "nothing";
  const elsewhere = props.deleteElsewhere ?? [];
  if (elsewhere.length === 0) {
    await run(props, "delete", props.delete, opts);
    return "ran";
  }
  // The first host that is the place runs it; one that is not, or cannot be reached, passes it on.
  let unreachable: Error | undefined;
  for (const on of [props.connection, ...elsewhere]) {
    try {
      const r = await run(props, "delete", props.delete, opts, on, DELETE_ELSEWHERE_EXIT);
      if (!r.elsewhere) return "ran";
    } catch (e) {
      if (e instanceof HostActionError) throw e;
      unreachable = e instanceof Error ? e : new Error(String(e));
    }
  }
  if (unreachable !== undefined) throw unreachable;
  return "ran";
}

/** Refresh: an action has no live state to read; keep what state says. */
export async function readHostAction(id: string, props: HostActionOutputs | undefined): Promise<dynamic.ReadResult<HostActionOutputs>> {
  return props ? { id, props } : { id };
}

type AnyInputs = HostActionWireInputs | HostActionInputs;
type AnyOutputs = HostActionWireOutputs | HostActionOutputs;

/** The provider's methods on the wire shape (the dynamic provider below only forwards here). */
export const hostActionWire = {
  async check(news: AnyInputs) {
    const r = await checkHostAction(hostActionOf(news));
    const inputs = withoutNulls(news);
    return r.failures ? { inputs, failures: r.failures } : { inputs };
  },
  async diff(olds: AnyOutputs, news: AnyInputs): Promise<HostActionDiffResult> {
    const d = await diffHostAction({ ...hostActionOf<HostActionOutputs>(olds) }, hostActionOf(news));
    const providerChanged = providerTextChanged(olds, news);
    // State in the flat shape of an older haforge: an update (that runs nothing: d.plan.runs)
    // stores the packed shape.
    return { ...d, changes: d.changes || providerChanged || !isPackedHostAction(olds) };
  },
  async create(inputs: AnyInputs, opts: RunOptions = {}) {
    const r = await createHostAction(hostActionOf(inputs), opts);
    return { id: r.id, outs: packHostAction(r.outs) };
  },
  async update(olds: AnyOutputs, news: AnyInputs, opts: RunOptions = {}) {
    const r = await updateHostAction(hostActionOf<HostActionOutputs>(olds), hostActionOf(news), opts);
    return { outs: packHostAction(r.outs) };
  },
  /** Refresh keeps what state says, in the shape it has (an up migrates it). */
  async read(id: string, props?: AnyOutputs): Promise<dynamic.ReadResult<AnyOutputs>> {
    return props ? { id, props } : { id };
  },
  async delete(props: AnyOutputs, opts: RunOptions = {}) {
    return deleteHostAction(hostActionOf<HostActionOutputs>(props), opts);
  },
};

const loadImpl = selfLoader<typeof import("./host-action")>(__filename);

/** The dynamic provider, on the wire shape (`hostActionWire`: packed from the program, packed or flat from state). */
export const hostActionProvider: dynamic.ResourceProvider<AnyInputs, AnyOutputs> = {
  async check(_olds: AnyInputs, news: AnyInputs) {
    return loadImpl().hostActionWire.check(news);
  },
  async diff(_id: string, olds: AnyOutputs, news: AnyInputs) {
    return loadImpl().hostActionWire.diff(olds, news);
  },
  async create(inputs: AnyInputs) {
    return loadImpl().hostActionWire.create(inputs);
  },
  async read(id: string, props?: AnyOutputs) {
    return loadImpl().hostActionWire.read(id, props);
  },
  async update(_id: string, olds: AnyOutputs, news: AnyInputs) {
    return loadImpl().hostActionWire.update(olds, news);
  },
  async delete(_id: string, props: AnyOutputs) {
    await loadImpl().hostActionWire.delete(props);
  },
};

// ---------------------------------------------------------------------------------------------
// Resource

export interface HostActionArgs {
  readonly connection: pulumi.Input<ActionConnection>;
  /** Secret credentials by host name (`"*"`: the deploy key). Sent as a secret. */
  readonly credentials?: pulumi.Input<ActionCredentials | undefined>;
  readonly create: pulumi.Input<string>;
  readonly delete?: pulumi.Input<string>;
  /** Where the delete runs next when a host is not the place (DELETE_ELSEWHERE_EXIT) or unreachable. */
  readonly deleteElsewhere?: readonly pulumi.Input<ActionConnection>[];
  readonly triggers?: pulumi.Input<readonly pulumi.Input<unknown>[]>;
  /** @default "change" */
  readonly rerun?: RerunPolicy;
  /** @default 600 */
  readonly timeoutSeconds?: number;
  /** @default 300 */
  readonly deleteTimeoutSeconds?: number;
  /** The commands carry secrets: they are sent as secrets and failures show no output. @default false */
  readonly secret?: boolean;
  readonly description?: string;
}

/** A command on a host, run over haforge's transport (type token `pulumi-nodejs:dynamic:HostAction`). */
/** The `__provider` text every HostAction stores: loads `hostActionProvider` from this module (self-loader.ts). */
export const hostActionProviderText = providerText(__filename, "hostActionProvider");

/** One secret Output per shared credentials Output (a host's, used by all its actions). */
const secretCredentials = new WeakMap<object, pulumi.Output<ActionCredentials | undefined>>();
function secretOnce(input: pulumi.Input<ActionCredentials | undefined>): pulumi.Output<ActionCredentials | undefined> {
  if (!pulumi.Output.isInstance(input)) return pulumi.secret(input);
  let out = secretCredentials.get(input);
  if (!out) secretCredentials.set(input, (out = pulumi.secret(input)));
  return out;
}

export class HostAction extends SelfLoadedResource {
  declare readonly connection: pulumi.Output<ActionConnection>;
  declare readonly spec: pulumi.Output<HostActionSpec>;
  declare readonly create: pulumi.Output<string>;
  declare readonly delete: pulumi.Output<string | undefined>;
  declare readonly triggers: pulumi.Output<unknown[]>;
  /** stdout/stderr tails and what the last run ran (secret). */
  declare readonly result: pulumi.Output<HostActionWireOutputs["result"]>;

  constructor(name: string, args: HostActionArgs, opts: pulumi.CustomResourceOptions = {}) {
    const secret = args.secret ?? false;
    const props = {
      connection: args.connection,
      spec: {
        rerun: args.rerun ?? "change",
        timeoutSeconds: args.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        deleteTimeoutSeconds: args.deleteTimeoutSeconds ?? DEFAULT_DELETE_TIMEOUT_SECONDS,
        secret,
        ...(args.description === undefined ? {} : { description: args.description }),
      },
      ...(args.credentials === undefined ? {} : { credentials: secretOnce(args.credentials) }),
      create: secret ? pulumi.secret(args.create) : args.create,
      ...(args.delete === undefined ? {} : { delete: secret ? pulumi.secret(args.delete) : args.delete }),
      ...(args.deleteElsewhere?.length ? { deleteElsewhere: args.deleteElsewhere } : {}),
      triggers: args.triggers ?? [],
      result: undefined,
    };
    super(
      hostActionProviderText,
      name,
      props,
      { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "result"] },
      "HostAction",
    );
  }
}
