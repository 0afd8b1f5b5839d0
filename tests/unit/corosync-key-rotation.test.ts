/**
 * Rotating the corosync authkey as a haforge operation (`corosyncKeyGeneration`, issue 10;
 * src/services/pacemaker/key-rotation.ts). Before it, a new key could only be refused (the
 * key's validate) and the whole-cluster procedure was the operator's, by hand.
 *  - the render: generation 0 is what it always was; a higher generation gives a new material
 *    (never adopted from the key in place), the key staged on every node, six steps per node with a
 *    barrier between steps, and /etc/corosync/authkey written only after the rotation;
 *  - the steps' shell, run under /bin/sh against a simulated cluster (stub supervisorctl,
 *    corosync-quorumtool, crm_mon over per-node folders), in the engine's order, over random
 *    starting states and a failure injected at a random start: afterwards every node holds the
 *    new key, a daemon runs iff it ran before, corosync never stopped while a Pacemaker ran on
 *    any node, and a second run stops and starts nothing. The real cluster:
 *    tests/system/pacemaker-running.test.ts ("4.").
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import type { ClusterAction } from "../../src/core/desired-state";
import { materialSources } from "../../src/core/materials";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { renderDesiredState, requiredMaterials } from "../../src/pipeline/render";
import { COROSYNC_AUTHKEY } from "../../src/services/pacemaker/corosync-conf";
import {
  COROSYNC_KEY_NEXT,
  KEY_ROTATION_RECORD,
  ROTATION_STEPS,
  PROBE_S,
  STOP_PACEMAKER_DEADLINE_S,
} from "../../src/services/pacemaker/key-rotation";

const work = mkdtempSync(join(tmpdir(), "haforge-key-rotation-"));
after(() => rmSync(work, { recursive: true, force: true }));

function inventory(nodes: readonly string[], generation?: number): InventoryInput {
  return {
    name: "rot",
    hosts: nodes.map((n, i) => ({ name: n, address: `10.231.40.${11 + i}`, init: "supervisor" as const })),
    pacemaker: {
      clusters: [
        {
          name: "pc",
          nodes: nodes.map((host) => ({ host })),
          ...(generation !== undefined ? { corosyncKeyGeneration: generation } : {}),
          properties: { "stonith-enabled": false },
        },
      ],
    },
  };
}

function render(nodes: readonly string[], generation?: number) {
  const r = planCluster(Inventory.parse(inventory(nodes, generation)));
  assert.ok(r.plan, JSON.stringify(r.findings));
  const specs = requiredMaterials(r.plan);
  const materials = Object.fromEntries(specs.map((m, i) => [m.key, Buffer.alloc(256, 0x10 + i).toString("base64")]));
  return { specs, state: renderDesiredState(r.plan, {}, materials) };
}

describe("corosync key rotation: the render", () => {
  it("generation 0 renders what it always did: the key material's old name, the key file refused at preview, no rotation", () => {
    const { specs, state } = render(["n1", "n2", "n3"]);
    assert.deepEqual(
      specs.filter((s) => s.key.startsWith("corosync/")).map((s) => [s.key, s.adoptOnlyFrom]),
      [["corosync/authkey/pc", undefined]],
    );
    assert.equal(state.actions.filter((a) => a.id.includes(":corosync-key-")).length, 0);
    for (const h of state.hosts) {
      const key = h.files.find((f) => f.path === COROSYNC_AUTHKEY)!;
      assert.equal(key.validateAtPreview, true);
      assert.equal(key.afterActions, undefined);
      assert.equal(
        h.files.some((f) => f.path === COROSYNC_KEY_NEXT),
        false,
      );
    }
  });

  it("a higher generation: a new material adopted only from the staged path, the key staged, six steps per node each after the previous on every node, the key file after the rotation", () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 5 }), fc.integer({ min: 1, max: 1000 }), (count, generation) => {
        const nodes = Array.from({ length: count }, (_, i) => `n${i + 1}`);
        const { specs, state } = render(nodes, generation);
        const spec = specs.find((s) => s.key.startsWith("corosync/"))!;
        assert.equal(spec.key, `corosync/authkey/pc/generation-${generation}`);
        assert.deepEqual(spec.adoptOnlyFrom, [COROSYNC_KEY_NEXT]);
        const rotation = state.actions.filter((a) => a.id.includes(`:corosync-key-${generation}:`));
        assert.equal(rotation.length, ROTATION_STEPS.length * count);
        ROTATION_STEPS.forEach((step, i) => {
          for (const n of nodes) {
            const a = rotation.find((x) => x.id === `pacemaker:pc:corosync-key-${generation}:${step}:${n}`)!;
            assert.equal(a.host, n);
            assert.equal(a.phase, "bootstrap");
            assert.deepEqual(
              [...a.dependsOn].sort(),
              i === 0 ? [] : nodes.map((m) => `pacemaker:pc:corosync-key-${generation}:${ROTATION_STEPS[i - 1]}:${m}`).sort(),
            );
          }
        });
        for (const h of state.hosts) {
          const key = h.files.find((f) => f.path === COROSYNC_AUTHKEY)!;
          assert.deepEqual(key.afterActions, [`pacemaker:pc:corosync-key-${generation}:settled:${h.host}`]);
          assert.equal(key.validateAtPreview, undefined, "at preview the key in place is the previous generation's");
          const staged = h.files.find((f) => f.path === COROSYNC_KEY_NEXT)!;
          assert.equal(staged.content, key.content, "the staged key is the key");
          assert.equal(staged.notify.length, 0);
          const keys = state.actions.find((a) => a.id === `pacemaker:pc:keys:${h.host}`)!;
          assert.ok(keys.dependsOn.includes(`pacemaker:pc:corosync-key-${generation}:settled:${h.host}`));
        }
      }),
      { numRuns: 25, includeErrorInReport: true },
    );
  });

  it("materialSources: a material with adoptOnlyFrom is read back only from those paths (the key in place is the previous generation's)", () => {
    const spec = { key: "k/1", kind: { type: "random-bytes" as const, bytes: 4 }, adoptOnlyFrom: [COROSYNC_KEY_NEXT] };
    const placeholder = Buffer.from("abcd").toString("base64");
    const files = [
      { host: "n1", path: COROSYNC_AUTHKEY, content: placeholder, encoding: "base64" as const },
      { host: "n1", path: COROSYNC_KEY_NEXT, content: placeholder, encoding: "base64" as const },
    ];
    assert.deepEqual(
      materialSources(files, [spec], { "k/1": placeholder })["k/1"]?.map((s) => s.path),
      [COROSYNC_KEY_NEXT],
    );
    const { adoptOnlyFrom: _, ...plain } = spec;
    assert.deepEqual(
      materialSources(files, [plain], { "k/1": placeholder })["k/1"]?.map((s) => s.path),
      [COROSYNC_AUTHKEY, COROSYNC_KEY_NEXT],
    );
  });
});

/**
 * A simulated cluster: per node a folder with `run/<daemon>` while it runs and its key; the stubs
 * log every stop and start, and a corosync stop while any node's Pacemaker runs as a VIOLATION.
 * corosync-quorumtool counts the nodes running corosync with this node's key.
 */
