/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-base-to-string -- reads the SDK mocks' untyped protobuf requests */
/**
 * The Pulumi program (index.ts) under the SDK's mocks for a synthetic Tower cluster of N hosts
 * (bench/plan.ts's shape: instances in 8 policy groups, isolated groups, database, RabbitMQ on 3
 * nodes): wall and CPU time of the whole process, peak RSS, resources registered, and what one
 * managed file costs in the state file.
 *
 *   npm run bench:program [-- --hosts 100,1000] [--runs 3]
 *
 * Each run is a fresh process (`--child N`), timed from the parent (so module loading and the
 * TypeScript transform count, as they do for `pulumi up`). State bytes per file: for every
 * RemoteFile, the inputs as the SDK sent them to the engine (`__provider` included) plus the
 * outputs the engine would store: the provider's outputs (connection, spec and facts, see
 * packRemoteFileOutputs) with the `__provider` text the SDK's dynamic provider adds to them; JSON
 * bytes, secrets counted as their plaintext. Dependencies: the URNs each resource registers as
 * depending on (the state file stores them with every resource), per resource and in all. Results: a table and bench/results/program.json.
 * Profiling one size: `node --cpu-prof --import tsx bench/program.ts --child N inventory.yaml`
 * (bench/plan.ts syntheticInventory(N) writes the inventory), with HAFORGE_BENCH_HEAPSNAPSHOT=FILE
 * for a heap snapshot once the program has declared everything.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticInventory } from "./plan";

interface ChildResult {
  hosts: number;
  resources: number;
  files: number;
  programMs: number;
  cpuMs: number;
  peakRssMB: number;
  /** Per RemoteFile: state bytes (inputs + outputs), and the parts. */
  stateBytesPerFile: { median: number; max: number; inputs: number; outputs: number; provider: number; content: number };
  stateBytesTotalMB: number;
  /** Dependency URNs each resource registers (state stores them with the resource): median, max, and their JSON bytes in all. */
  dependencies: { median: number; max: number; totalMB: number };
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SECRET_NAMES = ["rabbitmqPassword", "rabbitmqCookie", "pgPassword", "towerAdminPassword"];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Unwraps the SDK's secret wrappers (state stores the ciphertext; we count the plaintext). */
const plain = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o["4dabf18193072939515e22adb298388d"] === SECRET_SIG) return plain(o["value"]);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x)]));
  }
  return v;
};

