/**
 * The preview workflow runs on every pull request that changes something the Pulumi program
 * reads: its `paths` filter is checked against the files a real program run opens (every module
 * loaded and every file read through fs, recorded by record-reads.cjs) for each example stack.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, matchesGlob, relative } from "node:path";
import { describe, it } from "node:test";
import yaml from "js-yaml";

const ROOT = join(__dirname, "..", "..");
const workflow = yaml.load(readFileSync(join(ROOT, ".github", "workflows", "preview.yml"), "utf8")) as {
  on: { pull_request: { paths: string[] } };
};
const globs = workflow.on.pull_request.paths;
const stacks = readdirSync(join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s);

/** Repository files (relative) the program opened when run for `stack`. */
function filesRead(stack: string): string[] {
  const out = join(mkdtempSync(join(tmpdir(), "hf-reads-")), "reads.json");
  const r = spawnSync(
    process.execPath,
    ["--require", join(__dirname, "record-reads.cjs"), "--import", "tsx", join(__dirname, "run-stack.ts"), stack],
    {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, HAFORGE_READS_OUT: out },
      maxBuffer: 256 * 1024 * 1024,
      timeout: 180_000,
    },
  );
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const all = JSON.parse(readFileSync(out, "utf8")) as string[];
  return all
    .filter((p) => p.startsWith(ROOT + "/") && existsSync(p) && statSync(p).isFile())
    .map((p) => relative(ROOT, p))
    .filter((p) => !p.startsWith("node_modules/") && !p.startsWith("tests/"));
}

describe("preview workflow paths filter", () => {
  it("the filter is a list of globs and covers the program's entry files", () => {
    for (const f of ["index.ts", "Pulumi.yaml", "package-lock.json", "stacks/Pulumi.prod.yaml"])
      assert.ok(
        globs.some((g) => matchesGlob(f, g)),
        f,
      );
  });

  it("previews safely: pull_request (not _target), OIDC per stack environment, no stored secret but the GitHub token, pulumi/actions v7, state-based diff, one run per stack", () => {
    const text = readFileSync(join(ROOT, ".github", "workflows", "preview.yml"), "utf8");
    const wf = yaml.load(text) as { on: Record<string, unknown>; jobs: Record<string, any> };
    assert.deepEqual(Object.keys(wf.on), ["pull_request"], "pull-request code must not run with the base repository's secrets");
    assert.deepEqual(
      [...text.matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]).filter((s) => s !== "GITHUB_TOKEN"),
      [],
      "no long-lived secret",
    );
    for (const [name, job] of Object.entries(wf.jobs)) {
      assert.match(String(job.concurrency?.group ?? ""), /matrix\.stack/, `${name}: concurrency per stack`);
      assert.notEqual(job.permissions?.contents, "write", `${name} cannot push`);
    }
    const preview = wf.jobs["preview"];
    assert.equal(preview.permissions["id-token"], "write");
    assert.equal(preview.environment, "preview-${{ matrix.stack }}");
    assert.match(String(preview.if), /head\.repo\.full_name == github\.repository/, "forks get no preview");
    const pulumiStep = preview.steps.find((s: { uses?: string }) => s.uses?.startsWith("pulumi/actions@"));
    assert.equal(pulumiStep.uses, "pulumi/actions@v7");
    assert.equal(pulumiStep.with.command, "preview");
    assert.equal(pulumiStep.env?.HAFORGE_DIFF, "state", "the provider's state-based diff: a runner cannot reach the hosts");
    assert.equal(pulumiStep.with["edit-pr-comment"], true, "sticky comment");
    assert.ok(!/\bup\b|destroy|refresh/.test(String(pulumiStep.with.command)));
  });

  for (const stack of stacks) {
    it(`covers every repository file a program run for stack ${stack} reads`, () => {
      const read = filesRead(stack);
      assert.ok(read.some((f) => f.startsWith("templates/")) || stack === "k8s", `templates read for ${stack}: ${read.join(", ")}`);
      assert.ok(read.includes("index.ts"));
      const uncovered = read.filter((f) => !globs.some((g) => matchesGlob(f, g)));
      assert.deepEqual(uncovered, [], `files the program reads that do not trigger a preview: ${uncovered.join(", ")}`);
    });
  }
});