function simulatedCluster(dir: string, nodes: readonly string[]): void {
  mkdirSync(join(dir, "bin"), { recursive: true });
  const stub = (name: string, body: string) => {
    writeFileSync(join(dir, "bin", name), `#!/bin/sh\nC=${dir}\n${body}\n`);
    chmodSync(join(dir, "bin", name), 0o755);
  };
  stub(
    "supervisorctl",
    [
      `case "$1" in`,
      `  status) if [ -e "$C/$NODE/stopping-$2" ]; then echo "$2 STOPPING"; elif [ -e "$C/$NODE/run/$2" ]; then echo "$2 RUNNING"; else echo "$2 STOPPED"; fi ;;`,
      `  stop) if [ "$2" = corosync ]; then for n in ${nodes.join(" ")}; do [ -e "$C/$n/run/pacemaker" ] && cmp -s "$C/$n/authkey" "$C/$NODE/authkey" && echo "VIOLATION $NODE stop corosync while pacemaker runs on $n" >> "$C/log"; done; fi`,
      // A stop that hangs while the node's hang-stop-<daemon> file exists (a Pacemaker waiting for a transition).
      `        [ -e "$C/$NODE/hang-stop-$2" ] && : > "$C/$NODE/stopping-$2"; while [ -e "$C/$NODE/hang-stop-$2" ]; do /bin/sleep 0.1; done`,
      `        echo "$NODE stop $2" >> "$C/log"; rm -f "$C/$NODE/run/$2" "$C/$NODE/stopping-$2" ;;`,
      `  start) if [ -e "$C/$NODE/fail-start-$2" ]; then rm -f "$C/$NODE/fail-start-$2"; echo "$2: ERROR (spawn error)"; exit 1; fi`,
      `         echo "$NODE start $2" >> "$C/log"; mkdir -p "$C/$NODE/run"; : > "$C/$NODE/run/$2"; echo "$2: started" ;;`,
      `esac`,
      `exit 0`,
    ].join("\n"),
  );
  stub(
    "corosync-quorumtool",
    [
      `[ -e "$C/$NODE/run/corosync" ] || exit 1`,
      `k=0; for n in ${nodes.join(" ")}; do [ -e "$C/$n/run/corosync" ] && cmp -s "$C/$n/authkey" "$C/$NODE/authkey" && k=$((k+1)); done`,
      `echo "Nodes:            $k"; [ $((k * 2)) -gt ${nodes.length} ] || exit 2`,
    ].join("\n"),
  );
  stub(
    "crm_mon",
    // A crm_mon that waits without end while the node's hang-crm_mon file exists (its pacemakerd not answering).
    `while [ -e "$C/$NODE/hang-crm_mon" ]; do /bin/sleep 0.1; done\n` +
      `k=0; for n in ${nodes.join(" ")}; do [ -e "$C/$n/run/pacemaker" ] && cmp -s "$C/$n/authkey" "$C/$NODE/authkey" && k=$((k+1)); done\n` +
      `[ -e "$C/$NODE/run/pacemaker" ] && [ $k -eq ${nodes.length} ] && echo "CLUSTER OK: ${nodes.length} nodes online" || echo "CLUSTER WARN: offline node"; exit 0`,
  );
  // pidof sees the node's own processes: its pacemakerd while Pacemaker runs or stops.
  stub("pidof", `[ "$1" = pacemakerd ] && [ -e "$C/$NODE/run/pacemaker" ]`);
  stub("chown", "exit 0");
  stub("sleep", "exit 0");
}

