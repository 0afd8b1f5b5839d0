/**
 * The real RabbitMQ 3.10 verdict on the rendered files. One node boots with the rendered
 * rabbitmq.conf, rabbitmq-env.conf, enabled_plugins, definitions and cookie, fully isolated:
 *
 * - its own network namespace (a veth /30 to the root namespace so this process can speak AMQP
 *   and HTTP to it), hence its own epmd on 4369 and distribution port, clashing with nothing;
 * - its own HOME (cookie), RABBITMQ_CONFIG_FILE, RABBITMQ_CONF_ENV_FILE, ..._ENABLED_PLUGINS_FILE,
 *   _MNESIA_BASE, _LOG_BASE in a temp dir; the CLI tools are called from /usr/lib/rabbitmq/bin,
 *   never through the /usr/sbin wrapper, which would `cd /var/lib/rabbitmq` and pick up the
 *   machine's own cookie (docs/lab.md).
 *
 * Then: rabbitmqctl sees the vhost (default queue type quorum), the user and its permissions and
 * no guest; AMQP 0-9-1 with the configured user/password/vhost works on the configured port, a
 * queue declared without a type is a quorum queue, a wrong password and the default vhost are
 * refused; the management API answers on its port; the rendered actions' commands behave. A
 * rabbitmq.conf with one bad key (3.11's `default_queue_type`) must stop the node from booting.
 *
 * Every process is stopped by recorded PID: the server script's process group (beam.smp and its
 * helpers live in it), our own epmd, and finally whatever `ip netns pids` still lists for the
 * namespace this test created.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import amqp from "amqplib";
import type { FileSpec } from "../../src/core/desired-state";
import { renderTemplate } from "../../src/render/templates";
import { RABBITMQ_CONF_VALIDATE } from "../../src/services/rabbitmq/conf-check";
import {
  CLUSTER_FORMATION_CONF,
  DEFINITIONS_PATH,
  ENABLED_PLUGINS,
  ERLANG_COOKIE,
  RABBITMQ_CONF,
  RABBITMQ_ENV_CONF,
  renderPart,
  SERVER_COMMAND,
} from "../../src/services/rabbitmq/render";
import { PASSWORD, SECRETS, singleNodePlan, threeNodePlan } from "../fixtures/rabbitmq-plan";
import { renderedUnit } from "./examples/services";

const PORT = 5679; // not 5672: proves listeners.tcp.default is what the node listens on
const MGMT_PORT = 15679;
// 8–18 s on an idle 2-core machine; 37 s measured with the machine at load 18 (parallel labs).
const BOOT_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;
const NS = `hfrmq-${process.pid}`;
const VETH = `hfrmq${process.pid}`.slice(0, 15);
const RMQ_BIN = "/usr/lib/rabbitmq/bin";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The /30 for the veth pair: the first candidate no route of this machine already covers. */
function pickSubnet(): { root: string; node: string } {
  for (const third of [76, 77, 78, 79, 176, 177]) {
    const node = `10.231.${third}.2`;
    const routes = spawnSync("ip", ["-4", "route", "show", "match", node], { encoding: "utf8" }).stdout;
    const covered = routes.split("\n").some((l) => l.trim() && !l.startsWith("default"));
    if (!covered) return { root: `10.231.${third}.1`, node };
  }
  throw new Error("no free 10.231.x.0/30 for the test namespace");
}

