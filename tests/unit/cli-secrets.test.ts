/** `haforge secrets INV`, `--version`, and every example stack listing every secret it needs. */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ROOT, runCli } from "../helpers/cli";
import { stackSecretsOf } from "../../src/cli/secrets";

describe("haforge secrets", () => {
  it("prints one `pulumi config set --secret` line per secret: reference, the env: variables, --json", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.stringMatching(/^[a-z][A-Za-z0-9]{0,10}$/), { minLength: 1, maxLength: 4 }), async (names) => {
        const yaml = [
          "hosts:",
          "  - { name: a, address: 10.9.0.1, ssh: { trustOnFirstUse: true } }",
          "  - { name: b, address: 10.9.0.2, ssh: { trustOnFirstUse: true } }",
          "  - { name: c, address: 10.9.0.3, ssh: { trustOnFirstUse: true } }",
          "rabbitmq:",
          "  nodes: [a, b, c]",
          `  password: { secret: ${names[0]} }`,
          `  cookie: { ${names[1] ? `secret: ${names[1]}` : "env: MY_COOKIE"} }`,
          "",
        ].join("\n");
        const r = stackSecretsOf(yaml, "x.yaml", "prod");
        const want = names.slice(0, 2).sort();
        assert.deepEqual(r.secrets.map((s) => s.name).sort(), want);
        for (const s of r.secrets) assert.equal(s.command, `pulumi config set --secret haforge:${s.name} --stack prod`);
        assert.deepEqual(r.env, names[1] ? [] : ["MY_COOKIE"]);
      }),
      { numRuns: 25 },
    );
    const text = await runCli(["secrets", join(ROOT, "inventories", "lab.yaml")]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^pulumi config set --secret haforge:keepalivedAuthPass$/m);
    const json = JSON.parse((await runCli(["secrets", join(ROOT, "inventories", "lab.yaml"), "--json"])).out) as {
      secrets: { configKey: string }[];
    };
    assert.ok(json.secrets.some((s) => s.configKey === "haforge:rabbitmqPassword"));
  });

  it("every example stack lists every secret its inventory needs", () => {
    const stacks = readdirSync(join(ROOT, "stacks")).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
    assert.ok(stacks.length >= 4);
    for (const f of stacks) {
      const text = readFileSync(join(ROOT, "stacks", f), "utf8");
      const inv = /haforge:inventory:\s*(\S+)/.exec(text)?.[1];
      assert.ok(inv, `${f} names its inventory`);
      const stack = f.replace(/^Pulumi\.|\.yaml$/g, "");
      const { secrets } = stackSecretsOf(readFileSync(join(ROOT, inv), "utf8"), inv, stack);
      for (const s of secrets) assert.ok(text.includes(s.command), `${f} lacks \`${s.command}\``);
      const listed = [...text.matchAll(/pulumi config set --secret (\S+)/g)].map((m) => m[1]);
      assert.deepEqual(listed.sort(), secrets.map((s) => s.configKey).sort(), `${f} lists exactly its secrets`);
    }
  });

  it("--version prints the package version", async () => {
    const r = await runCli(["--version"]);
    assert.equal(r.code, 0);
    assert.equal(r.out.trim(), (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
  });
});
