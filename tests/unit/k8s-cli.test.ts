/**
 * `haforge render <k8s inventory> --out DIR`: the objects land in DIR/k8s/NNN-kind-name.yaml in
 * apply order, each a valid Kubernetes object; secret values are masked (even a 3-character one,
 * and the RabbitMQ definitions that only carry a password hash) unless --reveal-secrets, which
 * writes them as they go to the cluster.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { rabbitPasswordHash } from "../../src/services/rabbitmq/definitions";
import { runCli } from "../helpers/cli";
import { schemaErrors, TOWER_K8S, waveOf, type Obj } from "./k8s-helpers";

const SECRETS: Record<string, string> = {
  rabbitmqPassword: "rmq-pass/with:odd@chars",
  rabbitmqCookie: "COOKIEcookieCOOKIEcookie42",
  pgPassword: "tower-db-pass-9876",
  pgSuperuserPassword: "su-pass-5555",
  pgReplicationPassword: "repl-pass-6666",
  // Shorter than textual masking's 4 characters: masked because it is a Secret's whole value.
  towerAdminPassword: "Q7z",
  towerSecretKey: "tower-secret-key-abcdefghijklmnop",
};

const dir = mkdtempSync(join(tmpdir(), "hf-k8s-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const secretsFile = join(dir, "secrets.yaml");
writeFileSync(secretsFile, yaml.dump(SECRETS));
const materials = join(dir, "materials.json");

function readTree(out: string): { files: string[]; objects: Obj[]; text: string } {
  const files = readdirSync(join(out, "k8s")).sort();
  const texts = files.map((f) => readFileSync(join(out, "k8s", f), "utf8"));
  return { files, objects: texts.map((t) => yaml.load(t) as Obj), text: texts.join("\n") };
}

describe("haforge render --out for a Kubernetes target", () => {
  const plan = analyzeInventoryFile(TOWER_K8S).plan!;

  it("writes every object as DIR/k8s/NNN-kind-name.yaml, in apply order, each valid; no secret value in the masked tree", async () => {
    const out = join(dir, "masked");
    const r = await runCli(["render", TOWER_K8S, "--out", out, "--secrets", secretsFile, "--materials", materials]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Kubernetes objects/);
    const { files, objects, text } = readTree(out);
    assert.ok(files.length >= 30, `${files.length} objects`);
    files.forEach((f, i) => {
      const o = objects[i]!;
      assert.equal(f, `${String(i).padStart(3, "0")}-${o.kind.toLowerCase()}-${o.metadata.name}.yaml`);
    });
    const waves = objects.map(waveOf);
    assert.deepEqual(
      waves,
      [...waves].sort((a, b) => a - b),
      "files in wave order",
    );
    for (const o of objects) assert.equal(await schemaErrors(o), undefined, `${o.kind} ${o.metadata.name} (as written) validates`);
    for (const [k, v] of Object.entries(SECRETS)) assert.ok(!text.includes(v), `${k} appears in the masked tree`);
    assert.ok(
      !text.includes(rabbitPasswordHash(plan.name, "tower", SECRETS.rabbitmqPassword!)),
      "the definitions' password hash is masked too",
    );
    for (const s of objects.filter((o) => o.kind === "Secret")) {
      for (const [k, v] of Object.entries(s.stringData as Record<string, string>))
        assert.match(v, /<secret:[^ ]+ h:[0-9a-f]{8}>/, `${s.metadata.name}.${k} masked`);
    }
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    assert.equal(manifest.manifests, files.length);
  });

  it("--reveal-secrets writes the values exactly as they go to the cluster", async () => {
    const out = join(dir, "revealed");
    const r = await runCli(["render", TOWER_K8S, "--out", out, "--secrets", secretsFile, "--materials", materials, "--reveal-secrets"]);
    assert.equal(r.code, 0, r.err);
    const { objects, text } = readTree(out);
    for (const [k, v] of Object.entries(SECRETS)) assert.ok(text.includes(v), `${k} is revealed`);
    const rmq = objects.find((o) => o.kind === "Secret" && o.stringData["erlang-cookie"] !== undefined)!;
    assert.equal(rmq.stringData["erlang-cookie"], SECRETS.rabbitmqCookie);
    assert.equal(
      JSON.parse(rmq.stringData["definitions.json"]).users[0].password_hash,
      rabbitPasswordHash(plan.name, "tower", SECRETS.rabbitmqPassword!),
    );
    // Only Secrets carry them.
    for (const o of objects.filter((x) => x.kind !== "Secret"))
      for (const v of Object.values(SECRETS)) assert.ok(!JSON.stringify(o).includes(v), `${o.kind} ${o.metadata.name}`);
  });

  it("renders the same tree twice (deterministic, materials kept)", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    for (const out of [a, b])
      assert.equal((await runCli(["render", TOWER_K8S, "--out", out, "--secrets", secretsFile, "--materials", materials])).code, 0);
    assert.equal(readTree(a).text, readTree(b).text);
  });
});
