/**
 * Structure of the RabbitMQ render (files, services, actions) over hand-built plans. The real
 * daemon's verdict on the same files is tests/system/rabbitmq.test.ts.
 */
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FileSpec } from "../../src/core/desired-state";
import type { ClusterPlan } from "../../src/plan/types";
import { renderTemplate } from "../../src/render/templates";
import { rabbitPasswordHash } from "../../src/services/rabbitmq/definitions";
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
import { planExample } from "../fixtures/common";
import { COOKIE, PASSWORD, RMQ_HOSTS, SECRETS, singleNodePlan, threeNodePlan } from "../fixtures/rabbitmq-plan";

const render = (plan: ClusterPlan, secrets = SECRETS) => renderPart.render!({ plan, secrets, materials: {}, template: renderTemplate });

function file(files: readonly FileSpec[], host: string, path: string): FileSpec {
  const f = files.find((x) => x.host === host && x.path === path);
  assert.ok(f, `${host}:${path} rendered`);
  return f;
}

/** `key = value` lines of a Cuttlefish file (comments and blanks dropped), in order. */
function confEntries(content: string): [string, string][] {
  return content
    .split("\n")
    .filter((l) => l.trim() && !l.trimStart().startsWith("#"))
    .map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i).trim(), l.slice(i + 1).trim()];
    });
}

