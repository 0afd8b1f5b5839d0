/**
 * The membership guard's `membership.nodeid-changed` refusal through the engine stand-in (issue
 * 11): the real program (index.ts) and providers, and no host haforge can reach (no credential,
 * a closed SSH port), so no step can write anything to a host whatever runs.
 *
 * 1. `up` of a 4-node Pacemaker cluster (default node ids 1..4 in `nodes` order): the hosts'
 *    steps fail, the guard is created first (every host resource depends on it) and the
 *    checkpoint holds it with this inventory's memberships.
 * 2. `up` without the first node: the three that stay would be renumbered 2→1, 3→2, 4→3. The
 *    guard's Check refuses it (`membership.nodeid-changed`, the hint naming the ids they run
 *    with): the engine shows it as the guard's failed step and runs nothing else; no create,
 *    update or delete call to a provider, the checkpoint byte for byte the same.
 * 3. The same removal with the ids pinned as the hint says: the guard passes it and records the
 *    new membership (the run then fails on the unreachable hosts, not on the guard).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readCheckpoint, up, urnName } from ".";

const root = join(__dirname, "..", "..");
const dir = fs.mkdtempSync(join(tmpdir(), "haforge-engine-nodeid-"));
const checkpointFile = join(dir, "state.json");
const inventoryFile = join(dir, "inventory.yaml");
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Node entries: a host name (default id, its place in `nodes`) or `host:id` (pinned). */
function inventory(nodes: readonly string[]): string {
  const hosts = ["h1", "h2", "h3", "h4"];
  return [
    "version: 1",
    "name: guard",
    "hosts:",
    ...hosts.flatMap((h, i) => [
      `  - name: ${h}`,
      `    address: 127.0.0.${i + 2}`,
      // port 1: nothing listens, every connection is refused
      "    ssh: { user: root, port: 1, hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl }",
    ]),
    "pacemaker:",
    "  clusters:",
    "    - name: pm",
    "      properties: { stonith-enabled: false }",
    "      nodes:",
    ...nodes.map((n) => (n.includes(":") ? `        - { host: ${n.split(":")[0]}, nodeid: ${n.split(":")[1]} }` : `        - ${n}`)),
    "",
  ].join("\n");
}
const run = (nodes: readonly string[]) => {
  fs.writeFileSync(inventoryFile, inventory(nodes));
  return up({ cwd: root, stack: "guard", checkpointFile, config: { "haforge:inventory": inventoryFile } });
};
const guardOf = () => readCheckpoint(checkpointFile, "guard").resources.find((r) => r.urn.endsWith("::haforge-membership"));

describe("membership.nodeid-changed through the engine (real program, no host reachable)", { concurrency: false }, () => {
  it("a first up records the guard with the 4 nodes' ids (the unreachable hosts fail)", async () => {
    const r = await run(["h1", "h2", "h3", "h4"]);
    assert.equal(r.ok, false, "the hosts are unreachable");
    assert.match(r.errors.join("\n"), /h1: connect/);
    assert.ok(guardOf(), "the guard is in the checkpoint");
    assert.match(JSON.stringify(guardOf()!.outputs), /"h1"/);
    assert.match(JSON.stringify(guardOf()!.outputs), /"h4"/);
  });

  it("without h1 (h2, h3, h4 renumbered 1, 2, 3): refused by the guard before any step; the checkpoint unchanged, no provider call writes", async () => {
    const before = fs.readFileSync(checkpointFile, "utf8");
    const r = await run(["h2", "h3", "h4"]);
    assert.equal(r.ok, false);
    const text = [...r.errors, ...r.diagnostics.map((d) => d.message)].join("\n");
    assert.match(text, /membership\.nodeid-changed/);
    assert.match(text, /h2: nodeid 2\b/);
    assert.deepEqual(
      Object.keys(r.rpcs).filter((k) => ["create", "update", "delete"].includes(k)),
      [],
      JSON.stringify(r.rpcs),
    );
    // the engine shows the refusal as the guard's failed step: its Check's error, nothing ran
    assert.deepEqual(
      r.steps
        .filter((s) => s.op !== "same")
        .map((s) => [urnName(s.urn), /^check failed: memberships: membership\.nodeid-changed/.test(s.error ?? "")]),
      [["haforge-membership", true]],
    );
    assert.equal(fs.readFileSync(checkpointFile, "utf8"), before, "the checkpoint unchanged");
  });

  it("the same removal with the ids pinned as the refusal says: the guard passes it and records the ids (the run fails on the unreachable hosts)", async () => {
    const r = await run(["h2:2", "h3:3", "h4:4"]);
    assert.equal(r.ok, false, "the hosts are unreachable");
    assert.doesNotMatch([...r.errors, ...r.diagnostics.map((d) => d.message)].join("\n"), /membership\.nodeid-changed/);
    const guard = r.steps.find((s) => s.urn.endsWith("::haforge-membership"));
    assert.deepEqual([guard?.op, guard?.error], ["update", undefined]);
    assert.doesNotMatch(JSON.stringify(guardOf()!.outputs), /"h1"/, "h1 left the recorded membership");
  });
});
