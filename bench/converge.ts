/**
 * Converge benchmark: N files spread over M real sshd endpoints on loopback.
 *
 *   npm run bench:converge -- [--files 200] [--hosts 4] [--parallel 16]
 *
 * Two ways of driving the same `applyFile`:
 * - per-file: what the RemoteFile provider does (the engine calls it once per resource): one
 *   fact read per file, plus the write when something changed;
 * - batched: one `readFileFacts` per host, then writes only for changed files.
 * Each mode runs: first apply (all files new), no-op apply (nothing may be written: checked by
 * inode + mtime), and a 10 % content change. Connections are counted by the pool and by the
 * sshd logs. Results: a table on stdout and bench/results/converge.json.
 */
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { applyFile, readFileFacts, type FileToApply } from "../src/transport";
import { SshPool, mapLimit, type HostConnection } from "../src/transport";
import { startSshd, type Sshd } from "../tests/providers/sshd-fixture";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}

interface Job {
  readonly conn: HostConnection;
  readonly spec: FileToApply;
}

interface RunResult {
  readonly mode: "per-file" | "batched";
  readonly run: "first" | "no-op" | "10% changed";
  readonly seconds: number;
  readonly filesWritten: number;
  readonly commands: number;
  readonly connectionsOpened: number;
  readonly sshdConnections: number;
}

const content = (i: number, version: number) =>
  `# haforge bench file ${i} v${version}\n` + Array.from({ length: 40 }, (_, l) => `key_${l} = value-${i}-${l}-${version}\n`).join("");

async function converge(
  mode: RunResult["mode"],
  jobs: readonly Job[],
  hosts: readonly Sshd[],
  parallel: number,
  lastSha: Map<string, string>,
) {
  const pool = new SshPool();
  const marks = hosts.map((h) => h.mark());
  const t0 = performance.now();
  let written = 0;
  try {
    let live: Map<string, Awaited<ReturnType<typeof readFileFacts>>> | undefined;
    if (mode === "batched") {
      const byHost = hosts.map((h) => jobs.filter((j) => j.conn.host === h.name));
      const facts = await Promise.all(
        byHost.map((js, i) =>
          readFileFacts(
            pool,
            hosts[i]!.conn(),
            js.map((j) => j.spec.path),
          ),
        ),
      );
      live = new Map(hosts.map((h, i) => [h.name, facts[i]!]));
    }
    await mapLimit(jobs, parallel, async (j) => {
      const prev = lastSha.get(j.spec.path);
      const fact = live?.get(j.conn.host)?.get(j.spec.path);
      const r = await applyFile(j.conn, j.spec, {
        pool,
        ...(prev === undefined ? {} : { lastSha: prev }),
        ...(fact === undefined ? {} : { live: fact }),
      });
      if (r.changed) written++;
      lastSha.set(j.spec.path, r.sha256);
    });
    const seconds = (performance.now() - t0) / 1000;
    const stats = pool.stats();
    return {
      seconds,
      filesWritten: written,
      commands: stats.execs,
      connectionsOpened: stats.opened,
      sshdConnections: hosts.reduce((n, h, i) => n + h.connectionsSince(marks[i]), 0),
    };
  } finally {
    await pool.close();
  }
}

async function main() {
  const files = arg("files", 200);
  const hostCount = arg("hosts", 4);
  const parallel = arg("parallel", 16);
  const hosts = await Promise.all(Array.from({ length: hostCount }, (_, i) => startSshd({ name: `bench${i + 1}` })));
  const results: RunResult[] = [];
  try {
    for (const mode of ["per-file", "batched"] as const) {
      const jobs = (version: (i: number) => number): Job[] =>
        Array.from({ length: files }, (_, i) => {
          const h = hosts[i % hostCount]!;
          return {
            conn: h.conn(),
            spec: {
              path: join(h.dir, mode, `conf.d`, `file-${i}.conf`),
              content: content(i, version(i)),
              mode: "0644",
              owner: "root",
              group: "root",
              secret: false,
            },
          };
        });
      const lastSha = new Map<string, string>();
      const first = jobs(() => 1);
      results.push({ mode, run: "first", ...(await converge(mode, first, hosts, parallel, lastSha)) });

      const before = first.map((j) => statSync(j.spec.path));
      const noop = await converge(mode, first, hosts, parallel, lastSha);
      const touched = first.filter((j, i) => {
        const st = statSync(j.spec.path);
        return st.ino !== before[i]!.ino || st.mtimeMs !== before[i]!.mtimeMs;
      }).length;
      if (touched !== 0 || noop.filesWritten !== 0) throw new Error(`${mode}: the no-op run touched ${touched} files`);
      results.push({ mode, run: "no-op", ...noop });

      const changed = jobs((i) => (i % 10 === 0 ? 2 : 1));
      results.push({ mode, run: "10% changed", ...(await converge(mode, changed, hosts, parallel, lastSha)) });
    }
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }

  const header = ["mode", "run", "seconds", "files written", "commands", "conns (pool)", "conns (sshd log)"];
  const rows = results.map((r) => [
    r.mode,
    r.run,
    r.seconds.toFixed(2),
    String(r.filesWritten),
    String(r.commands),
    String(r.connectionsOpened),
    String(r.sshdConnections),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((x, c) => x.padEnd(widths[c]!)).join("  ");
  console.log(`converge: ${files} files on ${hostCount} sshd endpoints, parallel ${parallel}`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));

  const outDir = join(__dirname, "results");
  mkdirSync(outDir, { recursive: true });
  const out = {
    benchmark: "converge",
    date: new Date().toISOString(),
    params: { files, hosts: hostCount, parallel },
    machine: { cpus: cpus().length, loadavg1mAtEnd: Number(loadavg()[0]!.toFixed(2)), node: process.version },
    results,
  };
  writeFileSync(join(outDir, "converge.json"), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${join(outDir, "converge.json")}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