describe("rabbitmq render: files per node", () => {
  const plan = threeNodePlan();
  const r = render(plan);

  it("renders the same eight files on every node, the unit for the host's init system", () => {
    for (const h of RMQ_HOSTS) {
      // systemd: Debian's rabbitmq-server.service as packaged; supervisor: a program file.
      const unit = h.init === "systemd" ? [] : ["/etc/supervisor/conf.d/rabbitmq-server.conf"];
      const paths = r.files
        .filter((f) => f.host === h.name)
        .map((f) => f.path)
        .sort();
      assert.deepEqual(
        paths,
        [
          DEFINITIONS_PATH,
          ENABLED_PLUGINS,
          RABBITMQ_ENV_CONF,
          RABBITMQ_CONF,
          CLUSTER_FORMATION_CONF,
          ...unit,
          ERLANG_COOKIE,
          REJOIN_SCRIPT,
        ].sort(),
      );
    }
  });

  it("conf.d cluster formation: classic_config lists every node in plan order; a change restarts nothing, a new node's start waits for it", () => {
    for (const h of RMQ_HOSTS) {
      const f = file(r.files, h.name, CLUSTER_FORMATION_CONF);
      const entries = confEntries(f.content);
      assert.deepEqual(entries, [
        ["cluster_formation.peer_discovery_backend", "classic_config"],
        ...RMQ_HOSTS.map((x, i): [string, string] => [`cluster_formation.classic_config.nodes.${i + 1}`, `rabbit@${x.address}`]),
      ]);
      assert.deepEqual(f.notify, [], "peer discovery runs on a blank node's first boot only: no restart of running nodes");
      assert.deepEqual(f.neededAtStart, ["rabbitmq-server"]);
      assert.ok(f.validate, "checked by RabbitMQ's Cuttlefish like rabbitmq.conf");
      // no key of rabbitmq.conf is repeated here (conf.d is read after it and would override)
      const main = confEntries(file(r.files, h.name, RABBITMQ_CONF).content).map(([k]) => k);
      assert.deepEqual(
        entries.filter(([k]) => main.includes(k)),
        [],
      );
    }
  });

  it("rabbitmq.conf: the port, partition handling, definitions", () => {
    for (const h of RMQ_HOSTS) {
      const entries = confEntries(file(r.files, h.name, RABBITMQ_CONF).content);
      const keys = entries.map(([k]) => k);
      assert.equal(new Set(keys).size, keys.length, "no key twice");
      const get = (k: string) => entries.find(([x]) => x === k)?.[1];
      assert.equal(get("listeners.tcp.default"), "5672");
      assert.equal(get("cluster_formation.peer_discovery_backend"), undefined, "in conf.d");
      assert.equal(get("cluster_partition_handling"), "pause_minority");
      assert.equal(get("cluster_name"), "rmq-fixture");
      assert.equal(get("load_definitions"), DEFINITIONS_PATH);
      assert.equal(get("loopback_users.guest"), "true");
      // 3.10 has no such key: a node refuses to boot with it (proved in the system test).
      assert.equal(get("default_queue_type"), undefined);
      assert.equal(get("management.tcp.port"), undefined);
      // Users come from definitions only (see definitions.ts); no password in this file.
      assert.equal(get("default_pass"), undefined);
    }
  });

  it("rabbitmq-env.conf names the node after the plan and uses long names for IPs", () => {
    const env = file(r.files, "rmq2", RABBITMQ_ENV_CONF).content;
    assert.match(env, /^NODENAME=rabbit@10\.78\.0\.12$/m);
    assert.match(env, /^USE_LONGNAME=true$/m);
    assert.doesNotMatch(env, /^NODE_IP_ADDRESS=/m);
  });

  it("enabled_plugins is an empty Erlang list without management", () => {
    assert.equal(file(r.files, "rmq1", ENABLED_PLUGINS).content, "[].\n");
  });

  it("the cookie is the resolved secret, 0400 rabbitmq, secret, no newline", () => {
    const f = file(r.files, "rmq1", ERLANG_COOKIE);
    assert.equal(f.content, COOKIE);
    assert.deepEqual([f.mode, f.owner, f.group, f.secret], ["0400", "rabbitmq", "rabbitmq", true]);
    assert.deepEqual(f.notify, ["rabbitmq-server"]);
  });

  it("definitions: user with RabbitMQ's salted sha256 of the password, quorum vhost, full permissions on it", () => {
    const f = file(r.files, "rmq3", DEFINITIONS_PATH);
    assert.equal(f.secret, true);
    assert.deepEqual(f.notify, [], "a changed definitions file is re-imported live, not by a restart");
    const d = JSON.parse(f.content);
    assert.equal(d.users.length, 1);
    const u = d.users[0];
    assert.equal(u.name, "tower");
    assert.equal(u.hashing_algorithm, "rabbit_password_hashing_sha256");
    assert.deepEqual(u.tags, []);
    const raw = Buffer.from(u.password_hash, "base64");
    assert.equal(raw.length, 4 + 32);
    const salt = raw.subarray(0, 4);
    assert.deepEqual(
      raw.subarray(4),
      createHash("sha256")
        .update(Buffer.concat([salt, Buffer.from(PASSWORD, "utf8")]))
        .digest(),
    );
    assert.deepEqual(d.vhosts, [
      { name: "tower", metadata: { description: "Managed by haforge", tags: [], default_queue_type: "quorum" } },
    ]);
    assert.deepEqual(d.permissions, [{ user: "tower", vhost: "tower", configure: ".*", write: ".*", read: ".*" }]);
    // Same file on every node.
    for (const h of RMQ_HOSTS) assert.equal(file(r.files, h.name, DEFINITIONS_PATH).content, f.content);
  });

  it("the hash salt differs per cluster and per user", () => {
    const a = rabbitPasswordHash("c1", "u", "pw");
    assert.notEqual(a, rabbitPasswordHash("c2", "u", "pw"));
    assert.notEqual(a, rabbitPasswordHash("c1", "v", "pw"));
    assert.equal(a, rabbitPasswordHash("c1", "u", "pw"));
  });

  it("no secret value appears in a file not marked secret, nor in any command", () => {
    for (const f of r.files.filter((x) => !x.secret)) {
      assert.ok(!f.content.includes(PASSWORD) && !f.content.includes(COOKIE), `${f.host}:${f.path}`);
    }
    for (const a of r.actions) {
      for (const cmd of [a.create, a.delete ?? ""]) assert.ok(!cmd.includes(PASSWORD) && !cmd.includes(COOKIE), a.id);
      assert.equal(a.secret, false);
    }
  });

  it("only rabbitmq.conf carries the offline Cuttlefish check; env conf an sh syntax check", () => {
    assert.match(file(r.files, "rmq1", RABBITMQ_CONF).validate ?? "", /^erl -noshell .*cuttlefish_generator:map.* -extra \{file\}$/);
    assert.equal(file(r.files, "rmq1", RABBITMQ_ENV_CONF).validate, "sh -n {file}");
  });
});

