/**
 * RabbitMQ plan (src/services/rabbitmq/plan.ts): node names, long/short names, cookie, password,
 * ports, quorum, rolling group. The naming rules are checked against the real Erlang runtime
 * RabbitMQ runs on (`erl -name` / `-sname`, what RABBITMQ_USE_LONGNAME switches between): the
 * plan's verdict must match whether Erlang accepts the node name and whether two nodes connect.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import type { Finding } from "../../src/core/findings";
import { parseInventoryText } from "../../src/inventory/load";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { majorityQuorum } from "../../src/plan/quorum";
import { nameKind } from "../../src/services/rabbitmq/plan";

const pinned = { knownHostsFile: "/etc/haforge/known_hosts" };
const hostsWith = (parts: readonly (string | undefined)[]) =>
  parts.map((internal, i) => ({
    name: `node${i + 1}`,
    address: `192.0.2.${i + 1}`,
    ssh: pinned,
    ...(internal ? { internalAddress: internal } : {}),
  }));

function cluster(internal: readonly (string | undefined)[], rabbitmq: Record<string, unknown> = {}): InventoryInput {
  const hosts = hostsWith(internal);
  return {
    hosts: [...hosts, { name: "db", address: "192.0.2.50", ssh: pinned }],
    tower: {
      instanceGroups: [{ name: "tower", hosts: hosts.map((h) => h.name) }],
      database: { hosts: ["db"], password: { secret: "pg" } },
      adminPassword: { secret: "admin" },
    },
    rabbitmq: { cookie: { secret: "cookie" }, password: { secret: "rmq" }, ...rabbitmq },
  };
}
const plan = (input: InventoryInput) => planCluster(Inventory.parse(input));
const codes = (fs: readonly Finding[]) => fs.map((f) => f.code);
const only = (fs: readonly Finding[], code: string) => fs.filter((f) => f.code === code);

describe("rabbitmq plan", () => {
  it("nameKind: short, FQDN, IPv4, IPv6", () => {
    assert.equal(nameKind("tower1"), "short");
    assert.equal(nameKind("tower1.example.com"), "fqdn");
    assert.equal(nameKind("10.1.0.11"), "ipv4");
    assert.equal(nameKind("fd00::1"), "ipv6");
    assert.equal(nameKind("999.1.1.1"), "fqdn"); // not an IP: Erlang sees a dotted name
  });

  it("quorum math: floor(n/2)+1, failures tolerated", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => majorityQuorum(n)),
      [
        { expectedVotes: 1, quorum: 1, failuresTolerated: 0 },
        { expectedVotes: 2, quorum: 2, failuresTolerated: 0 },
        { expectedVotes: 3, quorum: 2, failuresTolerated: 1 },
        { expectedVotes: 4, quorum: 3, failuresTolerated: 1 },
        { expectedVotes: 5, quorum: 3, failuresTolerated: 2 },
      ],
    );
  });

  it("nodes default to every instance, named by rabbitmq_host (long names derived for IPs)", () => {
    const r = plan(cluster(["10.1.0.11", "10.1.0.12", "10.1.0.13"]));
    assert.deepEqual(r.findings, []);
    const p = r.plan!.rabbitmq!;
    assert.deepEqual(p.nodes, [
      { host: "node1", nodeName: "rabbit@10.1.0.11", address: "10.1.0.11" },
      { host: "node2", nodeName: "rabbit@10.1.0.12", address: "10.1.0.12" },
      { host: "node3", nodeName: "rabbit@10.1.0.13", address: "10.1.0.13" },
    ]);
    assert.equal(p.useLongName, true);
    assert.equal(p.useLongNameDerived, true);
    assert.deepEqual(
      [p.port, p.vhost, p.username, p.partitionHandling, p.enableManagement],
      [5672, "tower", "tower", "pause_minority", false],
    );
    assert.deepEqual(p.quorum, { expectedVotes: 3, quorum: 2, failuresTolerated: 1 });
    // Tower instances have their own rolling group (restarts roll one instance at a time).
    assert.deepEqual(
      r.plan!.rollingGroups.filter((g) => g.id === "rabbitmq"),
      [{ id: "rabbitmq", service: "rabbitmq-server", hosts: ["node1", "node2", "node3"], maxUnavailable: 1, quorum: p.quorum }],
    );
    assert.ok(r.plan!.hosts.filter((h) => h.name.startsWith("node")).every((h) => h.roles.includes("rabbitmq")));
    assert.ok(!r.plan!.hosts.find((h) => h.name === "db")!.roles.includes("rabbitmq"));
  });

  it("short host names derive short names; the node name is the host name", () => {
    const r = plan(cluster([undefined, undefined, undefined]));
    assert.deepEqual(r.findings, []);
    assert.equal(r.plan!.rabbitmq!.useLongName, false);
    assert.deepEqual(
      r.plan!.rabbitmq!.nodes.map((n) => n.nodeName),
      ["rabbit@node1", "rabbit@node2", "rabbit@node3"],
    );
  });

  it("mixing short and long addressing is an error, at the odd node", () => {
    const r = plan(cluster(["10.1.0.11", "10.1.0.12", undefined]));
    const f = only(r.findings, "rabbitmq.mixed-name-lengths");
    assert.equal(f.length, 1);
    assert.equal(f[0]!.path, "hosts[2].name");
    assert.equal(r.plan, undefined);
  });

  it("useLongName set against the addressing is an error; set with it, fine", () => {
    const a = plan(cluster(["10.1.0.11", "10.1.0.12", "10.1.0.13"], { useLongName: false }));
    assert.deepEqual(
      only(a.findings, "rabbitmq.long-name-mismatch").map((f) => f.path),
      ["rabbitmq.useLongName"],
    );
    const b = plan(cluster(["tower1", "tower2", "tower3"], { useLongName: true }));
    assert.equal(only(b.findings, "rabbitmq.long-name-mismatch").length, 1);
    const c = plan(cluster(["t1.example.com", "t2.example.com", "t3.example.com"], { useLongName: true }));
    assert.deepEqual(c.findings, []);
    assert.equal(c.plan!.rabbitmq!.useLongNameDerived, false);
  });

  it("the Tower default rabbitmq_use_long_name=false with IP rabbitmq_host: error at the INI var", () => {
    const ini = parseInventoryText(
      "[tower]\na rabbitmq_host=10.1.0.1\nb rabbitmq_host=10.1.0.2\nc rabbitmq_host=10.1.0.3\n[database]\ndb\n[all:vars]\nrabbitmq_cookie=s3cret-cookie\n# Needs to be true for fqdns and ip addresses\nrabbitmq_use_long_name=false\n",
      "inventory",
    );
    const f = only(planCluster(ini.inventory!).findings, "rabbitmq.long-name-mismatch");
    assert.deepEqual(
      f.map((x) => ini.sourcePath(x.path)),
      ["[all:vars] rabbitmq_use_long_name"],
    );
  });

  it("cookie: empty on a cluster is an error, Tower's default a warning, both fine on one node", () => {
    const empty = plan(cluster(["10.1.0.11", "10.1.0.12"], { cookie: { value: "" } }));
    assert.deepEqual(
      only(empty.findings, "rabbitmq.cookie-empty").map((f) => [f.severity, f.path]),
      [["error", "rabbitmq.cookie"]],
    );
    const monster = plan(cluster(["10.1.0.11", "10.1.0.12", "10.1.0.13"], { cookie: { value: "cookiemonster" } }));
    assert.deepEqual(
      only(monster.findings, "rabbitmq.cookie-default").map((f) => f.severity),
      ["warning"],
    );
    // Unset: the schema default is Tower's cookiemonster.
    const unset = cluster(["10.1.0.11", "10.1.0.12", "10.1.0.13"]);
    delete (unset.rabbitmq as Record<string, unknown>).cookie;
    assert.equal(only(plan(unset).findings, "rabbitmq.cookie-default").length, 1);
    const single = plan(cluster(["10.1.0.11"], { cookie: { value: "" } }));
    assert.deepEqual(
      codes(single.findings).filter((c) => c.startsWith("rabbitmq.cookie")),
      [],
    );
    const good = plan(cluster(["10.1.0.11", "10.1.0.12", "10.1.0.13"], { cookie: { value: "x7Yq2LmP9sDf" } }));
    assert.deepEqual(
      codes(good.findings).filter((c) => c.startsWith("rabbitmq.cookie")),
      [],
    );
  });

  it("an empty password is a warning", () => {
    const r = plan(cluster(["10.1.0.11"], { password: { value: "" } }));
    assert.deepEqual(
      only(r.findings, "rabbitmq.password-empty").map((f) => [f.severity, f.path]),
      [["warning", "rabbitmq.password"]],
    );
    assert.equal(only(plan(cluster(["10.1.0.11"])).findings, "rabbitmq.password-empty").length, 0);
  });

  it("planned with Tower defaults when only a tower section exists", () => {
    const input = cluster(["10.1.0.11"]);
    delete (input as Record<string, unknown>).rabbitmq;
    const p = plan(input).plan!.rabbitmq!;
    assert.deepEqual([p.port, p.cookie, p.password], [5672, { value: "cookiemonster" }, { value: "" }]);
  });

  it("explicit nodes must exist and not repeat; no tower and no nodes is an error", () => {
    const a = cluster(["10.1.0.11", "10.1.0.12", "10.1.0.13"], { nodes: ["node1", "ghost", "node1"] });
    const fs = plan(a).findings;
    assert.deepEqual(
      only(fs, "rabbitmq.unknown-host").map((f) => f.path),
      ["rabbitmq.nodes[1]"],
    );
    assert.deepEqual(
      only(fs, "rabbitmq.duplicate-node").map((f) => f.path),
      ["rabbitmq.nodes[2]"],
    );
    const bare = plan({ hosts: [{ name: "a", address: "10.0.0.1", ssh: pinned }], rabbitmq: {} });
    assert.deepEqual(
      only(bare.findings, "rabbitmq.no-nodes").map((f) => f.path),
      ["rabbitmq.nodes"],
    );
    const ok = plan({
      hosts: [{ name: "a", address: "10.0.0.1", ssh: pinned }],
      rabbitmq: { nodes: ["a"], password: { secret: "p" }, cookie: { secret: "c" } },
    });
    assert.deepEqual(ok.findings, []);
    assert.deepEqual(
      ok.plan!.rabbitmq!.nodes.map((n) => n.nodeName),
      ["rabbit@a"],
    );
  });

  it("two hosts with the same short label collide as short node names", () => {
    const r = plan({
      hosts: [
        { name: "a", address: "10.0.0.1", internalAddress: "mq", ssh: pinned },
        { name: "b", address: "10.0.0.2", internalAddress: "MQ", ssh: pinned },
      ],
      rabbitmq: { nodes: ["a", "b"], cookie: { secret: "c" }, password: { secret: "p" } },
    });
    assert.deepEqual(
      only(r.findings, "rabbitmq.duplicate-node-name").map((f) => f.path),
      ["hosts[1].internalAddress"],
    );
  });

  it("ports: AMQP + 20000 must fit, management must not share the AMQP port", () => {
    assert.equal(only(plan(cluster(["10.1.0.11"], { port: 50000 })).findings, "rabbitmq.dist-port-out-of-range").length, 1);
    assert.equal(only(plan(cluster(["10.1.0.11"], { port: 45535 })).findings, "rabbitmq.dist-port-out-of-range").length, 0);
    assert.equal(
      only(plan(cluster(["10.1.0.11"], { enableManagement: true, managementPort: 5672 })).findings, "rabbitmq.port-conflict").length,
      1,
    );
    assert.equal(only(plan(cluster(["10.1.0.11"], { enableManagement: true })).findings, "rabbitmq.port-conflict").length, 0);
  });

  it("partition handling: pause_minority on 2 nodes, even counts, ignore", () => {
    assert.equal(only(plan(cluster(["10.1.0.11", "10.1.0.12"])).findings, "rabbitmq.pause-minority-two-nodes").length, 1);
    assert.equal(
      only(plan(cluster(["10.1.0.11", "10.1.0.12"], { partitionHandling: "autoheal" })).findings, "rabbitmq.pause-minority-two-nodes")
        .length,
      0,
    );
    assert.equal(only(plan(cluster(["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"])).findings, "rabbitmq.even-node-count").length, 1);
    assert.equal(only(plan(cluster(["10.1.0.1", "10.1.0.2", "10.1.0.3"])).findings, "rabbitmq.even-node-count").length, 0);
    assert.equal(
      only(
        plan(cluster(["10.1.0.1", "10.1.0.2", "10.1.0.3"], { partitionHandling: "ignore" })).findings,
        "rabbitmq.partition-handling-ignore",
      ).length,
      1,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The real runtime's verdict

const erlAvailable = spawnSync("sh", ["-c", "command -v erl && command -v epmd"], { stdio: "ignore" }).status === 0;

/** Boot a distributed Erlang node with no epmd at all (fixed port); true when it came up. */
function erlAccepts(flag: "-name" | "-sname", node: string): { ok: boolean; output: string } {
  const r = spawnSync(
    "erl",
    [
      "-noshell",
      "-start_epmd",
      "false",
      "-erl_epmd_port",
      "45999",
      flag,
      node,
      "-setcookie",
      "haforge-test",
      "-eval",
      'io:format("UP~n"), halt().',
    ],
    { encoding: "utf8", timeout: 20_000 },
  );
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return { ok: r.status === 0 && output.includes("UP"), output };
}

