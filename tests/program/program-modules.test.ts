/**
 * What a program run loads: not the Pulumi SDK's package index (it loads the Automation API, with
 * npm's arborist and pacote, and the closure serializer, with the TypeScript compiler: ~580
 * modules; src/providers/pulumi-sdk.ts) and, for an SSH stack, not @pulumi/kubernetes (890
 * modules, ~1.8 s of CPU; components/ha-cluster.ts loads it for a Kubernetes target only). Nor
 * what only the dynamic-provider process uses: the SSH client (ssh2, src/transport/pool.ts, ~0.1
 * s), the diff library (src/core/file-ops.ts) and, unless a syncthing certificate placeholder is
 * rendered, the X.509 libraries (src/core/device-certificate.ts, ~0.12 s).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseRun, type MockRun } from "./mock-engine";

function modulesOf(stack: string): string[] {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "run-stack.ts"), stack], {
    cwd: join(__dirname, "..", ".."),
    encoding: "utf8",
    env: { ...process.env, HAFORGE_RECORD_MODULES: "1" },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 180_000,
  });
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  return parseRun<MockRun & { modules: string[] }>(r.stdout).modules;
}

describe("modules a program run loads", () => {
  for (const stack of ["lab", "k8s"])
    it(`${stack}: the SDK's index and @pulumi/kubernetes only for a Kubernetes target, no SSH client or diff library`, () => {
      const modules = modulesOf(stack);
      const loaded = (dir: string) => modules.some((p) => p.includes(`/node_modules/${dir}/`));
      assert.ok(loaded("@pulumi/pulumi"));
      assert.equal(loaded("@pulumi/pulumi/automation"), stack === "k8s", "the SDK's index (its Automation API)");
      assert.equal(loaded("@pulumi/kubernetes"), stack === "k8s");
      assert.equal(loaded("ssh2"), false, "the SSH client: the provider process connects, the program never does");
      assert.equal(loaded("diff"), false, "the diff library: only a provider's Diff and the CLI make patches");
      // The lab runs syncthing (a device-certificate placeholder); the k8s stack has none.
      assert.equal(loaded("@peculiar/asn1-x509"), stack === "lab", "the X.509 libraries only for a certificate");
    });
});
