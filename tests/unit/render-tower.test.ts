/**
 * Structure of the Tower render: settings files per instance, isolated-group keys, the
 * provisioning lifecycle actions. Python, OpenSSH and sshd verdicts on the same files are in
 * tests/system/tower.test.ts.
 */
import { examplePlans } from "../fixtures/keepalived-plan";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FileSpec } from "../../src/core/desired-state";
import type { ClusterPlan } from "../../src/plan/types";
import { renderTemplate } from "../../src/render/templates";
import { AWX_AUTHORIZED_KEYS, AWX_SSH_CONFIG, privateKeyPath } from "../../src/services/tower/isolated";
import { BROKER_PY, CLUSTER_HOST_ID_PY, POSTGRES_PY, renderPart, SECRET_KEY_PATH } from "../../src/services/tower/render";
import { splitEndpoint, urlHost } from "../../src/services/tower/settings";
import { planExample } from "../fixtures/common";
import { DB_PASSWORD, fakeMaterials, RMQ_PASSWORD, SECRET_KEY, SECRETS, towerPlan } from "../fixtures/tower-plan";

const render = (plan: ClusterPlan, materials = fakeMaterials(), secrets = SECRETS) =>
  renderPart.render!({ plan, secrets, materials, template: renderTemplate });

function file(files: readonly FileSpec[], host: string, path: string): FileSpec {
  const f = files.find((x) => x.host === host && x.path === path);
  assert.ok(f, `${host}:${path} rendered`);
  return f;
}
const paths = (files: readonly FileSpec[], host: string) =>
  files
    .filter((f) => f.host === host)
    .map((f) => f.path)
    .sort();
const INSTANCES = ["tower1", "tower2", "tower3", "east1", "east2"];

