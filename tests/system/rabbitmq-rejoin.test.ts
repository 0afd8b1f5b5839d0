/**
 * A replaced RabbitMQ node (issue 11) on real RabbitMQ 3.10 nodes: three nodes, one network
 * namespace each (tests/system/netns-hosts.ts), booted with haforge's rendered rabbitmq.conf,
 * conf.d seed list, rabbitmq-env.conf, enabled_plugins, definitions and cookie (paths moved to a
 * temp dir as in rabbitmq.test.ts). They cluster through classic_config peer discovery; a quorum
 * queue gets messages; rmq3 is stopped and its Mnesia base wiped (a fresh disk under the same
 * node name), then started again the way haforge's restart starts it.
 *
 * Run: flock <lab lock> node --import tsx --test --test-concurrency=1 tests/system/rabbitmq-rejoin.test.ts
 */
import { spawnSync } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FileSpec } from "../../src/core/desired-state";
import { restartCommand } from "../../src/render/daemon";
import { renderTemplate, staticFile } from "../../src/render/templates";
import {
  CLUSTER_FORMATION_CONF,
  DEFINITIONS_PATH,
  ENABLED_PLUGINS,
  ERLANG_COOKIE,
  RABBITMQ_CONF,
  RABBITMQ_ENV_CONF,
  REJOIN_SCRIPT,
  renderPart,
  SERVER_COMMAND,
} from "../../src/services/rabbitmq/render";
import { clusterPlan, PASSWORD, SECRETS } from "../fixtures/rabbitmq-plan";
import { NetnsHosts, waitFor, type Started } from "./netns-hosts";

const PORT = 5672;
const ADDRS = ["10.231.90.11", "10.231.90.12", "10.231.90.13"];
const HOSTS = ["rmq1", "rmq2", "rmq3"];
// One boot is 8–18 s on an idle 2-core machine and 37 s at load 18 (rabbitmq.test.ts).
const BOOT_MS = 120_000;
const RMQ_BIN = "/usr/lib/rabbitmq/bin";
const MESSAGES = 50;
const QUEUE = "rejoin-q";
const nodeName = (host: string) => `rabbit@${ADDRS[HOSTS.indexOf(host)]}`;

