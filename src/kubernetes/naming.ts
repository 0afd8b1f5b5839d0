/**
 * Kubernetes object names and label values from inventory names. Inventory names allow upper
 * case, `_` and `.`; Kubernetes does not everywhere, so every name haforge puts on an object goes
 * through here, deterministically (same inventory → same names, so Pulumi never renames).
 *
 * Limits (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/):
 * - Services need an RFC 1035 label: [a-z]([-a-z0-9]*[a-z0-9])?, at most 63 characters;
 * - a StatefulSet's pods carry `controller-revision-hash: <name>-<10 chars>`, a label value of at
 *   most 63 characters, so its name must stay within 52. We hold every name to 52 for simplicity.
 * - label values: at most 63 characters, [A-Za-z0-9_.-], starting and ending alphanumeric.
 */
import { createHash } from "node:crypto";

/** Longest object name haforge generates (see the StatefulSet note above). */
export const MAX_NAME = 52;

const hash8 = (s: string): string => createHash("sha256").update(s).digest("hex").slice(0, 8);

/**
 * An RFC 1035 label from any text: lower case, runs of other characters become `-`, a leading
 * digit gets a letter in front. Too long: cut and suffixed with a hash of the full text, so two
 * long names that share a prefix stay distinct.
 */
export function dnsLabel(raw: string, max = MAX_NAME): string {
  let s = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (s === "") s = "x";
  if (!/^[a-z]/.test(s)) s = `x-${s}`;
  if (s.length <= max) return s;
  return `${s.slice(0, max - 9).replace(/-+$/, "")}-${hash8(raw)}`;
}

/** `a-b-c` from parts, as one label (each part sanitised, the whole held to `max`). */
export function joinName(parts: readonly string[], max = MAX_NAME): string {
  return dnsLabel(parts.filter((p) => p !== "").join("-"), max);
}

/** A valid label value for any text (empty stays empty: a valid value). */
export function labelValue(raw: string): string {
  let s = raw.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  if (s.length > 63) s = `${s.slice(0, 54).replace(/[^A-Za-z0-9]+$/, "")}-${hash8(raw)}`;
  return s;
}

/** In-cluster DNS name of a Service, without the cluster domain (resolv.conf search completes it). */
export const serviceHost = (service: string, namespace: string): string => `${service}.${namespace}.svc`;
