import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import yaml from "js-yaml";
import { analyzeInventoryFile, type Analysis } from "../pipeline/analyze";
import { MASK_SALT_KEY, MASK_SALT_SPEC } from "../core/masking";
import { derivedSecrets } from "../pipeline/derived-secrets";
import { collectSecretRefs, secretsToMask, writeRenderTree, type Manifest } from "../render/output";
import type { DesiredState } from "../core/desired-state";
import { hasErrors, sortFindings, type Finding } from "../core/findings";
import type { Materials } from "../core/materials";
import type { SecretValues } from "../core/secrets";
import type { SecretRef } from "../inventory/schema";
import type { ClusterPlan } from "../plan/types";
import { OutDirRefused, inspectOutDir, type OutDirPlan } from "../render/out-dir";
import { renderDesiredState, requiredMaterials, secretFindings, type OnRenderProgress } from "../pipeline/render";
import { findingsJson, formatFindings, formatFindingsFor } from "./format";
import { limitFailed, resolveLimit } from "./limit";
import { styleFor, type Style } from "./style";
import { loadOrCreateMaterials, resolveCliSecrets } from "./inputs";
import { EXIT, UsageError, type CliIo } from "./io";

export interface RenderOptions {
  out?: string;
  revealSecrets?: boolean;
  secrets?: string;
  materials?: string;
  quiet?: boolean;
  /** Write into a non-empty folder that is not a previous render (nothing in it is removed). */
  force?: boolean;
  /** Progress of the render (renderCommand prints it on stderr unless quiet). */
  onProgress?: OnRenderProgress;
  /** A summary of what was written (the manifest's counts per host) as JSON on stdout. */
  json?: boolean;
  color?: boolean;
  /** Only these hosts' files and actions (Ansible-like patterns: see limit.ts). */
  limit?: string[];
}

/**
 * Each inventory has its own materials: `.haforge/<inventory file name>.materials.json` beside the
 * inventory. Keyed by the file, not the cluster name (every Tower INI cluster is named `haforge`),
 * so a `staging.ini` copied from `prod.ini` never shares prod's keys; sharing takes an explicit
 * `--materials FILE`. Independent of the current directory.
 */
export function defaultMaterialsFile(inventoryFile: string): string {
  const inv = resolve(inventoryFile);
  return join(dirname(inv), ".haforge", `${basename(inv)}.materials.json`);
}

/** Host keys accepted on trust-on-first-use, recorded beside the inventory's materials (known_hosts format). */
export function defaultKnownHostsFile(inventoryFile: string): string {
  const inv = resolve(inventoryFile);
  return join(dirname(inv), ".haforge", `${basename(inv)}.known_hosts`);
}

/** Where materials went before they were per inventory: `./.haforge/<cluster name>.materials.json`. */
export const legacyMaterialsFile = (clusterName: string): string => resolve(".haforge", `${clusterName}.materials.json`);

/** Everything `render` (and `diff --live`) computes before writing anything anywhere. */
export interface PreparedRender {
  readonly analysis: Analysis;
  readonly plan: ClusterPlan;
  readonly refs: readonly SecretRef[];
  readonly values: SecretValues;
  /** Secret keys left unresolved (rendered as markers). */
  readonly missing: readonly string[];
  /** Findings judged on resolved secrets (warnings only: errors stop here). */
  readonly late: readonly Finding[];
  readonly materials: Materials;
  readonly generated: readonly string[];
  readonly state: DesiredState;
  /** What the render tree masks, and its salt: every adapter that shows content masks the same way. */
  readonly toMask: ReadonlyMap<string, string>;
  readonly salt?: string;
}

/**
 * Analyze, resolve secrets (--secrets file / environment), judge them, load or generate the
 * materials and render. Findings with errors are printed and the exit code returned instead.
 */
export function prepareRender(
  file: string,
  opts: Pick<RenderOptions, "secrets" | "materials" | "onProgress">,
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
  /** Called with the materials file before it is read or created: a last chance to refuse. */
  beforeMaterials?: (materialsFile: string) => void,
  /** How findings that stop the render are shown. @default - as text on stderr, with file:line:col */
  report: (findings: readonly Finding[], a: Analysis) => void = (f, a) => io.err(formatFindings(f, a)),
): PreparedRender | number {
  const a = analyzeInventoryFile(file);
  if (!a.plan) {
    report(a.findings, a);
    return EXIT.invalid;
  }
  const refs = collectSecretRefs(a.plan.inventory);
  const { values, missing } = resolveCliSecrets(refs, opts.secrets, env);
  const late = sortFindings(secretFindings(a.plan, values).map((f) => ({ ...f, path: a.sourcePath(f.path) })));
  if (hasErrors(late)) {
    report(late, a);
    return EXIT.invalid;
  }
  const specs = [...requiredMaterials(a.plan), MASK_SALT_SPEC];
  const materialsFile = opts.materials ?? defaultMaterialsFile(file);
  if (!opts.materials && !existsSync(materialsFile) && existsSync(legacyMaterialsFile(a.plan.name))) {
    // Neither adopt it silently (it may be shared by every INI inventory) nor rotate every key.
    throw new UsageError(
      `${legacyMaterialsFile(a.plan.name)} holds the generated keys of cluster "${a.plan.name}" from an older haforge, shared by every inventory of that name. ` +
        `If it belongs to ${file}, move it to ${materialsFile}; to share it on purpose, pass --materials ${legacyMaterialsFile(a.plan.name)}`,
    );
  }
  beforeMaterials?.(materialsFile);
  const { materials, generated } = loadOrCreateMaterials(materialsFile, specs);
  const state = renderDesiredState(a.plan, values, materials, opts.onProgress);
  const salt = materials[MASK_SALT_KEY];
  return {
    analysis: a,
    plan: a.plan,
    refs,
    values,
    missing,
    late,
    materials,
    generated,
    state,
    toMask: secretsToMask(refs, values, materials, derivedSecrets(a.plan, values)),
    ...(salt ? { salt } : {}),
  };
}

