/**
 * RemoteFile: a config file on a host, written over SSH (docs/architecture.md, "The Pulumi engine semantics the providers rely on").
 *
 * - `applyFile` is the whole behaviour as a plain async function (tests, the bench and a future
 *   CLI call it directly): read the file fact, plan with `planFile` (the same operation the CLI
 *   diff uses), refuse out-of-band edits unless forced, write a temp file beside the target,
 *   validate it on the host, keep the previous copy, rename atomically, run `activate`, and put
 *   the previous copy back if activation fails.
 * - `remoteFileProvider` is the Pulumi dynamic provider. Pulumi serializes its methods with the
 *   closure serializer and runs them in a separate provider process, so the methods capture only
 *   two strings and `require()` this very module at call time; everything else lives in ordinary
 *   module-level functions that are never serialized.
 *   https://www.pulumi.com/docs/iac/concepts/resources/dynamic-providers/
 */
import * as pulumi from "@pulumi/pulumi";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import {
  DEFAULT_MAX_CONTENT_BYTES,
  PREV_SUFFIX,
  WRITE_EXIT,
  fileFact,
  isValidMode,
  metadataScript,
  normalizeMode,
  planFile,
  redactSecret,
  removeIfUnchangedScript,
  restorePreviousScript,
  sha256Hex,
  shQuote,
  writeFileScript,
  type FileFact,
  type FilePlan,
} from "../core/file-ops";
import { fileBytes, type FileSpec } from "../core/desired-state";
import { getDefaultPool, parsePublicKeyLine, type HostConnection, type SshPool } from "../transport";
import { providerTextChanged, selfLoader } from "./self-loader";

// ---------------------------------------------------------------------------------------------
// applyFile

export type RemoteFileErrorCode = "REFUSED" | "VALIDATION" | "ACTIVATION" | "WRITE" | "READ";

export class RemoteFileError extends Error {
  override readonly name = "RemoteFileError";
  constructor(
    readonly host: string,
    readonly step: string,
    detail: string,
    readonly code: RemoteFileErrorCode,
  ) {
    super(`${host}: ${step}: ${detail}`);
  }
}

/** What `applyFile` needs of a FileSpec (notify is the caller's business). */
export type FileToApply = Pick<FileSpec, "path" | "content" | "mode" | "owner" | "group" | "secret" | "validate" | "encoding">;

export interface ApplyFileOptions {
  /** Overwrite an out-of-band edit. @default false */
  readonly force?: boolean;
  /** sha256 we last wrote (or refreshed) — from state. @default - none: an existing file is taken over */
  readonly lastSha?: string;
  /**
   * Command run after the rename (e.g. `supervisorctl signal HUP haproxy`). If it fails, the
   * previous file is put back, `activate` is run once more for the old file, and the error is
   * reported.
   */
  readonly activate?: string;
  /** Keep the replaced file as `<path>.haforge-prev`. @default true */
  readonly backup?: boolean;
  /** @default 60 */
  readonly validateTimeoutSec?: number;
  /** @default 120 */
  readonly activateTimeoutSec?: number;
  /** Plan only: read the live file and return the plan without changing anything. @default false */
  readonly dryRun?: boolean;
  /**
   * The file fact, when the caller already read it (e.g. with `readFileFacts` for a whole host).
   * Safe even if it went stale: the write re-checks the live hash right before the rename.
   * @default - read here
   */
  readonly live?: FileFact | null | false;
  /** @default getDefaultPool() — one connection per host per process */
  readonly pool?: SshPool;
}

export interface ApplyFileResult {
  readonly plan: FilePlan;
  /** Something was changed on the host (content or metadata). */
  readonly changed: boolean;
  /** sha256 of the file on the host now (the desired one unless dryRun). */
  readonly sha256: string;
  readonly size: number;
  /** The host key accepted on trust-on-first-use, as a `hostKey` line to pin. */
  readonly hostKeySeen?: string;
}

