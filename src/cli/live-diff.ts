/**
 * `haforge diff <inventory> --live`: what `pulumi up` would change, against the live hosts.
 *
 * - `liveDiff` is the operation (callable without the CLI): per host, ONE pooled connection and
 *   ONE command reading every file fact (`readFileFacts`), then `planFile` for each file: the
 *   very operation RemoteFile's provider diff and apply run (docs/architecture.md, "File facts and operations").
 *   It only reads: the fact script is the single command sent to a host.
 * - `formatLiveDiff` turns the result into text; `liveDiffCommand` is the handler: render the
 *   inventory exactly like `haforge render` (shared `prepareRender`), call both, pick the exit code.
 *
 * No `lastSha` is passed to planFile: the CLI has no Pulumi state, so an existing file that
 * differs is reported as "take over" (the first `pulumi up` replaces it and keeps the previous
 * copy) and out-of-band edits cannot be told apart from files never written by haforge.
 */
import { PREV_SUFFIX, planFile, type DesiredFile, type FileFact, type FilePlan } from "../core/file-ops";
import type { FileSpec } from "../core/desired-state";
import { formatFindings } from "./format";
import { EXIT, UsageError, type CliIo } from "./io";
import { defaultKnownHostsFile, prepareRender, type RenderOptions } from "./render";
import { PLACEHOLDER_RE, keyedShortHash, maskFileContent, maskText } from "../core/masking";
import { RemoteFileError, readFileFacts } from "../transport";
import { SshPool, TransportError, getDefaultPool, hostConnections, mapLimit, recordTrustedKeys, type HostConnection } from "../transport";

// ---------------------------------------------------------------------------------------------
// The operation

export type LiveDiffFile = DesiredFile & Partial<Pick<FileSpec, "notify">>;

export interface LiveDiffOptions {
  /** Hosts worked on at once. @default DEFAULT_LIVE_DIFF_CONCURRENCY */
  readonly concurrency?: number;
  /** @default getDefaultPool() */
  readonly pool?: SshPool;
  /**
   * Secret values to mask inside files that are not flagged secret (a password in a keepalived
   * config), by label: the render tree's masking (src/render/output.ts, `secretsToMask`).
   * @default - none (secret files are masked whole by planFile regardless)
   */
  readonly toMask?: ReadonlyMap<string, string>;
  /** Key of the masked-value hashes (the inventory's mask salt material). @default - a random key per process */
  readonly salt?: string;
}

export const DEFAULT_LIVE_DIFF_CONCURRENCY = 8;

export interface LiveFileDiff {
  readonly path: string;
  /** planFile's verdict; write diffs have secret values masked. */
  readonly plan: FilePlan;
  /** The file exists and differs: with no state, the first apply takes it over (keeping a copy). */
  readonly takeOver: boolean;
  readonly notify: readonly string[];
}

export interface LiveHostDiff {
  readonly host: string;
  /** `user@address:port` (plus the bastion), for the header. */
  readonly target: string;
  readonly files: readonly LiveFileDiff[];
  /** Set when the host could not be read: nothing about its files is known. */
  readonly error?: { readonly step: string; readonly detail: string };
}

export interface LiveDiff {
  readonly hosts: readonly LiveHostDiff[];
  /** Files with at least one change (write, chmod, chown or refuse). */
  readonly changedFiles: number;
  readonly changedHosts: number;
  readonly failedHosts: readonly string[];
}

const describeTarget = (c: HostConnection): string => `${c.user}@${c.address}:${c.port ?? 22}${c.bastion ? ` via ${c.bastion.host}` : ""}`;

/**
 * Plan every file against the live hosts. Files are grouped by `host` (first-seen order); a host
 * without a connection, or one that cannot be reached or read, gets an `error` and the others go on.
 */
export async function liveDiff(
  files: readonly LiveDiffFile[],
  connections: ReadonlyMap<string, HostConnection>,
  opts: LiveDiffOptions = {},
): Promise<LiveDiff> {
  const pool = opts.pool ?? getDefaultPool();
  const byHost = new Map<string, LiveDiffFile[]>();
  for (const f of files) byHost.set(f.host, [...(byHost.get(f.host) ?? []), f]);

  const hosts = await mapLimit(
    [...byHost.entries()],
    opts.concurrency ?? DEFAULT_LIVE_DIFF_CONCURRENCY,
    async ([host, wanted]): Promise<LiveHostDiff> => {
      const conn = connections.get(host);
      if (!conn) return { host, target: "?", files: [], error: { step: "connect", detail: "no connection settings for this host" } };
      const target = describeTarget(conn);
      let facts: Map<string, FileFact | null | false>;
      try {
        facts = await readFileFacts(
          pool,
          conn,
          wanted.map((f) => f.path),
        );
      } catch (e) {
        // Both carry "<host>: <step>: <detail>"; anything else is a bug and propagates.
        if (!(e instanceof TransportError || e instanceof RemoteFileError)) throw e;
        const prefix = `${e.host}: ${e.step}: `;
        return {
          host,
          target,
          files: [],
          error: { step: e.step, detail: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message },
        };
      }
      return {
        host,
        target,
        files: wanted.map((desired) => {
          const live = facts.get(desired.path)!;
          const plan = maskPlan(
            desired,
            live,
            planFile(desired, live, undefined, opts.salt === undefined ? {} : { maskSalt: opts.salt }),
            opts,
          );
          const takeOver = live !== false && live !== null && plan.changes.some((c) => c.kind === "write");
          return { path: desired.path, plan, takeOver, notify: desired.notify ?? [] };
        }),
      };
    },
  );
  const changed = (h: LiveHostDiff) => h.files.filter((f) => f.plan.changes.length > 0).length;
  return {
    hosts,
    changedFiles: hosts.reduce((n, h) => n + changed(h), 0),
    changedHosts: hosts.filter((h) => changed(h) > 0).length,
    failedHosts: hosts.filter((h) => h.error).map((h) => h.host),
  };
}

