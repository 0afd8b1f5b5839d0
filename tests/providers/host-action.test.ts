/**
 * HostAction against real OpenSSH sshds on loopback: commands run over haforge's transport with
 * the host key verified, bounded by `timeout` on the host, credentials resolved at connect time
 * (a bastion included), delete run from the state's outputs, failures that say where without
 * leaking a secret action's output, and the provider surviving Pulumi's closure serialization.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  createHostAction,
  deleteHostAction,
  hostActionProviderText,
  updateHostAction,
  type ActionConnection,
  type HostActionInputs,
  packHostAction,
} from "../../src/providers/host-action";
import { SshPool } from "../../src/transport";
import { startSshd, type Sshd } from "./sshd-fixture";

const root = join(__dirname, "..", "..");
let a: Sshd;
let b: Sshd;
let pool: SshPool;
before(async () => {
  [a, b] = await Promise.all([startSshd({ name: "actA" }), startSshd({ name: "actB" })]);
  pool = new SshPool({ dialAttempts: 1 });
});
after(async () => {
  await pool?.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

/** An action connection as the program declares it: no key text, the key path as written. */
const actionConn = (s: Sshd, o: Partial<ActionConnection> = {}): ActionConnection => ({
  host: s.name,
  address: "127.0.0.1",
  port: s.port,
  user: "root",
  hostKey: s.hostKeyLine,
  privateKeyPath: s.clientKeyPath,
  ...o,
});
const inputs = (s: Sshd, o: Partial<HostActionInputs> = {}): HostActionInputs => ({
  connection: actionConn(s),
  create: "true",
  triggers: [],
  rerun: "change",
  timeoutSeconds: 60,
  deleteTimeoutSeconds: 60,
  ...o,
});
const rejection = async (p: Promise<unknown>): Promise<Error> => {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
};