const OUTPUT_TAIL = 2000;
const tail = (s: string): string => (s.length > OUTPUT_TAIL ? `…${s.slice(-OUTPUT_TAIL)}` : s).trim();

export async function readFileFact(
  pool: SshPool,
  conn: HostConnection,
  path: string,
  maxContentBytes = DEFAULT_MAX_CONTENT_BYTES,
): Promise<FileFact | null | false> {
  return (await readFileFacts(pool, conn, [path], maxContentBytes)).get(path)!;
}

/**
 * Facts for many files of one host in ONE command (the script goes over stdin, so no argument
 * length limit): a converge of N unchanged files then costs one round trip per host, not N.
 */
export async function readFileFacts(
  pool: SshPool,
  conn: HostConnection,
  paths: readonly string[],
  maxContentBytes = DEFAULT_MAX_CONTENT_BYTES,
): Promise<Map<string, FileFact | null | false>> {
  const step = paths.length === 1 ? `read ${paths[0]}` : `read ${paths.length} files`;
  const END = "HAFORGE-FACT-END";
  const script = paths.map((path) => `(\n${fileFact.command({ path, maxContentBytes })}\n)\necho ${END}`).join("\n");
  const r = await pool.exec(conn, "sh -s", { step, stdin: script, timeoutMs: 120_000 });
  const parts = r.stdout.split(`${END}\n`);
  if (r.code !== 0 || parts.length !== paths.length + 1) {
    throw new RemoteFileError(conn.host, step, `file facts failed (exit ${r.code ?? r.signal}): ${tail(r.stderr)}`, "READ");
  }
  const facts = new Map<string, FileFact | null | false>();
  for (const [i, path] of paths.entries()) {
    try {
      facts.set(path, fileFact.parse(parts[i]!));
    } catch (e) {
      throw new RemoteFileError(conn.host, `read ${path}`, (e as Error).message, "READ");
    }
  }
  return facts;
}

export async function applyFile(conn: HostConnection, spec: FileToApply, opts: ApplyFileOptions = {}): Promise<ApplyFileResult> {
  const pool = opts.pool ?? getDefaultPool();
  const { host } = conn;
  const { path } = spec;
  const desired = { ...spec, host };
  const live = opts.live !== undefined ? opts.live : await readFileFact(pool, conn, path);
  const plan = planFile(desired, live, opts.lastSha, { force: opts.force ?? false });
  const hostKeySeen = pool.hostKeysSeen().find((k) => k.trustedOnFirstUse && k.host === host && k.address === conn.address)?.key;
  const seen = hostKeySeen === undefined ? {} : { hostKeySeen };
  const liveNow = { sha256: live ? live.sha256 : "", size: live ? live.size : 0 };

  if (opts.dryRun || plan.changes.length === 0) return { plan, changed: false, ...liveNow, ...seen };
  const refusal = plan.changes.find((c) => c.kind === "refuse");
  if (refusal) throw new RemoteFileError(host, `write ${path}`, refusal.reason, "REFUSED");

  const written = plan.changes.some((c) => c.kind === "write");
  let hadPrev = false;
  if (written) hadPrev = await writeContent(pool, conn, spec, live ? live.sha256 : "absent", opts);
  else await runOrThrow(pool, conn, metadataScript(path, spec.owner, spec.group, spec.mode), `chmod/chown ${path}`, "WRITE");

  if (opts.activate !== undefined && opts.activate.trim() !== "") {
    await activateOrRestore(pool, conn, spec, opts, written ? { kind: "content", hadPrev } : { kind: "metadata", live: live as FileFact });
  }
  if (written && hadPrev && opts.backup === false) {
    // The copy was only kept so a failed activation could be undone.
    await runOrThrow(pool, conn, `rm -f -- ${shQuote(path + PREV_SUFFIX)}`, `write ${path}`, "WRITE");
  }
  return { plan, changed: true, sha256: plan.desiredSha256, size: fileBytes(spec).length, ...seen };
}

