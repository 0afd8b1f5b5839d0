/** Human output helpers shared by the CLI commands. */
import type { Finding } from "../core/findings";
import type { Locator } from "../inventory/locate";
import { PLAIN, severityText, type Style } from "./style";

/** Where findings come from: the inventory file and how to find a path in it. */
export interface FindingSource {
  readonly file?: string;
  readonly locate?: Locator;
}

function locationOf(f: Finding, src: FindingSource): { file: string; line: number; col: number } | undefined {
  if (src.file === undefined || !src.locate) return undefined;
  const at = src.locate(f.path, f.message);
  return at ? { file: src.file, ...at } : undefined;
}

/** `FILE:LINE:COL: error CODE at PATH: message` (the location when the path is found in the file). */
export function formatFinding(f: Finding, src: FindingSource = {}, style: Style = PLAIN): string {
  const at = locationOf(f, src);
  const head = `${at ? `${at.file}:${at.line}:${at.col}: ` : ""}${severityText(f.severity, style)} ${f.code} at ${f.path}: ${f.message}`;
  return f.hint ? `${head}\n    hint: ${f.hint}` : head;
}

export function formatFindings(findings: readonly Finding[], src: FindingSource = {}, style: Style = PLAIN): string {
  if (findings.length === 0) return "no findings";
  const errors = findings.filter((f) => f.severity === "error").length;
  const lines = findings.map((f) => formatFinding(f, src, style));
  lines.push(`${errors} error(s), ${findings.length - errors} warning(s)`);
  return lines.join("\n");
}

/** The findings that matter under `-q`: errors only. */
export const quietFindings = (findings: readonly Finding[]): Finding[] => findings.filter((f) => f.severity === "error");

/** Findings as text, or under `-q` the errors alone (no warnings, no summary line). */
export const formatFindingsFor = (
  quiet: boolean | undefined,
  findings: readonly Finding[],
  src: FindingSource = {},
  style: Style = PLAIN,
): string =>
  quiet
    ? quietFindings(findings)
        .map((f) => formatFinding(f, src, style))
        .join("\n")
    : formatFindings(findings, src, style);

/** JSON shape of a finding: severity, code, path, message, hint?, and file/line/col when located. */
export const findingsJson = (findings: readonly Finding[], src: FindingSource = {}) =>
  findings.map((f) => {
    const at = locationOf(f, src);
    return {
      severity: f.severity,
      code: f.code,
      path: f.path,
      message: f.message,
      ...(f.hint ? { hint: f.hint } : {}),
      ...(at ? { file: at.file, line: at.line, col: at.col } : {}),
    };
  });
