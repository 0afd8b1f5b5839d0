/**
 * Writing a rendered DesiredState for review: DIR/<host>/<absolute path> per file and
 * DIR/manifest.json. Secrets are masked by default: every resolved secret value and every
 * generated private material inside any file is replaced by a stable placeholder carrying a short
 * keyed hash (HMAC with the inventory's own mask salt, so a weak password cannot be brute-forced
 * from the placeholder), so a changed secret still shows in a diff while its value does not.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DesiredState, FileSpec } from "../core/desired-state";
import { MASK_SALT_KEY, maskFileContent, type MaskSet } from "../core/masking";
import type { Materials } from "../core/materials";
import type { SecretValues } from "../core/secrets";
import { secretKey } from "../core/secrets";
import type { SecretRef } from "../inventory/schema";
import { clearPrevious, inspectOutDir, type OutDirPlan } from "./out-dir";

// One masking module (src/core/masking.ts); re-exported for the callers of this module.
/**
 * Progress of a long render, reported through a callback: the pipeline never prints; the CLI
 * decides whether and how to show it (stderr). `render`: services rendered; `write`: hosts whose
 * files are written to the render tree.
 */
export interface RenderProgress {
  readonly phase: "render" | "write";
  readonly done: number;
  readonly total: number;
  /** The service just rendered, or the host just written. */
  readonly item?: string;
}
export type OnRenderProgress = (p: RenderProgress) => void;

export { MASK_SALT_KEY, keyedShortHash } from "../core/masking";

/** Every SecretRef anywhere in a value (inventory or plan), deduplicated by canonical key. */
export function collectSecretRefs(value: unknown): SecretRef[] {
  const out = new Map<string, SecretRef>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== "object") return;
    const keys = Object.keys(v);
    const o = v as Record<string, unknown>;
    if (keys.length === 1 && ["secret", "env", "value"].includes(keys[0]!) && typeof o[keys[0]!] === "string") {
      const ref = v as SecretRef;
      out.set(secretKey(ref), ref);
      return;
    }
    keys.forEach((k) => walk(o[k]));
  };
  walk(value);
  return [...out.values()].sort((a, b) => secretKey(a).localeCompare(secretKey(b)));
}

/**
 * The values to mask, by label: resolved inventory secrets (canonical keys) and generated
 * materials; compound materials (JSON) contribute their private fields (and a PEM's bare body).
 */
export function secretsToMask(
  refs: readonly SecretRef[],
  secrets: SecretValues,
  materials: Materials,
  /** Forms renderers derive from secrets (see src/render/derived-secrets.ts), by label. */
  derived: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const m = new Map<string, string>(derived);
  for (const ref of refs) {
    const v = "value" in ref ? ref.value : secrets[secretKey(ref)];
    if (v !== undefined && v !== "") m.set(secretKey(ref), v);
  }
  for (const [key, value] of Object.entries(materials)) {
    if (key === MASK_SALT_KEY) continue;
    let parsed: unknown;
    try {
      parsed = value.trim().startsWith("{") ? JSON.parse(value) : undefined;
    } catch {
      parsed = undefined;
    }
    if (parsed && typeof parsed === "object") {
      for (const [field, inner] of Object.entries(parsed as Record<string, unknown>)) {
        if (typeof inner === "string" && /private|key|secret|token|password/i.test(field) && !/public|cert/i.test(field)) {
          m.set(`${key}#${field}`, inner);
          // PEM bodies are also written line by line or re-wrapped: mask the base64 body alone too.
          const body = inner.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
          if (body.length > 40 && body !== inner) m.set(`${key}#${field}:body`, body);
        }
      }
    } else {
      m.set(key, value);
    }
  }
  return m;
}

/**
 * A file as the render tree shows it: secret values masked in every form they are written in;
 * binary secret files, and secret files holding no known value, masked whole.
 */
export function maskContent(
  file: { readonly content: string; readonly secret: boolean; readonly encoding?: string },
  toMask: MaskSet,
  salt: string | undefined,
): string {
  return maskFileContent(file, toMask, salt);
}

export interface ManifestFile {
  readonly host: string;
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly secret: boolean;
  /** sha256 of the file as written to the render tree (masked unless --reveal-secrets). */
  readonly sha256: string;
  readonly validate?: string;
  readonly notify: readonly string[];
}

export interface Manifest {
  readonly files: readonly ManifestFile[];
  readonly services: DesiredState["hosts"][number]["services"][number][];
  readonly actions: DesiredState["actions"][number][];
  readonly manifests?: number;
  /** The Kubernetes object files written under `k8s/` (so the next render removes exactly these). */
  readonly k8s?: readonly string[];
}

