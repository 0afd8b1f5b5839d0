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
import { actionsThatWouldRun, formatRun, type PlannedRun } from "../render/action-diff";
import { findingsJson, formatFindings } from "./format";
import { limitFailed, limitPatterns, resolveLimit } from "./limit";
import { PLAIN, colourDiff, styleFor, type Style } from "./style";
import { EXIT, UsageError, type CliIo } from "./io";
import { defaultKnownHostsFile, failedReport, prepareRender, type RenderOptions } from "./render";
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
  /**
   * Bound on each host's work (connect + read), in ms: a host with no answer by then is reported
   * unreachable (step "timeout") and the others go on. @default - none (the transport's own bounds)
   */
  readonly hostTimeoutMs?: number;
  /** Called as each host is done (in the order hosts answer), with its time in ms: progress. */
  readonly onHost?: (h: LiveHostDiff, ms: number) => void;
}

export const DEFAULT_LIVE_DIFF_CONCURRENCY = 8;
/** SshPool's default dial attempts (src/transport/pool.ts). */
const DIAL_ATTEMPTS = 4;

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

  const hostWork = async ([host, wanted]: [string, LiveDiffFile[]]): Promise<LiveHostDiff> => {
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
  };
  const hosts = await mapLimit([...byHost.entries()], opts.concurrency ?? DEFAULT_LIVE_DIFF_CONCURRENCY, async (entry) => {
    const start = Date.now();
    const result =
      opts.hostTimeoutMs === undefined
        ? await hostWork(entry)
        : await withHostTimeout(entry[0], connections, hostWork(entry), opts.hostTimeoutMs);
    opts.onHost?.(result, Date.now() - start);
    return result;
  });
  const changed = (h: LiveHostDiff) => h.files.filter((f) => f.plan.changes.length > 0).length;
  return {
    hosts,
    changedFiles: hosts.reduce((n, h) => n + changed(h), 0),
    changedHosts: hosts.filter((h) => changed(h) > 0).length,
    failedHosts: hosts.filter((h) => h.error).map((h) => h.host),
  };
}

/** A host that has not answered within `ms` is unreachable; whatever it does later is ignored. */
async function withHostTimeout(
  host: string,
  connections: ReadonlyMap<string, HostConnection>,
  work: Promise<LiveHostDiff>,
  ms: number,
): Promise<LiveHostDiff> {
  let timer: NodeJS.Timeout | undefined;
  const conn = connections.get(host);
  const timedOut = new Promise<LiveHostDiff>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          host,
          target: conn ? describeTarget(conn) : "?",
          files: [],
          error: { step: "timeout", detail: `no answer within ${formatDuration(ms)} (--timeout)` },
        }),
      ms,
    );
  });
  // The late answer (or failure) of a host already reported is dropped.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** `30s`, `1m30s`, `500ms`, `2m`, `1h`, or a bare number of seconds → ms. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let seen = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t))) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
    seen = re.lastIndex;
  }
  return seen === t.length && seen > 0 ? Math.round(total) : undefined;
}

export const formatDuration = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

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

/** What changed files would run on each host (restarts, actions triggered by those files). */
export type LiveActions = ReadonlyMap<string, readonly PlannedRun[]>;

export function formatLiveDiff(d: LiveDiff, style: Style = PLAIN, actions: LiveActions = new Map(), quiet = false): FormattedLiveDiff {
  const out: string[] = [];
  const errors: string[] = [];
  for (const h of d.hosts) {
    if (h.error) {
      errors.push(`${h.host}: FAILED at step "${h.error.step}" (${h.target}): ${h.error.detail}`);
      continue;
    }
    const changed = h.files.filter((f) => f.plan.changes.length > 0);
    if (quiet) {
      for (const f of changed) out.push(`${f.plan.changes.map((c) => c.kind).join(",")} ${h.host}:${f.path}`);
      for (const r of actions.get(h.host) ?? []) out.push(`${r.run} ${h.host}:${r.id}`);
      continue;
    }
    out.push(style.bold(`== ${h.host} (${h.target}): ${changed.length} of ${h.files.length} file(s) would change`));
    for (const f of changed) {
      for (const c of f.plan.changes) {
        out.push(`${h.host}: ${c.kind} ${c.reason}`);
        if (c.kind === "write" && f.takeOver) {
          out.push(
            `${h.host}: note: ${f.path} was not written by haforge as far as the CLI knows (no state): it would be taken over, the current copy kept as ${f.path}${PREV_SUFFIX}`,
          );
        }
        if (c.diff) out.push(colourDiff(c.diff.endsWith("\n") ? c.diff.slice(0, -1) : c.diff, style));
      }
      if (f.notify.length && f.plan.changes.some((c) => c.kind !== "refuse")) out.push(`${h.host}: then notify ${f.notify.join(", ")}`);
    }
    const runs = actions.get(h.host) ?? [];
    if (runs.length) {
      out.push(style.bold(`== ${h.host}: actions that would run`));
      for (const r of runs) out.push(`  ${formatRun(r)}`);
    }
  }
  if (!quiet) {
    const failed = d.failedHosts.length ? `; ${d.failedHosts.length} host(s) could not be read: ${d.failedHosts.join(", ")}` : "";
    const n = [...actions.values()].reduce((k, r) => k + r.length, 0);
    out.push(`${d.changedFiles} file(s) would change on ${d.changedHosts} host(s)${failed}`);
    if (n) out.push(`${n} action(s) would run`);
  }
  return { out, errors };
}

