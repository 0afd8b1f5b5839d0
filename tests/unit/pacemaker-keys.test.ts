/**
 * The cluster keys on a running cluster (issue 10): the corosync authkey and the Pacemaker remote
 * authkey are never silently replaced.
 * - The rendered FileSpec.validate of each key, run under /bin/sh the way the host runs it (the
 *   live path swapped for a temp one): a host without a key, or with the same key, accepts it; a
 *   corosync key that differs is refused (whatever runs), the message naming the procedure; a
 *   Pacemaker key that differs is refused only where it is in use (pacemaker-remoted running on a
 *   remote node, remote/guest nodes or bundles in a cluster node's CIB), and accepted where it is
 *   not (Debian's pacemaker-common writes a random key on every host it is installed on).
 * - Writing a key restarts nothing that runs: the corosync key and a node's Pacemaker key notify
 *   no service; a bootstrap action per node ("keys in place") orders them before the daemons'
 *   first start. A remote node's key notifies pacemaker_remote (its start: it is only written
 *   where pacemaker-remoted does not run).
 * Before this change the validate was the size check alone (a different key was written
 * everywhere and the corosync key notified corosync, the remote key pacemaker/pacemaker_remote).
 * The real cluster's verdict: tests/system/pacemaker-running.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import type { ClusterAction, FileSpec } from "../../src/core/desired-state";
import { renderTemplate } from "../../src/render/templates";
import {
  COROSYNC_KEY_BYTES,
  PACEMAKER_AUTHKEY,
  PACEMAKER_CIB_ON_DISK,
  PACEMAKER_KEY_BYTES,
  renderPart,
} from "../../src/services/pacemaker/render";
import { COROSYNC_AUTHKEY } from "../../src/services/pacemaker/corosync-conf";
import type { ClusterPlan } from "../../src/plan/types";
import { fencingPlan, fixtureMaterials, lightweightPlan, qdevicePlan, singleNodePlan, threeNodePlan } from "../fixtures/pacemaker-plan";

const work = mkdtempSync(join(tmpdir(), "haforge-pcmk-keys-"));
after(() => rmSync(work, { recursive: true, force: true }));

const PLANS: [string, ClusterPlan][] = [
  ["three nodes + remote", threeNodePlan],
  ["lightweight", lightweightPlan],
  ["fencing", fencingPlan],
  ["qdevice", qdevicePlan],
  ["single node", singleNodePlan],
];

const render = (plan: ClusterPlan) => {
  const materials: Record<string, string> = {
    ...Object.fromEntries(
      (renderPart.materials!(plan) ?? []).map((m) => [
        m.key,
        Buffer.alloc(m.kind.type === "random-bytes" ? m.kind.bytes : 16, 0x5a).toString("base64"),
      ]),
    ),
    ...fixtureMaterials,
  };
  return renderPart.render!({ plan, secrets: {}, materials, template: renderTemplate });
};

const keyFiles = (plan: ClusterPlan, path: string): FileSpec[] => render(plan).files.filter((f) => f.path === path);

let n = 0;
/**
 * Runs a key file's rendered validate as the host does (`sh -c CMD haforge-validate TMP`), with its
 * absolute live paths replaced by files in a scratch dir and `pidof` stubbed.
 */
