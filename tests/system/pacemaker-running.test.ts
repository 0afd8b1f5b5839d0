/**
 * What haforge's apply does to a REAL running 3-node Pacemaker cluster (corosync 3 + pacemakerd
 * under supervisord, one network namespace per node on a bridge, private mount/pid namespaces;
 * fencing ON with cluster-glue's `null` device, which records every fence request and touches
 * nothing). The inventory is the lightweight layout on supervisor hosts: the CIB runs HAProxy
 * (haproxy-clone, `ocf:heartbeat:anything` — the class that works without systemd) with a VIP.
 *
 * "Apply" here is what the providers run, in their order: every changed file written by the
 * RemoteFile's own script (writeFileScript: temp file, the FileSpec's validate on the host, atomic
 * rename), then the host's bootstrap actions, the restarts its changed files notify (the
 * components' restartWithGate command), then the other actions they trigger.
 *
 * 1. HAProxy run by Pacemaker: a haproxy.cfg change is applied by a graceful reload of the process
 *    Pacemaker started (same master PID and start time, a new worker, the new port listening);
 *    nothing haforge declares for these nodes enables, starts or restarts haproxy, and Pacemaker
 *    records no failure. Control: the same inventory without haproxy in the CIB declares a
 *    supervisor program and a start/restart — run on a node Pacemaker keeps haproxy off, it starts
 *    a haproxy of its own (the CIB render's same command starts nothing there).
 * 2. A changed corosync authkey: the write is refused on every node by the key's own validate, no
 *    key changes, nothing restarts; quorum sampled on every node throughout, no node UNCLEAN, no
 *    fence; a node restarted afterwards rejoins the three. Control: the same key written without
 *    the guard (the previous validate) on one node leaves that node alone at its next restart.
 *    The documented procedure (cluster stopped everywhere, old key removed, apply, cluster
 *    started) ends with every node on the new key in one 3-node membership.
 * Run one netns-using file at a time (docs/lab.md): node --import tsx --test tests/system/pacemaker-running.test.ts
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { restartWithGate } from "../../components/service-resources";
import type { DesiredState } from "../../src/core/desired-state";
import { WRITE_EXIT } from "../../src/core/file-ops";
import type { InventoryInput } from "../../src/inventory/schema";
import { COROSYNC_AUTHKEY, COROSYNC_CONF } from "../../src/services/pacemaker/corosync-conf";
import { STOP_PACEMAKER_DEADLINE_S } from "../../src/services/pacemaker/key-rotation";
import {
  boundOps,
  filesOf,
  PacemakerNsCluster,
  renderWithKeys,
  requireCommands,
  servicesOf,
  sleep,
  type Applied,
} from "./pacemaker-cluster";

const NODES = ["n1", "n2", "n3"];
/** Directories the node's init bind-mounts from its own folder (the rest of / is the machine's). */
const cluster = new PacemakerNsCluster("hfpr", NODES, "10.231.10", {
  "/etc/corosync": "corosync",
  "/etc/supervisor/conf.d": "conf.d",
  "/usr/local/lib/haforge": "lib",
  "/etc/haproxy": "haproxy",
  "/etc/sysctl.d": "sysctl.d",
  "/var/lib/haforge/pacemaker": "cibs",
});
const addr = (n: string) => cluster.addr(n);
const VIP = "10.231.10.5";
const verdicts: string[] = [];
const { ran, inside, liveSha, writeFile, applyNode, fenceHistory, votes, clusterOk, until } = boundOps(cluster);

interface Over {
  /** haproxy in the CIB (lightweight managed) or not. */
  readonly owned?: boolean;
  readonly ports?: readonly number[];
  /** The byte every generated key is filled with. */
  readonly keyByte?: number;
  /** corosync `crypto_cipher` (default aes256). */
  readonly cipher?: "aes256" | "aes128";
  /** `corosyncKeyGeneration`; its key is filled with `rotatedByte`. */
  readonly generation?: number;
  readonly rotatedByte?: number;
}

function inventory(o: Over): InventoryInput {
  const ports = o.ports ?? [8080];
  return {
    name: "run",
    hosts: NODES.map((n) => ({
      name: n,
      address: addr(n),
      init: "supervisor" as const,
      interfaces: [{ name: "eth0", address: `${addr(n)}/24` }],
    })),
    pacemaker: {
      layout: "lightweight",
      clusters: [
        {
          name: "pc",
          nodes: NODES.map((host) => ({ host })),
          token: 3000,
          ...(o.cipher ? { crypto: { cipher: o.cipher, hash: "sha256" as const } } : {}),
          ...(o.generation ? { corosyncKeyGeneration: o.generation } : {}),
          quorum: { twoNode: false, lastManStanding: false, autoTieBreaker: false },
          properties: { "stonith-enabled": false },
          lightweight: { vips: [{ name: "vip", address: `${VIP}/24` }], managed: o.owned === false ? [] : ["haproxy"] },
        },
      ],
    },
    haproxy: {
      hosts: NODES,
      frontends: ports.map((p) => ({ name: `web${p}`, bind: `${VIP}:${p}`, backend: "web" })),
      backends: [{ name: "web", servers: NODES.map((h) => ({ host: h, port: 9000 })) }],
    },
  };
}

