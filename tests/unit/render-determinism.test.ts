/**
 * Determinism (docs/architecture.md: "the same inventory and secrets render byte-identical files"): every
 * example rendered by two separate processes, started at the same time with different time zones,
 * locales and working directories, with the same materials and fake secrets, gives identical
 * trees, masked and revealed; and `haforge diff` between the two prints "no changes". A changed
 * copy is caught by the same comparison and by `haforge diff` (the check can fail).
 *
 * The second process is this file run as a plain script with HF_DETERMINISM_CHILD set: it only
 * renders (no tests are registered in that mode).
 */
import { spawn } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ROOT, compareTrees, describeMismatches, exampleInventories, listTree, renderExample } from "../golden/examples";
import { runCli } from "../helpers/cli";

interface ChildJob {
  readonly outRoot: string;
  readonly materialsRoot: string;
}

const VARIANTS = ["masked", "revealed"] as const;
const examples = exampleInventories();

/** Child mode: render every example, masked and revealed, into outRoot/<variant>/<name>. */
async function renderAll(job: ChildJob): Promise<void> {
  for (const name of examples) {
    for (const v of VARIANTS) {
      const r = await renderExample(name, join(job.outRoot, v, name), {
        materials: join(job.materialsRoot, `${name}.json`),
        reveal: v === "revealed",
      });
      if (r.code !== 0) throw new Error(`${name} (${v}): render exited ${r.code}\n${r.err}`);
      if (/generated materials/.test(r.err)) throw new Error(`${name}: the child generated materials; both renders must share them`);
    }
  }
}

/** Run this file as a renderer in a separate node process (tsx loader), bounded. */
function spawnRenderer(job: ChildJob, env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // The loader by absolute URL: the second process runs from another directory.
    const child = spawn(process.execPath, ["--import", pathToFileURL(require.resolve("tsx")).href, __filename], {
      cwd,
      env: { ...process.env, ...env, HF_DETERMINISM_CHILD: JSON.stringify(job) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => (err += String(d)));
    child.stdout.resume();
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`renderer process exited ${code ?? signal}\n${err}`));
    });
  });
}

const child = process.env["HF_DETERMINISM_CHILD"];
if (child) {
  renderAll(JSON.parse(child) as ChildJob).then(
    () => process.exit(0),
    (e: Error) => {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    },
  );
} else {
  const work = mkdtempSync(join(tmpdir(), "haforge-determinism-"));
  const materialsRoot = join(work, "materials");
  const runs = { a: join(work, "a"), b: join(work, "b") };
  after(() => rmSync(work, { recursive: true, force: true }));

  describe("rendering is deterministic", { timeout: 240_000 }, () => {
    before(async () => {
      // Fresh materials (not the golden ones: this test stands on its own), generated once by an
      // in-process render; both processes then only read them.
      mkdirSync(materialsRoot, { recursive: true });
      for (const name of examples) {
        const r = await renderExample(name, join(work, "seed", name), { materials: join(materialsRoot, `${name}.json`) });
        assert.equal(r.code, 0, `${name}: ${r.err}`);
      }
      const cwdB = join(work, "elsewhere");
      mkdirSync(cwdB);
      // Different zone, locale and working directory: a sort by locale, a date or a relative
      // path in the render would show up as a difference.
      await Promise.all([
        spawnRenderer({ outRoot: runs.a, materialsRoot }, { TZ: "UTC", LANG: "C.UTF-8", LC_ALL: "C.UTF-8" }, ROOT),
        spawnRenderer({ outRoot: runs.b, materialsRoot }, { TZ: "Pacific/Chatham", LANG: "tr_TR.UTF-8", LC_ALL: "tr_TR.UTF-8" }, cwdB),
      ]);
    });

    for (const name of examples) {
      for (const v of VARIANTS) {
        it(`${name} (${v}): two processes render identical trees, and \`haforge diff\` says "no changes"`, async () => {
          const a = join(runs.a, v, name);
          const b = join(runs.b, v, name);
          const files = listTree(a);
          assert.ok(files.includes("manifest.json") && files.length > 1, `${a} holds a render`);
          const mismatches = compareTrees(a, b);
          assert.equal(mismatches.length, 0, describeMismatches(mismatches));
          const d = await runCli(["diff", a, b, "--exit-code"]);
          assert.equal(d.code, 0, d.out + d.err);
          assert.equal(d.out.trim(), "no changes");
        });
      }
    }

    it("the comparison and `haforge diff` catch a one-line change (the checks can fail)", async () => {
      const name = examples.find((n) => listTree(join(runs.a, "masked", n)).some((f) => f !== "manifest.json"))!;
      const a = join(runs.a, "masked", name);
      const changed = join(work, "changed", name);
      cpSync(a, changed, { recursive: true });
      const victim = listTree(changed).find((f) => f !== "manifest.json")!;
      appendFileSync(join(changed, victim), "# drift\n");
      const mismatches = compareTrees(a, changed);
      assert.deepEqual(
        mismatches.map((m) => m.file),
        [victim],
      );
      assert.match(mismatches[0]!.diff, /^\+# drift$/m);
      const d = await runCli(["diff", a, changed, "--exit-code"]);
      assert.equal(d.code, 1);
      assert.match(d.out, /\+# drift/);
      assert.match(d.out, /1 file\(s\) differ on 1 host\(s\)/);
    });
  });
}
