/**
 * The Pacemaker remote authkey (/etc/pacemaker/authkey) on a REAL running cluster with a
 * pacemaker_remote node: one cluster node n1 (corosync 3 + pacemakerd) and one remote node r1
 * (pacemaker-remoted), each under supervisord in its own network/mount/pid namespaces, the remote
 * connection (`ocf:pacemaker:remote`) in the rendered CIB; fencing ON with cluster-glue's `null`
 * device, which records every fence request and touches nothing.
 *
 * - A changed key, applied as the providers do (tests/system/pacemaker-running.test.ts): the write
 *   is refused by the key's own validate on both hosts (the node's CIB has a remote node; r1 runs
 *   pacemaker-remoted), nothing restarts; r1 stays RemoteOnline (sampled), no fence.
 * - Rotation as an operation (pacemakerKeyGeneration 0 -> 1, src/services/pacemaker/remote-key-rotation.ts):
 *   the rendered steps run in the engine's order: r1's connection stopped, pacemaker_remote stopped,
 *   the key installed on n1 and r1, both started again a minute after the stop (Pacemaker's key
 *   cache); r1 RemoteOnline again, no fence, the outage reported, a re-run does nothing.
 * - Control: what the previous render did to a remote node (its key written, pacemaker_remote
 *   restarted, while the node still has the old key) loses the connection: r1 goes offline (the
 *   cluster may also ask for r1 to be fenced; the verdict shows the fencing history).
 * Run one netns-using file at a time (docs/lab.md): node --import tsx --test tests/system/pacemaker-remote-key.test.ts
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { restartWithGate } from "../../components/service-resources";
import { WRITE_EXIT } from "../../src/core/file-ops";
import type { InventoryInput } from "../../src/inventory/schema";
import { PACEMAKER_AUTHKEY, PACEMAKER_KEY_BYTES } from "../../src/services/pacemaker/render";
import { boundOps, filesOf, PacemakerNsCluster, renderWithKeys, requireCommands, servicesOf, sleep } from "./pacemaker-cluster";

const NODES = ["n1", "r1"];
/** Directories the node's init bind-mounts from its own folder (the rest of / is the machine's). */
const cluster = new PacemakerNsCluster("hfrk", NODES, "10.231.11", {
  "/etc/corosync": "corosync",
  "/etc/pacemaker": "pacemaker",
  "/etc/supervisor/conf.d": "conf.d",
  "/usr/local/lib/haforge": "lib",
  "/var/lib/haforge/pacemaker": "cibs",
});
const addr = (n: string) => cluster.addr(n);
const verdicts: string[] = [];
const { ran, inside, insideAsync, liveSha, writeFile, applyNode, fenceHistory, until } = boundOps(cluster);

function inventory(generation = 0): InventoryInput {
  return {
    name: "rem",
    hosts: NODES.map((n) => ({
      name: n,
      address: addr(n),
      init: "supervisor" as const,
      interfaces: [{ name: "eth0", address: `${addr(n)}/24` }],
    })),
    pacemaker: {
      clusters: [
        {
          name: "pc",
          nodes: [{ host: "n1" }],
          remoteNodes: ["r1"],
          token: 3000,
          ...(generation ? { pacemakerKeyGeneration: generation } : {}),
          quorum: { twoNode: false, lastManStanding: false, autoTieBreaker: false },
          properties: { "stonith-enabled": false },
        },
      ],
    },
  };
}

/** The desired state, generated keys as fixed bytes (`keyByte`; a rotated key's: `rotatedByte`) of the right size. */
const renderFor = (keyByte = 0x5a, generation = 0, rotatedByte = 0x44) =>
  renderWithKeys(inventory(generation), keyByte, (key) => (/^pacemaker\/authkey\/.*\/generation-\d+$/.test(key) ? rotatedByte : undefined));

before(async () => {
  requireCommands([
    "corosync",
    "pacemakerd",
    "pacemaker-remoted",
    "supervisord",
    "crm_mon",
    "stonith_admin",
    "cibadmin",
    "nsenter",
    "unshare",
  ]);
  assert.ok(existsSync("/usr/lib/ocf/resource.d/pacemaker/remote"), "Pacemaker's remote agent");
  await cluster.up();
});

