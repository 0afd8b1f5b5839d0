/**
 * File facts and the file operation, pyinfra style (docs/architecture.md, "File facts and operations").
 *
 * - A *fact* is `{ name, command(args), parse(stdout) }`: the command runs on the host, `parse`
 *   turns its stdout into `T` (present), `null` (absent) or `false` (present but the wrong kind,
 *   e.g. a directory where a file is wanted).
 * - An *operation* (`planFile`) is a pure function from desired state + fact to a list of
 *   changes, or to a no-op with a reason. The RemoteFile provider's `diff`, the CLI's `diff` and
 *   the tests all call it, so what a preview shows is exactly what an apply does.
 * - The shell scripts that carry a plan out are built here too (pure string builders), so the
 *   quoting and the safety checks in them are unit-tested without SSH.
 *
 * No I/O here: hashing is the only library call that is not string handling.
 */
import { shellQuote } from "./escape";
import { createHash } from "node:crypto";
import { fileBytes, type FileSpec } from "./desired-state";
import { keyedShortHash, maskWhole, redactContent } from "./masking";

// ---------------------------------------------------------------------------------------------
// Facts

export interface Fact<TArgs, T> {
  readonly name: string;
  /** POSIX sh command printing the fact on stdout. Must exit 0 for absent / wrong-kind results. */
  command(args: TArgs): string;
  /** `T` = present, `null` = absent, `false` = present but not the kind the fact describes. */
  parse(stdout: string): T | null | false;
}

export interface FileFact {
  /** Four-digit octal mode, e.g. "0644" (normalized, see `normalizeMode`). */
  readonly mode: string;
  readonly uid: number;
  /** User name, or "UNKNOWN" when the uid has no name on the host (stat's convention). */
  readonly owner: string;
  readonly gid: number;
  readonly group: string;
  readonly size: number;
  /** Hex sha256 of the bytes on disk. */
  readonly sha256: string;
  /**
   * Content as UTF-8 text when it was fetched: undefined when the file is larger than
   * `maxContentBytes` or is not valid UTF-8 (then diffs fall back to a size/hash summary).
   */
  readonly content?: string;
}

export interface FileFactArgs {
  readonly path: string;
  /**
   * Largest file whose content is shipped back (base64) for the diff.
   * @default DEFAULT_MAX_CONTENT_BYTES (1 MiB)
   */
  readonly maxContentBytes?: number;
}

/** Config files are small; anything bigger is only compared by hash. */
export const DEFAULT_MAX_CONTENT_BYTES = 1024 * 1024;

const FACT_MARK = "HAFORGE-FACT";

/**
 * The file fact. Symlinks count as the wrong kind: replacing a link by a regular file (what the
 * atomic rename would do) silently changes what other paths see, so it is never done implicitly.
 */
export const fileFact: Fact<FileFactArgs, FileFact> = {
  name: "file",
  command({ path, maxContentBytes = DEFAULT_MAX_CONTENT_BYTES }) {
    const max = Math.max(0, Math.floor(maxContentBytes));
    return [
      `p=${shQuote(path)}`,
      `if [ -L "$p" ] || { [ -e "$p" ] && [ ! -f "$p" ]; }; then echo "${FACT_MARK} wrong-kind"; exit 0; fi`,
      `if [ ! -e "$p" ]; then echo "${FACT_MARK} absent"; exit 0; fi`,
      `meta=$(stat -c '%a %u %U %g %G %s' -- "$p") || exit 1`,
      `sum=$(sha256sum -- "$p") || exit 1`,
      `echo "${FACT_MARK} file $meta \${sum%% *}"`,
      `size=\${meta##* }`,
      `if [ "$size" -le ${max} ]; then base64 -w0 -- "$p" || exit 1; echo; fi`,
    ].join("\n");
  },
  parse(stdout) {
    const nl = stdout.indexOf("\n");
    const head = (nl < 0 ? stdout : stdout.slice(0, nl)).trim();
    if (head === `${FACT_MARK} absent`) return null;
    if (head === `${FACT_MARK} wrong-kind`) return false;
    const m = /^HAFORGE-FACT file ([0-7]{1,4}) (\d+) (\S+) (\d+) (\S+) (\d+) ([0-9a-f]{64})$/.exec(head);
    // Only the header goes into the message: the rest is file content, possibly secret.
    if (!m) throw new Error(`file fact: unexpected output ${JSON.stringify(head.slice(0, 120))}`);
    const [, mode, uid, owner, gid, group, size, sha256] = m as unknown as string[];
    let content: string | undefined;
    if (nl >= 0) {
      const b64 = stdout.slice(nl + 1).trim();
      if (b64 !== "" || Number(size) === 0) content = decodeUtf8(Buffer.from(b64, "base64"));
    }
    return {
      mode: normalizeMode(mode!),
      uid: Number(uid),
      owner: owner!,
      gid: Number(gid),
      group: group!,
      size: Number(size),
      sha256: sha256!,
      ...(content === undefined ? {} : { content }),
    };
  },
};

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined; // binary: compared by hash only
  }
}

