/**
 * corosync-apply.sh (the corosync "restart" of a Pacemaker roll), run under /bin/sh with stub
 * supervisorctl / systemctl / corosync-cfgtool / corosync-quorumtool that record every call, on
 * corosync.conf pairs rendered by the real template from random cluster changes:
 * - reloadable changes only (token, logging-free timing, nodes added/removed): exactly one
 *   `corosync-cfgtool -R`, nothing stopped;
 * - anything else (an existing node's address or id, quorum flags):
 *   Pacemaker stops BEFORE corosync, corosync restarts, Pacemaker starts again — corosync is never
 *   stopped while Pacemaker runs on the node (that is what gets a node fenced);
 * - the node is not taken out when the cluster would lose quorum without it;
 * - the same file twice: nothing at all; corosync not running: started, nothing else.
 * - a transport, crypto or cluster_name change (nodes on other values cannot talk: rolled node by node, each
 *   restarted node came up alone): refused while corosync runs, nothing stopped; with corosync
 *   stopped (the whole cluster stopped for it), the file is recorded and corosync NOT started, and
 *   the roll's gate lets the next node go (the held mark). Before: the node was taken out and
 *   restarted onto the new values (the property below failed: calls were the node-out sequence).
 * The real daemons' verdict on the same script is tests/system/pacemaker-procedures.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import type { InitSystem } from "../../src/core/desired-state";
import { renderTemplate } from "../../src/render/templates";
import type { CorosyncConfData } from "../../src/services/pacemaker/corosync-conf";
import {
  COROSYNC_APPLIED,
  COROSYNC_HELD,
  COROSYNC_JOINING,
  corosyncApplyScript,
  corosyncRollHealth,
} from "../../src/services/pacemaker/render";
import type { RenderContext } from "../../src/services/types";

const work = mkdtempSync(join(tmpdir(), "haforge-corosync-apply-"));
after(() => rmSync(work, { recursive: true, force: true }));

const ctx = { template: renderTemplate } as unknown as RenderContext;

/** Stubs: unit state in $STATE/<unit> (present = running), every call appended to $STATE/calls. */
function stubs(bin: string): void {
  mkdirSync(bin, { recursive: true });
  const w = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  const unitOps = (verb: string, unit: string) => `
    case "${verb}" in
      status|is-active) [ -e "$STATE/${unit}" ] && { echo "${unit} RUNNING"; exit 0; }; echo "${unit} STOPPED"; exit 3 ;;
      start) echo "start ${unit}" >> "$STATE/calls"; touch "$STATE/${unit}"; exit 0 ;;
      stop)
        echo "stop ${unit}" >> "$STATE/calls"
        if [ "${unit}" = corosync ] && [ -e "$STATE/pacemaker" ]; then echo "FENCE: corosync stopped under a running pacemaker" >> "$STATE/calls"; fi
        rm -f "$STATE/${unit}"; exit 0 ;;
      *) exit 0 ;;
    esac`;
  w("supervisorctl", `verb=$1; unit=$2; ${unitOps("$verb", "$unit")}`);
  w(
    "systemctl",
    `[ "$1" = --quiet ] && shift; verb=$1; shift; [ "$1" = --quiet ] && shift; unit=$1; [ "$verb" = daemon-reload ] && exit 0; [ "$verb" = enable ] && exit 0; ${unitOps("$verb", "$unit")}`,
  );
  w("corosync-cfgtool", `echo "corosync-cfgtool $*" >> "$STATE/calls"; exit 0`);
  w(
    "corosync-quorumtool",
    `[ -e "$STATE/corosync" ] || exit 1; printf 'Quorate:          Yes\\nTotal votes:      %s\\nQuorum:           %s  \\n' "$TOTAL" "$NEED"`,
  );
  // the runtime membership: the node ids in $JOINED are joined
  w(
    "corosync-cmapctl",
    `[ "$1" = -b ] || exit 1; id=$(echo "$2" | cut -d. -f3); case " $JOINED " in *" $id "*) echo "runtime.members.$id.status (str) = joined" ;; esac; exit 0`,
  );
  w("crm_attribute", `echo "crm_attribute $*" >> "$STATE/calls"; exit "\${CRM_ATTRIBUTE_RC:-0}"`);
  // Pacemaker's one-line summary, as given ($CRM_MON)
  w("crm_mon", `printf '%s\\n' "$CRM_MON"`);
  w("sleep", "exit 0");
}

