/**
 * Render: ClusterPlan + resolved secrets + materials → DesiredState. Pure and deterministic:
 * services render in registry order; files are sorted by host then path, so the same inputs
 * give byte-identical output.
 */
import type { ClusterAction, DesiredState, FileSpec, HostState, ServiceSpec } from "../core/desired-state";
import { CONTROL_CHARS } from "../core/escape";
import { error, type Finding } from "../core/findings";
import type { MaterialSpec, Materials } from "../core/materials";
import { resolveSecret, type SecretValues } from "../core/secrets";
import { scheduleActions } from "../core/schedule";
import type { SecretRef } from "../inventory/schema";
import type { ClusterPlan } from "../plan/types";
import { services } from "../services/registry";
import type { RenderContext } from "../services/types";
import { waveOf } from "../kubernetes/objects";
import { renderTemplate } from "../render/templates";

/** Findings that need the resolved secrets (see ServiceModule.secretFindings). */
export function secretFindings(plan: ClusterPlan, secrets: SecretValues): Finding[] {
  return [...secretTextFindings(plan, secrets), ...services.flatMap((s) => (s.secretFindings ? [...s.secretFindings(plan, secrets)] : []))];
}

/**
 * A resolved secret (from --secrets, the environment or the stack config) is one line of
 * printable text, like a literal one (the schema's `secret text`): a trailing newline from
 * `echo` or a `|` block would otherwise end up inside cookies, env files and configs. SSH private
 * keys (`ssh.privateKey`) span lines by nature.
 */
function secretTextFindings(plan: ClusterPlan, secrets: SecretValues): Finding[] {
  const out: Finding[] = [];
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== "object") return;
    if (Array.isArray(node)) return node.forEach((v, i) => walk(v, `${path}[${i}]`));
    const keys = Object.keys(node);
    if (
      keys.length === 1 &&
      ["secret", "env", "value"].includes(keys[0]!) &&
      typeof (node as Record<string, unknown>)[keys[0]!] === "string"
    ) {
      if (path.endsWith("ssh.privateKey")) return;
      if (CONTROL_CHARS.test(resolveSecret(node as SecretRef, secrets)))
        out.push(
          error(
            "secret.control-characters",
            path,
            `the secret at ${path} contains a newline, tab or other control character`,
            "Passwords, tokens and cookies are one line of printable text: store the value without a trailing newline (printf %s, not echo).",
          ),
        );
      return;
    }
    for (const k of keys) walk((node as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
  };
  walk(plan.inventory, "");
  return out;
}

/** Every material the plan's services need generated once. */
export function requiredMaterials(plan: ClusterPlan): MaterialSpec[] {
  const specs = services.flatMap((s) => (s.materials ? s.materials(plan) : []));
  const seen = new Set<string>();
  return specs.filter((m) => (seen.has(m.key) ? false : (seen.add(m.key), true)));
}

/** What one service rendered (the Pulumi layer maps each service to its own component). */
export interface ServiceRender {
  readonly service: string;
  readonly files: readonly FileSpec[];
  readonly services: readonly ServiceSpec[];
  readonly actions: readonly ClusterAction[];
  readonly manifests: readonly Record<string, unknown>[];
}

import type { OnRenderProgress } from "../render/output";
export type { OnRenderProgress, RenderProgress } from "../render/output";

/** Render every service separately, in registry order. */
export function renderByService(
  plan: ClusterPlan,
  secrets: SecretValues,
  materials: Materials,
  onProgress?: OnRenderProgress,
): ServiceRender[] {
  const ctx: RenderContext = { plan, secrets, materials, template: renderTemplate };
  const out: ServiceRender[] = [];
  let done = 0;
  for (const svc of services) {
    onProgress?.({ phase: "render", done: done++, total: services.length, item: svc.name });
    if (plan.target === "kubernetes") {
      if (svc.renderKubernetes)
        out.push({ service: svc.name, files: [], services: [], actions: [], manifests: svc.renderKubernetes(ctx).manifests });
      continue;
    }
    if (!svc.render) continue;
    const r = svc.render(ctx);
    out.push({ service: svc.name, files: r.files, services: r.services, actions: r.actions, manifests: [] });
  }
  return out;
}

export function renderDesiredState(
  plan: ClusterPlan,
  secrets: SecretValues,
  materials: Materials,
  onProgress?: OnRenderProgress,
): DesiredState {
  const parts = renderByService(plan, secrets, materials, onProgress);
  onProgress?.({ phase: "render", done: services.length, total: services.length });
  const files = parts.flatMap((p) => p.files);
  const svcs = parts.flatMap((p) => p.services);
  const actions = parts.flatMap((p) => p.actions);
  // Apply order across services: by wave (src/kubernetes/objects.ts), registry order within one.
  const manifests = parts
    .flatMap((p) => p.manifests)
    .map((m, i) => ({ m, i }))
    .sort((a, b) => waveOf(a.m) - waveOf(b.m) || a.i - b.i)
    .map((x) => x.m);
  const byHost = new Map<string, { files: FileSpec[]; services: ServiceSpec[] }>();
  const slot = (h: string) => {
    let s = byHost.get(h);
    if (!s) byHost.set(h, (s = { files: [], services: [] }));
    return s;
  };
  for (const f of files) slot(f.host).files.push(f);
  for (const s of svcs) slot(s.host).services.push(s);
  const hostOrder = new Map(plan.hosts.map((h) => [h.name, h.order]));
  const hosts: HostState[] = [...byHost.entries()]
    .sort(([a], [b]) => (hostOrder.get(a) ?? 1e9) - (hostOrder.get(b) ?? 1e9) || a.localeCompare(b))
    .map(([host, s]) => ({
      host,
      files: s.files.sort((a, b) => a.path.localeCompare(b.path)),
      services: s.services.sort((a, b) => a.name.localeCompare(b.name)),
    }));
  return { hosts, actions, manifests };
}

/** Programmer checks on a DesiredState: unique (host, path) and action ids, known dependencies, no dependency cycle. */
export function checkDesiredState(state: DesiredState): string[] {
  const problems: string[] = [];
  for (const h of state.hosts) {
    const paths = new Set<string>();
    for (const f of h.files) {
      if (paths.has(f.path)) problems.push(`${h.host}: ${f.path} rendered twice`);
      paths.add(f.path);
      if (!f.path.startsWith("/")) problems.push(`${h.host}: ${f.path} is not absolute`);
    }
  }
  const ids = new Set(state.actions.map((a) => a.id));
  if (ids.size !== state.actions.length) problems.push("duplicate action ids");
  for (const a of state.actions) for (const d of a.dependsOn) if (!ids.has(d)) problems.push(`action ${a.id} depends on unknown ${d}`);
  for (const f of scheduleActions(state.actions).findings) problems.push(`${f.code}: ${f.message}`);
  return problems;
}
