/**
 * Benchmark: validate + plan (and render) a 1,000-host Tower-style inventory.
 * Goals: plan under 2 s and under 300 MB. Run: `npm run bench:plan [-- --hosts N]`.
 * Writes bench/results/plan.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { analyzeInventoryText } from "../src/pipeline/analyze";
import { renderDesiredState, requiredMaterials } from "../src/pipeline/render";
import { collectSecretRefs, secretsToMask, writeRenderTree } from "../src/render/output";
import { generateMaterial } from "../src/core/generate-material";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg("hosts", 1000);

/** 1,000 hosts: 959 Tower instances in 8 policy groups, 40 isolated hosts in 4 groups, 1 database, RabbitMQ on 3 nodes. */
export function syntheticInventory(n: number): string {
  const hosts = Array.from({ length: n }, (_, i) => ({
    name: `node${String(i).padStart(4, "0")}.example.net`,
    address: `10.20.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    internalAddress: `172.16.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    ssh: { hostKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(i).padStart(43, "A")}` },
  }));
  // 4 isolated groups of up to 10 hosts and one database host at the end; every other host is a
  // Tower instance (listed under `tower`), spread over 8 policy groups by AWX's algorithm.
  const isoCount = Math.min(40, Math.floor(n / 4));
  const iso = hosts.slice(n - isoCount);
  const db = hosts[n - isoCount - 1]!;
  const instances = hosts.slice(0, n - isoCount - 1);
  const groups = Array.from({ length: 8 }, (_, g) => ({
    name: `g${g}`,
    hosts: g < 2 ? [hosts[10 + g]!.name] : [],
    policy: { percentage: 25, minimum: 2 },
  }));
  const inv = {
    version: 1,
    name: "bench",
    hosts,
    tower: {
      instanceGroups: [{ name: "tower", hosts: instances.map((h) => h.name) }, ...groups],
      isolatedGroups: Array.from({ length: 4 }, (_, k) => ({
        name: `iso${k}`,
        controller: "tower",
        hosts: iso.filter((_h, j) => j % 4 === k).map((h) => h.name),
      })).filter((g) => g.hosts.length),
      database: { hosts: [db.name], password: { secret: "pgPassword" } },
      adminPassword: { secret: "towerAdminPassword" },
    },
    rabbitmq: {
      password: { secret: "rabbitmqPassword" },
      cookie: { secret: "rabbitmqCookie" },
      nodes: hosts.slice(0, 3).map((h) => h.name),
    },
  };
  return yaml.dump(inv, { lineWidth: -1 });
}

function main() {
  const text = syntheticInventory(N);
  const rss0 = process.memoryUsage().rss;
  // Plan and render are synchronous, so a timer-driven sampler never runs while they do: read
  // the kernel's high-water mark (getrusage ru_maxrss, KiB) after each phase instead.
  let peak = rss0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024));
  const t0 = process.hrtime.bigint();
  const a = analyzeInventoryText(text, "bench.yaml");
  const t1 = process.hrtime.bigint();
  sample();
  if (!a.plan) {
    console.error(a.findings.filter((f) => f.severity === "error").slice(0, 10));
    throw new Error("synthetic inventory did not plan");
  }
  const materials: Record<string, string> = {};
  for (const m of requiredMaterials(a.plan)) materials[m.key] = generateMaterial(m.kind);
  const t2 = process.hrtime.bigint();
  const state = renderDesiredState(
    a.plan,
    { "secret:rabbitmqPassword": "bench-password", "secret:rabbitmqCookie": "bench-cookie-value" },
    materials,
  );
  const t3 = process.hrtime.bigint();
  sample();
  // What `haforge render --out` adds: masking every secret and writing the tree + manifest.
  const out = mkdtempSync(join(tmpdir(), "haforge-bench-"));
  const refs = collectSecretRefs(a.plan.inventory);
  const secrets = { "secret:rabbitmqPassword": "bench-password", "secret:rabbitmqCookie": "bench-cookie-value" };
  writeRenderTree(state, out, { reveal: false, toMask: secretsToMask(refs, secrets, materials) }, (o) => yaml.dump(o, { sortKeys: true }));
  const t4 = process.hrtime.bigint();
  sample();
  rmSync(out, { recursive: true, force: true });
  const files = state.hosts.reduce((s, h) => s + h.files.length, 0);
  const result = {
    hosts: N,
    planMs: Number(t1 - t0) / 1e6,
    materialsMs: Number(t2 - t1) / 1e6,
    renderMs: Number(t3 - t2) / 1e6,
    writeMaskedTreeMs: Number(t4 - t3) / 1e6,
    files,
    actions: state.actions.length,
    peakRssMB: Math.round(peak / 1048576),
    baseRssMB: Math.round(rss0 / 1048576),
    findings: a.findings.length,
    node: process.version,
  };
  console.table(result);
  mkdirSync(join(__dirname, "results"), { recursive: true });
  writeFileSync(join(__dirname, "results", "plan.json"), JSON.stringify(result, null, 2) + "\n");
}

if (require.main === module) main();