interface Outcome {
  readonly rc: number;
  readonly calls: string[];
  readonly out: string;
  /** The held mark is there after the run. */
  readonly held: boolean;
  /** The roll's health gate's exit code after the run (stub units). */
  readonly gate: number;
  /** The nodes recorded as being added (the joining file's lines). */
  readonly joining: string[];
}

let seq = 0;
function apply(
  init: InitSystem,
  applied: string | undefined,
  conf: string,
  state: { corosync: boolean; pacemaker: boolean },
  votes = { total: 3, need: 2 },
  joined: readonly number[] = [],
  crmMon = "CLUSTER OK: 3 nodes online, 0 resource instances configured",
  crmAttributeRc = 0,
): Outcome {
  const dir = join(work, String(seq++));
  const bin = join(dir, "bin");
  const st = join(dir, "state");
  mkdirSync(st, { recursive: true });
  stubs(bin);
  const confPath = join(dir, "corosync.conf");
  const appliedPath = join(dir, "applied", "corosync.conf.applied");
  writeFileSync(confPath, conf);
  if (applied !== undefined) {
    mkdirSync(join(dir, "applied"));
    writeFileSync(appliedPath, applied);
  }
  if (state.corosync) writeFileSync(join(st, "corosync"), "");
  if (state.pacemaker) writeFileSync(join(st, "pacemaker"), "");
  const script = corosyncApplyScript(ctx, init)
    .split("/etc/corosync/corosync.conf")
    .join(confPath)
    .split(COROSYNC_APPLIED)
    .join(appliedPath)
    .split(COROSYNC_HELD)
    .join(join(st, "held"))
    .split("/run/haforge/corosync-joining")
    .join(join(st, "joining"));
  writeFileSync(join(dir, "apply.sh"), script);
  const r = spawnSync("/bin/sh", [join(dir, "apply.sh")], {
    encoding: "utf8",
    env: {
      PATH: `${bin}:/usr/bin:/bin`,
      STATE: st,
      TOTAL: String(votes.total),
      NEED: String(votes.need),
      JOINED: joined.join(" "),
      CRM_ATTRIBUTE_RC: String(crmAttributeRc),
    },
    timeout: 20_000,
  });
  const calls = existsSync(join(st, "calls")) ? readFileSync(join(st, "calls"), "utf8").trim().split("\n").filter(Boolean) : [];
  if (r.status === 0) assert.equal(readFileSync(appliedPath, "utf8"), conf, "the applied record is the new file");
  const held = existsSync(join(st, "held"));
  const health = corosyncRollHealth(init).split(COROSYNC_HELD).join(join(st, "held")).split(COROSYNC_JOINING).join(join(st, "joining"));
  const gate = spawnSync("/bin/sh", ["-c", health], {
    encoding: "utf8",
    env: { PATH: `${bin}:/usr/bin:/bin`, STATE: st, TOTAL: String(votes.total), NEED: String(votes.need), CRM_MON: crmMon },
    timeout: 20_000,
  });
  const joining = existsSync(join(st, "joining")) ? readFileSync(join(st, "joining"), "utf8").split("\n").filter(Boolean) : [];
  return { rc: r.status ?? -1, calls, out: `${r.stdout}${r.stderr}`, held, gate: gate.status ?? -1, joining };
}

const base = (): CorosyncConfData => ({
  clusterName: "db",
  transport: "knet",
  crypto: { cipher: "aes256", hash: "sha256", keyfile: "/etc/corosync/authkey" },
  token: 3000,
  links: [],
  nodes: [1, 2, 3].map((i) => ({ name: `db${i}`, nodeid: i, addrs: [{ link: 0, addr: `10.0.0.${10 + i}` }] })),
  quorum: { twoNode: 0, waitForAll: 0, lastManStanding: 0, autoTieBreaker: 0 },
});

