/**
 * Every example inventory parses, plans with no error, and carries secrets only as references;
 * each of the HA examples is checked for the topology it exists to show.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";
import type { Finding } from "../../src/core/findings";
import { Inventory } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import type { ClusterPlan } from "../../src/plan/types";

const DIR = join(__dirname, "..", "..", "inventories");
const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

function load(file: string): { inventory: Inventory; plan: ClusterPlan; findings: readonly Finding[] } {
  const inventory = Inventory.parse(yaml.load(readFileSync(join(DIR, file), "utf8")));
  const r = planCluster(inventory);
  const errors = r.findings.filter((f) => f.severity === "error");
  assert.deepEqual(errors, [], `${file} plans with errors`);
  assert.ok(r.plan, `${file}: no plan`);
  return { inventory, plan: r.plan, findings: r.findings };
}

/** Every SecretRef-shaped object (`{secret}`, `{env}`, `{value}`) anywhere in a value. */
function secretRefs(v: unknown, path = "", out: { path: string; ref: Record<string, unknown> }[] = []) {
  if (Array.isArray(v)) v.forEach((x, i) => secretRefs(x, `${path}[${i}]`, out));
  else if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && ["secret", "env", "value"].includes(keys[0]!)) out.push({ path, ref: v as Record<string, unknown> });
    else for (const [k, x] of Object.entries(v)) secretRefs(x, path ? `${path}.${k}` : k, out);
  }
  return out;
}

/** Warnings of the HA services (other services' findings are their own tests' business). */
const HA = ["pacemaker.", "quorum-store.", "keepalived.", "haproxy.", "postgres.", "syncthing.", "active-passive."];
const haWarnings = (fs: readonly Finding[]) => fs.filter((f) => HA.some((p) => f.code.startsWith(p))).map((f) => f.code);