/** A step's create with the node's own paths in place of the host's. */
const onNode = (dir: string, node: string, cmd: string) =>
  cmd
    .split(KEY_ROTATION_RECORD)
    .join(join(dir, node, "record"))
    .split(COROSYNC_KEY_NEXT)
    .join(join(dir, node, "next"))
    .split(COROSYNC_AUTHKEY)
    .join(join(dir, node, "authkey"));

/** One step's result: its exit code (null: still running at the spawn's timeout), output and duration. */
interface StepRun {
  readonly id: string;
  readonly status: number | null;
  readonly out: string;
  readonly ms: number;
}

/**
 * Runs the actions in the engine's order (waves); those in `skip` succeeded before. Returns the ids
 * that succeeded. `edit`: a change to each create (a shorter deadline); `runs`: every step's result.
 */
function runInOrder(
  dir: string,
  actions: readonly ClusterAction[],
  skip: ReadonlySet<string>,
  o: { edit?: (cmd: string) => string; runs?: StepRun[] } = {},
): Set<string> {
  const ok = new Set(skip);
  let left = actions.filter((a) => !skip.has(a.id));
  while (left.length) {
    const ready = left.filter((a) => a.dependsOn.every((d) => ok.has(d)));
    if (!ready.length) break;
    let failed = false;
    for (const a of ready) {
      const at = Date.now();
      const r = spawnSync("sh", ["-c", (o.edit ?? ((x) => x))(onNode(dir, a.host, a.create))], {
        encoding: "utf8",
        env: { ...process.env, NODE: a.host, PATH: `${join(dir, "bin")}:${process.env["PATH"] ?? ""}` },
        timeout: 60_000,
      });
      o.runs?.push({ id: a.id, status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, ms: Date.now() - at });
      if (r.status === 0) ok.add(a.id);
      else failed = true;
    }
    if (failed) break;
    left = left.filter((a) => !ok.has(a.id));
  }
  return ok;
}

