/**
 * A Pacemaker node leaves in Pacemaker's own order (issue 11; pcs `cluster node remove`): it is
 * stopped first (its deprovisioning: Pacemaker, then corosync, the quorum checked before when the
 * nodes that stay marked it leaving), then a node that stays reloads the nodelist without it and
 * Pacemaker forgets it (its member action's delete). Before (02a4813), the delete ran
 * `corosync-cfgtool -R && crm_node --force -R` while the node still ran, and its daemons were left
 * running. Judged under sh against stub corosync-cmapctl / corosync-cfgtool / crm_node /
 * crm_attribute / corosync-quorumtool / supervisorctl that record every call. The real daemons'
 * verdict: tests/system/pacemaker-membership.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { deprovisionCommand } from "../../src/render/daemon";
import { COROSYNC_CONF } from "../../src/services/pacemaker/corosync-conf";
import { leaveQuorumCheck, memberRemoveCommand } from "../../src/services/pacemaker/render";
import { DELETE_ELSEWHERE_EXIT } from "../../src/core/desired-state";
import { Inventory } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { renderDesiredState, requiredMaterials } from "../../src/pipeline/render";

const work = mkdtempSync(join(tmpdir(), "haforge-pacemaker-leave-"));
after(() => rmSync(work, { recursive: true, force: true }));

const STUBS: Record<string, string> = {
  "corosync-cmapctl": `[ -e "$STATE/corosync" ] || exit 1
case "$1" in
  -g) echo "totem.cluster_name (str) = pc" ;;
  -b) id=$(echo "$2" | cut -d. -f3); case " $JOINED " in *" $id "*) echo "runtime.members.$id.status (str) = joined" ;; esac ;;
esac
exit 0`,
  "corosync-cfgtool": `echo "corosync-cfgtool $*" >> "$STATE/calls"`,
  // Pacemaker's node list ($STATE/nodes: "<id> <name> <state>" lines); a removal is undone while
  // $STATE/undo has lines (the DC's record of the node's departure landing after the purge)
  crm_node: `case "$1" in
  -l) cat "$STATE/nodes" 2>/dev/null ;;
  --force) echo "crm_node $*" >> "$STATE/calls"
    if [ -s "$STATE/undo" ]; then sed -i 1d "$STATE/undo"; else awk -v n="$3" '$2 != n' "$STATE/nodes" > "$STATE/nodes.new"; mv "$STATE/nodes.new" "$STATE/nodes"; fi ;;
esac
exit 0`,
  crm_attribute: `echo "crm_attribute $*" >> "$STATE/calls"; [ -n "$LEAVING" ] && echo "$LEAVING"; exit 0`,
  "corosync-quorumtool": `echo "corosync-quorumtool $*" >> "$STATE/calls"; [ -n "$QUORATE" ] || { printf 'Quorate:          No\\n'; exit 2; }
printf 'Quorate:          Yes\\nTotal votes:      %s\\nQuorum:           %s  \\n' "$TOTAL" "$NEED"`,
  supervisorctl: `case "$1" in
  stop) echo "stop $2" >> "$STATE/calls"; rm -f "$STATE/$2" ;;
  status) [ -e "$STATE/$2" ] && echo "$2 RUNNING" || echo "$2 STOPPED" ;;
esac
exit 0`,
  sleep: "exit 0",
  hostname: "echo runner",
};

let seq = 0;
interface Env {
  readonly running?: readonly string[];
  readonly joined?: readonly number[];
  readonly conf?: string;
  readonly leaving?: boolean;
  readonly quorate?: boolean;
  readonly total?: number;
  readonly need?: number;
  /** Pacemaker's node list (crm_node -l lines) */
  readonly nodes?: readonly string[];
  /** How many removals the cluster undoes */
  readonly undone?: number;
}
function run(cmd: string, e: Env): { rc: number; calls: string[]; out: string; nodes: string[] } {
  const dir = join(work, String(seq++));
  const bin = join(dir, "bin");
  const st = join(dir, "state");
  mkdirSync(bin, { recursive: true });
  mkdirSync(st, { recursive: true });
  for (const [n, body] of Object.entries(STUBS)) {
    writeFileSync(join(bin, n), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, n), 0o755);
  }
  for (const u of e.running ?? []) writeFileSync(join(st, u), "");
  writeFileSync(join(st, "nodes"), (e.nodes ?? []).map((l) => `${l}\n`).join(""));
  writeFileSync(join(st, "undo"), "x\n".repeat(e.undone ?? 0));
  const conf = join(dir, "corosync.conf");
  writeFileSync(conf, e.conf ?? "");
  const r = spawnSync("/bin/sh", ["-c", cmd.split(COROSYNC_CONF).join(conf)], {
    encoding: "utf8",
    env: {
      PATH: `${bin}:/usr/bin:/bin`,
      STATE: st,
      JOINED: (e.joined ?? []).join(" "),
      LEAVING: e.leaving ? "true" : "",
      QUORATE: e.quorate === false ? "" : "1",
      TOTAL: String(e.total ?? 5),
      NEED: String(e.need ?? 3),
    },
    // a node still joined makes the delete wait its full bound (120 stub rounds): slow on a loaded machine
    timeout: 120_000,
  });
  const calls = existsSync(join(st, "calls")) ? readFileSync(join(st, "calls"), "utf8").trim().split("\n").filter(Boolean) : [];
  const nodes = readFileSync(join(st, "nodes"), "utf8").split("\n").filter(Boolean);
  return { rc: r.status ?? -1, calls, out: `${r.stdout}${r.stderr}`, nodes };
}

