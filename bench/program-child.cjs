// One run of bench/program.ts: the Pulumi program under the SDK's mocks, in this process.
//   node bench/program-child.cjs N INVENTORY PROGRAM       (compiled: PROGRAM = dist/program/index.js)
//   node --import tsx bench/program-child.cjs N INVENTORY index.ts   (from the sources)
// Plain JavaScript so that the compiled program runs as `pulumi up` runs it: no TypeScript
// loader in the process. Prints one `@@BENCH@@{...}` line (bench/program.ts ChildResult).
// HAFORGE_BENCH_HEAPSNAPSHOT=FILE: a heap snapshot once the program has declared everything.
"use strict";
const { Buffer } = require("node:buffer");
const path = require("node:path");
const { setTimeout } = require("node:timers/promises");

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SECRET_NAMES = ["rabbitmqPassword", "rabbitmqCookie", "pgPassword", "towerAdminPassword"];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Unwraps the SDK's secret wrappers (state stores the ciphertext; we count the plaintext). */
const plain = (v) => {
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    if (v["4dabf18193072939515e22adb298388d"] === SECRET_SIG) return plain(v.value);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
};

async function child(n, inventoryPath, programPath) {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const program = path.resolve(programPath);
  // The SDK as the program resolves it; its modules, not its index (which loads the Automation
  // API and the closure serializer: a program run under the language host loads neither).
  const sdk = (m) => require(require.resolve(`@pulumi/pulumi/${m}`, { paths: [path.dirname(program)] }));
  const mocks = sdk("runtime/mocks");
  const { Output } = sdk("output");
  // The RemoteFile module beside the program (sources or dist/program).
  // Loaded once, at the first file: a require() per file (path resolution each time) cost the
  // measured process ~0.5 s of CPU at 100 hosts that a program run does not spend.
  let remoteFileModule;
  const remoteFile = () => (remoteFileModule ??= require(path.join(path.dirname(program), "src", "providers", "remote-file")));
  const perFile = [];
  let resources = 0;
  const deps = [];
  let depBytes = 0;
  const original = mocks.MockMonitor.prototype.registerResource;
  mocks.MockMonitor.prototype.registerResource = async function (req, cb) {
    resources++;
    const dependencies = req.getDependenciesList();
    deps.push(dependencies.length);
    depBytes += Buffer.byteLength(JSON.stringify(dependencies));
    if (req.getType() === "pulumi-nodejs:dynamic:Resource") {
      const raw = plain(req.getObject()?.toJavaScript() ?? {});
      const spec = raw.spec;
      if (typeof spec?.path === "string") {
        const provider = typeof raw.__provider === "string" ? Buffer.byteLength(raw.__provider) : 0;
        const inputs = Buffer.byteLength(JSON.stringify(raw));
        // Outputs: what the provider returns (packRemoteFileOutputs: the connection, the spec
        // without the apply options, the facts; no content), plus the __provider the SDK adds.
        const { packRemoteFileOutputs, remoteFileInputsOf } = remoteFile();
        const i = remoteFileInputsOf(raw);
        const outs = packRemoteFileOutputs({
          connection: i.connection,
          path: i.path,
          ...(i.encoding === undefined ? {} : { encoding: i.encoding }),
          mode: i.mode,
          owner: i.owner,
          group: i.group,
          ...(i.secret === undefined ? {} : { secret: i.secret }),
          sha256: "0".repeat(64),
          size: 0,
          writes: 1,
        });
        const outputs = Buffer.byteLength(JSON.stringify({ ...outs, __provider: raw.__provider }));
        perFile.push({ inputs, outputs, provider, content: Buffer.byteLength(String(raw.content ?? "")) });
      }
    }
    return original.call(this, req, cb);
  };
  await mocks.setMocks(
    {
      newResource(args) {
        const state = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic:Resource") {
          if ("spec" in args.inputs) state.facts = { sha256: `sha-${args.name}`, size: 1, writes: 1 };
          if ("specs" in args.inputs) state.values = Object.fromEntries(args.inputs.specs.map((s) => [s.key, `material-${s.key}`]));
        }
        return { id: `${args.name}-id`, state };
      },
      call: (args) => args.inputs,
    },
    "haforge",
    "bench",
    false,
  );
  const config = { "haforge:inventory": inventoryPath };
  for (const s of SECRET_NAMES) config[`haforge:${s}`] = `bench-${s}-value`;
  sdk("runtime/config").setAllConfig(
    config,
    SECRET_NAMES.map((s) => `haforge:${s}`),
  );
  const exported = require(program);
  // The stack's outputs resolve once the program has declared its last resource (it declares in
  // chunks: components/declaration.ts).
  for (const v of Object.values(exported)) if (Output.isInstance(v)) await v.promise();
  // A heap snapshot once the program has declared everything, for a heap viewer's retainers.
  const snapshot = process.env.HAFORGE_BENCH_HEAPSNAPSHOT;
  if (snapshot) require("node:v8").writeHeapSnapshot(snapshot);
  // Let every pending registration finish.
  await setTimeout(200);
  const cpu = process.cpuUsage(c0);
  const sizes = perFile.map((f) => f.inputs + f.outputs);
  const result = {
    hosts: n,
    resources,
    files: perFile.length,
    programMs: Number(process.hrtime.bigint() - t0) / 1e6,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    stateBytesPerFile: {
      median: median(sizes),
      max: Math.max(...sizes),
      inputs: median(perFile.map((f) => f.inputs)),
      outputs: median(perFile.map((f) => f.outputs)),
      provider: median(perFile.map((f) => f.provider)),
      content: median(perFile.map((f) => f.content)),
    },
    stateBytesTotalMB: Number((sizes.reduce((a, b) => a + b, 0) / 1048576).toFixed(1)),
    dependencies: { median: median(deps), max: Math.max(...deps), totalMB: Number((depBytes / 1048576).toFixed(1)) },
  };
  process.stdout.write(`\n@@BENCH@@${JSON.stringify(result)}\n`);
}

const [n, inventory, program] = process.argv.slice(2);
child(Number(n), inventory, program).catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