// ---------------------------------------------------------------------------------------------
// Masking secret values inside non-secret files

const PLACEHOLDER = PLACEHOLDER_RE;
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Mask the live file's text. Current secret values are masked like the render tree does; the
 * *old* value of a secret that changed is not known, so it is found by position instead: a live
 * line with the same text around it as a desired line that carried a placeholder (e.g.
 * `auth_pass OLD` against `auth_pass <secret:…>`) gets the old value masked under the same label.
 */
function maskLive(liveText: string, maskedDesired: string, opts: LiveDiffOptions): string {
  const toMask = opts.toMask ?? new Map<string, string>();
  const current = maskText(liveText, toMask, opts.salt);
  const shapes: { re: RegExp; labels: string[]; literals: string[] }[] = [];
  for (const line of new Set(maskedDesired.split("\n"))) {
    const labels = [...line.matchAll(PLACEHOLDER)].map((m) => m[1]!);
    if (labels.length === 0) continue;
    const literals = line.split(PLACEHOLDER).filter((_, i) => i % 2 === 0); // split also returns the captured labels
    // A line that is nothing but the secret would match every line: no position to go by.
    if (literals.join("").trim().length < 2) continue;
    shapes.push({ re: new RegExp(`^${literals.map(escapeRe).join("(.+?)")}$`), labels, literals });
  }
  if (shapes.length === 0) return current;
  return current
    .split("\n")
    .map((line) => {
      if (line.includes("<secret:")) return line;
      for (const { re, labels, literals } of shapes) {
        const m = re.exec(line);
        if (!m) continue;
        // The literals around the captured (old) values, with each value replaced by its placeholder.
        return literals.map((lit, i) => (i === 0 ? lit : `<secret:${labels[i - 1]} h:${keyedShortHash(m[i]!, opts.salt)}>${lit}`)).join("");
      }
      return line;
    })
    .join("\n");
}

/**
 * planFile masks secret files whole; here the secret VALUES are masked instead, in secret text
 * files too (a secret file where no known value is found stays masked whole), so the rest of the
 * file is reviewable. The diff is recomputed by the same planFile over masked text on both sides
 * (so it stays a real unified diff of what changes), and the result is masked once more as a
 * backstop.
 */
function maskPlan(desired: DesiredFile, live: FileFact | null | false, plan: FilePlan, opts: LiveDiffOptions): FilePlan {
  const toMask = opts.toMask ?? new Map<string, string>();
  if (desired.encoding === "base64" || !plan.changes.some((c) => c.kind === "write" && c.diff !== undefined)) return plan;
  const maskedDesired = maskFileContent({ content: desired.content, secret: desired.secret }, toMask, opts.salt);
  // A secret file without any known value in it: planFile's whole-file mask is all that can be shown.
  if (desired.secret && /^<secret:file h:[0-9a-f]{8}>\n$/.test(maskedDesired)) return plan;
  const liveFact = live === false ? null : live;
  // Only text diffs carry content; the binary/too-large summary shows sizes and hashes only.
  const textual = liveFact === null || liveFact.content !== undefined;
  let diff = plan.changes.find((c) => c.kind === "write")!.diff!;
  if (textual) {
    const maskedLive = liveFact ? { ...liveFact, content: maskLive(liveFact.content!, maskedDesired, opts) } : null;
    const shown = planFile({ ...desired, secret: false, content: maskedDesired }, maskedLive).changes.find((c) => c.kind === "write")?.diff;
    diff =
      shown !== undefined && /^@@ /m.test(shown)
        ? shown
        : `--- a${desired.path}\n+++ b${desired.path}\n@@ content differs only in masked secret values @@\n`;
  }
  diff = maskText(diff, toMask, opts.salt);
  return { ...plan, changes: plan.changes.map((c) => (c.kind === "write" ? { ...c, diff } : c)) };
}

