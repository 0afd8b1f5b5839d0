/**
 * haforge's Corosync procedure against a REAL running 3-node Pacemaker cluster (corosync 3 +
 * pacemakerd under supervisord, one network namespace per node on a bridge, private mount/pid
 * namespaces; nothing of the machine's own is touched):
 *  - the cluster is brought up the way the Pulumi layer does it: every node's rendered corosync
 *    "restart" (corosync-apply.sh, first start) then pacemaker's, one node at a time behind the
 *    rendered health gates;
 *  - fencing is ON with cluster-glue's `null` device, which "fences" without doing anything but
 *    leaves the request in Pacemaker's fencing history: any fence haforge causes is recorded;
 *  - a reloadable corosync.conf change (totem token) and a non-reloadable one (wait_for_all) are
 *    rolled node by node through the rendered restart + health gate, while a sampler polls every
 *    node (250 ms): the nodes that stay in keep quorum the whole time, no node is ever UNCLEAN, the
 *    fencing history stays empty;
 *  - the control: a plain `supervisorctl restart corosync` under a running Pacemaker (what haforge
 *    did before) IS seen by the same sampler (the node is lost uncleanly and fenced), so the
 *    checks above can fail.
 * Run one netns-using file at a time (docs/lab.md): node --import tsx --test tests/system/pacemaker-procedures.test.ts
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileBytes, type FileSpec, type ServiceSpec } from "../../src/core/desired-state";
import type { InventoryInput } from "../../src/inventory/schema";
import { COROSYNC_APPLY_SCRIPT } from "../../src/services/pacemaker/render";
import { PacemakerNsCluster, renderWithKeys, requireCommands } from "./pacemaker-cluster";

const NODES = ["n1", "n2", "n3"];
/** Where a rendered path lives for node `n` (the node's init bind-mounts these directories). */
const MOUNTS: Record<string, string> = { "/etc/corosync": "corosync", "/etc/supervisor/conf.d": "conf.d", "/usr/local/lib/haforge": "lib" };
const cluster = new PacemakerNsCluster("hfpp", NODES, "10.231.9", MOUNTS);
const addr = (n: string) => cluster.addr(n);
const verdicts: string[] = [];

function inventory(over: { token?: number; waitForAll?: boolean } = {}): InventoryInput {
  return {
    name: "proc",
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
          nodes: NODES.map((host) => ({ host })),
          token: over.token ?? 3000,
          quorum: {
            twoNode: false,
            lastManStanding: false,
            autoTieBreaker: false,
            ...(over.waitForAll !== undefined ? { waitForAll: over.waitForAll } : {}),
          },
          properties: { "stonith-enabled": false },
        },
      ],
    },
  };
}

/** Deterministic stand-ins for generated key material (fixed bytes of the right size). */
const renderFor = (over: Parameters<typeof inventory>[0] = {}) => renderWithKeys(inventory(over));
type State = ReturnType<typeof renderFor>;

function place(n: string, f: FileSpec): void {
  const dir = Object.keys(MOUNTS).find((d) => f.path.startsWith(`${d}/`));
  if (!dir) return;
  const p = join(cluster.hostDir(n), MOUNTS[dir]!, f.path.slice(dir.length + 1));
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, fileBytes(f), { mode: Number.parseInt(f.mode, 8) });
}
const filesOf = (s: State, n: string) => s.hosts.find((h) => h.host === n)!.files;
const serviceOf = (s: State, n: string, name: string): ServiceSpec =>
  s.hosts.find((h) => h.host === n)!.services.find((x) => x.name === name)!;

/** A command inside node n: its netns, mount, uts, ipc and pid namespaces. */
const inside = (n: string, cmd: string, timeoutMs = 60_000) => cluster.inside(n, cmd, { timeoutMs });
const insideAsync = cluster.insideAsync.bind(cluster);

