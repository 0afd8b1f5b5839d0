/**
 * The corosync key rotation in the Pulumi program (issue 10; src/services/pacemaker/key-rotation.ts):
 * the prod stack's inventory with `corosyncKeyGeneration: 1` on every cluster, run under the SDK's
 * mocks. /etc/corosync/authkey is written AFTER the rotation on its host (FileSpec.afterActions:
 * its RemoteFile depends on the node's "settled" step), no step waits for a key file (that would
 * be a cycle: the run would never finish), and each step waits for the previous step on every node
 * of the cluster, after the staged key.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import type { RecordedResource } from "./run-stack";
import { parseRun } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");
const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const unwrap = (v: unknown): any => (v && typeof v === "object" && SECRET_KEY in v ? unwrap((v as Record<string, unknown>)["value"]) : v);
const dir = mkdtempSync(join(tmpdir(), "haforge-key-rotation-program-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("corosync key rotation under the SDK mocks (prod stack, corosyncKeyGeneration 1)", () => {
  let resources: RecordedResource[] = [];
  const pathOf = (x: RecordedResource) => unwrap(unwrap(x.raw).spec)?.path ?? unwrap(x.raw).path;
  const connHost = (x: RecordedResource) => unwrap(unwrap(x.raw).connection)?.host;

  before(() => {
    const inv = yaml.load(readFileSync(join(ROOT, "inventories", "openstack-pacemaker.yaml"), "utf8")) as {
      pacemaker: { clusters: Record<string, unknown>[] };
    };
    for (const c of inv.pacemaker.clusters) c["corosyncKeyGeneration"] = 1;
    const file = join(dir, "openstack-pacemaker.yaml");
    writeFileSync(file, yaml.dump(inv));
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(__dirname, "run-stack.ts"), "prod", JSON.stringify({ "haforge:inventory": file })],
      {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 256 << 20,
        timeout: 180_000,
      },
    );
    assert.equal(r.status, 0, `${r.error ?? ""}${r.stderr}`);
    resources = parseRun<{ resources: RecordedResource[] }>(r.stdout).resources;
  });

  it("the key file waits for its node's rotation; no rotation step waits for a key file; steps are barriers across the cluster's nodes", () => {
    const steps = resources.filter((x) => /-corosync-key-1-/.test(x.name));
    const keys = resources.filter((x) => pathOf(x) === "/etc/corosync/authkey");
    const staged = resources.filter((x) => pathOf(x) === "/var/lib/haforge/corosync/authkey.next");
    assert.ok(keys.length >= 3, `key files: ${keys.length}`);
    assert.equal(staged.length, keys.length);
    assert.equal(steps.length, 6 * keys.length);
    const byName = new Map(resources.map((x) => [x.urn, x]));
    for (const k of keys) {
      const host = connHost(k);
      const settled = steps.find((s) => s.name.endsWith(`-settled-${host}`));
      assert.ok(settled, `no settled step for ${host}`);
      assert.ok(k.dependencies.includes(settled.urn), `${k.name} does not wait for ${settled.name}`);
    }
    const keyUrns = new Set(keys.map((k) => k.urn));
    for (const s of steps) {
      assert.deepEqual(
        s.dependencies.filter((d) => keyUrns.has(d)),
        [],
        `${s.name} waits for a key file`,
      );
      const host = s.name.slice(s.name.lastIndexOf("-") + 1);
      if (/-stop-pacemaker-/.test(s.name))
        assert.ok(
          staged.some((f) => connHost(f) === host && s.dependencies.includes(f.urn)),
          `${s.name} does not wait for the staged key`,
        );
      const m = /-(stop-corosync|install|start-corosync|start-pacemaker|settled)-/.exec(s.name);
      if (!m) continue;
      const prev = {
        "stop-corosync": "stop-pacemaker",
        install: "stop-corosync",
        "start-corosync": "install",
        "start-pacemaker": "start-corosync",
        settled: "start-pacemaker",
      }[m[1]!]!;
      const cluster = s.name.slice(0, s.name.indexOf(`-${m[1]}-`));
      const previous = steps.filter((x) => x.name.startsWith(`${cluster.replace(/-corosync-key-1$/, "")}-corosync-key-1-${prev}-`));
      assert.ok(previous.length >= 3);
      for (const p of previous) assert.ok(s.dependencies.includes(p.urn), `${s.name} does not wait for ${byName.get(p.urn)!.name}`);
    }
  });
});
