/**
 * Postgres HA render (Patroni, stolon): structure. Patroni's real verdict (validator + a live
 * 3-member cluster) is tests/system/patroni.test.ts. stolon is not packaged by Debian and cannot
 * run here: its flags are checked against the documented sets, its cluster spec against the
 * documented keys, and the once-only init guard is exercised with a stand-in stolonctl.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import fc from "fast-check";
import { renderTemplate } from "../../src/render/templates";
import { checkDesiredState, renderDesiredState } from "../../src/pipeline/render";
import { loadInventoryFile } from "../../src/inventory/load";
import { planCluster } from "../../src/pipeline/plan";
import { renderPart } from "../../src/services/postgres/render";
import {
  PATRONI_CONFIG,
  PATRONI_DYNAMIC_CONFIG,
  PATRONI_PENDING_RESTARTS,
  dcsTimings,
  patroniPasswordIssue,
  stripScheme,
} from "../../src/services/postgres/patroni";
import { STOLON_FLAGS, STOLON_SPEC_FILE, STOLON_SPEC_KEYS, keeperUids, unknownStolonSpecKeys } from "../../src/services/postgres/stolon";
import type { ClusterPlan, PlannedHost } from "../../src/plan/types";
import type { SecretValues } from "../../src/core/secrets";
import { PG_SECRETS, patroniPlan, stolonPlan } from "../fixtures/postgres-plan";
import { etcdSlice } from "../fixtures/quorum-store-plan";

const render = (plan: ClusterPlan, secrets: SecretValues = PG_SECRETS) =>
  renderPart.render!({ plan, secrets, materials: {}, template: renderTemplate });
const SU = PG_SECRETS["secret:pgSuperuserPassword"]!;
const REPL = PG_SECRETS["secret:pgReplicationPassword"]!;

interface PatroniDoc {
  scope: string;
  name: string;
  restapi: { listen: string; connect_address: string };
  etcd?: { protocol: string; hosts: string[] };
  etcd3?: { hosts: string[] };
  bootstrap: {
    dcs: {
      ttl: number;
      loop_wait: number;
      retry_timeout: number;
      maximum_lag_on_failover: number;
      synchronous_mode: boolean;
      synchronous_mode_strict: boolean;
      postgresql: { use_pg_rewind: boolean; parameters: Record<string, unknown> };
    };
    initdb: unknown[];
    pg_hba: string[];
  };
  postgresql: {
    listen: string;
    connect_address: string;
    data_dir: string;
    bin_dir: string;
    authentication: Record<"superuser" | "replication" | "rewind", { username: string; password: string }>;
    parameters: Record<string, unknown>;
    pg_hba: string[];
  };
}

describe("Patroni render", () => {
  const plan = patroniPlan();
  const r = render(plan);
  const doc = (host: string) => yaml.load(r.files.find((f) => f.host === host && f.path === PATRONI_CONFIG)!.content) as PatroniDoc;

  test("per node: config.yml (secret, 0600 postgres, validated by patroni); Debian's patroni.service stays (drop-in: after the store)", () => {
    assert.deepEqual(
      r.files.map((f) => [f.host, f.path]),
      [
        ["db1", PATRONI_CONFIG],
        ["db1", PATRONI_DYNAMIC_CONFIG],
        ["db1", PATRONI_PENDING_RESTARTS],
        ["db1", "/etc/systemd/system/patroni.service.d/50-haforge.conf"],
        ["db2", PATRONI_CONFIG],
        ["db2", PATRONI_DYNAMIC_CONFIG],
        ["db2", PATRONI_PENDING_RESTARTS],
        ["db2", "/etc/systemd/system/patroni.service.d/50-haforge.conf"],
        ["db3", PATRONI_CONFIG],
        ["db3", PATRONI_DYNAMIC_CONFIG],
        ["db3", PATRONI_PENDING_RESTARTS],
        ["db3", "/etc/supervisor/conf.d/patroni.conf"],
      ],
    );
    assert.equal(r.files[3]!.content, "# Managed by haforge\n[Unit]\nAfter=etcd.service\nWants=etcd.service\n");
    assert.equal(r.services[0]!.reload, "systemctl reload patroni");
    const f = r.files[0]!;
    assert.deepEqual([f.mode, f.owner, f.group, f.secret], ["0600", "postgres", "postgres", true]);
    assert.match(f.validate!, /patroni --validate-config \{file\}/);
    assert.deepEqual(
      r.actions.map((a) => [a.id, a.host, a.phase, a.triggers]),
      [
        ["patroni-dynamic-config", "db1", "converge", [PATRONI_DYNAMIC_CONFIG]],
        ["patroni-pending-restarts", "db1", "converge", [PATRONI_CONFIG, PATRONI_DYNAMIC_CONFIG]],
      ],
    );
    const dyn = r.files[1]!;
    assert.deepEqual(
      [dyn.mode, dyn.owner, dyn.secret, dyn.notify],
      ["0644", "root", false, []],
      "no secret in it; a change restarts nothing",
    );
    assert.deepEqual(renderPart.materials, undefined);
  });

  test("synchronous mode and the dynamic configuration: dynamic.yml is bootstrap.dcs, whatever the plan (property)", () => {
    const param = fc.constantFrom("max_connections", "work_mem", "shared_buffers", "wal_keep_size", "synchronous_commit");
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 86400 }),
        fc.boolean(),
        fc.boolean(),
        fc.dictionary(param, fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom("16MB", "on", "remote_apply"))),
        (ttl, synchronousMode, synchronousModeStrict, pgParameters) => {
          const out = render(patroniPlan({ ttl, synchronousMode, synchronousModeStrict, spec: { pgParameters } }));
          for (const host of ["db1", "db2", "db3"]) {
            const cfg = yaml.load(out.files.find((f) => f.host === host && f.path === PATRONI_CONFIG)!.content) as PatroniDoc;
            const dyn = yaml.load(out.files.find((f) => f.host === host && f.path === PATRONI_DYNAMIC_CONFIG)!.content);
            assert.deepEqual(dyn, cfg.bootstrap.dcs);
            assert.equal(cfg.bootstrap.dcs.synchronous_mode, synchronousMode);
            assert.equal(cfg.bootstrap.dcs.synchronous_mode_strict, synchronousModeStrict);
            for (const [k, v] of Object.entries(pgParameters)) assert.equal(cfg.bootstrap.dcs.postgresql.parameters[k], v);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("dynamic.yml's validate (Patroni's own table of dynamic settings) accepts the render, refuses a wrong type or an unknown key", () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-pdyn-"));
    try {
      const dyn = render(patroniPlan({ synchronousMode: true })).files.find((f) => f.path === PATRONI_DYNAMIC_CONFIG)!;
      const check = (content: string) => {
        writeFileSync(join(dir, "dynamic.yml"), content);
        const cmd = dyn.validate!.split("{file}").join(`"$1"`);
        return spawnSync("sh", ["-c", cmd, "haforge-validate", join(dir, "dynamic.yml")], { encoding: "utf8" });
      };
      assert.equal(check(dyn.content).status, 0, check(dyn.content).stderr);
      const wrongType = check(dyn.content.replace("synchronous_mode: true", 'synchronous_mode: "yes"'));
      assert.notEqual(wrongType.status, 0);
      assert.match(wrongType.stderr, /synchronous_mode/);
      const unknown = check(`${dyn.content}synchronous_mod: true\n`);
      assert.notEqual(unknown.status, 0);
      assert.match(unknown.stderr, /synchronous_mod\b/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("pending-restarts: replicas one at a time, then a switchover to a restarted replica (the sync standby first); never the leader in place while a replica is healthy (stand-in patronictl, property)", () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-prp-"));
    try {
      const action = r.actions.find((a) => a.id === "patroni-pending-restarts")!;
      assert.deepEqual(
        [action.host, action.phase, action.dependsOn, action.triggers],
        ["db1", "converge", ["patroni-dynamic-config"], [PATRONI_CONFIG, PATRONI_DYNAMIC_CONFIG]],
      );
      assert.equal(
        action.create,
        `/usr/bin/python3 ${PATRONI_PENDING_RESTARTS} ${PATRONI_CONFIG} pg 22`,
        "settle: twice loop_wait (10) + 2",
      );
      const script = join(dir, "pending-restarts.py");
      writeFileSync(script, r.files.find((f) => f.path === PATRONI_PENDING_RESTARTS)!.content);
      // patronictl over a JSON state: list, restart --pending (clears the flag), switchover (the old leader restarts as a replica)
      writeFileSync(
        join(dir, "patronictl"),
        [
          "#!/usr/bin/python3",
          "import json, sys",
          `st = json.load(open(${JSON.stringify(join(dir, "state.json"))}))`,
          "a = sys.argv[3:]",
          "ms = st['members']",
          "st['calls'].append(' '.join(a))",
          "if a[0] == 'list':",
          "    rows = [dict(Member=m['name'], Role=m['role'], State=m['state'], **({'Pending restart': '*'} if m['pending'] else {})) for m in ms]",
          "    print(json.dumps(rows))",
          "elif a[0] == 'restart':",
          "    m = next(m for m in ms if m['name'] == a[2])",
          "    if m['pending']: m['pending'] = False; m['state'] = 'running'",
          "    print('Success: restart on member ' + m['name'])",
          "elif a[0] == 'switchover':",
          "    old, new = a[a.index('--leader') + 1], a[a.index('--candidate') + 1]",
          "    for m in ms:",
          "        if m['name'] == new: m['role'] = 'Leader'",
          "        elif m['name'] == old: m['role'] = 'Sync Standby' if any(x['role'] == 'Sync Standby' for x in ms) else 'Replica'; m['pending'] = False",
          "        elif m['role'] == 'Sync Standby' and m['name'] != new: pass",
          "    print('Successfully switched over')",
          `json.dump(st, open(${JSON.stringify(join(dir, "state.json"))}, 'w'))`,
        ].join("\n"),
      );
      chmodSync(join(dir, "patronictl"), 0o755);
      const member = fc.record({ pending: fc.boolean(), sync: fc.boolean(), stopped: fc.boolean() });
      fc.assert(
        fc.property(fc.array(member, { minLength: 2, maxLength: 4 }), fc.integer({ min: 0, max: 3 }), (list, leaderAt) => {
          const lead = leaderAt % list.length;
          let syncGiven = false;
          const members = list.map((m, i) => {
            const role = i === lead ? "Leader" : m.sync && !syncGiven ? ((syncGiven = true), "Sync Standby") : "Replica";
            // a stopped replica is never healthy: only a pending one (its restart starts it)
            return { name: `db${i + 1}`, role, state: m.stopped && i !== lead && m.pending ? "stopped" : "running", pending: m.pending };
          });
          writeFileSync(join(dir, "state.json"), JSON.stringify({ members, calls: [] }));
          const p = spawnSync("/usr/bin/python3", [script, "/etc/patroni/config.yml", "pg", "0"], {
            env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
            encoding: "utf8",
            timeout: 60_000,
          });
          assert.equal(p.status, 0, p.stderr + p.stdout);
          const st = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { members: typeof members; calls: string[] };
          assert.ok(
            st.members.every((m) => !m.pending),
            "nothing pending at the end",
          );
          const acts = st.calls.filter((c) => !c.startsWith("list"));
          const leaderName = members[lead]!.name;
          const switchAt = acts.findIndex((c) => c.startsWith("switchover"));
          const restarts = acts.filter((c) => c.startsWith("restart")).map((c) => c.split(" ")[2]!);
          // each pending replica restarted once, before any switchover; nothing else restarted
          assert.deepEqual(
            new Set(restarts.filter((n) => n !== leaderName)),
            new Set(members.filter((m) => m.pending && m.name !== leaderName).map((m) => m.name)),
          );
          assert.equal(new Set(restarts).size, restarts.length, "no member restarted twice");
          if (switchAt >= 0)
            assert.ok(
              acts.slice(switchAt + 1).every((c) => !c.startsWith("restart")),
              `restart after the switchover: ${acts.join("; ")}`,
            );
          assert.ok(acts.filter((c) => c.startsWith("switchover")).length <= 1, "one switchover at most");
          if (members[lead]!.pending) {
            // a healthy replica exists once the pending ones are restarted: always (each restart starts it)
            assert.ok(switchAt >= 0, `the pending leader is switched over: ${acts.join("; ")}`);
            assert.ok(!restarts.includes(leaderName), "the leader is never restarted in place while a replica is healthy");
            const sync = members.find((m) => m.role === "Sync Standby");
            if (sync) assert.match(acts[switchAt]!, new RegExp(`--candidate ${sync.name} `), "the synchronous standby is the candidate");
          } else assert.equal(switchAt, -1, "no switchover when the leader is not pending");
        }),
        { numRuns: 25 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the dynamic-config action: patronictl edit-config --apply, asked again until the store has the cluster's copy (stand-in patronictl)", () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-pctl-"));
    try {
      const action = r.actions.find((a) => a.id === "patroni-dynamic-config")!;
      // a patronictl failing its first N calls (no cluster config in the store yet), and a sleep that does not wait
      const run = (failFirst: number) => {
        writeFileSync(
          join(dir, "patronictl"),
          `#!/bin/sh\nprintf '%s\\n' "$*" >> "${dir}/calls"\nn=$(wc -l < "${dir}/calls")\n` +
            `if [ "$n" -le ${failFirst} ]; then echo "AttributeError: 'NoneType' object has no attribute 'data'" >&2; exit 1; fi\necho 'Configuration changed'\n`,
        );
        writeFileSync(join(dir, "sleep"), "#!/bin/sh\nexit 0\n");
        chmodSync(join(dir, "patronictl"), 0o755);
        chmodSync(join(dir, "sleep"), 0o755);
        rmSync(join(dir, "calls"), { force: true });
        const p = spawnSync("sh", ["-c", action.create], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: "utf8" });
        const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
        return { status: p.status, stdout: p.stdout, stderr: p.stderr, calls };
      };
      const ok = run(3);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /Configuration changed/);
      assert.equal(ok.calls.length, 4);
      assert.equal(ok.calls[0], `-c ${PATRONI_CONFIG} edit-config --force --apply ${PATRONI_DYNAMIC_CONFIG}`);
      const never = run(1000);
      assert.equal(never.status, 1);
      assert.equal(never.calls.length, 90, "bounded");
      assert.match(never.stderr, /NoneType/, "the last answer is shown");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("identity, REST API, etcd (v2) hosts without scheme", () => {
    const d = doc("db2");
    assert.equal(d.scope, "pg");
    assert.equal(d.name, "db2");
    assert.deepEqual(d.restapi, { listen: "10.213.37.12:8008", connect_address: "10.213.37.12:8008" });
    assert.deepEqual(d.etcd, { protocol: "http", hosts: ["10.213.37.11:2379", "10.213.37.12:2379", "10.213.37.13:2379"] });
    assert.equal(d.etcd3, undefined);
  });

  test("postgresql: listen exactly `IP,127.0.0.1:PORT` (docs/lab.md), bin_dir by version, passwords round-trip", () => {
    const d = doc("db1");
    assert.equal(d.postgresql.listen, "10.213.37.11,127.0.0.1:5432");
    assert.doesNotMatch(d.postgresql.listen, /:\d+,/, "no port before the comma");
    assert.equal(d.postgresql.connect_address, "10.213.37.11:5432");
    assert.equal(d.postgresql.bin_dir, "/usr/lib/postgresql/15/bin");
    assert.equal(d.postgresql.data_dir, "/var/lib/postgresql/15/patroni-pg");
    // The superuser password is full of YAML-hostile characters: it must come back byte-exact.
    assert.deepEqual(d.postgresql.authentication, {
      superuser: { username: "postgres", password: SU },
      replication: { username: "replicator", password: REPL },
      rewind: { username: "postgres", password: SU },
    });
  });

  test("bootstrap.dcs: ttl from the plan, loop_wait + 2×retry_timeout ≤ ttl, pg_rewind, replication params", () => {
    const d = doc("db1").bootstrap;
    assert.deepEqual([d.dcs.ttl, d.dcs.loop_wait, d.dcs.retry_timeout], [30, 10, 10]);
    assert.equal(d.dcs.postgresql.use_pg_rewind, true);
    assert.equal(d.dcs.postgresql.parameters["wal_level"], "replica");
    assert.deepEqual(d.initdb, [{ encoding: "UTF8" }, "data-checksums"]);
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 3600 }), (ttl) => {
        const t = dcsTimings(ttl);
        return t.loopWait >= 1 && t.retryTimeout >= 1 && t.loopWait + 2 * t.retryTimeout <= ttl;
      }),
    );
  });

  test("pg_hba: replication only from the members, logins from the cluster's hosts, scram everywhere", () => {
    const hba = doc("db3").postgresql.pg_hba;
    assert.deepEqual(doc("db3").bootstrap.pg_hba, hba);
    const repl = hba.filter((l) => l.split(/\s+/)[1] === "replication");
    assert.deepEqual(
      repl,
      ["10.213.37.11", "10.213.37.12", "10.213.37.13"].map((a) => `host replication replicator ${a}/32 scram-sha-256`),
    );
    for (const l of hba) assert.match(l, /(scram-sha-256|local all postgres peer)$/);
    assert.ok(!hba.some((l) => /0\.0\.0\.0\/0|::\/0| trust$/.test(l)), "nothing open to the world, no trust");
  });

  test("spec.pgParameters: DCS-only ones go to bootstrap.dcs only, others also to the local section", () => {
    const r2 = render(patroniPlan({ spec: { pgParameters: { max_connections: 300, work_mem: "16MB", ignored: { nested: 1 } } } }));
    const d = yaml.load(r2.files[0]!.content) as PatroniDoc;
    assert.equal(d.bootstrap.dcs.postgresql.parameters["max_connections"], 300);
    assert.equal(d.postgresql.parameters["max_connections"], undefined);
    assert.equal(d.bootstrap.dcs.postgresql.parameters["work_mem"], "16MB");
    assert.equal(d.postgresql.parameters["work_mem"], "16MB");
    assert.equal(d.bootstrap.dcs.postgresql.parameters["ignored"], undefined);
  });

  test("a store with v2 off is reached through etcd3:", () => {
    const p = patroniPlan();
    const d = yaml.load(render({ ...p, quorumStore: { ...etcdSlice(), enableV2: false } }).files[0]!.content) as PatroniDoc;
    assert.equal(d.etcd, undefined);
    assert.deepEqual(d.etcd3?.hosts, ["10.213.37.11:2379", "10.213.37.12:2379", "10.213.37.13:2379"]);
  });

  test("service: patroni as postgres with HOME, HUP reload, REST health, rollGroup patroni:<cluster>", () => {
    for (const s of r.services) {
      assert.equal(s.name, "patroni");
      assert.equal(s.rollGroup, "patroni:pg");
      assert.ok(plan.rollingGroups.some((g) => g.id === s.rollGroup));
      assert.match(s.health!, /urlopen\('http:\/\/10\.213\.37\.1\d:8008\/health'/);
    }
    assert.equal(r.services[2]!.reload, "supervisorctl signal HUP patroni");
    const sup = r.files.find((f) => f.path === "/etc/supervisor/conf.d/patroni.conf")!.content;
    assert.match(sup, /^command=\/usr\/bin\/patroni \/etc\/patroni\/config\.yml$/m);
    assert.match(sup, /^user=postgres$/m);
    assert.match(sup, /^environment=HOME="\/var\/lib\/postgresql"$/m);
  });

  test("the validate wrapper tolerates only 'already in use' lines (stand-in patroni)", () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-pv-"));
    try {
      const fake = join(dir, "patroni");
      const run = (out: string, rc: number) => {
        writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' ${JSON.stringify(out)} >&2\nexit ${rc}\n`);
        chmodSync(fake, 0o755);
        const cmd = r.files[0]!.validate!.split("{file}").join(`"$1"`);
        return spawnSync("sh", ["-c", cmd, "haforge-validate", "/nonexistent"], {
          env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
        }).status;
      };
      assert.equal(run("", 0), 0);
      assert.equal(run("postgresql.listen 10.0.0.1,127.0.0.1:5432 didn't pass validation: 'Port 5432 is already in use.'", 1), 0);
      assert.equal(run("postgresql.connect_address 127.0.0.1:5432 didn't pass validation: 'must not contain'", 1), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("patroniPasswordIssue flags `$$` (breaks Patroni 3.0.2 bootstrap) and empty", () => {
    assert.match(patroniPasswordIssue("a$$b")!, /\$\$/);
    assert.match(patroniPasswordIssue("")!, /empty/);
    assert.equal(patroniPasswordIssue(SU), undefined);
    assert.equal(stripScheme("https://a:1/"), "a:1");
  });

  test("deterministic; unresolved secrets give markers, not throws", () => {
    assert.deepEqual(render(plan), r);
    const bare = render(plan, {});
    assert.match(bare.files[0]!.content, /__HAFORGE_UNRESOLVED_secret_pgSuperuserPassword__/);
  });
});

/** `--flag=value` pairs of a command line (values have no spaces in what we render). */
function parseFlags(command: string): { bin: string; flags: Map<string, string>; rest: string[] } {
  const [bin, ...args] = command.split(" ");
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (const a of args) {
    const m = /^--([a-z0-9-]+)=(.*)$/.exec(a);
    if (m) flags.set(m[1]!, m[2]!);
    else rest.push(a);
  }
  return { bin: bin!.split("/").pop()!, flags, rest };
}

