/**
 * Quorum safety in the Pulumi program (src/providers/membership-guard.ts): the MembershipGuard's
 * check compares the memberships in state with the program's and fails before any step, and
 * every host resource depends on the guard, so a refused change touches nothing.
 *  - under the SDK's mocks: the guard carries the plan's memberships; every RemoteFile, Command
 *    and the Materials resource depend on it;
 *  - the provider's check as the engine calls it (olds from state, news from the program);
 *  - the e2e harness (tests/e2e/harness: the engine stand-in, every resource through the SDK's
 *    dynamic-provider process over gRPC; no lab needed here): with a checkpoint that holds 3
 *    RabbitMQ nodes, an inventory with 1 is refused with the finding by the guard's Check, and
 *    the provider is asked nothing else (no Diff, Create or Update: no host is contacted).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { memberships, type Membership } from "../../src/plan/membership";
import { membershipGuardProvider, membershipGuardProviderText } from "../../src/providers/membership-guard";
import { applyProgram, stateResources } from "../e2e/harness";
import type { Checkpoint } from "../engine";
import type { RecordedResource } from "./run-stack";
import { parseRun } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");
const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const unwrap = (v: unknown): any => (v && typeof v === "object" && SECRET_KEY in v ? unwrap((v as Record<string, unknown>)["value"]) : v);
const labPlan = () => analyzeInventoryFile(join(ROOT, "inventories", "lab.yaml")).plan!;

describe("membership guard", () => {
  let resources: RecordedResource[] = [];
  let guard: RecordedResource | undefined;

  before(() => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "run-stack.ts"), "lab"], {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 256 << 20,
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    resources = parseRun<{ resources: RecordedResource[] }>(r.stdout).resources;
    guard = resources.find((x) => x.type === "pulumi-nodejs:dynamic:Resource" && unwrap(x.raw).memberships !== undefined);
  });

  it("under the SDK mocks: the guard holds the plan's memberships and every host resource depends on it", () => {
    assert.ok(guard, "no MembershipGuard registered");
    assert.deepEqual(unwrap(guard.raw).memberships, JSON.parse(JSON.stringify(memberships(labPlan()))));
    assert.equal(unwrap(guard.raw).allowUnsafe, false);
    const host = resources.filter(
      (x) =>
        x.type === "command:remote:Command" ||
        (x.type === "pulumi-nodejs:dynamic:Resource" &&
          (unwrap(unwrap(x.raw).spec)?.path !== undefined || unwrap(x.raw).specs !== undefined)),
    );
    assert.ok(host.length > 50, `only ${host.length} host resources`);
    const free = host.filter((x) => !x.dependencies.includes(guard!.urn)).map((x) => x.name);
    assert.deepEqual(free, [], "host resources that do not wait for the membership check");
  });

  it("under the SDK mocks: one HostPackages per host with the plan's needs, after the guard; every file and command waits for them", () => {
    const pkgs = resources.filter((x) => x.type === "pulumi-nodejs:dynamic:Resource" && unwrap(x.raw).needs !== undefined);
    assert.deepEqual(pkgs.map((x) => unwrap(x.raw).host).sort(), ["lab1", "lab2", "lab3"]);
    for (const p of pkgs) {
      assert.ok(p.dependencies.includes(guard!.urn), `${p.name} does not wait for the membership check`);
      assert.ok(unwrap(p.raw).needs.debian.some((n: { name: string }) => n.name === "rabbitmq-server"));
    }
    const host = resources.filter(
      (x) =>
        x.type === "command:remote:Command" ||
        (x.type === "pulumi-nodejs:dynamic:Resource" && unwrap(unwrap(x.raw).spec)?.path !== undefined),
    );
    // The engine orders steps by dependencies transitively: what a resource waits for is the
    // closure of its dependencies.
    const byUrn = new Map(resources.map((x) => [x.urn, x]));
    const waitsFor = (x: RecordedResource): Set<string> => {
      const seen = new Set<string>();
      const todo = [...x.dependencies];
      for (let u = todo.pop(); u !== undefined; u = todo.pop())
        if (!seen.has(u)) {
          seen.add(u);
          todo.push(...(byUrn.get(u)?.dependencies ?? []));
        }
      return seen;
    };
    const early = host.filter((x) => !pkgs.every((p) => waitsFor(x).has(p.urn))).map((x) => x.name);
    assert.deepEqual(early, [], "files or commands that may run before the packages are installed");
    // ...through one gate (src/providers/gate.ts), not one dependency per host's packages each.
    const gate = resources.find((x) => x.name === "haforge-packages");
    assert.ok(gate, "no packages gate");
    assert.deepEqual(gate.dependencies.filter((u) => pkgs.some((p) => p.urn === u)).sort(), pkgs.map((p) => p.urn).sort());
    const listing = host.filter((x) => pkgs.some((p) => x.dependencies.includes(p.urn))).map((x) => x.name);
    assert.deepEqual(listing, [], "files or commands that list HostPackages themselves");
  });

  it("the provider's check: first update accepted, 3 → 1 refused with the finding, accepted with allowUnsafe, one at a time accepted", async () => {
    const three = memberships(labPlan());
    const shrink = (ms: Membership[], id: string, keep: number): Membership[] =>
      ms.map((m) =>
        m.id === id
          ? {
              ...m,
              members: m.members.slice(0, keep),
              quorum: { expectedVotes: keep, quorum: Math.floor(keep / 2) + 1, failuresTolerated: Math.floor((keep - 1) / 2) },
            }
          : m,
      );
    const check = (olds: object, news: object) => membershipGuardProvider.check!(olds as never, news as never);
    assert.equal((await check({}, { memberships: three, allowUnsafe: false })).failures, undefined);
    const refused = await check(
      { memberships: three, allowUnsafe: false },
      { memberships: shrink(three, "rabbitmq", 1), allowUnsafe: false },
    );
    assert.equal(refused.failures?.length, 1);
    assert.match(refused.failures[0]!.reason, /^membership\.majority-removed at rabbitmq\.nodes: .*nothing was changed on any host$/);
    assert.equal(
      (await check({ memberships: three }, { memberships: shrink(three, "rabbitmq", 1), allowUnsafe: true })).failures,
      undefined,
    );
    const five = three.map((m) =>
      m.id === "etcd"
        ? { ...m, members: ["lab1", "lab2", "lab3", "lab4", "lab5"], quorum: { expectedVotes: 5, quorum: 3, failuresTolerated: 2 } }
        : m,
    );
    assert.equal(
      (await check({ memberships: five }, { memberships: three, allowUnsafe: false })).failures,
      undefined,
      "5 → 3 etcd members is safe",
    );
    const diff = (o: object, n: object) => membershipGuardProvider.diff!("membership", o as never, n as never);
    assert.equal(
      (await diff({ memberships: three, allowUnsafe: false, __provider: "a" }, { memberships: three, allowUnsafe: false, __provider: "a" }))
        .changes,
      false,
    );
    assert.equal((await diff({ memberships: three, allowUnsafe: false }, { memberships: five, allowUnsafe: false })).changes, true);
    assert.equal(
      (
        await diff(
          { memberships: three, allowUnsafe: false, __provider: "old text" },
          { memberships: three, allowUnsafe: false, __provider: "new text" },
        )
      ).changes,
      true,
      "a new __provider text is stored",
    );
  });

  it("the provider text (as stored in __provider) checks in a plain node process", async () => {
    const sf = { text: membershipGuardProviderText };
    assert.ok(sf.text.length < 320, `__provider is ${sf.text.length} bytes`);
    const three = memberships(labPlan());
    const one = three.map((m) =>
      m.id === "pacemaker:lab" ? { ...m, members: ["lab1"], quorum: { expectedVotes: 1, quorum: 1, failuresTolerated: 0 } } : m,
    );
    const script = `
      const provider = require(${JSON.stringify(require.resolve("require-from-string", { paths: [ROOT] }))})(process.env.PROVIDER_TEXT).handler();
      const input = JSON.parse(process.env.INPUT);
      provider.check({ memberships: input.three }, { memberships: input.one, allowUnsafe: false }).then((r) => console.log(JSON.stringify(r.failures)));`;
    const r = spawnSync(process.execPath, ["-e", script], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
      env: { PATH: process.env["PATH"], PROVIDER_TEXT: sf.text, INPUT: JSON.stringify({ three, one }) },
    });
    assert.equal(r.status, 0, r.stderr);
    const failures = JSON.parse(r.stdout.trim().split("\n").pop()!) as { property: string; reason: string }[];
    assert.deepEqual(
      failures.map((f) => f.property),
      ["memberships"],
    );
    assert.match(failures[0]!.reason, /^membership\.majority-removed at pacemaker\.clusters\[0\]\.nodes/);
  });

  it(
    "through the e2e harness: a state with 3 RabbitMQ nodes and an inventory with 1 is refused before any SSH connection",
    { timeout: 180_000 },
    async () => {
      assert.ok(guard);
      const tmp = fs.mkdtempSync(join(tmpdir(), "haforge-guard-"));
      try {
        const key = join(tmp, "id_ed25519");
        assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status, 0);
        const inv = yaml.load(fs.readFileSync(join(ROOT, "inventories", "lab.yaml"), "utf8")) as any;
        for (const h of inv.hosts) h.ssh.privateKeyPath = key;
        inv.rabbitmq.nodes = ["lab1"];
        const invFile = join(tmp, "lab.yaml");
        fs.writeFileSync(invFile, yaml.dump(inv, { lineWidth: 200 }));
        const stateFile = join(tmp, "state.json");
        const old = { memberships: memberships(labPlan()), allowUnsafe: false, __provider: membershipGuardProviderText };
        const checkpoint: Checkpoint = {
          stack: "lab",
          project: "haforge",
          resources: [
            {
              urn: guard.urn,
              type: guard.type,
              custom: true,
              id: "membership",
              parent: guard.parent,
              inputs: old,
              outputs: old,
              dependencies: [],
            },
          ],
        };
        fs.writeFileSync(stateFile, JSON.stringify(checkpoint));
        const secrets = Object.fromEntries(
          [
            "rabbitmqPassword",
            "rabbitmqCookie",
            "keepalivedAuthPass",
            "haproxyStatsPassword",
            "pgSuperuserPassword",
            "pgReplicationPassword",
          ].map((k) => [k, `${k}-value1`]),
        );
        secrets["keepalivedAuthPass"] = "abcd1234";
        const r = await applyProgram({ inventory: invFile, stateFile, secrets, timeoutMs: 150_000 });
        assert.equal(r.ok, false, "the apply must fail");
        assert.match(r.errors.join("\n"), /membership\.majority-removed at rabbitmq\.nodes/);
        assert.deepEqual(
          Object.keys(r.rpcs).sort(),
          ["check", "configure"],
          `the provider was asked more than Check: ${JSON.stringify(r.rpcs)}`,
        );
        assert.equal(r.writes, 0);
        assert.equal(r.commandRuns, 0);
        assert.deepEqual(
          r.operations.filter((o) => o.kind === "file" || o.kind === "command").map((o) => o.name),
          [],
        );
        // the refused change is not recorded: the state still holds the 3 nodes
        const after = stateResources(stateFile).get(guard.name)!.inputs as { memberships: Membership[] };
        assert.deepEqual(after.memberships.find((m) => m.id === "rabbitmq")!.members, ["rabbit@lab1", "rabbit@lab2", "rabbit@lab3"]);
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    },
  );
});
