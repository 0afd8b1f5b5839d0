/**
 * Findings: everything the user wrote wrong is reported as data, never thrown.
 * An exception out of the core is a bug (docs/architecture.md, "The one idea").
 */
export type Severity = "error" | "warning";

export interface Finding {
  readonly severity: Severity;
  /** Stable machine-readable code, e.g. `tower.missing`, `pacemaker.too-few-nodes`. Scripts depend on it. */
  readonly code: string;
  /** Where in the inventory: `[instance_group_east] hostB`, `pacemaker.clusters[1].nodes`. */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

export const error = (code: string, path: string, message: string, hint?: string): Finding =>
  hint === undefined ? { severity: "error", code, path, message } : { severity: "error", code, path, message, hint };

export const warning = (code: string, path: string, message: string, hint?: string): Finding =>
  hint === undefined ? { severity: "warning", code, path, message } : { severity: "warning", code, path, message, hint };

export const hasErrors = (findings: readonly Finding[]): boolean => findings.some((f) => f.severity === "error");

/** Stable order for output: errors first, then by path, then by code. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const rank = (s: Severity) => (s === "error" ? 0 : 1);
  return [...findings].sort((a, b) => rank(a.severity) - rank(b.severity) || a.path.localeCompare(b.path) || a.code.localeCompare(b.code));
}
