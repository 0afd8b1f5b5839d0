/**
 * The Pulumi program under the SDK's mocks for a synthetic Tower cluster of N hosts
 * (bench/plan.ts's shape: instances in 8 policy groups, isolated groups, database, RabbitMQ on 3
 * nodes): wall and CPU time of the whole process, peak RSS, resources registered, and what one
 * managed file costs in the state file.
 *
 *   npm run bench:program [-- --hosts 100,1000] [--runs 3] [--modes compiled,sources]
 *
 * Each run is a fresh process (bench/program-child.cjs), timed from the parent, so module loading
 * counts as it does for `pulumi up`. Modes: `compiled` (the default) runs dist/program/index.js
 * in plain node with Pulumi.yaml's `nodeargs`, as program.js runs it under Pulumi (built first
 * by scripts/build.js); `sources` runs index.ts through tsx (the program before it was compiled).
 * State bytes per file: for every RemoteFile, the inputs as the SDK sent them to the engine
 * (`__provider` included) plus the outputs the engine would store: the provider's outputs
 * (connection, spec and facts, see packRemoteFileOutputs) with the `__provider` text the SDK's
 * dynamic provider adds to them; JSON bytes, secrets counted as their plaintext. Dependencies:
 * the URNs each resource registers as depending on (the state file stores them with every
 * resource), per resource and in all. Results: a table and bench/results/program.json.
 * Profiling one size: `node --cpu-prof bench/program-child.cjs N inventory.yaml dist/program/index.js`
 * (bench/plan.ts syntheticInventory(N) writes the inventory), with HAFORGE_BENCH_HEAPSNAPSHOT=FILE
 * for a heap snapshot once the program has declared everything.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const ROOT = join(__dirname, "..");
type Mode = "compiled" | "sources";

/** Pulumi.yaml's `runtime.options.nodeargs`: the flags Pulumi starts the program's node with. */
function nodeArgs(): string[] {
  const project = yaml.load(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as { runtime?: { options?: { nodeargs?: string } } };
  return (project.runtime?.options?.nodeargs ?? "").split(/\s+/).filter(Boolean);
}

function runOnce(n: number, mode: Mode): ChildResult & { wallS: number } {
  const dir = mkdtempSync(join(tmpdir(), "haforge-bench-program-"));
  try {
    const inv = join(dir, "bench.yaml");
    writeFileSync(inv, syntheticInventory(n));
    const t0 = process.hrtime.bigint();
    const child = join(__dirname, "program-child.cjs");
    const args =
      mode === "compiled"
        ? [...nodeArgs(), child, String(n), inv, join(ROOT, "dist", "program", "index.js")]
        : ["--import", "tsx", child, String(n), inv, join(ROOT, "index.ts")];
    const env = { ...process.env };
    delete env["NODE_OPTIONS"];
    const r = spawnSync(process.execPath, args, {
      cwd: ROOT,
      env,
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
  const modes = (opt("modes") ?? "compiled").split(",") as Mode[];
  if (modes.includes("compiled")) {
    const b = spawnSync(process.execPath, [join(ROOT, "scripts", "build.js")], { stdio: "inherit" });
    if (b.status !== 0) throw new Error("npm run build failed");
  }
  const rows = sizes.flatMap((n) => {
    // Modes alternate run by run, so a change in the machine's load hits both alike.
    const all = new Map(modes.map((m) => [m, [] as (ChildResult & { wallS: number })[]]));
    for (let i = 0; i < runs; i++) for (const mode of modes) all.get(mode)!.push(runOnce(n, mode));
    return modes.map((mode) => row(n, mode, all.get(mode)!));
  });
  console.table(rows);
  mkdirSync(join(__dirname, "results"), { recursive: true });
  writeFileSync(
    join(__dirname, "results", "program.json"),
    JSON.stringify({ runs, nodeArgs: nodeArgs(), rows, cpus: cpus().length, loadavg: loadavg(), node: process.version }, null, 2) + "\n",
  );
}

function row(n: number, mode: Mode, all: (ChildResult & { wallS: number })[]) {
  const m = (f: (r: (typeof all)[number]) => number) => median(all.map(f));
  const row = {
    hosts: n,
    mode,
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
  process.stderr.write(`${n} hosts, ${mode}: ${JSON.stringify(row)}\n`);
  return row;
}

if (require.main === module) main();
