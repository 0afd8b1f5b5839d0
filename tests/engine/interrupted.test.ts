/**
 * Concurrent and interrupted `pulumi up` through the engine stand-in (issue 11, "interrupted and
 * concurrent applies"), on the toy program (tests/engine/fixtures/toy-program.ts), whose steps a
 * test can hold open (a note's `waitFor` file):
 *  - two ups of one stack at once: the second is refused by the diy backend's stack lock
 *    (stack-lock.ts) with the backend's message, before its program runs (no step, no provider
 *    call); the first completes and the files are its desired state; no lock is left;
 *  - an up killed mid-step (SIGKILL of the program host and the provider process): the
 *    checkpoint holds every step finished before the kill AND the resource whose step was running
 *    with its old state (the engine's snapshot keeps a resource until its step is done); the lock
 *    stays, so the next up is refused until `cancel`; then an up does only what was left (no
 *    finished step again).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cancel, locksOf, readCheckpoint, unwrap, up, urnName, type ProgramResult, type RunningOperation } from ".";

const root = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "haforge-engine-interrupted-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Call {
  op: string;
  pid: number;
  version: string;
  path: string;
}
const calls = (): Call[] =>
  existsSync(join(dir, "calls.jsonl"))
    ? readFileSync(join(dir, "calls.jsonl"), "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Call)
    : [];
const noteOf = (c: Call) => c.path.slice(c.path.lastIndexOf("/") + 1, -".txt".length);

type Note = { name: string; text: string; dependsOn?: string[]; delayMs?: number; waitFor?: string };
const op = (stack: string) => ({
  cwd: root,
  stack,
  checkpointFile: join(dir, `${stack}.json`),
  program: "tests/engine/fixtures/toy-program.ts",
});
const run = (stack: string, version: string, notes: Note[], onStarted?: (r: RunningOperation) => void) =>
  up({
    ...op(stack),
    config: { "toy:version": version, "toy:dir": dir, "toy:delayMs": "0", "toy:notes": JSON.stringify(notes) },
    ...(onStarted ? { onStarted } : {}),
  });
const ok = (r: { ok: boolean; errors: string[] }) => assert.ok(r.ok, r.errors.join("\n"));
const text = (name: string) => readFileSync(join(dir, `${name}.txt`), "utf8");
/** A note's text as the checkpoint's outputs hold it (undefined: not in the checkpoint). */
const stateText = (stack: string, name: string) => {
  const r = readCheckpoint(op(stack).checkpointFile, stack).resources.find((x) => x.urn.endsWith(`::${name}`));
  return r ? (unwrap(r.outputs) as { text?: string }).text : undefined;
};

