/**
 * templates/quorum-store/etcd-start.sh, the etcd member's start (issue 11: members are added
 * before they start, then start with `initial-cluster-state: existing`): shellcheck-clean,
 * shipped byte for byte, and its decisions under sh against a stub etcdctl (a member list that
 * grows on `member add`) and a stub etcd that prints the config it was given. Before this script
 * a new member started with `initial-cluster-state: new` and the whole inventory's list, which a
 * running cluster refuses (its data dir would bootstrap a second cluster).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import yaml from "js-yaml";
import type { QuorumStorePlan } from "../../src/plan/types";
import { renderTemplate, staticFile } from "../../src/render/templates";
import { ETCD_CONFIG, ETCD_COMMAND, ETCD_SEED, ETCD_START, renderPart } from "../../src/services/quorum-store/render";
import { etcdPlan } from "../fixtures/quorum-store-plan";

const SCRIPT = path.join(__dirname, "..", "..", "templates", "quorum-store", "etcd-start.sh");

const ETCDCTL = `#!/bin/sh
echo "etcdctl $*" >> "$LOG"
ep=""; cmd=""
for a in "$@"; do case "$a" in --endpoints=*) ep=\${a#--endpoints=} ;; list|add|remove) cmd=$a ;; *) [ "$cmd" = remove ] && id=$a ;; esac; done
case ",$ANSWER," in *",$ep,"*) ;; *) echo "context deadline exceeded" >&2; exit 1 ;; esac
if [ "$cmd" = list ]; then cat "$LIST"; exit 0; fi
if [ "$cmd" = remove ]; then
  [ -z "$REFUSE_REMOVE" ] || { echo "etcdserver: re-configuration failed due to not enough started members" >&2; exit 1; }
  grep -q "^$id, " "$LIST" || { echo "member not found" >&2; exit 1; }
  grep -v "^$id, " "$LIST" > "$LIST.new"; mv "$LIST.new" "$LIST"; echo "Member $id removed"; exit 0
fi
if [ "$cmd" = add ]; then
  if [ -n "$REFUSE_ADD_ONCE" ] && [ ! -e "$LIST.refused" ]; then : > "$LIST.refused"; echo "etcdserver: unhealthy cluster" >&2; exit 1; fi
  for a in "$@"; do case "$a" in --peer-urls=*) url=\${a#--peer-urls=} ;; esac; done
  echo "ffff000000000001, unstarted, , $url, , false" >> "$LIST"
  echo "Member ffff000000000001 added to cluster"
fi
`;
const ETCD = `#!/bin/sh
echo "ETCD $*"
[ "$1" = --config-file ] && cat "$2"
`;

interface Member {
  name: string;
  address: string;
}
const peer = (m: Member) => `http://${m.address}:2380`;
const client = (m: Member) => `http://${m.address}:2379`;

/**
 * Runs the script for member `me` of `inventory`. The cluster's member list as etcdctl prints it:
 * `running` (started, by name, with the client URLs a member publishes when it runs),
 * `formedWith` (initial members that never ran: named by initial-cluster, no client URLs),
 * `unstarted` (added with member add, not started: no name).
 */