/** The desired state, generated keys as fixed bytes (`keyByte`) of the right size. */
const renderFor = (o: Over = {}): DesiredState =>
  renderWithKeys(inventory(o), o.keyByte ?? 0x5a, (key) => (/\/generation-\d+$/.test(key) ? o.rotatedByte : undefined));

interface Sample {
  readonly at: number;
  readonly node: string;
  readonly quorate: boolean;
  readonly unclean: boolean;
  readonly votes: number;
}
const samples: Sample[] = [];
const t0 = Date.now();
function sampleAll(): void {
  for (const n of NODES) {
    const q = inside(n, "corosync-quorumtool -s 2>&1; echo; crm_mon -1 2>&1 | grep -ci unclean", { timeoutMs: 5_000 });
    samples.push({
      at: Date.now() - t0,
      node: n,
      quorate: /^Quorate:\s+Yes/m.test(q.out),
      unclean: Number(q.out.trim().split("\n").pop()) > 0,
      votes: Number(/^Total votes:\s+(\d+)/m.exec(q.out)?.[1] ?? 0),
    });
  }
}
async function sampled<T>(f: () => Promise<T>): Promise<{ value: T; samples: Sample[] }> {
  const from = samples.length;
  const timer = setInterval(sampleAll, 300);
  try {
    const value = await f();
    sampleAll();
    return { value, samples: samples.slice(from) };
  } finally {
    clearInterval(timer);
  }
}
/** The master haproxy Pacemaker started on node n: pid, start time (jiffies), worker pids. */
function haproxyProc(n: string): { pid: string; start: string; workers: string } {
  const r = inside(
    n,
    `p=$(cat /run/haforge-haproxy.pid 2>/dev/null); [ -n "$p" ] && kill -0 "$p" && echo "$p" && cut -d' ' -f22 /proc/$p/stat && cat /proc/$p/task/*/children`,
  );
  const [pid = "", start = "", workers = ""] = r.out.trim().split("\n");
  return { pid, start, workers: workers.trim() };
}
/** Ports listening on node n (its netns), from /proc/net/tcp. */
const listening = (n: string, port: number) =>
  new RegExp(`:${port.toString(16).toUpperCase().padStart(4, "0")} [0-9A-F:]+ 0A `).test(inside(n, "cat /proc/net/tcp").out);

/** Commands that enable, start or restart haproxy outside Pacemaker (supervisor or systemd). */
const RUNS_HAPROXY =
  /(supervisorctl\s+(?:start|restart|update)\s+(?:\S+\s+)*haproxy\b)|(systemctl\s+(?:start|restart|enable|reenable)\s+(?:\S+\s+)*haproxy\b)|(^|[;&|]\s*)\/usr\/sbin\/haproxy\s/;
function haproxyRunners(s: DesiredState): string[] {
  const out: string[] = [];
  for (const h of s.hosts) {
    for (const sv of h.services)
      if (RUNS_HAPROXY.test(sv.restart) || RUNS_HAPROXY.test(sv.reload ?? "")) out.push(`${h.host} ${sv.name}: ${sv.restart}`);
    for (const f of h.files) if (/\/(supervisor\/conf\.d|systemd\/system)\/haproxy[.]/.test(f.path)) out.push(`${h.host} file ${f.path}`);
  }
  for (const a of s.actions) if (RUNS_HAPROXY.test(a.create)) out.push(`${a.host} action ${a.id}: ${a.create}`);
  return out;
}

/** corosync's and Pacemaker's pids on every node. */
const daemonPids = () => NODES.map((n) => inside(n, "supervisorctl pid corosync; supervisorctl pid pacemaker").out.trim());

/**
 * A change applied on every node that the validate of `path` must refuse everywhere: applied with
 * quorum sampled, then two token timeouts of waiting (a node on another key or crypto would be
 * lost by then). Asserts that every node refused `path` alone (validate exit), nothing ran, the
 * daemons kept their pids and every sample was quorate with 3 votes, none UNCLEAN.
 */