describe("HostAction over the transport", () => {
  it("create runs on the host and keeps the output's tail; an update with only a new connection runs nothing", async () => {
    const marker = join(a.dir, "created");
    const i = inputs(a, { create: `echo run >> ${marker}; echo hello; echo warn >&2` });
    const c = await createHostAction(i, { pool });
    assert.equal(c.outs.stdout, "hello\n");
    assert.equal(c.outs.stderr, "warn\n");
    assert.equal(readFileSync(marker, "utf8"), "run\n");
    // Another operator: same host, other key path text and a different deploy credential.
    const other = {
      ...i,
      connection: { ...i.connection, privateKeyPath: join(a.dir, "..", a.dir.split("/").pop()!, "client_ed25519") },
      credentials: { "*": { password: "unused" } },
    };
    const u = await updateHostAction(c.outs, other, { pool });
    assert.equal(u.outs.ran, "none");
    assert.equal(readFileSync(marker, "utf8"), "run\n", "nothing ran again");
    // A trigger change runs create again.
    const t = await updateHostAction(u.outs, { ...other, triggers: ["sha-2"] }, { pool });
    assert.equal(t.outs.ran, "create");
    assert.equal(readFileSync(marker, "utf8"), "run\nrun\n");
  });

  it("bounds every command with timeout on the host: the command is killed there, not just abandoned", async () => {
    const marker = join(a.dir, "late");
    rmSync(marker, { force: true });
    const e = await rejection(createHostAction(inputs(a, { create: `sleep 4; touch ${marker}`, timeoutSeconds: 1 }), { pool }));
    assert.match(e.message, /^actA: create: timed out after 1 s \(killed on the host\)/);
    // Had it only been abandoned, the marker would appear 4 s after the start: wait until no
    // process on the host (this machine) still runs the command, then look (a fixed 4.5 s before).
    const running = () =>
      readdirSync("/proc")
        .filter((d) => /^\d+$/.test(d))
        .some((d) => {
          try {
            return readFileSync(`/proc/${d}/cmdline`, "utf8").includes(marker);
          } catch {
            return false; // exited meanwhile
          }
        });
    for (const until = Date.now() + 10_000; running() && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(marker), false, "the command was killed on the host");
  });

  it("a failure names host, step and exit code; a secret action's output is withheld", async () => {
    const e = await rejection(createHostAction(inputs(a, { create: "echo visible-detail >&2; exit 3", description: "join x" }), { pool }));
    assert.match(e.message, /^actA: create \(join x\): exited 3; stderr:\nvisible-detail/);
    const s = await rejection(createHostAction(inputs(a, { create: "echo hunter2-secret >&2; exit 4", secret: true }), { pool }));
    assert.match(s.message, /exited 4; output withheld: the action is secret/);
    assert.doesNotMatch(s.message, /hunter2/);
  });

  it("refuses a host whose key does not match the pin", async () => {
    // A fresh pool: a pooled connection is keyed by user@address:port and was verified when dialed.
    const e = await rejection(
      createHostAction(inputs(a, { connection: actionConn(a, { hostKey: b.hostKeyLine }) }), { pool: new SshPool({ dialAttempts: 1 }) }),
    );
    assert.match(e.message, /host key mismatch/);
  });

  it("reaches a host through a bastion with the bastion's own credential from `credentials` (no key path anywhere)", async () => {
    const keyA = readFileSync(a.clientKeyPath, "utf8");
    const keyB = readFileSync(b.clientKeyPath, "utf8");
    const { privateKeyPath: _pa, ...bastion } = actionConn(a);
    const { privateKeyPath: _pb, ...target } = actionConn(b, { bastion });
    const m = a.mark();
    const r = await createHostAction(
      { ...inputs(b), connection: target, credentials: { actA: { privateKey: keyA }, actB: { privateKey: keyB } } },
      { pool: new SshPool({ dialAttempts: 1 }) },
    );
    assert.match(r.outs.stdout, /^$/);
    assert.match(a.logSince(m), /direct-tcpip/, "went through the bastion");
    // Without the bastion's credential (and no agent), the bastion refuses: nothing falls back to an unverified path.
    const e = await rejection(
      createHostAction(
        { ...inputs(b), connection: target, credentials: { actB: { privateKey: keyB } } },
        { pool: new SshPool({ dialAttempts: 1 }) },
      ),
    );
    assert.match(e.message, /actA|bastion/);
  });

  it("delete runs the state's delete with the state's connection, bounded by deleteTimeoutSeconds", async () => {
    const marker = join(b.dir, "deleted");
    const c = await createHostAction(inputs(b, { delete: `touch ${marker}` }), { pool });
    assert.equal(await deleteHostAction(c.outs, { pool }), "ran");
    assert.ok(existsSync(marker));
    assert.equal(await deleteHostAction((await createHostAction(inputs(b), { pool })).outs, { pool }), "nothing");
    const slow = await createHostAction(inputs(b, { delete: "sleep 5", deleteTimeoutSeconds: 1 }), { pool });
    assert.match((await rejection(deleteHostAction(slow.outs, { pool }))).message, /^actB: delete: timed out after 1 s/);
  });
});

describe("HostAction provider serialization", () => {
  it("its __provider text runs create/diff in a plain node process", async () => {
    const sf = { text: hostActionProviderText };
    assert.ok(sf.text.length < 320, `__provider is ${sf.text.length} bytes`);
    const marker = join(a.dir, "from-provider-process");
    const script = `
      const rfs = require(${JSON.stringify(require.resolve("require-from-string", { paths: [root] }))});
      const provider = rfs(process.env.PROVIDER_TEXT).handler();
      (async () => {
        const input = JSON.parse(process.env.INPUT);
        const checked = await provider.check({}, input);
        if (checked.failures && checked.failures.length) throw new Error(JSON.stringify(checked.failures));
        const created = await provider.create(checked.inputs);
        const d = await provider.diff(created.id, created.outs, { ...input, connection: { ...input.connection, address: "localhost" } });
        console.log(JSON.stringify({ stdout: created.outs.result.stdout, changes: d.changes, replaces: d.replaces }));
        process.exit(0);
      })().catch((e) => { console.error(e.message); process.exit(1); });`;
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        PROVIDER_TEXT: sf.text,
        INPUT: JSON.stringify(packHostAction(inputs(a, { create: `touch ${marker}; echo ok` }))),
      },
      timeout: 60_000,
    });
    const out = JSON.parse(stdout.trim().split("\n").pop()!);
    assert.equal(out.stdout, "ok\n");
    assert.equal(out.changes, true);
    assert.deepEqual(out.replaces, []);
    assert.ok(existsSync(marker));
  });
});