async function runOrThrow(pool: SshPool, conn: HostConnection, cmd: string, step: string, code: RemoteFileErrorCode): Promise<string> {
  const r = await pool.exec(conn, cmd, { step, timeoutMs: 60_000 });
  if (r.code !== 0) throw new RemoteFileError(conn.host, step, `failed (exit ${r.code ?? r.signal}): ${tail(r.stderr)}`, code);
  return r.stdout;
}

/** Returns whether a previous file existed (and was kept as `.haforge-prev` when asked to). */
async function writeContent(pool: SshPool, conn: HostConnection, spec: FileToApply, expectLive: string, opts: ApplyFileOptions): Promise<boolean> {
  const { host } = conn;
  const { path } = spec;
  const body = fileBytes(spec);
  const validateTimeoutSec = opts.validateTimeoutSec ?? 60;
  const script = writeFileScript({
    path,
    mode: spec.mode,
    owner: spec.owner,
    group: spec.group,
    sha256: sha256Hex(body),
    size: body.length,
    expectLive,
    ...(spec.validate === undefined ? {} : { validate: spec.validate }),
    validateTimeoutSec,
    // Activation needs the previous copy to roll back to, even when no backup is wanted.
    keepPrevious: opts.backup !== false || (opts.activate ?? "").trim() !== "",
  });
  const step = `write ${path}`;
  // Generous bound: the upload itself happens inside this command.
  const r = await pool.exec(conn, script, { step, stdin: body, timeoutMs: Math.max(300_000, (validateTimeoutSec + 60) * 1000) });
  const err = spec.secret ? redactSecret(tail(r.stderr), spec.content) : tail(r.stderr);
  if (r.code === 0) return /had_prev=1/.test(r.stdout);
  const fail = (detail: string, code: RemoteFileErrorCode = "WRITE", s = step) => new RemoteFileError(host, s, detail, code);
  switch (r.code) {
    case WRITE_EXIT.validate:
      throw fail(`the validator rejected the new file; ${path} was left as it was. Validator output:\n${err}`, "VALIDATION", `validate ${path}`);
    case WRITE_EXIT.transfer:
      throw fail(`upload incomplete (${err}); ${path} was left as it was`);
    case WRITE_EXIT.raced:
      throw fail(`${path} changed on the host while it was being written; nothing was replaced, run again to re-plan`, "REFUSED");
    case WRITE_EXIT.metadata:
      throw fail(`cannot set owner ${spec.owner}:${spec.group} / mode ${spec.mode} on the new file: ${err}`);
    case WRITE_EXIT.mkdir:
      throw fail(`cannot create the parent directory: ${err}`);
    case WRITE_EXIT.tempfile:
      throw fail(`cannot create a temp file beside ${path}: ${err}`);
    case WRITE_EXIT.backup:
      throw fail(`cannot keep the previous copy as ${path}${PREV_SUFFIX}: ${err}`);
    case WRITE_EXIT.rename:
      throw fail(`cannot rename the new file into place: ${err}`);
    default:
      throw fail(r.timedOut ? "timed out" : `failed (exit ${r.code ?? r.signal}): ${err}`);
  }
}

type Undo = { kind: "content"; hadPrev: boolean } | { kind: "metadata"; live: FileFact };