describe("tower render: instance settings", () => {
  const r = render(towerPlan());

  it("every instance gets identity, broker, database and SECRET_KEY; isolated hosts none of them", () => {
    for (const h of INSTANCES) {
      for (const p of [CLUSTER_HOST_ID_PY, BROKER_PY, POSTGRES_PY, SECRET_KEY_PATH]) file(r.files, h, p);
    }
    for (const h of ["iso1", "iso2"]) assert.deepEqual(paths(r.files, h), [AWX_AUTHORIZED_KEYS]);
  });

  it("CLUSTER_HOST_ID is the host name the instance is provisioned with", () => {
    for (const h of INSTANCES) {
      assert.match(file(r.files, h, CLUSTER_HOST_ID_PY).content, new RegExp(`^CLUSTER_HOST_ID = "${h}"$`, "m"));
      assert.ok(r.actions.some((a) => a.create === `awx-manage provision_instance --hostname=${h}`));
    }
  });

  it("BROKER_URL: local node for RabbitMQ hosts, first node otherwise; credentials percent-encoded", () => {
    const urlOf = (h: string) => {
      const m = /^BROKER_URL = (".*")$/m.exec(file(r.files, h, BROKER_PY).content);
      assert.ok(m, h);
      return new URL(JSON.parse(m[1]!) as string);
    };
    const t2 = urlOf("tower2");
    assert.equal(t2.protocol, "amqp:");
    assert.equal(t2.hostname, "172.16.0.12");
    assert.equal(t2.port, "5672");
    assert.equal(decodeURIComponent(t2.username), "tower");
    assert.equal(decodeURIComponent(t2.password), RMQ_PASSWORD);
    assert.equal(decodeURIComponent(t2.pathname.slice(1)), "tower");
    assert.equal(urlOf("east1").hostname, "172.16.0.11", "no local node: the first one");
    assert.equal(file(r.files, "tower2", BROKER_PY).secret, true);
  });

  it("DATABASES: the inventory's database when there is no HA Postgres", () => {
    const db = file(r.files, "east2", POSTGRES_PY);
    assert.equal(db.secret, true);
    assert.match(db.content, /"HOST": "pg\.example\.com",/);
    assert.match(db.content, /"PORT": "5433",/);
    assert.match(db.content, /"NAME": "awx",/);
    assert.ok(db.content.includes(`"PASSWORD": ${JSON.stringify(DB_PASSWORD)},`), "password as an escaped Python literal");
    assert.ok(!db.content.includes(DB_PASSWORD), "the raw newline never reaches the file");
  });

  it("DATABASES: the HA endpoint when the plan has Postgres", () => {
    const db = file(render(towerPlan({ haPostgres: true })).files, "tower1", POSTGRES_PY).content;
    assert.match(db, /"HOST": "10\.79\.0\.100",/);
    assert.match(db, /"PORT": "5432",/);
  });

  it("SECRET_KEY: identical on every instance, secret, readable by awx only through its group", () => {
    for (const h of INSTANCES) {
      const f = file(r.files, h, SECRET_KEY_PATH);
      assert.deepEqual([f.content, f.mode, f.owner, f.group, f.secret], [SECRET_KEY, "0640", "root", "awx", true]);
    }
    assert.ok(!paths(render(towerPlan({ withSecretKey: false })).files, "tower1").includes(SECRET_KEY_PATH));
  });

  it("settings files are checked as Python and restart Tower; secrets only in secret files", () => {
    for (const f of r.files.filter((x) => x.path.endsWith(".py"))) {
      assert.match(f.validate ?? "", /ast\.parse/);
      assert.deepEqual(f.notify, ["ansible-tower"]);
    }
    const secrets = [RMQ_PASSWORD, encodeURIComponent(RMQ_PASSWORD), JSON.stringify(DB_PASSWORD).slice(1, -1), SECRET_KEY];
    for (const f of r.files.filter((x) => !x.secret)) for (const s of secrets) assert.ok(!f.content.includes(s), `${f.host}:${f.path}`);
  });

  it("no RabbitMQ in the plan: broker.py leaves BROKER_URL alone and holds no secret", () => {
    const f = file(render(towerPlan({ withRabbitmq: false })).files, "tower1", BROKER_PY);
    assert.doesNotMatch(f.content, /^BROKER_URL/m);
    assert.equal(f.secret, false);
  });

  it("the real planner puts every Tower instance in one roll (one at a time behind the API ping), like RabbitMQ", () => {
    for (const ex of examplePlans().filter((e) => e.file.startsWith("tower-") && e.plan.target === "ssh")) {
      const g = ex.plan.rollingGroups.find((x) => x.id === "tower");
      assert.ok(g, `${ex.file}: a tower rolling group`);
      assert.equal(g.maxUnavailable, 1);
      const services = render(ex.plan).services.filter((x) => x.name === "ansible-tower");
      assert.ok(services.length >= 1);
      for (const sv of services) assert.equal(sv.rollGroup, "tower", `${ex.file} ${sv.host}`);
      assert.deepEqual([...g.hosts].sort(), services.map((x) => x.host).sort());
    }
  });

  it("one ansible-tower service per instance with a health gate in the tower roll group", () => {
    assert.deepEqual(
      r.services.map((s) => s.host),
      INSTANCES,
    );
    for (const s of r.services) {
      assert.equal(s.name, "ansible-tower");
      assert.equal(s.rollGroup, "tower");
      assert.match(s.health ?? "", /\/api\/v2\/ping\//);
    }
  });
});

describe("tower render: isolated groups", () => {
  const r = render(towerPlan());

  it("declares one rsa-keypair material per isolated group", () => {
    const specs = renderPart.materials!(towerPlan());
    assert.deepEqual(
      specs.map((m) => [m.key, m.kind]),
      [
        ["tower/isolated/restricted/keypair", { type: "rsa-keypair", bits: 4096, comment: "haforge-isolated-restricted" }],
        ["tower/isolated/dmz/keypair", { type: "rsa-keypair", bits: 4096, comment: "haforge-isolated-dmz" }],
      ],
    );
  });

  it("private keys only on the controller group's instances, 0600 awx, secret", () => {
    for (const h of ["tower1", "tower2", "tower3"]) {
      const f = file(r.files, h, privateKeyPath("restricted"));
      assert.deepEqual([f.mode, f.owner, f.secret], ["0600", "awx", true]);
      assert.match(f.content, /FAKE-restricted/);
      assert.ok(!paths(r.files, h).includes(privateKeyPath("dmz")));
    }
    for (const h of ["east1", "east2"]) {
      file(r.files, h, privateKeyPath("dmz"));
      assert.ok(!paths(r.files, h).includes(privateKeyPath("restricted")));
    }
    for (const f of r.files.filter((x) => x.content.includes("PRIVATE KEY"))) assert.equal(f.secret, true);
  });

  it("the controllers' ssh config maps each isolated hostname to its internal address and group key", () => {
    const cfg = file(r.files, "tower2", AWX_SSH_CONFIG).content;
    assert.match(
      cfg,
      /^Host iso1\n {4}HostName 172\.16\.0\.31\n {4}User awx\n {4}IdentityFile \/var\/lib\/awx\/\.ssh\/awx_isolated_restricted\n {4}IdentitiesOnly yes$/m,
    );
    assert.match(cfg, /^Host iso2\n {4}HostName 172\.16\.0\.32\n/m);
    const east = file(r.files, "east1", AWX_SSH_CONFIG).content;
    assert.doesNotMatch(east, /^Host iso1$/m);
    assert.match(east, /IdentityFile \/var\/lib\/awx\/\.ssh\/awx_isolated_dmz/);
  });

  it("authorized_keys on isolated hosts: a key per group the host is in, restricted options", () => {
    const iso1 = file(r.files, "iso1", AWX_AUTHORIZED_KEYS);
    assert.deepEqual([iso1.mode, iso1.owner, iso1.group, iso1.secret], ["0600", "awx", "awx", false]);
    const keyLines = (c: string) => c.split("\n").filter((l) => l && !l.startsWith("#"));
    assert.deepEqual(keyLines(iso1.content), [
      "no-agent-forwarding,no-port-forwarding,no-X11-forwarding ssh-rsa AAAAFAKErestricted haforge-isolated-restricted",
    ]);
    assert.deepEqual(
      keyLines(file(r.files, "iso2", AWX_AUTHORIZED_KEYS).content).map((l) => l.split(" ").at(-1)),
      ["haforge-isolated-dmz", "haforge-isolated-restricted"],
    );
  });

  it("missing material renders a marker instead of throwing", () => {
    const r2 = render(towerPlan(), {});
    assert.match(
      file(r2.files, "tower1", privateKeyPath("restricted")).content,
      /__HAFORGE_MISSING_MATERIAL_tower_isolated_restricted_keypair__/,
    );
    assert.match(file(r2.files, "iso1", AWX_AUTHORIZED_KEYS).content, /__HAFORGE_MISSING_MATERIAL_/);
  });
});

describe("tower render: lifecycle actions", () => {
  const r = render(towerPlan());
  const byId = new Map(r.actions.map((a) => [a.id, a]));

  it("awx-manage runs on a control instance other than the one it is about (never on a removed host), post-start, without secrets", () => {
    for (const a of r.actions) {
      assert.equal(a.phase, "post-start");
      assert.equal(a.secret, false);
      if (a.id.startsWith("tower-services-"))
        assert.equal(a.host, a.id.slice("tower-services-".length), "the services action runs on the instance itself");
      else assert.ok(["tower1", "tower2"].includes(a.host), a.id);
      const about = /^tower-(?:provision|managed-by-policy)-(.+)$/.exec(a.id)?.[1];
      if (about) assert.notEqual(a.host, about, `${a.id}: deprovision_instance must not run on the instance it removes`);
    }
  });

  it("removal follows Tower's procedure: the instance's services stop first (delete order), then deprovision_instance on another instance", () => {
    for (const h of INSTANCES) {
      const svc = byId.get(`tower-services-${h}`)!;
      assert.equal(svc.host, h);
      assert.equal(svc.delete, "ansible-tower-service stop");
      // Pulumi deletes dependents first: this action depends on the provision, so it goes first.
      assert.deepEqual(svc.dependsOn, [`tower-provision-${h}`]);
    }
  });

  it("managed_by_policy is applied to Tower as planned (awx-manage shell), before any queue is registered", () => {
    for (const h of INSTANCES) {
      const m = byId.get(`tower-managed-by-policy-${h}`)!;
      const planned = towerPlan().hosts.find((x) => x.name === h)!.managedByPolicy;
      assert.match(m.create, new RegExp(`hostname=\\\\?"${h}\\\\?"\\)\\.update\\(managed_by_policy=${planned ? "True" : "False"}\\)`));
      assert.ok(byId.get("tower-queue-tower")!.dependsOn.includes(m.id));
    }
  });

  it("every instance, isolated ones included, is provisioned and deprovisioned on delete", () => {
    for (const h of [...INSTANCES, "iso1", "iso2"]) {
      const a = byId.get(`tower-provision-${h}`);
      assert.ok(a, h);
      assert.equal(a.create, `awx-manage provision_instance --hostname=${h}`);
      assert.equal(a.delete, `awx-manage deprovision_instance --hostname=${h}`);
    }
  });

  it("register_queue with Tower 3.x flags, after every provision; isolated after their controller", () => {
    const provisions = r.actions
      .filter((a) => a.id.startsWith("tower-provision-") || a.id.startsWith("tower-managed-by-policy-"))
      .map((a) => a.id);
    const tower = byId.get("tower-queue-tower")!;
    assert.equal(
      tower.create,
      "awx-manage register_queue --queuename=tower --hostnames=tower1,tower2,tower3 --instance_percent=0 --instance_minimum=0",
    );
    assert.deepEqual(tower.dependsOn, provisions);
    const east = byId.get("tower-queue-east")!;
    assert.equal(east.create, "awx-manage register_queue --queuename=east --hostnames=east1 --instance_percent=50 --instance_minimum=1");
    const restricted = byId.get("tower-queue-restricted")!;
    assert.equal(restricted.create, "awx-manage register_queue --queuename=restricted --hostnames=iso1,iso2 --controller=tower");
    assert.deepEqual(restricted.dependsOn, [...provisions, "tower-queue-tower"]);
    assert.deepEqual(byId.get("tower-queue-dmz")!.dependsOn, [...provisions, "tower-queue-east"]);
    for (const g of ["tower", "east", "restricted", "dmz"])
      assert.match(byId.get(`tower-queue-${g}`)!.delete ?? "", new RegExp(`awx-manage unregister_queue --queuename=${g} `));
  });

  it("action order is a valid topological order with unique ids", () => {
    const seen = new Set<string>();
    for (const a of r.actions) {
      assert.ok(!seen.has(a.id));
      for (const d of a.dependsOn) assert.ok(seen.has(d), `${a.id} after ${d}`);
      seen.add(a.id);
    }
  });

  it("no instance groups: no actions, no files", () => {
    const plan = { ...towerPlan(), instanceGroups: [], isolatedGroups: [], hosts: towerPlan().hosts.map((h) => ({ ...h, roles: [] })) };
    assert.deepEqual(render(plan), { files: [], services: [], actions: [] });
  });
});

describe("tower render: helpers and determinism", () => {
  it("splitEndpoint handles host:port, [v6]:port and a bare host", () => {
    assert.deepEqual(splitEndpoint("10.0.0.1:6432", 5432), { host: "10.0.0.1", port: 6432 });
    assert.deepEqual(splitEndpoint("[fd00::1]:6432", 5432), { host: "fd00::1", port: 6432 });
    assert.deepEqual(splitEndpoint("db.example.com", 5432), { host: "db.example.com", port: 5432 });
    assert.deepEqual(splitEndpoint("fd00::1", 5432), { host: "fd00::1", port: 5432 });
    assert.equal(urlHost("fd00::1"), "[fd00::1]");
    assert.equal(urlHost("10.0.0.1"), "10.0.0.1");
  });

  it("same plan + secrets + materials → byte-identical output", () => {
    assert.equal(JSON.stringify(render(towerPlan({ haPostgres: true }))), JSON.stringify(render(towerPlan({ haPostgres: true }))));
  });
});

describe("tower render: over the example inventories (planCluster)", () => {
  const secrets = { "secret:rabbitmqPassword": "changeme-in-vault", "secret:pgPassword": "changeme-in-vault" };
  const materials = fakeMaterials(["dmz"]);

  it("tower-cluster.yaml: settings on the three instances, dmz keys on east's instances and on isoA/isoB", () => {
    const plan = planExample("tower-cluster.yaml");
    const r = render(plan, materials, secrets);
    assert.deepEqual(
      r.services.map((s) => s.host),
      ["towerA", "towerB", "towerC"],
    );
    for (const h of ["towerA", "towerB"]) file(r.files, h, privateKeyPath("dmz")); // east = towerA (by minimum) + towerB
    assert.ok(!paths(r.files, "towerC").includes(privateKeyPath("dmz")));
    for (const h of ["isoA", "isoB"]) assert.deepEqual(paths(r.files, h), [AWX_AUTHORIZED_KEYS]);
    assert.match(file(r.files, "towerC", BROKER_PY).content, /@10\.1\.0\.13:5672\/tower"$/m);
    assert.match(file(r.files, "towerA", POSTGRES_PY).content, /"HOST": "203\.0\.113\.30",/);
    assert.deepEqual(
      r.actions.map((a) => a.id),
      ["towerA", "towerB", "towerC"]
        .flatMap((h) => [`tower-provision-${h}`, `tower-services-${h}`, `tower-managed-by-policy-${h}`])
        .concat(["isoA", "isoB"].map((h) => `tower-provision-${h}`))
        .concat(["tower", "east", "west", "dmz"].map((g) => `tower-queue-${g}`)),
    );
    assert.equal(
      r.actions.find((a) => a.id === "tower-queue-dmz")!.create,
      "awx-manage register_queue --queuename=dmz --hostnames=isoA,isoB --controller=east",
    );
    assert.equal(
      r.actions.find((a) => a.id === "tower-queue-east")!.create,
      "awx-manage register_queue --queuename=east --hostnames=towerB --instance_percent=0 --instance_minimum=2",
    );
  });

  it("the Tower INI twin renders exactly the same files and actions", () => {
    const yaml = render(planExample("tower-cluster.yaml"), materials, secrets);
    const ini = render(planExample("tower-cluster.ini"), materials, secrets);
    assert.deepEqual(ini, yaml);
  });

  it("tower-standalone.ini: one instance, no isolated keys, provision + register", () => {
    const r = render(planExample("tower-standalone.ini"), {}, secrets);
    assert.deepEqual(paths(r.files, "tower1"), [BROKER_PY, CLUSTER_HOST_ID_PY, POSTGRES_PY].sort());
    assert.deepEqual(
      r.actions.map((a) => a.id),
      ["tower-provision-tower1", "tower-services-tower1", "tower-managed-by-policy-tower1", "tower-queue-tower"],
    );
  });
});
