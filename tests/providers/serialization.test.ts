/**
 * The dynamic providers (RemoteFile, Materials) survive Pulumi's closure serialization: the SDK
 * serializes the provider object into the resource's `__provider` input and the dynamic-provider
 * process rebuilds it with `require-from-string(text).handler()` in plain node (no TypeScript
 * loader). Both halves are exercised here, RemoteFile's for real against an sshd.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { HostAction, hostActionProvider, hostActionProviderText } from "../../src/providers/host-action";
import {
  RemoteFile,
  gateProvider,
  gateProviderText,
  hostPackagesProvider,
  hostPackagesProviderText,
  materialsProvider,
  materialsProviderText,
  membershipGuardProvider,
  membershipGuardProviderText,
  remoteFileProvider,
  remoteFileProviderText,
} from "../../src/providers";
import { startSshd, type Sshd } from "./sshd-fixture";

const root = join(__dirname, "..", "..");
let s: Sshd;
before(async () => {
  s = await startSshd({ name: "hostS" });
});
after(async () => {
  await s?.stop();
});

/**
 * The `__provider` text a resource stores (src/providers/self-loader.ts providerText): what the
 * dynamic-provider process loads with `require-from-string(text).handler()`.
 */
function providerTextOf(provider: pulumi.dynamic.ResourceProvider = remoteFileProvider): { text: string } {
  const texts = new Map<pulumi.dynamic.ResourceProvider, string>([
    [remoteFileProvider, remoteFileProviderText],
    [materialsProvider, materialsProviderText],
    [hostActionProvider, hostActionProviderText],
    [hostPackagesProvider, hostPackagesProviderText],
    [membershipGuardProvider, membershipGuardProviderText],
    [gateProvider, gateProviderText],
  ]);
  return { text: texts.get(provider)! };
}

/** Run `body` (an async function body with `provider` and `input` in scope) in plain node; its last stdout line, parsed. */
async function runInPlainNode(sf: { text: string }, input: unknown, body: string): Promise<any> {
  const script = `
    const rfs = require(${JSON.stringify(require.resolve("require-from-string", { paths: [root] }))});
    const provider = rfs(process.env.PROVIDER_TEXT).handler();
    (async () => {
      const input = JSON.parse(process.env.INPUT);
      ${body}
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
  const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], {
    cwd: root,
    // Plain node: no `--import tsx` inherited from the test runner.
    env: { PATH: process.env.PATH, PROVIDER_TEXT: sf.text, INPUT: JSON.stringify(input) },
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

/**
 * The text is stored in state and loaded by refresh/destroy on other machines and checkouts:
 * no absolute path (checkout, HOME, tsx's location) may be in it. Before the fix it held
 * "/work/…/src/providers/remote-file.ts" and "/work/…/node_modules/tsx/dist/cjs/index.cjs".
 */
function noMachinePaths(text: string): void {
  assert.ok(!text.includes(root), `serialized provider holds the checkout path ${root}`);
  assert.doesNotMatch(text, /["'`]\/(?:home|root|tmp|work|usr|opt|var)\b/, "an absolute path in the serialized provider");
  assert.doesNotMatch(text, /node_modules/);
}