async function child(n: number, inventoryPath: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const pulumi = await import("@pulumi/pulumi");
  const mocks = require("@pulumi/pulumi/runtime/mocks") as {
    MockMonitor: { prototype: { registerResource: (req: any, cb: any) => Promise<void> } };
  };
  const perFile: { inputs: number; outputs: number; provider: number; content: number }[] = [];
  let resources = 0;
  const deps: number[] = [];
  let depBytes = 0;
  const original = mocks.MockMonitor.prototype.registerResource;
  mocks.MockMonitor.prototype.registerResource = async function (this: unknown, req: any, cb: any) {
    resources++;
    const dependencies = req.getDependenciesList() as string[];
    deps.push(dependencies.length);
    depBytes += Buffer.byteLength(JSON.stringify(dependencies));
    if (req.getType() === "pulumi-nodejs:dynamic:Resource") {
      const raw = plain(req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
      const spec = raw["spec"] as Record<string, unknown> | undefined;
      if (typeof spec?.["path"] === "string") {
        const provider = typeof raw["__provider"] === "string" ? Buffer.byteLength(raw["__provider"]) : 0;
        const inputs = Buffer.byteLength(JSON.stringify(raw));
        // Outputs: what the provider returns (packRemoteFileOutputs: the connection, the spec
        // without the apply options, the facts; no content), plus the __provider the SDK adds.
        const { packRemoteFileOutputs, remoteFileInputsOf } =
          require("../src/providers/remote-file") as typeof import("../src/providers/remote-file");
        const i = remoteFileInputsOf(raw as never);
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
        const outputs = Buffer.byteLength(JSON.stringify({ ...outs, __provider: raw["__provider"] }));
        perFile.push({ inputs, outputs, provider, content: Buffer.byteLength(String(raw["content"] ?? "")) });
      }
    }
    return original.call(this, req, cb);
  };
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic:Resource") {
          if ("spec" in args.inputs) state["facts"] = { sha256: `sha-${args.name}`, size: 1, writes: 1 };
          if ("specs" in args.inputs)
            state["values"] = Object.fromEntries((args.inputs["specs"] as { key: string }[]).map((s) => [s.key, `material-${s.key}`]));
        }
        return { id: `${args.name}-id`, state };
      },
      call: (args) => args.inputs,
    },
    "haforge",
    "bench",
    false,
  );
  const config: Record<string, string> = { "haforge:inventory": inventoryPath };
  for (const s of SECRET_NAMES) config[`haforge:${s}`] = `bench-${s}-value`;
  pulumi.runtime.setAllConfig(
    config,
    SECRET_NAMES.map((s) => `haforge:${s}`),
  );
  const program = require(join(__dirname, "..", "index.ts")) as Record<string, unknown>;
  // HAFORGE_BENCH_HEAPSNAPSHOT=FILE: a heap snapshot once the program has declared everything
  // (registrations still pending: near the peak), for a heap viewer's retainers.
  const snapshot = process.env["HAFORGE_BENCH_HEAPSNAPSHOT"];
  if (snapshot) (require("node:v8") as typeof import("node:v8")).writeHeapSnapshot(snapshot);
  for (const v of Object.values(program))
    if (pulumi.Output.isInstance(v)) await (v as unknown as { promise(): Promise<unknown> }).promise();
  // Let every pending registration finish.
  await new Promise((r) => setTimeout(r, 200));
  const cpu = process.cpuUsage(c0);
  const sizes = perFile.map((f) => f.inputs + f.outputs);
  const result: ChildResult = {
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

function runOnce(n: number): ChildResult & { wallS: number } {
  const dir = mkdtempSync(join(tmpdir(), "haforge-bench-program-"));
  try {
    const inv = join(dir, "bench.yaml");
    writeFileSync(inv, syntheticInventory(n));
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ["--import", "tsx", __filename, "--child", String(n), inv], {
      cwd: join(__dirname, ".."),
      encoding: "utf8",
      maxBuffer: 256 << 20,
    });
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const i = r.stdout.lastIndexOf("@@BENCH@@");
    if (r.status !== 0 || i < 0) throw new Error(`program at ${n} hosts failed: ${r.stderr.slice(-3000)}${r.stdout.slice(-1000)}`);
    return { ...(JSON.parse(r.stdout.slice(i + 9).trim()) as ChildResult), wallS };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  const opt = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const sizes = (opt("hosts") ?? "100,1000").split(",").map(Number);
  const runs = Number(opt("runs") ?? 1);
  const rows = sizes.map((n) => {
    const all = Array.from({ length: runs }, () => runOnce(n));
    const m = (f: (r: (typeof all)[number]) => number) => median(all.map(f));
    const row = {
      hosts: n,
      wallS: Number(m((r) => r.wallS).toFixed(2)),
      cpuS: Number((m((r) => r.cpuMs) / 1000).toFixed(2)),
      peakRssMB: m((r) => r.peakRssMB),
      resources: all[0]!.resources,
      files: all[0]!.files,
      stateBytesPerFile: all[0]!.stateBytesPerFile.median,
      stateBytesPerFileMax: all[0]!.stateBytesPerFile.max,
      providerBytesPerFile: all[0]!.stateBytesPerFile.provider,
      contentBytesPerFile: all[0]!.stateBytesPerFile.content,
      stateMBFiles: all[0]!.stateBytesTotalMB,
      depsPerResource: all[0]!.dependencies.median,
      depsPerResourceMax: all[0]!.dependencies.max,
      stateMBDependencies: all[0]!.dependencies.totalMB,
    };
    process.stderr.write(`${n} hosts: ${JSON.stringify(row)}\n`);
    return row;
  });
  console.table(rows);
  mkdirSync(join(__dirname, "results"), { recursive: true });
  writeFileSync(
    join(__dirname, "results", "program.json"),
    JSON.stringify({ runs, rows, cpus: cpus().length, loadavg: loadavg(), node: process.version }, null, 2) + "\n",
  );
}

if (require.main === module) {
  const i = process.argv.indexOf("--child");
  if (i > 0)
    child(Number(process.argv[i + 1]), process.argv[i + 2]!).catch((e) => {
      process.stderr.write(String(e?.stack ?? e));
      process.exit(1);
    });
  else main();
}
