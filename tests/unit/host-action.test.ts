/**
 * HostAction's pure halves: check (what is refused before any host is contacted), the update
 * plan (what an update runs on the host), and the connect-time connection (credentials and key
 * paths resolved in the provider process, never read from operator-specific inputs).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import {
  checkHostAction,
  deleteHostAction,
  diffHostAction,
  expandKeyPath,
  planHostAction,
  transportConnection,
  type ActionConnection,
  type HostActionInputs,
  type HostActionOutputs,
} from "../../src/providers/host-action";
import { DELETE_ELSEWHERE_EXIT } from "../../src/core/desired-state";
import type { SshPool } from "../../src/transport";

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq3f8Ff2m3Vbq7cH8f2J5Jm7zq6n0c4Uu4Cq6ZcL3ab";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAdqgl2Q9ZV7v7Bn0mR8xO0r3b3hPpWZC0y9aQ8q0aa";
const UNKNOWN = pulumi.runtime.unknownValue;

const conn = (o: Partial<ActionConnection> = {}): ActionConnection => ({
  host: "a",
  address: "192.0.2.1",
  port: 22,
  user: "root",
  hostKey: KEY_A,
  ...o,
});
const action = (o: Partial<HostActionInputs> = {}): HostActionInputs => ({
  connection: conn(),
  create: "systemctl restart x",
  triggers: [],
  rerun: "change",
  timeoutSeconds: 600,
  deleteTimeoutSeconds: 300,
  secret: false,
  ...o,
});
const state = (i: HostActionInputs): HostActionOutputs => ({ ...i, stdout: "", stderr: "", ran: "create" });

const failuresOf = async (i: unknown) =>
  ((await checkHostAction(i as HostActionInputs)).failures ?? []).map((f) => `${f.property}: ${f.reason}`);

// Arbitraries -------------------------------------------------------------------------------
const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const connectionArb = fc
  .record({
    host: word,
    address: fc.ipV4(),
    port: fc.integer({ min: 1, max: 65535 }),
    user: word,
    hostKey: fc.constantFrom(KEY_A, KEY_B),
    privateKeyPath: fc.option(fc.constantFrom("~/.ssh/id_ed25519", "lab/.state/id_ed25519", "/home/alice/.ssh/id_rsa"), { nil: undefined }),
  })
  .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as unknown as ActionConnection);
const credentialsArb = fc.option(
  fc.dictionary(fc.oneof(word, fc.constant("*")), fc.record({ privateKey: fc.string({ minLength: 1 }) }), { maxKeys: 3 }),
  { nil: undefined },
);
const scriptArb = fc.constantFrom(
  "systemctl restart a",
  "supervisorctl restart b && timeout 180 sh -c 'until true; do sleep 1; done'",
  "awx-manage provision_instance --hostname=x",
);
const triggersArb = fc.array(fc.stringMatching(/^[0-9a-f]{8}$/), { maxLength: 3 });

describe("HostAction check refuses before any host is contacted", () => {
  it("accepts a pinned, credential-free connection", async () => {
    assert.deepEqual(await failuresOf(action()), []);
    assert.deepEqual(await failuresOf(action({ connection: conn({ bastion: conn({ host: "bastion", hostKey: KEY_B }) }) })), []);
  });

  it("refuses a connection without a host key, on the host and on every bastion (no trust-on-first-use path)", async () => {
    for (const bad of [conn({ hostKey: "" }), conn({ hostKey: [] }), conn({ bastion: conn({ host: "jump", hostKey: "" }) })]) {
      const f = await failuresOf(action({ connection: bad }));
      assert.ok(
        f.some((m) => /no pinned host key/.test(m)),
        f.join("\n"),
      );
    }
    const tofu = await failuresOf(
      action({ connection: { ...conn({ hostKey: "" }), trustOnFirstUse: true } as unknown as ActionConnection }),
    );
    assert.ok(
      tofu.some((m) => /trustOnFirstUse is not accepted/.test(m)),
      tofu.join("\n"),
    );
  });

  it("refuses key text, passwords and known_hosts paths inside the connection", async () => {
    for (const k of ["privateKey", "password", "passphrase", "knownHostsFile"]) {
      const f = await failuresOf(action({ connection: { ...conn(), [k]: "x" } }));
      assert.ok(
        f.some((m) => m.includes(`connection.${k} is not accepted`)),
        `${k}: ${f.join("\n")}`,
      );
    }
  });

  it("refuses an action with both delete and triggers (property: any non-empty pair)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1 }).filter((s) => s.trim() !== ""),
        fc.array(fc.string(), { minLength: 1, maxLength: 3 }),
        async (del, triggers) => {
          const f = await failuresOf(action({ delete: del, triggers }));
          assert.ok(
            f.some((m) => m.startsWith("triggers: an action with a delete command cannot have triggers")),
            f.join("\n"),
          );
        },
      ),
      { numRuns: 50 },
    );
    assert.deepEqual(await failuresOf(action({ delete: "crm_node -R a", triggers: [] })), []);
    // Unknown during preview still counts (the program must not be able to sneak it in).
    assert.ok((await failuresOf(action({ delete: "x", triggers: UNKNOWN as unknown as string[] }))).length > 0);
  });

  it("treats optional inputs sent as null (the SDK's mocks, the engine) as absent", async () => {
    const nulls = { ...action(), credentials: null, delete: null, description: null } as unknown as HostActionInputs;
    assert.deepEqual(await failuresOf(nulls), []);
    assert.equal(planHostAction(state(action()), nulls).changes, false);
    assert.equal(transportConnection(conn(), null).host, "a");
  });

  it("refuses a garbage host key, a bad port and a bad timeout", async () => {
    assert.ok((await failuresOf(action({ connection: conn({ hostKey: "ssh-ed25519 not-base64!" }) }))).some((m) => /hostKey/.test(m)));
    assert.ok((await failuresOf(action({ connection: conn({ port: 70000 }) }))).some((m) => /not a TCP port/.test(m)));
    for (const t of [0, -1, 1.5, 100_000])
      assert.ok(
        (await failuresOf(action({ timeoutSeconds: t }))).some((m) => /timeoutSeconds/.test(m)),
        `${t}`,
      );
  });
});

describe("HostAction update plan: what runs on the host", () => {
  it("a change of connection, credentials, timeouts or description alone runs nothing (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        connectionArb,
        connectionArb,
        credentialsArb,
        credentialsArb,
        fc.integer({ min: 1, max: 3600 }),
        scriptArb,
        triggersArb,
        fc.constantFrom("triggers", "change"),
        async (c1, c2, k1, k2, t, create, triggers, rerun) => {
          const olds = state(action({ connection: c1, ...(k1 ? { credentials: k1 } : {}), create, triggers, rerun: rerun }));
          const news = action({
            connection: c2,
            ...(k2 ? { credentials: k2 } : {}),
            create,
            triggers,
            rerun: rerun,
            timeoutSeconds: t,
            description: "other",
          });
          const p = planHostAction(olds, news);
          assert.equal(p.runs, "none", `changed: ${p.changed.join(", ")}`);
          const d = await diffHostAction(olds, news);
          assert.deepEqual(d.replaces, [], "never a replacement (it would run the old delete)");
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a trigger change re-runs create; a command change does so only for rerun: change (property)", () => {
    fc.assert(
      fc.property(triggersArb, triggersArb, scriptArb, scriptArb, fc.constantFrom("triggers", "change"), (t1, t2, s1, s2, rerun) => {
        const p = planHostAction(
          state(action({ triggers: t1, create: s1, rerun: rerun })),
          action({ triggers: t2, create: s2, rerun: rerun }),
        );
        const triggersChanged = JSON.stringify(t1) !== JSON.stringify(t2);
        const expected = triggersChanged || (rerun === "change" && s1 !== s2) ? "create" : "none";
        assert.equal(p.runs, expected);
        assert.equal(p.changes, triggersChanged || s1 !== s2);
      }),
      { numRuns: 300 },
    );
  });

  it("identical inputs are no change at all, whatever the outputs hold", () => {
    fc.assert(
      fc.property(connectionArb, credentialsArb, scriptArb, triggersArb, fc.string(), (c, k, create, triggers, out) => {
        const i = action({ connection: c, ...(k ? { credentials: k } : {}), create, triggers });
        assert.deepEqual(planHostAction({ ...state(i), stdout: out }, i), { changes: false, runs: "none", changed: [] });
      }),
    );
  });

  it("a connection unknown during preview is neither a replacement nor a run", async () => {
    const olds = state(action());
    const d = await diffHostAction(olds, action({ connection: UNKNOWN as unknown as ActionConnection }));
    assert.equal(d.changes, false);
    assert.deepEqual(d.replaces, []);
    const addr = await diffHostAction(olds, action({ connection: { ...conn(), address: UNKNOWN as unknown as string } }));
    assert.equal(addr.changes, false);
    // Unknown triggers (a followed file changes in this preview) do show, as a run.
    const t = planHostAction(olds, action({ triggers: [UNKNOWN] }));
    assert.equal(t.runs, "create");
  });

  it("another serialized provider text is an update that runs nothing (state gets the new __provider)", async () => {
    const olds = { ...state(action()), __provider: "old text" } as HostActionOutputs;
    const d = await diffHostAction(olds, { ...action(), __provider: "new text" } as HostActionInputs);
    assert.equal(d.changes, true);
    assert.equal(d.plan?.runs, "none");
    assert.deepEqual(d.replaces, []);
  });

  it("state written before defaults existed compares equal to the defaults", () => {
    const i = action();
    const legacy = { ...state(i) } as Partial<HostActionOutputs>;
    delete (legacy as Record<string, unknown>)["rerun"];
    delete (legacy as Record<string, unknown>)["secret"];
    assert.equal(planHostAction(legacy, i).changes, false);
  });
});

describe("HostAction connect-time connection", () => {
  it("expands ~ and relative key paths only when connecting, in the provider process", () => {
    assert.equal(expandKeyPath("~/.ssh/id", "/proj", "/home/bob"), "/home/bob/.ssh/id");
    assert.equal(expandKeyPath("lab/.state/id", "/proj", "/home/bob"), "/proj/lab/.state/id");
    assert.equal(expandKeyPath("/etc/key", "/proj", "/home/bob"), "/etc/key");
    const t = transportConnection(conn({ privateKeyPath: "lab/.state/id" }), {}, "/checkout-b");
    assert.equal(t.privateKeyPath, "/checkout-b/lab/.state/id");
  });

  it("uses the host's own secret credential, else the deploy key; bastions get theirs (property)", () => {
    fc.assert(
      fc.property(
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        (own, jump, deploy) => {
          const creds: Record<string, { privateKey?: string; password?: string }> = {};
          if (own !== undefined) creds["a"] = { privateKey: own };
          if (jump !== undefined) creds["jump"] = { password: jump };
          if (deploy !== undefined) creds["*"] = { privateKey: deploy };
          const t = transportConnection(
            conn({ privateKeyPath: "~/.ssh/id", bastion: conn({ host: "jump", hostKey: KEY_B }) }),
            creds,
            "/p",
          );
          assert.equal(t.privateKey, own ?? deploy);
          // The key path is the fallback only when no key text is given.
          assert.equal(t.privateKeyPath !== undefined, (own ?? deploy) === undefined);
          assert.equal(t.bastion?.password, jump);
          assert.equal(t.bastion?.privateKey, deploy);
          assert.equal(t.hostKey, KEY_A);
          assert.equal(t.bastion?.hostKey, KEY_B);
        },
      ),
    );
  });

  it("a delete passes on to deleteElsewhere where a host is not the place or unreachable; none can: done; a failure stops (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<"elsewhere" | "unreachable" | "ok" | "fails">("elsewhere", "unreachable", "ok", "fails"), {
          minLength: 2,
          maxLength: 5,
        }),
        async (answers) => {
          const hosts = answers.map((_, i) => `h${i}`);
          const ran: string[] = [];
          const pool = {
            exec: async (c: { host?: string; address: string }) => {
              const i = Number(c.address.split(".").pop()) - 1;
              ran.push(hosts[i]!);
              const a = answers[i]!;
              if (a === "unreachable") throw new Error(`${hosts[i]}: connect ECONNREFUSED`);
              const code = a === "ok" ? 0 : a === "fails" ? 1 : DELETE_ELSEWHERE_EXIT;
              return { code, stdout: "", stderr: a === "fails" ? "boom" : "", timedOut: false };
            },
          } as unknown as SshPool;
          const c = (i: number) => conn({ host: hosts[i]!, address: `192.0.2.${i + 1}` });
          const props = state(action({ connection: c(0), delete: "remove it", deleteElsewhere: hosts.slice(1).map((_, i) => c(i + 1)) }));
          const stop = answers.findIndex((a) => a === "ok" || a === "fails");
          const r = await deleteHostAction(props, { pool }).then(
            (v) => v,
            (e: Error) => e,
          );
          // runs on each host in order up to the first that is the place (or fails)
          assert.deepEqual(ran, stop < 0 ? hosts : hosts.slice(0, stop + 1));
          if (stop >= 0 && answers[stop] === "fails") assert.match(String(r), new RegExp(`${hosts[stop]}: delete: exited 1`));
          else if (stop < 0 && answers.includes("unreachable")) assert.match(String(r), /ECONNREFUSED/);
          else assert.equal(r, "ran");
        },
      ),
      { numRuns: 60 },
    );
    // without deleteElsewhere, the exit code is a failure as any other
    const pool = { exec: async () => ({ code: DELETE_ELSEWHERE_EXIT, stdout: "", stderr: "", timedOut: false }) } as unknown as SshPool;
    await assert.rejects(deleteHostAction(state(action({ delete: "x" })), { pool }), /exited 75/);
  });

  it("deleteElsewhere: checked like the connection; a change is an update that runs nothing", async () => {
    assert.deepEqual(await failuresOf(action({ delete: "x", deleteElsewhere: [conn({ host: "b" })] })), []);
    assert.ok((await failuresOf(action({ delete: "x", deleteElsewhere: [conn({ host: "b", hostKey: "" })] }))).length > 0);
    const p = planHostAction(state(action({ delete: "x" })), action({ delete: "x", deleteElsewhere: [conn({ host: "b" })] }));
    assert.deepEqual([p.changes, p.runs, p.changed], [true, "none", ["deleteElsewhere"]]);
    assert.equal(planHostAction(state(action({ delete: "x", deleteElsewhere: [] })), action({ delete: "x" })).changes, false);
  });
});