describe("rabbitmq naming vs the real Erlang runtime", { skip: erlAvailable ? false : "erl not installed" }, () => {
  it("every planned node name boots in the planned mode; the wrong mode is what the plan rejects", () => {
    for (const internal of [
      ["10.1.0.11", "10.1.0.12", "10.1.0.13"],
      ["mq1.example.com", "mq2.example.com", "mq3.example.com"],
      [undefined, undefined, undefined],
    ]) {
      const p = plan(cluster(internal)).plan!.rabbitmq!;
      // All nodes of a plan have the same form; one boot per plan keeps this test fast.
      const n = p.nodes[0]!;
      const planned = erlAccepts(p.useLongName ? "-name" : "-sname", n.nodeName);
      assert.ok(planned.ok, `${p.useLongName ? "-name" : "-sname"} ${n.nodeName} should boot:\n${planned.output}`);
      if (p.useLongName) {
        // The plan says useLongName=false here is an error; Erlang agrees.
        assert.equal(only(plan(cluster(internal, { useLongName: false })).findings, "rabbitmq.long-name-mismatch").length, 1);
        const wrong = erlAccepts("-sname", p.nodes[0]!.nodeName);
        assert.equal(wrong.ok, false, `-sname ${p.nodes[0]!.nodeName} should be refused`);
        assert.match(wrong.output, /Can't set short node name/);
      }
    }
  });
});

describe("mixed short/long names vs two real Erlang nodes", { skip: erlAvailable ? false : "erl not installed" }, () => {
  let epmd: ChildProcess | undefined;
  let server: ChildProcess | undefined;
  let port = 0;
  const env = () => ({ ...process.env, ERL_EPMD_PORT: String(port) });

  before(async () => {
    port = await freePort();
    // Our own epmd on a private port, in the foreground, stopped by PID in after().
    epmd = spawn("epmd", ["-port", String(port)], { stdio: "ignore" });
    await waitFor(() => spawnSync("epmd", ["-port", String(port), "-names"], { stdio: "ignore" }).status === 0, 5000);
    server = spawn(
      "erl",
      [
        "-noshell",
        "-start_epmd",
        "false",
        "-name",
        "srv@127.0.0.1",
        "-setcookie",
        "haforge-test",
        "-eval",
        "receive after 60000 -> halt() end",
      ],
      { env: env(), stdio: "ignore" },
    );
    await waitFor(() => (spawnSync("epmd", ["-port", String(port), "-names"], { encoding: "utf8" }).stdout ?? "").includes("srv"), 10_000);
  });
  after(() => {
    if (server?.pid) process.kill(server.pid, "SIGKILL");
    if (epmd?.pid) process.kill(epmd.pid, "SIGKILL");
  });

  const ping = (flag: "-name" | "-sname", node: string) =>
    spawnSync(
      "erl",
      [
        "-noshell",
        "-start_epmd",
        "false",
        flag,
        node,
        "-setcookie",
        "haforge-test",
        "-eval",
        'io:format("~p~n", [net_adm:ping(list_to_atom("srv@127.0.0.1"))]), halt().',
      ],
      {
        env: env(),
        encoding: "utf8",
        timeout: 20_000,
      },
    ).stdout ?? "";

  it("a long-name node reaches a long-name node (pong); a short-name node cannot (pang) — as the plan says", () => {
    assert.match(ping("-name", "cli@127.0.0.1"), /pong/);
    assert.match(ping("-sname", "cli@localhost"), /pang/);
    // And the plan rejects exactly that mix.
    assert.equal(only(plan(cluster(["127.0.0.1", "localhost"])).findings, "rabbitmq.mixed-name-lengths").length, 1);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms`);
}
