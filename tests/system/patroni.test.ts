/**
 * Patroni system test. Patroni's validator probes the network (the DCS hosts must be reachable,
 * the listen ports free), so each member gets its own network namespace with its fixture address
 * and a real etcd cluster booted from the rendered etcd configs. Then:
 *  1. `patroni --validate-config` rc 0 on every rendered config, and the rendered FileSpec.validate
 *     (run the way RemoteFile runs it) rc 0;
 *  2. negative cases fail: the `IP:5432,127.0.0.1:5432` listen form docs/lab.md warns about, a
 *     loopback connect_address, an unreachable store; the validate wrapper tolerates only
 *     "already in use" (our own running member), never a real error;
 *  3. a real cluster: Patroni + PostgreSQL 15 started on the three members from the rendered
 *     configs (only data_dir, pgpass and the socket directory moved to temp dirs) elects one
 *     leader and streams to two replicas; the rendered health command passes on every member;
 *     a replica whose data dir is wiped (a replaced host) is cloned again by Patroni by itself.
 *
 * Run: node --import tsx --test --test-concurrency=1 tests/system/patroni.test.ts   (root: netns)
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderDesiredState } from "../../src/pipeline/render";
import type { DesiredState, FileSpec } from "../../src/core/desired-state";
import { PATRONI_CONFIG, patroniDataDir } from "../../src/services/postgres/patroni";
import { PG_SECRETS, patroniPlan } from "../fixtures/postgres-plan";
import { NetnsHosts, stageEtcd, waitFor, type Started } from "./netns-hosts";

const plan = patroniPlan();
const pg = plan.postgres!;
const qs = plan.quorumStore!;
const addressOf = (h: string) => plan.hosts.find((x) => x.name === h)!.internalAddress;

describe("patroni: rendered configs against the real validator and a real cluster", { timeout: 240_000 }, () => {
  const lab = new NetnsHosts(
    "hfp",
    plan.hosts.map((h) => ({ name: h.name, address: h.internalAddress })),
  );
  const dir = mkdtempSync(join(tmpdir(), "haforge-patroni-"));
  const etcd = new Map<string, Started>();
  let state: DesiredState;
  const configFile = (host: string): FileSpec => state.hosts.find((h) => h.host === host)!.files.find((f) => f.path === PATRONI_CONFIG)!;
  const written = new Map<string, string>();

  /** Write `content` as a candidate file and run `patroni --validate-config` on it in `host`'s netns. */
  const validateRaw = (host: string, content: string, name = "candidate.yml") => {
    const path = join(dir, `${host}-${name}`);
    writeFileSync(path, content, { mode: 0o600 });
    const r = lab.exec(host, ["patroni", "--validate-config", path], { timeoutMs: 60_000 });
    return { rc: r.status, out: `${r.stdout}${r.stderr}`.trim(), path };
  };
  /** The rendered FileSpec.validate, run like RemoteFile runs it: `{file}` → "$1" = the candidate. */
  const validateRendered = (host: string, path: string) => {
    const cmd = configFile(host).validate!.split("{file}").join(`"$1"`);
    const r = lab.exec(host, ["sh", "-c", cmd, "haforge-validate", path], { timeoutMs: 60_000 });
    return { rc: r.status, out: `${r.stdout}${r.stderr}`.trim() };
  };

  before(async () => {
    state = renderDesiredState(plan, PG_SECRETS, {});
    chmodSync(dir, 0o755);
    lab.up();
    for (const [host, path] of stageEtcd(
      state,
      dir,
      qs.members.map((m) => m.host),
    )) {
      etcd.set(
        host,
        lab.start(
          host,
          ["setpriv", "--reuid=etcd", "--regid=etcd", "--init-groups", "etcd", "--config-file", path],
          join(dir, `${host}-etcd.log`),
        ),
      );
    }
    const etcdHealth = state.hosts.find((h) => h.host === "db1")!.services.find((s) => s.name === "etcd")!.health!;
    assert.ok(await waitFor(() => lab.sh("db1", etcdHealth, 20_000).status === 0, 60_000), "etcd healthy");
  });

  after(async () => {
    const problems = await lab.down();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(problems, []);
  });

  test("patroni --validate-config: rc 0 on every rendered config; the rendered validate too", () => {
    for (const host of pg.nodes) {
      const f = configFile(host);
      assert.equal(f.mode, "0600");
      assert.equal(f.owner, "postgres");
      assert.equal(f.secret, true);
      const raw = validateRaw(host, f.content, "config.yml");
      console.log(`patroni --validate-config ${host}: rc ${raw.rc}${raw.out ? ` "${raw.out}"` : " (no output)"}`);
      assert.equal(raw.rc, 0, raw.out);
      written.set(host, raw.path);
      const wrapped = validateRendered(host, raw.path);
      assert.equal(wrapped.rc, 0, wrapped.out);
    }
  });

  test("negative: the `IP:5432,127.0.0.1:5432` listen form is rejected (docs/lab.md trap)", () => {
    const good = configFile("db1").content;
    const bad = good.replace(`listen: "${addressOf("db1")},127.0.0.1:5432"`, `listen: "${addressOf("db1")}:5432,127.0.0.1:5432"`);
    assert.notEqual(bad, good);
    const r = validateRaw("db1", bad, "bad-listen.yml");
    console.log(`patroni --validate-config (IP:5432,127.0.0.1:5432): rc ${r.rc} "${r.out}"`);
    assert.notEqual(r.rc, 0);
    assert.match(r.out, /postgresql\.listen/);
    assert.notEqual(validateRendered("db1", r.path).rc, 0, "the wrapper must not hide real errors");
  });

  test("negative: a loopback connect_address is rejected", () => {
    const good = configFile("db2").content;
    const bad = good.replace(`connect_address: "${addressOf("db2")}:5432"`, `connect_address: "127.0.0.1:5432"`);
    assert.notEqual(bad, good);
    const r = validateRaw("db2", bad, "bad-connect.yml");
    console.log(`patroni --validate-config (connect_address 127.0.0.1): rc ${r.rc} "${r.out}"`);
    assert.notEqual(r.rc, 0);
    assert.match(r.out, /connect_address/);
  });

  test("a live member's own ports: raw validator fails 'already in use', the rendered validate passes", async () => {
    // Something listening on db1's postgres address, as the running member would be.
    const listener = lab.start(
      "db1",
      [
        "python3",
        "-c",
        `import socket,time\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("${addressOf("db1")}", ${pg.port})); s.listen(); time.sleep(120)`,
      ],
      join(dir, "listener.log"),
    );
    try {
      assert.ok(
        await waitFor(() => lab.exec("db1", ["sh", "-c", `ss -ltn | grep -q '${addressOf("db1")}:${pg.port}'`]).status === 0, 10_000),
      );
      const raw = validateRaw("db1", configFile("db1").content, "live.yml");
      console.log(`patroni --validate-config (port in use): rc ${raw.rc} "${raw.out}"`);
      assert.notEqual(raw.rc, 0);
      assert.match(raw.out, /already in use/);
      const wrapped = validateRendered("db1", raw.path);
      assert.equal(wrapped.rc, 0, wrapped.out);
      // ...but a real error on a live member still fails.
      const bad = configFile("db1").content.replace(`connect_address: "${addressOf("db1")}:5432"`, `connect_address: "localhost:5432"`);
      const badRaw = validateRaw("db1", bad, "live-bad.yml");
      assert.notEqual(validateRendered("db1", badRaw.path).rc, 0);
    } finally {
      await lab.stop(listener);
    }
  });

  test("a real cluster from the rendered configs: 1 leader, 2 streaming replicas, health passes", async () => {
    const postgresUid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const postgresGid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    const started: Started[] = [];
    const t0 = Date.now();
    for (const host of pg.nodes) {
      const home = join(dir, `${host}-pg`);
      mkdirSync(home, { mode: 0o700 });
      chownSync(home, postgresUid, postgresGid);
      let content = configFile(host).content;
      const moves: [string, string][] = [
        [`data_dir: "${patroniDataDir(pg)}"`, `data_dir: "${home}/data"`],
        [`pgpass: "/var/lib/postgresql/.pgpass.patroni-${pg.clusterName}"`, `pgpass: "${home}/pgpass"`],
        [`"unix_socket_directories": "/var/run/postgresql"`, `"unix_socket_directories": "${home}"`],
      ];
      for (const [from, to] of moves) {
        assert.equal(content.split(from).length, 2, `exactly one ${from}`);
        content = content.replace(from, to);
      }
      const path = join(home, "config.yml");
      writeFileSync(path, content, { mode: 0o600 });
      chownSync(path, postgresUid, postgresGid);
      started.push(
        lab.start(
          host,
          ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "patroni", path],
          join(dir, `${host}-patroni.log`),
          {
            env: { ...process.env, HOME: home },
          },
        ),
      );
    }
    try {
      const su = PG_SECRETS["secret:pgSuperuserPassword"]!;
      const streaming = (leader: string): number => {
        const r = lab.exec(
          leader,
          [
            "psql",
            "-h",
            addressOf(leader),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            "select count(*) from pg_stat_replication where state = 'streaming'",
          ],
          { env: { ...process.env, PGPASSWORD: su, PGCONNECT_TIMEOUT: "3" }, timeoutMs: 10_000 },
        );
        return r.status === 0 ? Number(r.stdout.trim()) : -1;
      };
      const leaderOf = (): string | undefined => {
        for (const host of pg.nodes) {
          const r = lab.exec(host, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${addressOf(host)}:8008/primary`], {
            timeoutMs: 10_000,
          });
          if (r.stdout.trim() === "200") return host;
        }
        return undefined;
      };
      let leader: string | undefined;
      const ok = await waitFor(
        () => {
          leader = leaderOf();
          return leader !== undefined && streaming(leader) === 2;
        },
        150_000,
        1_000,
      );
      if (!ok) {
        const log = execFileSync("sh", ["-c", `tail -n 40 ${dir}/*-patroni.log`], { encoding: "utf8" });
        assert.fail(`no leader with 2 streaming replicas within 150 s (leader: ${leader})\n${log}`);
      }
      console.log(`patroni: leader ${leader} + 2 streaming replicas ${Date.now() - t0} ms after start`);
      for (const host of pg.nodes) {
        const health = state.hosts.find((h) => h.host === host)!.services.find((s) => s.name === "patroni")!.health!;
        // The health command is a gate the roll polls: a fresh replica answers 503 until Patroni's
        // next loop marks it running.
        const t1 = Date.now();
        const healthy = await waitFor(() => lab.sh(host, health, 15_000).status === 0, 60_000, 1_000);
        assert.ok(healthy, `${host}: rendered health command never passed: ${lab.sh(host, health, 15_000).stderr.split("\n").pop()}`);
        console.log(`patroni ${host}: rendered health passes (${Date.now() - t1} ms after the cluster formed)`);
      }

      // A replaced replica (its data dir gone, the same rendered config): Patroni clones it from
      // the leader by itself (an initialized cluster in the store), nothing of haforge's needed.
      const psql = (host: string, sql: string) =>
        lab.exec(host, ["psql", "-h", addressOf(host), "-U", "postgres", "-d", "postgres", "-tAc", sql], {
          env: { ...process.env, PGPASSWORD: su, PGCONNECT_TIMEOUT: "3" },
          timeoutMs: 10_000,
        });
      const t2 = Date.now();
      const r0 = psql(leader!, "create table haforge_replace(v text); insert into haforge_replace values ('written-before')");
      assert.equal(r0.status, 0, r0.stderr);
      const replica = pg.nodes.find((h) => h !== leader)!;
      const at = pg.nodes.indexOf(replica);
      await lab.stop(started[at]!, 60_000);
      rmSync(join(dir, `${replica}-pg`, "data"), { recursive: true, force: true });
      started[at] = lab.start(
        replica,
        ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "patroni", join(dir, `${replica}-pg`, "config.yml")],
        join(dir, `${replica}-patroni-replaced.log`),
        { env: { ...process.env, HOME: join(dir, `${replica}-pg`) } },
      );
      const back = await waitFor(
        () => streaming(leader!) === 2 && psql(replica, "select v from haforge_replace").stdout.trim() === "written-before",
        120_000,
        1_000,
      );
      if (!back) {
        const log = execFileSync("sh", ["-c", `tail -n 30 ${dir}/${replica}-patroni-replaced.log`], { encoding: "utf8" });
        assert.fail(`${replica} (data dir wiped) did not stream again with the row within 120 s\n${log}`);
      }
      console.log(`patroni: ${replica} replaced (data dir wiped), streaming again with the data ${Date.now() - t2} ms after its stop`);
    } finally {
      for (const s of started.reverse()) await lab.stop(s, 60_000);
    }
  });

  test("negative: with the store down the validator refuses (DCS hosts not reachable)", async () => {
    for (const s of etcd.values()) await lab.stop(s);
    const r = validateRaw("db3", configFile("db3").content, "nostore.yml");
    console.log(`patroni --validate-config (store down): rc ${r.rc} "${r.out}"`);
    assert.notEqual(r.rc, 0);
    assert.match(r.out, /not reachable/);
  });
});
