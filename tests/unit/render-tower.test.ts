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
import { AWX_SSH_CONFIG, KEY_MARKER } from "../../src/services/tower/isolated";
import {
  BROKER_PY,
  CLUSTER_HOST_ID_PY,
  ISOLATED_KEY_ACTION,
  isolatedHostActionId,
  POSTGRES_PY,
  renderPart,
  SECRET_KEY_PATH,
} from "../../src/services/tower/render";
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
    for (const h of ["iso1", "iso2"]) assert.deepEqual(paths(r.files, h), [], "nothing replaced whole on an isolated host");
  });

  it("CLUSTER_HOST_ID is the host name the instance is provisioned with", () => {
    for (const h of INSTANCES) {
      assert.match(file(r.files, h, CLUSTER_HOST_ID_PY).content, new RegExp(`^CLUSTER_HOST_ID = "${h}"$`, "m"));
      assert.ok(r.actions.some((a) => a.create.startsWith(`awx-manage provision_instance --hostname=${h} && `)));
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

  it("declares ONE rsa-keypair material for the whole Tower (Tower holds one AWX_ISOLATED_PRIVATE_KEY)", () => {
    const specs = renderPart.materials!(towerPlan());
    assert.deepEqual(
      specs.map((m) => [m.key, m.kind]),
      [["tower/isolated/keypair", { type: "rsa-keypair", bits: 4096, comment: KEY_MARKER }]],
    );
    const none = { ...towerPlan(), isolatedGroups: [] };
    assert.deepEqual(renderPart.materials!(none), []);
  });

  it("no private key file on any host: the key goes to Tower's settings in one secret action, on stdin", () => {
    for (const f of r.files) assert.doesNotMatch(f.content, /PRIVATE KEY|FAKE-isolated/, `${f.host}:${f.path}`);
    const store = r.actions.find((a) => a.id === ISOLATED_KEY_ACTION)!;
    assert.equal(store.secret, true);
    assert.ok(["tower1", "tower2", "tower3"].includes(store.host), "on a Tower instance");
    assert.match(store.create, /^awx-manage shell <<'HAFORGE_PY'$/m, "the key is fed on stdin, not in argv");
    assert.match(store.create, /"AWX_ISOLATED_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\\nFAKE-isolated\\n/);
    assert.match(store.create, /"AWX_ISOLATED_PUBLIC_KEY": "ssh-rsa AAAAFAKEisolated haforge-tower-isolated"/);
    assert.match(store.create, /"AWX_ISOLATED_KEY_GENERATION": True/);
    assert.match(
      store.create,
      /Setting\.objects\.create\(key=key, value=value\)/,
      "as generate_isolated_key stores it (encrypted by Setting.save)",
    );
    for (const a of r.actions.filter((x) => x.id !== ISOLATED_KEY_ACTION))
      assert.doesNotMatch(a.create, /PRIVATE KEY/, `${a.id} carries no private key`);
  });

  it("the controllers' ssh config maps each isolated hostname to its internal address as awx, without a key file", () => {
    const cfg = file(r.files, "tower2", AWX_SSH_CONFIG).content;
    assert.match(cfg, /^Host iso1\n {4}HostName 172\.16\.0\.31\n {4}User awx$/m);
    assert.match(cfg, /^Host iso2\n {4}HostName 172\.16\.0\.32\n/m);
    assert.doesNotMatch(cfg, /IdentityFile|IdentitiesOnly/);
    const east = file(r.files, "east1", AWX_SSH_CONFIG).content;
    assert.doesNotMatch(east, /^Host iso1$/m);
    assert.match(east, /^Host iso2$/m);
  });

  it("each isolated host: one action that checks the minimal set and adds one marked key line; its delete removes only that line", () => {
    for (const h of ["iso1", "iso2"]) {
      const a = r.actions.find((x) => x.id === isolatedHostActionId(h))!;
      assert.equal(a.host, h);
      assert.equal(a.secret, false);
      assert.match(a.create, /no-agent-forwarding,no-port-forwarding,no-X11-forwarding ssh-rsa AAAAFAKEisolated haforge-tower-isolated/);
      for (const c of ["ansible-runner", "ansible-playbook", "rsync", "bwrap"]) assert.ok(a.create.includes(c), c);
      assert.match(a.create, /import psutil/);
      assert.match(a.delete ?? "", / haforge-tower-isolated\$/);
    }
  });

  it("an isolated group is registered only after Tower holds the key and its hosts trust it", () => {
    const byId = new Map(r.actions.map((a) => [a.id, a]));
    assert.ok(byId.get("tower-queue-restricted")!.dependsOn.includes(ISOLATED_KEY_ACTION));
    for (const h of ["iso1", "iso2"]) assert.ok(byId.get("tower-queue-restricted")!.dependsOn.includes(isolatedHostActionId(h)));
    assert.ok(byId.get("tower-queue-dmz")!.dependsOn.includes(isolatedHostActionId("iso2")));
  });

  it("missing material: the actions refuse on the host instead of writing a marker", () => {
    const r2 = render(towerPlan(), {});
    const store = r2.actions.find((a) => a.id === ISOLATED_KEY_ACTION)!;
    assert.match(store.create, /__HAFORGE_MISSING_MATERIAL_tower_isolated_keypair__/);
    assert.match(store.create, /isolated key material is missing/);
    assert.match(r2.actions.find((a) => a.id === isolatedHostActionId("iso1"))!.create, /isolated key material is missing/);
  });
});

describe("tower render: lifecycle actions", () => {
  const r = render(towerPlan());
  const byId = new Map(r.actions.map((a) => [a.id, a]));

  it("awx-manage runs on a control instance other than the one it is about (never on a removed host), post-start, without secrets", () => {
    for (const a of r.actions.filter((x) => x.id !== ISOLATED_KEY_ACTION && !x.id.startsWith("tower-isolated-host-"))) {
      assert.equal(a.phase, "post-start");
      assert.equal(a.secret, false);
      if (a.id.startsWith("tower-services-"))
        assert.equal(a.host, a.id.slice("tower-services-".length), "the services action runs on the instance itself");
      else assert.ok(["tower1", "tower2"].includes(a.host), a.id);
      const about = /^tower-provision-(.+)$/.exec(a.id)?.[1];
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

  it("managed_by_policy is applied to Tower as planned (awx-manage shell) by the instance's provision, before any queue is registered", () => {
    for (const h of INSTANCES) {
      const m = byId.get(`tower-provision-${h}`)!;
      const planned = towerPlan().hosts.find((x) => x.name === h)!.managedByPolicy;
      assert.ok(m.create.startsWith(`awx-manage provision_instance --hostname=${h} && awx-manage shell -c `), m.create);
      assert.match(m.create, new RegExp(`hostname=\\\\?"${h}\\\\?"\\)\\.update\\(managed_by_policy=${planned ? "True" : "False"}\\)`));
      assert.ok(byId.get("tower-queue-tower")!.dependsOn.includes(m.id));
    }
    // one action per instance: a flipped managed_by_policy changes its create, which re-runs it
    assert.deepEqual(
      r.actions.filter((a) => a.id.startsWith("tower-managed-by-policy-")),
      [],
    );
  });

  it("every instance, isolated ones included, is provisioned and deprovisioned on delete", () => {
    for (const h of [...INSTANCES, "iso1", "iso2"]) {
      const a = byId.get(`tower-provision-${h}`);
      assert.ok(a, h);
      assert.ok(a.create.startsWith(`awx-manage provision_instance --hostname=${h}`), a.create);
      if (h.startsWith("iso"))
        assert.equal(a.create, `awx-manage provision_instance --hostname=${h}`, "an isolated instance has no managed_by_policy");
      assert.equal(a.delete, `awx-manage deprovision_instance --hostname=${h}`);
    }
  });

  it("register_queue with Tower 3.x flags, after every provision; isolated after their controller", () => {
    const provisions = r.actions.filter((a) => a.id.startsWith("tower-provision-")).map((a) => a.id);
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
    assert.deepEqual(restricted.dependsOn, [
      ...provisions,
      "tower-queue-tower",
      ISOLATED_KEY_ACTION,
      isolatedHostActionId("iso1"),
      isolatedHostActionId("iso2"),
    ]);
    assert.deepEqual(byId.get("tower-queue-dmz")!.dependsOn, [
      ...provisions,
      "tower-queue-east",
      ISOLATED_KEY_ACTION,
      isolatedHostActionId("iso2"),
    ]);
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
  const materials = fakeMaterials();

  it("tower-cluster.yaml: settings on the three instances, the ssh config on east's instances, the key actions for isoA/isoB", () => {
    const plan = planExample("tower-cluster.yaml");
    const r = render(plan, materials, secrets);
    assert.deepEqual(
      r.services.map((s) => s.host),
      ["towerA", "towerB", "towerC"],
    );
    for (const h of ["towerA", "towerB"]) file(r.files, h, AWX_SSH_CONFIG); // east = towerA (by minimum) + towerB
    assert.ok(!paths(r.files, "towerC").includes(AWX_SSH_CONFIG));
    for (const h of ["isoA", "isoB"]) assert.deepEqual(paths(r.files, h), []);
    assert.match(file(r.files, "towerC", BROKER_PY).content, /@10\.1\.0\.13:5672\/tower"$/m);
    assert.match(file(r.files, "towerA", POSTGRES_PY).content, /"HOST": "203\.0\.113\.30",/);
    assert.deepEqual(
      r.actions.map((a) => a.id),
      ["towerA", "towerB", "towerC"]
        .flatMap((h) => [`tower-provision-${h}`, `tower-services-${h}`])
        .concat(["isoA", "isoB"].map((h) => `tower-provision-${h}`))
        .concat(["tower", "east", "west"].map((g) => `tower-queue-${g}`))
        .concat([ISOLATED_KEY_ACTION, isolatedHostActionId("isoA"), isolatedHostActionId("isoB"), "tower-queue-dmz"]),
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
      ["tower-provision-tower1", "tower-services-tower1", "tower-queue-tower"],
    );
  });
});