// ---------------------------------------------------------------------------------------------
// Hashing and masking

export const sha256Hex = (content: string | Buffer): string => createHash("sha256").update(content).digest("hex");

/**
 * Placeholder for a secret file's whole content, in the one keyed format of src/core/masking.ts:
 * the same content masks to the same text within a salt, a changed one to a different text, and
 * nothing about the value can be confirmed without the salt.
 */
export const maskSecret = (content: string | Buffer, salt?: string): string => maskWhole(content, salt);

/**
 * Best-effort redaction of a secret file's content out of free text (a validator's output may
 * quote the offending line): every line and every token of the secret long enough to matter.
 */
export const redactSecret = (text: string, secretContent: string, salt?: string): string => redactContent(text, secretContent, salt);

// ---------------------------------------------------------------------------------------------
// Modes, quoting

/** "644" | "0644" | "04755" → "0644" | "4755". Throws on anything else (check inputs first). */
export function normalizeMode(mode: string): string {
  if (!/^[0-7]{1,5}$/.test(mode)) throw new Error(`invalid file mode ${JSON.stringify(mode)}: expected octal like "0644"`);
  const n = parseInt(mode, 8);
  if (n > 0o7777) throw new Error(`invalid file mode ${JSON.stringify(mode)}: above 07777`);
  return n.toString(8).padStart(4, "0");
}

export const isValidMode = (mode: string): boolean => /^[0-7]{1,5}$/.test(mode) && parseInt(mode, 8) <= 0o7777;

/** Single-quote for POSIX sh (the shell helper of the one escaping module, src/core/escape.ts). */
export const shQuote = shellQuote;

/** User/group as written in the spec matches the live file by name or by numeric id. */
const sameIdentity = (want: string, name: string, id: number): boolean => want === name || want === String(id);

// ---------------------------------------------------------------------------------------------
// The operation

export type DesiredFile = Pick<FileSpec, "host" | "path" | "content" | "mode" | "owner" | "group" | "secret" | "encoding">;

export type FileChangeKind = "write" | "chmod" | "chown" | "refuse";

export interface FileChange {
  readonly kind: FileChangeKind;
  /** One line for humans: what and why. */
  readonly reason: string;
  /** Unified content diff (secret content masked). On `write`, and on `refuse` to show the drift. */
  readonly diff?: string;
}

export interface FilePlan {
  readonly host: string;
  readonly path: string;
  /** sha256 of the desired content: what the state records once written. */
  readonly desiredSha256: string;
  /** Empty for a no-op. A `refuse` change is always alone. */
  readonly changes: readonly FileChange[];
  /** Set exactly when `changes` is empty, e.g. "file /etc/x already up to date". */
  readonly noop?: string;
}

