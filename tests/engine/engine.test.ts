/**
 * The engine stand-in (tests/engine) itself, on a toy program whose dynamic provider logs every
 * call with the provider build ("version") and the process that ran it. The stand-in drives the
 * SDK's real `@pulumi/pulumi/cmd/dynamic-provider` process over gRPC and reproduces these engine
 * behaviours (pulumi/pulumi pkg/resource/deploy/step_generator.go, step.go, provider_plugin.go,
 * sdk/nodejs/cmd/dynamic-provider/index.ts), each checked below:
 *  - checkpointed JSON state between runs;
 *  - Check/Diff/Create/Update load the provider serialized in the NEW program's inputs;
 *  - a Same step keeps the OLD outputs (old `__provider` text included);
 *  - Read (refresh) and Delete load the `__provider` stored in state;
 *  - preview: Check and Diff only, output-only properties unknown, nothing written;
 *  - independent resources created in parallel, diffs one at a time;
 *  - removed resources deleted after the program, dependents first;
 *  - aliases: a renamed resource matched to its old URN (no delete, no create);
 *  - `stack rename` rewrites URNs, and the next run under the new name changes nothing;
 *  - `destroy` does not run the program.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { destroy, preview, readCheckpoint, refresh, renameStack, up, urnName, type ProgramResult } from ".";

const root = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "haforge-engine-toy-"));
const checkpointFile = join(dir, "state.json");
after(() => rmSync(dir, { recursive: true, force: true }));

interface Call {
  op: string;
  pid: number;
  version: string;
  t0: number;
  t1: number;
}
let seen = 0;
/** Provider calls logged since the previous call of this function. */
function newCalls(): Call[] {
  const all = existsSync(join(dir, "calls.jsonl"))
    ? readFileSync(join(dir, "calls.jsonl"), "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Call)
    : [];
  const out = all.slice(seen);
  seen = all.length;
  return out;
}
const overlap = (cs: Call[]) => cs.some((a, i) => cs.some((b, j) => i !== j && a.t0 < b.t1 && b.t0 < a.t1));

type Note = { name: string; text: string; dependsOn?: string[]; aliases?: string[] };
const notes: Note[] = [
  { name: "a", text: "A" },
  { name: "b", text: "B", dependsOn: ["a"] },
  { name: "c", text: "C" },
];
const op = (stack: string) => ({ cwd: root, stack, checkpointFile, program: "tests/engine/fixtures/toy-program.ts" });
const run = (f: typeof up, stack: string, version: string, n: Note[] = notes) =>
  f({ ...op(stack), config: { "toy:version": version, "toy:dir": dir, "toy:delayMs": "300", "toy:notes": JSON.stringify(n) } });
const ops = (r: { steps: { op: string; urn: string }[] }) => r.steps.map((s) => `${s.op} ${urnName(s.urn)}`).sort();
const ok = (r: { ok: boolean; errors: string[] }) => assert.ok(r.ok, r.errors.join("\n"));
const dyn = (name: string) => readCheckpoint(checkpointFile, "").resources.find((r) => r.urn.endsWith(`::${name}`))!;

describe("engine stand-in", { concurrency: false }, () => {
  let first: ProgramResult;

  it("up: creates in parallel through the provider process, checkpoints inputs and outputs with __provider", async () => {
    first = await run(up, "dev", "1");
    ok(first);
    assert.deepEqual(ops(first), ["create a", "create b", "create c", "create group"]);
    const calls = newCalls();
    assert.deepEqual(
      calls.map((c) => c.op),
      ["create", "create", "create"],
    );
    assert.equal(new Set(calls.map((c) => c.pid)).size, 1, "one provider process per run");
    assert.notEqual(calls[0]!.pid, process.pid, "the provider runs in its own process");
    assert.ok(overlap(calls), "independent creates (a, c) run in parallel");
    const a = dyn("a");
    assert.match(String(a.inputs["__provider"]), /exports\.handler/);
    assert.equal(a.outputs["__provider"], a.inputs["__provider"]);
    assert.equal((first.outputs["stamps"]!.value as Record<string, string>)["a"], `1@${calls[0]!.pid}`);
  });

  it("a Same step keeps the old outputs, old __provider included; diffs run one at a time with the new provider", async () => {
    const r = await run(up, "dev", "2");
    ok(r);
    assert.deepEqual(ops(r), ["same a", "same b", "same c", "same group"]);
    const calls = newCalls();
    assert.deepEqual(
      calls.map((c) => [c.op, c.version]),
      [
        ["diff", "2"],
        ["diff", "2"],
        ["diff", "2"],
      ],
    );
    assert.ok(!overlap(calls), "diffs are serial");
    assert.deepEqual(r.outputs["stamps"]!.value, first.outputs["stamps"]!.value, "outputs of the first run");
    const a = dyn("a");
    assert.match(String(a.outputs["__provider"]), /providerVersion: "1"/);
    assert.match(String(a.inputs["__provider"]), /providerVersion: "2"/);
  });

  it("preview: Check and Diff only, changed outputs unknown, nothing written", async () => {
    const before = readFileSync(checkpointFile, "utf8");
    const r = await run(preview, "dev", "3", [...notes.slice(0, 2), { name: "d", text: "D" }]);
    ok(r);
    assert.deepEqual(ops(r), ["create d", "delete c", "same a", "same b", "same group"]);
    assert.equal(r.outputs["stamps"]!.value, undefined, "d's stamp is unknown in a preview");
    assert.deepEqual(r.rpcs["create"] ?? 0, 0);
    assert.deepEqual(r.rpcs["delete"] ?? 0, 0);
    assert.equal(existsSync(join(dir, "d.txt")), false);
    assert.equal(existsSync(join(dir, "c.txt")), true);
    assert.equal(readFileSync(checkpointFile, "utf8"), before, "the checkpoint is untouched");
    assert.deepEqual(
      newCalls().map((c) => c.op),
      ["diff", "diff"],
    );
  });

  it("refresh reads with the __provider stored in state (no program)", async () => {
    const r = await refresh(op("dev"));
    ok(r);
    const calls = newCalls();
    assert.deepEqual(
      calls.map((c) => [c.op, c.version]),
      [
        ["read", "1"],
        ["read", "1"],
        ["read", "1"],
      ],
    );
  });

  it("an alias keeps a renamed resource; a removed one is deleted with its stored __provider", async () => {
    const r = await run(up, "dev", "4", [notes[0]!, { name: "b2", text: "B", dependsOn: ["a"], aliases: ["b"] }]);
    ok(r);
    assert.deepEqual(ops(r), ["delete c", "same a", "same b2", "same group"]);
    assert.match(r.steps.find((s) => s.urn.endsWith("::b2"))!.oldUrn ?? "", /::b$/);
    assert.deepEqual(
      newCalls().map((c) => [c.op, c.version]),
      [
        ["diff", "4"],
        ["diff", "4"],
        ["delete", "1"],
      ],
    );
    assert.equal(existsSync(join(dir, "c.txt")), false);
    assert.equal(existsSync(join(dir, "b.txt")), true, "the aliased resource's file is kept");
  });

  it("stack rename rewrites URNs; the program under the new name changes nothing", async () => {
    renameStack(checkpointFile, "dev", "prod");
    assert.ok(readCheckpoint(checkpointFile, "prod").resources.every((x) => x.urn.startsWith("urn:pulumi:prod::")));
    const r = await run(up, "prod", "4", [notes[0]!, { name: "b2", text: "B", dependsOn: ["a"], aliases: ["b"] }]);
    ok(r);
    assert.deepEqual(ops(r), ["same a", "same b2", "same group"]);
    newCalls();
  });

  it("destroy does not run the program: deletes dependents first with the stored state", async () => {
    const r = await destroy({ ...op("prod"), cwd: root });
    ok(r);
    const order = r.steps.map((s) => urnName(s.urn));
    assert.ok(order.indexOf("b2") < order.indexOf("a"), `b2 depends on a: ${order.join(", ")}`);
    assert.equal(order.at(-1), "group", "the parent goes last");
    assert.deepEqual(readCheckpoint(checkpointFile, "prod").resources, []);
    assert.equal(existsSync(join(dir, "a.txt")), false);
    assert.equal(existsSync(join(dir, "b.txt")), false);
    assert.deepEqual(
      newCalls().map((c) => [c.op, c.version]),
      [
        ["delete", "1"],
        ["delete", "1"],
      ],
    );
  });
});

/**
 * A gate that orders removals (components/service-resources.ts declareRemovals) on an existing
 * stack, with haforge's Gate provider: three "hosts" whose deprovisioning d<i> (chained) and
 * membership action m<i> (chained), every m waiting for every d. The engine orders the deletes of
 * an update by the direct dependencies among what it deletes, so the gate lists the d's and is
 * replaced when one of them goes: its old self is deleted with them, between the m's and the d's.
 */
describe("engine stand-in: a removal-order gate added to an existing stack", { concurrency: false }, () => {
  const gdir = mkdtempSync(join(tmpdir(), "haforge-engine-gate-"));
  const gcheckpoint = join(gdir, "state.json");
  after(() => rmSync(gdir, { recursive: true, force: true }));
  const hosts = (ns: number[], gated: boolean): Note[] => {
    const ds = ns.map((i, k): Note => ({ name: `d${i}`, text: `D${i}`, ...(k ? { dependsOn: [`d${ns[k - 1]}`] } : {}) }));
    const gate = {
      name: "g",
      text: "members leave before their hosts stop",
      gate: ds.map((d) => d.name),
      dependsOn: ds.map((d) => d.name),
    };
    const ms = ns.map((i, k): Note => ({
      name: `m${i}`,
      text: `M${i}`,
      dependsOn: [...(k ? [`m${ns[k - 1]}`] : []), ...(gated ? ["g"] : ds.map((d) => d.name))],
    }));
    return [...ds, ...(gated ? [gate] : []), ...ms];
  };
  const grun = (f: typeof up, n: Note[]) =>
    f({
      cwd: root,
      stack: "gates",
      checkpointFile: gcheckpoint,
      program: "tests/engine/fixtures/toy-program.ts",
      config: { "toy:version": "1", "toy:dir": gdir, "toy:delayMs": "100", "toy:notes": JSON.stringify(n) },
    });
  const named = (r: { steps: { op: string; urn: string; startMs: number; endMs: number }[] }, op: string) =>
    r.steps.filter((s) => s.op === op).map((s) => ({ ...s, name: urnName(s.urn) }));

  it("the update that adds the gate creates it and changes nothing else (no replacement, no delete)", async () => {
    ok(await grun(up, hosts([1, 2, 3], false)));
    const r = await grun(up, hosts([1, 2, 3], true));
    ok(r);
    assert.deepEqual(ops(r), ["create g", "same d1", "same d2", "same d3", "same group", "same m1", "same m2", "same m3"]);
    const m3 = readCheckpoint(gcheckpoint, "").resources.find((x) => x.urn.endsWith("::m3"))!;
    assert.deepEqual(
      m3.dependencies.map((u) => urnName(u)),
      ["m2", "g"],
    );
  });

  it("removing hosts 1 and 3: the gate is replaced, both members deleted before the old gate, the old gate before both stops", async () => {
    const r = await grun(up, hosts([2], true));
    ok(r);
    assert.deepEqual(ops(r), [
      "delete d1",
      "delete d3",
      "delete g",
      "delete m1",
      "delete m3",
      "replace g",
      "same d2",
      "same group",
      "same m2",
    ]);
    const deletes = named(r, "delete");
    const at = (n: string) => deletes.find((s) => s.name === n)!;
    // m3 waited for m2 and g only: without the replaced gate, nothing would order it before d1
    for (const m of ["m1", "m3"]) assert.ok(at(m).endMs <= at("g").startMs, `${m} deleted before the old gate: ${JSON.stringify(deletes)}`);
    for (const d of ["d1", "d3"]) assert.ok(at("g").endMs <= at(d).startMs, `the old gate deleted before ${d}: ${JSON.stringify(deletes)}`);
  });
});