// ---------------------------------------------------------------------------------------------
// Text

export interface FormattedLiveDiff {
  /** Diffs, change lines and the summary (stdout). */
  readonly out: readonly string[];
  /** One line per host that could not be read (stderr). */
  readonly errors: readonly string[];
}

export function formatLiveDiff(d: LiveDiff): FormattedLiveDiff {
  const out: string[] = [];
  const errors: string[] = [];
  for (const h of d.hosts) {
    if (h.error) {
      errors.push(`${h.host}: FAILED at step "${h.error.step}" (${h.target}): ${h.error.detail}`);
      continue;
    }
    const changed = h.files.filter((f) => f.plan.changes.length > 0);
    out.push(`== ${h.host} (${h.target}): ${changed.length} of ${h.files.length} file(s) would change`);
    for (const f of changed) {
      for (const c of f.plan.changes) {
        out.push(`${h.host}: ${c.kind} ${c.reason}`);
        if (c.kind === "write" && f.takeOver) {
          out.push(
            `${h.host}: note: ${f.path} was not written by haforge as far as the CLI knows (no state): it would be taken over, the current copy kept as ${f.path}${PREV_SUFFIX}`,
          );
        }
        if (c.diff) out.push(c.diff.endsWith("\n") ? c.diff.slice(0, -1) : c.diff);
      }
      if (f.notify.length && f.plan.changes.some((c) => c.kind !== "refuse")) out.push(`${h.host}: then notify ${f.notify.join(", ")}`);
    }
  }
  const failed = d.failedHosts.length ? `; ${d.failedHosts.length} host(s) could not be read: ${d.failedHosts.join(", ")}` : "";
  out.push(`${d.changedFiles} file(s) would change on ${d.changedHosts} host(s)${failed}`);
  return { out, errors };
}

// ---------------------------------------------------------------------------------------------
// The handler

export interface LiveDiffCliOptions extends Pick<RenderOptions, "secrets" | "materials"> {
  /** Only these inventory hosts (repeatable). @default - every host with files */
  readonly host?: readonly string[];
  /** @default DEFAULT_LIVE_DIFF_CONCURRENCY */
  readonly concurrency?: string;
  readonly exitCode?: boolean;
}

/** Exit 1 on inventory errors (nothing contacted), 2 if a host could not be read, 1 with --exit-code when something would change. */
export async function liveDiffCommand(
  file: string,
  opts: LiveDiffCliOptions,
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const concurrency = opts.concurrency === undefined ? DEFAULT_LIVE_DIFF_CONCURRENCY : Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UsageError(`--concurrency must be a positive integer, got ${JSON.stringify(opts.concurrency)}`);
  const p = prepareRender(file, opts, io, env);
  if (typeof p === "number") return p;
  const known = p.plan.hosts.map((h) => h.name);
  const unknown = (opts.host ?? []).filter((n) => !known.includes(n));
  if (unknown.length) throw new UsageError(`--host ${unknown.join(", ")}: not in the inventory (hosts: ${known.join(", ")})`);
  if (p.missing.length) io.err(`warning: unresolved secrets (diffed as markers): ${p.missing.join(", ")}`);
  if (p.generated.length) io.err(`generated materials: ${p.generated.join(", ")}`);
  if (p.analysis.findings.length || p.late.length) io.err(formatFindings([...p.analysis.findings, ...p.late]));
  if (p.state.manifests.length) io.err(`note: ${p.state.manifests.length} Kubernetes object(s) are not compared here`);

  const only = new Set(opts.host ?? known);
  const files = p.state.hosts.filter((h) => only.has(h.host)).flatMap((h) => h.files);
  // A pool of our own, closed at the end: open connections would keep the process alive.
  const pool = new SshPool();
  const tofuFile = defaultKnownHostsFile(file);
  let result: LiveDiff;
  try {
    result = await liveDiff(files, hostConnections(p.plan.hosts, p.values, { tofuFile }), {
      pool,
      concurrency,
      toMask: p.toMask,
      ...(p.salt ? { salt: p.salt } : {}),
    });
  } finally {
    // Keys accepted on trust-on-first-use are pinned from now on: the next run refuses any other.
    const trusted = pool.hostKeysSeen().filter((k) => k.trustedOnFirstUse);
    if (trusted.length) {
      recordTrustedKeys(tofuFile, trusted);
      for (const k of trusted)
        io.err(
          `${k.host}: trusted on first use: ${k.key.split(" ")[0]} ${k.fingerprint} (recorded in ${tofuFile}; later runs accept only this key)`,
        );
    }
    await pool.close();
  }
  const text = formatLiveDiff(result);
  for (const line of text.out) io.out(line);
  for (const line of text.errors) io.err(line);
  if (result.failedHosts.length) return EXIT.usage;
  return opts.exitCode && result.changedFiles ? EXIT.invalid : EXIT.ok;
}