export interface PlanFileOptions {
  /**
   * Overwrite a file whose live sha256 differs from the one we last wrote (an out-of-band edit).
   * @default false
   */
  readonly force?: boolean;
  /**
   * Key of the masked hashes of secret content (the inventory's mask salt, src/core/masking.ts).
   * @default - a random key per process
   */
  readonly maskSalt?: string;
  /**
   * A secret (key) file that exists with other content while nothing was recorded for it (no
   * state: a first create, a second operator's empty state) is refused instead of taken over:
   * overwriting a live key splits a running cluster. The caller's opt-in lifts it.
   * @default false
   */
  readonly refuseSecretTakeOver?: boolean;
}

/** Same width as `maskSecret`'s hash: enough to tell versions apart in a message. */
const shortPlain = (sha: string): string => sha.slice(0, 8);

/**
 * Plan one file.
 *
 * `lastWrittenSha256` is the hash recorded in state when we last wrote (or refreshed) the file.
 * When it is undefined (first create), an existing file is taken over: config files are usually
 * shipped by the distribution package and replacing them is the point; the previous copy is kept.
 */
export function planFile(
  desired: DesiredFile,
  live: FileFact | null | false,
  lastWrittenSha256?: string,
  opts: PlanFileOptions = {},
): FilePlan {
  const { host, path } = desired;
  // A secret file's hashes are shown keyed, like its content: a plain sha256 would confirm a guess.
  const short = desired.secret ? (sha: string): string => `h:${keyedShortHash(sha, opts.maskSalt)}` : shortPlain;
  // The bytes that land on disk (`encoding: base64` content is decoded, e.g. a corosync authkey).
  const desiredBytes = fileBytes(desired);
  const desiredSha256 = sha256Hex(desiredBytes);
  const mode = normalizeMode(desired.mode);
  const base = { host, path, desiredSha256 };
  const bytes = desiredBytes.length;

  if (live === false) {
    // Never overridable by `force`: `mv` onto a directory moves *into* it, and replacing a
    // symlink changes what other paths resolve to.
    return {
      ...base,
      changes: [
        { kind: "refuse", reason: `${path} exists but is not a regular file (directory, symlink, device…); remove it by hand first` },
      ],
    };
  }
  if (live === null) {
    return {
      ...base,
      changes: [
        {
          kind: "write",
          reason: `create ${path} (${mode} ${desired.owner}:${desired.group}, ${bytes} bytes)`,
          diff: contentDiff(desired, undefined, undefined, opts.maskSalt),
        },
      ],
    };
  }

  const existing: ExistingFile = { desired, live, lastWrittenSha256, opts, short, desiredSha256 };
  const refused = refusal(existing);
  if (refused) return { ...base, changes: [refused] };
  const changes = existingFileChanges(existing);
  return changes.length === 0 ? { ...base, changes, noop: `file ${path} already up to date` } : { ...base, changes };
}

/** An existing file's plan: what is wanted, what is there, what was last written. */
interface ExistingFile {
  readonly desired: DesiredFile;
  readonly live: FileFact;
  readonly lastWrittenSha256: string | undefined;
  readonly opts: PlanFileOptions;
  /** A sha256 as shown in a message (keyed for a secret file). */
  readonly short: (sha: string) => string;
  readonly desiredSha256: string;
}

/** An existing file that must not be written: edited out of band (without `force`), or a secret haforge has no state for. */
function refusal({ desired, live, lastWrittenSha256, opts, short, desiredSha256 }: ExistingFile): FileChange | undefined {
  const { host, path } = desired;
  const contentDiffers = live.sha256 !== desiredSha256;
  const outOfBand = lastWrittenSha256 !== undefined && live.sha256 !== lastWrittenSha256;
  if (contentDiffers && outOfBand && !opts.force) {
    return {
      kind: "refuse",
      reason:
        `${path} was changed out of band (live sha256 ${short(live.sha256)}…, last written ${short(lastWrittenSha256)}…); ` +
        `refusing to overwrite it: run \`pulumi refresh\` to accept the live file as the baseline, or set force: true`,
      diff: contentDiff(desired, live, live.content, opts.maskSalt),
    };
  }
  if (contentDiffers && lastWrittenSha256 === undefined && desired.secret && opts.refuseSecretTakeOver) {
    return {
      kind: "refuse",
      reason:
        `${path} on ${host} exists with other content (sha256 ${short(live.sha256)}…, haforge would write ${short(desiredSha256)}…) ` +
        `and haforge has no state for it: a key or secret file is never taken over silently. To keep the host's key, let ` +
        `haforge adopt it (generated keys are read back from the hosts when the state has none) or set the secret to the ` +
        `host's value; to replace it, list it in the stack config haforge:takeOver ("${host}:${path}", or "*")`,
    };
  }
  return undefined;
}

