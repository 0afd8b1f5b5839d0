/**
 * Tower plan rules (src/services/tower/plan.ts), each with a passing and a failing inventory, and
 * the same rules reached from Tower INI files with their findings reported in INI notation.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Finding } from "../../src/core/findings";
import { parseInventoryText } from "../../src/inventory/load";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { hostPackageNeeds } from "../../src/plan/packages";

const pinned = { knownHostsFile: "/etc/haforge/known_hosts" };
const h = (name: string, i: number, extra: Record<string, unknown> = {}) => ({ name, address: `192.0.2.${i}`, ssh: pinned, ...extra });

/** A valid 3-instance cluster; tests change one thing at a time. */
// Drafts are plain, loosely typed data: tests poke at them before the schema parses them.

type Draft = { hosts: Record<string, any>[]; tower: any; rabbitmq?: any };

function base(): Draft {
  return {
    hosts: [h("towerA", 1), h("towerB", 2), h("towerC", 3), h("isoA", 11), h("isoB", 12), h("db", 20)],
    tower: {
      instanceGroups: [
        { name: "tower", hosts: ["towerA", "towerB", "towerC"] },
        { name: "east", hosts: ["towerB"], policy: { minimum: 2 } },
      ],
      isolatedGroups: [{ name: "dmz", controller: "east", hosts: ["isoA", "isoB"] }],
      database: { hosts: ["db"], password: { secret: "pg" } },
      adminPassword: { secret: "admin" },
    },
    rabbitmq: { cookie: { secret: "cookie" }, password: { secret: "rmq" } },
  };
}

const plan = (input: Draft | InventoryInput) => planCluster(Inventory.parse(input));
const find = (fs: readonly Finding[], code: string) => fs.filter((f) => f.code === code);
const expectFinding = (input: Draft, code: string, path?: string, severity: "error" | "warning" = "error") => {
  const { findings } = plan(input);
  const hits = find(findings, code);
  assert.ok(hits.length > 0, `expected ${code}, got ${JSON.stringify(findings.map((f) => `${f.code}@${f.path}`))}`);
  if (path !== undefined)
    assert.ok(
      hits.some((f) => f.path === path),
      `expected ${code} at ${path}, got ${JSON.stringify(hits.map((f) => f.path))}`,
    );
  assert.ok(
    hits.every((f) => f.severity === severity),
    `${code} should be a ${severity}`,
  );
  return hits[0]!;
};
const expectNo = (input: Draft, code: string) => {
  const { findings } = plan(input);
  assert.deepEqual(find(findings, code), [], `unexpected ${code}`);
};

describe("tower plan: the valid base", () => {
  it("plans with no findings at all", () => {
    const r = plan(base());
    assert.deepEqual(r.findings, []);
    assert.ok(r.plan);
    assert.deepEqual(
      r.plan.instanceGroups.map((g) => [g.name, g.instances]),
      [
        ["tower", ["towerA", "towerB", "towerC"]],
        ["east", ["towerA", "towerB"]],
      ],
    );
    assert.deepEqual(r.plan.isolatedGroups, [{ name: "dmz", controller: "east", instances: ["isoA", "isoB"] }]);
    assert.deepEqual(r.plan.database, {
      hosts: ["db"],
      host: "192.0.2.20",
      port: 5432,
      name: "awx",
      username: "awx",
      password: { secret: "pg" },
    });
  });

  it("roles: tower/instance/instance_group:<g>, isolated, controller, database", () => {
    const roles = Object.fromEntries(plan(base()).plan!.hosts.map((x) => [x.name, x.roles]));
    assert.deepEqual(roles.towerA, ["controller", "instance", "instance_group:east", "instance_group:tower", "rabbitmq", "tower"]);
    assert.deepEqual(roles.towerC, ["instance", "instance_group:tower", "rabbitmq", "tower"]);
    assert.deepEqual(roles.isoA, ["isolated"]);
    assert.deepEqual(roles.db, ["database"]);
  });

  it("the Tower doc's first example: instances come from every group ([tower] A B C, east B C, west C D)", () => {
    const r = parseInventoryText(
      "[tower]\nhostA\nhostB\nhostC\n\n[instance_group_east]\nhostB\nhostC\n\n[instance_group_west]\nhostC\nhostD\n\n[database]\nhostDB\n",
      "inventory",
    );
    const p = planCluster(r.inventory!);
    assert.ok(p.plan, JSON.stringify(p.findings));
    assert.deepEqual(
      p.plan.instanceGroups.map((g) => [g.name, g.instances]),
      [
        ["tower", ["hostA", "hostB", "hostC"]],
        ["east", ["hostB", "hostC"]],
        ["west", ["hostC", "hostD"]],
      ],
    );
    assert.deepEqual(
      p.plan.rabbitmq!.nodes.map((n) => n.nodeName),
      ["rabbit@hostA", "rabbit@hostB", "rabbit@hostC", "rabbit@hostD"],
    );
  });
});