function start(o: {
  inventory: Member[];
  me: Member;
  running?: Member[];
  formedWith?: Member[];
  unstarted?: Member[];
  answer?: Member[];
  hasData?: boolean;
  refuseRemove?: boolean;
  refuseAddOnce?: boolean;
}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-etcd-start-"));
  try {
    fs.writeFileSync(path.join(dir, "etcdctl"), ETCDCTL, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "etcd"), ETCD, { mode: 0o755 });
    const data = path.join(dir, "data");
    if (o.hasData) fs.mkdirSync(path.join(data, "member"), { recursive: true });
    const config = path.join(dir, "etcd.yml");
    fs.writeFileSync(
      config,
      [
        `name: ${JSON.stringify(o.me.name)}`,
        `data-dir: ${JSON.stringify(data)}`,
        `initial-advertise-peer-urls: ${JSON.stringify(peer(o.me))}`,
        `initial-cluster-token: "t"`,
        "",
      ].join("\n"),
    );
    const seed = path.join(dir, "seed.yml");
    fs.writeFileSync(
      seed,
      renderTemplate("quorum-store", "etcd-seed.yml.hbs", {
        name: o.me.name,
        token: "t",
        initialCluster: o.inventory.map((m) => `${m.name}=${peer(m)}`).join(","),
        initialClusterState: "new",
        endpoints: o.inventory
          .filter((m) => m !== o.me)
          .map(client)
          .join(","),
      }).toString(),
    );
    const list = path.join(dir, "list");
    fs.writeFileSync(
      list,
      [
        ...(o.running ?? []).map(
          (m, i) => `${(i + 1).toString(16).padStart(16, "a")}, started, ${m.name}, ${peer(m)}, ${client(m)}, false`,
        ),
        ...(o.formedWith ?? []).map((m, i) => `${(i + 1).toString(16).padStart(16, "c")}, started, ${m.name}, ${peer(m)}, , false`),
        ...(o.unstarted ?? []).map((m, i) => `${(i + 1).toString(16).padStart(16, "b")}, unstarted, , ${peer(m)}, , false`),
      ].join("\n") + ((o.running ?? []).length + (o.formedWith ?? []).length + (o.unstarted ?? []).length ? "\n" : ""),
    );
    const log = path.join(dir, "log");
    fs.writeFileSync(log, "");
    const r = spawnSync("sh", [SCRIPT, config, seed], {
      env: {
        PATH: `${dir}:/usr/bin:/bin`,
        HAFORGE_ETCD: path.join(dir, "etcd"),
        LOG: log,
        LIST: list,
        ANSWER: (o.answer ?? o.running ?? []).map(client).join(","),
        REFUSE_REMOVE: o.refuseRemove ? "1" : "",
        REFUSE_ADD_ONCE: o.refuseAddOnce ? "1" : "",
      },
      encoding: "utf8",
      timeout: 20_000,
    });
    const calls = fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
    const [first, ...rest] = r.stdout.split("\n");
    const effective = rest.length ? (yaml.load(rest.join("\n")) as Record<string, unknown>) : {};
    return { code: r.status, stderr: r.stderr, exec: first ?? "", effective, calls, config, data };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const M = (i: number): Member => ({ name: `m${i}`, address: `10.9.0.${10 + i}` });

describe("etcd-start.sh", () => {
  it("is shellcheck-clean and shipped byte for byte; the member's command runs it with the config and the seed", () => {
    const sc = spawnSync("shellcheck", ["-s", "sh", SCRIPT], { encoding: "utf8" });
    assert.equal(sc.status, 0, sc.stdout + sc.stderr);
    const r = renderPart.render!({ plan: etcdPlan(), secrets: {}, materials: {}, template: renderTemplate });
    const f = r.files.find((x) => x.path === ETCD_START)!;
    assert.equal(f.content, fs.readFileSync(SCRIPT, "utf8"));
    assert.equal(f.content, staticFile("quorum-store", "etcd-start.sh"));
    assert.equal(f.mode, "0755");
    assert.equal(ETCD_COMMAND, `/bin/sh ${ETCD_START} ${ETCD_CONFIG} ${ETCD_SEED}`);
    execFileSync("sh", ["-n", SCRIPT]);
  });

  it("usage: anything but two arguments is rc 2 before etcd runs", () => {
    const r = spawnSync("sh", [SCRIPT, "only-one"], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage/);
  });

  it("a member with data starts from its config alone (membership lives in the data dir)", () => {
    const inv = [M(1), M(2), M(3)];
    const r = start({ inventory: inv, me: inv[0]!, running: [M(2), M(3)], hasData: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.exec, `ETCD --config-file ${r.config}`);
    assert.deepEqual(r.calls, [], "no etcdctl call");
  });

  it("property: forming (nobody answers, or the cluster lists it by name) = config + seed, state new; joining = member add first, then existing with the cluster's list", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }), // members already running
        fc.integer({ min: 1, max: 3 }), // members the inventory adds
        fc.constantFrom("join" as const, "retry" as const, "form" as const, "bootstrap" as const),
        (nRunning, nNew, mode) => {
          const running = Array.from({ length: nRunning }, (_, i) => M(i + 1));
          const added = Array.from({ length: nNew }, (_, i) => M(nRunning + i + 1));
          const inventory = [...running, ...added];
          const me = added[0]!;
          const r =
            mode === "form"
              ? start({ inventory, me, running: [], answer: [] })
              : mode === "retry"
                ? start({ inventory, me, running, unstarted: [me] })
                : mode === "bootstrap"
                  ? start({ inventory, me, running, formedWith: added })
                  : start({ inventory, me, running });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.exec, /^ETCD --config-file .*\.first-start\.yml$/);
          const adds = r.calls.filter((c) => / member add /.test(c));
          assert.deepEqual(
            r.calls.filter((c) => / member remove /.test(c)),
            [],
            "no member removed",
          );
          if (mode === "form" || mode === "bootstrap") {
            assert.deepEqual(adds, []);
            assert.equal(r.effective["initial-cluster-state"], "new");
            assert.equal(r.effective["initial-cluster"], inventory.map((m) => `${m.name}=${peer(m)}`).join(","));
          } else {
            // added exactly once, before the start, under its own name and peer URL
            assert.deepEqual(
              adds.map((c) => c.replace(/^.* member add /, "")),
              mode === "join" ? [`${me.name} --peer-urls=${peer(me)}`] : [],
            );
            assert.equal(r.effective["initial-cluster-state"], "existing");
            // the cluster as it is now (the running members and this one), not the inventory's list
            assert.equal(r.effective["initial-cluster"], [...running, me].map((m) => `${m.name}=${peer(m)}`).join(","));
          }
          assert.equal(r.effective["name"], me.name, "the member's own config comes first");
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });

  it("property: a replaced member (listed by name with client URLs: it ran; its data dir is empty) is removed by its old ID, added again, and starts existing", () => {
    // Before: the script took it for one of the members the cluster was formed with (listed by
    // name) and started it with state new under its old member ID and an empty log, which the
    // real etcd refuses: "member ... has already been bootstrapped" (tests/system/etcd.test.ts).
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 7 }), fc.nat(), fc.nat(), (n, meAt, deadAt) => {
        const inventory = Array.from({ length: n }, (_, i) => M(i + 1));
        const me = inventory[meAt % n]!;
        const others = inventory.filter((m) => m !== me);
        // the members that answer: all but the replaced one, perhaps one more down
        const answer = others.filter((_, i) => i !== deadAt % (others.length + 1));
        const r = start({ inventory, me, running: inventory, answer });
        assert.equal(r.code, 0, r.stderr);
        const id = `${(inventory.indexOf(me) + 1).toString(16).padStart(16, "a")}`;
        const changes = r.calls.filter((c) => / member (add|remove) /.test(c)).map((c) => c.replace(/^.* member /, ""));
        assert.deepEqual(changes, [`remove ${id}`, `add ${me.name} --peer-urls=${peer(me)}`], r.calls.join("\n"));
        assert.match(r.stderr, /ran before/);
        assert.equal(r.effective["initial-cluster-state"], "existing");
        assert.equal(r.effective["initial-cluster"], [...others, me].map((m) => `${m.name}=${peer(m)}`).join(","));
        assert.equal(r.effective["name"], me.name);
      }),
      { numRuns: 12, seed: 11 },
    );
  });

  it("a replaced member whose removal the cluster refuses (quorum lost) does not start and is not added", () => {
    const inv = [M(1), M(2), M(3)];
    const r = start({ inventory: inv, me: M(3), running: inv, answer: [M(1)], refuseRemove: true });
    assert.notEqual(r.code, 0);
    assert.equal(r.exec, "", "etcd did not run");
    assert.deepEqual(
      r.calls.filter((c) => / member add /.test(c)),
      [],
    );
  });

  it("a replaced member whose add the cluster refuses right after the removal (unhealthy cluster) is added on the next try", () => {
    // seen on the real etcd 3.4 (tests/system/etcd.test.ts): member add right after member remove
    const inv = [M(1), M(2), M(3)];
    const r = start({ inventory: inv, me: M(2), running: inv, answer: [M(1), M(3)], refuseAddOnce: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.calls.filter((c) => / member add /.test(c)).length, 2);
    assert.equal(r.effective["initial-cluster-state"], "existing");
    assert.equal(r.effective["initial-cluster"], [M(1), M(3), M(2)].map((m) => `${m.name}=${peer(m)}`).join(","));
  });

  it("asks the next member when the first does not answer", () => {
    const inv = [M(1), M(2), M(3), M(4)];
    const r = start({ inventory: inv, me: M(4), running: [M(1), M(2), M(3)], answer: [M(3)] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.effective["initial-cluster-state"], "existing");
    assert.ok(
      r.calls.some((c) => c.includes(`--endpoints=${client(M(3))} member add m4`)),
      r.calls.join("\n"),
    );
  });
});

