/**
 * Runs the Pulumi program (index.ts) under the SDK's mocks for one inventory file and prints the
 * JSON record of runUnderMocks. Every `secret:` reference gets a value, and every host a pinned
 * (example) key through a generated known_hosts file.
 * Usage: tsx tests/program/run-inventory.ts <inventory>
 * HAFORGE_TEST_FAIL_AT_FILE=N: the construction of the Nth resource named `*-etc-*` (a file) throws (a declaration that fails
 * in a later chunk: tests/program/declaration.test.ts).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { collectSecretRefs } from "../../src/render/output";
import { emitRun, onConstruct, runUnderMocks } from "./mock-engine";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq3f8Ff2m3Vbq7cH8f2J5Jm7zq6n0c4Uu4Cq6ZcL3ab";

async function main() {
  const inventory = resolve(process.argv[2]!);
  const inv = analyzeInventoryFile(inventory);
  const knownHosts = join(mkdtempSync(join(tmpdir(), "haforge-registry-")), "known_hosts");
  writeFileSync(knownHosts, (inv.inventory?.hosts ?? []).map((h) => `${h.address},${h.name} ${HOST_KEY}\n`).join(""));
  const config: Record<string, string> = { "haforge:inventory": inventory, "haforge:knownHostsFile": knownHosts };
  const secretKeys: string[] = [];
  for (const ref of inv.inventory ? collectSecretRefs(inv.inventory) : []) {
    if (!("secret" in ref)) continue;
    const key = ref.secret.includes(":") ? ref.secret : `haforge:${ref.secret}`;
    if (config[key] !== undefined) continue;
    config[key] = `S3CR3T-${ref.secret.replace(/\W/g, "")}-value`;
    secretKeys.push(key);
  }
  const failAt = Number(process.env["HAFORGE_TEST_FAIL_AT_FILE"] ?? 0);
  if (failAt > 0) {
    let n = 0;
    onConstruct((args) => {
      if (String(args[3]).includes("-etc-") && ++n === failAt) throw new Error(`declaration failure injected at file ${n}`);
    });
  }
  const run = await runUnderMocks("registry", config, secretKeys, () => require(resolve(__dirname, "..", "..", "index.ts")));
  emitRun(run);
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