/** What brings an existing file to the desired one: its content (take over, update, forced overwrite), mode and owner. */
function existingFileChanges({ desired, live, lastWrittenSha256, opts, short, desiredSha256 }: ExistingFile): FileChange[] {
  const { path } = desired;
  const mode = normalizeMode(desired.mode);
  const outOfBand = lastWrittenSha256 !== undefined && live.sha256 !== lastWrittenSha256;
  const changes: FileChange[] = [];
  if (live.sha256 !== desiredSha256) {
    const why =
      lastWrittenSha256 === undefined
        ? `take over existing ${path} (sha256 ${short(live.sha256)}… → ${short(desiredSha256)}…)`
        : outOfBand
          ? `overwrite out-of-band edit of ${path} (force: live sha256 ${short(live.sha256)}…, last written ${short(lastWrittenSha256)}…)`
          : `update ${path} (sha256 ${short(live.sha256)}… → ${short(desiredSha256)}…)`;
    changes.push({ kind: "write", reason: why, diff: contentDiff(desired, live, live.content, opts.maskSalt) });
  }
  if (live.mode !== mode) changes.push({ kind: "chmod", reason: `mode of ${path} ${live.mode} → ${mode}` });
  if (!sameIdentity(desired.owner, live.owner, live.uid) || !sameIdentity(desired.group, live.group, live.gid)) {
    changes.push({ kind: "chown", reason: `owner of ${path} ${live.owner}:${live.group} → ${desired.owner}:${desired.group}` });
  }
  return changes;
}

/** Beyond this, a line diff costs more than it tells; show sizes and hashes instead. */
const MAX_DIFF_BYTES = 256 * 1024;
/** jsdiff gives up (deterministically) past this many edits; we then summarize. */
const MAX_EDIT_LENGTH = 5000;

function contentDiff(
  desired: DesiredFile,
  live: FileFact | undefined,
  liveContent: string | undefined,
  maskSalt: string | undefined,
): string {
  const { path } = desired;
  const short = desired.secret ? (sha: string): string => `h:${keyedShortHash(sha, maskSalt)}` : shortPlain;
  const oldName = live ? `a${path}` : "/dev/null";
  const summary = (): string =>
    `--- ${oldName}\n+++ b${path}\n` +
    `@@ content differs: ${live ? `${live.size} bytes sha256 ${short(live.sha256)}…` : "absent"} → ` +
    `${fileBytes(desired).length} bytes sha256 ${short(sha256Hex(fileBytes(desired)))}… (not shown: binary or too large) @@\n`;

  if (live && liveContent === undefined) return summary();
  if (desired.encoding === "base64" && !desired.secret) return summary();
  let oldText = liveContent ?? "";
  let newText = desired.content;
  if (desired.secret) {
    oldText = live ? `${maskSecret(oldText, maskSalt)}\n` : "";
    newText = `${maskSecret(newText, maskSalt)}\n`;
  }
  if (Buffer.byteLength(oldText) > MAX_DIFF_BYTES || Buffer.byteLength(newText) > MAX_DIFF_BYTES) return summary();
  // The diff library loads with the first patch, not with this module (the program imports it).
  const { createTwoFilesPatch } = require("diff") as typeof import("diff");
  const patch = createTwoFilesPatch(oldName, `b${path}`, oldText, newText, undefined, undefined, {
    context: 3,
    maxEditLength: MAX_EDIT_LENGTH,
  });
  if (patch === undefined) return summary();
  // jsdiff starts with an "Index:"-less "===" separator line; keep only the standard part.
  return patch.replace(/^=+\n/, "");
}

