/**
 * The program compiled (scripts/build.js: dist/program/, what program.js runs for `pulumi up`)
 * declares exactly what the sources declare: the same resources (URNs, types, parents,
 * dependencies, inputs, the dynamic providers' `__provider` texts) and stack outputs, for an SSH
 * stack and a Kubernetes one: switching between the two changes no resource.
 * What a program run loads, compiled or not (these runs also stand for the former
 * program-modules.test.ts, whose two stack runs they repeated): not the SDK's package index (it
 * loads the Automation API, with npm's arborist and pacote, and the closure serializer, with the
 * TypeScript compiler: ~580 modules; src/providers/pulumi-sdk.ts); for an SSH stack, not
 * @pulumi/kubernetes (890 modules, ~1.8 s of CPU; components/ha-cluster.ts loads it for a
 * Kubernetes target only); nor what only the dynamic-provider process uses: the SSH client (ssh2,
 * src/transport/pool.ts, ~0.1 s), the diff library (src/core/file-ops.ts) and, unless a syncthing
 * certificate placeholder is rendered, the X.509 libraries (src/core/device-certificate.ts, ~0.12 s).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseRun, type MockRun } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");
// Inside the checkout (the compiled modules find templates/ from the package root above them),
// not in dist/ (another test may be running the CLI from it).
const cacheDir = join(ROOT, "node_modules", ".cache");
let out = "";

interface Run extends MockRun {
  modules: string[];
}

function runStack(stack: string, program?: string): Run {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "run-stack.ts"), stack], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, HAFORGE_RECORD_PROVIDERS: "1", HAFORGE_RECORD_MODULES: "1", ...(program ? { HAFORGE_PROGRAM: program } : {}) },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 180_000,
  });
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  return parseRun<Run>(r.stdout);
}

before(() => {
  mkdirSync(cacheDir, { recursive: true });
  out = mkdtempSync(join(cacheDir, "haforge-program-"));
  const r = spawnSync(process.execPath, [join(ROOT, "scripts", "build.js"), "--out", out], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
});
after(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe("the compiled program", { concurrency: false }, () => {
  for (const stack of ["lab", "k8s"]) {
    it(`${stack}: declares what the sources declare; its providers are the compiled modules`, () => {
      const sources = runStack(stack);
      const compiled = runStack(stack, join(out, "program", "index.js"));
      const shape = (r: Run) => r.resources.map(({ provider: _p, ...rest }) => rest);
      assert.deepEqual(shape(compiled), shape(sources));
      assert.deepEqual(compiled.outputs, sources.outputs);
      // The same provider texts too (load-module.js picks the build in the provider process).
      const texts = (r: Run) => r.resources.map((x) => x.provider);
      assert.deepEqual(texts(compiled), texts(sources));
      assert.ok(texts(compiled).some((t) => t?.includes(".loadModule(")));
      // Compiled: the program's modules are the compiled ones (the harness itself loads a few
      // sources: the inventory reader), none of index.ts, components/ or the providers from src/.
      assert.ok(compiled.modules.some((p) => p.startsWith(`${out}/program/components/`)));
      const ts = compiled.modules.filter((p) => /^(index\.ts|components\/|src\/providers\/)/.test(relative(ROOT, p)));
      assert.deepEqual(ts, []);
      for (const run of [sources, compiled]) {
        const loaded = (dir: string) => run.modules.some((p) => p.includes(`/node_modules/${dir}/`));
        assert.equal(loaded("@pulumi/pulumi/automation"), stack === "k8s", "the SDK's index (its Automation API)");
        assert.equal(loaded("@pulumi/kubernetes"), stack === "k8s");
        assert.equal(loaded("ssh2"), false, "the SSH client: the provider process connects, the program never does");
        assert.equal(loaded("diff"), false, "the diff library: only a provider's Diff and the CLI make patches");
        // The lab runs syncthing (a device-certificate placeholder); the k8s stack has none.
        assert.equal(loaded("@peculiar/asn1-x509"), stack === "lab", "the X.509 libraries only for a certificate");
      }
    });
  }
});
