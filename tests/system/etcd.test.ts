/**
 * etcd system test: boot a real 3-member etcd 3.4 cluster from the rendered configs — one network
 * namespace per member holding the member's fixture address, so the rendered URLs are used as-is
 * (only data-dir moves to a temp dir) — then run the RENDERED health command verbatim inside each
 * member's namespace, check membership and the v2 API Patroni needs, and show what the roll's health
 * gate lets through: all 3 members healthy; with 2 of 3 the local member still serves quorum reads
 * but the gate (every member healthy) holds the next restart back; with 1 of 3 nothing passes.
 * The members run with the inventory's heartbeat interval and election timeout (etcd took them).
 * A replaced member (db3's data dir wiped, same name and peer URL) rejoins through the rendered
 * etcd-start.sh: the cluster still lists it with its client URLs, so it is removed by its old
 * member ID and added again (started under its old ID with an empty log, etcd refuses it).
 *
 * Run: node --import tsx --test --test-concurrency=1 tests/system/etcd.test.ts   (root: netns)
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { renderDesiredState } from "../../src/pipeline/render";
import type { DesiredState } from "../../src/core/desired-state";
import { ETCD_CONFIG, ETCD_DATA_DIR, ETCD_SEED, ETCD_START } from "../../src/services/quorum-store/render";
import { etcdPlan } from "../fixtures/quorum-store-plan";
import { NetnsHosts, stageEtcd, waitFor, type Started } from "./netns-hosts";

// Non-default timings: etcd refuses a start when they are inconsistent, and logs what it took.
const base = etcdPlan();
const plan = { ...base, quorumStore: { ...base.quorumStore!, heartbeatIntervalMs: 150, electionTimeoutMs: 1500 } };
const qs = plan.quorumStore;

describe("etcd: rendered configs boot a real 3-member cluster", { timeout: 180_000 }, () => {
  const lab = new NetnsHosts(
    "hfq",
    qs.members.map((m) => ({ name: m.host, address: m.address })),
  );
  const dir = mkdtempSync(join(tmpdir(), "haforge-etcd-"));
  const procs = new Map<string, Started>();
  let state: DesiredState;
  let startedAt = 0;

  before(() => {
    state = renderDesiredState(plan, {}, {});
    chmodSync(dir, 0o755);
    lab.up();
    const configs = stageEtcd(
      state,
      dir,
      qs.members.map((m) => m.host),
    );
    startedAt = Date.now();
    for (const [host, path] of configs) {
      // Exactly the daemon's command line from the unit, as the `etcd` user via setpriv.
      procs.set(
        host,
        lab.start(
          host,
          ["setpriv", "--reuid=etcd", "--regid=etcd", "--init-groups", "etcd", "--config-file", path],
          join(dir, `${host}.log`),
        ),
      );
    }
  });

  after(async () => {
    const problems = await lab.down();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(problems, []);
  });

  const serviceOf = (host: string) => state.hosts.find((h) => h.host === host)!.services.find((s) => s.name === "etcd")!;
  const healthy = (host: string) => lab.sh(host, serviceOf(host).health!, 20_000).status === 0;

  test("the rendered health command passes on every member", async () => {
    const ok = await waitFor(() => qs.members.every((m) => healthy(m.host)), 60_000, 500);
    const elapsed = Date.now() - startedAt;
    if (!ok) {
      const log = execFileSync("sh", ["-c", `tail -n 30 ${dir}/*.log`], { encoding: "utf8" });
      assert.fail(`etcd not healthy within 60 s\n${log}`);
    }
    for (const m of qs.members) {
      const r = lab.sh(m.host, serviceOf(m.host).health!);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout + r.stderr, /is healthy/);
    }
    console.log(`etcd: 3 members healthy ${elapsed} ms after start`);
  });

  test("membership is exactly the plan's members with the rendered peer URLs", () => {
    const r = lab.exec("db1", ["etcdctl", `--endpoints=${qs.endpoints[0]}`, "member", "list", "-w", "json"], {
      env: { ...process.env, ETCDCTL_API: "3" },
    });
    assert.equal(r.status, 0, r.stderr);
    const members = (JSON.parse(r.stdout) as { members: { name: string; peerURLs: string[]; clientURLs: string[] }[] }).members;
    const got = members.map((m) => ({ name: m.name, peer: m.peerURLs, client: m.clientURLs })).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(
      got,
      qs.members.map((m) => ({
        name: m.name,
        peer: [`http://${m.address}:${qs.peerPort}`],
        client: [`http://${m.address}:${qs.clientPort}`],
      })),
    );
  });

  test("the v2 API Patroni's etcd: backend needs is enabled (a v2 write from another host)", () => {
    const r = lab.exec("db2", [
      "curl",
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-X",
      "PUT",
      `${qs.endpoints[0]}/v2/keys/haforge-probe`,
      "-d",
      "value=1",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^20[01]$/, `v2 PUT answered ${r.stdout}`);
  });

  test("every member took the rendered heartbeat interval and election timeout", () => {
    for (const m of qs.members) {
      const log = execFileSync("sh", ["-c", `cat ${dir}/${m.host}.log`], { encoding: "utf8" });
      assert.match(log, /heartbeat = 150ms/, `${m.host}: heartbeat`);
      assert.match(log, /election = 1500ms/, `${m.host}: election timeout`);
    }
  });

  test("a replaced member (db3's data dir wiped, same name) rejoins through etcd-start.sh: removed by its old ID, added, started existing, holds the data", async () => {
    const t0 = Date.now();
    const ctl = (host: string, endpoint: string, ...args: string[]) =>
      lab.exec(host, ["etcdctl", `--endpoints=${endpoint}`, "--dial-timeout=3s", "--command-timeout=10s", ...args], {
        env: { ...process.env, ETCDCTL_API: "3" },
      });
    const db = (h: string) => `http://${qs.members.find((m) => m.host === h)!.address}:${qs.clientPort}`;
    assert.equal(ctl("db1", db("db1"), "put", "haforge-replace", "written-before").status, 0);
    const idOf = () => /^([0-9a-f]+), started, db3, /m.exec(ctl("db1", db("db1"), "member", "list").stdout)?.[1];
    const oldId = idOf();
    assert.ok(oldId, "db3 listed");
    const owned = join(dir, "db3-etcd");
    const wipe = () => rmSync(join(owned, "data"), { recursive: true, force: true });
    await lab.stop(procs.get("db3")!);
    wipe();
    // What the script did before: the member under its old ID, an empty log, state new (the
    // cluster's config + seed). etcd 3.4 refuses it: "member <id> has already been bootstrapped".
    const panicked = lab.start(
      "db3",
      ["setpriv", "--reuid=etcd", "--regid=etcd", "--init-groups", "etcd", "--config-file", join(dir, "db3-etcd.yml")],
      join(dir, "db3-old-id.log"),
    );
    const exited = await waitFor(() => panicked.exited, 30_000, 250);
    const served =
      !exited &&
      ctl("db3", db("db3"), "get", "haforge-replace", "--consistency=s", "--print-value-only").stdout.trim() === "written-before";
    const oldIdLog = readFileSync(join(dir, "db3-old-id.log"), "utf8");
    const said = /member \S+ has already been bootstrapped/.exec(oldIdLog)?.[0] ?? oldIdLog.trim().split("\n").slice(-3).join(" | ");
    console.log(`etcd: db3 started under its old ID with an empty data dir: ${exited ? "exited" : "still running"}; ${said}`);
    assert.ok(exited || !served, "the old ID with an empty log must not come back as a member holding the data");
    await lab.stop(panicked);
    wipe();
    // Now through the start script, as the supervisor runs it: CONFIG and SEED as rendered (data-dir moved).
    const files = state.hosts.find((h) => h.host === "db3")!.files;
    const config = files
      .find((f) => f.path === ETCD_CONFIG)!
      .content.replace(`data-dir: ${JSON.stringify(ETCD_DATA_DIR)}`, `data-dir: ${JSON.stringify(join(owned, "data"))}`);
    writeFileSync(join(dir, "db3-config.yml"), config, { mode: 0o644 });
    writeFileSync(join(dir, "db3-seed.yml"), files.find((f) => f.path === ETCD_SEED)!.content, { mode: 0o644 });
    writeFileSync(join(dir, "etcd-start.sh"), files.find((f) => f.path === ETCD_START)!.content, { mode: 0o755 });
    const replaced = lab.start(
      "db3",
      [
        "setpriv",
        "--reuid=etcd",
        "--regid=etcd",
        "--init-groups",
        "sh",
        join(dir, "etcd-start.sh"),
        join(dir, "db3-config.yml"),
        join(dir, "db3-seed.yml"),
      ],
      join(dir, "db3-replaced.log"),
    );
    procs.set("db3", replaced);
    const ok = await waitFor(() => healthy("db3"), 60_000, 500);
    const log = readFileSync(join(dir, "db3-replaced.log"), "utf8");
    assert.ok(ok, `db3 not healthy within 60 s after its replacement\n${log.split("\n").slice(-20).join("\n")}`);
    assert.match(log, /db3 ran before .* removing member /);
    const newId = idOf();
    assert.ok(newId && newId !== oldId, `db3 under a new member ID (old ${oldId}, now ${newId})`);
    assert.equal(ctl("db1", db("db1"), "member", "list").stdout.trim().split("\n").length, 3, "three members, the old ID gone");
    // a local (serializable) read on db3 alone: the data reached the replaced member
    assert.equal(ctl("db3", db("db3"), "get", "haforge-replace", "--consistency=s", "--print-value-only").stdout.trim(), "written-before");
    console.log(`etcd: db3 replaced (member ${oldId} -> ${newId}) and healthy in ${Date.now() - t0} ms`);
  });

  test("the health gate: 3 of 3 pass; with 2 of 3 the quorum read passes but the gate holds the next restart; 1 of 3 fails", async () => {
    await lab.stop(procs.get("db3")!);
    const local = serviceOf("db1").health!.replace(/ && ETCDCTL_API=3 .* endpoint health --cluster; fi$/, "; fi");
    assert.notEqual(local, serviceOf("db1").health!);
    assert.ok(await waitFor(() => lab.sh("db1", local, 20_000).status === 0, 20_000), "db1's quorum read with db2 + db1 (2 of 3)");
    const two = lab.sh("db1", serviceOf("db1").health!, 30_000);
    console.log(`etcd health gate with 2 of 3 members: rc ${two.status} "${(two.stdout + two.stderr).trim().split("\n").slice(-1)[0]}"`);
    assert.notEqual(two.status, 0, "a member down: the gate must not let the next member restart");
    assert.match(two.stdout + two.stderr, /unhealthy|deadline|timed out|failed/i);
    await lab.stop(procs.get("db2")!);
    const r = lab.sh("db1", serviceOf("db1").health!, 30_000);
    console.log(`etcd health with 1 of 3 members: rc ${r.status} "${(r.stdout + r.stderr).trim().split("\n")[0]}"`);
    assert.notEqual(r.status, 0, "db1 alone must not pass the health gate");
    assert.match(r.stdout + r.stderr, /unhealthy|deadline|timed out|failed/i);
  });
});