const nodelist = (names: readonly string[]) =>
  `nodelist {\n${names.map((n, i) => `    node {\n        name: ${n}\n        nodeid: ${i + 1}\n        ring0_addr: 10.0.0.${i + 1}\n    }\n`).join("")}}\n`;

/** A Pacemaker cluster on supervisor hosts `nodes`, rendered with fixed keys. */
function renderWithKeysFor(nodes: readonly string[]) {
  return { services: renderDesiredStateFor(nodes).hosts.flatMap((h) => h.services) };
}
function renderDesiredStateFor(nodes: readonly string[]) {
  const inv = Inventory.parse({
    name: "leave",
    hosts: nodes.map((n, i) => ({ name: n, address: `10.0.0.${11 + i}`, init: "supervisor" })),
    pacemaker: { clusters: [{ name: "pc", nodes: nodes.map((host) => ({ host })), properties: { "stonith-enabled": false } }] },
  });
  const r = planCluster(inv);
  assert.ok(r.plan, JSON.stringify(r.findings.filter((f) => f.severity === "error")));
  const materials = Object.fromEntries(
    requiredMaterials(r.plan).map((m) => [
      m.key,
      Buffer.alloc(m.kind.type === "random-bytes" ? m.kind.bytes : 16, 0x5a).toString("base64"),
    ]),
  );
  return renderDesiredState(r.plan, {}, materials);
}

const hostName = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}(\.[a-z]{1,4})?$/);

