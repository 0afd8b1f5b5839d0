/**
 * A service the registry renders is deployed by the Pulumi program: every example inventory is
 * rendered (renderByService, the same render `haforge render` writes) and the whole program
 * (index.ts) runs under the SDK mocks; every rendered file needs a RemoteFile on its host, every
 * service a restart HostAction, every cluster action a HostAction, every Kubernetes manifest an
 * object of its kind and name. A service registered in src/services/registry.ts but left out of
 * the components would be rendered by `haforge render` and silently not deployed by `pulumi up`.
 * The examples together render every registered service, so no service escapes the check.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { slug } from "../../components/service-resources";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { renderByService } from "../../src/pipeline/render";
import { services } from "../../src/services/registry";
import { parseRun, type MockRun } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");
const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const unwrap = (v: any): any => (v && typeof v === "object" && v[SECRET_KEY] !== undefined ? unwrap(v.value) : v);
const inventories = readdirSync(join(ROOT, "inventories"))
  .filter((f) => /\.(ya?ml|ini)$/.test(f))
  .sort();

/** Pulumi's type token of a manifest: `kubernetes:<group>/<version>:<Kind>` (core for the empty group). */
const k8sType = (m: Record<string, unknown>): string => {
  const api = String(m["apiVersion"]);
  return `kubernetes:${api.includes("/") ? api : `core/${api}`}:${String(m["kind"])}`;
};

/** What a rendered service needs from the program, keyed as the resources are found. */
function expectedKeys(part: ReturnType<typeof renderByService>[number]): string[] {
  return [
    ...part.files.map((f) => `file ${f.host} ${f.path}`),
    ...part.services.map((s) => `restart ${s.host} ${s.name}`),
    ...part.actions.map((a) => `action ${a.host} ${slug(a.id)}`),
    ...part.manifests.map((m) => `object ${k8sType(m)} ${String((m["metadata"] as { name: string }).name)}`),
  ];
}

/** The keys the registered resources satisfy. */
function deployedKeys(run: MockRun): Set<string> {
  const keys = new Set<string>();
  for (const r of run.resources) {
    const raw = unwrap(r.raw);
    if (r.type === "pulumi-nodejs:dynamic:Resource" && unwrap(raw.spec)?.path !== undefined)
      keys.add(`file ${unwrap(unwrap(raw.connection).host)} ${unwrap(unwrap(raw.spec).path)}`);
    if (r.type === "pulumi-nodejs:dynamic:HostAction") {
      const host = String(unwrap(unwrap(raw.connection).host));
      const restart = /-restart-(.+)$/.exec(r.name);
      if (restart && restart[1]!.endsWith(`-${host}`)) keys.add(`restart ${host} ${restart[1]!.slice(0, -host.length - 1)}`);
      // Action names are `<component>-<slug(id)>`; every suffix after a dash is a candidate.
      const parts = r.name.split("-");
      for (let i = 1; i < parts.length; i++) keys.add(`action ${host} ${parts.slice(i).join("-")}`);
    }
    if (r.type.startsWith("kubernetes:")) keys.add(`object ${r.type} ${String(unwrap(unwrap(raw.metadata)?.name))}`);
  }
  return keys;
}

function runProgram(inventory: string): { code: number; err: string; run?: MockRun } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "run-inventory.ts"), inventory], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 180_000,
  });
  return { code: r.status ?? -1, err: r.stderr, ...(r.status === 0 ? { run: parseRun<MockRun>(r.stdout) } : {}) };
}

/** Services each example renders something for (filled by the per-inventory tests). */
const rendered = new Set<string>();

describe("every service the registry renders is deployed by the Pulumi program", () => {
  for (const file of inventories) {
    it(`${file}: every rendered file, service, action and manifest has a resource`, () => {
      const path = join(ROOT, "inventories", file);
      const analysis = analyzeInventoryFile(path);
      assert.ok(analysis.plan, `${file} plans`);
      const parts = renderByService(analysis.plan, {}, {});
      const r = runProgram(path);
      assert.equal(r.code, 0, r.err.slice(-3000));
      const deployed = deployedKeys(r.run!);
      const missing: string[] = [];
      for (const part of parts) {
        const keys = expectedKeys(part);
        if (keys.length > 0) rendered.add(part.service);
        const notDeployed = keys.filter((k) => !deployed.has(k));
        if (notDeployed.length > 0)
          missing.push(`${part.service}: ${notDeployed.length} of ${keys.length} not deployed, e.g. ${notDeployed.slice(0, 3).join("; ")}`);
      }
      assert.deepEqual(missing, [], `rendered by the registry but not deployed by the program (${file})`);
    });
  }

  it("the examples render every registered service (none escapes the check)", () => {
    assert.deepEqual(
      services.map((s) => s.name).filter((n) => !rendered.has(n)),
      [],
      "add an example inventory that uses this service",
    );
  });
});
