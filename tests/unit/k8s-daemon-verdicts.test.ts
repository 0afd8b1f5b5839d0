/**
 * The real programs' verdicts on what the Kubernetes target renders (no cluster needed):
 * - rabbitmq.conf of every k8s inventory through RabbitMQ 3.10's own Cuttlefish schemas, the
 *   k8s peer discovery plugin's included (conf-check.ts, what a node's prelaunch runs); a bad
 *   peer discovery value and a misspelt k8s key are refused, so the check can fail;
 * - Tower's settings.py executed by python3 with the pods' environment: the URLs and database
 *   settings Django would get, passwords with URL-special characters encoded;
 * - the Tower database Job's script against a real PostgreSQL 15: creates the role and the
 *   database, runs again without error (Job retries), rotates the password, and survives names
 *   and passwords with quotes; the role then logs in with scram-sha-256.
 * A missing program skips its cases.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RABBITMQ_CONF_VALIDATE } from "../../src/services/rabbitmq/conf-check";
import { K8S_RABBITMQ_PATHS } from "../../src/services/rabbitmq/k8s-conf";
import { rabbitmqOnKubernetes, RABBITMQ_SECRET_KEYS } from "../../src/services/rabbitmq/k8s-topology";
import { towerOnKubernetes } from "../../src/services/tower/k8s-topology";
import { dbBootstrapScript, SECRET_KEY_PATH, settingsPy, towerEnv } from "../../src/services/tower/k8s-settings";
import { allK8sCases, find, planOf, renderObjects, towerK8sInput } from "./k8s-helpers";

const which = (bin: string): boolean => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "hf-k8s-verdicts-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
describe("rabbitmq.conf (k8s peer discovery) by RabbitMQ's own config schemas", { skip: !which("erl") && "erl not installed" }, () => {
  /** rc of the Cuttlefish check; the definitions file must exist for load_definitions' validator. */
  function check(name: string, conf: string, definitions: string): { status: number | null; out: string } {
    const defs = join(dir, `${name}.definitions.json`);
    writeFileSync(defs, definitions);
    const file = join(dir, `${name}.rabbitmq.conf`);
    writeFileSync(file, conf.split(K8S_RABBITMQ_PATHS.definitions).join(defs));
    const r = spawnSync("sh", ["-c", RABBITMQ_CONF_VALIDATE.replace("{file}", file)], { encoding: "utf8", timeout: 60_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  }

  const withBroker = allK8sCases().filter((c) => rabbitmqOnKubernetes(c.plan));
  it("covers several inventories", () => assert.ok(withBroker.length >= 3));
  for (const c of withBroker) {
    it(`accepts the rendered rabbitmq.conf of ${c.label}`, () => {
      const r = rabbitmqOnKubernetes(c.plan)!;
      const { objects } = renderObjects(c.plan);
      const conf = find(objects, "ConfigMap", r.names.configMap)!.data["rabbitmq.conf"];
      const defs = find(objects, "Secret", r.names.secret)!.stringData[RABBITMQ_SECRET_KEYS.definitions];
      const v = check(c.label.replace(/\W+/g, "-"), conf, defs);
      assert.equal(v.status, 0, v.out);
    });
  }

  const base = () => {
    const plan = planOf(towerK8sInput());
    const r = rabbitmqOnKubernetes(plan)!;
    const { objects } = renderObjects(plan);
    return {
      conf: find(objects, "ConfigMap", r.names.configMap)!.data["rabbitmq.conf"] as string,
      defs: find(objects, "Secret", r.names.secret)!.stringData[RABBITMQ_SECRET_KEYS.definitions] as string,
    };
  };
  it("refuses a k8s address type the plugin does not know (the plugin's schema is loaded)", () => {
    const { conf, defs } = base();
    const v = check(
      "bad-address-type",
      conf.replace("cluster_formation.k8s.address_type = hostname", "cluster_formation.k8s.address_type = pod_name"),
      defs,
    );
    assert.notEqual(v.status, 0, v.out);
  });
  it("refuses a misspelt k8s key", () => {
    const { conf, defs } = base();
    const v = check("bad-key", conf.replace("cluster_formation.k8s.service_name", "cluster_formation.k8s.servicename"), defs);
    assert.notEqual(v.status, 0, v.out);
  });
});