async function activateOrRestore(pool: SshPool, conn: HostConnection, spec: FileToApply, opts: ApplyFileOptions, undo: Undo): Promise<void> {
  const { host } = conn;
  const step = `activate ${spec.path}`;
  const timeoutMs = (opts.activateTimeoutSec ?? 120) * 1000;
  const activate = opts.activate!;
  const r = await pool.exec(conn, activate, { step, timeoutMs });
  if (r.code === 0) return;
  const out = tail(`${r.stdout}\n${r.stderr}`);
  const detail = spec.secret ? redactSecret(out, spec.content) : out;
  const restoreCmd =
    undo.kind === "content"
      ? restorePreviousScript(spec.path, undo.hadPrev)
      : metadataScript(spec.path, String(undo.live.uid), String(undo.live.gid), undo.live.mode);
  const restored = await pool.exec(conn, restoreCmd, { step: `restore ${spec.path}`, timeoutMs: 60_000 });
  if (restored.code !== 0) {
    throw new RemoteFileError(
      host,
      step,
      `activation failed (exit ${r.code ?? r.signal}) and restoring the previous file failed too (${tail(restored.stderr)}); ` +
        `fix ${spec.path} by hand. Activation output:\n${detail}`,
      "ACTIVATION",
    );
  }
  // Re-activate so the daemon runs the restored file again (best effort: its result is reported).
  const again = await pool.exec(conn, activate, { step, timeoutMs });
  const what = undo.kind === "content" ? (undo.hadPrev ? "restored the previous file" : "removed the new file") : "restored the previous owner/mode";
  throw new RemoteFileError(
    host,
    step,
    `activation failed (exit ${r.code ?? r.signal}); ${what}` +
      (again.code === 0 ? " and re-activated it" : ` but re-activating it failed too (exit ${again.code ?? again.signal})`) +
      `. Activation output:\n${detail}`,
    "ACTIVATION",
  );
}

// ---------------------------------------------------------------------------------------------
// Dynamic provider

/** Inputs as the provider sees them (secrets unwrapped by the engine). */
export interface RemoteFileInputs {
  readonly connection: HostConnection;
  readonly path: string;
  readonly content: string;
  /** `base64`: content is base64 of the bytes to write (binary files such as a corosync authkey). */
  readonly encoding?: "utf8" | "base64";
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly secret?: boolean;
  readonly validate?: string;
  readonly activate?: string;
  readonly force?: boolean;
  readonly backup?: boolean;
}

export interface RemoteFileOutputs extends RemoteFileInputs {
  /** sha256 we last wrote or refreshed: the baseline for out-of-band edit detection. */
  readonly sha256: string;
  readonly size: number;
  readonly hostKeySeen?: string;
}

/** `diff`'s result plus the plan (the engine ignores the extra field; tests and logs read it). */
export interface RemoteFileDiffResult extends dynamic.DiffResult {
  readonly plan?: FilePlan;
}

const isUnknown = (v: unknown): boolean => v === pulumi.runtime.unknownValue;
const hasUnknown = (v: unknown): boolean =>
  isUnknown(v) || (typeof v === "object" && v !== null && Object.values(v).some((x) => hasUnknown(x)));

const specOf = (i: RemoteFileInputs): FileToApply => ({
  path: i.path,
  content: i.content,
  mode: i.mode,
  owner: i.owner,
  group: i.group,
  secret: i.secret ?? false,
  ...(i.validate === undefined ? {} : { validate: i.validate }),
  ...(i.encoding === undefined ? {} : { encoding: i.encoding }),
});

const applyOptsOf = (i: RemoteFileInputs, lastSha?: string): ApplyFileOptions => ({
  force: i.force ?? false,
  backup: i.backup ?? true,
  ...(i.activate === undefined ? {} : { activate: i.activate }),
  ...(lastSha === undefined ? {} : { lastSha }),
});

const idOf = (i: RemoteFileInputs): string => `${i.connection.host}:${i.path}`;

const outputsOf = (i: RemoteFileInputs, r: { sha256: string; size: number; hostKeySeen?: string }): RemoteFileOutputs => ({
  ...i,
  mode: normalizeMode(i.mode),
  sha256: r.sha256,
  size: r.size,
  ...(r.hostKeySeen === undefined ? {} : { hostKeySeen: r.hostKeySeen }),
});

const NAME = /^(?:[A-Za-z_][A-Za-z0-9_.-]*\$?|\d+)$/;