describe("rabbitmq: a wiped node rejoins its cluster (issue 11)", { timeout: 900_000 }, () => {
  const plan = clusterPlan(ADDRS, PORT);
  const rendered = renderPart.render!({ plan, secrets: SECRETS, materials: {}, template: renderTemplate });
  const lab = new NetnsHosts(
    "hfrmqj",
    HOSTS.map((name, i) => ({ name, address: ADDRS[i]! })),
  );
  const dir = mkdtempSync(join(tmpdir(), "hf-rmqj-"));
  const envs = new Map<string, NodeJS.ProcessEnv>();
  const nodes = new Map<string, Started>();
  const client = join(dir, "amqp-client.cjs");
  const scriptPath = join(dir, "rabbitmq-rejoin.sh");
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

  const get = (host: string, path: string): FileSpec => {
    const f = rendered.files.find((x) => x.host === host && x.path === path);
    assert.ok(f, `${host}:${path} rendered`);
    return f;
  };
  const hostDir = (host: string) => join(dir, host);
  const asRabbit = (argv: readonly string[]) => ["setpriv", "--reuid=rabbitmq", "--regid=rabbitmq", "--init-groups", "--", ...argv];
  /** Run argv on `host` as rabbitmq with that node's environment (CLI tools find their node). */
  const cli = (host: string, argv: readonly string[], timeoutMs = 60_000) =>
    lab.exec(host, asRabbit(argv), { env: envs.get(host)!, timeoutMs });
  const shell = (host: string, script: string, timeoutMs = 60_000) => cli(host, ["sh", "-c", script], timeoutMs);
  const log = (host: string) => {
    try {
      return readFileSync(join(hostDir(host), "node.log"), "utf8").slice(-4000);
    } catch {
      return "(no log)";
    }
  };

  function start(host: string): Started {
    const s = lab.start(host, asRabbit([SERVER_COMMAND]), join(hostDir(host), "node.log"), { env: envs.get(host)! });
    nodes.set(host, s);
    return s;
  }

  async function running(host: string, ms = BOOT_MS): Promise<boolean> {
    return waitFor(() => cli(host, ["rabbitmq-diagnostics", "-q", "check_running"], 15_000).status === 0, ms, 1000);
  }

  function clusterStatus(host: string): { running_nodes: string[]; disk_nodes: string[] } {
    const r = cli(host, ["rabbitmqctl", "-q", "cluster_status", "--formatter", "json"]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  }

  /** AMQP 0-9-1 from inside `host`'s namespace (this process has no route into the namespaces). */
  function amqpRun(host: string, op: "publish" | "drain"): { count: number; bodies: string[] } {
    const r = lab.exec(host, [process.execPath, client, op, ADDRS[HOSTS.indexOf(host)]!, String(PORT), PASSWORD, QUEUE, String(MESSAGES)], {
      timeoutMs: 60_000,
    });
    assert.equal(r.status, 0, `${op} on ${host}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  type QuorumRow = { "Node Name": string; "Raft State": string; "Commit Index": number };
  function quorumStatus(host: string): QuorumRow[] {
    const r = cli(host, ["rabbitmq-queues", "-q", "quorum_status", QUEUE, "-p", "tower", "--formatter", "json"]);
    return r.status === 0 ? (JSON.parse(r.stdout) as QuorumRow[]) : [];
  }

  const service = (host: string) => rendered.services.find((s) => s.host === host)!;
  const restartOf = (host: string) => service(host).restart;
  /** The init manager's own restart (systemd here), which the rendered restart wraps. */
  const restartCore = (host: string) => restartCommand("systemd", service(host).name);

  function quorumMembers(host: string): string[] {
    const r = cli(host, ["rabbitmqctl", "-q", "list_queues", "-p", "tower", "name", "members", "--formatter", "json"]);
    assert.equal(r.status, 0, r.stderr);
    const q = (JSON.parse(r.stdout) as { name: string; members: string[] }[]).find((x) => x.name === QUEUE);
    assert.ok(q, `${QUEUE} listed: ${r.stdout}`);
    return [...q.members].sort();
  }

  before(() => {
    lab.up();
    const uid = Number(spawnSync("id", ["-u", "rabbitmq"], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", "rabbitmq"], { encoding: "utf8" }).stdout.trim());
    for (const host of HOSTS) {
      const d = hostDir(host);
      for (const sub of ["home", "mnesia", "log"]) mkdirSync(join(d, sub), { recursive: true });
      const defs = join(d, "definitions.json");
      writeFileSync(defs, get(host, DEFINITIONS_PATH).content);
      // rabbitmq.conf with the conf.d seed list appended (one RABBITMQ_CONFIG_FILE per node).
      const conf = get(host, RABBITMQ_CONF).content.replace(`load_definitions = ${DEFINITIONS_PATH}`, `load_definitions = ${defs}`);
      writeFileSync(join(d, "rabbitmq.conf"), `${conf}\n${get(host, CLUSTER_FORMATION_CONF).content}`);
      // The seed list also where the rejoin script reads its peers (CLUSTER_FORMATION_CONF on a host).
      writeFileSync(join(d, "seeds.conf"), get(host, CLUSTER_FORMATION_CONF).content);
      writeFileSync(join(d, "rabbitmq-env.conf"), get(host, RABBITMQ_ENV_CONF).content);
      writeFileSync(join(d, "enabled_plugins"), get(host, ENABLED_PLUGINS).content);
      writeFileSync(join(d, "home", ".erlang.cookie"), get(host, ERLANG_COOKIE).content, { mode: 0o400 });
      spawnSync("chown", ["-R", "rabbitmq:rabbitmq", d]);
      envs.set(host, {
        PATH: `${RMQ_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`,
        LANG: "C.UTF-8",
        HOME: join(d, "home"),
        RABBITMQ_CONFIG_FILE: join(d, "rabbitmq.conf"),
        RABBITMQ_CONF_ENV_FILE: join(d, "rabbitmq-env.conf"),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(d, "enabled_plugins"),
        RABBITMQ_MNESIA_BASE: join(d, "mnesia"),
        RABBITMQ_LOG_BASE: join(d, "log"),
        RABBITMQ_ADVANCED_CONFIG_FILE: join(d, "advanced.config"), // absent: not /etc/rabbitmq's
        RABBITMQ_LOGS: "-",
        HAFORGE_RABBITMQ_SEEDS: join(d, "seeds.conf"),
      });
    }
    chownSync(dir, uid, gid);
    const amqplib = require.resolve("amqplib");
    writeFileSync(
      client,
      `const amqp = require(${JSON.stringify(amqplib)});
const [op, host, port, password, queue, n] = process.argv.slice(2);
(async () => {
  const conn = await amqp.connect({ protocol: "amqp", hostname: host, port: Number(port), username: "tower", password, vhost: "tower" }, { timeout: 10000 });
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
  const bodies = [];
  if (op === "publish") {
    for (let i = 0; i < Number(n); i++) ch.sendToQueue(queue, Buffer.from("m" + i), { persistent: true });
    await ch.waitForConfirms();
  } else {
    for (;;) { const m = await ch.get(queue, { noAck: false }); if (!m) break; bodies.push(m.content.toString()); ch.ack(m); }
    await ch.waitForConfirms();
  }
  await conn.close();
  process.stdout.write(JSON.stringify({ count: op === "publish" ? Number(n) : bodies.length, bodies }));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`,
    );
    writeFileSync(scriptPath, staticFile("rabbitmq", "rabbitmq-rejoin.sh"), { mode: 0o755 });
    // Each namespace's own epmd, started by PID (the node would otherwise daemonize one).
    for (const host of HOSTS) lab.start(host, asRabbit(["epmd"]), join(hostDir(host), "epmd.log"), { env: envs.get(host)! });
  });

  after(async () => {
    const problems = await lab.down();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(problems, []);
  });

  it("three nodes cluster from the rendered files; a quorum queue holds messages on all three", async () => {
    start("rmq1");
    assert.ok(await running("rmq1"), `rmq1 not running:\n${log("rmq1")}`);
    start("rmq2");
    start("rmq3");
    for (const h of ["rmq2", "rmq3"]) assert.ok(await running(h), `${h} not running:\n${log(h)}`);
    const member = rendered.actions.find((a) => a.id === "rabbitmq-member-rmq3")!;
    const joined = shell(member.host, member.create, 200_000);
    assert.equal(joined.status, 0, joined.stderr);
    assert.deepEqual(clusterStatus("rmq1").running_nodes.sort(), HOSTS.map(nodeName).sort());
    console.log(`# clustered at ${since()}`);
    assert.equal(amqpRun("rmq1", "publish").count, MESSAGES);
    assert.deepEqual(quorumMembers("rmq1"), HOSTS.map(nodeName).sort());
  });

  it("rmq3 stopped and wiped, started again through the rendered restart: forgotten by a peer, joined blank, a quorum queue replica again that holds the log, messages consumable", async () => {
    await lab.stop(nodes.get("rmq3")!, 60_000);
    const base = join(hostDir("rmq3"), "mnesia");
    for (const e of readdirSync(base)) rmSync(join(base, e), { recursive: true, force: true });
    const wiped = Date.now();
    // The rendered restart of rmq3: { before } && { the manager's restart } && { after }; the
    // manager's part is this test's start of the server (the unit/program run the same command).
    const parts = restartOf("rmq3").split(" && ");
    assert.equal(parts.length, 3 + restartCore("rmq3").split(" && ").length - 1);
    const local = (c: string) => c.split(REJOIN_SCRIPT).join(scriptPath);
    const pre = local(parts[0]!);
    const post = local(parts[parts.length - 1]!);
    const forgot = shell("rmq3", pre, 120_000);
    assert.equal(forgot.status, 0, forgot.stderr);
    assert.match(forgot.stdout, /rabbit@10\.231\.90\.13 has an empty database and rabbit@10\.231\.90\.11 lists it as a member/);
    assert.ok(!clusterStatus("rmq1").disk_nodes.includes(nodeName("rmq3")), "rmq1 forgot rmq3");
    assert.deepEqual(quorumMembers("rmq1"), [nodeName("rmq1"), nodeName("rmq2")], "the forget shrank the quorum queue");
    start("rmq3");
    // systemd's restart of the Type=notify unit returns once the node booted (supervisor's waits for RUNNING).
    assert.ok(await running("rmq3"), `rmq3 not running:\n${log("rmq3")}`);
    const grown = shell("rmq3", post, BOOT_MS + 60_000);
    assert.equal(grown.status, 0, `${grown.stdout}${grown.stderr}\n${log("rmq3")}`);
    console.log(`# rmq3 running and grown ${((Date.now() - wiped) / 1000).toFixed(1)} s after the wipe (${since()})`);
    assert.deepEqual(clusterStatus("rmq3").running_nodes.sort(), HOSTS.map(nodeName).sort());
    assert.deepEqual(quorumMembers("rmq1"), HOSTS.map(nodeName).sort());
    // rmq3's replica holds the log: its commit index reaches the leader's (bounded).
    let last: QuorumRow[] = [];
    const caughtUp = await waitFor(
      () => {
        last = quorumStatus("rmq1");
        const leader = last.find((r) => r["Raft State"] === "leader");
        const mine = last.find((r) => r["Node Name"] === nodeName("rmq3"));
        return !!leader && !!mine && leader["Commit Index"] >= MESSAGES && mine["Commit Index"] === leader["Commit Index"];
      },
      60_000,
      1000,
    );
    assert.ok(caughtUp, `rmq3's replica holds the log: ${JSON.stringify(last)}`);
    console.log(`# rmq3 replica caught up ${((Date.now() - wiped) / 1000).toFixed(1)} s after the wipe: ${JSON.stringify(last)}`);
    const drained = amqpRun("rmq3", "drain");
    assert.deepEqual(
      drained.bodies,
      Array.from({ length: MESSAGES }, (_, i) => `m${i}`),
    );
    // The next ordinary restart of rmq3 finds its database: nothing forgotten, nothing owed.
    const again = shell("rmq3", pre, 60_000);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, "");
    assert.ok(clusterStatus("rmq1").disk_nodes.includes(nodeName("rmq3")));
  });
});