describe("rabbitmq render: services", () => {
  const r = render(threeNodePlan());

  it("one rabbitmq-server per node, manager from the host, health gate, roll group rabbitmq", () => {
    assert.deepEqual(
      r.services.map((s) => [s.host, s.name, s.manager, s.rollGroup]),
      RMQ_HOSTS.map((h) => [h.name, "rabbitmq-server", h.init, "rabbitmq"]),
    );
    for (const s of r.services) assert.match(s.health ?? "", /rabbitmq-diagnostics -q check_running/);
  });

  it("systemd keeps the packaged unit; the supervisor program runs the foreground server as rabbitmq with HOME set", () => {
    assert.equal(
      r.files.find((f) => f.path.startsWith("/etc/systemd/")),
      undefined,
      "the packaged rabbitmq-server.service is not replaced",
    );
    const prog = file(r.files, "rmq3", "/etc/supervisor/conf.d/rabbitmq-server.conf").content;
    assert.match(prog, /^\[program:rabbitmq-server\]$/m);
    assert.match(prog, new RegExp(`^command=${SERVER_COMMAND}$`, "m"));
    assert.match(prog, /^user=rabbitmq$/m);
    assert.match(prog, /^environment=HOME="\/var\/lib\/rabbitmq"$/m);
  });

  it("config files restart the node; every notify names a service on that host", () => {
    for (const f of r.files)
      for (const n of f.notify)
        assert.ok(
          r.services.some((s) => s.host === f.host && s.name === n),
          `${f.host}:${f.path} → ${n}`,
        );
    for (const p of [RABBITMQ_CONF, RABBITMQ_ENV_CONF, ENABLED_PLUGINS])
      assert.deepEqual(file(r.files, "rmq1", p).notify, ["rabbitmq-server"]);
  });
});

describe("rabbitmq render: cluster actions", () => {
  const r = render(threeNodePlan());

  it("re-imports definitions on the first node when the file changes, password never on the line", () => {
    const a = r.actions.find((x) => x.id === "rabbitmq-definitions");
    assert.ok(a);
    assert.equal(a.host, "rmq1");
    assert.equal(a.create, `rabbitmqctl -q import_definitions ${DEFINITIONS_PATH}`);
    assert.deepEqual(a.triggers, [DEFINITIONS_PATH]);
  });

  it("each node has a member action run from another node that forgets it on delete", () => {
    for (const h of RMQ_HOSTS) {
      const a = r.actions.find((x) => x.id === `rabbitmq-member-${h.name}`);
      assert.ok(a, h.name);
      assert.notEqual(a.host, h.name, "forget_cluster_node must run on a remaining member");
      assert.equal(a.host, h.name === "rmq1" ? "rmq2" : "rmq1");
      assert.match(a.create, new RegExp(`cluster_status --formatter json \\| grep -qF '"rabbit@${h.address.replace(/\./g, "\\.")}"'`));
      assert.ok(a.delete?.includes(`rabbitmqctl forget_cluster_node rabbit@${h.address}`), a.delete);
      assert.ok(a.delete?.includes(`rabbitmqctl -q -n rabbit@${h.address} stop_app`), "stops the app first");
    }
  });

  it("ids are unique and dependencies known", () => {
    const ids = r.actions.map((a) => a.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const a of r.actions) for (const d of a.dependsOn) assert.ok(ids.includes(d));
  });

  it("a single-node cluster has nothing to join or forget", () => {
    const one = render(singleNodePlan("10.1.2.3", 5679));
    assert.deepEqual(
      one.actions.map((a) => a.id),
      ["rabbitmq-definitions"],
    );
  });
});

