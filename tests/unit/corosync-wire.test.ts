/**
 * A corosync transport or crypto change on a running cluster (issue 10). Nodes on other
 * transport/crypto values cannot talk to each other, so rolling such a change node by node left
 * every restarted node alone; the operators' way is the whole cluster stopped and started
 * (`pcs cluster stop --all`, change, `start --all`). corosync.conf's rendered validate refuses it
 * where corosync runs, naming the procedure, and accepts it where corosync is stopped; the same
 * verdict is taken at preview (FileSpec.validateAtPreview, with both cluster keys').
 * Property: corosync.conf pairs rendered by the real template from random transport/crypto/token
 * settings, the validate run under /bin/sh as the host runs it (corosync-apply.sh's record of the
 * applied file swapped for a temp one, `pidof` stubbed): refused iff corosync runs and the
 * transport or the effective crypto differ from the record. Before
 * this change corosync.conf's validate was `corosync -t` alone (every such change was written).
 * The real cluster's verdict: tests/system/pacemaker-running.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { renderTemplate } from "../../src/render/templates";
import type { CorosyncConfData } from "../../src/services/pacemaker/corosync-conf";
import { COROSYNC_AUTHKEY, COROSYNC_CONF } from "../../src/services/pacemaker/corosync-conf";
import { corosyncWireValidate, PACEMAKER_AUTHKEY, renderPart } from "../../src/services/pacemaker/render";
import { corosyncWireChangeFindings } from "../../src/services/pacemaker/wire-change";
import { Inventory } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import type { ClusterPlan } from "../../src/plan/types";
import { runCli } from "../helpers/cli";
import yaml from "js-yaml";
import { fixtureMaterials, threeNodePlan } from "../fixtures/pacemaker-plan";

const work = mkdtempSync(join(tmpdir(), "haforge-corosync-wire-"));
after(() => rmSync(work, { recursive: true, force: true }));

interface Wire {
  readonly transport: "knet" | "udpu" | "udp";
  readonly cipher: "none" | "aes256" | "aes128";
  readonly hash: "none" | "sha256" | "sha512";
  readonly token: number;
  /** totem `cluster_name` (the cluster's name in the inventory): guarded like the wire settings. */
  readonly clusterName?: string;
}
const wireArb: fc.Arbitrary<Wire> = fc.record({
  transport: fc.constantFrom("knet", "udpu", "udp"),
  cipher: fc.constantFrom("none", "aes256", "aes128"),
  hash: fc.constantFrom("none", "sha256", "sha512"),
  token: fc.constantFrom(1000, 3000, 5000),
  clusterName: fc.constantFrom("db", "db", "db", "web"),
});
/** What the renderer writes (corosyncConfData): crypto lines only for knet with crypto on. */
const crypto = (w: Wire) => (w.transport === "knet" && (w.cipher !== "none" || w.hash !== "none") ? `${w.cipher}/${w.hash}` : "off");

function conf(w: Wire): string {
  const d: CorosyncConfData = {
    clusterName: w.clusterName ?? "db",
    transport: w.transport,
    ...(crypto(w) === "off" ? {} : { crypto: { cipher: w.cipher, hash: w.hash, keyfile: COROSYNC_AUTHKEY } }),
    token: w.token,
    links: [],
    nodes: [1, 2, 3].map((i) => ({ name: `db${i}`, nodeid: i, addrs: [{ link: 0, addr: `10.0.0.${10 + i}` }] })),
    quorum: { twoNode: 0, waitForAll: 0, lastManStanding: 0, autoTieBreaker: 0 },
  };
  return renderTemplate("pacemaker", "corosync.conf.hbs", d);
}