/**
 * Progress of a long render on stderr: nothing during the first second (short renders print
 * nothing), then at most one line a second.
 */
export function progressReporter(io: Pick<CliIo, "err">, now: () => number = Date.now): OnRenderProgress {
  const start = now();
  let last = start;
  return (p) => {
    const t = now();
    if (t - start < 1000 || t - last < 1000) return;
    last = t;
    io.err(
      p.phase === "render"
        ? `haforge render: rendering services ${p.done}/${p.total}${p.item ? ` (${p.item})` : ""}`
        : `haforge render: writing hosts ${p.done}/${p.total}`,
    );
  };
}

/** Findings that stop a command: `{ valid: false, findings }` on stdout with --json, else text on stderr (errors only with -q). */
export const failedReport =
  (opts: { json?: boolean; quiet?: boolean }, io: CliIo, style?: Style) =>
  (findings: readonly Finding[], a: Analysis): void => {
    if (opts.json) io.out(JSON.stringify({ valid: false, findings: findingsJson(findings, a) }, null, 2));
    else io.err(formatFindingsFor(opts.quiet, findings, a, style));
  };

export function renderCommand(file: string, opts: RenderOptions, io: CliIo, env: NodeJS.ProcessEnv = process.env): number {
  const style = styleFor(io, env, opts);
  if (!opts.out) throw new UsageError("render needs --out DIR");
  const out = opts.out;
  let target: OutDirPlan | undefined;
  const check = (materialsFile: string) => {
    target = inspectOutDir(out, {
      force: opts.force ?? false,
      protect: [
        { what: "inventory", path: file },
        { what: "materials file", path: materialsFile },
        ...(opts.secrets ? [{ what: "secrets file", path: opts.secrets }] : []),
      ],
    });
  };
  const onProgress = opts.quiet ? undefined : progressReporter(io);
  const p = prepareRender(
    file,
    { ...opts, ...(onProgress ? { onProgress } : {}) },
    io,
    env,
    (m) => {
      try {
        check(m);
      } catch (e) {
        if (e instanceof OutDirRefused) throw new UsageError(e.message);
        throw e;
      }
    },
    failedReport(opts, io, style),
  );
  if (typeof p === "number") return p;
  const { analysis: a, missing, generated, late } = p;
  const limit = resolveLimit(p.plan, opts.limit ?? []);
  const limitRc = limitFailed(limit, opts, io);
  if (limitRc !== undefined) return limitRc;
  const only = new Set(limit.hosts);
  const state: DesiredState = (opts.limit ?? []).length
    ? { ...p.state, hosts: p.state.hosts.filter((h) => only.has(h.host)), actions: p.state.actions.filter((x) => only.has(x.host)) }
    : p.state;
  const manifest = writeRenderTree(
    state,
    target!,
    { reveal: opts.revealSecrets ?? false, toMask: p.toMask, ...(p.salt ? { salt: p.salt } : {}), ...(onProgress ? { onProgress } : {}) },
    (o) => yaml.dump(o, { sortKeys: true, lineWidth: -1, noRefs: true }),
  );
  const findings = sortFindings([...a.findings, ...late]);
  if (opts.json) {
    io.out(JSON.stringify(renderJson(opts, manifest, state, { generated, missing }, findingsJson(findings, a)), null, 2));
    return EXIT.ok;
  }
  if (!opts.quiet) {
    if (missing.length) io.err(`warning: unresolved secrets (rendered as markers): ${missing.join(", ")}`);
    if (generated.length) io.err(`generated materials: ${generated.join(", ")}`);
    io.out(
      `rendered ${manifest.files.length} files for ${state.hosts.length} hosts, ${manifest.actions.length} ` +
        `actions${state.manifests.length ? `, ${state.manifests.length} Kubernetes objects` : ""} ` +
        `into ${opts.out}${opts.revealSecrets ? " (secrets REVEALED)" : " (secrets masked)"}`,
    );
    if (findings.length) io.err(formatFindings(findings, a, style));
  }
  return EXIT.ok;
}

/** `render --json` (README, "CLI"). */
function renderJson(
  opts: RenderOptions,
  manifest: Manifest,
  state: DesiredState,
  secrets: { generated: readonly string[]; missing: readonly string[] },
  findings: ReturnType<typeof findingsJson>,
) {
  return {
    out: opts.out,
    secrets: opts.revealSecrets ? "revealed" : "masked",
    files: manifest.files.length,
    actions: manifest.actions.length,
    kubernetesObjects: state.manifests.length,
    hosts: state.hosts.map((h) => ({
      host: h.host,
      files: h.files.length,
      services: h.services.map((x) => x.name),
      actions: manifest.actions.filter((x) => x.host === h.host).map((x) => x.id),
    })),
    generatedMaterials: [...secrets.generated],
    unresolvedSecrets: [...secrets.missing],
    findings,
  };
}