type Mutation = {
  readonly reloadable: boolean;
  /** Changes the transport or crypto (nodes on either side cannot talk). */
  readonly wire?: boolean;
  /** Changes a node's id (refused: corosync and Pacemaker know a node by it). */
  readonly renumbers?: boolean;
  readonly name: string;
  readonly f: (d: CorosyncConfData) => CorosyncConfData;
};
const MUTATIONS: readonly Mutation[] = [
  { reloadable: true, name: "token", f: (d) => ({ ...d, token: d.token + 1000 }) },
  {
    reloadable: true,
    name: "add node",
    f: (d) => ({ ...d, nodes: [...d.nodes, { name: "db9", nodeid: 9, addrs: [{ link: 0, addr: "10.0.0.99" }] }] }),
  },
  { reloadable: true, name: "remove node", f: (d) => ({ ...d, nodes: d.nodes.filter((n) => n.nodeid !== 3) }) },
  { reloadable: false, wire: true, name: "cluster_name", f: (d) => ({ ...d, clusterName: `${d.clusterName}x` }) },
  { reloadable: false, wire: true, name: "transport", f: (d) => ({ ...d, transport: "udpu", crypto: undefined }) },
  { reloadable: false, wire: true, name: "crypto", f: (d) => ({ ...d, crypto: { ...d.crypto!, cipher: "aes128" } }) },
  { reloadable: false, wire: true, name: "hash", f: (d) => ({ ...d, crypto: { ...d.crypto!, hash: "sha512" } }) },
  { reloadable: false, wire: true, name: "crypto off", f: (d) => ({ ...d, crypto: undefined }) },
  {
    reloadable: false,
    name: "address",
    f: (d) => ({ ...d, nodes: d.nodes.map((n) => (n.nodeid === 2 ? { ...n, addrs: [{ link: 0, addr: "10.0.0.77" }] } : n)) }),
  },
  {
    reloadable: false,
    renumbers: true,
    name: "renumber",
    f: (d) => ({ ...d, nodes: d.nodes.map((n) => (n.nodeid === 2 ? { ...n, nodeid: 7 } : n)) }),
  },
  { reloadable: false, name: "two_node", f: (d) => ({ ...d, quorum: { ...d.quorum, waitForAll: 1 } }) },
];

const render = (d: CorosyncConfData): string => {
  const { crypto, ...rest } = d;
  return renderTemplate("pacemaker", "corosync.conf.hbs", crypto ? d : rest);
};

const OUT = ["stop pacemaker", "stop corosync", "start corosync", "start pacemaker"];
/** Before a reload that adds nodes: Pacemaker must not fence the nodes it lists from then on and has never seen. */
const UNSEEN_NOT_FENCED = "crm_attribute --type crm_config --name startup-fencing --update false";

