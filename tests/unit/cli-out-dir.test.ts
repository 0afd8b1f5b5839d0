/**
 * `haforge render --out DIR` never loses data: it refuses a non-empty folder that is not one of its
 * own renders, replaces only what its previous render wrote, and never removes the current
 * directory, a parent of it, or a folder holding its own inputs (the inventory, the materials).
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ROOT, runCli, runCliProcess } from "../helpers/cli";

const inv = (f: string) => join(ROOT, "inventories", f);
const SECRETS = { HAFORGE_SECRET_rabbitmqPassword: "rabbit-pw-1234", HAFORGE_SECRET_pgPassword: "pg-pw-123456" };

/** Every file under dir with its content (relative paths), for before/after comparison. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, "utf8");
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

function fill(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
}

describe("render --out never loses data", () => {
  it("refuses a non-empty folder that is not a previous render, whatever is in it; --force writes beside it and removes nothing", async () => {
    const seg = fc.stringMatching(/^[a-z0-9._-]{1,8}$/).filter((s) => s !== "." && s !== ".." && s !== "manifest.json");
    const tree = fc.dictionary(
      fc.array(seg, { minLength: 1, maxLength: 3 }).map((p) => p.join("/")),
      fc.string({ maxLength: 20 }),
      { minKeys: 1, maxKeys: 6 },
    );
    await fc.assert(
      fc.asyncProperty(tree, async (files) => {
        const dir = mkdtempSync(join(tmpdir(), "hf-out-"));
        const out = join(dir, "out");
        // A path both a file and a folder's prefix cannot be created: keep what fill manages.
        try {
          fill(out, files);
        } catch {
          return;
        }
        const before = snapshot(out);
        const r = await runCli(["render", inv("tower-cluster.yaml"), "--out", out, "--materials", join(dir, "m.json")], SECRETS);
        assert.equal(r.code, 2, r.err);
        assert.match(r.err, /not empty and not a previous haforge render/);
        assert.deepEqual(snapshot(out), before, "nothing touched");
        assert.equal(existsSync(join(dir, "m.json")), false, "refused before the materials were generated");
        const forced = await runCli(
          ["render", inv("tower-cluster.yaml"), "--out", out, "--materials", join(dir, "m.json"), "--force"],
          SECRETS,
        );
        if (forced.code === 0) {
          const after = snapshot(out);
          for (const k of Object.keys(before))
            if (!k.includes("/etc/") && !k.startsWith("k8s/")) assert.ok(k in after, `${k} survived --force`);
          assert.ok(existsSync(join(out, "manifest.json")));
        } else {
          // A collision (a file where the render needs a folder) is an error, never a deletion.
          assert.ok(Object.keys(before).every((k) => existsSync(join(out, k))));
        }
      }),
      { numRuns: 10 },
    );
  });

  it("a previous render is replaced: its files go, files it did not write stay", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-out-"));
    const out = join(dir, "out");
    const first = await runCli(["render", inv("tower-cluster.yaml"), "--out", out, "--materials", join(dir, "a.json")], SECRETS);
    assert.equal(first.code, 0, first.err);
    const firstHosts = readdirSync(out).filter((e) => e !== "manifest.json");
    writeFileSync(join(out, "NOTES.md"), "mine");
    mkdirSync(join(out, firstHosts[0]!, "home"), { recursive: true });
    writeFileSync(join(out, firstHosts[0]!, "home", "keep.txt"), "mine too");
    const second = await runCli(["render", inv("tower-standalone.ini"), "--out", out, "--materials", join(dir, "b.json")], {});
    assert.equal(second.code, 0, second.err);
    assert.equal(readFileSync(join(out, "NOTES.md"), "utf8"), "mine");
    assert.equal(readFileSync(join(out, firstHosts[0]!, "home", "keep.txt"), "utf8"), "mine too");
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as { files: { host: string; path: string }[] };
    const now = new Set(manifest.files.map((f) => join(f.host, f.path)));
    for (const f of Object.keys(snapshot(out))) {
      if (f === "manifest.json" || f === "NOTES.md" || f.endsWith("keep.txt")) continue;
      assert.ok(now.has(f), `${f} is left over from the first render`);
    }
  });

  it("a Kubernetes render replaced by a host render leaves no stale k8s objects", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-out-"));
    const out = join(dir, "out");
    assert.equal((await runCli(["render", inv("tower-k8s.yaml"), "--out", out, "--materials", join(dir, "a.json")], SECRETS)).code, 0);
    assert.ok(readdirSync(join(out, "k8s")).length > 0);
    const r = await runCli(["render", inv("tower-standalone.ini"), "--out", out, "--materials", join(dir, "b.json")], {});
    assert.equal(r.code, 0, r.err);
    assert.equal(existsSync(join(out, "k8s")), false);
  });

  /** Run the CLI in-process from `cwd` (process.chdir: this file's tests run one after another). */
  async function runIn(cwd: string, args: string[], env: NodeJS.ProcessEnv) {
    const back = process.cwd();
    process.chdir(cwd);
    try {
      return await runCli(args, env);
    } finally {
      process.chdir(back);
    }
  }

  it("never the current directory, a parent of it, the inventory's folder or .haforge — even with --force", async () => {
    const base = mkdtempSync(join(tmpdir(), "hf-cwd-"));
    const work = join(base, "clone");
    const sub = join(work, "sub");
    fill(work, {
      ".git/HEAD": "ref: refs/heads/main\n",
      "README.md": "precious",
      "sub/x.txt": "x",
      "inventories/tower-cluster.yaml": readFileSync(inv("tower-cluster.yaml"), "utf8"),
    });
    const before = snapshot(base);
    const env = SECRETS;
    const myInv = join(work, "inventories", "tower-cluster.yaml");
    for (const [cwd, out] of [
      [work, "."],
      [work, work],
      [sub, ".."],
      [sub, "../.."],
      [work, "inventories"],
      [work, "/"],
    ] as const) {
      for (const force of [[], ["--force"]]) {
        const r = await runIn(cwd, ["render", myInv, "--out", out, "--materials", join(base, "m.json"), ...force], env);
        assert.equal(r.code, 2, `--out ${out} from ${cwd}: ${r.err}`);
        assert.match(r.err, /current directory|holds the inventory|not empty/);
        assert.deepEqual(snapshot(base), before, `--out ${out} ${force.join(" ")} changed nothing`);
      }
    }
    // The real binary, as in the report: `--out "$PWD"` from a clone.
    const r = runCliProcess(["render", myInv, "--out", work], { cwd: work, env });
    assert.equal(r.code, 2, r.err);
    assert.doesNotMatch(r.err, /\n\s+at /, "a message, no stack trace");
    assert.deepEqual(snapshot(base), before);
    // .haforge: the default materials of a first render live beside the inventory
    const ok = await runIn(work, ["render", myInv, "--out", "render"], env);
    assert.equal(ok.code, 0, ok.err);
    const matDir = join(work, "inventories", ".haforge");
    const haforge = snapshot(matDir);
    assert.ok(Object.keys(haforge).length > 0);
    for (const out of [matDir, join(work, "inventories")]) {
      for (const force of [[], ["--force"]]) {
        const r = await runIn(work, ["render", myInv, "--out", out, ...force], env);
        assert.equal(r.code, 2, r.err);
        assert.deepEqual(snapshot(matDir), haforge, "the key material is intact");
      }
    }
    // Another inventory's materials folder is no render either.
    const other = await runIn(work, ["render", inv("tower-standalone.ini"), "--out", matDir], env);
    assert.equal(other.code, 2, other.err);
    assert.deepEqual(snapshot(matDir), haforge);
  });

  it("--reveal-secrets writes a private folder and every file with its manifest mode", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-reveal-"));
    const out = join(dir, "out");
    const mats = join(dir, "m.json");
    copyFileSync(join(ROOT, "tests", "golden", "tower-cluster.ini", "materials.json"), mats);
    const r = await runCli(["render", inv("tower-cluster.ini"), "--out", out, "--materials", mats, "--reveal-secrets"], {
      HAFORGE_SECRET_rabbitmqPassword: "x".repeat(12),
    });
    assert.equal(r.code, 0, r.err);
    assert.equal(statSync(out).mode & 0o777, 0o700);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as {
      files: { host: string; path: string; mode: string; secret: boolean }[];
    };
    assert.ok(
      manifest.files.some((f) => f.secret && /^0[46]00$/.test(f.mode)),
      "the example has private files",
    );
    for (const f of manifest.files) {
      assert.equal((statSync(join(out, f.host, f.path)).mode & 0o777).toString(8).padStart(4, "0"), f.mode, `${f.host}:${f.path}`);
    }
    assert.equal(statSync(join(out, "manifest.json")).mode & 0o077, 0, "the revealed manifest (actions) is private too");
    // A revealed render is replaced like any other, 0400 files included.
    const again = await runCli(["render", inv("tower-cluster.ini"), "--out", out, "--materials", mats], {
      HAFORGE_SECRET_rabbitmqPassword: "x".repeat(12),
    });
    assert.equal(again.code, 0, again.err);
  });
});
