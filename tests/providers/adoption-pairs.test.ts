/**
 * An empty state meets hosts that already run with key pairs (issue 9, item 1), against a real
 * sshd on loopback: a syncthing device certificate with its key and the API key in config.xml
 * (the pair syncthing itself generated), and Tower's isolated key pair in Tower's settings (read
 * and stored through a stand-in of `awx-manage shell`: Django's settings and AWX's Setting model
 * over a JSON file). Each is adopted — the same bytes, so the device ID every peer's config.xml
 * lists stays, and Tower's key and every isolated host's authorized_keys line stay — never
 * regenerated and written over. A pair whose halves do not match is not adopted: a warning, and
 * its key file is refused as a take-over.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MaterialSource } from "../../src/core/materials";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { requiredMaterials } from "../../src/pipeline/render";
import { materialsProvider, type MaterialsInputs, type MaterialsOutputs, type RemoteFileInputs } from "../../src/providers";
import { certMaterialKey, deviceIdOf, SYNCTHING_HOME } from "../../src/services/syncthing/render";
import { ISOLATED_KEY_MATERIAL, keyPair, storeIsolatedKeyScript } from "../../src/services/tower/isolated";
import { clearFileFacts, getDefaultPool } from "../../src/transport";
import { flatRemoteFileProvider as provider } from "./remote-file-wire";
import { startSshd, type Sshd } from "./sshd-fixture";
import { stderrOf } from "../stderr-of";

const ROOT = join(__dirname, "..", "..");
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
  const d = join(a.dir, `pairs-${++seq}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** The specs (and their read-back sources) the lab inventory's syncthing declares for one host. */
function syncthingSpecs(host: string) {
  const plan = analyzeInventoryFile(join(ROOT, "inventories", "lab.yaml")).plan!;
  return requiredMaterials(plan).filter((s) => s.key.startsWith("syncthing/") && s.key.endsWith(`/${host}`));
}

/** A spec's read-back sources with syncthing's home moved to `home` (a folder the sshd user reads). */
const at = (sources: readonly MaterialSource[] | undefined, home: string) =>
  (sources ?? []).map((s) => ({
    ...s,
    path: s.path.replace(SYNCTHING_HOME, home),
    ...(s.keyPath ? { keyPath: s.keyPath.replace(SYNCTHING_HOME, home) } : {}),
    connection: a.conn(),
  }));

const fileInputs = (path: string, content: string, secret: boolean): RemoteFileInputs => ({
  connection: a.conn(),
  path,
  content,
  mode: secret ? "0600" : "0644",
  owner: "root",
  group: "root",
  ...(secret ? { secret: true, keyFile: true } : {}),
});

