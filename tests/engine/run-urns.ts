/**
 * Child process: runs the program (index.ts) under the SDK's mocks with the config of
 * stacks/Pulumi.<config>.yaml but under the stack name <stack>, and prints every registration's
 * URN (the engine's, with the whole parent type chain), its alias specs and its raw inputs.
 * Usage: tsx tests/engine/run-urns.ts <config> <stack>
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { collectSecretRefs } from "../../src/render/output";
import { emitRun, runUnderMocks } from "../program/mock-engine";
import { aliasesFromProto, type AliasSpec } from "./engine";

const ROOT = join(__dirname, "..", "..");

export interface UrnRecord {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  /** Alias specs as the SDK sent them (the engine expands them: engine.ts aliasUrns). */
  readonly aliases: AliasSpec[];
  /** Raw inputs with the serialized provider kept (`__provider`). */
  readonly inputs: Record<string, unknown>;
}

async function main(): Promise<void> {
  const [cfgName, stack] = [process.argv[2]!, process.argv[3]!];
  const stackFile = yaml.load(readFileSync(join(ROOT, "stacks", `Pulumi.${cfgName}.yaml`), "utf8")) as { config?: Record<string, unknown> };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(stackFile.config ?? {}))
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") config[k] = String(v);
  const secretKeys: string[] = [];
  const inv = analyzeInventoryFile(resolve(ROOT, String(config["haforge:inventory"])));
  for (const ref of inv.inventory ? collectSecretRefs(inv.inventory) : []) {
    if (!("secret" in ref)) continue;
    const key = ref.secret.includes(":") ? ref.secret : `haforge:${ref.secret}`;
    config[key] ??= `S3CR3T-${ref.secret.replace(/\W/g, "")}-value`;
    secretKeys.push(key);
  }
  const records: UrnRecord[] = [];
  const mocks = require("@pulumi/pulumi/runtime/mocks") as {
    MockMonitor: {
      prototype: { registerResource: (req: any, cb: any) => Promise<void>; newUrn: (p: string, t: string, n: string) => string };
    };
  };
  // The engine's URN: the parent's whole qualified type chain (resource.NewURN with
  // parent.QualifiedType()); the mock monitor keeps only the parent's own type.
  mocks.MockMonitor.prototype.newUrn = (parent: string, type: string, name: string) =>
    `urn:pulumi:${stack}::haforge::${parent ? `${parent.split("::")[2]}$` : ""}${type}::${name}`;
  const inner = mocks.MockMonitor.prototype.registerResource;
  mocks.MockMonitor.prototype.registerResource = async function (this: unknown, req: any, cb: any) {
    const entry = {
      urn: "",
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent(),
      aliases: aliasesFromProto(req.getAliasesList()),
      inputs: req.getObject()?.toJavaScript() ?? {},
    };
    records.push(entry);
    return inner.call(this, req, (err: unknown, resp: { getUrn(): string } | undefined) => {
      if (resp) entry.urn = resp.getUrn();
      cb(err, resp);
    });
  };
  await runUnderMocks(stack, config, secretKeys, () => require(join(ROOT, "index.ts")));
  emitRun(records);
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
