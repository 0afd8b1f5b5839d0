/**
 * The RemoteFile dynamic provider against a real sshd on loopback, called the way the engine
 * calls it (provider.check/diff/create/update/read/delete), without a Pulumi engine. The "remote"
 * filesystem is this machine's, so every effect is checked with fs.stat/readFile.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type RemoteFileInputs, type RemoteFileOutputs } from "../../src/providers";
import { RemoteFileError, TransportError, applyFile, getDefaultPool } from "../../src/transport";
import { maskSecret } from "../../src/core/file-ops";
import { flatRemoteFileProvider as provider } from "./remote-file-wire";
import { startSshd, type Sshd } from "./sshd-fixture";

let a: Sshd;
let b: Sshd;
before(async () => {
  [a, b] = await Promise.all([startSshd({ name: "hostA" }), startSshd({ name: "hostB" })]);
});
after(async () => {
  await getDefaultPool().close();
  await Promise.all([a?.stop(), b?.stop()]);
});

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
let seq = 0;
/** A fresh target path per test, in a subdir that does not exist yet (exercises mkdir -p). */
const freshPath = (s: Sshd = a) => join(s.dir, `etc-${++seq}`, "app.conf");
const inputs = (over: Partial<RemoteFileInputs> = {}): RemoteFileInputs => ({
  connection: a.conn(),
  path: freshPath(),
  content: "listen 80\n",
  mode: "0644",
  owner: "root",
  group: "root",
  ...over,
});
/** Files in the target's directory other than the target and its kept previous copy. */
const garbage = (path: string) => {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const base = path.slice(path.lastIndexOf("/") + 1);
  return readdirSync(dir).filter((f) => f !== base && f !== `${base}.haforge-prev`);
};
const create = async (i: RemoteFileInputs) => (await provider.create(i)).outs;
const diff = (olds: RemoteFileOutputs, news: RemoteFileInputs) => provider.diff("id", olds, news);
async function rejects<E extends Error>(p: Promise<unknown>, cls: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a rejection");
}

