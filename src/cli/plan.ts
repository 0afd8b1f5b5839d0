import { analyzeInventoryFile } from "../pipeline/analyze";
import { limitPlanSummary, planSummary, planSummaryLines } from "../pipeline/summary";
import { findingsJson, formatFindings, formatFindingsFor } from "./format";
import { EXIT, type CliIo } from "./io";
import { limitFailed, resolveLimit } from "./limit";
import { styleFor } from "./style";

export interface PlanOptions {
  json?: boolean;
  /** The topology without warnings. */
  quiet?: boolean;
  color?: boolean;
  /** Only these hosts (and the groups, clusters and VIPs they are in). */
  limit?: string[];
}

export function planCommand(file: string, opts: PlanOptions, io: CliIo, env: NodeJS.ProcessEnv = process.env): number {
  const a = analyzeInventoryFile(file);
  const style = styleFor(io, env, opts);
  if (!a.plan) {
    if (opts.json) io.out(JSON.stringify({ valid: false, findings: findingsJson(a.findings, a) }, null, 2));
    else io.err(formatFindingsFor(opts.quiet, a.findings, a, style));
    return EXIT.invalid;
  }
  const limit = resolveLimit(a.plan, opts.limit ?? []);
  const failed = limitFailed(limit, opts, io);
  if (failed !== undefined) return failed;
  const full = planSummary(a.plan);
  const s = (opts.limit ?? []).length > 0 ? limitPlanSummary(full, new Set(limit.hosts)) : full;
  if (opts.json) {
    io.out(JSON.stringify({ ...s, findings: findingsJson(a.findings, a) }, null, 2));
    return EXIT.ok;
  }
  // On a terminal: the cluster line bold, each line's kind cyan, names bold, empty groups yellow.
  const lines = planSummaryLines(s, { kind: style.cyan, name: style.bold, warn: style.yellow });
  if (a.findings.length && !opts.quiet) lines.push(formatFindings(a.findings, a, style));
  io.out(lines.join("\n"));
  return EXIT.ok;
}
