/**
 * Preview cost (issue 9, item 15): the engine diffs one resource at a time, so a RemoteFile diff
 * that reads its own file costs one SSH command per file. HostPackages, which every file of its
 * host depends on (so its diff runs first), reads the facts of every declared path of the host in
 * one command; the files' diffs answer from that. Counted with the process pool's exec counter
 * (what the provider process uses), against a real sshd on loopback.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  diffHostPackages,
  type HostPackagesInputs,
  type HostPackagesOutputs,
  type RemoteFileInputs,
  type RemoteFileOutputs,
} from "../../src/providers";
import { sha256Hex } from "../../src/core/file-ops";
import { clearFileFacts, getDefaultPool } from "../../src/transport";
import { flatRemoteFileProvider as provider } from "./remote-file-wire";
import { startSshd, type Sshd } from "./sshd-fixture";

let a: Sshd;
before(async () => {
  a = await startSshd({ name: "hostA" });
});
after(async () => {
  await getDefaultPool().close();
  await a?.stop();
});
beforeEach(() => clearFileFacts());

const N = 20;
let seq = 0;
const execs = () => getDefaultPool().stats().execs;
const diff = (olds: RemoteFileOutputs, news: RemoteFileInputs) => provider.diff("id", olds, news);
const content = (i: number, v = 0) => `# file ${i} v${v}\n` + Array.from({ length: 20 }, (_, l) => `key_${l} = ${i}-${l}-${v}\n`).join("");

/** N files put on the host (the "remote" host is this machine) and the state a create records. */
function hostWithFiles(n = N): { files: { news: RemoteFileInputs; olds: RemoteFileOutputs }[]; dir: string } {
  const dir = join(a.dir, `prefetch-${++seq}`);
  mkdirSync(dir, { recursive: true });
  const files = Array.from({ length: n }, (_, i) => {
    const news: RemoteFileInputs = {
      connection: a.conn(),
      path: join(dir, `conf-${i}.conf`),
      content: content(i),
      mode: "0644",
      owner: "root",
      group: "root",
    };
    writeFileSync(news.path, news.content, { mode: 0o644 });
    const olds: RemoteFileOutputs = { ...news, sha256: sha256Hex(news.content), size: Buffer.byteLength(news.content), writes: 1 };
    return { news, olds };
  });
  return { files, dir };
}

const packages = (paths?: readonly string[]): { olds: HostPackagesOutputs; news: HostPackagesInputs } => {
  const news: HostPackagesInputs = { connection: a.conn(), host: "hostA", needs: { debian: [], rhel: [] }, ...(paths ? { paths } : {}) };
  return { news, olds: { ...news, family: "debian", installed: {}, installedNow: [] } };
};

describe("preview cost: one command per host, not one per file", () => {
  it(`${N} unchanged files on one host: the host's diffs cost at most 2 commands (package query + facts)`, async () => {
    const { files } = hostWithFiles();
    const p = packages(files.map((f) => f.news.path));
    const before = execs();
    assert.equal((await diffHostPackages(p.olds, p.news)).changes, false);
    for (const f of files) assert.equal((await diff(f.olds, f.news)).changes, false, f.news.path);
    const used = execs() - before;
    assert.ok(used <= 2, `${used} commands for ${N} files`);
  });

  it("without the declared paths every diff reads its own file (the cost the prefetch removes)", async () => {
    const { files } = hostWithFiles();
    const p = packages();
    const before = execs();
    await diffHostPackages(p.olds, p.news);
    for (const f of files) await diff(f.olds, f.news);
    assert.ok(execs() - before >= N + 1, `${execs() - before} commands`);
  });

  it("changed and new files still show their real diff (the changed ones are read again with content; absent ones are not)", async () => {
    const { files, dir } = hostWithFiles();
    const changed = new Set([3, 11, 19]);
    const absent = { news: { ...files[0]!.news, path: join(dir, "new.conf") }, olds: { ...files[0]!.olds, path: join(dir, "new.conf") } };
    const p = packages([...files.map((f) => f.news.path), absent.news.path]);
    const before = execs();
    await diffHostPackages(p.olds, p.news);
    for (const [i, f] of files.entries()) {
      const news = changed.has(i) ? { ...f.news, content: content(i, 1) } : f.news;
      const r = await diff(f.olds, news);
      assert.equal(r.changes, changed.has(i), f.news.path);
      if (changed.has(i)) {
        assert.match(r.plan!.changes[0]!.diff!, new RegExp(`^-key_0 = ${i}-0-0$`, "m"));
        assert.match(r.plan!.changes[0]!.diff!, new RegExp(`^\\+key_0 = ${i}-0-1$`, "m"));
      }
    }
    const r = await diff(absent.olds, absent.news);
    assert.equal(r.plan!.changes[0]!.kind, "write");
    assert.match(r.plan!.changes[0]!.reason, /^create /);
    assert.equal(execs() - before, 2 + changed.size);
  });

  it("a write to the host forgets its facts: a later diff sees a change made after the prefetch", async () => {
    const { files } = hostWithFiles(3);
    const p = packages(files.map((f) => f.news.path));
    await diffHostPackages(p.olds, p.news);
    // Changed on the host after the prefetch (by someone else)...
    writeFileSync(files[2]!.news.path, "edited by hand\n");
    // ...then haforge writes another file of the same host.
    const updated = { ...files[0]!.news, content: content(0, 1) };
    await provider.update("id", files[0]!.olds, updated);
    const r = await diff(files[2]!.olds, files[2]!.news);
    assert.equal(r.changes, true);
    assert.equal(r.plan!.changes[0]!.kind, "refuse", "the out-of-band edit is seen, not the prefetched fact");
  });

  it("HAFORGE_DIFF=state prefetches nothing", async () => {
    const { files } = hostWithFiles(3);
    const p = packages(files.map((f) => f.news.path));
    process.env["HAFORGE_DIFF"] = "state";
    try {
      const before = execs();
      await diffHostPackages(p.olds, p.news);
      assert.equal(execs() - before, 1, "the package query only");
    } finally {
      delete process.env["HAFORGE_DIFF"];
    }
  });
});
