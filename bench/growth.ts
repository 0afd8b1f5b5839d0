/**
 * Growth benchmark: plan and render time per service shape at 1k / 3k / 10k hosts, and the growth
 * factor time(10k) / time(1k) against 10 (linear). A factor near 10 (≤ ~13 allows n log n and
 * noise) is linear; ~100 is quadratic.
 *
 *   npm run bench:growth [-- --sizes 1000,3000,10000] [--shapes tower,keepalived] [--runs 3] [--timeout 600] [--e2e]
 *
 * Each (shape, size, run) is measured in a fresh child process (no JIT or heap carried over):
 * `load` = YAML parse + schema, `plan` = planCluster, `render` = renderDesiredState; peak RSS is
 * the child's high-water mark. With `--e2e`, `haforge render --out` on the Tower shape is also
 * timed end to end (a fresh CLI process per size, materials prepared beforehand). Medians over
 * `--runs`. Results: a table on stdout and bench/results/growth.json.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { generateMaterial } from "../src/core/generate-material";
import { parseInventoryText } from "../src/inventory/load";
import { planCluster } from "../src/pipeline/plan";
import { renderDesiredState, requiredMaterials } from "../src/pipeline/render";
import { syntheticInventory } from "./plan";

const hostKey = (i: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(i).padStart(43, "A")}`;

/** n hosts named host00000..., pairs (2k, 2k+1) sharing a /24 on eth0 so VIPs can be placed beside them. */
function hosts(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const pair = Math.floor(i / 2);
    const a = `10.${Math.floor(pair / 250)}.${pair % 250}.${10 + (i % 2)}`;
    return {
      name: `host${String(i).padStart(5, "0")}`,
      address: a,
      interfaces: [{ name: "eth0", address: `${a}/24` }],
      ssh: { hostKey: hostKey(i) },
    };
  });
}
/** A free address in host i's /24 (.200 for the first of the pair, .201 for the second). */
const vipBeside = (h: { address: string }, i: number) => h.address.replace(/\.\d+$/, `.${200 + (i % 2)}`);

/** Inventory generators per service shape, all planning without errors. */
export const SHAPES: Record<string, (n: number) => string> = {
  /** Tower: instances in 8 policy groups (AWX policy), isolated groups, database, RabbitMQ on 3 nodes. */
  tower: syntheticInventory,
  /** RabbitMQ on every host (node names, long names, cluster-wide files). */
  rabbitmq: (n) => {
    const hs = hosts(n);
    return yaml.dump(
      {
        version: 1,
        name: "rmq",
        hosts: hs,
        rabbitmq: { nodes: hs.map((h) => h.name), password: { secret: "rabbitmqPassword" }, cookie: { secret: "rabbitmqCookie" } },
      },
      { lineWidth: -1 },
    );
  },
  /** One single-node Pacemaker cluster per host (OpenStack computes as their own clusters). */
  "pacemaker-single": (n) => {
    const hs = hosts(n);
    const clusters = hs.map((h, i) => ({
      name: `c${i}`,
      nodes: [h.name],
      properties: { "stonith-enabled": false },
      primitives: [{ id: `vip${i}`, agent: "ocf:heartbeat:IPaddr2", params: { ip: vipBeside(h, i), cidr_netmask: 24 } }],
    }));
    return yaml.dump({ version: 1, name: "pcmk1", hosts: hs, pacemaker: { layout: "per-service", clusters } }, { lineWidth: -1 });
  },
  /** One 3-node cluster per 100 hosts, the other 97 as its pacemaker_remote nodes. */
  "pacemaker-remote": (n) => {
    const hs = hosts(n);
    const clusters = [];
    for (let k = 0; k * 100 < n; k++) {
      const part = hs.slice(k * 100, k * 100 + 100);
      if (part.length < 3) break;
      clusters.push({
        name: `pool${k}`,
        nodes: part.slice(0, 3).map((h) => h.name),
        remoteNodes: part.slice(3).map((h) => h.name),
        properties: { "stonith-enabled": false },
      });
    }
    return yaml.dump({ version: 1, name: "pcmkr", hosts: hs, pacemaker: { layout: "per-service", clusters } }, { lineWidth: -1 });
  },
  /** One VRRP instance per pair of hosts (n/2 VIPs, one /24 each), router ids reused across subnets. */
  keepalived: (n) => {
    const hs = hosts(n);
    const instances = [];
    for (let i = 0; i + 1 < n; i += 2) {
      instances.push({
        name: `vi${i / 2}`,
        vip: `${vipBeside(hs[i]!, i)}/24`,
        routerId: ((i / 2) % 255) + 1,
        hosts: [hs[i]!.name, hs[i + 1]!.name],
      });
    }
    return yaml.dump({ version: 1, name: "vrrp", hosts: hs, keepalived: { instances } }, { lineWidth: -1 });
  },
};

/**
 * Shapes whose rendered bytes are n² by the daemon's own format: the render is measured up to
 * this many hosts only (plan at every size). RabbitMQ's classic_config peer discovery lists every
 * node in every node's rabbitmq.conf, so 10,000 nodes would be 10,000 files of ~450 KB.
 */
