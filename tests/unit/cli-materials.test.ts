/**
 * Generated key material belongs to one inventory: two inventories never share it unless the user
 * passes the same `--materials FILE`; a malformed materials file is an error and is never rewritten.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ROOT, runCli } from "../helpers/cli";

const inv = (f: string) => join(ROOT, "inventories", f);
const ENV = { HAFORGE_SECRET_rabbitmqPassword: "rabbit-pw-1234" };

async function runIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = ENV) {
  const back = process.cwd();
  process.chdir(cwd);
  try {
    return await runCli(args, env);
  } finally {
    process.chdir(back);
  }
}

describe("materials per inventory", () => {
  it("two Tower INI inventories (both clusters named `haforge`) get their own keys by default", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-mat-"));
    copyFileSync(inv("tower-cluster.ini"), join(dir, "prod.ini"));
    copyFileSync(inv("tower-cluster.ini"), join(dir, "staging.ini"));
    const a = await runIn(dir, ["render", "prod.ini", "--out", "out-prod"]);
    assert.equal(a.code, 0, a.err);
    const b = await runIn(dir, ["render", "staging.ini", "--out", "out-staging"]);
    assert.equal(b.code, 0, b.err);
    const files = readdirSync(join(dir, ".haforge")).sort();
    assert.deepEqual(files, ["prod.ini.materials.json", "staging.ini.materials.json"]);
    const pm = JSON.parse(readFileSync(join(dir, ".haforge", files[0]!), "utf8")) as Record<string, string>;
    const sm = JSON.parse(readFileSync(join(dir, ".haforge", files[1]!), "utf8")) as Record<string, string>;
    assert.ok(Object.keys(pm).length > 1);
    for (const k of Object.keys(pm)) assert.notEqual(pm[k], sm[k], `${k} is shared between prod and staging`);
    // Rendering from another directory finds the same materials: nothing is regenerated.
    const again = await runIn(tmpdir(), ["render", join(dir, "prod.ini"), "--out", join(dir, "out-prod")]);
    assert.equal(again.code, 0, again.err);
    assert.doesNotMatch(again.err, /generated materials/);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, ".haforge", files[0]!), "utf8")), pm);
  });

  it("sharing is explicit: the same --materials FILE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-mat-"));
    copyFileSync(inv("tower-cluster.ini"), join(dir, "a.ini"));
    copyFileSync(inv("tower-cluster.ini"), join(dir, "b.ini"));
    const shared = join(dir, "shared.json");
    assert.equal((await runIn(dir, ["render", "a.ini", "--out", "oa", "--materials", shared])).code, 0);
    const b = await runIn(dir, ["render", "b.ini", "--out", "ob", "--materials", shared]);
    assert.equal(b.code, 0, b.err);
    assert.doesNotMatch(b.err, /generated materials/);
  });

  it("a materials file from before (./.haforge/<cluster>.materials.json) is neither adopted silently nor rotated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-mat-"));
    copyFileSync(inv("tower-cluster.ini"), join(dir, "prod.ini"));
    mkdirSync(join(dir, ".haforge"));
    const legacy = join(dir, ".haforge", "haforge.materials.json");
    writeFileSync(legacy, "{}\n");
    const r = await runIn(dir, ["render", "prod.ini", "--out", "o"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /move it to .*prod\.ini\.materials\.json.*--materials/s);
    assert.equal(existsSync(join(dir, ".haforge", "prod.ini.materials.json")), false);
  });

  it("a malformed materials file is an error and stays byte for byte as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-mat-"));
    const good = JSON.parse(readFileSync(join(ROOT, "tests", "golden", "tower-cluster.ini", "materials.json"), "utf8")) as Record<
      string,
      string
    >;
    const malformed = fc.oneof(
      fc.string(), // any text, mostly not JSON
      fc.constantFrom("", "null", "[]", "42", '"text"', "{", JSON.stringify(good).slice(0, -3)),
      fc.json().filter((j) => {
        const v = JSON.parse(j) as unknown;
        return !(v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string" && x !== ""));
      }),
      // a good file with one value broken
      fc
        .constantFrom(...Object.keys(good))
        .chain((k) => fc.constantFrom(null, 1, "", [], {}).map((v) => JSON.stringify({ ...good, [k]: v }))),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(malformed, async (text) => {
        const file = join(dir, `m${n++}.json`);
        writeFileSync(file, text);
        const r = await runCli(["render", inv("tower-cluster.ini"), "--out", join(dir, `o${n}`), "--materials", file], ENV);
        assert.equal(r.code, 2, `accepted ${JSON.stringify(text)}: ${r.err}`);
        assert.match(r.err, /materials file/);
        assert.equal(readFileSync(file, "utf8"), text, "left untouched");
        assert.equal(existsSync(join(dir, `o${n}`)), false);
      }),
      { numRuns: 60 },
    );
  });
});
