/**
 * Preview benchmark: what a `pulumi preview` of an unchanged cluster costs in the provider
 * process. The engine diffs resources one at a time: per host, HostPackages first (every file
 * depends on it), then each RemoteFile. Real sshd endpoints on loopback; the files are put on
 * disk directly (the "remote" hosts are this machine), so the run is the preview alone.
 *
 *   npm run bench:preview -- [--files 200] [--hosts 2] [--prefetch on|off]
 *
 * `--prefetch off` gives HostPackages no declared paths: every file's diff reads its own file
 * (the provider before the host fact prefetch). Prints one JSON line: seconds of the preview
 * (diffs only), SSH commands, files.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "../src/core/file-ops";
import {
  diffHostPackages,
  packRemoteFileInputs,
  packRemoteFileOutputs,
  remoteFileProvider,
  type HostPackagesInputs,
  type RemoteFileInputs,
  type RemoteFileOutputs,
} from "../src/providers";
import { getDefaultPool } from "../src/transport";
import { startSshd } from "../tests/providers/sshd-fixture";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

async function main() {
  const files = Number(arg("files", "200"));
  const hostCount = Number(arg("hosts", "2"));
  const prefetch = arg("prefetch", "on") === "on";
  const hosts = await Promise.all(Array.from({ length: hostCount }, (_, i) => startSshd({ name: `bench${i}` })));
  try {
    const perHost = hosts.map((h) => {
      const dir = join(h.dir, "etc");
      mkdirSync(dir, { recursive: true });
      return Array.from({ length: files }, (_, i) => {
        const path = join(dir, `conf-${i}.conf`);
        const content = `# bench ${i}\n` + Array.from({ length: 40 }, (_, l) => `key_${l} = value-${i}-${l}\n`).join("");
        writeFileSync(path, content, { mode: 0o644 });
        const news: RemoteFileInputs = { connection: h.conn(), path, content, mode: "0644", owner: "root", group: "root" };
        const olds: RemoteFileOutputs = {
          connection: news.connection,
          path,
          mode: "0644",
          owner: "root",
          group: "root",
          sha256: sha256Hex(content),
          size: Buffer.byteLength(content),
        };
        return { news, olds };
      });
    });
    const pool = getDefaultPool();
    // Connections are opened before the clock starts (both modes pay the same handshake).
    await Promise.all(hosts.map((h) => pool.exec(h.conn(), "true")));
    const before = pool.stats().execs;
    const t0 = performance.now();
    let changed = 0;
    for (const [i, h] of hosts.entries()) {
      const pk: HostPackagesInputs = {
        connection: h.conn(),
        host: h.name,
        needs: { debian: [], rhel: [] },
        ...(prefetch ? { paths: perHost[i]!.map((f) => f.news.path) } : {}),
      };
      await diffHostPackages({ ...pk, family: "debian", installed: {}, installedNow: [] }, pk);
      for (const f of perHost[i]!)
        if ((await remoteFileProvider.diff!("id", packRemoteFileOutputs(f.olds), packRemoteFileInputs(f.news))).changes) changed++;
    }
    const seconds = (performance.now() - t0) / 1000;
    if (changed) throw new Error(`${changed} files show a change in an unchanged preview`);
    console.log(JSON.stringify({ prefetch, hosts: hostCount, files: files * hostCount, seconds, commands: pool.stats().execs - before }));
    await pool.close();
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