export const RENDER_UP_TO: Record<string, number> = { rabbitmq: 3000 };

const SECRETS = {
  "secret:rabbitmqPassword": "bench-password",
  "secret:rabbitmqCookie": "bench-cookie-value",
  "secret:pgPassword": "bench-pg",
  "secret:towerAdminPassword": "bench-admin",
};

interface Sample {
  shape: string;
  hosts: number;
  loadMs: number;
  planMs: number;
  renderMs: number;
  /** CPU time (user + system) of load + plan + render: robust to a busy machine, unlike wall time. */
  cpuMs: number;
  /** CPU time of the plan alone. */
  planCpuMs: number;
  files: number;
  peakRssMB: number;
}

function child(shape: string, n: number): Sample {
  const text = SHAPES[shape]!(n);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const loaded = parseInventoryText(text, `${shape}.yaml`);
  const t1 = process.hrtime.bigint();
  const cPlan = process.cpuUsage();
  if (!loaded.inventory) throw new Error(`${shape}: ${JSON.stringify(loaded.findings.slice(0, 5))}`);
  const planned = planCluster(loaded.inventory);
  const t2 = process.hrtime.bigint();
  const c1 = process.cpuUsage(c0);
  const cPlanUsed = process.cpuUsage(cPlan);
  if (!planned.plan)
    throw new Error(`${shape} at ${n} did not plan: ${JSON.stringify(planned.findings.filter((f) => f.severity === "error").slice(0, 5))}`);
  // Materials outside the timed region (RSA generation is not what this measures).
  const materials: Record<string, string> = {};
  for (const m of requiredMaterials(planned.plan))
    materials[m.key] = generateMaterial(m.kind.type === "rsa-keypair" ? { ...m.kind, bits: 1024 } : m.kind);
  const t3 = process.hrtime.bigint();
  const c2 = process.cpuUsage();
  const skipRender = n > (RENDER_UP_TO[shape] ?? Infinity);
  const state = skipRender ? { hosts: [] } : renderDesiredState(planned.plan, SECRETS, materials);
  const t4 = process.hrtime.bigint();
  const c3 = process.cpuUsage(c2);
  return {
    shape,
    hosts: n,
    loadMs: Number(t1 - t0) / 1e6,
    planMs: Number(t2 - t1) / 1e6,
    renderMs: skipRender ? NaN : Number(t4 - t3) / 1e6,
    // Materials generation excluded.
    cpuMs: (c1.user + c1.system + c3.user + c3.system) / 1000,
    planCpuMs: (cPlanUsed.user + cPlanUsed.system) / 1000,
    files: state.hosts.reduce((s, h) => s + h.files.length, 0),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One measurement in a fresh process; a child that runs past `timeoutS` counts as NaN (shown as "timeout"). */
function runChild(shape: string, n: number, timeoutS: number): Sample {
  const r = spawnSync(process.execPath, ["--import", "tsx", __filename, "--child", shape, String(n)], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
    timeout: timeoutS * 1000,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT")
    return { shape, hosts: n, loadMs: NaN, planMs: NaN, renderMs: NaN, cpuMs: NaN, planCpuMs: NaN, files: 0, peakRssMB: NaN };
  if (r.status !== 0) {
    // A crash (e.g. out of memory) is a result too: shown as NaN, the run goes on.
    process.stderr.write(`${shape} ${n}: child failed (${r.status ?? r.signal}): ${r.stderr.slice(-400)}\n`);
    return { shape, hosts: n, loadMs: NaN, planMs: NaN, renderMs: NaN, cpuMs: NaN, planCpuMs: NaN, files: 0, peakRssMB: NaN };
  }
  // NaN travels as null in JSON.
  return JSON.parse(r.stdout.trim().split("\n").pop()!, (_k, v: unknown) => (v === null ? NaN : v)) as Sample;
}

/** `haforge render --out` end to end in a fresh process (wall time and peak RSS via GNU time). */
function endToEnd(n: number): { hosts: number; seconds: number; cpuSeconds?: number; peakRssMB?: number; progressLines: number } {
  const dir = mkdtempSync(join(tmpdir(), "haforge-growth-"));
  try {
    const inv = join(dir, "inv.yaml");
    writeFileSync(inv, syntheticInventory(n));
    const env = {
      ...process.env,
      HAFORGE_SECRET_rabbitmqPassword: "bench-password",
      HAFORGE_SECRET_rabbitmqCookie: "bench-cookie-value",
      HAFORGE_SECRET_pgPassword: "bench-pg",
      HAFORGE_SECRET_towerAdminPassword: "bench-admin",
    };
    const cli = join(__dirname, "..", "bin", "haforge.js");
    const args = (out: string) => ["render", inv, "--out", join(dir, out), "--materials", join(dir, "materials.json")];
    // First run generates the materials (RSA 4096: seconds, once per inventory); the measured run
    // reuses them and writes into a fresh folder (replacing a previous render is not measured).
    const warm = spawnSync(process.execPath, [cli, ...args("warm")], { env, encoding: "utf8" });
    if (warm.status !== 0) throw new Error(`render ${n}: ${warm.stderr.slice(-2000)}`);
    const gnuTime = existsSync("/usr/bin/time");
    const t0 = process.hrtime.bigint();
    const r = gnuTime
      ? spawnSync("/usr/bin/time", ["-f", "@@maxrss %M cpu %U %S", process.execPath, cli, ...args("out")], { env, encoding: "utf8" })
      : spawnSync(process.execPath, [cli, ...args("out")], { env, encoding: "utf8" });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`render ${n}: ${r.stderr.slice(-2000)}`);
    const rss = /@@maxrss (\d+) cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
    const progressLines = r.stderr.split("\n").filter((l) => /^haforge render: .*\d+\/\d+/.test(l)).length;
    return {
      hosts: n,
      seconds,
      ...(rss ? { peakRssMB: Math.round(Number(rss[1]) / 1024), cpuSeconds: Number(rss[2]) + Number(rss[3]) } : {}),
      progressLines,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  const opt = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const sizes = (opt("sizes") ?? "1000,3000,10000").split(",").map(Number);
  const shapes = (opt("shapes") ?? Object.keys(SHAPES).join(",")).split(",");
  const runs = Number(opt("runs") ?? 1);
  const timeoutS = Number(opt("timeout") ?? 600);
  for (const s of shapes) if (!SHAPES[s]) throw new Error(`unknown shape ${s}; known: ${Object.keys(SHAPES).join(", ")}`);
  const rows: Sample[] = [];
  for (const shape of shapes) {
    for (const n of sizes) {
      const samples = Array.from({ length: runs }, () => runChild(shape, n, timeoutS));
      const row: Sample = {
        shape,
        hosts: n,
        loadMs: median(samples.map((x) => x.loadMs)),
        planMs: median(samples.map((x) => x.planMs)),
        renderMs: median(samples.map((x) => x.renderMs)),
        cpuMs: median(samples.map((x) => x.cpuMs)),
        planCpuMs: median(samples.map((x) => x.planCpuMs)),
        files: samples[0]!.files,
        peakRssMB: median(samples.map((x) => x.peakRssMB)),
      };
      rows.push(row);
      process.stderr.write(
        `${shape} ${n}: load ${row.loadMs.toFixed(0)} ms, plan ${row.planMs.toFixed(0)} ms (CPU ${row.planCpuMs.toFixed(0)} ms), render ${row.renderMs.toFixed(0)} ms, ${row.files} files, ${row.peakRssMB} MB\n`,
      );
    }
  }
  const lo = Math.min(...sizes);
  const hi = Math.max(...sizes);
  const growth = shapes.map((shape) => {
    const a = rows.find((r) => r.shape === shape && r.hosts === lo)!;
    const b = rows.find((r) => r.shape === shape && r.hosts === hi)!;
    const f = (x: number, y: number) => Number((y / x).toFixed(1));
    return {
      shape,
      sizeRatio: hi / lo,
      planGrowth: f(a.planMs, b.planMs),
      planCpuGrowth: f(a.planCpuMs, b.planCpuMs),
      renderGrowth: f(a.renderMs, b.renderMs),
      loadGrowth: f(a.loadMs, b.loadMs),
    };
  });
  console.table(
    rows.map((r) => ({
      ...r,
      loadMs: Math.round(r.loadMs),
      planMs: Math.round(r.planMs),
      renderMs: Math.round(r.renderMs),
      cpuMs: Math.round(r.cpuMs),
      planCpuMs: Math.round(r.planCpuMs),
    })),
  );
  console.log(`growth factor time(${hi})/time(${lo}) (linear = ${hi / lo}):`);
  console.table(growth);
  const e2e = process.argv.includes("--e2e")
    ? sizes.map((n) => {
        const all = Array.from({ length: runs }, () => endToEnd(n));
        return {
          hosts: n,
          seconds: Number(median(all.map((x) => x.seconds)).toFixed(2)),
          cpuSeconds: all[0]!.cpuSeconds === undefined ? undefined : Number(median(all.map((x) => x.cpuSeconds!)).toFixed(2)),
          peakRssMB: all[0]!.peakRssMB === undefined ? undefined : median(all.map((x) => x.peakRssMB!)),
          progressLines: all[0]!.progressLines,
        };
      })
    : [];
  if (e2e.length) {
    console.log("haforge render --out (tower shape, end to end):");
    console.table(e2e);
  }
  mkdirSync(join(__dirname, "results"), { recursive: true });
  const result = { sizes, runs, rows, growth, e2e, cpus: cpus().length, loadavg: loadavg(), node: process.version };
  writeFileSync(join(__dirname, "results", "growth.json"), JSON.stringify(result, null, 2) + "\n");
}

if (require.main === module) {
  const i = process.argv.indexOf("--child");
  if (i > 0) process.stdout.write(JSON.stringify(child(process.argv[i + 1]!, Number(process.argv[i + 2]))) + "\n");
  else main();
}
