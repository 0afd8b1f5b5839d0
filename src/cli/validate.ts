import { readFileSync } from "node:fs";
import { analyzeInventoryFile, analyzeInventoryText, UnreadableInventory } from "../pipeline/analyze";
import { hasErrors, sortFindings, warning, type Finding } from "../core/findings";
import { membershipChangeFindings, memberships } from "../plan/membership";
import { corosyncWireChangeFindings } from "../services/pacemaker/wire-change";
import { findingsJson, formatFindings, formatFindingsFor } from "./format";
import { styleFor } from "./style";
import { EXIT, UsageError, type CliIo } from "./io";
import { readAtRevision } from "./revision";

export interface ValidateOptions {
  json?: boolean;
  /** Errors only (no header, warnings or summary); exit codes unchanged. */
  quiet?: boolean;
  color?: boolean;
  /** The inventory as last applied: membership changes are judged against it (src/plan/membership.ts). */
  previous?: string;
  /** Like `previous`, the inventory as committed at this git revision. */
  rev?: string;
  /** Report unsafe membership changes as warnings (members already lost for good). */
  allowUnsafeMembership?: boolean;
}

function previousText(file: string, opts: ValidateOptions): { text: string; label: string } | undefined {
  if (opts.previous !== undefined && opts.rev !== undefined) throw new UsageError("validate takes --previous or --rev, not both");
  if (opts.rev !== undefined) return { text: readAtRevision(file, opts.rev), label: `${file} at ${opts.rev}` };
  if (opts.previous === undefined) return undefined;
  try {
    return { text: readFileSync(opts.previous, "utf8"), label: opts.previous };
  } catch (e) {
    throw new UnreadableInventory(
      `cannot read previous inventory ${opts.previous}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

export function validateCommand(file: string, opts: ValidateOptions, io: CliIo, env: NodeJS.ProcessEnv = process.env): number {
  const a = analyzeInventoryFile(file);
  let findings: readonly Finding[] = a.findings;
  const prev = previousText(file, opts);
  if (prev && a.plan) {
    const before = analyzeInventoryText(prev.text, prev.label);
    const extra = before.plan
      ? [
          ...membershipChangeFindings(memberships(before.plan), memberships(a.plan), { allowUnsafe: opts.allowUnsafeMembership ?? false }),
          ...corosyncWireChangeFindings(before.plan, a.plan),
        ].map((f) => ({ ...f, path: a.sourcePath(f.path) }))
      : [
          warning(
            "membership.previous-invalid",
            "(previous)",
            `the previous inventory ${prev.label} has errors: membership changes were not checked`,
            `Run haforge validate ${prev.label} to see them.`,
          ),
        ];
    findings = sortFindings([...findings, ...extra]);
  }
  const valid = !hasErrors(findings);
  const style = styleFor(io, env, opts);
  if (opts.json) io.out(JSON.stringify({ valid, findings: findingsJson(findings, a) }, null, 2));
  else if (opts.quiet) {
    if (!valid) io.out(formatFindingsFor(true, findings, a, style));
  } else
    io.out(
      `${file} (${a.format}): ` +
        `${valid ? style.green("valid") : style.red(style.bold("INVALID"))}${prev ? ` (membership changes checked against ${prev.label})` : ""}\n${formatFindings(findings, a, style)}`,
    );
  return valid ? EXIT.ok : EXIT.invalid;
}
