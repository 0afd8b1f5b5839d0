/**
 * file-ops: fixtures of facts → expected changes (no SSH). The shell builders are also run
 * with the local `sh` against temp files, since their safety checks are the point of them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  WRITE_EXIT,
  fileFact,
  maskSecret,
  normalizeMode,
  planFile,
  redactSecret,
  removeIfUnchangedScript,
  sha256Hex,
  shQuote,
  writeFileScript,
  type DesiredFile,
  type FileFact,
} from "../../src/core/file-ops";

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const desired = (over: Partial<DesiredFile> = {}): DesiredFile => ({
  host: "hostA",
  path: "/etc/app.conf",
  content: "a\nb\n",
  mode: "0644",
  owner: "root",
  group: "root",
  secret: false,
  ...over,
});
const fact = (content: string, over: Partial<FileFact> = {}): FileFact => ({
  mode: "0644",
  uid: 0,
  owner: "root",
  gid: 0,
  group: "root",
  size: Buffer.byteLength(content),
  sha256: sha(content),
  content,
  ...over,
});

describe("planFile", () => {
  it("absent → one write that creates, with a diff from /dev/null", () => {
    const p = planFile(desired(), null);
    assert.equal(p.changes.length, 1);
    assert.equal(p.changes[0]!.kind, "write");
    assert.equal(p.changes[0]!.reason, "create /etc/app.conf (0644 root:root, 4 bytes)");
    assert.equal(p.changes[0]!.diff, "--- /dev/null\n+++ b/etc/app.conf\n@@ -0,0 +1,2 @@\n+a\n+b\n");
    assert.equal(p.desiredSha256, sha("a\nb\n"));
    assert.equal(p.noop, undefined);
  });

  it("identical file → no-op with a reason", () => {
    const p = planFile(desired(), fact("a\nb\n"), sha("a\nb\n"));
    assert.deepEqual(p.changes, []);
    assert.equal(p.noop, "file /etc/app.conf already up to date");
  });

  it("owner/group given as numeric ids match the names on the host", () => {
    assert.deepEqual(planFile(desired({ owner: "0", group: "0" }), fact("a\nb\n")).changes, []);
  });

  it("content change → write with the unified diff", () => {
    const p = planFile(desired({ content: "a\nB\n" }), fact("a\nb\n"), sha("a\nb\n"));
    assert.deepEqual(
      p.changes.map((c) => c.kind),
      ["write"],
    );
    assert.match(p.changes[0]!.reason, /^update \/etc\/app\.conf \(sha256 [0-9a-f]{8}… → [0-9a-f]{8}…\)$/);
    assert.equal(p.changes[0]!.diff, "--- a/etc/app.conf\n+++ b/etc/app.conf\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n");
  });

  it("mode and owner drift → chmod and chown, no write", () => {
    const p = planFile(desired({ mode: "600", group: "adm" }), fact("a\nb\n", { mode: "0644", group: "root" }), sha("a\nb\n"));
    assert.deepEqual(
      p.changes.map((c) => [c.kind, c.reason]),
      [
        ["chmod", "mode of /etc/app.conf 0644 → 0600"],
        ["chown", "owner of /etc/app.conf root:root → root:adm"],
      ],
    );
  });

  it("out-of-band edit → a lone refuse that shows the drift, unless forced", () => {
    const live = fact("edited\n");
    const p = planFile(desired(), live, sha("a\nb\n"));
    assert.equal(p.changes.length, 1);
    assert.equal(p.changes[0]!.kind, "refuse");
    assert.match(p.changes[0]!.reason, /was changed out of band.*pulumi refresh.*force: true/);
    assert.match(p.changes[0]!.diff!, /-edited\n\+a\n\+b\n/);

    const forced = planFile(desired(), live, sha("a\nb\n"), { force: true });
    assert.deepEqual(
      forced.changes.map((c) => c.kind),
      ["write"],
    );
    assert.match(forced.changes[0]!.reason, /^overwrite out-of-band edit of \/etc\/app\.conf \(force/);
  });

  it("an out-of-band edit that already matches the desired content is not refused", () => {
    const p = planFile(desired(), fact("a\nb\n", { mode: "0600" }), sha("old\n"));
    assert.deepEqual(
      p.changes.map((c) => c.kind),
      ["chmod"],
    );
  });

  it("first create over an existing unmanaged file takes it over (no baseline to compare)", () => {
    const p = planFile(desired(), fact("distro default\n"));
    assert.equal(p.changes[0]!.kind, "write");
    assert.match(p.changes[0]!.reason, /^take over existing \/etc\/app\.conf/);
  });

  it("wrong kind → refuse, even with force", () => {
    for (const force of [false, true]) {
      const p = planFile(desired(), false, undefined, { force });
      assert.deepEqual(
        p.changes.map((c) => c.kind),
        ["refuse"],
      );
      assert.match(p.changes[0]!.reason, /not a regular file/);
    }
  });

  it("secret content is masked in every diff, yet changes stay visible", () => {
    const d = desired({ content: "password=hunter2\n", secret: true });
    const created = planFile(d, null).changes[0]!.diff!;
    assert.equal(created, `--- /dev/null\n+++ b/etc/app.conf\n@@ -0,0 +1,1 @@\n+${maskSecret("password=hunter2\n")}\n`);
    const changed = planFile(d, fact("password=letmein\n"), sha("password=letmein\n")).changes[0]!.diff!;
    assert.doesNotMatch(changed, /hunter2|letmein/);
    assert.match(changed, /^-<secret:file h:[0-9a-f]{8}>\n\+<secret:file h:[0-9a-f]{8}>$/m);
    assert.doesNotMatch(
      changed + planFile(d, fact("password=letmein\n"), sha("password=letmein\n")).changes[0]!.reason,
      new RegExp(`${sha("password=letmein\n").slice(0, 8)}|${sha("password=hunter2\n").slice(0, 8)}`),
      "no plain sha256 of secret content",
    );
    const refused = planFile(d, fact("password=letmein\n"), sha("other")).changes[0]!;
    assert.equal(refused.kind, "refuse");
    assert.doesNotMatch(refused.diff!, /hunter2|letmein/);
  });

  it("large or binary content → a size/hash summary instead of a line diff", () => {
    const big = "x\n".repeat(200_000);
    const p = planFile(desired({ content: big }), fact("y\n"), sha("y\n"));
    assert.match(p.changes[0]!.diff!, /@@ content differs: 2 bytes sha256 [0-9a-f]{8}… → 400000 bytes .*not shown/);
    const { content: _c, ...binary } = fact("\u0000\u00ff");
    const q = planFile(desired(), binary, binary.sha256);
    assert.match(q.changes[0]!.diff!, /@@ content differs/);
  });
});

describe("masking", () => {
  it("maskSecret is stable, keyed, and distinguishes values", () => {
    assert.equal(maskSecret("s3cret", "salt"), maskSecret("s3cret", "salt"));
    assert.notEqual(maskSecret("s3cret", "salt"), maskSecret("s3cret2", "salt"));
    assert.notEqual(maskSecret("s3cret", "salt"), maskSecret("s3cret", "other salt"), "keyed");
    assert.match(maskSecret("s3cret"), /^<secret:file h:[0-9a-f]{8}>$/);
    assert.notEqual(
      maskSecret("s3cret"),
      `<secret:file h:${sha256Hex("s3cret").slice(0, 8)}>`,
      "never a plain sha256, even without a salt",
    );
  });

  it("redactSecret removes secret lines and tokens from free text", () => {
    const secret = "user admin\npassword Sup3rS3cretValue\n";
    const out = redactSecret("line 2: bad 'password Sup3rS3cretValue' near Sup3rS3cretValue", secret);
    assert.doesNotMatch(out, /Sup3rS3cretValue/);
    assert.match(out, /^line 2: bad '<secret:file-\d+ h:[0-9a-f]{8}>' near <secret:file-\d+ h:[0-9a-f]{8}>$/);
  });
});

describe("normalizeMode / shQuote", () => {
  it("normalizes octal modes and rejects garbage", () => {
    assert.equal(normalizeMode("644"), "0644");
    assert.equal(normalizeMode("0600"), "0600");
    assert.equal(normalizeMode("4755"), "4755");
    assert.throws(() => normalizeMode("0999"), /invalid file mode "0999"/);
    assert.throws(() => normalizeMode("rw-r--r--"), /invalid file mode/);
  });

  it("quotes anything for sh", () => {
    const nasty = `it's $(touch /tmp/pwned) "x" \\ \`y\``;
    const r = spawnSync("sh", ["-c", `printf %s ${shQuote(nasty)}`], { encoding: "utf8" });
    assert.equal(r.stdout, nasty);
  });
});

// ---------------------------------------------------------------------------------------------
// The shell side, run locally with sh (no SSH): same commands the provider sends.

const tmp = mkdtempSync(join(tmpdir(), "haforge-file-ops-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const sh = (script: string, stdin?: string | Buffer) => spawnSync("sh", ["-c", script], { input: Buffer.from(stdin ?? "") });
let n = 0;
// Spaces and a quote in the directory name: the scripts must quote every path.
const newDir = () => {
  const d = join(tmp, `d ${++n} it's`);
  mkdirSync(d);
  return d;
};

describe("fileFact command + parse (local sh)", () => {
  const run = (path: string, max?: number) => {
    const r = sh(fileFact.command(max === undefined ? { path } : { path, maxContentBytes: max }));
    assert.equal(r.status, 0, r.stderr.toString());
    return fileFact.parse(r.stdout.toString());
  };

  it("reports a regular file with mode, owner, size, sha256 and content", () => {
    const d = newDir();
    writeFileSync(join(d, "f"), "hello\n", { mode: 0o640 });
    const f = run(join(d, "f"));
    assert.ok(f);
    assert.deepEqual(
      { ...f, owner: "-", group: "-" },
      { mode: "0640", uid: 0, owner: "-", gid: 0, group: "-", size: 6, sha256: sha("hello\n"), content: "hello\n" },
    );
  });

  it("absent → null; directory and symlink → false; empty file → empty content", () => {
    const d = newDir();
    assert.equal(run(join(d, "nope")), null);
    assert.equal(run(join(d, "no-dir", "nope")), null);
    assert.equal(run(d), false);
    writeFileSync(join(d, "target"), "x");
    symlinkSync(join(d, "target"), join(d, "link"));
    assert.equal(run(join(d, "link")), false);
    writeFileSync(join(d, "empty"), "");
    assert.equal((run(join(d, "empty")) as FileFact).content, "");
  });

  it("omits content above maxContentBytes and for binary files, keeps the hash", () => {
    const d = newDir();
    writeFileSync(join(d, "big"), "0123456789");
    const big = run(join(d, "big"), 5) as FileFact;
    assert.equal(big.content, undefined);
    assert.equal(big.sha256, sha("0123456789"));
    writeFileSync(join(d, "bin"), Buffer.from([0, 0xff, 0xfe]));
    assert.equal((run(join(d, "bin")) as FileFact).content, undefined);
  });

  it("parse rejects unexpected output without echoing file content", () => {
    assert.throws(
      () => fileFact.parse("garbage line\nc2VjcmV0IGNvbnRlbnQ="),
      (e: Error) => /unexpected output "garbage line"/.test(e.message) && !/c2VjcmV0/.test(e.message),
    );
  });
});

describe("writeFileScript (local sh)", () => {
  const args = (path: string, content: string, over: Partial<Parameters<typeof writeFileScript>[0]> = {}) => ({
    path,
    mode: "0640",
    owner: "root",
    group: "root",
    sha256: sha(content),
    size: Buffer.byteLength(content),
    expectLive: existsSync(path) ? sha(readFileSync(path)) : "absent",
    keepPrevious: true,
    ...over,
  });
  const leftovers = (d: string) => readdirSync(d).filter((f) => f.includes(".haforge-tmp-"));

  it("writes atomically with mode, keeps the previous copy, reports had_prev", () => {
    const d = newDir();
    const p = join(d, "app.conf");
    writeFileSync(p, "old\n");
    const r = sh(writeFileScript(args(p, "new\n")), "new\n");
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /HAFORGE-WRITTEN had_prev=1/);
    assert.equal(readFileSync(p, "utf8"), "new\n");
    assert.equal(readFileSync(`${p}.haforge-prev`, "utf8"), "old\n");
    assert.equal(statSync(p).mode & 0o7777, 0o640);
    assert.deepEqual(leftovers(d), []);
  });

  it("creates missing parent directories", () => {
    const p = join(newDir(), "a", "b", "app.conf");
    const r = sh(writeFileScript(args(p, "x\n")), "x\n");
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(readFileSync(p, "utf8"), "x\n");
  });

  it("a truncated upload (early EOF) is never renamed into place", () => {
    const d = newDir();
    const p = join(d, "app.conf");
    writeFileSync(p, "old\n");
    const r = sh(writeFileScript(args(p, "new content\n")), "new co");
    assert.equal(r.status, WRITE_EXIT.transfer);
    assert.match(r.stderr.toString(), /transfer incomplete: received 6 of 12 bytes/);
    assert.equal(readFileSync(p, "utf8"), "old\n");
    assert.deepEqual(leftovers(d), []);
  });

  it("a failing validator (given the temp path) leaves the target alone", () => {
    const d = newDir();
    const p = join(d, "app.conf");
    writeFileSync(p, "old\n");
    const validate = `echo "checking {file}"; grep -qx valid {file}`;
    const r = sh(writeFileScript(args(p, "invalid?\n", { validate })), "invalid?\n");
    assert.equal(r.status, WRITE_EXIT.validate, r.stderr.toString());
    assert.match(r.stderr.toString(), /checking .*\/\.app\.conf\.haforge-tmp-\w{6}\n/);
    assert.match(r.stderr.toString(), /validator exited 1/);
    assert.equal(readFileSync(p, "utf8"), "old\n");
    assert.deepEqual(leftovers(d), []);
    const ok = sh(writeFileScript(args(p, "valid\n", { validate })), "valid\n");
    assert.equal(ok.status, 0, ok.stderr.toString());
  });

  it("refuses to rename when the target changed after planning (compare-and-swap)", () => {
    const d = newDir();
    const p = join(d, "app.conf");
    writeFileSync(p, "edited meanwhile\n");
    const r = sh(writeFileScript(args(p, "new\n", { expectLive: sha("what we planned against\n") })), "new\n");
    assert.equal(r.status, WRITE_EXIT.raced);
    assert.equal(readFileSync(p, "utf8"), "edited meanwhile\n");
    assert.deepEqual(leftovers(d), []);
  });

  it("removeIfUnchangedScript removes only the file we wrote", () => {
    const d = newDir();
    const p = join(d, "f");
    writeFileSync(p, "ours\n");
    assert.match(sh(removeIfUnchangedScript(p, sha("theirs\n"))).stdout.toString(), /HAFORGE-DELETE kept [0-9a-f]{64}/);
    assert.ok(existsSync(p));
    assert.match(sh(removeIfUnchangedScript(p, sha("ours\n"))).stdout.toString(), /HAFORGE-DELETE removed/);
    assert.equal(existsSync(p), false);
    assert.match(sh(removeIfUnchangedScript(p, sha("ours\n"))).stdout.toString(), /HAFORGE-DELETE absent/);
  });
});