describe("rabbitmq render: variants", () => {
  it("management: plugin enabled, port set, the user may log in (monitoring tag)", () => {
    const r = render(threeNodePlan({ management: true }));
    assert.equal(file(r.files, "rmq1", ENABLED_PLUGINS).content, "[rabbitmq_management].\n");
    assert.match(file(r.files, "rmq1", RABBITMQ_CONF).content, /^management\.tcp\.port = 15672$/m);
    assert.deepEqual(JSON.parse(file(r.files, "rmq1", DEFINITIONS_PATH).content).users[0].tags, ["monitoring"]);
  });

  it("guest as the broker account may connect over the network", () => {
    const r = render(threeNodePlan({ username: "guest" }));
    assert.match(file(r.files, "rmq1", RABBITMQ_CONF).content, /^loopback_users\.guest = false$/m);
  });

  it("short names: USE_LONGNAME=false and short node names everywhere", () => {
    const r = render(threeNodePlan({ shortNames: true }));
    const env = file(r.files, "rmq2", RABBITMQ_ENV_CONF).content;
    assert.match(env, /^NODENAME=rabbit@rmq2$/m);
    assert.match(env, /^USE_LONGNAME=false$/m);
    assert.match(file(r.files, "rmq1", CLUSTER_FORMATION_CONF).content, /^cluster_formation\.classic_config\.nodes\.3 = rabbit@rmq3$/m);
  });

  it("no rabbitmq in the plan renders nothing", () => {
    const { rabbitmq: _drop, ...rest } = threeNodePlan();
    assert.deepEqual(render(rest as ClusterPlan), { files: [], services: [], actions: [] });
  });

  it("unresolved secrets render deterministic markers instead of throwing", () => {
    const r = render(threeNodePlan(), {});
    const cookie = file(r.files, "rmq1", ERLANG_COOKIE).content;
    assert.match(cookie, /^__HAFORGE_UNRESOLVED_secret_rabbitmqCookie__$/);
  });
});

describe("rabbitmq render: determinism", () => {
  it("same plan + secrets → byte-identical output", () => {
    const a = render(threeNodePlan({ management: true }));
    const b = render(threeNodePlan({ management: true }));
    assert.equal(JSON.stringify(a), JSON.stringify(b));
  });

  it("a password change touches only the definitions file (no broker restart needed)", () => {
    const a = render(threeNodePlan());
    const b = render(threeNodePlan(), { ...SECRETS, "secret:rabbitmqPassword": "another-password" });
    const changed = a.files.filter((f, i) => f.content !== b.files[i]!.content).map((f) => `${f.host}:${f.path}`);
    assert.deepEqual(
      changed,
      RMQ_HOSTS.map((h) => `${h.name}:${DEFINITIONS_PATH}`),
    );
  });
});

describe("rabbitmq render: over the example inventories (planCluster)", () => {
  const secrets = { "secret:rabbitmqPassword": "changeme-in-vault", "secret:rabbitmqCookie": "changeme-in-vault-cookie" };

  it("tower-cluster.yaml: three nodes by internal IP, long names, roll group from the plan", () => {
    const r = render(planExample("tower-cluster.yaml"), secrets);
    assert.deepEqual([...new Set(r.files.map((f) => f.host))], ["towerA", "towerB", "towerC"]);
    const conf = file(r.files, "towerB", CLUSTER_FORMATION_CONF).content;
    for (const ip of ["10.1.0.11", "10.1.0.12", "10.1.0.13"]) assert.match(conf, new RegExp(`= rabbit@${ip.replace(/\./g, "\\.")}$`, "m"));
    assert.match(file(r.files, "towerB", RABBITMQ_ENV_CONF).content, /^NODENAME=rabbit@10\.1\.0\.12\nUSE_LONGNAME=true$/m);
    assert.deepEqual([...new Set(r.services.map((s) => s.rollGroup))], ["rabbitmq"]);
  });

  it("the Tower INI twin renders the same files, apart from what derives from the cluster name", () => {
    const strip = (fs: readonly FileSpec[]) =>
      fs
        .filter((f) => f.path !== DEFINITIONS_PATH)
        .map((f) => ({ ...f, content: f.content.replace(/^(# Managed by haforge: .*|cluster_name = .*)$/gm, "") }));
    const yaml = render(planExample("tower-cluster.yaml"), secrets);
    const ini = render(planExample("tower-cluster.ini"), secrets);
    assert.deepEqual(strip(ini.files), strip(yaml.files));
    assert.deepEqual(ini.actions, yaml.actions);
  });

  it("lab.yaml: short names (USE_LONGNAME=false)", () => {
    const r = render(planExample("lab.yaml"), secrets);
    assert.match(file(r.files, "lab2", RABBITMQ_ENV_CONF).content, /^NODENAME=rabbit@lab2\nUSE_LONGNAME=false$/m);
  });
});