/** `inputs` is always returned (as given): callers can chain create/update on it. */
export async function checkRemoteFile(
  news: RemoteFileInputs,
): Promise<{ readonly inputs: RemoteFileInputs; readonly failures?: dynamic.CheckFailure[] }> {
  const failures: dynamic.CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  const known = (v: unknown) => v !== undefined && !hasUnknown(v);
  const c = news.connection;
  if (c === undefined || c === null) fail("connection", "connection is required");
  else if (known(c)) {
    if (!c.host) fail("connection", "connection.host is required (the inventory host name)");
    if (!c.address) fail("connection", `connection.address is required for host ${JSON.stringify(c.host)}`);
    if (!c.user) fail("connection", `connection.user is required for host ${JSON.stringify(c.host)}`);
    if (c.port !== undefined && (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535)) fail("connection", `connection.port ${JSON.stringify(c.port)} is not a TCP port`);
    for (const line of c.hostKey === undefined ? [] : typeof c.hostKey === "string" ? [c.hostKey] : c.hostKey) {
      try {
        parsePublicKeyLine(line);
      } catch (e) {
        fail("connection", `connection.hostKey ${JSON.stringify(line.slice(0, 40))}…: ${(e as Error).message}`);
      }
    }
    if (c.hostKey === undefined && !c.knownHostsFile && !c.trustOnFirstUse) {
      fail("connection", `host ${JSON.stringify(c.host)}: set connection.hostKey, connection.knownHostsFile or connection.trustOnFirstUse: true (host keys are always verified)`);
    }
  }
  for (const k of ["path", "content", "mode", "owner", "group"] as const) {
    if (news[k] === undefined || news[k] === null) fail(k, `${k} is required`);
  }
  if (known(news.path)) {
    const p = news.path;
    if (typeof p !== "string" || !p.startsWith("/") || p.endsWith("/") || /[\0\n]/.test(p) || p.split("/").includes("..")) {
      fail("path", `path ${JSON.stringify(p)} must be an absolute file path without ".." segments`);
    }
  }
  if (known(news.content) && typeof news.content !== "string") fail("content", "content must be a string");
  if (known(news.mode) && (typeof news.mode !== "string" || !isValidMode(news.mode))) fail("mode", `mode ${JSON.stringify(news.mode)} must be an octal string like "0644"`);
  for (const k of ["owner", "group"] as const) {
    if (known(news[k]) && (typeof news[k] !== "string" || !NAME.test(news[k]))) fail(k, `${k} ${JSON.stringify(news[k])} must be a user/group name or a numeric id`);
  }
  return failures.length > 0 ? { inputs: news, failures } : { inputs: news };
}

export async function diffRemoteFile(olds: RemoteFileOutputs, news: RemoteFileInputs): Promise<RemoteFileDiffResult> {
  // State written by an older haforge (a `__provider` text that differs, e.g. one holding the
  // absolute paths of someone's checkout): an update that rewrites nothing on the host but
  // stores the new text, so that refresh and destroy (which load the stored text) work anywhere.
  const providerChanged = providerTextChanged(olds, news);
  // Replacement only when the file's identity changes; every other difference is an update.
  const replaces: string[] = [];
  if (isUnknown(news.connection) || olds.connection?.host !== news.connection?.host) replaces.push("connection");
  if (isUnknown(news.path) || olds.path !== news.path) replaces.push("path");
  if (replaces.length > 0) return { changes: true, replaces, deleteBeforeReplace: false };
  // A host created in the same program has no address yet during preview: cannot read it.
  if (hasUnknown(news)) return { changes: true };
  const r = await applyFile(news.connection, specOf(news), { ...applyOptsOf(news, olds.sha256), dryRun: true });
  // Also report a change when the host already matches but our recorded hash is stale (someone
  // put the desired content there by hand): the update re-records the baseline.
  const changes = r.plan.changes.length > 0 || olds.sha256 !== r.plan.desiredSha256 || providerChanged;
  return { changes, plan: r.plan };
}