let runs = 0;
describe("corosync key rotation: the steps on a simulated cluster", () => {
  const nodes = ["n1", "n2", "n3"];
  const { state } = render(nodes, 1);
  const rotation = state.actions.filter((a) => a.id.includes(":corosync-key-1:"));
  const nodeState = fc.record({
    corosync: fc.boolean(),
    pacemaker: fc.boolean(),
    key: fc.constantFrom("old", "new", "none"),
  });

  it("from any start (a running cluster on the old key, nodes stopped or new, already rotated) and a start failing once: the new key everywhere, a daemon runs iff it ran, corosync never stopped under a Pacemaker, a second run does nothing", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constant(nodes.map(() => ({ corosync: true, pacemaker: true, key: "old" as const }))),
          fc.constant(nodes.map(() => ({ corosync: true, pacemaker: true, key: "new" as const }))),
          fc.array(nodeState, { minLength: 3, maxLength: 3 }),
        ),
        fc.option(fc.record({ node: fc.constantFrom(...nodes), daemon: fc.constantFrom("corosync", "pacemaker") })),
        (start, failure) => {
          const dir = join(work, String(runs++));
          simulatedCluster(dir, nodes);
          const keyOf = { old: Buffer.alloc(256, 1), new: Buffer.alloc(256, 2) };
          nodes.forEach((n, i) => {
            const s = start[i]!;
            mkdirSync(join(dir, n, "run"), { recursive: true });
            if (s.corosync) writeFileSync(join(dir, n, "run", "corosync"), "");
            if (s.corosync && s.pacemaker) writeFileSync(join(dir, n, "run", "pacemaker"), "");
            if (s.key !== "none") writeFileSync(join(dir, n, "authkey"), keyOf[s.key]);
            writeFileSync(join(dir, n, "next"), keyOf.new);
          });
          writeFileSync(join(dir, "log"), "");
          if (failure) writeFileSync(join(dir, failure.node, `fail-start-${failure.daemon}`), "");
          const ranBefore = nodes.map((n) => ["corosync", "pacemaker"].filter((d) => existsSync(join(dir, n, "run", d))));
          // The first up (maybe failing), then the next up re-runs what did not succeed.
          const first = runInOrder(dir, rotation, new Set());
          const done = runInOrder(dir, rotation, first);
          assert.equal(done.size, rotation.length, "every step done after the second up");
          const log = readFileSync(join(dir, "log"), "utf8").split("\n").filter(Boolean);
          assert.deepEqual(
            log.filter((l) => l.startsWith("VIOLATION")),
            [],
          );
          for (const [i, n] of nodes.entries()) {
            assert.deepEqual(readFileSync(join(dir, n, "authkey")), keyOf.new, `${n}: the new key`);
            assert.deepEqual(
              ["corosync", "pacemaker"].filter((d) => existsSync(join(dir, n, "run", d))),
              ranBefore[i],
              `${n}: runs what ran`,
            );
            assert.equal(existsSync(join(dir, n, "record")), false, `${n}: no record left`);
          }
          const allNew = start.every((s) => s.key === "new" && s.corosync);
          if (allNew) assert.deepEqual(log, [], "already rotated: nothing stopped or started");
          // A second run: nothing stopped or started.
          const before = log.length;
          runInOrder(dir, rotation, new Set());
          assert.equal(readFileSync(join(dir, "log"), "utf8").split("\n").filter(Boolean).length, before, "a re-run changes nothing");
        },
      ),
      { numRuns: 10, includeErrorInReport: true },
    );
  });

  it("a node whose Pacemaker stop hangs: its stop-pacemaker step fails at its deadline (the clock's) naming the node and what it waits for, the stop going on detached; nothing stops corosync; once it is down, the next up resumes and ends on the new key", () => {
    assert.ok(STOP_PACEMAKER_DEADLINE_S >= 200 + 20 && STOP_PACEMAKER_DEADLINE_S <= 600 / 2, `${STOP_PACEMAKER_DEADLINE_S} s`);
    const dir = join(work, "hang");
    simulatedCluster(dir, nodes);
    // The steps poll each second: a real sleep here (the stub's would spin), and crm_mon's view.
    writeFileSync(join(dir, "bin", "sleep"), `#!/bin/sh\nexec /bin/sleep "$@"\n`);
    const old = Buffer.alloc(256, 1);
    for (const n of nodes) {
      mkdirSync(join(dir, n, "run"), { recursive: true });
      for (const d of ["corosync", "pacemaker"]) writeFileSync(join(dir, n, "run", d), "");
      writeFileSync(join(dir, n, "authkey"), old);
      writeFileSync(join(dir, n, "next"), Buffer.alloc(256, 2));
    }
    writeFileSync(join(dir, "log"), "");
    writeFileSync(join(dir, "n3", "hang-stop-pacemaker"), "");
    // ...and n2's pacemakerd not answering crm_mon (the record's probe): bounded by its own timeout.
    writeFileSync(join(dir, "n2", "hang-crm_mon"), "");
    // The rendered deadline, shortened for the test (the same script otherwise).
    const deadline = 2;
    const edit = (cmd: string) => {
      const rendered = `DEADLINE=${STOP_PACEMAKER_DEADLINE_S}\n`;
      assert.equal(cmd.includes("stop_within pacemaker"), cmd.includes(rendered), cmd);
      return cmd.split(rendered).join(`DEADLINE=${deadline}\n`).split(`PROBE=${PROBE_S}\n`).join("PROBE=2\n");
    };
    const runs: StepRun[] = [];
    const first = runInOrder(dir, rotation, new Set(), { edit, runs });
    const hung = runs.find((r) => r.id.endsWith(":stop-pacemaker:n3"))!;
    assert.equal(hung.status, 1, `the step returns (1), not held by the stop it left running: ${JSON.stringify(hung)}`);
    assert.ok(hung.ms < (deadline + 8) * 1000, `${hung.ms} ms`);
    assert.match(hung.out, /on n3: pacemaker has not stopped 2 s after its stop began \(it goes on stopping in the background/);
    assert.match(hung.out, /What it waits for, as this node sees the cluster:\nCLUSTER WARN: offline node/);
    assert.deepEqual(
      runs.map((r) => `${r.id.split(":").slice(-2).join(" ")} ${r.status}`),
      ["stop-pacemaker n1 0", "stop-pacemaker n2 0", "stop-pacemaker n3 1"],
      "the next step waits for every node",
    );
    // Applied again at once, n3 still stopping (STOPPING to supervisor, its pacemakerd there): its
    // step waits for it again, to its deadline; nothing stops corosync anywhere meanwhile.
    const early: StepRun[] = [];
    const still = runInOrder(dir, rotation, first, { edit, runs: early });
    assert.deepEqual(
      early.map((r) => `${r.id.split(":").slice(-2).join(" ")} ${r.status}`),
      ["stop-pacemaker n3 1"],
    );
    assert.match(
      early[0]!.out,
      /on n3: pacemaker is still stopping here \(pacemakerd runs\): waiting for it\n[\s\S]*on n3: pacemaker has not stopped 2 s after/,
    );
    assert.deepEqual(
      readFileSync(join(dir, "log"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("VIOLATION")),
      [],
      "no corosync stopped under a Pacemaker still stopping",
    );
    const probed = runs.find((r) => r.id.endsWith(":stop-pacemaker:n2"))!;
    assert.ok(probed.ms < 10_000, `n2's step, its crm_mon probe not answering (timeout 2 s for the test): ${probed.ms} ms`);
    rmSync(join(dir, "n2", "hang-crm_mon"));
    assert.ok(existsSync(join(dir, "n3", "run", "pacemaker")), "n3's Pacemaker still stopping");
    // It stops (what it waited for came); the next up resumes from the records.
    rmSync(join(dir, "n3", "hang-stop-pacemaker"));
    const until = Date.now() + 10_000;
    while (existsSync(join(dir, "n3", "run", "pacemaker")) && Date.now() < until) spawnSync("/bin/sleep", ["0.1"]);
    assert.ok(!existsSync(join(dir, "n3", "run", "pacemaker")), "the detached stop ended");
    const done = runInOrder(dir, rotation, still, { edit });
    assert.equal(done.size, rotation.length, "every step done after the next up");
    const log = readFileSync(join(dir, "log"), "utf8").split("\n").filter(Boolean);
    assert.deepEqual(
      log.filter((l) => l.startsWith("VIOLATION")),
      [],
    );
    for (const n of nodes) {
      assert.deepEqual(readFileSync(join(dir, n, "authkey")), Buffer.alloc(256, 2), `${n}: the new key`);
      assert.deepEqual(
        ["corosync", "pacemaker"].filter((d) => existsSync(join(dir, n, "run", d))),
        ["corosync", "pacemaker"],
        `${n}: runs both again`,
      );
    }
  });
});