function must(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: rc ${r.status} ${r.stderr}`);
}

const rabbitmqUid = Number(spawnSync("id", ["-u", "rabbitmq"], { encoding: "utf8" }).stdout.trim());
const rabbitmqGid = Number(spawnSync("id", ["-g", "rabbitmq"], { encoding: "utf8" }).stdout.trim());

/** argv that runs `argv` inside the namespace as the rabbitmq user (as the unit does). */
const inNs = (argv: string[]) => [
  "ip",
  "netns",
  "exec",
  NS,
  "setpriv",
  "--reuid=rabbitmq",
  "--regid=rabbitmq",
  "--init-groups",
  "--",
  ...argv,
];

interface Node {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly log: string;
  exited: boolean;
}

describe("rabbitmq: a real 3.10 node with the rendered files", { timeout: 240_000 }, () => {
  const { root: ROOT_ADDR, node: NODE_ADDR } = pickSubnet();
  const plan = singleNodePlan(NODE_ADDR, PORT, { management: true, managementPort: MGMT_PORT });
  const rendered = renderPart.render!({ plan, secrets: SECRETS, materials: {}, template: renderTemplate });
  const dir = mkdtempSync(join(tmpdir(), "hf-rmq-"));
  const home = join(dir, "home");
  const paths = {
    conf: join(dir, "rabbitmq.conf"),
    envConf: join(dir, "rabbitmq-env.conf"),
    plugins: join(dir, "enabled_plugins"),
    definitions: join(dir, "definitions.json"),
    cookie: join(home, ".erlang.cookie"),
    badConf: join(dir, "broken.conf"),
  };
  let env: NodeJS.ProcessEnv = {};
  const started: ChildProcess[] = [];
  let epmd: ChildProcess | undefined;
  let node: Node | undefined;
  let bootStart = 0;

  const get = (path: string): FileSpec => {
    const f = rendered.files.find((x) => x.path === path);
    assert.ok(f, `${path} rendered`);
    return f;
  };

  /** Run a CLI tool (or any argv) in the namespace as rabbitmq with the node's env. */
  const cli = (argv: string[], timeout = 20_000) => spawnSync(inNs(argv)[0]!, inNs(argv).slice(1), { env, encoding: "utf8", timeout });
  /**
   * Run a rendered shell command (an action's create/delete) the same way. Bounded at 90 s: a
   * command may run rabbitmqctl twice (the forget, then the member check), and each run boots an
   * Erlang VM, which took over 10 s on a loaded CI machine (20 s was too short for two).
   */
  const shell = (command: string) => cli(["sh", "-c", command], 90_000);

  function startNode(configFile: string, mnesia: string, logName: string): Node {
    const log = join(dir, logName);
    const fd = openSync(log, "w");
    const child = spawn(inNs([SERVER_COMMAND])[0]!, inNs([SERVER_COMMAND]).slice(1), {
      env: { ...env, RABBITMQ_CONFIG_FILE: configFile, RABBITMQ_MNESIA_BASE: mnesia },
      cwd: "/",
      // Its own process group: SIGTERM to -pid reaches the script and beam.smp.
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    started.push(child);
    const n: Node = { child, pid: child.pid!, log, exited: false };
    child.on("exit", () => (n.exited = true));
    return n;
  }

  async function stopGroup(n: Node | undefined): Promise<void> {
    if (!n || n.exited) return;
    try {
      process.kill(-n.pid, "SIGTERM");
    } catch {
      return;
    }
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (!n.exited && Date.now() < deadline) await sleep(200);
    if (!n.exited) {
      try {
        process.kill(-n.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  before(async () => {
    // --- namespace + veth: this process ↔ the node over ROOT_ADDR/NODE_ADDR
    must("ip", ["netns", "add", NS]);
    must("ip", ["-n", NS, "link", "set", "lo", "up"]);
    must("ip", ["link", "add", VETH, "type", "veth", "peer", "name", "eth0", "netns", NS]);
    must("ip", ["addr", "add", `${ROOT_ADDR}/30`, "dev", VETH]);
    must("ip", ["link", "set", VETH, "up"]);
    must("ip", ["-n", NS, "addr", "add", `${NODE_ADDR}/30`, "dev", "eth0"]);
    must("ip", ["-n", NS, "link", "set", "eth0", "up"]);

    // --- the rendered files, paths adjusted to the temp dir
    for (const d of [home, join(dir, "mnesia"), join(dir, "mnesia-broken"), join(dir, "log")]) mkdirSync(d, { recursive: true });
    writeFileSync(paths.definitions, get(DEFINITIONS_PATH).content);
    const conf = get(RABBITMQ_CONF).content;
    assert.ok(conf.includes(`load_definitions = ${DEFINITIONS_PATH}`));
    writeFileSync(paths.conf, conf.replace(`load_definitions = ${DEFINITIONS_PATH}`, `load_definitions = ${paths.definitions}`));
    // The broken twin: one key RabbitMQ 3.11 knows and 3.10 does not.
    writeFileSync(paths.badConf, readFileSync(paths.conf, "utf8") + "default_queue_type = quorum\n");
    writeFileSync(paths.envConf, get(RABBITMQ_ENV_CONF).content);
    writeFileSync(paths.plugins, get(ENABLED_PLUGINS).content);
    const cookie = get(ERLANG_COOKIE);
    writeFileSync(paths.cookie, cookie.content, { mode: 0o400 });
    spawnSync("chown", ["-R", "rabbitmq:rabbitmq", dir]);
    chownSync(dir, rabbitmqUid, rabbitmqGid);

    env = {
      PATH: `${RMQ_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`,
      LANG: "C.UTF-8",
      HOME: home,
      RABBITMQ_CONFIG_FILE: paths.conf,
      RABBITMQ_CONF_ENV_FILE: paths.envConf,
      RABBITMQ_ENABLED_PLUGINS_FILE: paths.plugins,
      RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
      RABBITMQ_LOG_BASE: join(dir, "log"),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"), // absent: not /etc/rabbitmq's
      RABBITMQ_LOGS: "-",
    };

    // --- our own epmd (foreground, recorded PID); the node finds it and starts none
    epmd = spawn(inNs(["epmd"])[0]!, inNs(["epmd"]).slice(1), { env, cwd: "/", detached: true, stdio: "ignore" });
    started.push(epmd);
    for (let i = 0; i < 50 && cli(["epmd", "-names"], 2000).status !== 0; i++) await sleep(100);

    // --- start booting; the offline checks below run meanwhile, the boot test waits (bounded)
    bootStart = Date.now();
    node = startNode(paths.conf, join(dir, "mnesia"), "node.log");
  });

  after(async () => {
    await stopGroup(node);
    for (const c of started) {
      if (c.exitCode === null && c.signalCode === null && c.pid) {
        try {
          process.kill(-c.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    // Anything left in the namespace we created (epmd children, inet_gethost): by PID.
    const left = spawnSync("ip", ["netns", "pids", NS], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).map(Number);
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    spawnSync("ip", ["netns", "del", NS]);
    spawnSync("ip", ["link", "del", VETH]); // normally gone with its peer
    rmSync(dir, { recursive: true, force: true });
  });

  it("the offline check (RabbitMQ's Cuttlefish + schemas) accepts the rendered rabbitmq.conf and conf.d seed list, rejects 3.11's default_queue_type", () => {
    const run = (f: string) => spawnSync("sh", ["-c", RABBITMQ_CONF_VALIDATE.replace("{file}", f)], { encoding: "utf8", timeout: 20_000 });
    const good = run(paths.conf);
    assert.equal(good.status, 0, good.stderr);
    const bad = run(paths.badConf);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown variable: default_queue_type/);
    // file_accessible: load_definitions naming a missing file is caught too.
    const missing = join(dir, "missing-defs.conf");
    writeFileSync(missing, readFileSync(paths.conf, "utf8").replace(paths.definitions, join(dir, "nope.json")));
    assert.equal(run(missing).status, 1);
    // conf.d's cluster formation file (the classic_config seed list) by the same check; a
    // misspelt key in it is refused
    const three = renderPart.render!({ plan: threeNodePlan(), secrets: SECRETS, materials: {}, template: renderTemplate });
    const seeds = three.files.find((f) => f.host === "rmq1" && f.path === CLUSTER_FORMATION_CONF)!;
    const seedsFile = join(dir, "10-haforge-cluster-formation.conf");
    writeFileSync(seedsFile, seeds.content);
    const ok = run(seedsFile);
    assert.equal(ok.status, 0, ok.stderr);
    writeFileSync(seedsFile, seeds.content.replace("classic_config.nodes.2", "classic_config.node.2"));
    assert.equal(run(seedsFile).status, 1);
  });

  it("rabbitmq-env.conf passes its validate (sh -n); the service definitions pass systemd's and supervisor's parsers", () => {
    const envCheck = get(RABBITMQ_ENV_CONF).validate!.replace("{file}", paths.envConf);
    assert.equal(spawnSync("sh", ["-c", envCheck]).status, 0);
    const three = renderPart.render!({ plan: threeNodePlan(), secrets: SECRETS, materials: {}, template: renderTemplate });
    const unitDir = join(dir, "units");
    mkdirSync(unitDir);
    // Debian's packaged unit with haforge's drop-ins (if any) merged in: what systemd loads.
    writeFileSync(join(unitDir, "rabbitmq-server.service"), renderedUnit(three.files, "rmq1", "rabbitmq-server").text);
    const verify = spawnSync("systemd-analyze", ["verify", join(unitDir, "rabbitmq-server.service")], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), "", "systemd-analyze verify has no complaint");
    const program = three.files.find((f) => f.host === "rmq3" && f.path === "/etc/supervisor/conf.d/rabbitmq-server.conf")!;
    const progFile = join(unitDir, "rabbitmq-server.conf");
    writeFileSync(progFile, program.content);
    const mainConf = join(unitDir, "supervisord.conf");
    writeFileSync(mainConf, `[supervisord]\nlogfile=/dev/null\npidfile=${join(unitDir, "s.pid")}\n[include]\nfiles = ${progFile}\n`);
    // supervisord's own config loader (Debian's python3 has the supervisor package).
    const py = [
      "import sys, json",
      "from supervisor.options import ServerOptions",
      "o = ServerOptions(); o.configfile = sys.argv[1]; o.process_config(do_usage=False)",
      "p = o.process_group_configs[0].process_configs[0]",
      "print(json.dumps({'name': p.name, 'command': p.command, 'uid': p.uid, 'env': p.environment, 'stopasgroup': p.stopasgroup}))",
    ].join("\n");
    const parsed = spawnSync("/usr/bin/python3", ["-c", py, mainConf], { encoding: "utf8", timeout: 20_000 });
    assert.equal(parsed.status, 0, parsed.stderr);
    assert.deepEqual(JSON.parse(parsed.stdout), {
      name: "rabbitmq-server",
      command: SERVER_COMMAND,
      uid: rabbitmqUid,
      env: { HOME: "/var/lib/rabbitmq" },
      stopasgroup: true,
    });
  });

  it(`boots with the rendered files (bounded ${BOOT_TIMEOUT_MS / 1000} s) under the rendered node name`, async () => {
    assert.ok(node);
    let bootMs = -1;
    while (Date.now() - bootStart < BOOT_TIMEOUT_MS && !node.exited) {
      if (cli(["rabbitmq-diagnostics", "-q", "check_running"], 10_000).status === 0) {
        bootMs = Date.now() - bootStart;
        break;
      }
      await sleep(500);
    }
    assert.ok(!node.exited, `node exited during boot:\n${readFileSync(node.log, "utf8").slice(-3000)}`);
    assert.ok(bootMs >= 0, `not running after ${BOOT_TIMEOUT_MS} ms:\n${readFileSync(node.log, "utf8").slice(-3000)}`);
    const started = /Server startup complete/.test(readFileSync(node.log, "utf8"));
    console.log(`# rabbitmq boot: ${bootMs} ms to check_running (log says startup complete: ${started})`);
    const status = cli(["rabbitmqctl", "-q", "cluster_status", "--formatter", "json"]);
    assert.equal(status.status, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.deepEqual(s.running_nodes, [`rabbit@${NODE_ADDR}`]);
    assert.equal(s.cluster_name, "rmq-system");
    const listeners = (s.listeners[`rabbit@${NODE_ADDR}`] as { protocol: string; port: number }[]).map((l) => [l.protocol, l.port]).sort();
    assert.deepEqual(listeners, [
      ["amqp", PORT],
      ["clustering", 25672],
      ["http", MGMT_PORT],
    ]);
  });

  it("rabbitmqctl: the vhost exists with quorum as default queue type, the user has all permissions on it, no guest", () => {
    const vhosts = cli(["rabbitmqctl", "-q", "list_vhosts", "name", "default_queue_type"]);
    assert.equal(vhosts.status, 0, vhosts.stderr);
    // Only ours: with definitions, RabbitMQ seeds neither "/" nor guest.
    assert.deepEqual(vhosts.stdout.trim().split("\n").slice(1), ["tower\tquorum"]);
    // Users and permissions in one CLI round trip (each rabbitmqctl start costs ~1 s or more).
    const exported = cli(["rabbitmqctl", "-q", "export_definitions", "-", "--format", "json"]);
    assert.equal(exported.status, 0, exported.stderr);
    const defs = JSON.parse(exported.stdout);
    assert.deepEqual(
      defs.users.map((u: { name: string; tags: string[] }) => [u.name, u.tags]),
      [["tower", ["monitoring"]]],
    );
    assert.deepEqual(defs.permissions, [{ user: "tower", vhost: "tower", configure: ".*", write: ".*", read: ".*" }]);
  });

  it("AMQP 0-9-1: the user logs into the vhost on the configured port; a typeless durable queue is quorum", async () => {
    const opts = { protocol: "amqp", hostname: NODE_ADDR, port: PORT, username: "tower", password: PASSWORD, vhost: "tower" };
    const conn = await amqp.connect(opts, { timeout: 5000 });
    try {
      const ch = await conn.createChannel();
      const ok = await ch.assertQueue("haforge-probe", { durable: true });
      assert.equal(ok.queue, "haforge-probe");
      await ch.close();
    } finally {
      await conn.close();
    }
    const queues = cli(["rabbitmqctl", "-q", "list_queues", "-p", "tower", "name", "type"]);
    assert.deepEqual(queues.stdout.trim().split("\n").slice(1), ["haforge-probe\tquorum"]);
    await assert.rejects(amqp.connect({ ...opts, password: "wrong" }, { timeout: 5000 }), /ACCESS.REFUSED|403/);
    await assert.rejects(amqp.connect({ ...opts, vhost: "/" }, { timeout: 5000 }), /NOT.ALLOWED|530|ConnectionClose/);
  });

  it("management API answers on the configured port for the user", async () => {
    const auth = Buffer.from(`tower:${PASSWORD}`).toString("base64");
    const res = await fetch(`http://${NODE_ADDR}:${MGMT_PORT}/api/whoami`, {
      headers: { authorization: `Basic ${auth}` },
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: "tower", tags: ["monitoring"] });
  });

  it("the rendered actions' commands work against the node (import, member check, idempotent forget)", () => {
    const defs = rendered.actions.find((a) => a.id === "rabbitmq-definitions")!;
    const imp = shell(defs.create.replace(DEFINITIONS_PATH, paths.definitions));
    assert.equal(imp.status, 0, imp.stderr);
    // Member action shape from a 3-node render, pointed at this node / at a node that is not here.
    const member = renderPart.render!({ plan: threeNodePlan(), secrets: SECRETS, materials: {}, template: renderTemplate }).actions.find(
      (a) => a.id === "rabbitmq-member-rmq3",
    )!;
    const forNode = (cmd: string, name: string) => cmd.split("rabbit@10.78.0.13").join(name);
    assert.equal(shell(forNode(member.create, `rabbit@${NODE_ADDR}`)).status, 0, "this node is a member");
    // The create waits (bounded, 180 s) for a node that joins later in the roll: bound it here.
    const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
    assert.equal(
      shell(`timeout 6 sh -c ${q(forNode(member.create, `rabbit@${NODE_ADDR}0`))}`).status,
      124,
      "exact match only: still waiting",
    );
    const gone = shell(forNode(member.delete!, "rabbit@10.231.255.99"));
    assert.equal(gone.status, 0, `forgetting a node that is not there converges: ${gone.stderr}`);
  });

  it("stops on SIGTERM to its process group", async () => {
    await stopGroup(node);
    assert.ok(node!.exited, "server script exited");
  });

  it("refuses to boot with a broken key in rabbitmq.conf (the check above can fail)", async () => {
    const broken = startNode(paths.badConf, join(dir, "mnesia-broken"), "broken.log");
    const deadline = Date.now() + 30_000;
    while (!broken.exited && Date.now() < deadline) await sleep(200);
    const log = readFileSync(broken.log, "utf8");
    await stopGroup(broken); // no-op when it exited as expected
    assert.ok(broken.exited, "the node did not stop by itself");
    assert.match(log, /Conf file attempted to set unknown variable: default_queue_type/);
    // Nothing listens: the AMQP port refuses the connection.
    const refused = await new Promise<boolean>((resolve) => {
      const s = tcpConnect({ host: NODE_ADDR, port: PORT, timeout: 3000 });
      s.on("connect", () => (s.destroy(), resolve(false)));
      s.on("error", () => resolve(true));
      s.on("timeout", () => (s.destroy(), resolve(false)));
    });
    assert.ok(refused, "AMQP port must be closed");
    assert.ok(!existsSync(join(dir, "mnesia-broken", `rabbit@${NODE_ADDR}`, "schema.DAT")), "no database was created");
  });
});
