/**
 * A config file on a host, over SSH: read its fact, plan with `planFile` (the same operation the
 * CLI's live diff uses), refuse out-of-band edits unless forced, write a temp file beside the
 * target, validate it on the host, keep the previous copy, rename atomically, run `activate`, and
 * put the previous copy back if activation fails. Plain async functions: the RemoteFile provider
 * (src/providers/remote-file.ts), the CLI's `diff --live`, the tests and the benches all call
 * them, and none of them loads Pulumi.
 */
import {
  DEFAULT_MAX_CONTENT_BYTES,
  PREV_SUFFIX,
  WRITE_EXIT,
  fileFact,
  metadataScript,
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
import { getDefaultPool, type HostConnection, type SshPool } from "./pool";

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
  /** Key of masked secret hashes in diffs and errors (src/core/masking.ts). @default - random per process */
  readonly maskSalt?: string;
  /** Refuse to take over a secret file that exists with other content (planFile's option). @default false */
  readonly refuseSecretTakeOver?: boolean;
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
  /** The content was (re)written on the host (not only chmod/chown, not a dry run). */
  readonly written?: boolean;
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
  const plan = planFile(desired, live, opts.lastSha, {
    force: opts.force ?? false,
    ...(opts.maskSalt === undefined ? {} : { maskSalt: opts.maskSalt }),
    ...(opts.refuseSecretTakeOver ? { refuseSecretTakeOver: true } : {}),
  });
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
  return { plan, changed: true, written, sha256: plan.desiredSha256, size: fileBytes(spec).length, ...seen };
}

async function runOrThrow(pool: SshPool, conn: HostConnection, cmd: string, step: string, code: RemoteFileErrorCode): Promise<string> {
  const r = await pool.exec(conn, cmd, { step, timeoutMs: 60_000 });
  if (r.code !== 0) throw new RemoteFileError(conn.host, step, `failed (exit ${r.code ?? r.signal}): ${tail(r.stderr)}`, code);
  return r.stdout;
}

/** Returns whether a previous file existed (and was kept as `.haforge-prev` when asked to). */
async function writeContent(
  pool: SshPool,
  conn: HostConnection,
  spec: FileToApply,
  expectLive: string,
  opts: ApplyFileOptions,
): Promise<boolean> {
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
  const err = spec.secret ? redactSecret(tail(r.stderr), spec.content, opts.maskSalt) : tail(r.stderr);
  if (r.code === 0) return /had_prev=1/.test(r.stdout);
  const fail = (detail: string, code: RemoteFileErrorCode = "WRITE", s = step) => new RemoteFileError(host, s, detail, code);
  switch (r.code) {
    case WRITE_EXIT.validate:
      throw fail(
        `the validator rejected the new file; ${path} was left as it was. Validator output:\n${err}`,
        "VALIDATION",
        `validate ${path}`,
      );
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

/**
 * The host's verdict on a candidate file without writing it: uploaded beside the target as a
 * write would (same directory, owner and mode), the FileSpec's validate run on it, removed.
 * `ok` false with the validator's output (secrets masked) when it refuses. A file without a
 * validate is accepted.
 */
export async function validateFileOnHost(
  conn: HostConnection,
  spec: FileToApply,
  opts: { readonly pool?: SshPool; readonly maskSalt?: string; readonly validateTimeoutSec?: number } = {},
): Promise<{ readonly ok: boolean; readonly output: string }> {
  if (spec.validate === undefined || spec.validate.trim() === "") return { ok: true, output: "" };
  const pool = opts.pool ?? getDefaultPool();
  const body = fileBytes(spec);
  const validateTimeoutSec = opts.validateTimeoutSec ?? 60;
  const script = writeFileScript({
    path: spec.path,
    mode: spec.mode,
    owner: spec.owner,
    group: spec.group,
    sha256: sha256Hex(body),
    size: body.length,
    expectLive: "absent",
    validate: spec.validate,
    validateTimeoutSec,
    keepPrevious: false,
    checkOnly: true,
  });
  const step = `validate ${spec.path} (preview)`;
  const r = await pool.exec(conn, script, { step, stdin: body, timeoutMs: Math.max(120_000, (validateTimeoutSec + 60) * 1000) });
  const err = spec.secret ? redactSecret(tail(r.stderr), spec.content, opts.maskSalt) : tail(r.stderr);
  if (r.code === 0 && /HAFORGE-VALIDATED/.test(r.stdout)) return { ok: true, output: err };
  if (r.code === WRITE_EXIT.validate) return { ok: false, output: err };
  throw new RemoteFileError(conn.host, step, r.timedOut ? "timed out" : `failed (exit ${r.code ?? r.signal}): ${err}`, "WRITE");
}

type Undo = { kind: "content"; hadPrev: boolean } | { kind: "metadata"; live: FileFact };

async function activateOrRestore(
  pool: SshPool,
  conn: HostConnection,
  spec: FileToApply,
  opts: ApplyFileOptions,
  undo: Undo,
): Promise<void> {
  const { host } = conn;
  const step = `activate ${spec.path}`;
  const timeoutMs = (opts.activateTimeoutSec ?? 120) * 1000;
  const activate = opts.activate!;
  const r = await pool.exec(conn, activate, { step, timeoutMs });
  if (r.code === 0) return;
  const out = tail(`${r.stdout}\n${r.stderr}`);
  const detail = spec.secret ? redactSecret(out, spec.content, opts.maskSalt) : out;
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
  const what =
    undo.kind === "content" ? (undo.hadPrev ? "restored the previous file" : "removed the new file") : "restored the previous owner/mode";
  throw new RemoteFileError(
    host,
    step,
    `activation failed (exit ${r.code ?? r.signal}); ${what}` +
      (again.code === 0 ? " and re-activated it" : ` but re-activating it failed too (exit ${again.code ?? again.signal})`) +
      `. Activation output:\n${detail}`,
    "ACTIVATION",
  );
}

/** Removes the file only if its sha256 is still `sha256` (what we wrote); an edited file is kept. */
export async function removeFileIfUnchanged(
  pool: SshPool,
  conn: HostConnection,
  path: string,
  sha256: string,
): Promise<"removed" | "absent" | "kept"> {
  const step = `delete ${path}`;
  const r = await pool.exec(conn, removeIfUnchangedScript(path, sha256), { step, timeoutMs: 60_000 });
  if (r.code !== 0) throw new RemoteFileError(conn.host, step, `failed (exit ${r.code ?? r.signal}): ${tail(r.stderr)}`, "WRITE");
  const m = /HAFORGE-DELETE (removed|absent|kept)/.exec(r.stdout);
  if (!m) throw new RemoteFileError(conn.host, step, "unexpected output from the delete command", "WRITE");
  return m[1] as "removed" | "absent" | "kept";
}
