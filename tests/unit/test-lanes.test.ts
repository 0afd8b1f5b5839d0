/**
 * scripts/test-lanes.ts, the runner behind `npm test`: lanes run side by side, and a failing test
 * in any lane turns the whole command red, stops the other lane and names the stage.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { defaultLayout, runLanes, systemFiles, type Lane } from "../../scripts/test-lanes";

const root = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "haforge-lanes-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const nodeTest = (file: string) => `${q(process.execPath)} --test --test-reporter=spec ${q(file)}`;

describe("test lanes (npm test's runner)", () => {
  it("the CI layout runs every suite of the old chain once, the e2e lab in one lane only, every system file once", () => {
    const lanes = defaultLayout(root);
    const cmds = lanes.flat().map((s) => s.command);
    for (const script of ["format:check", "typecheck", "lint", "test:unit", "test:providers", "test:program", "test:engine", "test:e2e"])
      assert.equal(cmds.filter((c) => c === `npm run -s ${script}`).length, 1, script);
    const e2eLanes = lanes.filter((l) => l.some((s) => s.command.includes("test:e2e") || s.command.includes("tests/e2e")));
    assert.equal(e2eLanes.length, 1, "one lab per bridge: every e2e file in one lane");
    const all = readdirSync(join(root, "tests/system"))
      .filter((f) => f.endsWith(".test.ts"))
      .map((f) => `tests/system/${f}`);
    const listed = cmds.flatMap((c) => c.split(" ").filter((w) => w.startsWith("tests/system/")));
    assert.deepEqual([...listed].sort(), [...all].sort(), "each system file exactly once");
    const { first } = systemFiles(root);
    assert.deepEqual(first, ["tests/system/keepalived.test.ts"]);
    const sysLane = lanes.find((l) => l.some((s) => s.command.includes("tests/system/")))!;
    assert.equal(sysLane[0]!.command.split(" ").at(-1), "tests/system/keepalived.test.ts", "keepalived before anything else in its lane");
    assert.notEqual(sysLane, e2eLanes[0]);
  });

  it("a failing test in one lane makes the command red, stops the other lane and names the stage", () => {
    const failing = join(dir, "failing.test.ts");
    writeFileSync(
      failing,
      `const { it } = require("node:test");\nit("deliberately fails", () => { throw new Error("red on purpose"); });\n`,
    );
    const passing = join(dir, "passing.test.ts");
    writeFileSync(passing, `const { it } = require("node:test");\nit("passes", () => {});\n`);
    const marker = join(dir, "never-started");
    const lanes: Lane[] = [
      [
        { name: "slow", command: "sleep 120" },
        { name: "after-slow", command: `touch ${q(marker)}` },
      ],
      [
        { name: "ok", command: nodeTest(passing) },
        { name: "red", command: nodeTest(failing) },
      ],
    ];
    const layout = join(dir, "layout.json");
    writeFileSync(layout, JSON.stringify(lanes));
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts/test-lanes.ts"), layout], {
      cwd: root,
      encoding: "utf8",
      timeout: 90_000,
    });
    const ms = Date.now() - t0;
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAILED: first failure in stage red/);
    assert.match(r.stdout, /lane 2: red FAILED \(rc 1\)/);
    assert.match(r.stdout, /red on purpose/, "the failing stage's log is printed");
    assert.match(r.stdout, /lane 1: slow stopped \(signal SIGTERM\)/);
    assert.match(r.stdout, /lane 1 {2}after-slow\s+not run/);
    assert.match(r.stdout, /lane 2 {2}ok\s+pass/);
    assert.ok(!existsSync(marker), "no stage starts after the first failure");
    assert.ok(ms < 60_000, `the other lane was stopped, not waited for (${ms} ms)`);
  });

  it("all lanes green: rc 0 and a table of stage times", async () => {
    const out: string[] = [];
    const logDir = mkdtempSync(join(dir, "logs-"));
    const r = await runLanes(
      [
        [
          { name: "a1", command: "echo one" },
          { name: "a2", command: "echo two" },
        ],
        [{ name: "b1", command: "sleep 0.2; echo three" }],
      ],
      { logDir, cwd: root, out: (t) => out.push(t), graceMs: 5_000 },
    );
    const text = out.join("");
    assert.equal(r.ok, true, text);
    assert.deepEqual(
      r.results.map((x) => `${x.lane}/${x.name}/${x.status}`),
      ["1/a1/pass", "1/a2/pass", "2/b1/pass"],
    );
    assert.match(text, /all 3 stages passed/);
    assert.match(text, /===== lane 2 b1: passed in [\d.]+ s — log follows =====\nthree\n===== end of b1 =====/);
  });

  it("a stage that cannot exit 0 in a single lane fails the run too (rc 1, later stages not run)", async () => {
    const out: string[] = [];
    const logDir = mkdtempSync(join(dir, "logs-"));
    const r = await runLanes(
      [
        [
          { name: "x", command: "exit 3" },
          { name: "y", command: "echo never" },
        ],
      ],
      { logDir, cwd: root, out: (t) => out.push(t), graceMs: 5_000 },
    );
    assert.equal(r.ok, false);
    assert.equal(r.firstFailure, "x");
    assert.deepEqual(
      r.results.map((x) => x.status),
      ["fail", "not run"],
    );
  });
});