/** The restart of a roll as the Pulumi layer runs it: the restart, then the bounded health gate. */
const restartWithGate = (s: ServiceSpec) =>
  s.health ? `${s.restart} && timeout 240 sh -c 'until ${s.health.replace(/'/g, `'\\''`)}; do sleep 1; done'` : s.restart;

/** The node a roll is working on right now (its own view of the cluster is transient meanwhile). */
let rolling: string | undefined;

/** Rolls `service` over the nodes in order (files first on each node, like the RemoteFiles). */
async function roll(s: State, service: string, sample?: () => void): Promise<{ node: string; rc: number; out: string }[]> {
  const out: { node: string; rc: number; out: string }[] = [];
  for (const n of NODES) {
    for (const f of filesOf(s, n)) place(n, f);
    rolling = n;
    const timer = sample ? setInterval(sample, 250) : undefined;
    const r = await insideAsync(n, restartWithGate(serviceOf(s, n, service)));
    if (timer) clearInterval(timer);
    rolling = undefined;
    out.push({ node: n, ...r });
    if (r.rc !== 0) break;
  }
  return out;
}

interface Sample {
  readonly at: number;
  readonly node: string;
  /** The node the roll was working on when the sample was taken. */
  readonly rolling: string | undefined;
  readonly quorate: boolean;
  readonly unclean: boolean;
  readonly corosyncUp: boolean;
}
const samples: Sample[] = [];
const t0 = Date.now();
/** One sample of every node: quorate (corosync), UNCLEAN nodes seen by its Pacemaker. */
function sampleAll(): void {
  for (const n of NODES) {
    const q = inside(n, "corosync-quorumtool -s 2>&1; echo; crm_mon -1 2>&1 | grep -ci unclean", 5_000);
    samples.push({
      at: Date.now() - t0,
      node: n,
      rolling,
      quorate: /^Quorate:\s+Yes/m.test(q.out),
      unclean: Number(q.out.trim().split("\n").pop()) > 0,
      corosyncUp: /^Quorate:/m.test(q.out),
    });
  }
}
const fenceHistory = cluster.fenceHistory.bind(cluster);

before(async () => {
  requireCommands([
    "corosync",
    "pacemakerd",
    "supervisord",
    "supervisorctl",
    "corosync-quorumtool",
    "crm_mon",
    "stonith_admin",
    "cibadmin",
    "nsenter",
    "unshare",
  ]);
  await cluster.up();
});

after(async () => {
  await cluster.down();
  console.log(`# pacemaker procedure verdicts\n${verdicts.map((v) => `#   ${v}`).join("\n")}`);
});

