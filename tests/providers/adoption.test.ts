/**
 * An empty state meets a running cluster (issue 9, item 1: a second operator's first `up`, a lost
 * state), against a real sshd on loopback: generated keys already on the host are adopted (read
 * back), never regenerated and overwritten; a plain file with other content is shown as a
 * take-over; a key file with other content is refused unless the stack opts in.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { materialsProvider, type MaterialsInputs, type MaterialsOutputs, type RemoteFileInputs } from "../../src/providers";
import { RemoteFileError, clearFileFacts, getDefaultPool } from "../../src/transport";
import { flatRemoteFileProvider as provider } from "./remote-file-wire";
import { startSshd, type Sshd } from "./sshd-fixture";
import { stderrOf } from "../stderr-of";

let a: Sshd;
before(async () => {
  a = await startSshd({ name: "hostA" });
});
after(async () => {
  await getDefaultPool().close();
  await a?.stop();
});

let seq = 0;
const dir = () => {
  const d = join(a.dir, `adopt-${++seq}`);
  mkdirSync(d, { recursive: true });
  return d;
};

describe("empty state, existing keys", () => {
  it("Materials adopts the keys it finds on the hosts (an unreachable host is skipped) and generates only the missing ones", async () => {
    const d = dir();
    const authkey = randomBytes(128);
    writeFileSync(join(d, "authkey"), authkey, { mode: 0o400 });
    writeFileSync(join(d, ".erlang.cookie"), "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\n", { mode: 0o400 });
    const down = { ...a.conn(), port: 1, host: "down" };
    const inputs: MaterialsInputs = {
      specs: [
        { key: "corosync/authkey/c1", kind: { type: "random-bytes", bytes: 128 } },
        { key: "cookie", kind: { type: "token", length: 32 } },
        { key: "corosync/authkey/new", kind: { type: "random-bytes", bytes: 128 } },
      ],
      adopt: {
        "corosync/authkey/c1": [
          { host: "down", path: join(d, "authkey"), base64: true, connection: down },
          { host: "hostA", path: join(d, "authkey"), base64: true, connection: a.conn() },
        ],
        cookie: [{ host: "hostA", path: join(d, ".erlang.cookie"), base64: false, suffix: "\n", connection: a.conn() }],
        "corosync/authkey/new": [{ host: "hostA", path: join(d, "absent"), base64: true, connection: a.conn() }],
      },
    };
    const { result, stderr } = await stderrOf(() => materialsProvider.create(inputs));
    const values = (result.outs as MaterialsOutputs).values;
    assert.equal(values["corosync/authkey/c1"], authkey.toString("base64"), "the live authkey, not a new one");
    assert.equal(values["cookie"], "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    assert.equal(Buffer.from(values["corosync/authkey/new"]!, "base64").length, 128, "no host has it: generated");
    assert.notEqual(values["corosync/authkey/new"], values["corosync/authkey/c1"]);
    assert.match(stderr, /corosync\/authkey\/c1: adopted the key found on hostA/);
    // Update with a state that holds values: state wins, nothing is read or replaced.
    const kept = await materialsProvider.update!("materials", result.outs as MaterialsOutputs, inputs);
    assert.deepEqual((kept.outs as MaterialsOutputs).values, values);
  });

  it("a key every host holds a value of its own (package-made, never shared) is generated and its files may be replaced; a shared one is adopted over a stray; two shared ones are ambiguous", async () => {
    const d = dir();
    const kind = { type: "random-bytes", bytes: 4096 } as const;
    // Three hosts (one sshd, a folder each): what Debian's pacemaker-common leaves on every host.
    const hosts = (values: Buffer[]) =>
      values.map((v, i) => {
        const path = join(d, `h${i}-${seq}-${randomBytes(4).toString("hex")}`);
        writeFileSync(path, v, { mode: 0o440 });
        return { host: `h${i + 1}`, path, base64: true, connection: a.conn() };
      });
    const [k1, k2] = [randomBytes(4096), randomBytes(4096)];
    const inputs: MaterialsInputs = {
      specs: [
        { key: "pacemaker/authkey/own", kind },
        { key: "pacemaker/authkey/shared", kind },
        { key: "pacemaker/authkey/split", kind },
      ],
      adopt: {
        "pacemaker/authkey/own": hosts([randomBytes(4096), randomBytes(4096), randomBytes(4096)]),
        "pacemaker/authkey/shared": hosts([k1, randomBytes(4096), k1]),
        "pacemaker/authkey/split": hosts([k1, k1, k2, k2]),
      },
    };
    const { result, stderr } = await stderrOf(() => materialsProvider.create(inputs));
    const outs = result.outs as MaterialsOutputs;
    const own = Buffer.from(outs.values["pacemaker/authkey/own"]!, "base64");
    assert.equal(own.length, 4096);
    for (const src of inputs.adopt!["pacemaker/authkey/own"]!)
      assert.notDeepEqual(own, readFileSync(src.path), "no host's own key is adopted");
    assert.deepEqual(outs.unshared, ["pacemaker/authkey/own"]);
    assert.match(stderr, /pacemaker\/authkey\/own: every host holds a key of its own \(h1, h2, h3\)/);
    assert.equal(outs.values["pacemaker/authkey/shared"], k1.toString("base64"), "the key two hosts share, not the stray");
    assert.match(stderr, /pacemaker\/authkey\/shared: adopted the key found on h1:.*, h3:/);
    const split = outs.values["pacemaker/authkey/split"]!;
    assert.ok(split !== k1.toString("base64") && split !== k2.toString("base64"), "two shared keys: neither adopted");
    assert.match(stderr, /warning: haforge: pacemaker\/authkey\/split: the hosts hold different shared keys/);
  });

  it("the adopted key's file is not rewritten by the create that follows (same bytes: no write)", async () => {
    const d = dir();
    const path = join(d, "authkey");
    const authkey = randomBytes(128);
    writeFileSync(path, authkey, { mode: 0o400 });
    const before = statSync(path);
    const inputs: RemoteFileInputs = {
      connection: a.conn(),
      path,
      content: authkey.toString("base64"),
      encoding: "base64",
      mode: "0400",
      owner: "root",
      group: "root",
      secret: true,
      keyFile: true,
    };
    clearFileFacts();
    assert.equal((await provider.check({} as RemoteFileInputs, inputs)).failures, undefined);
    await provider.create(inputs);
    const now = statSync(path);
    assert.equal(now.ino, before.ino, "not replaced");
    assert.equal(now.mtimeMs, before.mtimeMs);
    assert.deepEqual(readFileSync(path), authkey);
  });

  it("a plain file with other content and no state: shown as a take-over (a note with the diff), then written", async () => {
    const d = dir();
    const path = join(d, "app.conf");
    writeFileSync(path, "listen 8080\n");
    const inputs: RemoteFileInputs = { connection: a.conn(), path, content: "listen 80\n", mode: "0644", owner: "root", group: "root" };
    const { result, stderr } = await stderrOf(() => provider.check({} as RemoteFileInputs, inputs));
    assert.equal(result.failures, undefined);
    assert.match(stderr, /note: hostA: take over existing .*app\.conf/);
    assert.match(stderr, /-listen 8080\n\+listen 80/);
    // With state (olds), check reads nothing and notes nothing: the diff shows changes then.
    const again = await stderrOf(() => provider.check(inputs, inputs));
    assert.equal(again.stderr, "");
    await provider.create(inputs);
    assert.equal(readFileSync(path, "utf8"), "listen 80\n");
  });

  it("a secret file that holds no generated key (a packaged haproxy.cfg getting a password) is taken over with a note, not refused", async () => {
    const d = dir();
    const path = join(d, "haproxy.cfg");
    writeFileSync(path, "global\n  daemon\n");
    const inputs: RemoteFileInputs = {
      connection: a.conn(),
      path,
      content: "global\n  stats auth admin:S3cret\n",
      mode: "0640",
      owner: "root",
      group: "root",
      secret: true,
    };
    const { result, stderr } = await stderrOf(() => provider.check({} as RemoteFileInputs, inputs));
    assert.equal(result.failures, undefined);
    assert.match(stderr, /note: hostA: take over existing .*haproxy\.cfg/);
    assert.doesNotMatch(stderr, /S3cret/);
    await provider.create(inputs);
    assert.equal(readFileSync(path, "utf8"), inputs.content);
  });

  it("a key file with other content and no state is refused (check and create) unless the stack opts in", async () => {
    const d = dir();
    const path = join(d, "authkey");
    const live = randomBytes(128);
    writeFileSync(path, live, { mode: 0o400 });
    const inputs: RemoteFileInputs = {
      connection: a.conn(),
      path,
      content: randomBytes(128).toString("base64"),
      encoding: "base64",
      mode: "0400",
      owner: "root",
      group: "root",
      secret: true,
      keyFile: true,
    };
    const checked = await provider.check({} as RemoteFileInputs, inputs);
    assert.equal(checked.failures?.length, 1);
    assert.match(checked.failures[0]!.reason, /never taken over silently/);
    assert.match(checked.failures[0]!.reason, /haforge:takeOver \("hostA:.*authkey", or "\*"\)/);
    assert.doesNotMatch(checked.failures[0]!.reason, new RegExp(live.toString("base64").slice(0, 12).replace(/[+/]/g, ".")));
    await assert.rejects(provider.create(inputs), (e: unknown) => e instanceof RemoteFileError && e.code === "REFUSED");
    assert.deepEqual(readFileSync(path), live, "the live key is untouched");
    // Opted in: taken over.
    const opted = { ...inputs, takeOver: true };
    assert.equal((await provider.check({} as RemoteFileInputs, opted)).failures, undefined);
    await provider.create(opted);
    assert.deepEqual(readFileSync(path), Buffer.from(inputs.content, "base64"));
  });
});