describe("a Pacemaker node's removal: stopped first, then removed from the nodelist and the CIB", () => {
  it("the member delete reloads and forgets the node only once it stopped and the nodes that stay no longer list it", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(hostName, { minLength: 3, maxLength: 5 }),
        fc.nat({ max: 4 }),
        fc.record({ stopped: fc.boolean(), unlisted: fc.boolean(), here: fc.boolean(), undone: fc.nat({ max: 2 }) }),
        (names, i, s) => {
          const leaver = names[i % names.length]!;
          const id = (i % names.length) + 1;
          // a name sharing the leaver's prefix stays listed: it must not count as the leaver
          const stay = names.filter((n) => n !== leaver);
          const conf = nodelist(s.unlisted ? [...stay, `${leaver}0`] : names);
          const listed = names.map((n, k) => `${k + 1} ${n} ${n === leaver && s.stopped ? "lost" : "member"}`);
          const r = run(memberRemoveCommand(leaver, id, "pc"), {
            running: s.here ? ["corosync"] : [],
            joined: s.stopped ? [] : [id],
            conf,
            nodes: listed,
            undone: s.undone,
          });
          if (!s.here) {
            // corosync does not run here (this node leaves too, or destroy): not the place, the next node is asked
            assert.deepEqual(r.calls, []);
            assert.equal(r.rc, DELETE_ELSEWHERE_EXIT, r.out);
          } else if (!s.stopped) {
            assert.notEqual(r.rc, 0);
            assert.deepEqual(r.calls, [], "nothing removed while the node runs");
            assert.match(r.out, /still runs corosync: it is stopped before it is removed/);
          } else if (!s.unlisted) {
            assert.equal(r.rc, DELETE_ELSEWHERE_EXIT, r.out);
            assert.deepEqual(r.calls, [], "still listed here: not the node to remove it");
          } else {
            assert.equal(r.rc, 0, r.out);
            // removed again until Pacemaker no longer lists it (seen in the namespaced cluster: a
            // node still listed by crm_node -l after its one removal)
            assert.deepEqual(r.calls, ["corosync-cfgtool -R", ...Array<string>(s.undone + 1).fill(`crm_node --force -R ${leaver}`)]);
            assert.deepEqual(
              r.nodes,
              listed.filter((l) => l.split(" ")[1] !== leaver),
            );
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a leaving node stops only when the cluster keeps quorum without it; destroy (not marked) stops without the check", () => {
    const check = leaveQuorumCheck("n4");
    assert.equal(run(check, { leaving: true, total: 5, need: 3 }).rc, 0);
    assert.equal(run(check, { leaving: true, total: 4, need: 3 }).rc, 0);
    const short = run(check, { leaving: true, total: 3, need: 3 });
    assert.notEqual(short.rc, 0);
    assert.match(short.out, /would have 2 of the 3 votes it needs/);
    assert.notEqual(run(check, { leaving: true, quorate: false }).rc, 0);
    const destroy = run(check, { leaving: false, total: 2, need: 2 });
    assert.equal(destroy.rc, 0);
    assert.ok(!destroy.calls.some((c) => c.startsWith("corosync-quorumtool")), "not asked: not leaving");
  });

  it("the rendered node's deprovisioning: quorum checked, then Pacemaker stops, then corosync; nothing stops when the check fails", () => {
    const services = renderWithKeysFor(["n1", "n2", "n3", "n4"]).services.filter((s) => s.host === "n4");
    assert.deepEqual(
      services.map((s) => s.name),
      ["corosync", "pacemaker"],
    );
    const cmd = deprovisionCommand(services);
    const ok = run(cmd, { running: ["corosync", "pacemaker"], leaving: true, total: 4, need: 3 });
    assert.equal(ok.rc, 0, ok.out);
    assert.deepEqual(
      ok.calls.filter((c) => !c.startsWith("crm_attribute")),
      ["corosync-quorumtool -s", "stop pacemaker", "stop corosync"],
    );
    const refused = run(cmd, { running: ["corosync", "pacemaker"], leaving: true, total: 3, need: 3 });
    assert.notEqual(refused.rc, 0);
    assert.ok(!refused.calls.some((c) => c.startsWith("stop")), refused.calls.join("; "));
  });

  it("a removed node's member delete reaches a node that stays, whichever minority leaves with it (the first node included)", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 3, max: 7 })
          .chain((n) => fc.tuple(fc.constant(n), fc.subarray([...Array(n).keys()], { minLength: 1, maxLength: Math.floor((n - 1) / 2) }))),
        ([n, leaving]) => {
          const nodes = [...Array(n).keys()].map((i) => `pm${i + 1}`);
          const gone = new Set(leaving.map((i) => nodes[i]!));
          const s = renderDesiredStateFor(nodes);
          for (const x of gone) {
            const a = s.actions.find((y) => y.id === `pacemaker:pc:member:${x}`)!;
            const candidates = [a.host, ...(a.deleteElsewhere ?? [])];
            assert.ok(!candidates.includes(x), `${x}'s removal never runs on ${x}`);
            // the delete runs on the first candidate that is the place: the leaving ones answer
            // DELETE_ELSEWHERE_EXIT (stopped by then), so the first that stays runs it
            assert.ok(
              candidates.some((h) => !gone.has(h)),
              `${x}'s removal runs only on nodes that leave too: ${candidates.join(", ")}`,
            );
            assert.equal(new Set(candidates).size, candidates.length);
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});