export interface WriteOptions {
  readonly reveal: boolean;
  readonly toMask: ReadonlyMap<string, string>;
  readonly salt?: string;
  /** Called after each host's files are written (the CLI shows progress of long renders). */
  readonly onProgress?: OnRenderProgress;
}

/** File content as it goes to the render tree: base64-encoded files are decoded when revealed. */
function outputContent(f: FileSpec, opts: WriteOptions): string | Buffer {
  if (!opts.reveal) return maskContent(f, opts.toMask, opts.salt);
  const enc = (f as FileSpec & { encoding?: string }).encoding;
  return enc === "base64" ? Buffer.from(f.content, "base64") : f.content;
}

const maskText = (s: string, opts: WriteOptions): string =>
  opts.reveal ? s : maskContent({ content: s, secret: false }, opts.toMask, opts.salt);

/**
 * A Kubernetes Secret as written for review: each value of `stringData`/`data` is masked as a
 * secret file is, so a value holding no known secret (the RabbitMQ definitions, with a password
 * hash) is still masked whole rather than shown.
 */
function maskSecretObject(obj: Record<string, unknown>, opts: WriteOptions): Record<string, unknown> {
  if (obj["kind"] !== "Secret") return obj;
  const out: Record<string, unknown> = { ...obj };
  for (const field of ["stringData", "data"]) {
    const values = obj[field];
    if (!values || typeof values !== "object") continue;
    out[field] = Object.fromEntries(
      Object.entries(values as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === "string" ? maskContent({ content: v, secret: true }, opts.toMask, opts.salt) : v,
      ]),
    );
  }
  return out;
}

/**
 * Write the tree. `outDir` is checked first (see out-dir.ts: a previous render's files are
 * replaced, anything else there is refused unless already inspected with `force`); nothing is
 * removed recursively. With `reveal`, the folders are private (0700) and every file gets its
 * manifest mode (0600/0400 for keys), since the tree then holds the real secrets.
 */
export function writeRenderTree(
  state: DesiredState,
  outDir: string | OutDirPlan,
  opts: WriteOptions,
  yamlDump: (o: unknown) => string,
): Manifest {
  const plan = typeof outDir === "string" ? inspectOutDir(outDir) : outDir;
  clearPrevious(plan);
  const root = plan.dir;
  const dirMode = opts.reveal ? 0o700 : 0o755;
  mkdirSync(root, { recursive: true, mode: dirMode });
  if (opts.reveal) chmodSync(root, 0o700);
  // Each directory is created once (a recursive mkdir per file cost a syscall per path level).
  const made = new Set<string>();
  const put = (target: string, content: string | Buffer, mode?: string) => {
    const dir = dirname(target);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true, mode: dirMode });
      made.add(dir);
    }
    const m = opts.reveal ? parseInt(mode ?? "0600", 8) & 0o777 : undefined;
    // Created with no access for anyone else, then given its exact mode (independent of the umask).
    writeFileSync(target, content, { mode: m === undefined ? 0o644 : 0o600 });
    if (m !== undefined) chmodSync(target, m);
  };
  const files: ManifestFile[] = [];
  let hostsDone = 0;
  for (const h of state.hosts) {
    for (const f of h.files) {
      const content = outputContent(f, opts);
      put(join(root, h.host, f.path), content, f.mode);
      files.push({
        host: f.host,
        path: f.path,
        mode: f.mode,
        owner: f.owner,
        group: f.group,
        secret: f.secret,
        sha256: createHash("sha256").update(content).digest("hex"),
        ...(f.validate ? { validate: f.validate } : {}),
        notify: [...f.notify],
      });
    }
    opts.onProgress?.({ phase: "write", done: ++hostsDone, total: state.hosts.length, item: h.host });
  }
  const k8s: string[] = [];
  state.manifests.forEach((obj, i) => {
    const meta = (obj["metadata"] ?? {}) as { name?: string };
    const name = `${String(i).padStart(3, "0")}-${String((obj["kind"] as string | undefined) ?? "object").toLowerCase()}-${meta.name ?? "unnamed"}.yaml`;
    k8s.push(name);
    const isSecret = obj["kind"] === "Secret";
    put(join(root, "k8s", name), maskText(yamlDump(opts.reveal ? obj : maskSecretObject(obj, opts)), opts), isSecret ? "0600" : "0644");
  });
  const actions = state.actions.map((a) =>
    a.secret ? { ...a, create: maskText(a.create, opts), ...(a.delete ? { delete: maskText(a.delete, opts) } : {}) } : a,
  );
  const manifest: Manifest = {
    files,
    services: state.hosts.flatMap((h) => [...h.services]),
    actions: [...actions],
    ...(state.manifests.length ? { manifests: state.manifests.length, k8s } : {}),
  };
  put(join(root, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}