async function refusedEverywhere(changed: DesiredState, path: string): Promise<{ refused: Applied["refused"]; samples: Sample[] }> {
  const from = ran.length;
  const pids = daemonPids();
  const { value, samples: mine } = await sampled(async () => {
    const out: Applied[] = [];
    for (const n of NODES) out.push(await applyNode(changed, n));
    await sleep(7000);
    return out;
  });
  for (const r of value) {
    assert.deepEqual(r.written, [], r.node);
    assert.deepEqual(
      r.refused.map((x) => [x.path, x.rc]),
      [[path, WRITE_EXIT.validate]],
      r.node,
    );
  }
  assert.deepEqual(ran.slice(from), [], "nothing restarted, no action run");
  assert.deepEqual(daemonPids(), pids);
  assert.deepEqual(
    mine.filter((s) => !s.quorate || s.unclean || s.votes !== 3),
    [],
    "every node quorate with 3 votes, none UNCLEAN",
  );
  return { refused: value.map((r) => r.refused[0]!), samples: mine };
}

before(async () => {
  requireCommands(["corosync", "pacemakerd", "supervisord", "haproxy", "crm_mon", "stonith_admin", "cibadmin", "nsenter", "unshare"]);
  assert.ok(existsSync("/usr/lib/ocf/resource.d/heartbeat/anything"), "resource-agents' anything agent");
  await cluster.up();
});