describe("RemoteFile provider serialization", () => {
  it("every provider's __provider text is a few hundred bytes: a relative require of its module, no machine path", () => {
    // Was the SDK's closure serialization of the provider object: 2,456 bytes for RemoteFile
    // (every method in its own wrapper), stored in each resource's inputs AND outputs.
    for (const [text, module] of [
      [remoteFileProviderText, "remote-file"],
      [materialsProviderText, "materials"],
      [hostActionProviderText, "host-action"],
      [hostPackagesProviderText, "host-packages"],
      [membershipGuardProviderText, "membership-guard"],
      [gateProviderText, "gate"],
    ] as const) {
      assert.ok(text.length < 320, `${module}: __provider is ${text.length} bytes`);
      // The module by its path in the program, through load-module.js (relative to the project
      // directory): the same text whether the program ran compiled (dist/program) or from sources.
      assert.ok(text.includes(`.loadModule("src/providers/${module}")`), `${module}: the module path in the program: ${text}`);
      assert.ok(text.includes(`resolve("load-module.js")`), `${module}: load-module.js relative to the project directory`);
      assert.match(text, /^exports\.handler = function/);
      noMachinePaths(text);
    }
  });

  it("the Gate's serialized provider runs in plain node: created once, an update only when its description or provider text changes", async () => {
    const input = { description: "every host's packages are installed", __provider: gateProviderText };
    const out = await runInPlainNode(
      providerTextOf(gateProvider),
      input,
      `const created = await provider.create(input);
      const same = await provider.diff(created.id, created.outs, input);
      const described = await provider.diff(created.id, created.outs, { ...input, description: "other" });
      const moved = await provider.diff(created.id, created.outs, { ...input, __provider: input.__provider + " " });
      console.log(JSON.stringify({ id: created.id, outs: created.outs, same: same.changes, described: described.changes, moved: moved.changes }));`,
    );
    assert.deepEqual(out, { id: "gate", outs: input, same: false, described: true, moved: true });
  });

  it("the serialized provider runs in a plain node process (as the dynamic-provider host runs it) and writes over SSH", async () => {
    const sf = providerTextOf();
    const path = join(s.dir, "serialized", "out.conf");
    const inputs = { connection: s.conn(), path, content: "from the provider process\n", mode: "0600", owner: "root", group: "root" };
    const out = await runInPlainNode(
      sf,
      inputs,
      `const checked = await provider.check({}, input);
      const created = await provider.create(checked.inputs);
      const d = await provider.diff(created.id, created.outs, input);
      console.log(JSON.stringify({ id: created.id, sha256: created.outs.facts.sha256, changes: d.changes }));
      process.exit(0); // the pooled SSH connection would keep the process alive`,
    );
    assert.equal(out.id, `hostS:${path}`);
    assert.equal(out.changes, false);
    assert.equal(readFileSync(path, "utf8"), "from the provider process\n");
  });

  it("the serialized provider loads from another directory holding the project (another checkout) and from nowhere else", async () => {
    const sf = providerTextOf();
    // Run from a directory without the project: the relative module path cannot resolve there.
    const elsewhere = await promisify(execFile)(
      process.execPath,
      [
        "-e",
        // As the dynamic-provider process calls it: inside an async function (handler() itself may throw).
        `Promise.resolve().then(() => require(${JSON.stringify(require.resolve("require-from-string", { paths: [root] }))})(process.env.T).handler().check({}, {})).then(() => console.log("loaded"), (e) => console.log("failed: " + e.code))`,
      ],
      {
        cwd: s.dir,
        env: { PATH: process.env.PATH, T: sf.text },
      },
    );
    assert.match(elsewhere.stdout, /failed: MODULE_NOT_FOUND/);
  });

  it("state from an older haforge (another __provider text) is an update that rewrites nothing on the host", async () => {
    const path = join(s.dir, "migrate", "m.conf");
    const inputs = { connection: s.conn(), path, content: "kept\n", mode: "0644", owner: "root", group: "root" };
    const created = await remoteFileProvider.create(inputs);
    const before = statSync(path);
    const oldText = "exports.handler = () => require('/home/alice/haforge/src/providers/remote-file.ts').remoteFileProvider;";
    const sf = providerTextOf();
    const d = await remoteFileProvider.diff!(
      created.id,
      { ...created.outs, __provider: oldText } as never,
      { ...inputs, __provider: sf.text } as never,
    );
    assert.equal(d.changes, true, "the new text must reach the state");
    const same = await remoteFileProvider.diff!(
      created.id,
      { ...created.outs, __provider: sf.text } as never,
      { ...inputs, __provider: sf.text } as never,
    );
    assert.equal(same.changes, false);
    await remoteFileProvider.update!(
      created.id,
      { ...created.outs, __provider: oldText } as never,
      { ...inputs, __provider: sf.text } as never,
    );
    const afterUpdate = statSync(path);
    assert.equal(afterUpdate.ino, before.ino, "the file was not rewritten");
    assert.equal(afterUpdate.mtimeMs, before.mtimeMs);
    const m = await materialsProvider.diff!(
      "materials",
      { specs: [], values: {}, __provider: oldText } as never,
      { specs: [], __provider: sf.text } as never,
    );
    assert.equal(m.changes, true);
  });

  it("declares as a dynamic resource under the SDK's mocks, with secret content kept secret", async () => {
    const seen: pulumi.runtime.MockResourceArgs[] = [];
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          seen.push(args);
          return { id: `${args.name}-id`, state: { ...args.inputs, facts: { sha256: "f".repeat(64), size: 1 } } };
        },
        call: () => ({}),
      },
      "haforge",
      "test",
      false,
    );
    const f = new RemoteFile("etc-app-conf", {
      connection: s.conn(),
      path: "/etc/app.conf",
      content: "pass=hunter2\n",
      secret: true,
    });
    assert.equal(await pulumi.isSecret(f.spec), false);
    const [sha, mode] = await Promise.all([
      new Promise<string>((r) => f.facts.apply((x) => r(x.sha256))),
      new Promise<string>((r) => f.spec.apply((x) => r(x.mode))),
    ]);
    assert.equal(sha.length, 64);
    assert.equal(mode, "0644", "defaults applied");
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.type, "pulumi-nodejs:dynamic:Resource");
    // The content input goes to the engine as a secret (the RPC's secret signature), so state
    // stores it encrypted. (`additionalSecretOutputs` for facts (sha256) is applied by the engine, which
    // the mocks do not model.)
    assert.deepEqual(seen[0]!.inputs.content, {
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      value: "pass=hunter2\n",
    });
    assert.equal(typeof seen[0]!.inputs.spec.path, "string");
    // Five top-level properties (the SDK's cost is per property): the file's fields are packed.
    assert.deepEqual(Object.keys(seen[0]!.inputs).sort(), ["__provider", "connection", "content", "spec"]);
    assert.equal(seen[0]!.inputs.connection.host, "hostS", "a key-path connection stays readable");

    // A connection carrying a password is sent as a secret as a whole.
    const g = new RemoteFile("with-password", { connection: { ...s.conn(), password: "pw-123" }, path: "/etc/b.conf", content: "b\n" });
    await new Promise<void>((r) => g.id.apply(() => r()));
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.inputs.connection["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
    assert.equal(await pulumi.isSecret(g.spec), false, "a secret connection leaves the spec readable");

    // The text the engine stores is the small self-loading one, under the SDK's dynamic type tokens.
    assert.equal(seen[0]!.inputs.__provider, remoteFileProviderText);
    const h = new HostAction("act", {
      connection: { host: "h", address: "127.0.0.1", user: "root", hostKey: s.hostKeyLine },
      create: "true",
    });
    await new Promise<void>((r) => h.id.apply(() => r()));
    assert.equal(seen[2]!.type, "pulumi-nodejs:dynamic:HostAction");
    assert.equal(seen[2]!.inputs.__provider, hostActionProviderText);
  });
});