describe("example inventories", () => {
  it("the HA examples exist", () => {
    for (const f of ["cloudify.yaml", "openstack-pacemaker.yaml", "tripleo-lightweight.yaml", "dr-provision.yaml", "lab.yaml"])
      assert.ok(files.includes(f), f);
  });

  for (const file of files) {
    it(`${file}: parses, plans with no error, secrets are references (defaults included)`, () => {
      const { inventory } = load(file);
      const literals = secretRefs(inventory).filter((r) => "value" in r.ref);
      assert.deepEqual(literals, [], `${file} holds literal secrets`);
    });
  }

  it("cloudify.yaml: 2 managers + 1 store-only etcd node, keepalived VIP, stolon, syncthing between the managers", () => {
    const { plan, findings } = load("cloudify.yaml");
    assert.deepEqual(haWarnings(findings), []);
    const qs = plan.quorumStore!;
    assert.equal(qs.kind, "etcd");
    assert.deepEqual(
      qs.members.map((m) => [m.host, m.storeOnly]),
      [
        ["manager1", false],
        ["manager2", false],
        ["store1", true],
      ],
    );
    assert.deepEqual(qs.quorum, { expectedVotes: 3, quorum: 2, failuresTolerated: 1 });
    assert.equal(plan.keepalived.length, 1);
    assert.deepEqual(
      plan.keepalived[0]!.members.map((m) => m.host),
      ["manager1", "manager2"],
    );
    assert.equal(plan.postgres!.engine, "stolon");
    assert.deepEqual(plan.postgres!.sentinels, ["manager1", "manager2", "store1"]);
    assert.equal(plan.postgres!.endpoint, "127.0.0.1:25432");
    assert.deepEqual(plan.postgres!.store.endpoints, qs.endpoints);
    assert.deepEqual(plan.syncthing!.folders[0]!.hosts, ["manager1", "manager2"]);
    assert.deepEqual(plan.hosts.find((h) => h.name === "store1")!.roles, ["etcd", "stolon-sentinel"]);
  });

  it("openstack-pacemaker.yaml: per-service clusters with fencing, Galera promotable clone + VIP, RabbitMQ clone, HAProxy clone + VIP", () => {
    const { plan, findings } = load("openstack-pacemaker.yaml");
    assert.deepEqual(haWarnings(findings), []);
    assert.equal(plan.pacemakerLayout, "per-service");
    assert.deepEqual(
      plan.pacemakerClusters.map((c) => c.name),
      ["db", "messaging", "lb"],
    );
    for (const c of plan.pacemakerClusters) {
      assert.deepEqual(c.quorum.quorum, 2);
      assert.equal(c.stonithEnabled, true);
      assert.deepEqual(
        c.spec.fencing.map((f) => f.agent),
        ["fence_ipmilan", "fence_ipmilan", "fence_ipmilan"],
      );
      assert.deepEqual(
        c.spec.fencing.flatMap((f) => f.hosts),
        c.nodes.map((n) => n.host),
      );
    }
    const db = plan.pacemakerClusters[0]!.spec;
    assert.ok(db.clones.some((c) => c.id === "galera-clone" && c.promotable));
    assert.ok(db.primitives.some((p) => p.agent === "ocf:heartbeat:IPaddr2"));
    const lb = plan.pacemakerClusters[2]!.spec;
    assert.ok(lb.constraints.colocation.some((c) => c.with === "haproxy-clone"));
    assert.ok(lb.constraints.order.some((o) => o.first === "haproxy-clone"));
    const galera = plan.haproxy!.backends.find((b) => b.name === "galera")!;
    assert.equal(galera.stickTable, true);
    assert.equal(galera.checkPort, 9200);
    const apis = plan.haproxy!.backends.filter((b) => b.name !== "galera");
    assert.ok(apis.length >= 3 && apis.every((b) => b.balance === "roundrobin" && b.httpchk));
  });

  it("tripleo-lightweight.yaml: lightweight layout, 3 controllers, VIPs + HAProxy, the rest under systemd", () => {
    const { plan, findings } = load("tripleo-lightweight.yaml");
    assert.deepEqual(haWarnings(findings), ["haproxy.bind-may-collide-with-server"]);
    assert.equal(plan.pacemakerLayout, "lightweight");
    const c = plan.pacemakerClusters[0]!;
    assert.deepEqual(
      c.nodes.map((n) => n.host),
      ["controller-0", "controller-1", "controller-2"],
    );
    // Corosync runs on the internal_api network.
    assert.deepEqual(
      c.nodes.map((n) => n.addrs),
      [["172.16.2.10"], ["172.16.2.11"], ["172.16.2.12"]],
    );
    const lw = c.spec.lightweight!;
    assert.deepEqual([...lw.managed].sort(), ["cinder-volume", "galera", "haproxy", "rabbitmq", "redis"]);
    assert.ok(lw.systemdServices.includes("openstack-nova-api") && lw.systemdServices.includes("openstack-glance-api"));
    assert.equal(lw.vips.length, 3);
    assert.deepEqual(plan.haproxy!.hosts, ["controller-0", "controller-1", "controller-2"]);
  });

  it("dr-provision.yaml: a 2-node active/passive app with a VIP and a secret token", () => {
    const { plan, findings } = load("dr-provision.yaml");
    assert.deepEqual(haWarnings(findings), []);
    assert.deepEqual(plan.activePassive, [
      {
        name: "drp",
        service: "dr-provision",
        hosts: ["drp1", "drp2"],
        vip: "10.40.0.10/24",
        interface: "eth0",
        haId: "drp-ha-1",
        token: { secret: "drpHaToken" },
      },
    ]);
  });

  it("lab.yaml: lab1..lab3, supervisor, keepalived + HAProxy, Pacemaker 'lab', etcd + Patroni, syncthing, RabbitMQ", () => {
    const { plan, inventory, findings } = load("lab.yaml");
    assert.deepEqual(haWarnings(findings), ["pacemaker.stonith-disabled"]);
    assert.deepEqual(
      plan.hosts.map((h) => [h.name, h.address, h.init]),
      [
        ["lab1", "10.213.7.11", "supervisor"],
        ["lab2", "10.213.7.12", "supervisor"],
        ["lab3", "10.213.7.13", "supervisor"],
      ],
    );
    assert.deepEqual(
      inventory.hosts.map((h) => h.interfaces),
      [1, 2, 3].map((i) => [{ name: "eth0", address: `10.213.7.1${i}/24` }]),
    );
    for (const h of inventory.hosts) {
      assert.equal(h.ssh.user, "root");
      assert.match(h.ssh.hostKey!, /^ssh-ed25519 AAAA\S+ placeholder-lab\d$/);
    }
    assert.deepEqual([plan.keepalived[0]!.vip, plan.keepalived[0]!.prefix], ["10.213.7.100", 24]);
    assert.deepEqual(plan.haproxy!.hosts, ["lab1", "lab2", "lab3"]);
    const lab = plan.pacemakerClusters.find((c) => c.name === "lab")!;
    assert.equal(lab.nodes.length, 3);
    assert.equal(lab.stonithEnabled, false);
    assert.ok(lab.spec.primitives.some((p) => p.agent === "ocf:heartbeat:IPaddr2"));
    assert.equal(plan.quorumStore!.members.length, 3);
    assert.equal(plan.quorumStore!.enableV2, true);
    assert.equal(plan.postgres!.engine, "patroni");
    assert.equal(plan.postgres!.endpoint, "10.213.7.100:5000");
    assert.deepEqual(plan.syncthing!.hosts, ["lab1", "lab2"]);
    assert.deepEqual(inventory.rabbitmq!.nodes, ["lab1", "lab2", "lab3"]);
  });
});
