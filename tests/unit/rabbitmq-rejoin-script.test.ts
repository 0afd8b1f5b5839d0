/**
 * templates/rabbitmq/rabbitmq-rejoin.sh (issue 11, a replaced RabbitMQ node): the decision is
 * run with sh against stub rabbitmqctl / rabbitmq-diagnostics / rabbitmq-queues that log their
 * arguments and answer as a peer would; shellcheck checks the script; the render wraps every
 * node's restart with it and ships it so that a new or changed script restarts nothing. The
 * real rejoin is tests/system/rabbitmq-rejoin.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEMPLATES_DIR, renderTemplate } from "../../src/render/templates";
import { actionsThatWouldRun } from "../../src/render/action-diff";
import { restartCommand } from "../../src/render/daemon";
import { CLUSTER_FORMATION_CONF, REJOIN_SCRIPT, renderPart } from "../../src/services/rabbitmq/render";
import { SECRETS, threeNodePlan } from "../fixtures/rabbitmq-plan";

const SOURCE = join(TEMPLATES_DIR, "rabbitmq", "rabbitmq-rejoin.sh");
const ME = "rabbit@10.78.0.13";
const P1 = "rabbit@10.78.0.11";
const P2 = "rabbit@10.78.0.12";

/** cluster_status JSON as RabbitMQ 3.10 prints it (compact, one line). */
const status = (disk: string[], running: string[]) =>
  JSON.stringify({ alarms: [], cluster_name: "c", disk_nodes: disk, ram_nodes: [], running_nodes: running, partitions: {} });

interface Case {
  /** peer → its cluster_status answer; a peer not listed does not answer (rc 69). */
  readonly peers?: Record<string, string>;
  readonly forgetRc?: number;
  /** Files in the node's database directory (none: the directory is absent). */
  readonly db?: readonly string[];
  readonly mark?: boolean;
  readonly runningAfter?: boolean;
  /** The cluster-formation seed file's node list (absent: no seed file). */
  readonly seeds?: readonly string[];
}