after(async () => {
  await cluster.down();
  console.log(`# pacemaker running-cluster verdicts\n${verdicts.map((v) => `#   ${v}`).join("\n")}`);
});

describe("haforge's apply on a running 3-node Pacemaker cluster that runs HAProxy (real daemons)", () => {
  const start = renderFor();

  it("bootstrap: files, keys action, corosync then pacemaker through the rendered gates, CIB applied; haproxy-clone and the VIP started by Pacemaker; fencing on", async () => {
    for (const n of NODES) {
      const r = await applyNode(start, n, { first: true, only: ["corosync"] });
      assert.deepEqual([r.refused, r.failed], [[], []], n);
    }
    for (const n of NODES) {
      const r = await applyNode(start, n, { first: true, only: ["pacemaker"] });
      assert.deepEqual([r.refused, r.failed], [[], []], n);
    }
    // haproxy's declared "restart" on a node where Pacemaker has not started it yet: config only.
    for (const n of NODES) {
      const sv = servicesOf(start, n).find((x) => x.name === "haproxy")!;
      const r = inside(n, restartWithGate(sv));
      ran.push({ node: n, kind: "restart", id: "haproxy", cmd: restartWithGate(sv) });
      assert.equal(r.rc, 0, r.out);
      assert.match(r.out, /haproxy is not running here \(Pacemaker places it\): config in place/);
    }
    for (const a of start.actions.filter((x) => x.phase !== "bootstrap")) {
      const r = await cluster.runAction(a);
      assert.equal(r.rc, 0, `${a.id}: ${r.out}`);
    }
    await until(
      "haproxy-clone on every node and the VIP",
      () =>
        NODES.every((n) => haproxyProc(n).pid !== "") &&
        /vip\s+\(ocf:heartbeat:IPaddr2\):\s+Started/.test(inside("n1", "crm_mon -1 -r").out),
      120,
    );
    cluster.fencingOn("n1");
    await until(
      "CLUSTER OK with the null fence device started",
      () => clusterOk("n1") && /fence-null.*Started/.test(inside("n1", "crm_mon -1").out),
      60,
    );
    assert.equal(fenceHistory("n1"), "");
    verdicts.push(
      `bootstrap: 3 nodes CLUSTER OK, haproxy-clone (ocf:heartbeat:anything) running on ${NODES.map((n) => `${n} pid ${haproxyProc(n).pid}`).join(", ")}, stonith on (null device)`,
    );
  });

  it("1. a haproxy.cfg change: the render declares no enable/start/restart of haproxy; the apply reloads the process Pacemaker started (same PID and start time, new worker, new port); no Pacemaker failure, no fence", async () => {
    const changed = renderFor({ ports: [8080, 8081] });
    assert.deepEqual(haproxyRunners(start), [], "nothing haforge declares for these nodes runs haproxy");
    assert.deepEqual(haproxyRunners(changed), []);
    const before = Object.fromEntries(NODES.map((n) => [n, haproxyProc(n)]));
    const from = ran.length;
    const { value, samples: mine } = await sampled(async () => {
      const out: Applied[] = [];
      for (const n of NODES) out.push(await applyNode(changed, n));
      return out;
    });
    for (const r of value) {
      assert.deepEqual(r.written, ["/etc/haproxy/haproxy.cfg"], r.node);
      assert.deepEqual([r.refused, r.failed], [[], []], r.node);
    }
    const cmds = ran.slice(from);
    assert.deepEqual(
      cmds.map((c) => `${c.node} ${c.kind} ${c.id}`),
      NODES.map((n) => `${n} restart haproxy`),
      "the one thing run per node is haproxy's declared restart",
    );
    for (const c of cmds) assert.doesNotMatch(c.cmd, RUNS_HAPROXY, c.cmd);
    await until("port 8081 listening on every node", () => NODES.every((n) => listening(n, 8081)), 20);
    for (const n of NODES) {
      const now = haproxyProc(n);
      assert.equal(now.pid, before[n]!.pid, `${n}: the master Pacemaker started keeps its pid`);
      assert.equal(now.start, before[n]!.start, `${n}: and its start time`);
      assert.notEqual(now.workers, before[n]!.workers, `${n}: a new worker (the reload happened)`);
      assert.match(inside(n, "crm_failcount --query -r haproxy -N " + n + " 2>&1").out, /value=0\b/, `${n}: no failure recorded`);
    }
    assert.ok(/haproxy-clone/.test(inside("n1", "crm_mon -1 -r").out) && clusterOk("n1"));
    assert.deepEqual(
      mine.filter((s) => !s.quorate || s.unclean),
      [],
    );
    assert.equal(fenceHistory("n1"), "");
    verdicts.push(
      `haproxy.cfg change (port 8081 added): run per node = haproxy's declared reload only; master pids ${NODES.map((n) => before[n]!.pid).join("/")} kept (start times too), workers replaced, 8081 listening, fail counts 0, ${mine.length} samples quorate, no fence`,
    );
  });

  it("2. a changed corosync authkey: refused by the key's validate on every node, nothing restarted, quorum kept (sampled), no fence; a node restarted afterwards rejoins the three", async () => {
    const keyed = renderFor({ ports: [8080, 8081], keyByte: 0x33 });
    const oldKey = liveSha("n1", COROSYNC_AUTHKEY);
    const { refused, samples: mine } = await refusedEverywhere(keyed, COROSYNC_AUTHKEY);
    for (const [i, n] of NODES.entries()) {
      assert.match(refused[i]!.out, /refusing to replace \/etc\/corosync\/authkey[\s\S]*crm cluster stop --all/);
      assert.equal(liveSha(n, COROSYNC_AUTHKEY), oldKey, `${n}: the running key stays`);
    }
    // A node restarted later (taken out cleanly: Pacemaker first) comes back into the three.
    const r = inside("n3", "supervisorctl stop pacemaker && supervisorctl restart corosync", { timeoutMs: 180_000 });
    assert.equal(r.rc, 0, r.out);
    await until("n3 back with 3 votes", () => votes("n3") === 3 && votes("n1") === 3, 60);
    assert.equal(inside("n3", "supervisorctl start pacemaker").rc, 0);
    await until("CLUSTER OK", () => clusterOk("n1") && clusterOk("n3"), 90);
    assert.equal(fenceHistory("n1"), "", "no fence");
    verdicts.push(
      `changed authkey: refused on n1..n3 (validate exit ${WRITE_EXIT.validate}), keys unchanged, no restart/action run, corosync/pacemaker pids unchanged; ${mine.length} samples all quorate with 3 votes, none UNCLEAN; n3 restarted later rejoined (3 votes); fencing history empty`,
    );
  });

  it("2. control: the same key written without the guard (the previous size-only validate) on n3 leaves n3 alone at its next restart", async () => {
    const keyed = renderFor({ ports: [8080, 8081], keyByte: 0x33 });
    const f = filesOf(keyed, "n3").find((x) => x.path === COROSYNC_AUTHKEY)!;
    const w = writeFile("n3", { ...f, validate: `test "$(wc -c < {file})" -eq 256` });
    assert.equal(w?.rc, 0, w?.out);
    const r = inside("n3", "supervisorctl stop pacemaker && supervisorctl restart corosync", { timeoutMs: 180_000 });
    assert.equal(r.rc, 0, r.out);
    // Bounded: n3 forms its own membership on the new key, n1/n2 keep theirs without it.
    let alone = [votes("n3"), votes("n1")];
    for (let i = 0; i < 60 && (alone[0] !== 1 || alone[1] !== 2); i++) {
      await sleep(500);
      alone = [votes("n3"), votes("n1")];
    }
    verdicts.push(
      `control (new key on n3 without the guard, then n3's corosync restarted): votes seen by n3 ${alone[0]}, by n1 ${alone[1]}`,
    );
    assert.deepEqual(alone, [1, 2], "n3 is alone on the new key; n1/n2 keep quorum without it");
    // Put n3 back on the cluster's key.
    const old = filesOf(renderFor({ ports: [8080, 8081] }), "n3").find((x) => x.path === COROSYNC_AUTHKEY)!;
    assert.equal(writeFile("n3", { ...old, validate: `test "$(wc -c < {file})" -eq 256` })?.rc, 0);
    assert.equal(inside("n3", "supervisorctl restart corosync", { timeoutMs: 180_000 }).rc, 0);
    await until("n3 back with 3 votes", () => votes("n3") === 3, 60);
    assert.equal(inside("n3", "supervisorctl start pacemaker").rc, 0);
    await until("CLUSTER OK", () => clusterOk("n1"), 90);
  });

  it("2. the documented procedure: cluster stopped everywhere, old key removed, apply (writes the key, restarts nothing), cluster started: every node on the new key in one 3-node membership", async () => {
    const keyed = renderFor({ ports: [8080, 8081], keyByte: 0x33 });
    // `crm cluster stop --all` without systemd: Pacemaker on every node first, then corosync.
    for (const n of NODES) assert.equal(inside(n, "supervisorctl stop pacemaker", { timeoutMs: 300_000 }).rc, 0);
    for (const n of NODES) assert.equal(inside(n, "supervisorctl stop corosync", { timeoutMs: 120_000 }).rc, 0);
    for (const n of NODES) assert.equal(inside(n, `rm -f ${COROSYNC_AUTHKEY}`).rc, 0);
    const from = ran.length;
    for (const n of NODES) {
      const r = await applyNode(keyed, n);
      assert.deepEqual([r.written, r.refused, r.failed], [[COROSYNC_AUTHKEY], [], []], n);
    }
    const kinds = ran.slice(from).map((c) => `${c.node} ${c.kind} ${c.id}`);
    assert.deepEqual(
      kinds,
      NODES.map((n) => `${n} action pacemaker:pc:keys:${n}`),
      "only the keys actions (test -s): no restart",
    );
    for (const n of NODES) assert.doesNotMatch(inside(n, "supervisorctl status corosync").out, /RUNNING/, `${n}: corosync left stopped`);
    // `crm cluster start --all`.
    for (const n of NODES) assert.equal(inside(n, "supervisorctl start corosync", { timeoutMs: 120_000 }).rc, 0);
    for (const n of NODES) assert.equal(inside(n, "supervisorctl start pacemaker", { timeoutMs: 120_000 }).rc, 0);
    await until("3 votes on every node and CLUSTER OK", () => NODES.every((n) => votes(n) === 3) && clusterOk("n1"), 120);
    const want = createHash("sha256").update(Buffer.alloc(256, 0x33)).digest("hex");
    for (const n of NODES) assert.equal(liveSha(n, COROSYNC_AUTHKEY), want, `${n}: the new key`);
    await until("haproxy-clone back on every node", () => NODES.every((n) => haproxyProc(n).pid !== ""), 120);
    verdicts.push(`procedure: stop all, rm key, apply (keys actions only), start all: every node on the new key, 3 votes each, CLUSTER OK`);
  });

  it("3. a corosync crypto change (crypto_cipher aes256 -> aes128) on the running cluster: corosync.conf refused on every node (corosync runs), nothing restarted, 3 votes throughout, no fence", async () => {
    const changed = renderFor({ ports: [8080, 8081], keyByte: 0x33, cipher: "aes128" });
    const old = NODES.map((n) => liveSha(n, COROSYNC_CONF));
    const { refused, samples: mine } = await refusedEverywhere(changed, COROSYNC_CONF);
    for (const r of refused) {
      assert.match(r.out, /refusing to change the corosync transport or crypto[\s\S]*pcs cluster stop --all/);
      assert.match(r.out, /in place: .*crypto_cipher:aes256[\s\S]*new: .*crypto_cipher:aes128/);
    }
    assert.deepEqual(
      NODES.map((n) => liveSha(n, COROSYNC_CONF)),
      old,
      "corosync.conf unchanged everywhere",
    );
    assert.equal(fenceHistory("n1"), "", "no fence");
    verdicts.push(
      `crypto change: corosync.conf refused on n1..n3 (validate exit ${WRITE_EXIT.validate}), unchanged, no restart/action run, pids kept; ${mine.length} samples all quorate with 3 votes, none UNCLEAN; fencing history empty`,
    );
  });

  it("3. the whole-cluster procedure: cluster stopped everywhere, apply (corosync.conf written, corosync-apply.sh holds: nothing started, the roll's gate passes), cluster started: every node runs aes128 in one 3-node membership", async () => {
    const changed = renderFor({ ports: [8080, 8081], keyByte: 0x33, cipher: "aes128" });
    for (const n of NODES) assert.equal(inside(n, "supervisorctl stop pacemaker", { timeoutMs: 300_000 }).rc, 0);
    for (const n of NODES) assert.equal(inside(n, "supervisorctl stop corosync", { timeoutMs: 120_000 }).rc, 0);
    const from = ran.length;
    const out: Applied[] = [];
    for (const n of NODES) out.push(await applyNode(changed, n));
    for (const r of out) {
      assert.deepEqual([r.written, r.refused, r.failed], [[COROSYNC_CONF], [], []], r.node);
      assert.doesNotMatch(inside(r.node, "supervisorctl status corosync").out, /RUNNING/, `${r.node}: corosync left stopped`);
    }
    assert.deepEqual(
      ran.slice(from).map((c) => `${c.node} ${c.kind} ${c.id}`),
      NODES.map((n) => `${n} restart corosync`),
      "corosync's declared restart (corosync-apply.sh) per node, behind its gate",
    );
    for (const n of NODES) assert.equal(inside(n, "supervisorctl start corosync", { timeoutMs: 120_000 }).rc, 0);
    for (const n of NODES) assert.equal(inside(n, "supervisorctl start pacemaker", { timeoutMs: 120_000 }).rc, 0);
    await until("3 votes on every node and CLUSTER OK", () => NODES.every((n) => votes(n) === 3) && clusterOk("n1"), 120);
    for (const n of NODES) assert.match(inside(n, "corosync-cmapctl -g totem.crypto_cipher").out, /= aes128$/m, `${n}: runs aes128`);
    const again = await applyNode(changed, "n2");
    assert.deepEqual([again.written, again.refused, again.failed], [[], [], []], "then a no-op");
    assert.equal(fenceHistory("n1"), "", "no fence");
    verdicts.push(
      `crypto procedure: stop all, apply (corosync.conf written, corosync-apply.sh held on each node), start all: runtime crypto_cipher=aes128 on n1..n3, 3 votes each, CLUSTER OK, no fence`,
    );
  });

  it("4. key rotation as an operation (corosyncKeyGeneration 0 -> 1): staged on every node, Pacemaker stopped everywhere, then corosync, key installed, cluster started; every node on the new key in one 3-node membership, no UNCLEAN, no fence; the outage reported; a re-run changes nothing", async () => {
    // What runs now (after the tests above: key 0x33, aes128; alone after the bootstrap: 0x5a, aes256).
    const keyByte = liveSha("n1", COROSYNC_AUTHKEY) === createHash("sha256").update(Buffer.alloc(256, 0x33)).digest("hex") ? 0x33 : 0x5a;
    const cipher = /= aes128$/m.test(inside("n1", "corosync-cmapctl -g totem.crypto_cipher").out) ? "aes128" : "aes256";
    const o: Over = { ports: [8080, 8081], keyByte, cipher, generation: 1, rotatedByte: 0x44 };
    const rotated = renderFor(o);
    const want = createHash("sha256").update(Buffer.alloc(256, 0x44)).digest("hex");
    const old = liveSha("n1", COROSYNC_AUTHKEY);
    assert.notEqual(old, want);
    const rotation = rotated.actions.filter((a) => a.id.includes(":corosync-key-1:"));
    assert.equal(rotation.length, 6 * NODES.length);
    const late = (n: string) => filesOf(rotated, n).filter((f) => f.afterActions?.length);
    assert.deepEqual(
      NODES.map((n) => late(n).map((f) => f.path)),
      NODES.map(() => [COROSYNC_AUTHKEY]),
      "the key file waits for the rotation",
    );
    const t = Date.now();
    const { value, samples: mine } = await sampled(async () => {
      // The engine's order: every node's files but the late key, then the bootstrap actions, then the late key.
      for (const n of NODES)
        for (const f of filesOf(rotated, n).filter((x) => !x.afterActions?.length)) {
          const w = writeFile(n, f);
          assert.equal(w?.rc ?? 0, 0, `${n} ${f.path}: ${w?.out}`);
        }
      const results = await cluster.runActionsInOrder(rotated.actions.filter((a) => a.phase === "bootstrap"));
      const lateWrites = NODES.flatMap((n) => late(n).map((f) => writeFile(n, f)));
      return { results, lateWrites };
    });
    const elapsed = Math.round((Date.now() - t) / 1000);
    for (const r of value.results) assert.equal(r.rc, 0, `${r.id}: ${r.out}`);
    assert.deepEqual(
      value.lateWrites,
      NODES.map(() => undefined),
      "the key file finds its content in place: nothing written",
    );
    for (const n of NODES) assert.equal(liveSha(n, COROSYNC_AUTHKEY), want, `${n}: the new key`);
    await until("3 votes on every node and CLUSTER OK", () => NODES.every((n) => votes(n) === 3) && clusterOk("n1"), 120);
    await until("haproxy-clone back on every node", () => NODES.every((n) => haproxyProc(n).pid !== ""), 120);
    // Pacemaker starting on every node at once shows the nodes it has not seen yet as
    // "UNCLEAN (offline)" until they join (startup-fencing's unseen nodes; the same at any
    // `crm cluster start --all`): never before the stop or after the rotation settled, and no fence.
    const at = (ms: number) => ms - t0;
    const startedPcmk = Math.min(...value.results.filter((r) => r.id.includes(":start-pacemaker:")).map((r) => at(r.from)));
    const settled = Math.max(...value.results.filter((r) => r.id.includes(":settled:")).map((r) => at(r.to)));
    const unclean = mine.filter((s) => s.unclean);
    assert.deepEqual(
      unclean.filter((s) => s.at < startedPcmk || s.at > settled),
      [],
      `UNCLEAN only while Pacemaker started (${startedPcmk}..${settled} ms)`,
    );
    assert.equal(fenceHistory("n1"), "", "no fence");
    // Pacemaker stopped on every node before corosync stopped anywhere (the barrier between steps).
    const order = ran.filter((c) => c.id.includes(":corosync-key-1:")).map((c) => c.id.split(":")[3]);
    assert.ok(order.lastIndexOf("stop-pacemaker") < order.indexOf("stop-corosync"), order.join(" "));
    const outages = value.results
      .filter((r) => r.id.includes(":settled:"))
      .map((r) => Number(/down here for (\d+) s/.exec(r.out)?.[1] ?? NaN));
    assert.ok(
      outages.every((x) => x >= 0),
      `the outage reported per node: ${outages.join(", ")}`,
    );
    const down = mine.filter((s) => !s.quorate);
    // A re-run (the same generation): nothing to do, nothing stopped.
    const pids = daemonPids();
    const again = await cluster.runActionsInOrder(rotation);
    for (const r of again) assert.equal(r.rc, 0, `${r.id}: ${r.out}`);
    assert.equal(again.filter((r) => /nothing to do/.test(r.out)).length, NODES.length, again.map((r) => r.out).join("\n"));
    assert.deepEqual(daemonPids(), pids, "the re-run stopped nothing");
    verdicts.push(
      `key rotation (generation 1): ${rotation.length} actions in 6 steps, ${elapsed} s in all; outage reported per node ${outages.join("/")} s; ` +
        `${down.length} of ${mine.length} samples not quorate (the cluster stopped on purpose), ${unclean.length} showing a node UNCLEAN (offline) while Pacemaker started, none before or after, no fence; ` +
        `new key on n1..n3, 3 votes, CLUSTER OK; re-run: nothing to do`,
    );
  });

  it("4. a node whose Pacemaker stop hangs (its pacemakerd frozen as the step stops it): the rotation's stop-pacemaker step fails there at its deadline, naming the node and its view of the cluster, the other nodes stopped, corosync untouched; once it is down the next run resumes and ends on the new key, no fence", async () => {
    const keyByte = liveSha("n1", COROSYNC_AUTHKEY) === createHash("sha256").update(Buffer.alloc(256, 0x33)).digest("hex") ? 0x33 : 0x5a;
    const cipher = /= aes128$/m.test(inside("n1", "corosync-cmapctl -g totem.crypto_cipher").out) ? "aes128" : "aes256";
    const rotated = renderFor({ ports: [8080, 8081], keyByte, cipher, generation: 2, rotatedByte: 0x66 });
    const want = createHash("sha256").update(Buffer.alloc(256, 0x66)).digest("hex");
    const late = (n: string) => filesOf(rotated, n).filter((f) => f.afterActions?.length);
    for (const n of NODES)
      for (const f of filesOf(rotated, n).filter((x) => !x.afterActions?.length))
        assert.equal(writeFile(n, f)?.rc ?? 0, 0, `${n} ${f.path}`);
    // The rendered deadline (STOP_PACEMAKER_DEADLINE_S), shortened for the test; and on n3, its
    // pacemakerd frozen (SIGSTOP: the supervisor's SIGTERM waits) just before the step stops it.
    const deadline = 20;
    const rendered = `DEADLINE=${STOP_PACEMAKER_DEADLINE_S}\n`;
    const stopping = `say "stopping pacemaker (every node stops it now)"`;
    const steps = rotated.actions
      .filter((a) => a.phase === "bootstrap")
      .map((a) => {
        const create = a.create.split(rendered).join(`DEADLINE=${deadline}\n`);
        return a.id.endsWith(":stop-pacemaker:n3")
          ? { ...a, create: create.replace(stopping, `kill -STOP $(pidof pacemakerd); ${stopping}`) }
          : { ...a, create };
      });
    assert.equal(steps.filter((a) => a.create.includes(`DEADLINE=${deadline}\n`)).length, NODES.length);
    assert.equal(steps.filter((a) => a.create.includes("kill -STOP")).length, 1);
    const corosyncPids = NODES.map((n) => inside(n, "supervisorctl pid corosync").out.trim());
    let first: Awaited<ReturnType<typeof cluster.runActionsInOrder>>;
    try {
      first = await cluster.runActionsInOrder(steps);
    } finally {
      inside("n3", "kill -CONT $(pidof pacemakerd)");
    }
    const hung = first.find((r) => r.id.endsWith(":stop-pacemaker:n3"))!;
    assert.deepEqual(
      first.filter((r) => r.id.includes(":corosync-key-2:")).map((r) => `${r.id.split(":").slice(-2).join(" ")} ${r.rc}`),
      ["stop-pacemaker n1 0", "stop-pacemaker n2 0", "stop-pacemaker n3 1"],
      hung.out,
    );
    const hungS = (hung.to - hung.from) / 1000;
    assert.ok(hungS >= deadline - 1 && hungS < deadline + 60, `n3's step returned after ${hungS} s`);
    assert.match(hung.out, /on n3: pacemaker has not stopped 20 s after its stop began \(it goes on stopping in the background/);
    assert.match(hung.out, /What it waits for, as this node sees the cluster:\n(Quorate|Total votes):/);
    assert.deepEqual(
      NODES.map((n) => inside(n, "supervisorctl pid corosync").out.trim()),
      corosyncPids,
      "corosync untouched everywhere",
    );
    await until(
      "n3's Pacemaker down once it takes its SIGTERM",
      () => !/RUNNING|STOPPING/.test(inside("n3", "supervisorctl status pacemaker").out),
      180,
    );
    // The next run: every step again (what was done does nothing), then the late key.
    const again = await cluster.runActionsInOrder(
      steps.map((a) => ({ ...a, create: a.create.replace(/kill -STOP \$\(pidof pacemakerd\); /, "") })),
    );
    for (const r of again) assert.equal(r.rc, 0, `${r.id}: ${r.out}`);
    assert.deepEqual(
      NODES.flatMap((n) => late(n).map((f) => writeFile(n, f))),
      NODES.map(() => undefined),
    );
    for (const n of NODES) assert.equal(liveSha(n, COROSYNC_AUTHKEY), want, `${n}: the new key`);
    await until("3 votes on every node and CLUSTER OK", () => NODES.every((n) => votes(n) === 3) && clusterOk("n1"), 120);
    assert.equal(fenceHistory("n1"), "", "no fence");
    verdicts.push(
      `stop hang (n3's pacemakerd frozen as its step stops it; deadline ${deadline} s for the test, ${STOP_PACEMAKER_DEADLINE_S} s rendered): n3's stop-pacemaker failed after ${hungS.toFixed(1)} s naming n3 and its view, n1/n2 stopped, corosync pids kept; the next run resumed: new key on n1..n3, 3 votes, CLUSTER OK, no fence`,
    );
  });

  it("1. control: the same inventory without haproxy in the CIB declares haproxy's own program and a start; run on a node, haforge starts a haproxy of its own (the CIB's render, run the same way, starts nothing)", async () => {
    const plain = renderFor({ owned: false, ports: [8080, 8081], keyByte: 0x33 });
    const runners = haproxyRunners(plain);
    assert.ok(
      runners.some((x) => /file \/etc\/supervisor\/conf\.d\/haproxy\.conf/.test(x)),
      runners.join("\n"),
    );
    assert.ok(
      runners.some((x) => / haproxy: /.test(x)),
      runners.join("\n"),
    );
    const pids = () => inside("n1", "pidof haproxy || true").out.trim();
    // Pacemaker lets go of haproxy on n1 (the clone banned there). First the clone's start there
    // done (the step before restarts the whole cluster: a start still under way when the ban lands
    // completes, then stops), then no haproxy process at all: the pid file goes before the workers.
    await until("the clone's haproxy running on n1", () => haproxyProc("n1").pid !== "", 120);
    assert.equal(inside("n1", "crm_resource --ban --resource haproxy-clone --node n1").rc, 0);
    await until("no haproxy process on n1", () => haproxyProc("n1").pid === "" && pids() === "", 60);
    // The render with haproxy in the CIB, its declared restart run there: starts nothing.
    const owned = servicesOf(renderFor({ ports: [8080, 8081], keyByte: 0x33 }), "n1").find((x) => x.name === "haproxy")!;
    const o = inside("n1", restartWithGate(owned));
    assert.equal(o.rc, 0, o.out);
    assert.equal(pids(), "", "the Pacemaker-run render starts no haproxy");
    // The render without it: its program file and restart start one.
    const one = plain.hosts.find((h) => h.host === "n1")!;
    for (const f of one.files.filter((x) => x.path === "/etc/supervisor/conf.d/haproxy.conf" || x.path === "/etc/haproxy/haproxy.cfg"))
      assert.equal(writeFile("n1", f)?.rc ?? 0, 0, f.path);
    const sv = one.services.find((x) => x.name === "haproxy")!;
    const first = inside("n1", restartWithGate(sv), { timeoutMs: 300_000 });
    assert.equal(first.rc, 0, first.out);
    const pid1 = inside("n1", "supervisorctl pid haproxy").out.trim();
    verdicts.push(
      `control (haproxy not in the CIB): ${runners.length} haproxy runner(s) declared (program file, restart); on n1 with the clone banned, the CIB render's restart started nothing, the plain render's started haproxy under supervisor (pid ${pid1})`,
    );
    assert.match(pid1, /^[1-9]\d*$/, "haforge started haproxy itself");
    assert.equal(inside("n1", "supervisorctl stop haproxy").rc, 0);
  });
});