describe("empty state, key pairs on the hosts", () => {
  it("syncthing: the host's own certificate, key and API key are adopted; cert.pem and key.pem are not rewritten; the device ID stays", async () => {
    const home = dir();
    execFileSync("syncthing", ["generate", `--home=${home}`], { stdio: "ignore", timeout: 60_000 });
    const id = execFileSync("syncthing", ["--device-id", `--home=${home}`], { encoding: "utf8", timeout: 60_000 }).trim();
    const host = "lab1";
    const specs = syncthingSpecs(host);
    assert.equal(specs.length, 2, "certificate and API key");
    const inputs: MaterialsInputs = {
      specs: specs.map((s) => ({ key: s.key, kind: s.kind })),
      adopt: Object.fromEntries(specs.map((s) => [s.key, at(s.readBack, home)])),
    };
    const { result, stderr } = await stderrOf(() => materialsProvider.create(inputs));
    const values = (result.outs as MaterialsOutputs).values;
    const cert = JSON.parse(values[certMaterialKey(host)]!) as { cert: string; key: string };
    assert.equal(cert.cert, readFileSync(join(home, "cert.pem"), "utf8"));
    assert.equal(cert.key, readFileSync(join(home, "key.pem"), "utf8"));
    assert.equal(deviceIdOf(host, values), id, "the device ID syncthing reports, so peers' config.xml lists the same");
    assert.equal(values[`syncthing/apikey/${host}`], /<apikey>([^<]*)<\/apikey>/.exec(readFileSync(join(home, "config.xml"), "utf8"))![1]);
    assert.match(stderr, /syncthing\/cert\/lab1: adopted the key found on lab1:.*cert\.pem/);
    assert.match(stderr, /syncthing\/apikey\/lab1: adopted the key found on lab1:.*config\.xml/);
    // The files the program then declares hold the same bytes: no write, no take-over refusal.
    clearFileFacts();
    for (const [name, content, secret] of [
      ["cert.pem", cert.cert, false],
      ["key.pem", cert.key, true],
    ] as const) {
      const path = join(home, name);
      const before = statSync(path);
      const inputs = fileInputs(path, content, secret);
      const checked = await stderrOf(() => provider.check({} as RemoteFileInputs, inputs));
      assert.equal(checked.result.failures, undefined, name);
      assert.doesNotMatch(checked.stderr, /take over/, `${name}: not a take-over`);
      await provider.create(inputs);
      const now = statSync(path);
      assert.equal(now.ino, before.ino, `${name} not replaced`);
      assert.equal(now.mtimeMs, before.mtimeMs, `${name} not written`);
    }
  });

  it("syncthing: a certificate with another certificate's key is not adopted: a warning, a new pair, and key.pem refused as a take-over", async () => {
    const [h1, h2] = [dir(), dir()];
    for (const h of [h1, h2]) execFileSync("syncthing", ["generate", `--home=${h}`], { stdio: "ignore", timeout: 60_000 });
    writeFileSync(join(h1, "key.pem"), readFileSync(join(h2, "key.pem")), { mode: 0o600 });
    const host = "lab2";
    const spec = syncthingSpecs(host).find((s) => s.key === certMaterialKey(host))!;
    const { result, stderr } = await stderrOf(() =>
      materialsProvider.create({ specs: [{ key: spec.key, kind: spec.kind }], adopt: { [spec.key]: at(spec.readBack, h1) } }),
    );
    const made = JSON.parse((result.outs as MaterialsOutputs).values[spec.key]!) as { cert: string; key: string };
    assert.notEqual(made.cert, readFileSync(join(h1, "cert.pem"), "utf8"), "a new certificate");
    assert.match(stderr, /warning: haforge: syncthing\/cert\/lab2: .*cert\.pem holds a certificate and key that do not belong together/);
    clearFileFacts();
    const keyPath = join(h1, "key.pem");
    const live = readFileSync(keyPath);
    const checked = await provider.check({} as RemoteFileInputs, fileInputs(keyPath, made.key, true));
    assert.equal(checked.failures?.length, 1, "the live key file is refused, never overwritten silently");
    assert.match(checked.failures[0]!.reason, /never taken over silently/);
    assert.deepEqual(readFileSync(keyPath), live);
  });

  describe("Tower's isolated key pair, kept in Tower's settings", () => {
    let fake: string;
    /** `awx-manage shell` over a JSON settings file: enough of Django and AWX for both scripts. */
    before(() => {
      fake = dir();
      const py = join(fake, "py");
      for (const p of ["django/conf", "awx/conf"]) mkdirSync(join(py, p), { recursive: true });
      for (const p of ["django/__init__.py", "awx/__init__.py", "awx/conf/__init__.py"]) writeFileSync(join(py, p), "");
      const store = join(fake, "settings.json");
      writeFileSync(store, "{}");
      writeFileSync(
        join(py, "django/conf/__init__.py"),
        [
          "import json",
          "class _Settings:",
          "    def __getattr__(self, name):",
          `        d = json.load(open(${JSON.stringify(store)}))`,
          "        if name in d: return d[name]",
          "        raise AttributeError(name)",
          "settings = _Settings()",
          "",
        ].join("\n"),
      );
      writeFileSync(
        join(py, "awx/conf/models.py"),
        [
          "import json",
          `STORE = ${JSON.stringify(store)}`,
          "class _Q:",
          "    def __init__(self, key): self.key = key",
          "    def delete(self):",
          "        d = json.load(open(STORE)); d.pop(self.key, None); json.dump(d, open(STORE, 'w'))",
          "class _Objects:",
          "    def filter(self, key, user=None): return _Q(key)",
          "    def create(self, key, value):",
          "        s = Setting(); s.key = key; s.value = value; return s",
          "class Setting:",
          "    objects = _Objects()",
          "    def save(self):",
          "        d = json.load(open(STORE)); d[self.key] = self.value; json.dump(d, open(STORE, 'w'))",
          "",
        ].join("\n"),
      );
      mkdirSync(join(fake, "bin"));
      writeFileSync(join(fake, "bin", "awx-manage"), `#!/bin/sh\n[ "$1" = shell ] || exit 2\nPYTHONPATH=${py} exec python3 -\n`, {
        mode: 0o755,
      });
    });
    const withFake = (script: string) => `PATH=${fake}/bin:$PATH\nexport PATH\n${script}`;
    /** The spec the Tower example declares (2,048 bits here: generating 4,096-bit keys only costs time). */
    const spec = () => {
      const plan = analyzeInventoryFile(join(ROOT, "inventories", "tower-cluster.ini")).plan!;
      const s = requiredMaterials(plan).find((m) => m.key === ISOLATED_KEY_MATERIAL)!;
      assert.equal(s.kind.type, "rsa-keypair");
      return { ...s, kind: { ...s.kind, bits: 2048 } as const };
    };
    const adoptFrom = (script: (s: string) => string) => {
      const s = spec();
      return {
        specs: [{ key: s.key, kind: s.kind }],
        adopt: { [s.key]: s.readBack!.map((src) => ({ ...src, script: script(src.script!), connection: a.conn() })) },
      };
    };

    it("the pair Tower holds is adopted; storing it again changes no setting (no rotation)", async () => {
      // Operator A's first up: a generated pair stored the way the action stores it.
      const first = await materialsProvider.create({ specs: [{ key: spec().key, kind: spec().kind }] });
      const pairA = keyPair((first.outs as MaterialsOutputs).values);
      const stored = await getDefaultPool().exec(a.conn(), "sh -s", { stdin: withFake(storeIsolatedKeyScript(pairA)), timeoutMs: 60_000 });
      assert.equal(stored.code, 0, stored.stderr);
      assert.match(stored.stdout, /isolated key settings: AWX_ISOLATED_PRIVATE_KEY, AWX_ISOLATED_PUBLIC_KEY/);
      // Operator B, empty state: the read-back script runs on the Tower host.
      const { result, stderr } = await stderrOf(() => materialsProvider.create(adoptFrom(withFake)));
      const pairB = keyPair((result.outs as MaterialsOutputs).values);
      assert.deepEqual(pairB, pairA, "the pair Tower holds, not a new one");
      assert.match(stderr, /tower\/isolated\/keypair: adopted the key found on .*Tower settings/);
      assert.doesNotMatch(stderr, /BEGIN RSA PRIVATE KEY|MII/, "no key text in the notes");
      const again = await getDefaultPool().exec(a.conn(), "sh -s", { stdin: withFake(storeIsolatedKeyScript(pairB)), timeoutMs: 60_000 });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /isolated key settings: unchanged/);
    });

    it("no Tower installed yet (no awx-manage): nothing to adopt, a pair is generated, nothing warned", async () => {
      const { result, stderr } = await stderrOf(() => materialsProvider.create(adoptFrom((s) => s)));
      assert.match(keyPair((result.outs as MaterialsOutputs).values).publicKey, /^ssh-rsa /);
      assert.equal(stderr, "");
    });
  });
});
