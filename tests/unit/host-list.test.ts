/**
 * One host-list check for every service (src/core/host-list.ts): a name that is not an inventory
 * host, put into any service's host list, is reported the same way everywhere: one error
 * `<service>.unknown-host` at that entry's path, naming the host, with a hint, and no plan.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { join } from "node:path";
import fc from "fast-check";
import { loadInventoryFile } from "../../src/inventory/load";
import type { Inventory } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import { ROOT } from "../helpers/cli";

type Mutable = Record<string, any>;

/** [service, example inventory, put `name` into a host list: returns the entry's path]. */
const LISTS: readonly (readonly [string, string, (inv: Mutable, name: string) => string])[] = [
  ["postgres", "lab.yaml", (i, n) => `postgres.nodes[${i.postgres.nodes.push(n) - 1}]`],
  ["haproxy", "lab.yaml", (i, n) => ((i.haproxy.hosts = [n]), "haproxy.hosts[0]")],
  ["keepalived", "lab.yaml", (i, n) => `keepalived.instances[0].hosts[${i.keepalived.instances[0].hosts.push(n) - 1}]`],
  ["active-passive", "dr-provision.yaml", (i, n) => `activePassive[0].hosts[${i.activePassive[0].hosts.push(n) - 1}]`],
  ["syncthing", "lab.yaml", (i, n) => `syncthing.folders[0].hosts[${i.syncthing.folders[0].hosts.push(n) - 1}]`],
  ["rabbitmq", "tower-cluster.yaml", (i, n) => ((i.rabbitmq.nodes = ["towerA", n]), "rabbitmq.nodes[1]")],
  ["tower", "tower-cluster.yaml", (i, n) => `tower.instanceGroups[1].hosts[${i.tower.instanceGroups[1].hosts.push(n) - 1}]`],
  ["quorum-store", "lab.yaml", (i, n) => `quorumStore.members[${i.quorumStore.members.push(n) - 1}]`],
  ["pacemaker", "openstack-pacemaker.yaml", (i, n) => `pacemaker.clusters[0].nodes[${i.pacemaker.clusters[0].nodes.push(n) - 1}]`],
  [
    "pacemaker",
    "openstack-pacemaker.yaml",
    (i, n) => `pacemaker.clusters[0].remoteNodes[${i.pacemaker.clusters[0].remoteNodes.push(n) - 1}]`,
  ],
];

const inventories = new Map<string, Inventory>();
function example(file: string): Mutable {
  if (!inventories.has(file)) {
    const loaded = loadInventoryFile(join(ROOT, "inventories", file));
    assert.ok(loaded.inventory, file);
    inventories.set(file, loaded.inventory);
  }
  return structuredClone(inventories.get(file)!);
}

/** Host names no example uses. */
const unknownName = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/).map((s) => `zz-${s}`);

describe("host lists: every service reports an unknown host the same way", () => {
  for (const [service, file, put] of LISTS)
    test(`${service} (${file}): ${put(example(file), "NAME")}`, () => {
      fc.assert(
        fc.property(unknownName, (name) => {
          const inv = example(file);
          const path = put(inv, name);
          const r = planCluster(inv as Inventory);
          const hits = r.findings.filter((f) => f.path === path);
          assert.equal(hits.length, 1, JSON.stringify(r.findings));
          const f = hits[0]!;
          assert.equal(f.severity, "error");
          assert.equal(f.code, `${service}.unknown-host`);
          assert.ok(f.message.includes(`'${name}'`) || f.message.includes(JSON.stringify(name)), f.message);
          assert.match(f.hint ?? "", /hosts/);
          assert.equal(r.plan, undefined);
        }),
        { numRuns: 15 },
      );
    });
});