describe("corosync-apply.sh: reload or take the node out, never a restart under Pacemaker", () => {
  it("random changes: reloadable ones → one `corosync-cfgtool -R`; transport/crypto → refused, nothing stopped; any other → Pacemaker out first, back last", () => {
    fc.assert(
      fc.property(fc.subarray([...MUTATIONS], { minLength: 1 }), fc.constantFrom<InitSystem>("systemd", "supervisor"), (ms, init) => {
        const old = render(base());
        const next = render(ms.reduce((d, m) => m.f(d), base()));
        const r = apply(init, old, next, { corosync: true, pacemaker: true });
        assert.ok(!r.calls.some((c) => c.startsWith("FENCE")), r.calls.join("; "));
        if (ms.some((m) => m.wire)) {
          assert.notEqual(r.rc, 0, `${ms.map((m) => m.name).join(",")}: ${r.out}`);
          assert.deepEqual(r.calls, [], `${ms.map((m) => m.name).join(",")}: nothing stopped`);
          assert.match(r.out, /refusing to change the corosync transport or crypto[\s\S]*pcs cluster stop --all[\s\S]*nothing stopped/);
          return;
        }
        if (ms.some((m) => m.renumbers)) {
          assert.notEqual(r.rc, 0, `${ms.map((m) => m.name).join(",")}: ${r.out}`);
          assert.deepEqual(r.calls, [], `${ms.map((m) => m.name).join(",")}: nothing stopped`);
          assert.match(r.out, /node ids would change \(db2 2->7\)[\s\S]*pin each node's nodeid[\s\S]*nothing stopped/);
          return;
        }
        assert.equal(r.rc, 0, r.out);
        if (ms.every((m) => m.reloadable))
          assert.deepEqual(
            r.calls,
            [...(ms.some((m) => m.name === "add node") ? [UNSEEN_NOT_FENCED] : []), "corosync-cfgtool -R"],
            `${ms.map((m) => m.name).join(",")}: ${r.out}`,
          );
        else assert.deepEqual(r.calls, OUT, `${ms.map((m) => m.name).join(",")}: ${r.out}`);
      }),
      { numRuns: 60 },
    );
  });

  it("the same configuration: nothing; no record of the running one: the node goes out (safe default)", () => {
    const conf = render(base());
    assert.deepEqual(apply("supervisor", conf, conf, { corosync: true, pacemaker: true }).calls, []);
    assert.deepEqual(apply("systemd", undefined, conf, { corosync: true, pacemaker: true }).calls, OUT);
  });

  it("corosync not running (first start): started, nothing else; Pacemaker not running: corosync alone", () => {
    const conf = render(base());
    assert.deepEqual(apply("supervisor", undefined, conf, { corosync: false, pacemaker: false }).calls, ["start corosync"]);
    const changed = render({ ...base(), quorum: { ...base().quorum, waitForAll: 1 } });
    assert.deepEqual(apply("systemd", conf, changed, { corosync: true, pacemaker: false }).calls, ["stop corosync", "start corosync"]);
  });

  it("a transport/crypto change with corosync stopped (the cluster stopped for it): recorded, corosync not started, the gate passes; the next run starts nothing either", () => {
    fc.assert(
      fc.property(
        fc.subarray(
          MUTATIONS.filter((m) => m.wire),
          { minLength: 1 },
        ),
        fc.constantFrom<InitSystem>("systemd", "supervisor"),
        (ms, init) => {
          const old = render(base());
          const next = render(ms.reduce((d, m) => m.f(d), base()));
          const r = apply(init, old, next, { corosync: false, pacemaker: false });
          assert.equal(r.rc, 0, r.out);
          assert.deepEqual(r.calls, [], "corosync not started");
          assert.ok(r.held, "held mark");
          assert.equal(r.gate, 0, "the roll's gate lets the next node go");
          assert.match(r.out, /corosync NOT started here; start the cluster on every node/);
        },
      ),
      { numRuns: 20 },
    );
    // Control: the gate without the mark (corosync stopped) fails; a plain first start clears the mark.
    const conf = render(base());
    const first = apply("supervisor", undefined, conf, { corosync: false, pacemaker: false });
    assert.deepEqual([first.calls, first.held], [["start corosync"], false]);
    const same = apply("supervisor", conf, conf, { corosync: false, pacemaker: false });
    assert.deepEqual([same.calls, same.held], [["start corosync"], false]);
    const stopped = apply("systemd", conf, render({ ...base(), token: 9000 }), { corosync: false, pacemaker: false });
    assert.equal(stopped.held, false);
  });

  it("nodes removed while they still run: no reload, each marked leaving (its removal stops it, then reloads); gone already: the reload", () => {
    fc.assert(
      fc.property(
        fc.subarray([1, 2, 3, 4, 5], { minLength: 1, maxLength: 2 }),
        fc.subarray([1, 2, 3, 4, 5]),
        fc.constantFrom<InitSystem>("systemd", "supervisor"),
        fc.boolean(),
        (removed, joined, init, token) => {
          const five = {
            ...base(),
            nodes: [1, 2, 3, 4, 5].map((i) => ({ name: `db${i}`, nodeid: i, addrs: [{ link: 0, addr: `10.0.0.${10 + i}` }] })),
          };
          const next = { ...five, nodes: five.nodes.filter((n) => !removed.includes(n.nodeid)), ...(token ? { token: 5000 } : {}) };
          const r = apply(init, render(five), render(next), { corosync: true, pacemaker: true }, { total: 5, need: 3 }, joined);
          assert.equal(r.rc, 0, r.out);
          const running = removed.filter((i) => joined.includes(i));
          if (running.length) {
            assert.deepEqual(
              r.calls,
              running.map((i) => `crm_attribute --type nodes --node db${i} --name haforge-leaving --update true`),
              `${r.out}`,
            );
            assert.match(r.out, /no reload now/);
          } else assert.deepEqual(r.calls, ["corosync-cfgtool -R"], r.out);
        },
      ),
      { numRuns: 40 },
    );
    // with a change corosync cannot reload: refused, nothing done (the nodes leave first)
    const five = {
      ...base(),
      nodes: [1, 2, 3, 4].map((i) => ({ name: `db${i}`, nodeid: i, addrs: [{ link: 0, addr: `10.0.0.${10 + i}` }] })),
    };
    const r = apply(
      "supervisor",
      render(five),
      // (not the cluster name: a wire setting, refused before anything else since de638b1)
      render({ ...base(), quorum: { ...base().quorum, waitForAll: 1 } }),
      { corosync: true, pacemaker: true },
      { total: 4, need: 3 },
      [4],
    );
    assert.notEqual(r.rc, 0);
    assert.deepEqual(r.calls, []);
    assert.match(r.out, /remove the nodes first/);
  });

  it("nodes added: reloaded and recorded; the gate lets them alone be offline (they start later in the roll), never another node or no DC", () => {
    // Seen in the namespaced cluster (tests/system/pacemaker-membership.test.ts): the second member's
    // gate timed out on "CLUSTER WARN: offline node: n4 offline node: n5" during a grow 3 → 5.
    fc.assert(
      fc.property(
        fc.subarray([4, 5, 6, 7], { minLength: 1 }),
        fc.subarray([1, 2, 3, 4, 5, 6, 7]),
        fc.boolean(),
        fc.constantFrom<InitSystem>("systemd", "supervisor"),
        (added, offline, noDc, init) => {
          const node = (i: number) => ({ name: `db${i}`, nodeid: i, addrs: [{ link: 0, addr: `10.0.0.${10 + i}` }] });
          const next = { ...base(), nodes: [...base().nodes, ...added.map(node)] };
          const warn = [...(noDc ? ["No DC"] : []), offline.map((i) => `offline node: db${i}`).join(" ")].filter(Boolean).join(", ");
          const mon = warn ? `CLUSTER WARN: ${warn}` : "CLUSTER OK: 5 nodes online, 1 resource instance configured";
          const r = apply(init, render(base()), render(next), { corosync: true, pacemaker: true }, undefined, [], mon);
          assert.equal(r.rc, 0, r.out);
          assert.deepEqual(r.calls, [UNSEEN_NOT_FENCED, "corosync-cfgtool -R"], r.out);
          assert.deepEqual(
            r.joining,
            added.map((i) => `db${i}`),
          );
          const passes = !noDc && offline.every((i) => added.includes(i));
          assert.equal(r.gate, passes ? 0 : 1, `${mon}: ${r.out}`);
        },
      ),
      { numRuns: 40 },
    );
    // nothing added: nothing recorded, and an offline node fails the gate
    const conf = render(base());
    const r = apply(
      "supervisor",
      conf,
      render({ ...base(), token: 5000 }),
      { corosync: true, pacemaker: true },
      undefined,
      [],
      "CLUSTER WARN: offline node: db3",
    );
    assert.deepEqual([r.joining, r.gate], [[], 1]);
  });

  it("nodes added: startup-fencing is off BEFORE the reload (Pacemaker lists them from then on and never saw them); not settable: refused, nothing reloaded; no Pacemaker here: the reload alone", () => {
    // Seen in the namespaced cluster with a fence device able to fence the new nodes
    // (tests/system/pacemaker-membership.test.ts, grow): from n4's corosync start, every member saw
    // n5 UNCLEAN, and the device fenced it while it was being installed.
    const node = (i: number) => ({ name: `db${i}`, nodeid: i, addrs: [{ link: 0, addr: `10.0.0.${10 + i}` }] });
    const old = render(base());
    const grown = render({ ...base(), nodes: [...base().nodes, node(4), node(5)] });
    for (const init of ["systemd", "supervisor"] as const) {
      const ok = apply(init, old, grown, { corosync: true, pacemaker: true });
      assert.deepEqual([ok.rc, ok.calls], [0, [UNSEEN_NOT_FENCED, "corosync-cfgtool -R"]], ok.out);
      const refused = apply(init, old, grown, { corosync: true, pacemaker: true }, undefined, [], undefined, 1);
      assert.notEqual(refused.rc, 0, refused.out);
      assert.deepEqual(refused.calls, [UNSEEN_NOT_FENCED], "nothing reloaded");
      assert.match(refused.out, /could not set startup-fencing=false for the nodes being added \(db4 db5\)[\s\S]*nothing reloaded/);
      const alone = apply(init, old, grown, { corosync: true, pacemaker: false });
      assert.deepEqual([alone.rc, alone.calls], [0, ["corosync-cfgtool -R"]], alone.out);
    }
    // no node added (a node removed that no longer runs, a timeout): the property is left alone
    const removed = render({ ...base(), nodes: base().nodes.filter((n) => n.nodeid !== 3) });
    assert.deepEqual(apply("supervisor", old, removed, { corosync: true, pacemaker: true }).calls, ["corosync-cfgtool -R"]);
  });

  it("node ids of the nodes that stay never change: a renumbering (the first node removed, a node inserted before others) or an id passing to a new node is refused, running or not, nothing stopped", () => {
    // Before: a renumbering was "not reloadable" and took the node out and restarted corosync
    // onto the new id (the random-changes property's renumber case expected that sequence).
    const node = (name: string, nodeid: number) => ({ name, nodeid, addrs: [{ link: 0, addr: `10.0.0.${nodeid + 10}` }] });
    const of = (...nodes: ReturnType<typeof node>[]) => render({ ...base(), nodes });
    const cases: [string, string, RegExp][] = [
      ["first node removed", of(node("db2", 1), node("db3", 2)), /db2 2->1,db3 3->2,id 1 db1->db2,id 2 db2->db3/],
      ["a node inserted first", of(node("db0", 1), node("db1", 2), node("db2", 3), node("db3", 4)), /db1 1->2,db2 2->3,db3 3->4/],
      ["db3 removed, db4 added with its id", of(node("db1", 1), node("db2", 2), node("db4", 3)), /\(id 3 db3->db4\)/],
    ];
    for (const [what, next, moves] of cases)
      for (const running of [true, false]) {
        const r = apply(
          "supervisor",
          render(base()),
          next,
          { corosync: running, pacemaker: running },
          { total: 3, need: 2 },
          running ? [1, 2, 3] : [],
        );
        assert.notEqual(r.rc, 0, `${what}: ${r.out}`);
        assert.deepEqual(r.calls, [], `${what}: nothing stopped or started`);
        assert.match(r.out, moves, what);
      }
    // the same nodes with their ids pinned: the removal goes its usual way (marked leaving, no reload)
    const pinned = apply(
      "supervisor",
      render(base()),
      of(node("db2", 2), node("db3", 3)),
      { corosync: true, pacemaker: true },
      undefined,
      [1],
    );
    assert.equal(pinned.rc, 0, pinned.out);
    assert.deepEqual(pinned.calls, ["crm_attribute --type nodes --node db1 --name haforge-leaving --update true"]);
  });

  it("refuses to take the node out when the others alone would not be quorate (nothing stopped)", () => {
    const conf = render(base());
    const changed = render({ ...base(), quorum: { ...base().quorum, waitForAll: 1 } });
    const r = apply("supervisor", conf, changed, { corosync: true, pacemaker: true }, { total: 2, need: 2 });
    assert.notEqual(r.rc, 0);
    assert.deepEqual(r.calls, []);
    assert.match(r.out, /would have 1 of the 2 votes it needs/);
  });

  it("passes shellcheck", () => {
    for (const init of ["systemd", "supervisor"] as const) {
      const p = join(work, `apply-${init}.sh`);
      writeFileSync(p, corosyncApplyScript(ctx, init));
      const r = spawnSync("shellcheck", ["-s", "sh", "-S", "warning", p], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });
});
