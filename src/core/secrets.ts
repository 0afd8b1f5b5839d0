/**
 * Secret references and masking. The core never reads the environment or Pulumi config: callers
 * resolve every SecretRef into a SecretValues map (CLI: env vars / --secrets file; Pulumi: config
 * secrets inside an apply) and pass it in, so rendering stays pure and deterministic.
 */
import { createHash } from "node:crypto";

/**
 * A secret reference as the inventory writes it. The inventory's zod schema
 * (src/inventory/schema.ts, `SecretRef`) parses into exactly this shape; it is spelled out here so
 * the core does not depend on the inventory layer (docs/architecture.md, "Layers").
 */
export type SecretRef = { readonly secret: string } | { readonly env: string } | { readonly value: string };

/** Canonical key of a reference: `secret:<name>`, `env:<NAME>`, `value:<sha>` (literals). */
export function secretKey(ref: SecretRef): string {
  if ("secret" in ref) return `secret:${ref.secret}`;
  if ("env" in ref) return `env:${ref.env}`;
  return `value:${shortHash(ref.value)}`;
}

/** Resolved secret values by canonical key (see secretKey) and generated materials by key. */
export interface SecretValues {
  readonly [key: string]: string;
}

export function shortHash(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 8);
}

/** Stable placeholder: a change of the value still shows in a diff, the value does not. */
export function secretPlaceholder(label: string, value: string): string {
  return `<secret:${label} sha256:${shortHash(value)}>`;
}

/**
 * Resolve a reference against resolved values. Literals resolve to themselves. An unresolved
 * reference yields a deterministic marker so rendering never crashes; callers that apply to
 * hosts must check `missingSecrets` first.
 */
export function resolveSecret(ref: SecretRef, values: SecretValues): string {
  if ("value" in ref) return ref.value;
  const v = values[secretKey(ref)];
  return v ?? `__HAFORGE_UNRESOLVED_${secretKey(ref).replace(/[^A-Za-z0-9]/g, "_")}__`;
}

/**
 * Replace every occurrence of every secret value in `content` by its placeholder. Longest values
 * first so a value containing another is masked whole. Values shorter than 4 characters are not
 * masked textually (they would mask unrelated text); files that are wholly secret are masked whole
 * by the caller.
 */
export function maskSecrets(
  content: string,
  secrets: ReadonlyMap<string, string>,
  placeholder: (label: string, value: string) => string = secretPlaceholder,
): string {
  // Equal lengths keep the map's order (Array.prototype.sort is stable).
  const entries = [...secrets.entries()].filter(([, v]) => v.length >= 4).sort((a, b) => b[1].length - a[1].length);
  let out = content;
  for (const [label, value] of entries) {
    if (out.includes(value)) out = out.split(value).join(placeholder(label, value));
  }
  return out;
}