function runValidate(f: FileSpec, o: { live?: Buffer; staged: Buffer; cib?: string; remoted?: boolean }): { rc: number; out: string } {
  const d = join(work, String(n++));
  mkdirSync(join(d, "bin"), { recursive: true });
  const live = join(d, "live-key");
  const cib = join(d, "cib.xml");
  const staged = join(d, "staged");
  if (o.live) writeFileSync(live, o.live);
  if (o.cib !== undefined) writeFileSync(cib, o.cib);
  writeFileSync(staged, o.staged);
  writeFileSync(join(d, "bin", "pidof"), `#!/bin/sh\nexit ${o.remoted ? 0 : 1}\n`);
  chmodSync(join(d, "bin", "pidof"), 0o755);
  const cmd = f
    .validate!.split(`'${f.path}'`)
    .join(`'${live}'`)
    .split(`'${PACEMAKER_CIB_ON_DISK}'`)
    .join(`'${cib}'`)
    .split("{file}")
    .join(`"$1"`);
  assert.ok(cmd.includes(`'${live}'`), `the validate names its live path quoted: ${f.validate}`);
  const r = spawnSync("sh", ["-c", cmd, "haforge-validate", staged], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${join(d, "bin")}:${process.env["PATH"] ?? ""}` },
  });
  return { rc: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** A key of `bytes` bytes (a short random pattern repeated: cheap to shrink). */
const key = (bytes: number) =>
  fc.uint8Array({ minLength: 1, maxLength: 32 }).map((p) => Buffer.from(Array.from({ length: bytes }, (_, i) => p[i % p.length]!)));

/** CIB texts that put the Pacemaker remote key in use, and some that do not. */
const CIB_IN_USE = [
  `<cib><configuration><resources><primitive id="worker1" class="ocf" provider="pacemaker" type="remote"/></resources></configuration></cib>`,
  `<cib><configuration><resources><primitive class="ocf" id="r" type="remote" provider="pacemaker"><instance_attributes id="a"/></primitive></resources></configuration></cib>`,
  `<cib><configuration><resources><primitive id="vm1" class="ocf" provider="heartbeat" type="VirtualDomain"><meta_attributes id="m"><nvpair id="m-rn" name="remote-node" value="guest1"/></meta_attributes></primitive></resources></configuration></cib>`,
  `<cib><configuration><resources><bundle id="b1"><docker image="x"/></bundle></resources></configuration></cib>`,
];
const CIB_NOT_IN_USE = [
  `<cib><configuration><resources><primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/></resources></configuration></cib>`,
  `<cib><configuration><resources/></configuration></cib>`,
];

describe("the corosync authkey is never replaced by another key", () => {
  for (const [tag, plan] of PLANS) {
    const files = keyFiles(plan, COROSYNC_AUTHKEY);
    if (files.length === 0) continue;
    it(`${tag}: absent or same key accepted; a different key refused, naming the procedure`, () => {
      fc.assert(
        fc.property(key(COROSYNC_KEY_BYTES), key(COROSYNC_KEY_BYTES), fc.constantFrom(...files), (a, b, f) => {
          assert.equal(runValidate(f, { staged: a }).rc, 0, "no key on the host yet: written");
          assert.equal(runValidate(f, { staged: a, live: a }).rc, 0, "the same key: accepted");
          if (a.equals(b)) return;
          const r = runValidate(f, { staged: b, live: a });
          assert.notEqual(r.rc, 0, "another key in place: refused");
          assert.match(r.out, /refusing to replace \/etc\/corosync\/authkey/);
          assert.match(r.out, /crm cluster stop --all/);
          assert.match(r.out, /pcs cluster stop --all/);
          assert.match(r.out, /Changing a cluster key/);
          assert.notEqual(runValidate(f, { staged: b.subarray(1) }).rc, 0, "a key of the wrong size: refused");
        }),
        { numRuns: 10 },
      );
    });
    it(`${tag}: writing the corosync key notifies no service`, () => {
      for (const f of files) assert.deepEqual(f.notify, [], `${f.host}: ${f.path}`);
    });
  }
});

describe("the Pacemaker remote authkey is never replaced while it is in use", () => {
  const plan = threeNodePlan;
  const files = keyFiles(plan, PACEMAKER_AUTHKEY);
  const remotes = new Set(plan.pacemakerClusters.flatMap((c) => c.remoteNodes));
  const nodeFiles = files.filter((f) => !remotes.has(f.host));
  const remoteFiles = files.filter((f) => remotes.has(f.host));

  it("the fixture has both kinds of host", () => {
    assert.ok(nodeFiles.length > 0 && remoteFiles.length > 0, files.map((f) => f.host).join(","));
  });

  it("cluster node: a different key refused when the CIB has remote/guest nodes or bundles, accepted otherwise (Debian's random key)", () => {
    fc.assert(
      fc.property(
        key(PACEMAKER_KEY_BYTES),
        key(PACEMAKER_KEY_BYTES),
        fc.constantFrom(...nodeFiles),
        fc.constantFrom(...CIB_IN_USE),
        fc.constantFrom(...CIB_NOT_IN_USE, undefined),
        (a, b, f, inUse, notInUse) => {
          assert.equal(runValidate(f, { staged: a, cib: inUse }).rc, 0, "no key yet");
          assert.equal(runValidate(f, { staged: a, live: a, cib: inUse }).rc, 0, "same key");
          if (a.equals(b)) return;
          const r = runValidate(f, { staged: b, live: a, cib: inUse });
          assert.notEqual(r.rc, 0, `in use (${inUse}): refused`);
          assert.match(r.out, /refusing to replace \/etc\/pacemaker\/authkey/);
          assert.match(r.out, /Changing a cluster key/);
          const ok = runValidate(f, { staged: b, live: a, ...(notInUse === undefined ? {} : { cib: notInUse }) });
          assert.equal(ok.rc, 0, `not in use (${notInUse ?? "no CIB on disk"}): ${ok.out}`);
        },
      ),
      { numRuns: 12 },
    );
  });

  it("remote node: a different key refused while pacemaker-remoted runs, accepted when it does not", () => {
    fc.assert(
      fc.property(key(PACEMAKER_KEY_BYTES), key(PACEMAKER_KEY_BYTES), fc.constantFrom(...remoteFiles), (a, b, f) => {
        if (a.equals(b)) return;
        const r = runValidate(f, { staged: b, live: a, remoted: true });
        assert.notEqual(r.rc, 0, "pacemaker-remoted runs: refused");
        assert.match(r.out, /pacemaker-remoted runs here/);
        assert.equal(runValidate(f, { staged: b, live: a, remoted: false }).rc, 0, "not running: written");
        assert.equal(runValidate(f, { staged: a, live: a, remoted: true }).rc, 0, "same key: accepted");
      }),
      { numRuns: 12 },
    );
  });

  it("writing it restarts nothing on a cluster node; on a remote node it is followed by pacemaker_remote's start", () => {
    for (const f of nodeFiles) assert.deepEqual(f.notify, [], f.host);
    for (const f of remoteFiles) assert.deepEqual(f.notify, ["pacemaker_remote"], f.host);
  });
});

describe("the keys are in place before a node's daemons start (bootstrap action, no restart)", () => {
  for (const [tag, plan] of PLANS) {
    it(tag, () => {
      const r = render(plan);
      for (const c of plan.pacemakerClusters) {
        for (const node of c.nodes) {
          const keys = r.files.filter((f) => f.host === node.host && (f.path === COROSYNC_AUTHKEY || f.path === PACEMAKER_AUTHKEY));
          const action: ClusterAction | undefined = r.actions.find((a) => a.id === `pacemaker:${c.name}:keys:${node.host}`);
          if (keys.length === 0) {
            assert.equal(action, undefined);
            continue;
          }
          assert.ok(action, `${node.host}: keys action`);
          assert.equal(action.host, node.host);
          assert.equal(action.phase, "bootstrap", "bootstrap actions run after the host's files and before its restarts");
          assert.deepEqual([...action.triggers].sort(), keys.map((k) => k.path).sort());
          for (const k of keys) assert.match(action.create, new RegExp(`test -s ${k.path}`));
        }
        // The CIB waits for the members only, not for these.
        const cib = r.actions.find((a) => a.id === `pacemaker:${c.name}:cib`);
        assert.ok(cib && cib.dependsOn.every((d) => d.includes(":member:")), cib?.dependsOn.join(","));
      }
    });
  }
});