/** The JSON shape of `diff --live --json` (README, "CLI"): same fields as the render-vs-render review, plus targets and unreachable hosts. */
export function liveDiffJson(d: LiveDiff, actions: LiveActions, ms: ReadonlyMap<string, number>) {
  return {
    hosts: d.hosts.map((h) => ({
      host: h.host,
      target: h.target,
      ...(ms.has(h.host) ? { ms: ms.get(h.host) } : {}),
      ...(h.error ? { unreachable: { step: h.error.step, reason: h.error.detail } } : {}),
      files: h.files
        .filter((f) => f.plan.changes.length > 0)
        .map((f) => {
          const write = f.plan.changes.find((c) => c.kind === "write");
          return {
            path: f.path,
            change: write ? (f.takeOver ? "changed" : "added") : f.plan.changes.some((c) => c.kind === "refuse") ? "refused" : "meta",
            operations: f.plan.changes.map((c) => ({ kind: c.kind, reason: c.reason })),
            ...(write?.diff !== undefined ? { diff: write.diff } : {}),
            takeOver: f.takeOver,
            notify: [...f.notify],
          };
        }),
      actions: (actions.get(h.host) ?? []).map(({ host: _h, ...r }) => r),
    })),
    changedFiles: d.changedFiles,
    changedHosts: d.changedHosts,
    actions: [...actions.values()].reduce((k, r) => k + r.length, 0),
    unreachableHosts: [...d.failedHosts],
  };
}

/** One stderr line per host as it answers: `host ok|changed|unreachable (n files, t ms)`. */
export function hostProgressLine(h: LiveHostDiff, ms: number, style: Style = PLAIN): string {
  if (h.error) return `${h.host} ${style.red("unreachable")} (${h.error.step}: ${h.error.detail}; ${ms} ms)`;
  const changed = h.files.filter((f) => f.plan.changes.length > 0).length;
  return changed
    ? `${h.host} ${style.yellow("changed")} (${changed} of ${h.files.length} files, ${ms} ms)`
    : `${h.host} ${style.green("ok")} (${h.files.length} files, ${ms} ms)`;
}

// ---------------------------------------------------------------------------------------------
// The handler

export interface LiveDiffCliOptions extends Pick<RenderOptions, "secrets" | "materials"> {
  /** Older spelling of `limit` (host names, repeatable). */
  readonly host?: readonly string[];
  /** Ansible-like host patterns: names, globs, groups, `!pattern` (repeatable, comma separated). @default - every host with files */
  readonly limit?: readonly string[];
  /** @default DEFAULT_LIVE_DIFF_CONCURRENCY */
  readonly concurrency?: string;
  /** Per-host bound (`30s`, `2m`, `500ms`). @default - none */
  readonly timeout?: string;
  readonly exitCode?: boolean;
  readonly json?: boolean;
  readonly quiet?: boolean;
  readonly color?: boolean;
}

/** Exit 1 on inventory errors (nothing contacted), 2 if a host could not be read, 1 with --exit-code when something would change. */
/** --concurrency and --timeout, checked (a usage error otherwise). */
function liveDiffBounds(opts: LiveDiffCliOptions): { concurrency: number; timeoutMs: number | undefined } {
  const concurrency = opts.concurrency === undefined ? DEFAULT_LIVE_DIFF_CONCURRENCY : Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UsageError(`--concurrency must be a positive integer, got ${JSON.stringify(opts.concurrency)}`);
  const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
  if (timeoutMs !== undefined && timeoutMs < 1) throw new UsageError(`--timeout must be more than 0, got ${JSON.stringify(opts.timeout)}`);
  if (opts.timeout !== undefined && timeoutMs === undefined)
    throw new UsageError(`--timeout ${JSON.stringify(opts.timeout)} is not a duration (30s, 2m, 1m30s, 500ms, or seconds)`);
  return { concurrency, timeoutMs };
}