let n = 0;
function runValidate(live: string | undefined, staged: string, running: boolean): { rc: number; out: string } {
  const d = join(work, String(n++));
  mkdirSync(join(d, "bin"), { recursive: true });
  const livePath = join(d, "corosync.conf");
  if (live !== undefined) writeFileSync(livePath, live);
  writeFileSync(join(d, "staged"), staged);
  writeFileSync(join(d, "bin", "pidof"), `#!/bin/sh\n[ "$1" = corosync ] || exit 1\nexit ${running ? 0 : 1}\n`);
  chmodSync(join(d, "bin", "pidof"), 0o755);
  const cmd = corosyncWireValidate(livePath).split("{file}").join(`"$1"`);
  const r = spawnSync("sh", ["-c", cmd, "haforge-validate", join(d, "staged")], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${join(d, "bin")}:${process.env["PATH"] ?? ""}` },
  });
  return { rc: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe("corosync.conf: a transport or crypto change is refused where corosync runs", () => {
  it("random pairs: refused iff corosync runs and the transport, crypto or cluster_name differ; the message names the whole-cluster procedure", () => {
    fc.assert(
      fc.property(wireArb, wireArb, fc.boolean(), (a, b, running) => {
        const r = runValidate(conf(a), conf(b), running);
        const differs = a.transport !== b.transport || crypto(a) !== crypto(b) || a.clusterName !== b.clusterName;
        if (running && differs) {
          assert.notEqual(r.rc, 0, `${JSON.stringify(a)} -> ${JSON.stringify(b)}: ${r.out}`);
          assert.match(r.out, /refusing to change the corosync transport or crypto/);
          assert.match(r.out, /pcs cluster stop --all[\s\S]*pcs cluster start --all/);
          assert.match(r.out, /in place: .*transport:/);
        } else assert.equal(r.rc, 0, `${JSON.stringify(a)} -> ${JSON.stringify(b)} (running ${running}): ${r.out}`);
      }),
      { numRuns: 60 },
    );
  });

  it("no record of an applied configuration (a new node; Debian's packaged single-node corosync running since install): accepted", () => {
    assert.equal(runValidate(undefined, conf({ transport: "knet", cipher: "aes256", hash: "sha256", token: 3000 }), true).rc, 0);
  });

  it("the rendered corosync.conf carries the check, and its verdict and both keys' are taken at preview", () => {
    const materials = {
      ...Object.fromEntries(
        (renderPart.materials!(threeNodePlan) ?? []).map((m) => [
          m.key,
          Buffer.alloc(m.kind.type === "random-bytes" ? m.kind.bytes : 16, 0x5a).toString("base64"),
        ]),
      ),
      ...fixtureMaterials,
    };
    const files = renderPart.render!({ plan: threeNodePlan, secrets: {}, materials, template: renderTemplate }).files;
    for (const path of [COROSYNC_CONF, COROSYNC_AUTHKEY, PACEMAKER_AUTHKEY]) {
      const fs = files.filter((f) => f.path === path);
      assert.ok(fs.length > 0, path);
      for (const f of fs) assert.equal(f.validateAtPreview, true, `${f.host}: ${path}`);
    }
    for (const f of files.filter((x) => x.path === COROSYNC_CONF)) assert.ok(f.validate!.endsWith(corosyncWireValidate()), f.host);
  });
});

describe("validate --previous: a transport or crypto change is named at plan time (pacemaker.corosync-wire-change)", () => {
  const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA x";
  const inv = (w: Omit<Wire, "token">) => ({
    version: 1,
    name: "w",
    target: "ssh",
    hosts: ["h1", "h2", "h3"].map((h, i) => ({ name: h, address: `10.9.0.${i + 11}`, ssh: { hostKey: KEY } })),
    pacemaker: {
      clusters: [
        {
          name: "db",
          nodes: ["h1", "h2", "h3"],
          properties: { "stonith-enabled": false },
          transport: w.transport,
          crypto: { cipher: w.cipher, hash: w.hash },
        },
      ],
    },
  });
  const planOf = (w: Omit<Wire, "token">): ClusterPlan | undefined => {
    const p = Inventory.safeParse(inv(w));
    return p.success ? planCluster(p.data).plan : undefined;
  };

  it("property: a warning exactly when the transport or the effective crypto differ, naming the procedure", () => {
    fc.assert(
      fc.property(wireArb, wireArb, (a, b) => {
        const [p0, p1] = [planOf(a), planOf(b)];
        fc.pre(p0 !== undefined && p1 !== undefined);
        const fs = corosyncWireChangeFindings(p0, p1);
        const differs = a.transport !== b.transport || crypto(a) !== crypto(b);
        assert.equal(fs.length, differs ? 1 : 0, `${JSON.stringify(a)} -> ${JSON.stringify(b)}`);
        for (const f of fs) {
          assert.equal(f.code, "pacemaker.corosync-wire-change");
          assert.equal(f.severity, "warning");
          assert.match(f.path, /^pacemaker\.clusters\[0\]\.(transport|crypto)$/);
          assert.match(f.hint ?? "", /cluster stop --all[\s\S]*cluster start --all/);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("haforge validate --previous shows it (exit 0: a warning), plain validate does not", async () => {
    const dir = mkdtempSync(join(work, "cli-"));
    const old = join(dir, "old.yaml");
    const next = join(dir, "next.yaml");
    writeFileSync(old, yaml.dump(inv({ transport: "knet", cipher: "aes256", hash: "sha256" })));
    writeFileSync(next, yaml.dump(inv({ transport: "knet", cipher: "aes128", hash: "sha256" })));
    const plain = await runCli(["validate", next]);
    assert.doesNotMatch(plain.out, /corosync-wire-change/);
    const r = await runCli(["validate", next, "--previous", old]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /warning pacemaker\.corosync-wire-change/);
    assert.match(r.out, /crypto \(aes256\/sha256 -> aes128\/sha256\)/);
  });
});