describe("Materials provider serialization", () => {
  it("the serialized provider runs in a plain node process: generates once, keeps existing values, generates only new keys", async () => {
    const sf = providerTextOf(materialsProvider);
    const a = { key: "corosync/authkey/db", kind: { type: "random-bytes", bytes: 256 } };
    const b = { key: "api/token", kind: { type: "token", length: 32 } };
    const out = await runInPlainNode(
      sf,
      { a, b },
      `const created = await provider.create({ specs: [input.a] });
      const same = await provider.diff(created.id, created.outs, { specs: [input.a] });
      const more = await provider.diff(created.id, created.outs, { specs: [input.a, input.b] });
      const updated = await provider.update(created.id, created.outs, { specs: [input.a, input.b] });
      console.log(JSON.stringify({ id: created.id, created: created.outs.values, same: same.changes, more: more.changes, updated: updated.outs.values }));`,
    );
    assert.equal(out.id, "materials");
    assert.deepEqual(Object.keys(out.created), [a.key]);
    assert.equal(Buffer.from(out.created[a.key], "base64").length, 256);
    assert.equal(out.same, false);
    assert.equal(out.more, true);
    assert.deepEqual(Object.keys(out.updated).sort(), [b.key, a.key].sort());
    assert.equal(out.updated[a.key], out.created[a.key], "an existing value is never regenerated");
    assert.match(out.updated[b.key], /^[A-Za-z0-9]{32}$/);
  });
});
