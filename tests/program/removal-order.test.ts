/**
 * The program's dependency graph at scale (issue 14): the Pulumi program under the SDK's mocks
 * for the bench's Tower cluster (bench/plan.ts syntheticInventory: instances in 8 policy groups,
 * 4 isolated groups, RabbitMQ on 3 nodes) at 20 and 40 hosts.
 *  - The dependency links it registers (each one a URN in every RegisterResource request and in
 *    the state file) grow linearly with the hosts: per resource they stay nearly constant.
 *    Before the removal-order gates every membership action listed every deprovisioning of its
 *    service (members × hosts: 23,535 links at 100 hosts, 254 MB of URNs at 1,000).
 *  - Removing hosts deletes in the same order as those direct links did: for random sets of
 *    removed hosts (and random sets of resources), the order the engine derives from the direct
 *    dependencies among the deleted resources (tests/program/delete-order.ts), with each gate that
 *    lists one of them replaced, equals the order without the gates.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { syntheticInventory } from "../../bench/plan";
import { slug } from "../../components/service-resources";
import { isRemovalGate, removalOrders } from "./delete-order";
import { parseRun, type RecordedResource } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "haforge-removal-order-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function runInventory(hosts: number): Promise<RecordedResource[]> {
  const inv = join(dir, `bench-${hosts}.yaml`);
  writeFileSync(inv, syntheticInventory(hosts));
  const r = await promisify(execFile)(process.execPath, ["--import", "tsx", join(__dirname, "run-inventory.ts"), inv], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 256 << 20,
    timeout: 180_000,
  });
  return parseRun<{ resources: RecordedResource[] }>(r.stdout).resources;
}

const links = (rs: readonly RecordedResource[]) => rs.reduce((n, r) => n + r.dependencies.length, 0);

describe("the program's dependency graph at 20 and 40 hosts", () => {
  const runs = new Map<number, RecordedResource[]>();
  before(async () => {
    const [small, large] = await Promise.all([runInventory(20), runInventory(40)]);
    runs.set(20, small).set(40, large);
  });

  it("registers dependency links linearly in the hosts (per resource nearly constant)", () => {
    const [small, large] = [runs.get(20)!, runs.get(40)!];
    const perResource = (rs: RecordedResource[]) => links(rs) / rs.length;
    // Each Tower queue waits for the provisioning of each of its instances (12 queues × instances)
    // and per resource that share still grows towards its limit: 8.98 → 9.4 links from 20 to 40
    // hosts. With every member listing every deprovisioning it was 12.3 → 17.
    assert.ok(
      perResource(large) <= 1.2 * perResource(small),
      `links per resource ${perResource(small).toFixed(2)} at 20 hosts → ${perResource(large).toFixed(2)} at 40 (${links(large)} links)`,
    );
    for (const rs of [small, large])
      assert.deepEqual(
        rs
          .filter(isRemovalGate)
          .map((g) => g.name)
          .sort(),
        ["haforge-rabbitmq-removal-order", "haforge-tower-removal-order"],
      );
  });

  it("removing hosts deletes in the order the direct member → deprovisioning links gave (property)", () => {
    const rs = runs.get(40)!;
    const hosts = Array.from({ length: 40 }, (_, i) => `node${String(i).padStart(4, "0")}.example.net`);
    // a host's resources: its name or its slug ends the resource name or is followed by a dash
    const ofHost = (h: string) =>
      rs
        .filter((r) => !isRemovalGate(r) && [h, slug(h)].some((x) => r.name.endsWith(`-${x}`) || r.name.includes(`-${x}-`)))
        .map((r) => r.urn);
    const others = rs.filter((r) => !isRemovalGate(r)).map((r) => r.urn);
    let ordered = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.subarray(hosts, { minLength: 1, maxLength: 8 }).map((hs) => [...new Set(hs.flatMap(ofHost))]),
          fc.subarray(others, { minLength: 1, maxLength: 60 }),
        ),
        (removed) => {
          const { gated, direct } = removalOrders(rs, removed);
          assert.deepEqual(gated, direct);
          if (direct.some((p) => p.includes("-deprovision-"))) ordered++;
        },
      ),
      { numRuns: 60 },
    );
    assert.ok(ordered > 0, "some removals order a deprovisioning");
    // The cross-host case the gate exists for: node0005's provisioning action runs its delete on
    // node0000 (a Tower instance leaves through another one), so removing both hosts deletes it
    // before node0000's daemons stop.
    const removed = [...ofHost("node0000.example.net"), ...ofHost("node0005.example.net")];
    const urn = (name: string) => rs.find((r) => r.name === name)!.urn;
    const { gated } = removalOrders(rs, removed);
    assert.ok(
      gated.includes(
        `${urn("haforge-tower-tower-provision-node0005-example-net")} ${urn("haforge-tower-deprovision-node0000.example.net")}`,
      ),
      "node0005 leaves before node0000 stops",
    );
  });

  it("a removed Tower instance stops its services before it is deprovisioned; the generic deprovisioning runs after (it cannot stand in for tower-services-)", () => {
    // Tower's procedure: stop the instance's services, then deprovision_instance from another
    // instance. tower-services-H (delete: ansible-tower-service stop) depends on tower-provision-H,
    // so it is deleted first. Tower's generic deprovisioning (components/service-resources.ts:
    // members leave, then the host stops) is deleted AFTER the provision: dropping tower-services-H
    // for it would deprovision a still running instance.
    const rs = runs.get(40)!;
    const urn = (name: string) => {
      const r = rs.find((x) => x.name === name);
      assert.ok(r, `${name} registered`);
      return r.urn;
    };
    const h = "node0005.example.net";
    const removed = rs.filter((r) => !isRemovalGate(r) && (r.name.endsWith(`-${h}`) || r.name.endsWith(`-${slug(h)}`))).map((r) => r.urn);
    const { gated } = removalOrders(rs, removed);
    const services = urn(`haforge-tower-tower-services-${slug(h)}`);
    const provision = urn(`haforge-tower-tower-provision-${slug(h)}`);
    const generic = urn(`haforge-tower-deprovision-${h}`);
    for (const u of [services, provision, generic]) assert.ok(removed.includes(u), u);
    assert.ok(gated.includes(`${services} ${provision}`), "ansible-tower-service stop runs before deprovision_instance");
    assert.ok(gated.includes(`${provision} ${generic}`), "the generic deprovisioning stops the host after it left");
  });
});