describe("RemoteFile provider", () => {
  it("uses one connection per host for many files (pool counter and sshd's log)", async () => {
    const ma = a.mark();
    const mb = b.mark();
    const before = getDefaultPool().stats().opened;
    const all = [
      ...Array.from({ length: 10 }, () => inputs()),
      ...Array.from({ length: 10 }, () => inputs({ connection: b.conn(), path: freshPath(b) })),
    ];
    const outs = await Promise.all(all.map(create));
    for (const [i, o] of outs.entries()) assert.equal(readFileSync(all[i]!.path, "utf8"), "listen 80\n", `file ${o.path}`);
    assert.equal(getDefaultPool().stats().opened - before, 2);
    assert.equal(a.connectionsSince(ma), 1);
    assert.equal(b.connectionsSince(mb), 1);
  });

  it("check reports bad inputs by property, with the value", async () => {
    const r = await provider.check(
      {} as RemoteFileInputs,
      inputs({ path: "etc/x", mode: "0999", owner: "ro ot", connection: { ...a.conn(), hostKey: undefined } }),
    );
    const byProp = Object.fromEntries((r.failures ?? []).map((f) => [f.property, f.reason]));
    assert.match(byProp.path!, /"etc\/x" must be an absolute file path/);
    assert.match(byProp.mode!, /"0999"/);
    assert.match(byProp.owner!, /"ro ot"/);
    assert.match(byProp.connection!, /hostKey.*knownHostsFile.*trustOnFirstUse/);
    assert.deepEqual((await provider.check({} as RemoteFileInputs, inputs())).failures, undefined);
  });

  it("create writes content, mode and owner; the id names host and path", async () => {
    const i = inputs({ mode: "0640", owner: "0", group: "daemon" });
    const r = await provider.create(i);
    assert.equal(r.id, `hostA:${i.path}`);
    const st = statSync(i.path);
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(st.uid, 0);
    assert.equal(st.gid, Number(readFileSync("/etc/group", "utf8").match(/^daemon:x:(\d+):/m)![1]));
    assert.equal(readFileSync(i.path, "utf8"), i.content);
    assert.equal(r.outs.sha256, sha(i.content));
    assert.deepEqual(garbage(i.path), []);
    assert.equal(existsSync(`${i.path}.haforge-prev`), false, "nothing to keep on a fresh create");
  });

  it("a second apply with the same inputs is a no-op: no write (inode, mtime, ctime unchanged), diff says so", async () => {
    const i = inputs();
    const outs = await create(i);
    const st0 = statSync(i.path);
    const d = await diff(outs, i);
    assert.equal(d.changes, false);
    assert.equal(d.plan?.noop, `file ${i.path} already up to date`);
    const m = a.mark();
    const u = await provider.update("id", outs, i);
    const st1 = statSync(i.path);
    assert.deepEqual([st1.ino, st1.mtimeMs, st1.ctimeMs], [st0.ino, st0.mtimeMs, st0.ctimeMs]);
    assert.equal(u.outs.sha256, outs.sha256);
    // Only the fact was read: one command on the host.
    assert.equal((a.logSince(m).match(/Starting session: command/g) ?? []).length, 1);
  });

  it("diff shows the unified content diff; update replaces atomically and keeps the previous copy", async () => {
    const i = inputs({ content: "a\nb\nc\n" });
    const outs = await create(i);
    const ino0 = statSync(i.path).ino;
    const next = { ...i, content: "a\nB\nc\n" };
    const d = await diff(outs, next);
    assert.equal(d.changes, true);
    assert.equal(d.replaces, undefined);
    assert.deepEqual(
      d.plan!.changes.map((c) => c.kind),
      ["write"],
    );
    assert.match(d.plan!.changes[0]!.diff!, /^--- a\/.*\n\+\+\+ b\/.*\n@@ -1,3 \+1,3 @@\n a\n-b\n\+B\n c\n/);
    const u = await provider.update("id", outs, next);
    assert.equal(readFileSync(i.path, "utf8"), "a\nB\nc\n");
    assert.equal(readFileSync(`${i.path}.haforge-prev`, "utf8"), "a\nb\nc\n");
    assert.equal(statSync(`${i.path}.haforge-prev`).ino, ino0, "the previous copy is the old inode (hard link), not a rewrite");
    assert.notEqual(statSync(i.path).ino, ino0, "renamed into place, not rewritten in place");
    assert.equal(u.outs.sha256, sha(next.content));
    assert.deepEqual(garbage(i.path), []);
  });

  it("writes base64-encoded content as the raw bytes (a corosync authkey), and then is a no-op", async () => {
    const key = Buffer.from(Array.from({ length: 256 }, (_, k) => (k * 37 + 11) % 256));
    const i = inputs({ content: key.toString("base64"), encoding: "base64", mode: "0400", secret: true });
    const outs = await create(i);
    assert.ok(readFileSync(i.path).equals(key), "the bytes on disk are the decoded key");
    assert.equal(outs.sha256, sha(key), "state records the hash of the bytes, not of the base64 text");
    const d = await diff(outs, i);
    assert.equal(d.changes, false);
  });

  it("a mode/owner-only change is a chmod/chown in place", async () => {
    const i = inputs();
    const outs = await create(i);
    const ino0 = statSync(i.path).ino;
    const next = { ...i, mode: "0600", group: "daemon" };
    const d = await diff(outs, next);
    assert.deepEqual(
      d.plan!.changes.map((c) => c.kind),
      ["chmod", "chown"],
    );
    await provider.update("id", outs, next);
    assert.equal(statSync(i.path).mode & 0o7777, 0o600);
    assert.equal(statSync(i.path).ino, ino0);
  });

  it("replaces only when host or path change", async () => {
    const i = inputs();
    const outs = await create(i);
    assert.deepEqual((await diff(outs, { ...i, path: `${i.path}.other` })).replaces, ["spec"]);
    assert.deepEqual((await diff(outs, { ...i, connection: b.conn() })).replaces, ["connection"]);
    // Same host reached on another address/port (e.g. a new IP) is not a replacement.
    const moved = await diff(outs, { ...i, connection: { ...i.connection, address: "localhost" } });
    assert.equal(moved.replaces, undefined);
  });

  it("a host replaced under its name (the pin moved to another key): a file haforge did not write there is taken over, not refused; a pin that keeps the old key still refuses", async () => {
    // Written while hostA presented another machine's key (b's): the state's baseline is that
    // machine's file. Now hostA is a fresh disk whose package put its own file there, and the
    // operator pinned its new key (a's).
    const i = inputs({ content: "managed\n" });
    const outs = await create(i);
    const writtenElsewhere = { ...outs, connection: { ...outs.connection, hostKey: b.hostKeyLine } };
    writeFileSync(i.path, "# shipped by the package\n");
    const d = await diff(writtenElsewhere, i);
    assert.deepEqual(
      d.plan!.changes.map((c) => c.kind),
      ["write"],
    );
    assert.match(d.plan!.changes[0]!.reason, /^take over existing /);
    assert.match(d.plan!.changes[0]!.diff!, /-# shipped by the package\n\+managed/);
    const taken = (await provider.update("id", writtenElsewhere, i)).outs;
    assert.equal(readFileSync(i.path, "utf8"), "managed\n");
    assert.equal(taken.sha256, sha("managed\n"));

    // The same machine with its pin widened (its key and another): the baseline holds, an edit is refused.
    writeFileSync(i.path, "edited by hand\n");
    const widened = { ...i, content: "managed v2\n", connection: { ...i.connection, hostKey: [a.hostKeyLine, b.hostKeyLine] } };
    assert.equal((await diff(taken, widened)).plan!.changes[0]!.kind, "refuse");
    const e = await rejects(provider.update("id", taken, widened), RemoteFileError);
    assert.equal(e.code, "REFUSED");
    // Not pinned before (the key looked up then): no pin to compare, the baseline holds.
    const { hostKey: _k, ...unpinned } = taken.connection;
    assert.equal((await diff({ ...taken, connection: unpinned }, widened)).plan!.changes[0]!.kind, "refuse");
    assert.equal(readFileSync(i.path, "utf8"), "edited by hand\n");
  });

  it("refuses to overwrite an out-of-band edit; force overwrites; refresh accepts it as the baseline", async () => {
    const i = inputs({ content: "managed\n" });
    const outs = await create(i);
    writeFileSync(i.path, "edited by hand\n");
    const next = { ...i, content: "managed v2\n" };
    const d = await diff(outs, next);
    assert.equal(d.changes, true);
    assert.equal(d.plan!.changes[0]!.kind, "refuse");
    assert.match(d.plan!.changes[0]!.diff!, /-edited by hand\n\+managed v2/);
    const e = await rejects(provider.update("id", outs, next), RemoteFileError);
    assert.equal(e.code, "REFUSED");
    assert.match(e.message, new RegExp(`^hostA: write ${i.path}: ${i.path} was changed out of band .*pulumi refresh.*force: true`));
    assert.equal(readFileSync(i.path, "utf8"), "edited by hand\n");

    // refresh: the live file becomes the baseline, and the next update goes through.
    const refreshed = (await provider.read("id", outs)).props as RemoteFileOutputs;
    assert.equal(refreshed.sha256, sha("edited by hand\n"));
    assert.equal("content" in refreshed, false, "refresh never pulls the content into state");
    await provider.update("id", refreshed, next);
    assert.equal(readFileSync(i.path, "utf8"), "managed v2\n");

    // force
    writeFileSync(i.path, "edited again\n");
    const forced = { ...i, content: "managed v3\n", force: true };
    await provider.update("id", { ...outs, sha256: sha("managed v2\n") }, forced);
    assert.equal(readFileSync(i.path, "utf8"), "managed v3\n");
  });

  it("runs the validator on the temp file beside the target ({file})", async () => {
    const i = inputs({
      // Fails unless {file} is our temp file in the target's directory and holds the new content.
      validate: `case {file} in */.app.conf.haforge-tmp-*) grep -qx 'listen 80' {file};; *) echo "wrong file: {file}"; exit 9;; esac`,
    });
    await create(i);
    assert.equal(readFileSync(i.path, "utf8"), "listen 80\n");
  });

  it("a failed validation leaves the old file active, removes the temp, and reports the validator's output", async () => {
    const i = inputs({ content: "good\n" });
    const outs = await create(i);
    const st0 = statSync(i.path);
    const next = { ...i, content: "bad\n", validate: `if grep -q bad {file}; then echo "line 1: unknown keyword 'bad'" >&2; exit 5; fi` };
    const e = await rejects(provider.update("id", outs, next), RemoteFileError);
    assert.equal(e.code, "VALIDATION");
    assert.match(e.message, new RegExp(`^hostA: validate ${i.path}: the validator rejected the new file`));
    assert.match(e.message, /line 1: unknown keyword 'bad'/);
    assert.match(e.message, /validator exited 5/);
    assert.equal(readFileSync(i.path, "utf8"), "good\n");
    assert.equal(statSync(i.path).ino, st0.ino);
    assert.deepEqual(garbage(i.path), []);
  });

  it("a failed activation restores the previous file (and removes a brand-new one)", async () => {
    const i = inputs({ content: "v1\n" });
    const outs = await create(i);
    const log = join(a.dir, `activate-${seq}.log`);
    // The "daemon" reloads by reading the file; it rejects v2 at activation time.
    const activate = `cat ${i.path} >> ${log}; ! grep -q v2 ${i.path}`;
    const e = await rejects(provider.update("id", outs, { ...i, content: "v2\n", activate }), RemoteFileError);
    assert.equal(e.code, "ACTIVATION");
    assert.match(e.message, /^hostA: activate .*: activation failed \(exit 1\); restored the previous file and re-activated it/);
    assert.equal(readFileSync(i.path, "utf8"), "v1\n");
    assert.equal(readFileSync(log, "utf8"), "v2\nv1\n", "activated with v2, then re-activated with the restored v1");
    assert.deepEqual(garbage(i.path), []);

    const fresh = inputs({ content: "v2\n", activate: "exit 3" });
    const e2 = await rejects(provider.create(fresh), RemoteFileError);
    assert.match(e2.message, /removed the new file/);
    assert.equal(existsSync(fresh.path), false);
  });

  it("delete removes the file only while it is what we wrote", async () => {
    const i = inputs();
    const outs = await create(i);
    await provider.delete("id", outs);
    assert.equal(existsSync(i.path), false);
    await provider.delete("id", outs); // already gone: fine

    const j = inputs();
    const outsJ = await create(j);
    writeFileSync(j.path, "someone else's now\n");
    await provider.delete("id", outsJ);
    assert.equal(readFileSync(j.path, "utf8"), "someone else's now\n");
  });

  it("read reports drift (content, mode) and a deleted file as gone", async () => {
    const i = inputs();
    const outs = await create(i);
    writeFileSync(i.path, "drifted\n", { mode: 0o600 });
    const { chmodSync, unlinkSync } = await import("node:fs");
    chmodSync(i.path, 0o600);
    const r = await provider.read("id", outs);
    assert.equal(r.id, "id");
    assert.equal("content" in r.props!, false);
    assert.equal(r.props!.mode, "0600");
    assert.equal(r.props!.sha256, sha("drifted\n"));
    unlinkSync(i.path);
    assert.deepEqual(await provider.read("id", outs), {});
  });

  it("masks secret content in diffs and errors", async () => {
    const secret = "password s3cr3t-Value-42\n";
    const i = inputs({ content: secret, secret: true, mode: "0600" });
    const outs = await create(i);
    const next = { ...i, content: "password an0ther-Value-43\n" };
    const d = await diff(outs, next);
    const text = d.plan!.changes[0]!.diff!;
    assert.match(text, /-<secret:file h:[0-9a-f]{8}>\n\+<secret:file h:[0-9a-f]{8}>/);
    assert.doesNotMatch(text, /s3cr3t|an0ther/);
    // Keyed with the inventory's mask salt when the program passes it: the render tree's placeholder.
    const keyed = (await diff(outs, { ...next, maskSalt: "k".repeat(32) })).plan!.changes[0]!.diff!;
    assert.ok(keyed.includes(`+${maskSecret(next.content, "k".repeat(32))}`), keyed);
    assert.ok(!keyed.includes(sha(next.content).slice(0, 8)), "never the plain sha256 of secret content");
    const e = await rejects(provider.update("id", outs, { ...next, validate: "cat {file}; exit 1" }), RemoteFileError);
    assert.equal(e.code, "VALIDATION");
    assert.doesNotMatch(e.message, /an0ther/, "the validator echoed the secret; the error must not");
    assert.match(e.message, /<secret:file-\d+ h:[0-9a-f]{8}>/);
  });

  it("reports the host key accepted on trust-on-first-use in the outputs", async () => {
    const { hostKey: _drop, ...c } = b.conn();
    const pool = getDefaultPool();
    await pool.drop(b.conn()); // the pooled connection was verified by pin; dial afresh
    const outs = await create(inputs({ connection: { ...c, trustOnFirstUse: true }, path: freshPath(b) }));
    assert.match(outs.hostKeySeen ?? "", /^(ssh-ed25519|ecdsa-sha2-nistp256) AAAA/);
  });

  it("refuses unknown/mismatched host keys before anything is written", async () => {
    const pool = getDefaultPool();
    await pool.drop(a.conn());
    const m = a.mark();
    const i = inputs({ connection: a.conn({ hostKey: b.hostKeyLine }) });
    const e = await rejects(provider.create(i), TransportError);
    assert.equal(e.code, "HOSTKEY_MISMATCH");
    assert.equal(existsSync(i.path), false);
    assert.doesNotMatch(a.logSince(m), /userauth-request/);
  });
});

describe("a connection killed mid-write", () => {
  // Big enough that the upload takes a while over loopback; the test kills it in flight.
  const big = (tag: string) => `${tag}\n${"0123456789abcdef".repeat(2 * 1024 * 1024)}`; // 32 MiB

  for (const how of ["sshd's session process is SIGKILLed", "the client drops the connection"] as const) {
    it(`leaves the target old or new, never partial, and no temp file (${how})`, async () => {
      const path = freshPath();
      const dir = path.slice(0, path.lastIndexOf("/"));
      const conn = a.conn();
      await applyFile(conn, { path, content: "old\n", mode: "0644", owner: "root", group: "root", secret: false });
      const write = applyFile(
        conn,
        { path, content: big("new"), mode: "0644", owner: "root", group: "root", secret: false },
        { lastSha: sha("old\n") },
      );
      const outcome = write.then(
        () => "written",
        (e: Error) => e,
      );
      // Wait until the temp file is being filled, then cut the connection.
      const deadline = Date.now() + 30_000;
      let cut = false;
      while (Date.now() < deadline && !cut) {
        const tmp = readdirSync(dir).find((f) => f.includes(".haforge-tmp-"));
        if (tmp && statSync(join(dir, tmp)).size > 1024 * 1024) {
          if (how === "sshd's session process is SIGKILLed") a.killSessions();
          else await getDefaultPool().drop(conn);
          cut = true;
        } else await new Promise((r) => setTimeout(r, 2));
      }
      assert.ok(cut, "the upload was never seen in flight");
      const result = await outcome;
      assert.ok(result instanceof TransportError, `the write must fail, got ${String(result)}`);
      assert.match(result.message, new RegExp(`^hostA: write ${path}: connection lost`));
      // The orphaned remote script notices the short upload and cleans up after itself.
      const until = Date.now() + 10_000;
      while (Date.now() < until && readdirSync(dir).some((f) => f.includes(".haforge-tmp-"))) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(garbage(path), []);
      const now = readFileSync(path);
      assert.ok(sha(now) === sha("old\n") || sha(now) === sha(big("new")), `target is partial: ${now.length} bytes`);
      assert.equal(now.toString(), "old\n", "the upload was cut before it completed, so the old file stays");
    });
  }
});

describe("RemoteFile state (content once, hash in outputs, connection, guard)", () => {
  it("outputs keep hash/mode/owner and the connection, never a second copy of the content", async () => {
    const i = inputs({ content: "x".repeat(4096) });
    const outs = await create(i);
    assert.deepEqual(Object.keys(outs).sort(), ["connection", "group", "mode", "owner", "path", "sha256", "size", "writes"].sort());
    assert.equal(JSON.stringify(outs).includes("xxxx"), false);
    assert.equal(outs.sha256, sha(i.content));
  });

  it("refresh of an unchanged base64 file (an authkey) reports no drift, and reads no content", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, k) => (k * 7 + 3) % 256));
    const i = inputs({ content: bytes.toString("base64"), encoding: "base64", mode: "0400", secret: true });
    const outs = await create(i);
    const r = await provider.read("id", outs);
    assert.deepEqual(r.props, outs, "refreshed outputs equal the recorded ones: no drift");
    assert.equal((await diff(outs, i)).changes, false);
  });

  it("a connection that keeps ~ connects with the runner's HOME; another operator's connection is an update that rewrites nothing", async () => {
    const { mkdtempSync, copyFileSync, mkdirSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const home = mkdtempSync(join(tmpdir(), "haforge-home-"));
    mkdirSync(join(home, ".ssh"));
    copyFileSync(a.clientKeyPath, join(home, ".ssh", "id_ed25519"));
    const old = process.env["HOME"];
    process.env["HOME"] = home;
    try {
      const i = inputs({ connection: a.conn({ privateKeyPath: "~/.ssh/id_ed25519" }) });
      const outs = await create(i);
      assert.equal(outs.connection.privateKeyPath, "~/.ssh/id_ed25519", "stored as written");
      const before = statSync(i.path);
      // Another operator: another key path (or address form); same file.
      const other = { ...i, connection: a.conn({ privateKeyPath: a.clientKeyPath }) };
      assert.equal((await diff(outs, other)).changes, true, "the new connection must reach the state");
      const updated = (await provider.update("id", outs, other)).outs;
      assert.equal(updated.connection.privateKeyPath, a.clientKeyPath);
      assert.equal(statSync(i.path).mtimeMs, before.mtimeMs, "nothing rewritten");
      assert.equal((await diff(updated, other)).changes, false);
    } finally {
      process.env["HOME"] = old;
    }
  });

  it("delete leaves a path the current program still declares (a rename creates the new resource first)", async () => {
    const i = inputs();
    const outs = await create(i);
    // The renamed resource, same file: the engine runs its Check (and Create) before the old one's Delete.
    await provider.check({} as RemoteFileInputs, { ...i });
    await provider.delete("old-urn-id", outs);
    assert.equal(readFileSync(i.path, "utf8"), i.content, "the live file survives the old resource's delete");
    const j = inputs();
    const outsJ = await create(j);
    await provider.delete("id", outsJ);
    assert.equal(existsSync(j.path), false, "a path nobody declares is removed");
  });
});