export async function createRemoteFile(inputs: RemoteFileInputs): Promise<dynamic.CreateResult<RemoteFileOutputs>> {
  const r = await applyFile(inputs.connection, specOf(inputs), applyOptsOf(inputs));
  return { id: idOf(inputs), outs: outputsOf(inputs, r) };
}

export async function updateRemoteFile(olds: RemoteFileOutputs, news: RemoteFileInputs): Promise<dynamic.UpdateResult<RemoteFileOutputs>> {
  const r = await applyFile(news.connection, specOf(news), applyOptsOf(news, olds.sha256));
  return { outs: outputsOf(news, r) };
}

/** Live state for `pulumi refresh`: content/sha/mode/owner as on the host, so drift shows. */
export async function readRemoteFile(id: string, props: RemoteFileOutputs | undefined): Promise<dynamic.ReadResult<RemoteFileOutputs>> {
  if (!props?.connection) {
    throw new Error(`${id}: read: a RemoteFile cannot be imported by id alone (the connection is not in the id); declare it and run pulumi up`);
  }
  const live = await readFileFact(getDefaultPool(), props.connection, props.path, 16 * DEFAULT_MAX_CONTENT_BYTES);
  if (live === null) return {}; // gone: refresh drops it from state and the next up recreates it
  if (live === false) return { id, props: { ...props, sha256: "", size: 0 } }; // the next update refuses with the reason
  const sameUser = props.owner === live.owner || props.owner === String(live.uid);
  const sameGroup = props.group === live.group || props.group === String(live.gid);
  const content =
    live.content ?? (live.sha256 === sha256Hex(props.content) ? props.content : `<not shown: binary or larger than 16 MiB, sha256 ${live.sha256}>`);
  return {
    id,
    props: {
      ...props,
      content,
      sha256: live.sha256,
      size: live.size,
      mode: live.mode,
      owner: sameUser ? props.owner : live.owner,
      group: sameGroup ? props.group : live.group,
    },
  };
}

/** Removes the file only if it is still what we wrote; an edited file is left in place (and said so). */
export async function deleteRemoteFile(props: RemoteFileOutputs, pool: SshPool = getDefaultPool()): Promise<"removed" | "absent" | "kept"> {
  const step = `delete ${props.path}`;
  const r = await pool.exec(props.connection, removeIfUnchangedScript(props.path, props.sha256), { step, timeoutMs: 60_000 });
  if (r.code !== 0) throw new RemoteFileError(props.connection.host, step, `failed (exit ${r.code ?? r.signal}): ${tail(r.stderr)}`, "WRITE");
  const m = /HAFORGE-DELETE (removed|absent|kept)/.exec(r.stdout);
  if (!m) throw new RemoteFileError(props.connection.host, step, "unexpected output from the delete command", "WRITE");
  if (m[1] === "kept") {
    // Not an error: failing would block `pulumi destroy` forever; the engine log gets a warning.
    console.error(`warning: ${props.connection.host}: ${step}: left in place because it changed since haforge wrote it`);
  }
  return m[1] as "removed" | "absent" | "kept";
}

/**
 * Loads this module inside the provider process (plain node: see self-loader.ts). The methods
 * below capture only this loader, which captures only strings.
 */
const loadImpl = selfLoader<typeof import("./remote-file")>(__filename);

/** The dynamic provider. Its methods only forward to the module-level functions above. */
export const remoteFileProvider: dynamic.ResourceProvider<RemoteFileInputs, RemoteFileOutputs> = {
  async check(_olds: RemoteFileInputs, news: RemoteFileInputs) {
    return loadImpl().checkRemoteFile(news);
  },
  async diff(_id: string, olds: RemoteFileOutputs, news: RemoteFileInputs) {
    return loadImpl().diffRemoteFile(olds, news);
  },
  async create(inputs: RemoteFileInputs) {
    return loadImpl().createRemoteFile(inputs);
  },
  async read(id: string, props?: RemoteFileOutputs) {
    return loadImpl().readRemoteFile(id, props);
  },
  async update(_id: string, olds: RemoteFileOutputs, news: RemoteFileInputs) {
    return loadImpl().updateRemoteFile(olds, news);
  },
  async delete(_id: string, props: RemoteFileOutputs) {
    await loadImpl().deleteRemoteFile(props);
  },
};

