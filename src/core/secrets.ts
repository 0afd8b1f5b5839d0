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

// Masking lives in ./masking.ts (one module, one keyed placeholder format).