// ---------------------------------------------------------------------------------------------
describe("Tower settings.py executed by python3 with the pods' environment", { skip: !which("python3") && "python3 not installed" }, () => {
  it("gives Django the database, the broker URL (password encoded) and the cache", () => {
    const t = towerOnKubernetes(planOf(towerK8sInput()))!;
    const keyFile = join(dir, "SECRET_KEY");
    writeFileSync(keyFile, "the-secret-key\n");
    const settings = join(dir, "settings.py");
    writeFileSync(settings, settingsPy(t).split(JSON.stringify(SECRET_KEY_PATH)).join(JSON.stringify(keyFile)));
    const env = { ...towerEnv(t), DATABASE_PASSWORD: "db'pa\"ss", RABBITMQ_PASSWORD: "p@ss/w:rd%" };
    const probe = [
      "import json, sys",
      "g = {'CHANNEL_LAYERS': {'default': {'CONFIG': {}}}}",
      "exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), g)",
      "print(json.dumps({'db': g['DATABASES']['default'], 'broker': g['BROKER_URL'], 'channel': g['CHANNEL_LAYERS']['default']['CONFIG']['url'],",
      "  'cache': g['CACHES']['default']['LOCATION'], 'key': g['SECRET_KEY'].decode(), 'host_id': g['CLUSTER_HOST_ID']}))",
    ].join("\n");
    const r = spawnSync("python3", ["-c", probe, settings], { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.broker, `amqp://tower:p%40ss%2Fw%3Ard%25@${t.broker.host}:5672/tower`);
    assert.equal(out.channel, out.broker, "the channel layer follows the broker");
    assert.deepEqual(
      { host: out.db.HOST, port: out.db.PORT, name: out.db.NAME, user: out.db.USER, password: out.db.PASSWORD },
      { host: t.stolon!.host, port: "5432", name: "awx", user: "awx", password: "db'pa\"ss" },
    );
    assert.equal(out.cache, "127.0.0.1:11211");
    assert.equal(out.key, "the-secret-key");
    assert.ok(out.host_id.length > 0);
  });
});

// ---------------------------------------------------------------------------------------------
const PG_BIN = "/usr/lib/postgresql/15/bin";
describe(
  "Tower database Job script against PostgreSQL 15",
  { skip: !existsSync(`${PG_BIN}/postgres`) && "PostgreSQL 15 not installed" },
  () => {
    const pgDir = join(dir, "pg");
    const data = join(pgDir, "data");
    const sock = join(pgDir, "sock");
    const PORT = 54329;
    let pid: number | undefined;
    const asPostgres = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], {
        encoding: "utf8",
        timeout: 60_000,
        env: { PATH: process.env.PATH, ...env },
      });
    const psql = (user: string, db: string, sql: string, password?: string) =>
      spawnSync("psql", ["-X", "-q", "-At", "-h", sock, "-p", String(PORT), "-U", user, "-d", db, "-c", sql], {
        encoding: "utf8",
        timeout: 30_000,
        env: { PATH: process.env.PATH, ...(password !== undefined ? { PGPASSWORD: password } : {}) },
      });

    before(async () => {
      mkdirSync(sock, { recursive: true });
      chmodSync(dir, 0o755);
      const pw = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
      const uid = Number(pw.stdout.trim());
      const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
      chownSync(pgDir, uid, gid);
      chownSync(sock, uid, gid);
      const init = asPostgres(`${PG_BIN}/initdb`, ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=reject", "-E", "UTF8"]);
      assert.equal(init.status, 0, init.stderr);
      // scram for the Tower role, trust for the superuser (the Job's own login is not under test).
      writeFileSync(join(data, "pg_hba.conf"), "local all postgres trust\nlocal all all scram-sha-256\n");
      const child = spawn(
        "runuser",
        ["-u", "postgres", "--", `${PG_BIN}/postgres`, "-D", data, "-k", sock, "-p", String(PORT), "-c", "listen_addresses="],
        { stdio: "ignore", detached: true },
      );
      pid = child.pid;
      child.unref();
      for (let i = 0; i < 100; i++) {
        if (spawnSync("pg_isready", ["-q", "-h", sock, "-p", String(PORT)]).status === 0) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.fail("postgres did not start in 20 s");
    });

    after(async () => {
      // Stop the server we started: runuser's process group (postgres and its children).
      if (pid !== undefined) {
        try {
          process.kill(-pid, "SIGINT");
        } catch {
          /* already gone */
        }
        for (let i = 0; i < 50 && existsSync(join(data, "postmaster.pid")); i++) await new Promise((r) => setTimeout(r, 200));
      }
    });

    /** Runs the Job's script as the Job would, with the Job's environment. */
    function runJob(dbName: string, dbUser: string, dbPassword: string) {
      return spawnSync("bash", ["-c", dbBootstrapScript()], {
        encoding: "utf8",
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          PGHOST: sock,
          PGPORT: String(PORT),
          PGUSER: "postgres",
          DB_NAME: dbName,
          DB_USER: dbUser,
          DB_PASSWORD: dbPassword,
        },
      });
    }

    it("creates the role and its database; the role logs in with its password only", () => {
      const r = runJob("awx", "awx", "first-pass");
      assert.equal(r.status, 0, r.stderr);
      assert.equal(
        psql("postgres", "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'awx'").stdout.trim(),
        "awx",
      );
      assert.equal(psql("awx", "awx", "SELECT current_user", "first-pass").stdout.trim(), "awx");
      assert.notEqual(psql("awx", "awx", "SELECT 1", "wrong").status, 0, "a wrong password is refused");
    });

    it("runs again without error (Job retries) and rotates the password", () => {
      const r = runJob("awx", "awx", "second-pass");
      assert.equal(r.status, 0, r.stderr);
      assert.equal(psql("awx", "awx", "SELECT 1", "second-pass").stdout.trim(), "1");
      assert.notEqual(psql("awx", "awx", "SELECT 1", "first-pass").status, 0);
    });

    it("quotes names and passwords: nothing breaks out of its statement", () => {
      const user = `we"ird'; DROP ROLE awx; --`;
      const db = `d"b'; DROP DATABASE awx; --`;
      const pass = `pa'ss"; DROP ROLE awx; --\\`;
      const r = runJob(db, user, pass);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(
        psql("postgres", "postgres", "SELECT count(*) FROM pg_roles WHERE rolname IN ('awx', $$" + user + "$$)").stdout.trim(),
        "2",
      );
      assert.equal(
        psql("postgres", "postgres", "SELECT count(*) FROM pg_database WHERE datname IN ('awx', $$" + db + "$$)").stdout.trim(),
        "2",
      );
      assert.equal(psql(user, db, "SELECT current_user", pass).stdout.trim(), user);
    });

    it("fails (bounded) when the database never answers", { timeout: 10_000 }, () => {
      const script = dbBootstrapScript().replace("-ge 60", "-ge 2").replace("sleep 5", "sleep 0.1");
      const r = spawnSync("bash", ["-c", script], {
        encoding: "utf8",
        env: { PATH: process.env.PATH, PGHOST: join(dir, "nowhere"), PGPORT: "1", DB_NAME: "x", DB_USER: "x", DB_PASSWORD: "x" },
      });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /not ready/);
    });
  },
);
