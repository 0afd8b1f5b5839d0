/**
 * etcd membership actions (issue 11, shrink): each member's action runs on another member; its
 * delete removes the member from the store with `etcdctl member remove` (by the id the store
 * lists for the member's name), tolerates a member already gone, and fails when the store cannot
 * be asked. Judged under sh against a stub etcdctl whose member list shrinks on `member remove`.
 * Before: the quorum store rendered no actions, so a member removed from the inventory stayed in
 * the store (counted in its quorum) after its daemon stopped.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { QuorumStorePlan, StoreMemberPlan } from "../../src/plan/types";
import { etcdMemberActions } from "../../src/services/quorum-store/render";

const ETCDCTL = `#!/bin/sh
echo "etcdctl $*" >> "$LOG"
[ -n "$DOWN" ] && { echo "context deadline exceeded" >&2; exit 1; }
case "$*" in *"$UNREACHABLE"*) [ -n "$UNREACHABLE" ] && { echo "context deadline exceeded" >&2; exit 1; } ;; esac
cmd=""; id=""
for a in "$@"; do case "$a" in list) cmd=list ;; remove) cmd=remove ;; -*) ;; *) [ "$cmd" = remove ] && id=$a ;; esac; done
if [ "$cmd" = list ]; then cat "$LIST"; exit 0; fi
if [ "$cmd" = remove ]; then
  grep -q "^$id, " "$LIST" || { echo "member not found" >&2; exit 1; }
  grep -v "^$id, " "$LIST" > "$LIST.new"; mv "$LIST.new" "$LIST"
  [ -n "$LOST" ] && { echo "etcdserver: server stopped" >&2; exit 1; }
  echo "Member $id removed from cluster"
fi
`;

function storePlan(names: readonly string[]): QuorumStorePlan {
  const members: StoreMemberPlan[] = names.map((n, i) => ({ host: n, name: n, address: `10.0.0.${i + 1}`, storeOnly: false }));
  return {
    kind: "etcd",
    members,
    clientPort: 2379,
    peerPort: 2380,
    enableV2: true,
    token: "t",
    quorum: {
      expectedVotes: names.length,
      quorum: Math.floor(names.length / 2) + 1,
      failuresTolerated: Math.floor((names.length - 1) / 2),
    },
    endpoints: members.map((m) => `http://${m.address}:2379`),
  };
}

const idOf = (i: number) => (0x8e9e05c52164694dn + BigInt(i)).toString(16);

/** Runs `cmd` under sh with the stub; `listed` is the store's member list (started members). */
function runWith(cmd: string, listed: readonly string[], o: { down?: boolean; lost?: boolean; unreachable?: string } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-etcd-member-"));
  try {
    fs.writeFileSync(path.join(dir, "etcdctl"), ETCDCTL, { mode: 0o755 });
    const list = path.join(dir, "list");
    fs.writeFileSync(list, listed.map((n, i) => `${idOf(i)}, started, ${n}, http://x:2380, http://x:2379, false\n`).join(""));
    const log = path.join(dir, "log");
    fs.writeFileSync(log, "");
    const r = spawnSync("/bin/sh", ["-c", cmd], {
      env: {
        PATH: `${dir}:/usr/bin:/bin`,
        LIST: list,
        LOG: log,
        ...(o.down ? { DOWN: "1" } : {}),
        ...(o.lost ? { LOST: "1" } : {}),
        ...(o.unreachable ? { UNREACHABLE: o.unreachable } : {}),
      },
      encoding: "utf8",
      timeout: 20_000,
    });
    const after = fs
      .readFileSync(list, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(", ")[2]!);
    return { code: r.status, after, log: fs.readFileSync(log, "utf8") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("etcd membership actions", () => {
  it("one per member, run on another member; none for a single member", () => {
    const a = etcdMemberActions(storePlan(["e1", "e2", "e3"]));
    assert.deepEqual(
      a.map((x) => [x.id, x.host]),
      [
        ["etcd-member-e1", "e2"],
        ["etcd-member-e2", "e1"],
        ["etcd-member-e3", "e1"],
      ],
    );
    for (const x of a) {
      assert.ok(x.delete, "a delete");
      assert.deepEqual(x.triggers, [], "no triggers on a membership action");
    }
    assert.deepEqual(etcdMemberActions(storePlan(["solo"])), []);
  });

  it("delete removes exactly the named member, by its id (40 runs: each spawns sh)", () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 2, maxLength: 7 }), fc.nat(), (names, k) => {
        // names that share a prefix (lab1 / lab10) are part of the draw
        const members = [...names, `${names[0]}0`].filter((n, i, all) => all.indexOf(n) === i);
        const target = members[k % members.length]!;
        const action = etcdMemberActions(storePlan(members)).find((a) => a.id === `etcd-member-${target}`)!;
        const r = runWith(action.delete!, members);
        assert.equal(r.code, 0, r.log);
        assert.deepEqual(
          r.after,
          members.filter((n) => n !== target),
        );
        assert.match(r.log, new RegExp(`member remove ${idOf(members.indexOf(target))}`));
      }),
      { numRuns: 40 },
    );
  });

  it("delete asks the other members only: the leaving member stops serving on its own removal", () => {
    const action = etcdMemberActions(storePlan(["e1", "e2", "e3"])).find((a) => a.id === "etcd-member-e3")!;
    const r = runWith(action.delete!, ["e1", "e2", "e3"]);
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /member remove/);
    for (const l of r.log.split("\n").filter(Boolean))
      assert.match(l, /--endpoints=http:\/\/10\.0\.0\.1:2379,http:\/\/10\.0\.0\.2:2379 /, l);
  });

  it("delete whose answer is lost while the removal applied ('server stopped') succeeds on the list asked again", () => {
    const action = etcdMemberActions(storePlan(["e1", "e2", "e3"])).find((a) => a.id === "etcd-member-e3")!;
    const r = runWith(action.delete!, ["e1", "e2", "e3"], { lost: true });
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(r.after, ["e1", "e2"]);
    assert.equal(r.log.match(/member remove/g)?.length, 1, r.log);
  });

  it("delete of the last member when the others no longer answer (destroy): asks it, removes nothing", () => {
    const action = etcdMemberActions(storePlan(["e1", "e2", "e3"])).find((a) => a.id === "etcd-member-e1")!;
    const r = runWith(action.delete!, ["e1"], { unreachable: "--endpoints=http://10.0.0.2:2379,http://10.0.0.3:2379 " });
    assert.equal(r.code, 0, r.log);
    assert.doesNotMatch(r.log, /remove/);
  });

  it("delete of a member already removed succeeds without a remove (a retried removal converges)", () => {
    const action = etcdMemberActions(storePlan(["e1", "e2", "e3"])).find((a) => a.id === "etcd-member-e3")!;
    const r = runWith(action.delete!, ["e1", "e2"]);
    assert.equal(r.code, 0);
    assert.deepEqual(r.after, ["e1", "e2"]);
    assert.doesNotMatch(r.log, /remove/);
  });

  it("delete of the last member left (destroy) succeeds without a remove (etcd refuses it)", () => {
    const action = etcdMemberActions(storePlan(["e1", "e2", "e3"])).find((a) => a.id === "etcd-member-e1")!;
    const r = runWith(action.delete!, ["e1"]);
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.log, /remove/);
  });

  it("delete fails when the store cannot be asked (nothing assumed removed)", () => {
    const action = etcdMemberActions(storePlan(["e1", "e2", "e3"])).find((a) => a.id === "etcd-member-e3")!;
    const r = runWith(action.delete!, ["e1", "e2", "e3"], { down: true });
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.log, /remove/);
  });

  it("create passes once the member is listed as started", () => {
    const action = etcdMemberActions(storePlan(["e1", "e2"])).find((a) => a.id === "etcd-member-e2")!;
    const r = runWith(action.create, ["e1", "e2"]);
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /--endpoints=http:\/\/127\.0\.0\.1:2379/);
  });
});