describe("tower plan rules", () => {
  it("at least one host in tower", () => {
    const noTower = base();
    noTower.tower.instanceGroups = noTower.tower.instanceGroups.filter((g: any) => g.name !== "tower");
    expectFinding(noTower, "tower.no-tower-group", "tower.instanceGroups");
    const empty = base();
    empty.tower.instanceGroups[0].hosts = [];
    empty.tower.instanceGroups[1].hosts = ["towerA", "towerB", "towerC"];
    expectFinding(empty, "tower.tower-group-empty", "tower.instanceGroups[0].hosts");
    expectNo(base(), "tower.tower-group-empty");
  });

  it("no instance_group_tower / isolated_group_tower", () => {
    const dup = base();
    dup.tower.instanceGroups.push({ name: "tower", hosts: ["towerA"] });
    expectFinding(dup, "tower.reserved-group-name", "tower.instanceGroups[2].name");
    const iso = base();
    iso.tower.isolatedGroups[0].name = "tower";
    expectFinding(iso, "tower.reserved-group-name", "tower.isolatedGroups[0].name");
    expectNo(base(), "tower.reserved-group-name");
    // From INI: reported at the section the user wrote.
    const ini = parseInventoryText("[tower]\na\n[instance_group_tower]\na\n[database]\ndb\n", "inventory");
    const f = find(planCluster(ini.inventory!).findings, "tower.reserved-group-name");
    assert.deepEqual(
      f.map((x) => ini.sourcePath(x.path)),
      ["[instance_group_tower]"],
    );
  });

  it("group names are unique across instance and isolated groups", () => {
    const dup = base();
    dup.tower.isolatedGroups[0].name = "east";
    expectFinding(dup, "tower.duplicate-group", "tower.isolatedGroups[0].name");
    const dup2 = base();
    dup2.tower.instanceGroups.push({ name: "east", hosts: ["towerC"] });
    expectFinding(dup2, "tower.duplicate-group", "tower.instanceGroups[2].name");
    expectNo(base(), "tower.duplicate-group");
  });

  it("YAML group names carry no section prefix (warning)", () => {
    const p = base();
    p.tower.instanceGroups[1].name = "instance_group_east";
    p.tower.isolatedGroups[0].controller = "instance_group_east";
    expectFinding(p, "tower.group-name-prefix", "tower.instanceGroups[1].name", "warning");
    expectNo(base(), "tower.group-name-prefix");
  });

  it("no host named like a group, with or without prefix", () => {
    for (const name of ["east", "instance_group_east", "dmz", "isolated_group_dmz", "tower"]) {
      const p = base();
      p.hosts.push(h(name, 99));
      expectFinding(p, "tower.host-named-like-group", "hosts[6].name");
    }
    const ok = base();
    ok.hosts.push(h("eastern", 99));
    expectNo(ok, "tower.host-named-like-group");
  });

  it("hosts referenced by groups exist (instance, policy list, isolated, database)", () => {
    const a = base();
    a.tower.instanceGroups[1].hosts.push("ghost");
    expectFinding(a, "tower.unknown-host", "tower.instanceGroups[1].hosts[1]");
    const b = base();
    b.tower.instanceGroups[1].policy.list = ["ghost"];
    expectFinding(b, "tower.unknown-host", "tower.instanceGroups[1].policy.list[0]");
    const c = base();
    c.tower.isolatedGroups[0].hosts.push("ghost");
    expectFinding(c, "tower.unknown-host", "tower.isolatedGroups[0].hosts[2]");
    const d = base();
    d.tower.database.hosts = ["ghost"];
    expectFinding(d, "tower.unknown-host", "tower.database.hosts[0]");
    expectNo(base(), "tower.unknown-host");
  });

  it("policy_instance_list entries must be instances", () => {
    const p = base();
    p.tower.instanceGroups[1].policy.list = ["db"];
    expectFinding(p, "tower.policy-list-not-instance", "tower.instanceGroups[1].policy.list[0]");
    const ok = base();
    ok.tower.instanceGroups[1].policy.list = ["towerC"];
    expectNo(ok, "tower.policy-list-not-instance");
    assert.deepEqual(plan(ok).plan!.instanceGroups[1]!.instances, ["towerB", "towerC"]);
  });

  it("isolated hosts are in no tower/instance group", () => {
    const p = base();
    p.tower.instanceGroups[0].hosts.push("isoA");
    expectFinding(p, "tower.isolated-in-instance-group", "tower.isolatedGroups[0].hosts[0]");
    const q = base();
    q.tower.instanceGroups[1].policy.list = ["isoB"];
    expectFinding(q, "tower.isolated-in-instance-group", "tower.instanceGroups[1].policy.list[0]");
    expectNo(base(), "tower.isolated-in-instance-group");
  });

  it("isolated hosts are in one isolated group only", () => {
    const p = base();
    p.tower.isolatedGroups.push({ name: "dmz2", controller: "tower", hosts: ["isoB"] });
    expectFinding(p, "tower.isolated-in-several-groups", "tower.isolatedGroups[1].hosts[0]");
    const ok = base();
    ok.hosts.push(h("isoC", 13));
    ok.tower.isolatedGroups.push({ name: "dmz2", controller: "tower", hosts: ["isoC"] });
    expectNo(ok, "tower.isolated-in-several-groups");
  });

  it("controller is set for every isolated group", () => {
    const p = base();
    delete p.tower.isolatedGroups[0].controller;
    expectFinding(p, "tower.isolated-no-controller", "tower.isolatedGroups[0].controller");
    // Set as a host var on every host: fine.
    const ok = base();
    delete ok.tower.isolatedGroups[0].controller;
    ok.hosts[3]!.vars = { controller: "east" };
    ok.hosts[4]!.vars = { controller: "east" };
    expectNo(ok, "tower.isolated-no-controller");
    expectNo(ok, "tower.isolated-controller-mismatch");
    assert.equal(plan(ok).plan!.isolatedGroups[0]!.controller, "east");
  });

  it("isolated hosts need the minimal set jobs use there: installed when packages are managed, otherwise a finding names it", () => {
    const p = base() as Draft & { packages?: unknown };
    p.packages = { manage: false };
    const f = expectFinding(p, "tower.isolated-minimal-set", "tower.isolatedGroups[0]", "warning");
    assert.match(f.message, /awx user, ansible-runner, ansible-playbook, rsync, bwrap and Python's psutil/);
    assert.match(f.hint ?? "", /python3-ansible-runner/);
    expectNo(base(), "tower.isolated-minimal-set");
    const managed = plan(base()).plan!;
    assert.deepEqual(
      hostPackageNeeds(managed, "isoA", "debian").map((n) => n.name),
      ["ansible", "bubblewrap", "python3-ansible-runner", "python3-psutil", "rsync"],
    );
    assert.deepEqual(
      hostPackageNeeds(managed, "isoA", "rhel").map((n) => n.name),
      ["ansible", "ansible-runner", "bubblewrap", "python3-psutil", "rsync"],
    );
  });

  it("controller identical for all hosts: host var vs group var", () => {
    const p = base();
    p.hosts[4]!.vars = { controller: "tower" };
    expectFinding(p, "tower.isolated-controller-mismatch", "hosts[4].vars.controller");
    const q = base();
    delete q.tower.isolatedGroups[0].controller;
    q.hosts[3]!.vars = { controller: "east" }; // isoB has none
    expectFinding(q, "tower.isolated-controller-mismatch", "hosts[4]");
    const same = base();
    same.hosts[4]!.vars = { controller: "east" };
    expectNo(same, "tower.isolated-controller-mismatch");
    // From INI: the host var on the host line.
    const ini = parseInventoryText(
      "[tower]\na\n[instance_group_sec]\na\n[isolated_group_gov]\nisoA\nisoB controller=tower\n[isolated_group_gov:vars]\ncontroller=sec\n[database]\ndb\n",
      "inventory",
    );
    const f = find(planCluster(ini.inventory!).findings, "tower.isolated-controller-mismatch");
    assert.deepEqual(
      f.map((x) => ini.sourcePath(x.path)),
      ["[isolated_group_gov] isoB"],
    );
  });

  it("controller names an existing instance group or tower", () => {
    const p = base();
    p.tower.isolatedGroups[0].controller = "west";
    expectFinding(p, "tower.isolated-unknown-controller", "tower.isolatedGroups[0].controller");
    const prefixed = base();
    prefixed.tower.isolatedGroups[0].controller = "instance_group_east";
    const f = expectFinding(prefixed, "tower.isolated-unknown-controller");
    assert.match(f.hint!, /controller=east/);
    const iso = base();
    iso.hosts.push(h("isoC", 13));
    iso.tower.isolatedGroups.push({ name: "dmz2", controller: "dmz", hosts: ["isoC"] });
    assert.match(expectFinding(iso, "tower.isolated-unknown-controller").message, /itself an isolated group/);
    const t = base();
    t.tower.isolatedGroups[0].controller = "tower";
    expectNo(t, "tower.isolated-unknown-controller");
  });

  it("the controller group must end up with instances", () => {
    const p = base();
    p.tower.instanceGroups.push({ name: "empty" });
    p.tower.isolatedGroups[0].controller = "empty";
    expectFinding(p, "tower.controller-empty", "tower.isolatedGroups[0].controller");
    expectFinding(p, "tower.instance-group-empty", "tower.instanceGroups[2]", "warning");
    const ok = base();
    ok.tower.instanceGroups.push({ name: "policy-only", policy: { percentage: 50 } });
    ok.tower.isolatedGroups[0].controller = "policy-only";
    expectNo(ok, "tower.controller-empty");
    expectNo(ok, "tower.instance-group-empty");
  });

  it("a minimum larger than the policy pool: warning", () => {
    const p = base();
    p.tower.instanceGroups[1].policy.minimum = 5;
    expectFinding(p, "tower.policy-minimum-unreachable", "tower.instanceGroups[1].policy.minimum", "warning");
    expectNo(base(), "tower.policy-minimum-unreachable");
  });

  it("isolated groups without hosts: warning", () => {
    const p = base();
    p.tower.isolatedGroups[0].hosts = [];
    expectFinding(p, "tower.isolated-group-empty", "tower.isolatedGroups[0].hosts", "warning");
    expectNo(base(), "tower.isolated-group-empty");
  });

  it("database: one host, not isolated, agreeing with pg_host; required for clusters", () => {
    const multi = base();
    multi.hosts.push(h("db2", 21));
    multi.tower.database.hosts = ["db", "db2"];
    expectFinding(multi, "tower.database-multiple", "tower.database.hosts");

    const onInstance = base();
    onInstance.tower.database.hosts = ["towerC"]; // an instance may host the database
    assert.deepEqual(plan(onInstance).findings, []);

    const iso = base();
    iso.tower.database.hosts = ["isoA"];
    expectFinding(iso, "tower.database-on-isolated", "tower.database.hosts[0]", "warning");

    const conflict = base();
    conflict.tower.database.host = "10.9.9.9";
    expectFinding(conflict, "tower.database-host-conflict", "tower.database.host", "warning");
    const agree = base();
    agree.tower.database.host = "192.0.2.20";
    expectNo(agree, "tower.database-host-conflict");

    const none = base();
    none.tower.database = {};
    expectFinding(none, "tower.database-missing", "tower.database");
    const external = base();
    external.tower.database = { host: "pg.example.com", password: { secret: "pg" } };
    expectNo(external, "tower.database-missing");
    assert.deepEqual(plan(external).plan!.database, {
      hosts: [],
      host: "pg.example.com",
      port: 5432,
      name: "awx",
      username: "awx",
      password: { secret: "pg" },
    });
    // Standalone: the database is installed on the single instance.
    const standalone = parseInventoryText("[tower]\nt1 ansible_host=192.0.2.1\n[all:vars]\npg_password=x\nadmin_password=y\n", "inventory");
    const sp = planCluster(standalone.inventory!);
    assert.equal(find(sp.findings, "tower.database-missing").length, 0);
    assert.deepEqual(sp.plan?.database?.hosts, ["t1"]);
  });

  it("empty database and admin passwords: warnings", () => {
    const p = base();
    p.tower.database.password = { value: "" };
    delete p.tower.adminPassword;
    expectFinding(p, "tower.database-password-empty", "tower.database.password", "warning");
    expectFinding(p, "tower.admin-password-empty", "tower.adminPassword", "warning");
    expectNo(base(), "tower.database-password-empty");
    expectNo(base(), "tower.admin-password-empty");
  });

  it("INI paths: plan findings translate to the sections and vars the user wrote", () => {
    const ini = parseInventoryText(
      [
        "[tower]",
        "a",
        "[instance_group_east]",
        "a",
        "b",
        "[instance_group_east:vars]",
        "policy_instance_list=nothere",
        "policy_instance_minimum=9",
        "[database]",
        "db",
        "[all:vars]",
        "pg_host=elsewhere",
      ].join("\n"),
      "inventory",
    );
    const p = planCluster(ini.inventory!);
    const at = (code: string) => find(p.findings, code).map((f) => ini.sourcePath(f.path));
    assert.deepEqual(at("tower.unknown-host"), ["[instance_group_east:vars] policy_instance_list"]);
    assert.deepEqual(at("tower.policy-minimum-unreachable"), ["[instance_group_east:vars] policy_instance_minimum"]);
    assert.deepEqual(at("tower.database-host-conflict"), ["[all:vars] pg_host"]);
  });

  it("the Tower doc's rabbitmq_host example (hostB and hostC both 10.1.0.3) is caught at [tower] hostC", () => {
    const ini = parseInventoryText(
      "[tower]\nhostA rabbitmq_host=10.1.0.2\nhostB rabbitmq_host=10.1.0.3\nhostC rabbitmq_host=10.1.0.3\n[database]\nhostDB\n",
      "inventory",
    );
    const p = planCluster(ini.inventory!);
    const f = find(p.findings, "hosts.duplicate-internal-address");
    assert.deepEqual(
      f.map((x) => ini.sourcePath(x.path)),
      ["[tower] hostC"],
    );
    assert.equal(p.plan, undefined);
  });
});
