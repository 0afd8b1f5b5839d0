/**
 * Tower's per-instance actions folded (docs/architecture.md, "The program's size"): a stack written
 * by the program before the fold (its Tower actions as it rendered them, fixtures/tower-actions-
 * before-fold.json) upgraded by this one, through the engine stand-in (the SDK's dynamic-provider
 * process, checkpointed state) with haforge's HostAction provider against an isolated sshd whose
 * `awx-manage` and `ansible-tower-service` record every call. Checked on the host: the folded
 * `tower-managed-by-policy-` action leaves the state and its delete runs nothing (it has none);
 * the provision is updated and re-runs what it is now (provision_instance, which changes nothing
 * for a registered instance, then the managed_by_policy update: the same value); nothing is
 * deprovisioned or stopped; a second up runs nothing; a flipped managed_by_policy re-runs the
 * provision with the new value.
 *
 * Needs root (unshare, mounts, sshd). Run under the machine's lab lock on a shared machine.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readCheckpoint, up, urnName, changedSteps, type RunResult } from ".";
import { startSshd, type Sshd } from "../providers/sshd-fixture";
import type { ClusterPlan } from "../../src/plan/types";
import { renderTemplate } from "../../src/render/templates";
import { renderPart } from "../../src/services/tower/render";
import { planExample } from "../fixtures/common";
import { SECRETS } from "../fixtures/tower-plan";

const ROOT = join(__dirname, "..", "..");
const CALLS = "/var/log/haforge-stub-tower.log";
const stub = (name: string) => `#!/bin/sh\necho "${name} $*" >> ${CALLS}\nexit 0\n`;

interface Action {
  id: string;
  description: string;
  create: string;
  delete?: string;
  dependsOn: string[];
}
const OLD = JSON.parse(fs.readFileSync(join(__dirname, "fixtures", "tower-actions-before-fold.json"), "utf8")) as Action[];

/** The Tower actions this program renders for the standalone example (tower1 with `managed`). */
function current(managed = true): Action[] {
  const plan: ClusterPlan = planExample("tower-standalone.ini");
  const flipped = { ...plan, hosts: plan.hosts.map((h) => (h.name === "tower1" ? { ...h, managedByPolicy: managed } : h)) };
  const r = renderPart.render!({ plan: flipped, secrets: SECRETS, materials: {}, template: renderTemplate });
  return r.actions.map(({ id, description, create, delete: d, dependsOn }) => ({
    id,
    description,
    create,
    ...(d ? { delete: d } : {}),
    dependsOn: [...dependsOn],
  }));
}

const tmp = fs.mkdtempSync(join(tmpdir(), "haforge-tower-fold-"));
const checkpointFile = join(tmp, "state.json");
let sshd: Sshd;

const run = (actions: Action[]) =>
  up({
    cwd: ROOT,
    stack: "towerfold",
    checkpointFile,
    program: "tests/engine/fixtures/actions-program.ts",
    config: {
      "actions:actions": JSON.stringify(actions),
      "actions:connection": JSON.stringify({
        host: "tower1",
        address: "127.0.0.1",
        port: sshd.port,
        user: "root",
        hostKey: sshd.hostKeyLine,
        privateKeyPath: sshd.clientKeyPath,
      }),
    },
    timeoutMs: 240_000,
  });
const ok = (r: RunResult) => assert.ok(r.ok, `the run failed:\n${r.errors.join("\n")}`);
const short = urnName;
const changes = changedSteps;
/** What the host's awx-manage and ansible-tower-service were asked since the previous call. */
let seen = 0;
function calls(): string[] {
  const p = sshd.hostPath(CALLS);
  const all = fs.existsSync(p) ? fs.readFileSync(p, "utf8").split("\n").filter(Boolean) : [];
  const out = all.slice(seen);
  seen = all.length;
  return out;
}

before(async () => {
  sshd = await startSshd({
    name: "towerfold",
    isolated: true,
    stubs: { "awx-manage": stub("awx-manage"), "ansible-tower-service": stub("ansible-tower-service") },
  });
});
after(async () => {
  await sshd?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("Tower's managed_by_policy folded into the provision: upgrading a stack", { concurrency: false }, () => {
  const SET_TRUE = `awx-manage shell -c from awx.main.models import Instance; n = Instance.objects.filter(hostname="tower1").update(managed_by_policy=True); assert n == 1, "instance not registered"`;

  it("the program before the fold creates its actions", async () => {
    ok(await run(OLD));
    assert.deepEqual(calls(), [
      "awx-manage provision_instance --hostname=tower1",
      SET_TRUE,
      "awx-manage register_queue --queuename=tower --hostnames=tower1 --instance_percent=0 --instance_minimum=0",
    ]);
  });

  it("the upgrade deletes the folded action (running nothing), re-runs the provision as it now is, stops and deprovisions nothing", async () => {
    const r = await run(current());
    ok(r);
    assert.deepEqual(changes(r), ["delete haforge-tower-tower-managed-by-policy-tower1", "update haforge-tower-tower-provision-tower1"]);
    assert.deepEqual(calls(), ["awx-manage provision_instance --hostname=tower1", SET_TRUE]);
    const names = readCheckpoint(checkpointFile, "").resources.map((x) => short(x.urn));
    assert.ok(!names.some((n) => n.includes("managed-by-policy")), names.join(", "));
  });

  it("a second up changes and runs nothing", async () => {
    const r = await run(current());
    ok(r);
    assert.deepEqual(changes(r), []);
    assert.deepEqual(calls(), []);
  });

  it("a flipped managed_by_policy re-runs the provision with the new value, and nothing else", async () => {
    const r = await run(current(false));
    ok(r);
    assert.deepEqual(changes(r), ["update haforge-tower-tower-provision-tower1"]);
    assert.deepEqual(calls(), ["awx-manage provision_instance --hostname=tower1", SET_TRUE.replace("=True)", "=False)")]);
  });
});