function run(step: string, args: readonly string[], c: Case = {}) {
  const dir = mkdtempSync(join(tmpdir(), "haforge-rmq-rejoin-"));
  try {
    const base = join(dir, "mnesia");
    mkdirSync(base);
    if (c.db) {
      mkdirSync(join(base, ME));
      for (const f of c.db) writeFileSync(join(base, ME, f), "x");
    }
    const mark = join(base, `haforge-rejoin-${ME}`);
    if (c.mark) writeFileSync(mark, "");
    const log = join(dir, "calls.log");
    writeFileSync(log, "");
    const stub = (name: string, body: string) => {
      const p = join(dir, name);
      writeFileSync(p, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${log}'\n${body}\n`);
      chmodSync(p, 0o755);
    };
    const answers = Object.entries(c.peers ?? {})
      .map(([peer, json]) => `*"-n ${peer} cluster_status"*) printf '%s\\n' '${json}'; exit 0 ;;`)
      .join("\n");
    stub("rabbitmqctl", `case "$*" in\n${answers}\n*forget_cluster_node*) exit ${c.forgetRc ?? 0} ;;\nesac\nexit 69`);
    stub("rabbitmq-diagnostics", `exit ${c.runningAfter === false ? 69 : 0}`);
    stub("rabbitmq-queues", "exit 0");
    const seeds = join(dir, "seeds.conf");
    if (c.seeds)
      writeFileSync(
        seeds,
        [
          "cluster_formation.peer_discovery_backend = classic_config",
          ...c.seeds.map((n, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${n}`),
        ].join("\n") + "\n",
      );
    const r = spawnSync("sh", [SOURCE, step, ...args], {
      encoding: "utf8",
      timeout: 20_000,
      env: { PATH: `${dir}:/usr/bin:/bin`, RABBITMQ_MNESIA_BASE: base, HAFORGE_REJOIN_WAIT_S: "3", HAFORGE_RABBITMQ_SEEDS: seeds },
    });
    return {
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      calls: readFileSync(log, "utf8").trim().split("\n").filter(Boolean),
      mark: existsSync(mark),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("rabbitmq-rejoin.sh: a blank node that the cluster still lists is forgotten before it starts, then grown", () => {
  it("passes shellcheck (every severity)", () => {
    const r = spawnSync("shellcheck", ["-s", "sh", SOURCE], { encoding: "utf8" });
    assert.equal(r.error, undefined, "shellcheck is installed");
    assert.equal(r.status, 0, r.stdout);
  });

  it("a node with a database: nothing is asked, nothing forgotten (every ordinary restart)", () => {
    const r = run("before", [ME, P1, P2], { db: ["schema.DAT"], peers: { [P1]: status([P1, P2, ME], [P1, P2]) } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls, []);
    assert.equal(r.mark, false);
  });

  it("an empty database that a running peer lists among its disk nodes: that peer forgets it, the grow is owed", () => {
    for (const db of [undefined, []]) {
      const r = run("before", [ME, P1, P2], { db, peers: { [P1]: status([P1, P2, ME], [P1, P2]) } });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.calls, [
        `rabbitmqctl -q -n ${P1} cluster_status --formatter json`,
        `rabbitmqctl -q -n ${P1} forget_cluster_node ${ME}`,
      ]);
      assert.equal(r.mark, true);
      assert.match(r.stdout, /forgets it/);
    }
  });

  it("the first peer does not answer: the next one is asked and forgets it", () => {
    const r = run("before", [ME, P1, P2], { peers: { [P2]: status([P1, P2, ME], [P2]) } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls.slice(-1), [`rabbitmqctl -q -n ${P2} forget_cluster_node ${ME}`]);
    assert.equal(r.mark, true);
  });

  it("a blank node no running peer lists (a new node) or no peer answering (the first start): started as it is", () => {
    const fresh = run("before", [ME, P1, P2], { peers: { [P1]: status([P1, P2], [P1, P2]) } });
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.ok(!fresh.calls.some((c) => c.includes("forget_cluster_node")));
    assert.equal(fresh.mark, false);
    // the exact name only: rabbit@10.78.0.13 is not rabbit@10.78.0.130
    const lookalike = run("before", [ME, P1], { peers: { [P1]: status([P1, `${ME}0`], [P1]) } });
    assert.ok(!lookalike.calls.some((c) => c.includes("forget_cluster_node")));
    const alone = run("before", [ME, P1, P2]);
    assert.equal(alone.status, 0, alone.stderr);
    assert.equal(alone.calls.filter((c) => c.includes("forget")).length, 0);
    assert.equal(alone.mark, false);
  });

  it("a forget the peer refuses stops the restart (exit 1), nothing owed", () => {
    const r = run("before", [ME, P1], { peers: { [P1]: status([P1, ME], [P1, ME]) }, forgetRc: 69 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /forget_cluster_node .* failed; not starting/);
    assert.equal(r.mark, false);
  });

  it("after: grows every quorum queue onto the node once it runs, only when owed; a node that never runs keeps it owed", () => {
    const owed = run("after", [ME], { mark: true, db: ["schema.DAT"] });
    assert.equal(owed.status, 0, owed.stderr);
    assert.deepEqual(owed.calls, ["rabbitmq-diagnostics -q check_running", `rabbitmq-queues -q grow ${ME} all`]);
    assert.equal(owed.mark, false);
    const none = run("after", [ME], { db: ["schema.DAT"] });
    assert.equal(none.status, 0);
    assert.deepEqual(none.calls, []);
    const down = run("after", [ME], { mark: true, runningAfter: false });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /not running 3 s after its start/);
    assert.equal(down.mark, true);
    assert.ok(!down.calls.some((c) => c.startsWith("rabbitmq-queues")));
  });

  it("no peer on the command line: the peers are the seed file's nodes (the rendered restart's way); no seed file, no peer asked", () => {
    const r = run("before", [ME], { seeds: [P1, P2, ME], peers: { [P2]: status([P1, P2, ME], [P2]) } });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.calls.includes(`rabbitmqctl -q -n ${P2} forget_cluster_node ${ME}`), r.calls.join("\n"));
    assert.equal(r.mark, true);
    const none = run("before", [ME], { peers: { [P1]: status([P1, ME], [P1]) } });
    assert.equal(none.status, 0, none.stderr);
    assert.deepEqual(none.calls, []);
    assert.match(readFileSync(SOURCE, "utf8"), new RegExp(`HAFORGE_RABBITMQ_SEEDS:-${CLUSTER_FORMATION_CONF.replace(/\./g, "\\.")}\\}`));
  });

  it("a node's restart names no other node: growing or shrinking the cluster leaves the staying nodes' restart commands as they were", () => {
    const plan = threeNodePlan();
    const r = renderPart.render!({ plan, secrets: SECRETS, materials: {}, template: renderTemplate });
    for (const s of r.services)
      for (const other of plan.rabbitmq!.nodes.filter((n) => n.host !== s.host)) {
        assert.ok(!s.restart.includes(other.nodeName), `${s.host}'s restart names ${other.nodeName}: ${s.restart}`);
        assert.ok(!s.restart.includes(other.host), `${s.host}'s restart names ${other.host}: ${s.restart}`);
      }
  });

  it("the render: every node's restart runs before/after around the manager's restart; the script restarts nothing when it changes", () => {
    const r = renderPart.render!({ plan: threeNodePlan(), secrets: SECRETS, materials: {}, template: renderTemplate });
    for (const s of r.services) {
      const node = threeNodePlan().rabbitmq!.nodes.find((n) => n.host === s.host)!;
      assert.ok(s.restart.startsWith(`{ /bin/sh ${REJOIN_SCRIPT} before ${node.nodeName}; } && { `), s.restart);
      assert.ok(s.restart.endsWith(`; } && { /bin/sh ${REJOIN_SCRIPT} after ${node.nodeName}; }`), s.restart);
      const f = r.files.find((x) => x.host === s.host && x.path === REJOIN_SCRIPT)!;
      assert.equal(f.content, readFileSync(SOURCE, "utf8"));
      assert.deepEqual(f.notify, []);
      assert.equal(f.mode, "0755");
    }
  });

  it("the upgrade that brings the script restarts no running broker: only the new script changes, it notifies nothing", () => {
    const plan = threeNodePlan();
    const now = renderPart.render!({ plan, secrets: SECRETS, materials: {}, template: renderTemplate });
    // The render before the script: no script file, the manager's restart alone.
    const before = {
      files: now.files.filter((f) => f.path !== REJOIN_SCRIPT),
      services: now.services.map((s) => ({ ...s, restart: restartCommand(s.manager, s.name) })),
      actions: now.actions,
    };
    const changed = new Set(now.files.filter((f) => f.path === REJOIN_SCRIPT).map((f) => `${f.host}:${f.path}`));
    assert.equal(changed.size, 3);
    assert.deepEqual(actionsThatWouldRun(before, now, changed), []);
  });
});