describe("corosync config changes on a running 3-node Pacemaker cluster (real daemons)", () => {
  const start = renderFor();

  it("bootstrap through the rendered restarts and gates: corosync (first start) then pacemaker on each node, CLUSTER OK", async () => {
    const coro = await roll(start, "corosync");
    for (const r of coro) assert.equal(r.rc, 0, `${r.node}: ${r.out}`);
    assert.match(coro[0]!.out, /corosync is not running here: starting it/);
    const pcmk = await roll(start, "pacemaker");
    for (const r of pcmk) assert.equal(r.rc, 0, `${r.node}: ${r.out}`);
    // Fencing on, with a device that records every request and touches nothing.
    cluster.fencingOn("n1");
    let ok = false;
    for (let i = 0; i < 60 && !ok; i++) {
      ok = inside("n1", "crm_mon -1 | grep -q 'fence-null.*Started'").rc === 0 && /^CLUSTER OK/m.test(inside("n1", "crm_mon -1 -s").out);
      if (!ok) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(ok, inside("n1", "crm_mon -1").out);
    assert.equal(fenceHistory("n1"), "", "no fencing so far");
    verdicts.push(
      `bootstrap: corosync-apply.sh first start + pacemaker restart on n1, n2, n3 behind the rendered gates; CLUSTER OK, stonith-enabled=true with the null device started`,
    );
  });

  it("a reloadable change (totem token): `corosync-cfgtool -R` on each node, Pacemaker never stopped, quorum and no fence throughout", async () => {
    const before = samples.length;
    const changed = renderFor({ token: 5000 });
    const pids = NODES.map((n) => inside(n, "supervisorctl pid pacemaker").out.trim());
    const r = await roll(changed, "corosync", sampleAll);
    for (const x of r) {
      assert.equal(x.rc, 0, `${x.node}: ${x.out}`);
      assert.match(x.out, /reloadable change: corosync-cfgtool -R/);
    }
    assert.deepEqual(
      NODES.map((n) => inside(n, "supervisorctl pid pacemaker").out.trim()),
      pids,
      "pacemakerd kept its pid on every node",
    );
    assert.match(inside("n2", "corosync-cmapctl -g totem.token").out, /= 5000$/m, "the running corosync took the new token");
    const mine = samples.slice(before);
    assert.ok(mine.length >= 3, "sampled");
    assert.equal(fenceHistory("n1"), "", "no fence");
    assert.deepEqual(
      mine.filter((s) => !s.quorate || s.unclean),
      [],
      "quorate everywhere, never UNCLEAN",
    );
    assert.equal(fenceHistory("n1"), "");
    verdicts.push(
      `reloadable change (token 3000 -> 5000): corosync-cfgtool -R on n1..n3, pacemakerd pids unchanged, runtime totem.token=5000; ${mine.length} samples, all quorate, none UNCLEAN; fencing history empty`,
    );
  });

  it("a non-reloadable change (wait_for_all): each node taken out cleanly (pacemaker, then corosync), one at a time; the others stay quorate, no fence", async () => {
    const before = samples.length;
    const changed = renderFor({ token: 5000, waitForAll: true });
    const r = await roll(changed, "corosync", sampleAll);
    for (const x of r) {
      assert.equal(x.rc, 0, `${x.node}: ${x.out}`);
      assert.match(x.out, /not reloadable: quorum\.wait_for_all=1/);
      assert.match(x.out, /stopping pacemaker[\s\S]*restarting corosync[\s\S]*starting pacemaker/);
    }
    const mine = samples.slice(before);
    // While node X is out, X itself is not quorate (its corosync is down or rejoining); every other node must be.
    // The node being taken out is not quorate while its corosync restarts, and its freshly
    // started Pacemaker may list peers UNCLEAN until it has joined: its own view is transient.
    // Every OTHER node must stay quorate and never see an UNCLEAN node (what leads to a fence).
    const bad = mine.filter((s) => s.node !== s.rolling && (s.unclean || !s.quorate));
    assert.deepEqual(bad, [], "the nodes staying in keep quorum and see no UNCLEAN node");
    const selfViews = mine.filter((s) => s.node === s.rolling && s.unclean).length;
    const lost = mine.filter((s) => !s.quorate).map((s) => s.node);
    assert.equal(fenceHistory("n1"), "", "no fence");
    assert.match(inside("n3", "corosync-cmapctl -g quorum.wait_for_all").out, /= 1$/m);
    assert.match(inside("n1", "crm_mon -1 -s").out, /^CLUSTER OK/m, inside("n1", "crm_mon -1").out);
    verdicts.push(
      `non-reloadable change (wait_for_all 0 -> 1): node-out procedure on n1, n2, n3 in turn; ${mine.length} samples: nodes out of quorum: ${[...new Set(lost)].join(", ") || "none"} (each only while itself out); the others never saw an UNCLEAN node (the rejoining node's own transient view did ${selfViews} time(s)); fencing history empty; CLUSTER OK after`,
    );
  });

  it("control: a plain `supervisorctl restart corosync` under a running Pacemaker (the old way) is caught by the same checks", async () => {
    const before = samples.length;
    const timer = setInterval(sampleAll, 250);
    const r = await insideAsync("n2", "supervisorctl restart corosync");
    for (let i = 0; i < 40 && fenceHistory("n1") === "" && !samples.slice(before).some((s) => s.unclean); i++)
      await new Promise((res) => setTimeout(res, 500));
    clearInterval(timer);
    const mine = samples.slice(before);
    const history = fenceHistory("n1");
    const unclean = mine.filter((s) => s.unclean).length;
    verdicts.push(
      `control (restart corosync under pacemaker on n2, rc ${r.rc}): ${unclean} UNCLEAN samples; fencing history: ${history.split("\n")[0] || "(empty)"}`,
    );
    assert.ok(unclean > 0 || /n2/.test(history), `the old way went unnoticed: ${history}`);
  });
});

// The script the roll runs is the rendered one (not a test copy).
assert.ok(COROSYNC_APPLY_SCRIPT.startsWith("/usr/local/lib/haforge/"));