describe("etcd render: the seed is read at a new member's first start only", () => {
  it("etcd.yml has no initial-cluster; the seed has the inventory's list, state new and the others' client URLs; it restarts nothing", () => {
    const plan = etcdPlan();
    const qs = plan.quorumStore as QuorumStorePlan;
    const r = renderPart.render!({ plan, secrets: {}, materials: {}, template: renderTemplate });
    for (const m of qs.members) {
      const conf = yaml.load(r.files.find((f) => f.host === m.host && f.path === ETCD_CONFIG)!.content) as Record<string, unknown>;
      assert.equal(conf["initial-cluster"], undefined);
      assert.equal(conf["initial-cluster-state"], undefined);
      const seedFile = r.files.find((f) => f.host === m.host && f.path === ETCD_SEED)!;
      assert.deepEqual(seedFile.notify, []);
      assert.deepEqual(seedFile.neededAtStart, ["etcd"]);
      const seed = yaml.load(seedFile.content) as Record<string, unknown>;
      assert.equal(seed["initial-cluster-state"], "new");
      assert.equal(seed["initial-cluster"], qs.members.map((p) => `${p.name}=http://${p.address}:${qs.peerPort}`).join(","));
      assert.match(
        seedFile.content,
        new RegExp(
          `^# endpoints: ${qs.members
            .filter((p) => p !== m)
            .map((p) => `http://${p.address}:${qs.clientPort}`)
            .join(",")}$`,
          "m",
        ),
      );
    }
  });
});