// ---------------------------------------------------------------------------------------------
// Commands that carry a plan out (pure builders; executed by the RemoteFile provider)

/** Exit codes of `writeFileScript`, so the caller can name the failed step. */
export const WRITE_EXIT = {
  mkdir: 20,
  tempfile: 21,
  transfer: 22,
  metadata: 23,
  validate: 24,
  backup: 25,
  raced: 26,
  rename: 27,
} as const;

export interface WriteFileScriptArgs {
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  /** sha256 of the bytes the caller streams on stdin: a truncated transfer never gets renamed. */
  readonly sha256: string;
  readonly size: number;
  /**
   * The live sha256 the plan was made against ("absent" for none). Checked again right before the
   * rename so an edit made while we were uploading/validating is not clobbered.
   */
  readonly expectLive: string;
  /** Validation command; `{file}` is replaced by the temp file's path. */
  readonly validate?: string;
  /** @default 60 */
  readonly validateTimeoutSec?: number;
  /** Keep the replaced file as `<path>.haforge-prev` (hard link, so it costs no copy). */
  readonly keepPrevious: boolean;
  /**
   * Stop after the validator: the candidate is uploaded and judged beside the target as a write
   * would be, then removed; nothing is replaced (a preview's verdict, `validateFileOnHost`).
   */
  readonly checkOnly?: boolean;
}

export const PREV_SUFFIX = ".haforge-prev";
export const TEMP_INFIX = ".haforge-tmp-";

/**
 * Atomic replace: temp file beside the target (same filesystem, so rename(2) is atomic), content
 * from stdin, hash check (a dropped connection gives `cat` an early EOF: without this check a
 * truncated file would be renamed into place), owner/mode on the temp, validator on the temp,
 * fsync, hard-link the old file to `.haforge-prev`, re-check the live hash, `mv -T`.
 * The EXIT trap removes the temp on every failure path, including SIGHUP when sshd goes away.
 */
