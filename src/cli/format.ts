/** Human output helpers shared by the CLI commands. */
import type { Finding } from "../core/findings";

export function formatFinding(f: Finding): string {
  const head = `${f.severity === "error" ? "error" : "warning"} ${f.code} at ${f.path}: ${f.message}`;
  return f.hint ? `${head}\n    hint: ${f.hint}` : head;
}

export function formatFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return "no findings";
  const errors = findings.filter((f) => f.severity === "error").length;
  const lines = findings.map(formatFinding);
  lines.push(`${errors} error(s), ${findings.length - errors} warning(s)`);
  return lines.join("\n");
}

export const findingsJson = (findings: readonly Finding[]) =>
  findings.map((f) => ({ severity: f.severity, code: f.code, path: f.path, message: f.message, ...(f.hint ? { hint: f.hint } : {}) }));
