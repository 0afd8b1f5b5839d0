/** `haforge diff`: missing folders are an error (exit 2), revisions reach git only as revisions. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ROOT, runCli } from "../helpers/cli";

const inv = (f: string) => join(ROOT, "inventories", f);
const ENV = { HAFORGE_SECRET_rabbitmqPassword: "rabbit-pw-1234" };

describe("haforge diff OLD NEW", () => {
  it("folders that do not exist (or are files) exit 2, never 'no changes'", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-diff-"));
    mkdirSync(join(dir, "real"));
    writeFileSync(join(dir, "file"), "x");
    for (const [a, b] of [
      ["nope-a", "nope-b"],
      ["real", "nope"],
      ["nope", "real"],
      ["real", "file"],
    ]) {
      const r = await runCli(["diff", join(dir, a!), join(dir, b!)]);
      assert.equal(r.code, 2, `${a} ${b}: ${r.out}`);
      assert.doesNotMatch(r.out, /no changes/);
      assert.match(r.err, /cannot read|not a folder/);
    }
  });
});

describe("haforge diff INVENTORY --rev REV", () => {
  const repo = mkdtempSync(join(tmpdir(), "hf-rev-"));
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: repo,
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" },
    });
  git("init", "-q");
  copyFileSync(inv("tower-cluster.ini"), join(repo, "prod.ini"));
  git("add", "prod.ini");
  git("commit", "-qm", "one");
  writeFileSync(join(repo, "prod.ini"), readFileSync(join(repo, "prod.ini"), "utf8").replace("rabbitmq_port=5672", "rabbitmq_port=5673"));

  it("renders both sides with the same materials and shows only the change", async () => {
    const r = await runCli(["diff", join(repo, "prod.ini"), "--rev", "HEAD"], ENV);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^-.*5672/m);
    assert.match(r.out, /^\+.*5673/m);
    assert.doesNotMatch(r.out, /authkey|PRIVATE KEY/, "keys are the same on both sides");
  });

  it("--json: the same change per host, with the restart it causes; --limit by group", async () => {
    const r = await runCli(["diff", join(repo, "prod.ini"), "--rev", "HEAD", "--json"], ENV);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { hosts: { host: string; files: { diff?: string }[]; actions: { id: string; run: string }[] }[] };
    assert.ok(j.hosts.some((h) => h.files.some((f) => /^\+.*5673/m.test(f.diff ?? ""))));
    assert.ok(j.hosts.some((h) => h.actions.some((x) => x.id === "service:rabbitmq-server" && x.run === "restart")));
    const lim = JSON.parse((await runCli(["diff", join(repo, "prod.ini"), "--rev", "HEAD", "--json", "--limit", "west"], ENV)).out) as {
      hosts: { host: string }[];
    };
    assert.deepEqual(
      lim.hosts.map((h) => h.host),
      ["towerC"],
    );
  });

  it("a revision that looks like an option is refused before git sees it: no file is written", async () => {
    const before = readdirSync(repo).sort();
    const optionLike = fc.tuple(
      fc.constantFrom("-", "--"),
      fc.constantFrom("output=", "output ", "o", "exec=", ""),
      fc.stringMatching(/^[a-zA-Z0-9/._=-]{0,12}$/),
    );
    await fc.assert(
      fc.asyncProperty(optionLike, async ([dash, opt, rest]) => {
        const target = join(repo, "pwned");
        const rev = `${dash}${opt}${opt ? target : ""}${rest}`;
        const r = await runCli(["diff", join(repo, "prod.ini"), `--rev=${rev}`], ENV);
        assert.equal(r.code, 2, `${rev}: ${r.out}`);
        assert.equal(existsSync(target), false, `git wrote ${target}`);
      }),
      { numRuns: 30 },
    );
    const r = await runCli(["diff", join(repo, "prod.ini"), `--rev=--output=${join(repo, "pwned")}`], ENV);
    assert.equal(r.code, 2);
    assert.deepEqual(readdirSync(repo).sort(), before);
  });

  it("an unknown revision exits 2 with a message", async () => {
    const r = await runCli(["diff", join(repo, "prod.ini"), "--rev", "no-such-branch"], ENV);
    assert.equal(r.code, 2);
    assert.match(r.err, /no such commit/);
  });
});
