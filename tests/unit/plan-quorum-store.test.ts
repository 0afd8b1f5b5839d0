import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InventoryInput } from "../../src/inventory/schema";
import { hosts, noErrors, none, ofService, one, runSteps } from "./plan-helpers";

type StoreIn = NonNullable<InventoryInput["quorumStore"]>;
const qs = (store: StoreIn, n = 5) => {
  const r = runSteps({ hosts: hosts(n), quorumStore: store });
  return { ...r, findings: ofService(r.findings, "quorum-store.") };
};

describe("quorum store plan", () => {
  it("3 etcd members: endpoints, ports, quorum math, roles, rolling group", () => {
    const { plan, findings, roles } = qs({ kind: "etcd", members: ["h1", "h2", "h3"] });
    assert.deepEqual(findings, []);
    const s = plan.quorumStore!;
    assert.deepEqual(
      s.members.map((m) => [m.host, m.address, m.storeOnly]),
      [
        ["h1", "10.0.0.11", false],
        ["h2", "10.0.0.12", false],
        ["h3", "10.0.0.13", false],
      ],
    );
    assert.deepEqual([s.clientPort, s.peerPort, s.enableV2], [2379, 2380, true]);
    assert.deepEqual(s.endpoints, ["http://10.0.0.11:2379", "http://10.0.0.12:2379", "http://10.0.0.13:2379"]);
    assert.deepEqual(s.quorum, { expectedVotes: 3, quorum: 2, failuresTolerated: 1 });
    assert.deepEqual(roles.get("h1"), ["etcd"]);
    assert.deepEqual(plan.rollingGroups, [{ id: "etcd", service: "etcd", hosts: ["h1", "h2", "h3"], maxUnavailable: 1, quorum: s.quorum }]);
  });

  it("Cloudify: 2 managers + 1 store-only node plan; the store-only node rolls first", () => {
    const { plan, findings } = qs({ kind: "consul", members: ["h1", "h2"], storeOnly: ["h3"], encryptKey: { secret: "consulKey" } });
    assert.deepEqual(findings, []);
    assert.deepEqual([plan.quorumStore!.clientPort, plan.quorumStore!.peerPort], [8500, 8301]);
    assert.deepEqual(plan.quorumStore!.quorum, { expectedVotes: 3, quorum: 2, failuresTolerated: 1 });
    assert.deepEqual(plan.rollingGroups![0]!.hosts, ["h3", "h1", "h2"]);
  });

  it("2 members and no storeOnly: the Cloudify error with its hint", () => {
    const f = one(qs({ kind: "etcd", members: ["h1", "h2"] }).findings, "quorum-store.needs-store-only");
    assert.equal(f.severity, "error");
    assert.equal(f.path, "quorumStore.storeOnly");
    assert.match(f.message, /2 `members` \('h1', 'h2'\)/);
    assert.match(f.hint!, /2 managers need 1 store-only node/);
  });

  it("fewer than 3 voters is an error; an even count warns", () => {
    one(qs({ kind: "etcd", members: ["h1"] }).findings, "quorum-store.too-few-members");
    one(qs({ kind: "etcd", members: ["h1"], storeOnly: ["h2"] }).findings, "quorum-store.too-few-members");
    const even = one(qs({ kind: "etcd", members: ["h1", "h2", "h3"], storeOnly: ["h4"] }).findings, "quorum-store.even-members");
    assert.equal(even.severity, "warning");
    assert.match(even.message, /4 voting members/);
    none(qs({ kind: "etcd", members: ["h1", "h2", "h3", "h4", "h5"] }).findings, "quorum-store.even-members");
  });

  it("members are inventory hosts, listed once across members and storeOnly", () => {
    const f = qs({ kind: "etcd", members: ["h1", "h2", "nope"], storeOnly: ["h2"] }).findings;
    assert.equal(one(f, "quorum-store.unknown-host").path, "quorumStore.members[2]");
    assert.equal(one(f, "quorum-store.duplicate-member").path, "quorumStore.storeOnly[0]");
  });

  it("client and peer ports differ; consul without a gossip key warns", () => {
    one(qs({ kind: "etcd", members: ["h1", "h2", "h3"], clientPort: 2380 }).findings, "quorum-store.port-collision");
    assert.equal(one(qs({ kind: "consul", members: ["h1", "h2", "h3"] }).findings, "quorum-store.consul-no-encrypt").severity, "warning");
    noErrors(qs({ kind: "consul", members: ["h1", "h2", "h3"] }).findings);
  });

  it("etcd timings: carried to the plan; an election timeout under 5 × the heartbeat is an error; consul warns", () => {
    const ok = qs({ kind: "etcd", members: ["h1", "h2", "h3"], heartbeatIntervalMs: 200, electionTimeoutMs: 2000 });
    assert.deepEqual(ok.findings, []);
    assert.deepEqual([ok.plan.quorumStore!.heartbeatIntervalMs, ok.plan.quorumStore!.electionTimeoutMs], [200, 2000]);
    const unset = qs({ kind: "etcd", members: ["h1", "h2", "h3"] }).plan.quorumStore!;
    assert.ok(!("heartbeatIntervalMs" in unset) && !("electionTimeoutMs" in unset));
    // against etcd's default heartbeat (100 ms) when only the timeout is set, and the other way round
    const short = one(
      qs({ kind: "etcd", members: ["h1", "h2", "h3"], electionTimeoutMs: 400 }).findings,
      "quorum-store.election-timeout-too-short",
    );
    assert.equal(short.path, "quorumStore.electionTimeoutMs");
    assert.match(short.message, /400 ms is under 5 × the heartbeat interval 100 ms/);
    const slowBeat = one(
      qs({ kind: "etcd", members: ["h1", "h2", "h3"], heartbeatIntervalMs: 300 }).findings,
      "quorum-store.election-timeout-too-short",
    );
    assert.equal(slowBeat.path, "quorumStore.heartbeatIntervalMs");
    none(qs({ kind: "etcd", members: ["h1", "h2", "h3"], electionTimeoutMs: 500 }).findings, "quorum-store.election-timeout-too-short");
    const consul = qs({ kind: "consul", members: ["h1", "h2", "h3"], heartbeatIntervalMs: 200 }).findings;
    assert.equal(one(consul, "quorum-store.etcd-only-field").severity, "warning");
  });
});