after(async () => {
  await cluster.down();
  console.log(`# pacemaker remote key verdicts\n${verdicts.map((v) => `#   ${v}`).join("\n")}`);
});

const remoteOnline = () => /RemoteOnline:\s*\[\s*r1\s*\]/.test(inside("n1", "crm_mon -1 2>&1").out);
const remotedPid = () => inside("r1", "supervisorctl pid pacemaker_remote").out.trim();

describe("the Pacemaker remote authkey on a running cluster with a remote node (real daemons)", () => {
  const start = renderFor();

  it("bootstrap: r1's pacemaker_remote, n1's corosync and pacemaker through the rendered gates, CIB applied: r1 RemoteOnline; fencing on", async () => {
    const r = await applyNode(start, "r1", { first: true });
    assert.deepEqual([r.refused, r.failed], [[], []], "r1");
    for (const only of [["corosync"], ["pacemaker"]]) {
      const x = await applyNode(start, "n1", { first: true, only });
      assert.deepEqual([x.refused, x.failed], [[], []], "n1");
    }
    for (const a of start.actions.filter((x) => x.phase !== "bootstrap")) {
      const y = await cluster.runAction(a);
      assert.equal(y.rc, 0, `${a.id}: ${y.out}`);
    }
    await until("r1 RemoteOnline", remoteOnline, 120);
    cluster.fencingOn("n1", ["n1", "r1"]);
    await until("the null fence device started", () => /fence-null.*Started/.test(inside("n1", "crm_mon -1").out) && remoteOnline(), 60);
    assert.equal(fenceHistory("n1"), "");
    verdicts.push(`bootstrap: n1 + remote r1 RemoteOnline (pacemaker-remoted pid ${remotedPid()}), stonith on (null device)`);
  });

  it("a changed key: refused on the node (its CIB has a remote node) and on r1 (pacemaker-remoted runs), nothing restarted, r1 stays online, no fence", async () => {
    const keyed = renderFor(0x33);
    const old = { n1: liveSha("n1", PACEMAKER_AUTHKEY), r1: liveSha("r1", PACEMAKER_AUTHKEY) };
    const pid = remotedPid();
    const from = ran.length;
    const seen: boolean[] = [];
    const timer = setInterval(() => seen.push(remoteOnline()), 500);
    const out = [await applyNode(keyed, "r1"), await applyNode(keyed, "n1")];
    // 5 samples after the apply, bounded (a loaded machine stretches each crm_mon).
    const sampled = seen.length;
    for (let i = 0; i < 60 && seen.length < sampled + 5; i++) await sleep(500);
    clearInterval(timer);
    for (const r of out) {
      const key = r.refused.find((x) => x.path === PACEMAKER_AUTHKEY);
      assert.equal(key?.rc, WRITE_EXIT.validate, `${r.node}: ${JSON.stringify(r)}`);
      assert.match(key.out, /refusing to replace \/etc\/pacemaker\/authkey/);
    }
    assert.match(out[0]!.refused[0]!.out, /pacemaker-remoted runs here/);
    assert.match(out[1]!.refused.find((x) => x.path === PACEMAKER_AUTHKEY)!.out, /the CIB has remote or guest nodes/);
    assert.deepEqual({ n1: liveSha("n1", PACEMAKER_AUTHKEY), r1: liveSha("r1", PACEMAKER_AUTHKEY) }, old, "keys unchanged");
    assert.deepEqual(ran.slice(from), [], "nothing restarted");
    assert.equal(remotedPid(), pid);
    assert.ok(seen.length >= 5 && seen.every(Boolean), `r1 online in every sample: ${seen.join(",")}`);
    assert.equal(fenceHistory("n1"), "", "no fence");
    verdicts.push(
      `changed key: refused on r1 and n1 (validate exit ${WRITE_EXIT.validate}), keys unchanged, nothing run, pacemaker-remoted pid kept, r1 online in ${seen.length} samples, no fence`,
    );
  });

  it("rotation as an operation (pacemakerKeyGeneration 0 -> 1): the key staged on n1 and r1, the connection stopped, pacemaker_remote stopped, the key installed, both started again a minute after the stop; r1 RemoteOnline, no fence, the outage reported, a re-run changes nothing", async () => {
    const rotated = renderFor(0x5a, 1);
    const want = createHash("sha256").update(Buffer.alloc(PACEMAKER_KEY_BYTES, 0x44)).digest("hex");
    assert.notEqual(liveSha("n1", PACEMAKER_AUTHKEY), want);
    const rotation = rotated.actions.filter((a) => a.id.includes(":pacemaker-key-1:"));
    assert.deepEqual(
      rotation.map((a) => a.id.split(":").slice(3).join(" ")),
      ["stop-connections n1", "stop-remote r1", "install n1", "install r1", "start-remote r1", "start-connections n1"],
    );
    const late = (n: string) => filesOf(rotated, n).filter((f) => f.afterActions?.length);
    assert.deepEqual(
      NODES.map((n) => late(n).map((f) => f.path)),
      NODES.map(() => [PACEMAKER_AUTHKEY]),
      "the key file waits for the rotation",
    );
    const pid = remotedPid();
    const seen: { at: number; online: boolean }[] = [];
    const timer = setInterval(() => seen.push({ at: Date.now(), online: remoteOnline() }), 1000);
    const t = Date.now();
    // The engine's order: every host's files but the late key, then the bootstrap actions, then the late key.
    for (const n of NODES)
      for (const f of filesOf(rotated, n).filter((x) => !x.afterActions?.length)) {
        const w = writeFile(n, f);
        assert.equal(w?.rc ?? 0, 0, `${n} ${f.path}: ${w?.out}`);
      }
    const results = await cluster.runActionsInOrder(rotated.actions.filter((a) => a.phase === "bootstrap"));
    const lateWrites = NODES.flatMap((n) => late(n).map((f) => writeFile(n, f)));
    clearInterval(timer);
    const elapsed = Math.round((Date.now() - t) / 1000);
    for (const r of results) assert.equal(r.rc, 0, `${r.id}: ${r.out}`);
    assert.deepEqual(lateWrites, [undefined, undefined], "the key file finds its content in place: nothing written");
    for (const n of NODES) assert.equal(liveSha(n, PACEMAKER_AUTHKEY), want, `${n}: the new key`);
    await until("r1 RemoteOnline", remoteOnline, 60);
    assert.notEqual(remotedPid(), pid, "pacemaker_remote restarted (on the new key)");
    assert.equal(fenceHistory("n1"), "", "no fence");
    const outage = Number(
      /remote connections were down for (\d+) s/.exec(results.find((r) => r.id.includes(":start-connections:"))!.out)?.[1],
    );
    assert.ok(outage >= 60, `the outage reported: ${outage} s (at least the key cache's minute)`);
    const offline = seen.filter((x) => !x.online).length;
    // A re-run (the same generation): nothing to do, nothing stopped.
    const pid2 = remotedPid();
    const again = await cluster.runActionsInOrder(rotation);
    for (const r of again) assert.equal(r.rc, 0, `${r.id}: ${r.out}`);
    assert.equal(again.filter((r) => /nothing to do/.test(r.out)).length, 2, again.map((r) => r.out).join("\n"));
    assert.equal(remotedPid(), pid2, "the re-run stopped nothing");
    assert.ok(remoteOnline(), "r1 still online after the re-run");
    verdicts.push(
      `remote key rotation (generation 1): ${rotation.length} actions, ${elapsed} s in all; outage reported ${outage} s; r1 offline in ${offline} of ${seen.length} samples (on purpose), online again; new key on n1 and r1; no fence; re-run: nothing to do`,
    );
  });

  it("control: the key written on r1 and pacemaker_remote restarted there (the previous notify) while n1 keeps its key: the connection is lost (r1 offline, or fenced)", async () => {
    const keyed = renderFor(0x33);
    const f = filesOf(keyed, "r1").find((x) => x.path === PACEMAKER_AUTHKEY)!;
    const w = writeFile("r1", { ...f, validate: `test "$(wc -c < {file})" -eq 4096` });
    assert.equal(w?.rc, 0, w?.out);
    const sv = servicesOf(keyed, "r1").find((x) => x.name === "pacemaker_remote")!;
    const r = await insideAsync("r1", restartWithGate(sv));
    assert.equal(r.rc, 0, r.out);
    let history = "";
    let online = true;
    // Until the mismatch shows (bounded): r1 offline, or a fence of r1 asked for.
    for (let i = 0; i < 60 && online && !/r1/.test(history); i++) {
      await sleep(1000);
      history = fenceHistory("n1");
      online = remoteOnline();
    }
    verdicts.push(
      `control (new key on r1 only, pacemaker_remote restarted): r1 online: ${online}; fencing history: ${history.split("\n")[0] || "(empty)"}`,
    );
    assert.ok(!online || /r1/.test(history), `the mismatch went unnoticed: ${inside("n1", "crm_mon -1").out}`);
  });
});
