/**
 * Runs the Pulumi program (index.ts) under the SDK's mocks for one stack and prints the JSON
 * record of runUnderMocks plus the secret values the stack was given.
 * Usage: tsx tests/program/run-stack.ts <stack> [<config-json>]
 * Each stack runs in its own process so module state never leaks between stacks.
 * HAFORGE_PROGRAM=FILE runs that program module instead (the compiled dist/program/index.js);
 * HAFORGE_RECORD_MODULES=1 adds the modules the process loaded to the record.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { collectSecretRefs } from "../../src/render/output";
import { emitRun, runUnderMocks, SECRET_SIG } from "./mock-engine";

export type { RecordedResource } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");

async function main() {
  const stack = process.argv[2] ?? "lab";
  const extra = process.argv[3] ? (JSON.parse(process.argv[3]) as Record<string, string>) : {};
  const stackFile = yaml.load(readFileSync(join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(stackFile.config ?? {}))
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") config[k] = String(v);
  // Every `secret:` reference of the stack's inventory gets a recognisable value, so the test can
  // look for it in every input that is not wrapped as a secret.
  const inv = analyzeInventoryFile(resolve(ROOT, String(config["haforge:inventory"])));
  for (const ref of inv.inventory ? collectSecretRefs(inv.inventory) : []) {
    if ("secret" in ref)
      extra[ref.secret.includes(":") ? ref.secret : `haforge:${ref.secret}`] ??= `S3CR3T-${ref.secret.replace(/\W/g, "")}-value`;
  }
  Object.assign(config, extra);
  const secretKeys = Object.keys(extra);
  const program = process.env["HAFORGE_PROGRAM"] ? resolve(process.env["HAFORGE_PROGRAM"]) : join(ROOT, "index.ts");
  const run = await runUnderMocks(stack, config, secretKeys, () => require(program));
  const modules = process.env["HAFORGE_RECORD_MODULES"] ? { modules: Object.keys(require.cache) } : {};
  emitRun({ stack, ...run, secretSig: SECRET_SIG, secretValues: secretKeys.map((k) => config[k]), ...modules });
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