export function writeFileScript(a: WriteFileScriptArgs): string {
  const dir = a.path.slice(0, a.path.lastIndexOf("/")) || "/";
  const base = a.path.slice(a.path.lastIndexOf("/") + 1);
  const mode = normalizeMode(a.mode);
  const lines = [
    `target=${shQuote(a.path)}`,
    `dir=${shQuote(dir)}`,
    `prev="$target"${shQuote(PREV_SUFFIX)}`,
    `tmp=`,
    `trap 'if [ -n "$tmp" ]; then rm -f -- "$tmp"; fi' EXIT`,
    `trap 'exit 129' HUP`,
    `trap 'exit 130' INT`,
    `trap 'exit 143' TERM`,
    // When sshd goes away our stdout/stderr pipes break: a write must fail with EPIPE, not kill
    // the shell with SIGPIPE (which would skip the EXIT trap and leave the temp file behind).
    `trap '' PIPE`,
    // Parent directories are created like `install -d` would: config dirs are usually owned by root.
    `[ -d "$dir" ] || mkdir -p -m 0755 -- "$dir" || exit ${WRITE_EXIT.mkdir}`,
    // Temp files of runs killed outright (SIGKILL, reboot) cannot clean up after themselves.
    `find "$dir" -maxdepth 1 -name ${shQuote(`.${base}${TEMP_INFIX}*`)} -mmin +60 -delete 2>/dev/null || true`,
    `tmp=$(mktemp "$dir"/${shQuote(`.${base}${TEMP_INFIX}`)}XXXXXX) || exit ${WRITE_EXIT.tempfile}`,
    `cat > "$tmp" || exit ${WRITE_EXIT.transfer}`,
    `got=$(sha256sum -- "$tmp") || exit ${WRITE_EXIT.transfer}`,
    `if [ "\${got%% *}" != ${shQuote(a.sha256)} ]; then echo "transfer incomplete: received $(wc -c < "$tmp") of ${a.size} bytes" >&2; exit ${WRITE_EXIT.transfer}; fi`,
    // chown before chmod: chown clears setuid/setgid bits.
    `chown -- ${shQuote(`${a.owner}:${a.group}`)} "$tmp" || exit ${WRITE_EXIT.metadata}`,
    `chmod -- ${mode} "$tmp" || exit ${WRITE_EXIT.metadata}`,
  ];
  if (a.validate !== undefined && a.validate.trim() !== "") {
    // The validator sees the temp path as "$1" (never spliced into the command text unquoted).
    // It runs in the target's directory so relative includes resolve as they will for the daemon.
    const cmd = a.validate.split("{file}").join(`"$1"`);
    const secs = a.validateTimeoutSec ?? 60;
    lines.push(
      `( cd "$dir" && timeout -k 5 ${secs} sh -c ${shQuote(cmd)} haforge-validate "$tmp" ) >&2 || { rc=$?; echo "validator exited $rc" >&2; exit ${WRITE_EXIT.validate}; }`,
    );
  }
  if (a.checkOnly) {
    lines.push(`echo HAFORGE-VALIDATED`, `exit 0`);
    return lines.join("\n");
  }
  lines.push(`sync -- "$tmp" 2>/dev/null || true`, `had_prev=0`, `if [ -e "$target" ]; then had_prev=1; fi`);
  if (a.keepPrevious) {
    lines.push(
      `if [ "$had_prev" = 1 ]; then ln -f -- "$target" "$prev" 2>/dev/null || cp -p -- "$target" "$prev" || exit ${WRITE_EXIT.backup}; fi`,
    );
  }
  lines.push(
    // Compare-and-swap: the plan was made against `expectLive`; anything else means someone
    // edited the file meanwhile.
    `if [ -e "$target" ]; then now=$(sha256sum -- "$target") || exit ${WRITE_EXIT.raced}; now="\${now%% *}"; else now=absent; fi`,
    `if [ "$now" != ${shQuote(a.expectLive)} ]; then echo "$target changed while it was being written (now $now)" >&2; exit ${WRITE_EXIT.raced}; fi`,
    `mv -fT -- "$tmp" "$target" || exit ${WRITE_EXIT.rename}`,
    `tmp=`,
    `echo "HAFORGE-WRITTEN had_prev=$had_prev"`,
  );
  return lines.join("\n");
}

/** chown/chmod in place, for metadata-only plans. */
export function metadataScript(path: string, owner: string, group: string, mode: string): string {
  return `chown -- ${shQuote(`${owner}:${group}`)} ${shQuote(path)} && chmod -- ${normalizeMode(mode)} ${shQuote(path)}`;
}

/** Undo a rename after a failed activation: put the previous file back (atomically), or remove a new one. */
export function restorePreviousScript(path: string, hadPrevious: boolean): string {
  const p = shQuote(path);
  const prev = shQuote(path + PREV_SUFFIX);
  return hadPrevious ? `mv -fT -- ${prev} ${p}` : `rm -f -- ${p}`;
}

/** Remove a file only if it is still exactly what we wrote. Prints HAFORGE-DELETE removed|absent|kept <sha>. */
export function removeIfUnchangedScript(path: string, sha256: string): string {
  return [
    `p=${shQuote(path)}`,
    `if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo "HAFORGE-DELETE absent"; exit 0; fi`,
    `if [ -L "$p" ] || [ ! -f "$p" ]; then echo "HAFORGE-DELETE kept not-a-file"; exit 0; fi`,
    `got=$(sha256sum -- "$p") || exit 1`,
    `got="\${got%% *}"`,
    `if [ "$got" != ${shQuote(sha256)} ]; then echo "HAFORGE-DELETE kept $got"; exit 0; fi`,
    `rm -f -- "$p" && echo "HAFORGE-DELETE removed"`,
  ].join("\n");
}
