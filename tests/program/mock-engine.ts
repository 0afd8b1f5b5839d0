/**
 * Runs a Pulumi program under the SDK's mocks and records every resource registration as the SDK
 * really sent it: type, name, parent, dependencies (dependsOn), raw inputs (secrets still wrapped)
 * and the URN the mock engine assigned. Used in child processes (one program per process).
 */
// The SDK's modules, not its index (which loads the Automation API and the closure serializer):
// tests/program/compiled.test.ts checks that a program run does not load the index.
import { Output } from "@pulumi/pulumi/output";
import { setAllConfig } from "@pulumi/pulumi/runtime/config";
import { setMocks } from "@pulumi/pulumi/runtime/mocks";

export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

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
  /** The aliases as sent: alias URNs (the SDK computes them under the mocks) and alias specs. */
  aliases: { urns: string[]; specs: unknown[] };
  /** The serialized provider text, when HAFORGE_RECORD_PROVIDERS is set (it is large). */
  provider?: string;
}

export interface MockRun {
  resources: RecordedResource[];
  outputs: Record<string, { value: unknown; secret: boolean }>;
  /**
   * How the program declared (components/declaration.ts): the most registrations pending at once
   * (constructed, their answer not yet received), how many resources were constructed before the
   * first answer arrived, and the lowest Error.stackTraceLimit seen when a registration reached
   * the engine (outside every construction: components/sdk-cost.ts must have restored it).
   */
  declaration?: { peakPending: number; constructedBeforeFirstAnswer: number; lowestStackTraceLimit: number };
}

/**
 * Calls `hook` with the arguments of every resource construction, before the SDK registers it:
 * every construction calls the SDK's registerResource (resource.js) through its module object. A
 * hook that throws fails that construction.
 */
export function onConstruct(hook: (args: readonly unknown[]) => void): void {
  const sdk = require("@pulumi/pulumi/runtime/resource") as { registerResource: (...args: unknown[]) => unknown };
  const register = sdk.registerResource;
  sdk.registerResource = function (this: unknown, ...args: unknown[]) {
    hook(args);
    return register.apply(this, args);
  };
}

export async function runUnderMocks(
  stack: string,
  config: Record<string, string>,
  secretKeys: string[],
  load: () => Record<string, unknown>,
  extraState: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> = () => ({}),
): Promise<MockRun> {
  const recorded: RecordedResource[] = [];
  const mocks = require("@pulumi/pulumi/runtime/mocks") as {
    MockMonitor: { prototype: { registerResource: (req: any, cb: any) => Promise<void> } };
  };
  const original = mocks.MockMonitor.prototype.registerResource;
  let constructed = 0;
  let pending = 0;
  const declaration = { peakPending: 0, constructedBeforeFirstAnswer: -1, lowestStackTraceLimit: Error.stackTraceLimit };
  onConstruct(() => {
    constructed++;
    declaration.peakPending = Math.max(declaration.peakPending, ++pending);
  });
  mocks.MockMonitor.prototype.registerResource = async function (this: unknown, req: any, cb: any) {
    declaration.lowestStackTraceLimit = Math.min(declaration.lowestStackTraceLimit, Error.stackTraceLimit);
    const raw = req.getObject()?.toJavaScript() ?? {};
    const hasSerializedProvider = typeof raw.__provider === "string" && raw.__provider.length > 0;
    const provider = process.env["HAFORGE_RECORD_PROVIDERS"] && hasSerializedProvider ? (raw.__provider as string) : undefined;
    delete raw.__provider;
    const entry: RecordedResource = {
      urn: "",
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent(),
      custom: req.getCustom(),
      dependencies: req.getDependenciesList(),
      raw,
      hasSerializedProvider,
      aliases: { urns: req.getAliasurnsList(), specs: req.getAliasesList().map((a: { toObject(): unknown }) => a.toObject()) },
      ...(provider !== undefined ? { provider } : {}),
    };
    recorded.push(entry);
    // The URN the SDK's mock engine assigned (dependencies and parents refer to it).
    return original.call(this, req, (err: unknown, resp: { getUrn(): string } | undefined) => {
      if (declaration.constructedBeforeFirstAnswer < 0) declaration.constructedBeforeFirstAnswer = constructed;
      pending--;
      if (resp) entry.urn = resp.getUrn();
      cb(err, resp);
    });
  };

  // HAFORGE_MOCK_PREVIEW_MATERIALS_CHANGE: a preview in which Materials changes (a key was added):
  // its values are unknown; a file whose content is known is unchanged (a Same step: its outputs
  // are known), one whose content is unknown changes (its outputs are unknown).
  const previewMaterialsChange = !!process.env["HAFORGE_MOCK_PREVIEW_MATERIALS_CHANGE"];
  await setMocks(
    {
      newResource(args) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic:Resource") {
          if (
            "spec" in args.inputs &&
            (!previewMaterialsChange ||
              (args.inputs.content !== undefined && !JSON.stringify(args.inputs.content).includes("04da6b54-80e4-46f7-96ec-b56ff0331ba9")))
          )
            state["facts"] = { sha256: `sha-${args.name}`, size: 1, writes: 1 };
          if ("specs" in args.inputs && !previewMaterialsChange)
            state["values"] = Object.fromEntries((args.inputs.specs as { key: string }[]).map((s) => [s.key, `material-${s.key}`]));
        }
        if (args.type === "pulumi-nodejs:dynamic:HostAction") state["result"] = { stdout: "", stderr: "", ran: "create" };
        Object.assign(state, extraState(args.type, args.name, args.inputs));
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    "haforge",
    stack,
    previewMaterialsChange,
  );
  setAllConfig(config, secretKeys);

  const program = load();
  const outputs: MockRun["outputs"] = {};
  for (const [k, v] of Object.entries(program)) {
    if (!Output.isInstance(v)) continue;
    const o = v as Output<unknown> & { promise(): Promise<unknown>; isSecret: Promise<boolean> };
    outputs[k] = { value: await o.promise(), secret: await o.isSecret };
  }
  // Let every pending registration finish.
  await new Promise((r) => setTimeout(r, 200));
  return { resources: recorded, outputs, declaration };
}

/** The SDK's log lines also go to stdout under mocks: the record follows this marker. */
const MARKER = "\n@@HAFORGE-MOCK-RUN@@\n";
export const emitRun = (obj: unknown): void => void process.stdout.write(MARKER + JSON.stringify(obj));
export function parseRun<T>(stdout: string): T {
  const i = stdout.lastIndexOf(MARKER);
  if (i < 0) throw new Error(`no mock run record in output: ${stdout.slice(-500)}`);
  return JSON.parse(stdout.slice(i + MARKER.length)) as T;
}
