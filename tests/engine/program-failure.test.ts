/**
 * A program that fails while declaring, under the engine stand-in. haforge declares its resources
 * in chunks with a turn of the event loop between them (components/declaration.ts), so an error in
 * a later chunk (a renderer bug) is thrown from the event loop, not from the program's module. The
 * language host (@pulumi/pulumi cmd/run/run.js) reports such an error, once, as the program's
 * failure; the engine then fails the update without deleting what the program did not get to
 * declare. The stand-in's program host must do the same, not end with the error.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { locksOf, readCheckpoint, up, urnName } from ".";

const root = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "haforge-engine-failure-"));
const checkpointFile = join(dir, "state.json");
after(() => rmSync(dir, { recursive: true, force: true }));

const notes = Array.from({ length: 12 }, (_, i) => ({ name: `n${i + 1}`, text: `N${i + 1}` }));
const op = { cwd: root, stack: "dev", checkpointFile, program: "tests/engine/fixtures/toy-program.ts" };
/** `up` of the twelve notes declared four at a time; `failAt`: that note's construction throws. */
const run = (failAt?: number) =>
  up({
    ...op,
    config: {
      "toy:version": "1",
      "toy:dir": dir,
      "toy:notes": JSON.stringify(notes),
      "toy:chunk": "4",
      ...(failAt === undefined ? {} : { "toy:failAt": String(failAt) }),
    },
  });
const resources = () => [...readCheckpoint(checkpointFile, "dev").resources].sort((a, b) => a.urn.localeCompare(b.urn));

describe("engine stand-in: a program whose declaration fails in a later chunk", { concurrency: false }, () => {
  it("the update fails with the program's error, reported once; nothing deleted, the state unchanged, the lock released", async () => {
    const first = await run();
    assert.ok(first.ok, first.errors.join("\n"));
    assert.equal(first.steps.filter((s) => s.op === "create").length, 13, "twelve notes and their group");
    const before = resources();

    // Note 10 is in the third chunk: its construction throws from the event loop's turn.
    const r = await run(10);
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors, ["toy failure injected at note 10"], "the program's error, once, not a crashed host");
    assert.deepEqual(
      r.steps.map((s) => `${s.op} ${urnName(s.urn)}`).sort(),
      ["same group", ...notes.slice(0, 9).map((n) => `same ${n.name}`)].sort(),
      "the nine notes declared before the failure are Same; the three after it are not deleted",
    );
    assert.deepEqual(resources(), before);
    assert.deepEqual(locksOf(op), []);

    // The next update without the failure changes nothing.
    const again = await run();
    assert.ok(again.ok, again.errors.join("\n"));
    assert.deepEqual(
      again.steps.filter((s) => s.op !== "same"),
      [],
    );
  });

  it("a failure in the first chunk (thrown while the module loads) is reported the same way", async () => {
    const r = await run(2);
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors, ["toy failure injected at note 2"]);
    assert.deepEqual(r.steps.map((s) => `${s.op} ${urnName(s.urn)}`).sort(), ["same group", "same n1"]);
  });
});
