/**
 * The program declares its resources in chunks (components/declaration.ts): the registrations of a
 * chunk are answered before the next chunk is declared, instead of every registration of the
 * cluster pending at once (most of the program's peak memory at 1,000 hosts). Under the SDK's mocks
 * (mock-engine.ts counts constructions and answers):
 *  - a 100-host Tower cluster (bench/plan.ts) never has more than a quarter of its resources
 *    pending, and the first answer comes before a quarter is declared; declared in one run
 *    (HAFORGE_DECLARE_CHUNK=0) every resource is pending at once, so the measure sees the difference;
 *  - for every example stack, the registrations (type, name, parent, inputs, dependencies, aliases)
 *    and the stack's outputs are the same whether the program declares in one run, with a turn of
 *    the event loop after every resource, or by default: nothing is declared after the outputs
 *    resolved, nothing is lost or changed;
 *  - Error.stackTraceLimit is never left lowered (components/sdk-cost.ts) when a registration
 *    reaches the engine, i.e. across a turn;
 *  - a construction that throws fails the program with that error, in the first chunk (thrown from
 *    the constructor, as before) and in a later one (from the event loop's turn), and nothing after
 *    it is declared.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { syntheticInventory } from "../../bench/plan";
import { DEFAULT_CHUNK } from "../../components/declaration";
import { parseRun, type MockRun } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");
const stacks = readdirSync(join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s);

function run(script: string, arg: string, env: NodeJS.ProcessEnv): { code: number; err: string; run?: MockRun } {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, script), arg], {
    cwd: ROOT,
    encoding: "utf8",
    env: e,
    maxBuffer: 256 * 1024 * 1024,
    timeout: 240_000,
  });
  return { code: r.status ?? -1, err: r.stderr ?? "", ...(r.status === 0 ? { run: parseRun<MockRun>(r.stdout) } : {}) };
}

/** What the engine would see of each registration, in a stable order (the SDK's order of sending may differ). */
const registrations = (m: MockRun): string[] =>
  m.resources
    .map((r) =>
      JSON.stringify({
        type: r.type,
        name: r.name,
        parent: r.parent,
        custom: r.custom,
        urn: r.urn,
        dependencies: r.dependencies,
        inputs: r.raw,
        aliases: r.aliases,
        provider: r.hasSerializedProvider,
      }),
    )
    .sort();

describe("the program declares in chunks", () => {
  let dir: string;
  let inventory: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "hf-declaration-"));
    inventory = join(dir, "tower-100.yaml");
    writeFileSync(inventory, syntheticInventory(100));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("100 hosts: at most a quarter of the resources pending at once, as many registered as in one run", () => {
    const chunked = run("run-inventory.ts", inventory, { HAFORGE_DECLARE_CHUNK: undefined });
    assert.equal(chunked.code, 0, chunked.err.slice(-3000));
    const oneRun = run("run-inventory.ts", inventory, { HAFORGE_DECLARE_CHUNK: "0" });
    assert.equal(oneRun.code, 0, oneRun.err.slice(-3000));
    const total = oneRun.run!.resources.length;
    const d = chunked.run!.declaration!;
    assert.ok(total > 500, `the synthetic cluster has ${total} resources`);
    // declared in one run: nothing is answered before the last resource is constructed
    assert.equal(oneRun.run!.declaration!.peakPending, total);
    assert.ok(
      d.peakPending <= total / 4 && d.constructedBeforeFirstAnswer <= total / 4,
      `${d.peakPending} of ${total} registrations pending at once, ${d.constructedBeforeFirstAnswer} constructed before the first answer (chunk ${DEFAULT_CHUNK})`,
    );
    assert.deepEqual(registrations(chunked.run!), registrations(oneRun.run!));
    assert.equal(d.lowestStackTraceLimit, oneRun.run!.declaration!.lowestStackTraceLimit);
    assert.ok(d.lowestStackTraceLimit > 0, "a registration reached the engine with Error.stackTraceLimit lowered");
  });

  for (const stack of stacks) {
    it(`stack ${stack}: the same registrations and outputs in one run, a turn after every resource, and by default`, () => {
      const runs = [undefined, "0", "1"].map((chunk) => {
        const r = run("run-stack.ts", stack, { HAFORGE_DECLARE_CHUNK: chunk });
        assert.equal(r.code, 0, `chunk ${chunk ?? "default"}: ${r.err.slice(-3000)}`);
        return r.run!;
      });
      const [byDefault, oneRun, everyResource] = runs as [MockRun, MockRun, MockRun];
      assert.ok(oneRun.resources.length > 1);
      assert.deepEqual(registrations(byDefault), registrations(oneRun));
      assert.deepEqual(registrations(everyResource), registrations(oneRun));
      assert.deepEqual(byDefault.outputs, oneRun.outputs);
      assert.deepEqual(everyResource.outputs, oneRun.outputs);
      assert.ok(everyResource.declaration!.lowestStackTraceLimit > 0, "Error.stackTraceLimit left lowered across a turn");
    });
  }

  for (const [where, at] of [
    ["the first chunk (thrown from the constructor)", "1"],
    ["a later chunk (thrown from the event loop's turn)", "150"],
  ] as const) {
    it(`a construction that throws in ${where} fails the program with its error`, () => {
      const r = run("run-inventory.ts", inventory, { HAFORGE_DECLARE_CHUNK: undefined, HAFORGE_TEST_FAIL_AT_FILE: at });
      assert.notEqual(r.code, 0, "the program succeeded");
      assert.match(r.err, new RegExp(`declaration failure injected at file ${at}\\b`));
    });
  }
});
