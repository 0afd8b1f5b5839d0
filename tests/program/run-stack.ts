/**
 * Runs the Pulumi program (index.ts) under the SDK's mocks for one stack and prints a JSON record
 * of every resource registration as the SDK really sent it to the (mock) engine: type, name,
 * parent, dependencies (dependsOn), inputs with secrets still wrapped, and the stack outputs.
 * Usage: tsx tests/program/run-stack.ts <stack> [<config-json>]
 * Each stack runs in its own process so module state never leaks between stacks.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import yaml from "js-yaml";

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const ROOT = join(__dirname, "..", "..");

export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  parent: string;
  custom: boolean;
  dependencies: string[];
  /** Inputs as sent over the wire: secrets are `{ "4dabf…": "1b47…", value }` objects. */
  raw: unknown;
  hasSerializedProvider: boolean;
}

async function main() {
  const stack = process.argv[2] ?? "lab";
  const extra = process.argv[3] ? (JSON.parse(process.argv[3]) as Record<string, string>) : {};
  const stackFile = yaml.load(readFileSync(join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(stackFile.config ?? {})) if (typeof v !== "object") config[k] = String(v);
  const secretKeys: string[] = [];
  // Every `secret:` reference of the stack's inventory gets a recognisable value, so the test can
  // look for it in every input that is not wrapped as a secret.
  const { analyzeInventoryFile } = require(join(ROOT, "src", "analyze.ts")) as typeof import("../../src/analyze");
  const { collectSecretRefs } = require(join(ROOT, "src", "render", "output.ts")) as typeof import("../../src/render/output");
  const inv = analyzeInventoryFile(require("node:path").resolve(ROOT, String(config["haforge:inventory"])));
  for (const ref of inv.inventory ? collectSecretRefs(inv.inventory) : []) {
    if ("secret" in ref) extra[ref.secret.includes(":") ? ref.secret : `haforge:${ref.secret}`] ??= `S3CR3T-${ref.secret.replace(/\W/g, "")}-value`;
  }
  for (const [k, v] of Object.entries(extra)) {
    config[k] = v;
    secretKeys.push(k);
  }

  const recorded: RecordedResource[] = [];
  const mocks = require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: { prototype: { registerResource: (req: any, cb: any) => Promise<void> } } };
  const original = mocks.MockMonitor.prototype.registerResource;
  mocks.MockMonitor.prototype.registerResource = async function (this: unknown, req: any, cb: any) {
    const raw = req.getObject()?.toJavaScript() ?? {};
    const hasSerializedProvider = typeof raw.__provider === "string" && raw.__provider.length > 0;
    delete raw.__provider;
    const entry: RecordedResource = { urn: "", type: req.getType(), name: req.getName(), parent: req.getParent(), custom: req.getCustom(), dependencies: req.getDependenciesList(), raw, hasSerializedProvider };
    recorded.push(entry);
    // The URN the SDK's mock engine assigned (dependencies and parents refer to it).
    return original.call(this, req, (err: unknown, resp: { getUrn(): string } | undefined) => {
      if (resp) entry.urn = resp.getUrn();
      cb(err, resp);
    });
  };

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic:Resource") {
          if ("path" in args.inputs) Object.assign(state, { sha256: `sha-${args.name}`, size: 1 });
          if ("specs" in args.inputs) state["values"] = Object.fromEntries((args.inputs.specs as { key: string }[]).map((s) => [s.key, `material-${s.key}`]));
        }
        if (args.type === "command:remote:Command") Object.assign(state, { stdout: "", stderr: "" });
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    "haforge",
    stack,
    false,
  );
  pulumi.runtime.setAllConfig(config, secretKeys);

  const program = require(join(ROOT, "index.ts")) as Record<string, pulumi.Output<unknown>>;
  const outputs: Record<string, { value: unknown; secret: boolean }> = {};
  for (const [k, v] of Object.entries(program)) {
    if (!pulumi.Output.isInstance(v)) continue;
    const o = v as pulumi.Output<unknown> & { promise(): Promise<unknown>; isSecret: Promise<boolean> };
    outputs[k] = { value: await o.promise(), secret: await o.isSecret };
  }
  // Let every pending registration finish.
  await new Promise((r) => setTimeout(r, 200));
  process.stdout.write(JSON.stringify({ stack, resources: recorded, outputs, secretSig: SECRET_SIG, secretValues: secretKeys.map((k) => config[k]) }));
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
