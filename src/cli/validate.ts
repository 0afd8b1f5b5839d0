import { analyzeInventoryFile } from "../analyze";
import { findingsJson, formatFindings } from "./format";
import { EXIT, type CliIo } from "./io";

export function validateCommand(file: string, opts: { json?: boolean }, io: CliIo): number {
  const a = analyzeInventoryFile(file);
  if (opts.json) io.out(JSON.stringify({ valid: a.valid, findings: findingsJson(a.findings) }, null, 2));
  else io.out(`${file} (${a.format}): ${a.valid ? "valid" : "INVALID"}\n${formatFindings(a.findings)}`);
  return a.valid ? EXIT.ok : EXIT.invalid;
}