async function until(what: string, f: () => boolean, ms = 180_000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("interrupted and concurrent ups (engine stand-in)", { concurrency: false }, () => {
  it("two ups of one stack at once: the second is refused by the stack lock before anything runs; the first completes", async () => {
    const release = join(dir, "release-first");
    const first: Note[] = [
      { name: "a", text: "A1" },
      { name: "b", text: "B1", dependsOn: ["a"] },
      // held open until the second up has been answered
      { name: "c", text: "C1", waitFor: release },
    ];
    let holder: RunningOperation | undefined;
    const pFirst = run("dev", "1", first, (r) => (holder = r));
    await until("the first up's lock", () => locksOf(op("dev")).length === 1);
    const callsBefore = calls().length;
    const second = await run("dev", "2", [
      { name: "a", text: "A2" },
      { name: "d", text: "D2" },
    ]);
    assert.equal(second.ok, false, "the second up is refused");
    assert.equal(second.errors.length, 1);
    assert.match(
      second.errors[0]!,
      /^the stack is currently locked by 1 lock\(s\)\. Either wait for the other process\(es\) to end or delete the lock file with `pulumi cancel`\./,
    );
    assert.match(
      second.errors[0]!,
      new RegExp(`\\.pulumi/locks/organization/haforge/dev/[0-9a-f-]+\\.json: created by .+@.+ \\(pid ${holder!.pid}\\) at `),
    );
    assert.deepEqual(second.steps, [], "no step of the refused up");
    assert.deepEqual(second.rpcs, {}, "no provider call of the refused up");
    assert.equal(calls().filter((c) => c.version === "2").length, 0, "its provider never ran");
    assert.ok(calls().length >= callsBefore);
    writeFileSync(release, "");
    const r: ProgramResult = await pFirst;
    ok(r);
    assert.deepEqual(
      calls()
        .map((c) => `${c.op} ${noteOf(c)} v${c.version}`)
        .sort(),
      ["create a v1", "create b v1", "create c v1"],
    );
    assert.deepEqual([text("a"), text("b"), text("c")], ["A1", "B1", "C1"], "the files are the first up's desired state");
    assert.equal(existsSync(join(dir, "d.txt")), false, "nothing of the second up");
    assert.deepEqual(locksOf(op("dev")), [], "the first up released its lock");
  });

  it("an up killed mid-step: the checkpoint keeps what finished and the running step's old state; the lock stays until cancel; the next up does only what is left", async () => {
    const stack = "killed";
    const v1: Note[] = [
      { name: "a", text: "A1" },
      { name: "b", text: "B1", dependsOn: ["a"] },
      { name: "c", text: "C1" },
    ];
    ok(await run(stack, "1", v1));
    const never = join(dir, "never");
    const v2 = (cWaits: boolean): Note[] => [
      { name: "a", text: "A2" },
      { name: "b", text: "B2", dependsOn: ["a"] },
      { name: "c", text: "C2", ...(cWaits ? { waitFor: never } : {}) },
    ];
    const seen = calls().length;
    let running: RunningOperation | undefined;
    const killed = run(stack, "2", v2(true), (r) => (running = r));
    // a and b updated (b after a) while c's update is held open: then kill -9
    await until(
      "a's and b's updates",
      () =>
        calls()
          .slice(seen)
          .filter((c) => c.op === "update").length === 2,
    );
    await until("b's update in the checkpoint", () => stateText(stack, "b") === "B2");
    running!.kill();
    const k = await killed;
    assert.equal(k.ok, false);
    assert.match(k.errors.join("\n"), /program host exited null without a result/);

    assert.equal(stateText(stack, "a"), "A2", "a's finished update is in the checkpoint");
    assert.equal(stateText(stack, "b"), "B2", "b's finished update is in the checkpoint");
    assert.equal(stateText(stack, "c"), "C1", "c, whose update was running, keeps its old state (not dropped)");
    assert.deepEqual([text("a"), text("b"), text("c")], ["A2", "B2", "C1"]);

    // the killed up's lock refuses the next one until `pulumi cancel`
    assert.equal(locksOf(op(stack)).length, 1, "a killed up leaves its lock");
    const refused = await run(stack, "2", v2(false));
    assert.equal(refused.ok, false);
    assert.match(refused.errors[0]!, new RegExp(`locked by 1 lock\\(s\\)[^]*\\(pid ${running!.pid}\\)`));
    assert.deepEqual(refused.steps, []);
    assert.equal(cancel(op(stack)), 1, "cancel removes the stale lock");

    const before = calls().length;
    const r = await run(stack, "2", v2(false));
    ok(r);
    assert.deepEqual(
      calls()
        .slice(before)
        .filter((c) => c.op !== "diff")
        .map((c) => `${c.op} ${noteOf(c)}`),
      ["update c"],
      "only c's change is applied again; a and b are not",
    );
    assert.deepEqual(r.steps.map((s) => `${s.op} ${urnName(s.urn)}`).sort(), ["same a", "same b", "same group", "update c"]);
    assert.deepEqual([text("a"), text("b"), text("c")], ["A2", "B2", "C2"]);
    assert.deepEqual(locksOf(op(stack)), []);
  });
});
