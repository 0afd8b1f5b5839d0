/**
 * The example inventories: each validates and plans with no errors, and the Tower INI and its YAML
 * twin plan the same topology.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadInventoryFile, parseInventoryText } from "../../src/inventory/load";
import { planCluster } from "../../src/pipeline/plan";

const dir = join(__dirname, "..", "..", "inventories");
const loadPlan = (file: string) => {
  const loaded = loadInventoryFile(join(dir, file));
  assert.ok(loaded.inventory, `${file}: ${JSON.stringify(loaded.findings)}`);
  const planned = planCluster(loaded.inventory);
  return { loaded, planned, all: [...loaded.findings, ...planned.findings] };
};

describe("example inventories", () => {
  for (const file of ["tower-standalone.ini", "tower-cluster.ini", "tower-cluster.yaml"]) {
    it(`${file} validates and plans with no errors`, () => {
      const { planned, all } = loadPlan(file);
      assert.deepEqual(
        all.filter((f) => f.severity === "error"),
        [],
      );
      assert.ok(planned.plan);
    });
  }

  it("tower-cluster.ini and tower-cluster.yaml plan the same groups, roles and RabbitMQ cluster", () => {
    const ini = loadPlan("tower-cluster.ini").planned.plan!;
    const yaml = loadPlan("tower-cluster.yaml").planned.plan!;
    assert.deepEqual(ini.instanceGroups, yaml.instanceGroups);
    assert.deepEqual(ini.isolatedGroups, yaml.isolatedGroups);
    assert.deepEqual(
      ini.hosts.map((h) => [h.name, h.address, h.internalAddress, h.managedByPolicy, h.roles]),
      yaml.hosts.map((h) => [h.name, h.address, h.internalAddress, h.managedByPolicy, h.roles]),
    );
    assert.deepEqual(ini.rabbitmq!.nodes, yaml.rabbitmq!.nodes);
    assert.deepEqual(ini.rollingGroups, yaml.rollingGroups);
    const { password: _a, ...iniDb } = ini.database!;
    const { password: _b, ...yamlDb } = yaml.database!;
    assert.deepEqual(iniDb, yamlDb);
  });

  it("tower-cluster: the policies as computed by AWX's algorithm (pinned towerC stays out of east)", () => {
    const p = loadPlan("tower-cluster.ini").planned.plan!;
    assert.deepEqual(
      p.instanceGroups.map((g) => [g.name, g.instances]),
      [
        ["tower", ["towerA", "towerB", "towerC"]],
        ["east", ["towerA", "towerB"]],
        ["west", ["towerC"]],
      ],
    );
    assert.deepEqual(p.isolatedGroups, [{ name: "dmz", controller: "east", instances: ["isoA", "isoB"] }]);
    assert.equal(p.rabbitmq!.useLongName, true);
    assert.deepEqual(
      p.rabbitmq!.nodes.map((n) => n.nodeName),
      ["rabbit@10.1.0.11", "rabbit@10.1.0.12", "rabbit@10.1.0.13"],
    );
  });

  it("the YAML twin uses secret references only, the INI literals are fake placeholders", () => {
    const yaml = loadPlan("tower-cluster.yaml");
    assert.deepEqual(
      yaml.all.filter((f) => f.code === "secret.literal"),
      [],
    );
    const r = yaml.planned.plan!.rabbitmq!;
    assert.deepEqual([r.password, r.cookie], [{ secret: "rabbitmqPassword" }, { secret: "rabbitmqCookie" }]);
    const ini = loadPlan("tower-cluster.ini").planned.plan!.rabbitmq!;
    assert.ok("value" in ini.password && ini.password.value.startsWith("changeme"));
  });

  it("tower-standalone: one instance, short RabbitMQ name, external database host", () => {
    const p = loadPlan("tower-standalone.ini").planned.plan!;
    assert.deepEqual(
      p.instanceGroups.map((g) => [g.name, g.instances]),
      [["tower", ["tower1"]]],
    );
    assert.deepEqual(
      p.rabbitmq!.nodes.map((n) => n.nodeName),
      ["rabbit@tower1"],
    );
    assert.equal(p.rabbitmq!.useLongName, false);
    assert.deepEqual(p.database?.hosts, ["db1"]);
  });

  it("Tower 3.x's own default inventory (localhost, empty [database], empty passwords) loads and plans with warnings only", () => {
    const text = [
      "[tower]",
      "localhost ansible_connection=local",
      "",
      "[database]",
      "",
      "[all:vars]",
      "admin_password=''",
      "",
      "pg_host=''",
      "pg_port=''",
      "",
      "pg_database='awx'",
      "pg_username='awx'",
      "pg_password=''",
      "",
      "rabbitmq_port=5672",
      "rabbitmq_vhost=tower",
      "rabbitmq_username=tower",
      "rabbitmq_password=''",
      "rabbitmq_cookie=cookiemonster",
      "",
      "# Needs to be true for fqdns and ip addresses",
      "rabbitmq_use_long_name=false",
      "",
    ].join("\n");
    const loaded = parseInventoryText(text, "inventory");
    const planned = planCluster(loaded.inventory!);
    const all = [...loaded.findings, ...planned.findings];
    assert.deepEqual(
      all.filter((f) => f.severity === "error"),
      [],
    );
    assert.deepEqual(all.map((f) => `${f.code} @ ${loaded.sourcePath(f.path)}`).sort(), [
      "ini.connection-unsupported @ [tower] localhost",
      "rabbitmq.cookie-default @ [all:vars] rabbitmq_cookie",
      "rabbitmq.password-empty @ [all:vars] rabbitmq_password",
      "ssh.host-key-unpinned @ [tower] localhost",
      "tower.admin-password-empty @ [all:vars] admin_password",
      "tower.database-password-empty @ [all:vars] pg_password",
    ]);
    // The database is installed on the single instance; RabbitMQ runs there with a short name.
    assert.deepEqual(planned.plan!.database!.hosts, ["localhost"]);
    assert.deepEqual(
      planned.plan!.rabbitmq!.nodes.map((n) => n.nodeName),
      ["rabbit@localhost"],
    );
  });
});