/** Keys accepted on trust-on-first-use are pinned from now on: the next run refuses any other. */
function recordTrustedOnFirstUse(pool: SshPool, tofuFile: string, io: CliIo): void {
  const trusted = pool.hostKeysSeen().filter((k) => k.trustedOnFirstUse);
  if (trusted.length) {
    recordTrustedKeys(tofuFile, trusted);
    for (const k of trusted)
      io.err(
        `${k.host}: trusted on first use: ${k.key.split(" ")[0]} ${k.fingerprint} (recorded in ${tofuFile}; later runs accept only this key)`,
      );
  }
}

export async function liveDiffCommand(
  file: string,
  opts: LiveDiffCliOptions,
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { concurrency, timeoutMs } = liveDiffBounds(opts);
  const style = styleFor(io, env, opts);
  const note = (t: string) => {
    if (!opts.quiet) io.err(t);
  };
  const p = prepareRender(file, opts, io, env, undefined, failedReport(opts, io, style));
  if (typeof p === "number") return p;
  const limit = resolveLimit(p.plan, limitPatterns(opts));
  const failed = limitFailed(limit, opts, io);
  if (failed !== undefined) return failed;
  if (p.missing.length) note(`warning: unresolved secrets (diffed as markers): ${p.missing.join(", ")}`);
  if (p.generated.length) note(`generated materials: ${p.generated.join(", ")}`);
  const findings = [...p.analysis.findings, ...p.late];
  if (!opts.quiet && findings.length) io.err(formatFindings(findings, p.analysis, style));
  if (p.state.manifests.length) note(`note: ${p.state.manifests.length} Kubernetes object(s) are not compared here`);

  const only = new Set(limit.hosts);
  const files = p.state.hosts.filter((h) => only.has(h.host)).flatMap((h) => h.files);
  // A pool of our own, closed at the end: open connections would keep the process alive. With a
  // --timeout, the pool's dials (4 attempts) give up by about then too: its close waits for
  // dials in flight, and a silent host must not hold the command past its bound.
  const pool = new SshPool(
    timeoutMs === undefined ? {} : { readyTimeoutMs: Math.max(1000, Math.min(20_000, Math.floor(timeoutMs / DIAL_ATTEMPTS))) },
  );
  const tofuFile = defaultKnownHostsFile(file);
  const times = new Map<string, number>();
  let result: LiveDiff;
  try {
    result = await liveDiff(files, hostConnections(p.plan.hosts, p.values, { tofuFile }), {
      pool,
      concurrency,
      toMask: p.toMask,
      ...(p.salt ? { salt: p.salt } : {}),
      ...(timeoutMs !== undefined ? { hostTimeoutMs: timeoutMs } : {}),
      onHost: (h, ms) => {
        times.set(h.host, ms);
        note(hostProgressLine(h, ms, style));
      },
    });
  } finally {
    recordTrustedOnFirstUse(pool, tofuFile, io);
    await pool.close();
  }
  // What the files that would change trigger: restarts of the services they notify, actions
  // that follow them. Membership actions need the state (`pulumi preview` shows those).
  const wouldWrite = new Set(
    result.hosts.flatMap((h) => h.files.filter((f) => f.plan.changes.some((c) => c.kind === "write")).map((f) => `${h.host}:${f.path}`)),
  );
  // Commands carrying secrets are masked like the render tree's manifest (src/render/output.ts).
  const shownActions = p.state.actions.map((a) =>
    a.secret
      ? { ...a, create: maskText(a.create, p.toMask, p.salt), ...(a.delete ? { delete: maskText(a.delete, p.toMask, p.salt) } : {}) }
      : a,
  );
  const manifest = { actions: shownActions, services: p.state.hosts.flatMap((h) => h.services), files };
  const actions = new Map<string, PlannedRun[]>();
  for (const r of actionsThatWouldRun(manifest, manifest, wouldWrite)) {
    if (!only.has(r.host)) continue;
    actions.set(r.host, [...(actions.get(r.host) ?? []), r]);
  }
  if (opts.json) {
    io.out(JSON.stringify({ ...liveDiffJson(result, actions, times), findings: findingsJson(findings, p.analysis) }, null, 2));
  } else {
    const text = formatLiveDiff(result, style, actions, opts.quiet ?? false);
    for (const line of text.out) io.out(line);
    for (const line of text.errors) io.err(line);
  }
  if (result.failedHosts.length) return EXIT.usage;
  return opts.exitCode && (result.changedFiles || actions.size) ? EXIT.invalid : EXIT.ok;
}