// ---------------------------------------------------------------------------------------------
// Resource

export interface RemoteFileArgs {
  /** How to reach the host. Keep credentials out of state: prefer `privateKeyPath` or an agent. */
  readonly connection: pulumi.Input<HostConnection>;
  /** Absolute path on the host. Changing it replaces the resource. */
  readonly path: pulumi.Input<string>;
  /** Full content. Pass a `pulumi.secret` (or set `secret`) for keys, cookies, passwords. */
  readonly content: pulumi.Input<string>;
  /** `base64` when content is base64 of the bytes to write. @default "utf8" */
  readonly encoding?: "utf8" | "base64";
  /** Octal mode. @default "0644" */
  readonly mode?: pulumi.Input<string>;
  /** @default "root" */
  readonly owner?: pulumi.Input<string>;
  /** @default "root" */
  readonly group?: pulumi.Input<string>;
  /**
   * The content is secret: stored as a secret output and masked in diffs and errors.
   * A plain boolean because it decides which outputs are secret when the resource is declared.
   * @default false
   */
  readonly secret?: boolean;
  /** Host-side check run on the temp file before activation; `{file}` = its path. */
  readonly validate?: pulumi.Input<string>;
  /** Command run after the rename; on failure the previous file is restored. */
  readonly activate?: pulumi.Input<string>;
  /** Overwrite an out-of-band edit. @default false */
  readonly force?: pulumi.Input<boolean>;
  /** Keep the replaced file as `<path>.haforge-prev`. @default true */
  readonly backup?: pulumi.Input<boolean>;
}

/**
 * A file on a host. Dynamic resources have the type token `pulumi-nodejs:dynamic:Resource`
 * (the SDK's, not ours); the class name is what our code and components see.
 */
export class RemoteFile extends pulumi.dynamic.Resource {
  declare readonly connection: pulumi.Output<HostConnection>;
  declare readonly path: pulumi.Output<string>;
  declare readonly content: pulumi.Output<string>;
  declare readonly mode: pulumi.Output<string>;
  declare readonly owner: pulumi.Output<string>;
  declare readonly group: pulumi.Output<string>;
  /** sha256 of the content last written or refreshed. */
  declare readonly sha256: pulumi.Output<string>;
  declare readonly size: pulumi.Output<number>;
  declare readonly hostKeySeen: pulumi.Output<string | undefined>;

  constructor(name: string, args: RemoteFileArgs, opts: pulumi.CustomResourceOptions = {}) {
    const secret = args.secret ?? false;
    // A connection carrying a password or key text is stored as a secret (the engine keeps
    // secret inputs secret in this resource's outputs too).
    const connection = pulumi
      .output(args.connection)
      .apply((c) => (c.password !== undefined || c.privateKey !== undefined || c.passphrase !== undefined ? pulumi.secret(c) : pulumi.output(c)));
    const props = {
      connection,
      path: args.path,
      content: secret ? pulumi.secret(args.content) : args.content,
      encoding: args.encoding ?? "utf8",
      mode: args.mode ?? "0644",
      owner: args.owner ?? "root",
      group: args.group ?? "root",
      secret,
      validate: args.validate,
      activate: args.activate,
      force: args.force ?? false,
      backup: args.backup ?? true,
      sha256: undefined,
      size: undefined,
      hostKeySeen: undefined,
    };
    // Content (and its full hash, which would confirm a guessed secret) never leave state unencrypted.
    const secretOutputs = secret ? ["content", "sha256"] : [];
    super(remoteFileProvider, name, props, {
      ...opts,
      additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), ...secretOutputs],
    });
  }
}