describe("validateAtPreview: a change the host refuses fails Check (the preview), not only the write", () => {
  // A validate whose verdict depends on what runs on the host (like a cluster key's): refused
  // while the "daemon" runs (a marker file) when the candidate differs from the file in place.
  const guarded = (path: string, marker: string) =>
    `[ ! -e '${marker}' ] || cmp -s {file} '${path}' || { echo "refusing to replace ${path}: the daemon uses it" >&2; exit 1; }`;

  it("refused on the host: Check fails on content with the validator's words; nothing written, no temp left; without the flag Check passes (the plain preview before)", async () => {
    const marker = join(a.dir, `daemon-${++seq}.pid`);
    const i = inputs({ content: "key-1\n" });
    const first = { ...i, validate: guarded(i.path, marker), validateAtPreview: true };
    await create(first);
    writeFileSync(marker, "1\n");
    const st0 = statSync(i.path);
    const next = { ...first, content: "key-2\n" };
    const r = await provider.check(first, next);
    const f = (r.failures ?? []).find((x) => x.property === "content");
    assert.ok(f, JSON.stringify(r.failures));
    assert.match(f.reason, new RegExp(`^hostA: ${i.path}: the host refuses this change`));
    assert.match(f.reason, /refusing to replace .*: the daemon uses it/);
    assert.match(f.reason, /nothing was written/);
    assert.equal(readFileSync(i.path, "utf8"), "key-1\n");
    assert.equal(statSync(i.path).ino, st0.ino);
    assert.deepEqual(garbage(i.path), [], "the candidate was removed");
    // Control: the same change without the flag is a plain change at Check (the refusal comes at the write).
    assert.equal((await provider.check(first, { ...next, validateAtPreview: false })).failures, undefined);
  });

  it("accepted where the host accepts it (the daemon stopped, the same content, no file yet)", async () => {
    const marker = join(a.dir, `daemon-${++seq}.pid`);
    const i = inputs({ content: "key-1\n" });
    const first = { ...i, validate: guarded(i.path, marker), validateAtPreview: true };
    await create(first);
    assert.equal((await provider.check(first, { ...first, content: "key-2\n" })).failures, undefined, "daemon stopped");
    writeFileSync(marker, "1\n");
    assert.equal((await provider.check(first, first)).failures, undefined, "unchanged");
    const fresh = inputs({ content: "key-2\n" });
    assert.equal(
      (await provider.check({} as RemoteFileInputs, { ...fresh, validate: guarded(fresh.path, marker), validateAtPreview: true })).failures,
      undefined,
      "no file yet",
    );
  });

  it("a secret file's refusal masks the secret the validator prints", async () => {
    const marker = join(a.dir, `daemon-${++seq}.pid`);
    const secretValue = "Zq8vR2mK4pT7wX1nB5cD";
    const i = inputs({ content: "old-secret-Aa1\n", secret: true, maskSalt: "salt" });
    const first = { ...i, validate: guarded(i.path, marker), validateAtPreview: true };
    await create(first);
    writeFileSync(marker, "1\n");
    const next = { ...first, content: `${secretValue}\n`, validate: `cat {file} >&2; ${guarded(i.path, marker)}` };
    const r = await provider.check(first, next);
    const f = (r.failures ?? []).find((x) => x.property === "content");
    assert.ok(f, JSON.stringify(r.failures));
    assert.doesNotMatch(f.reason, new RegExp(secretValue));
    assert.match(f.reason, /the daemon uses it/);
  });
});
