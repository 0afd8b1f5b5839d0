import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT, runCli, runCliProcess } from "../helpers/cli";

const inv = (f: string) => join(ROOT, "inventories", f);
const examples = readdirSync(join(ROOT, "inventories")).filter((f) => /\.(ya?ml|ini)$/.test(f));

describe("haforge CLI contract", () => {
  it("has example inventories", () => assert.ok(examples.length >= 7, `found ${examples.join(", ")}`));

  for (const f of examples) {
    it(`validate ${f} --json: valid, exit 0, findings have the documented shape`, async () => {
      const r = await runCli(["validate", inv(f), "--json"]);
      const j = JSON.parse(r.out) as { valid: boolean; findings: Record<string, unknown>[] };
      assert.equal(j.valid, true, r.out);
      assert.equal(r.code, 0);
      for (const x of j.findings) {
        assert.ok(x["severity"] === "warning", `no errors expected: ${JSON.stringify(x)}`);
        for (const k of ["code", "path", "message"]) assert.equal(typeof x[k], "string");
      }
    });
  }

  it("plan --json prints the documented projection", async () => {
    const r = await runCli(["plan", inv("tower-cluster.ini"), "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    for (const k of ["hosts", "instanceGroups", "isolatedGroups", "rabbitmq", "pacemakerClusters"]) assert.ok(k in j, k);
    assert.ok(
      j.instanceGroups.some((g: { name: string }) => g.name === "tower"),
      "group names without prefix",
    );
    assert.ok(j.instanceGroups.every((g: { name: string }) => !g.name.startsWith("instance_group_")));
    for (const h of j.hosts) assert.ok(Array.isArray(h.roles) && typeof h.address === "string");
    for (const n of j.rabbitmq.nodes) assert.match(n.nodeName, /^rabbit@/);
    assert.equal(typeof j.rabbitmq.useLongName, "boolean");
  });

  it("an inventory with errors exits 1 with findings, for validate, plan and render", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-cli-"));
    const bad = join(dir, "bad.ini");
    writeFileSync(bad, "[instance_group_tower]\nhostA\n");
    const v = await runCli(["validate", bad, "--json"]);
    assert.equal(v.code, 1);
    const j = JSON.parse(v.out);
    assert.equal(j.valid, false);
    assert.ok(j.findings.some((f: { severity: string }) => f.severity === "error"));
    assert.equal((await runCli(["plan", bad])).code, 1);
    const out = join(dir, "out");
    assert.equal((await runCli(["render", bad, "--out", out, "--materials", join(dir, "m.json")])).code, 1);
    assert.equal(existsSync(out), false, "an invalid inventory renders nothing");
  });

  it("unreadable files and bad arguments exit 2 with a message and no stack trace", () => {
    const missing = runCliProcess(["validate", "/nonexistent/inventory.ini"]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /cannot read inventory/);
    assert.doesNotMatch(missing.err, /\n\s+at /);
    const badFlag = runCliProcess(["validate", inv("tower-cluster.ini"), "--frobnicate"]);
    assert.equal(badFlag.code, 2);
    assert.equal(runCliProcess(["nonsense"]).code, 2);
    assert.equal(runCliProcess(["render", inv("tower-cluster.ini")]).code, 2, "render without --out");
  });

  it("`npx haforge` runs from the project root with no build step", () => {
    const r = runCliProcess(["validate", inv("tower-standalone.ini")]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /valid/);
  });

  it("render masks secrets unless --reveal-secrets, and diff shows a secret change by its placeholder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-render-"));
    const env = { HAFORGE_SECRET_rabbitmqPassword: "s3cret-rabbit-password", HAFORGE_SECRET_pgPassword: "s3cret-pg-password" };
    const mat = join(dir, "materials.json");
    const a = await runCli(["render", inv("tower-cluster.yaml"), "--out", join(dir, "a"), "--materials", mat], env);
    assert.equal(a.code, 0, a.err);
    const manifest = JSON.parse(readFileSync(join(dir, "a", "manifest.json"), "utf8"));
    assert.ok(manifest.files.length > 0);
    for (const f of manifest.files) {
      assert.match(f.mode, /^0[0-7]{3}$/);
      assert.equal(typeof f.sha256, "string");
      const content = readFileSync(join(dir, "a", f.host, f.path), "utf8");
      assert.doesNotMatch(content, /s3cret-rabbit-password|s3cret-pg-password/, `${f.host}:${f.path} leaks a secret`);
    }
    const revealed = await runCli(
      ["render", inv("tower-cluster.yaml"), "--out", join(dir, "r"), "--materials", mat, "--reveal-secrets"],
      env,
    );
    assert.equal(revealed.code, 0);
    const all = manifestTexts(join(dir, "r"));
    assert.match(all, /s3cret-rabbit-password/, "--reveal-secrets writes the value");
    const b = await runCli(["render", inv("tower-cluster.yaml"), "--out", join(dir, "b"), "--materials", mat], {
      ...env,
      HAFORGE_SECRET_rabbitmqPassword: "another-password",
    });
    assert.equal(b.code, 0);
    const d = await runCli(["diff", join(dir, "a"), join(dir, "b")]);
    assert.equal(d.code, 0);
    assert.match(d.out, /<secret:secret:rabbitmqPassword h:[0-9a-f]{8}>/);
    assert.doesNotMatch(d.out, /another-password|s3cret-rabbit-password/);
    const same = await runCli(["diff", join(dir, "a"), join(dir, "a"), "--exit-code"]);
    assert.equal(same.code, 0);
    assert.match(same.out, /no changes/);
  });
});

describe("rules that need the resolved secrets", () => {
  const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq3f8Ff2m3Vbq7cH8f2J5Jm7zq6n0c4Uu4Cq6ZcL3ab";
  const inventory = [
    "hosts:",
    ...["a", "b", "c"].map((h, i) => `  - { name: ${h}, address: 10.9.0.${i + 1}, ssh: { hostKey: "${KEY}" } }`),
    "quorumStore: { kind: etcd, members: [a, b, c] }",
    "postgres: { engine: patroni, nodes: [a, b, c], superuserPassword: { env: PGSU }, replicationPassword: { env: PGREP } }",
    "",
  ].join("\n");

  it("a Patroni password with `$$` stops render with exit 1 and writes nothing; a good one renders", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-late-"));
    const file = join(dir, "inv.yaml");
    writeFileSync(file, inventory);
    const bad = await runCli(["render", file, "--out", join(dir, "out"), "--materials", join(dir, "m.json")], {
      PGSU: "ab$$cd",
      PGREP: "replpass",
    });
    assert.equal(bad.code, 1);
    assert.match(bad.err, /postgres\.password-unusable at postgres\.superuserPassword/);
    assert.equal(existsSync(join(dir, "out")), false);
    const good = await runCli(["render", file, "--out", join(dir, "out"), "--materials", join(dir, "m.json")], {
      PGSU: "abcdef",
      PGREP: "replpass",
    });
    assert.equal(good.code, 0, good.err);
  });
});

function manifestTexts(dir: string): string {
  const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { files: { host: string; path: string }[] };
  return m.files.map((f) => readFileSync(join(dir, f.host, f.path), "utf8")).join("\n");
}
