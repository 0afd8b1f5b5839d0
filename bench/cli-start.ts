/**
 * CLI cold start: `haforge validate <example>` as a fresh process, from the compiled dist/ (what
 * bin/haforge.js runs after `npm ci`) and from the TypeScript sources through tsx (what it ran
 * before, and still runs when dist/ is stale), against a bare `node -e 0`.
 * Goal: the compiled validate under 0.3 s on an idle 2-core machine.
 * Run: `npm run bench:cli-start [-- --runs N --inventory inventories/X]` (builds dist/ first).
 * Writes bench/results/cli-start.json. CPU seconds (user+sys, from GNU time when installed) are
 * reported beside wall time: on a loaded machine wall time mostly measures the wait for a core.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..");
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const RUNS = Number(arg("runs", "10"));
const INVENTORY = arg("inventory", "inventories/openstack-pacemaker.yaml");
const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

interface Sample {
  wallMs: number;
  cpuMs?: number;
}

function once(args: string[], env: NodeJS.ProcessEnv): Sample {
  const cmd = GNU_TIME ? GNU_TIME : process.execPath;
  const argv = GNU_TIME ? ["-f", "HAFORGE-TIME %U %S", process.execPath, ...args] : args;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8" });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  const m = /HAFORGE-TIME ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { wallMs, ...(m ? { cpuMs: (Number(m[1]) + Number(m[2])) * 1000 } : {}) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function measure(label: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  once(args, env); // warm the page cache
  const samples = Array.from({ length: RUNS }, () => once(args, env));
  const cpu = samples.flatMap((s) => (s.cpuMs === undefined ? [] : [s.cpuMs]));
  const row = {
    label,
    wallMedianMs: Math.round(median(samples.map((s) => s.wallMs))),
    wallMinMs: Math.round(Math.min(...samples.map((s) => s.wallMs))),
    ...(cpu.length ? { cpuMedianMs: Math.round(median(cpu)), cpuMinMs: Math.round(Math.min(...cpu)) } : {}),
  };
  console.log(JSON.stringify(row));
  return row;
}

const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const bin = join("bin", "haforge.js");
const rows = [
  measure("node -e 0", ["-e", "0"]),
  measure("validate (compiled dist/)", [bin, "validate", INVENTORY]),
  measure("validate (sources through tsx)", [bin, "validate", INVENTORY], { HAFORGE_FROM_SOURCE: "1" }),
];
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(
  join(ROOT, "bench", "results", "cli-start.json"),
  JSON.stringify({ inventory: INVENTORY, runs: RUNS, at: new Date().toISOString(), rows }, null, 2) + "\n",
);