describe("stolon render", () => {
  const plan = stolonPlan();
  const r = render(plan);
  const unitCommand = (host: string, name: string) => {
    const f = r.files.find(
      (x) => x.host === host && (x.path === `/etc/systemd/system/${name}.service` || x.path === `/etc/supervisor/conf.d/${name}.conf`),
    )!;
    return /^(?:ExecStart|command)=(.*)$/m.exec(f.content)![1]!;
  };

  test("keepers on every node, sentinels on db1+db2, the proxy on db3", () => {
    const by = (n: string) => r.services.filter((s) => s.name === n).map((s) => s.host);
    assert.deepEqual(by("stolon-keeper"), ["db1", "db2", "db3"]);
    assert.deepEqual(by("stolon-sentinel"), ["db1", "db2"]);
    assert.deepEqual(by("stolon-proxy"), ["db3"]);
    for (const s of r.services.filter((x) => x.name === "stolon-keeper")) {
      assert.equal(s.rollGroup, "stolon:pg");
      assert.ok(plan.rollingGroups.some((g) => g.id === s.rollGroup));
    }
  });

  test("every flag is a documented flag of its binary; the required ones are there", () => {
    for (const s of r.services) {
      const { bin, flags, rest } = parseFlags(unitCommand(s.host, s.name));
      assert.deepEqual(rest, [], `${bin}: only --flag=value arguments`);
      const known = STOLON_FLAGS[bin as keyof typeof STOLON_FLAGS];
      assert.ok(known, bin);
      for (const f of flags.keys()) assert.ok(known.has(f), `${bin} --${f} is not documented`);
      assert.equal(flags.get("cluster-name"), "pg");
      assert.equal(flags.get("store-backend"), "etcdv3");
      assert.equal(flags.get("store-endpoints"), "http://10.213.37.11:2379,http://10.213.37.12:2379,http://10.213.37.13:2379");
    }
    const k = parseFlags(unitCommand("db2", "stolon-keeper")).flags;
    assert.equal(k.get("uid"), "db2");
    assert.equal(k.get("pg-listen-address"), "10.213.37.12");
    assert.equal(k.get("pg-port"), "5432");
    assert.equal(k.get("pg-bin-path"), "/usr/lib/postgresql/15/bin");
    assert.equal(k.get("pg-repl-username"), "replicator");
    assert.equal(k.get("pg-su-username"), "postgres");
    assert.equal(k.get("pg-su-passwordfile"), "/etc/stolon/pg/pg-su-password");
    assert.equal(k.get("pg-repl-passwordfile"), "/etc/stolon/pg/pg-repl-password");
    assert.ok(!k.has("pg-su-password") && !k.has("pg-repl-password"), "passwords only through files");
    const p = parseFlags(unitCommand("db3", "stolon-proxy")).flags;
    assert.equal(p.get("port"), "25432");
    assert.equal(p.get("listen-address"), "0.0.0.0");
  });

  test("password files: exact secret, 0600 postgres, secret; never on a command line", () => {
    for (const h of ["db1", "db2", "db3"]) {
      const su = r.files.find((f) => f.host === h && f.path === "/etc/stolon/pg/pg-su-password")!;
      const repl = r.files.find((f) => f.host === h && f.path === "/etc/stolon/pg/pg-repl-password")!;
      assert.equal(su.content, SU);
      assert.equal(repl.content, REPL);
      for (const f of [su, repl]) assert.deepEqual([f.mode, f.owner, f.secret], ["0600", "postgres", true]);
    }
    const everythingElse = JSON.stringify([r.services, r.actions, r.files.filter((f) => !f.path.includes("password"))]);
    assert.ok(!everythingElse.includes(REPL));
  });

  test("cluster spec: on the first node only, JSON, documented keys, initMode new + overrides", () => {
    const specs = r.files.filter((f) => f.path === STOLON_SPEC_FILE);
    assert.deepEqual(
      specs.map((f) => f.host),
      ["db1"],
    );
    const spec = JSON.parse(specs[0]!.content) as Record<string, unknown>;
    for (const k of Object.keys(spec)) assert.ok(STOLON_SPEC_KEYS.has(k), k);
    assert.equal(spec["initMode"], "new");
    assert.equal(spec["synchronousReplication"], true);
    assert.deepEqual(spec["pgParameters"], { max_connections: "200" });
    assert.deepEqual(spec["newConfig"], { encoding: "UTF8", dataChecksums: true });
    assert.deepEqual(unknownStolonSpecKeys({ initMode: "new", synchronusReplication: true }), ["synchronusReplication"]);
    // stolon's pgParameters is map[string]string: numbers from YAML become strings.
    const numeric = render(stolonPlan({ spec: { pgParameters: { max_connections: 300, fsync: true } } }));
    const spec2 = JSON.parse(numeric.files.find((f) => f.path === STOLON_SPEC_FILE)!.content) as { pgParameters: Record<string, unknown> };
    assert.deepEqual(spec2.pgParameters, { max_connections: "300", fsync: "true" });
  });

  test("actions: init once (bootstrap, db1), then spec update (converge) triggered by the spec file", () => {
    assert.deepEqual(
      r.actions.map((a) => [a.id, a.host, a.phase, a.dependsOn, a.triggers]),
      [
        ["postgres-stolon-init-pg", "db1", "bootstrap", [], []],
        ["postgres-stolon-spec-pg", "db1", "converge", ["postgres-stolon-init-pg"], [STOLON_SPEC_FILE]],
      ],
    );
    for (const a of r.actions) {
      for (const line of a.create.split("\n")) {
        for (const m of line.matchAll(/\/usr\/local\/bin\/stolonctl ((?:--[a-z-]+=\S+ )+)/g)) {
          for (const f of m[1]!.trim().split(" ")) assert.ok(STOLON_FLAGS.stolonctl.has(/^--([a-z-]+)=/.exec(f)![1]!), f);
        }
      }
    }
    assert.match(r.actions[0]!.create, /init --yes -f \/etc\/stolon\/cluster-spec\.json$/);
    assert.match(r.actions[1]!.create, /update -f \/etc\/stolon\/cluster-spec\.json$/);
  });

  test("the init guard never re-initialises: stand-in stolonctl for empty, initialised and unreachable stores", () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-stolonctl-"));
    try {
      const fake = join(dir, "stolonctl");
      const calls = join(dir, "calls");
      const run = (readRc: number, readOut: string) => {
        writeFileSync(calls, "");
        writeFileSync(
          fake,
          `#!/bin/sh\necho "$*" >> ${calls}\ncase "$*" in *"clusterdata read"*) echo ${JSON.stringify(readOut)} >&2; exit ${readRc};; esac\nexit 0\n`,
        );
        chmodSync(fake, 0o755);
        const script = r.actions[0]!.create.split("/usr/local/bin/stolonctl").join(fake);
        const res = spawnSync("sh", ["-c", script], { encoding: "utf8" });
        return {
          rc: res.status,
          inits: readFileSync(calls, "utf8")
            .split("\n")
            .filter((l) => / init /.test(` ${l} `)).length,
        };
      };
      assert.deepEqual(run(1, "nil cluster data: <nil>"), { rc: 0, inits: 1 }, "empty store: init");
      assert.deepEqual(run(0, ""), { rc: 0, inits: 0 }, "initialised: skip");
      assert.deepEqual(run(1, "cannot get cluster data: connection refused"), { rc: 1, inits: 0 }, "store down: fail, no init");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("keeper uids: lower-case [a-z0-9_], unique", () => {
    assert.deepEqual([...keeperUids(["DB-1", "db_1", "db.1"]).values()], ["db_1", "db_1_2", "db_1_3"]);
  });

  test("deterministic", () => {
    assert.deepEqual(render(plan), r);
  });
});

describe("postgres over the example inventories", () => {
  test("lab.yaml (Patroni): a config per node, listen form, etcd hosts = the store", () => {
    const loaded = loadInventoryFile(join(__dirname, "..", "..", "inventories", "lab.yaml"));
    const { plan, findings } = planCluster(loaded.inventory!);
    assert.ok(plan?.postgres, JSON.stringify(findings));
    const state = renderDesiredState(plan, PG_SECRETS, {});
    assert.deepEqual(checkDesiredState(state), []);
    for (const n of plan.postgres.nodes) {
      const h: PlannedHost = plan.hosts.find((x) => x.name === n)!;
      const d = yaml.load(state.hosts.find((x) => x.host === n)!.files.find((f) => f.path === PATRONI_CONFIG)!.content) as PatroniDoc;
      assert.equal(d.postgresql.listen, `${h.internalAddress},127.0.0.1:${plan.postgres.port}`);
      assert.deepEqual(d.etcd?.hosts, plan.quorumStore!.endpoints.map(stripScheme));
      assert.equal(d.bootstrap.dcs.ttl, plan.postgres.ttl);
      assert.equal(d.bootstrap.dcs.synchronous_mode, true, "the lab runs Patroni's synchronous mode");
    }
  });

  test("cloudify.yaml (stolon): keepers on the managers, a sentinel on the store-only node, init on manager1", () => {
    const loaded = loadInventoryFile(join(__dirname, "..", "..", "inventories", "cloudify.yaml"));
    const { plan, findings } = planCluster(loaded.inventory!);
    assert.ok(plan?.postgres, JSON.stringify(findings));
    const state = renderDesiredState(plan, PG_SECRETS, {});
    assert.deepEqual(checkDesiredState(state), []);
    const svc = (n: string) => state.hosts.flatMap((h) => h.services.filter((s) => s.name === n).map((s) => s.host));
    assert.deepEqual(svc("stolon-keeper"), ["manager1", "manager2"]);
    assert.deepEqual(svc("stolon-sentinel"), ["manager1", "manager2", "store1"]);
    assert.ok(state.actions.some((a) => a.id === "postgres-stolon-init-cloudify-db" && a.host === "manager1"));
  });
});
