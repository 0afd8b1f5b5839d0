/**
 * The habits users expect of the CLI: colour on a terminal only (NO_COLOR, --no-color), -q on
 * every command, --json on every command (render and diff too), --limit, and the review diff
 * listing the actions a change would run.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { ClusterAction, ServiceSpec } from "../../src/core/desired-state";
import { main } from "../../src/cli/main";
import { actionsThatWouldRun } from "../../src/render/action-diff";
import { ROOT, runCli } from "../helpers/cli";
import { exampleInventories } from "../golden/examples";

const inv = (f: string) => join(ROOT, "inventories", f);
const dir = mkdtempSync(join(tmpdir(), "hf-out-"));
const ENV = { HAFORGE_SECRET_rabbitmqPassword: "rabbit-pw-1234" };
const ANSI = /\x1b\[\d+m/;

/** In-process, with stdout claiming to be a terminal or not. */
async function runTty(args: string[], env: NodeJS.ProcessEnv, isTTY: boolean) {
  let out = "";
  let err = "";
  const code = await main(args, { out: (t) => (out += t + "\n"), err: (t) => (err += t + "\n"), isTTY }, env);
  return { code, out, err };
}

/** A YAML inventory with a warning and an error-free plan (one warning for the severity colour). */
const warnInv = join(dir, "warn.ini");
writeFileSync(warnInv, readFileSync(inv("tower-cluster.ini"), "utf8") + "\n[all:vars]\nansible_hots=1\n");
const badInv = join(dir, "bad.ini");
writeFileSync(badInv, "[tower]\nhostA ansible_host=10.0.0.1\n[all:vars]\nrabbitmq_port=abc\nansible_hots=1\n");

const render = async (file: string, out: string, ...extra: string[]) =>
  runCli(["render", file, "--out", out, "--materials", join(dir, "m.json"), ...extra], ENV);

describe("colour", () => {
  it("on a terminal: severities and diff lines coloured; never with NO_COLOR, --no-color or a pipe", async () => {
    const a = join(dir, "ca");
    const b = join(dir, "cb");
    await render(inv("tower-cluster.ini"), a);
    const changed = join(dir, "changed.ini");
    writeFileSync(changed, readFileSync(inv("tower-cluster.ini"), "utf8").replace("rabbitmq_port=5672", "rabbitmq_port=5673"));
    await render(changed, b);
    const tty = await runTty(["diff", a, b], {}, true);
    assert.match(tty.out, /\x1b\[32m\+.*5673/, "added lines green");
    assert.match(tty.out, /\x1b\[31m-.*5672/, "removed lines red");
    const v = await runTty(["validate", badInv], {}, true);
    assert.match(v.out, /\x1b\[31m.*error/);
    assert.match(v.out, /\x1b\[33mwarning/);
    for (const [env, args, tty] of [
      [{ NO_COLOR: "1" }, [], true],
      [{ NO_COLOR: "x" }, [], true],
      [{}, ["--no-color"], true],
      [{}, [], false],
    ] as const) {
      const d = await runTty(["diff", a, b, ...args], env, tty);
      const w = await runTty(["validate", badInv, ...args], env, tty);
      assert.doesNotMatch(d.out + d.err + w.out + w.err, ANSI, JSON.stringify({ env, args, tty }));
      assert.match(d.out, /^\+.*5673/m);
    }
    // An empty NO_COLOR is unset (no-color.org).
    assert.match((await runTty(["validate", badInv], { NO_COLOR: "" }, true)).out, ANSI);
  });

  it("plan and secrets, every example: coloured on a terminal, the same text without colour, none with NO_COLOR, --no-color or a pipe", async () => {
    const strip = (s: string) => s.replace(/\x1b\[\d+m/g, "");
    const cases = exampleInventories().flatMap((name) => [
      ["plan", inv(name)],
      ["secrets", inv(name)],
    ]);
    cases.push(["secrets", badInv], ["plan", badInv]);
    for (const [cmd, file] of cases as [string, string][]) {
      const tty = await runTty([cmd, file], {}, true);
      const plain = await runTty([cmd, file], {}, false);
      const what = `${cmd} ${file}`;
      assert.match(tty.out + tty.err, ANSI, `${what}: colour on a terminal`);
      assert.equal(strip(tty.out), plain.out, `${what}: stdout is the same text`);
      assert.equal(strip(tty.err), plain.err, `${what}: stderr is the same text`);
      assert.equal(tty.code, plain.code);
      for (const [env, args] of [
        [{ NO_COLOR: "1" }, []],
        [{}, ["--no-color"]],
      ] as const) {
        const r = await runTty([cmd, file, ...args], env, true);
        assert.doesNotMatch(r.out + r.err, ANSI, `${what} ${JSON.stringify({ env, args })}`);
        assert.equal(r.out, plain.out);
      }
      assert.doesNotMatch(plain.out + plain.err, ANSI, `${what}: a pipe`);
    }
  });

  it("a real terminal (script(1)) gets colour from bin/haforge.js, a pipe none", () => {
    const cmd = `${process.execPath} ${join(ROOT, "bin", "haforge.js")} validate ${badInv}`;
    const pty = spawnSync("script", ["-qec", cmd, "/dev/null"], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "" },
      timeout: 120_000,
    });
    assert.match(pty.stdout, ANSI, pty.stdout + pty.stderr);
    const noColor = spawnSync("script", ["-qec", cmd, "/dev/null"], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
      timeout: 120_000,
    });
    assert.doesNotMatch(noColor.stdout, ANSI);
    assert.match(noColor.stdout, /error ini\.not-a-number/);
  });
});

describe("-q on every command: only what matters, exit codes unchanged", () => {
  it("validate, plan, render, secrets, diff", async () => {
    const v = await runCli(["validate", badInv, "-q"]);
    assert.equal(v.code, 1);
    assert.match(v.out, /error ini\.not-a-number/);
    assert.doesNotMatch(v.out, /warning|INVALID|error\(s\)/);
    const ok = await runCli(["validate", warnInv, "--quiet"]);
    assert.deepEqual([ok.code, ok.out, ok.err], [0, "", ""]);
    const p = await runCli(["plan", warnInv, "-q"]);
    assert.equal(p.code, 0);
    assert.match(p.out, /cluster haforge/);
    assert.doesNotMatch(p.out, /warning/);
    const r = await render(warnInv, join(dir, "q"), "-q");
    assert.deepEqual([r.code, r.out, r.err], [0, "", ""]);
    const rb = await render(badInv, join(dir, "qb"), "-q");
    assert.equal(rb.code, 1);
    assert.doesNotMatch(rb.err, /warning/);
    const s = await runCli(["secrets", inv("openstack-pacemaker.yaml"), "-q"]);
    assert.equal(s.code, 0);
    assert.ok(
      s.out
        .split("\n")
        .filter(Boolean)
        .every((l) => l.startsWith("pulumi config set --secret")),
      s.out,
    );
    const d = await runCli(["diff", join(dir, "q"), join(dir, "q"), "-q"]);
    assert.deepEqual([d.code, d.out], [0, ""]);
  });
});

describe("--json on every command", () => {
  it("render --json: the manifest summary per host; an invalid inventory: { valid: false, findings } with locations", async () => {
    const r = await render(inv("tower-cluster.ini"), join(dir, "j"), "--json");
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    const manifest = JSON.parse(readFileSync(join(dir, "j", "manifest.json"), "utf8"));
    assert.equal(j.files, manifest.files.length);
    assert.equal(j.actions, manifest.actions.length);
    assert.equal(j.secrets, "masked");
    assert.equal(
      j.hosts.reduce((n: number, h: { files: number }) => n + h.files, 0),
      manifest.files.length,
    );
    assert.ok(j.hosts.every((h: { services: unknown; actions: unknown }) => Array.isArray(h.services) && Array.isArray(h.actions)));
    const bad = await render(badInv, join(dir, "jb"), "--json");
    assert.equal(bad.code, 1);
    const jb = JSON.parse(bad.out);
    assert.equal(jb.valid, false);
    assert.ok(jb.findings.some((f: { line?: number; file?: string }) => f.line === 4 && f.file === badInv));
  });

  it("diff --json: per host files with their unified diff and change kind, actions, exit codes as in text", async () => {
    const a = join(dir, "ja");
    const b = join(dir, "jb2");
    await render(inv("tower-cluster.ini"), a);
    const changed = join(dir, "j.ini");
    writeFileSync(changed, readFileSync(inv("tower-cluster.ini"), "utf8").replace("rabbitmq_port=5672", "rabbitmq_port=5673"));
    await render(changed, b);
    const r = await runCli(["diff", a, b, "--json", "--exit-code"]);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.out);
    assert.ok(j.changedFiles > 0 && j.changedHosts > 0);
    assert.deepEqual(j.unreachableHosts, []);
    for (const h of j.hosts) {
      assert.equal(typeof h.host, "string");
      for (const f of h.files) {
        assert.ok(["added", "removed", "changed", "meta"].includes(f.change));
        if (f.change === "changed") assert.match(f.diff, /^@@ /m);
      }
    }
    assert.ok(j.hosts.some((h: { files: { diff?: string }[] }) => h.files.some((f) => /^\+.*5673/m.test(f.diff ?? ""))));
    assert.doesNotMatch(r.out, /rabbit-pw-1234/);
    const same = await runCli(["diff", a, a, "--json", "--exit-code"]);
    assert.equal(same.code, 0);
    assert.deepEqual(JSON.parse(same.out).hosts, []);
    const missing = await runCli(["diff", join(dir, "nope"), a, "--json"]);
    assert.equal(missing.code, 2);
    assert.match(JSON.parse(missing.out).error, /cannot read/);
  });
});

describe("the review diff lists the actions a change would run", () => {
  it("removing an isolated instance: deprovision_instance; a changed port: rabbitmq restarts (text and JSON)", async () => {
    const a = join(dir, "ra");
    const b = join(dir, "rb");
    await render(inv("tower-cluster.ini"), a);
    const text = readFileSync(inv("tower-cluster.ini"), "utf8");
    assert.match(text, /^isoB\b.*$/m);
    const changed = join(dir, "r.ini");
    writeFileSync(changed, text.replace(/^isoB\b.*\n/m, "").replace("rabbitmq_port=5672", "rabbitmq_port=5673"));
    const rb = await render(changed, b);
    assert.equal(rb.code, 0, rb.err);
    const r = await runCli(["diff", a, b]);
    assert.match(r.out, /^== \w+: actions that would run$/m);
    assert.match(r.out, /^ {2}delete tower-provision-isoB: awx-manage deprovision_instance --hostname=isoB {2}\(removed\)$/m);
    // The broker's restart runs inside the rejoin check (rabbitmq-rejoin.sh before … after).
    assert.match(
      r.out,
      /^ {2}restart service:rabbitmq-server: .*rabbitmq-rejoin\.sh before .*systemctl restart rabbitmq-server; \} && \{ .*rabbitmq-rejoin\.sh after .* {2}\(.*\/etc\/rabbitmq\//m,
    );
    assert.match(r.out, /^\d+ file\(s\) differ on \d+ host\(s\)\n\d+ action\(s\) would run$/m);
    const j = JSON.parse((await runCli(["diff", a, b, "--json"])).out);
    const runs = j.hosts.flatMap((h: { actions: { id: string; run: string; command: string }[] }) => h.actions);
    assert.ok(runs.some((x: { id: string; run: string }) => x.id === "tower-provision-isoB" && x.run === "delete"));
    assert.ok(runs.some((x: { id: string; run: string }) => x.id === "service:rabbitmq-server" && x.run === "restart"));
    const q = await runCli(["diff", a, b, "-q"]);
    assert.match(q.out, /^delete \w+:tower-provision-isoB$/m);
    // --limit on trees: names and globs; an unknown name is a finding with did-you-mean, exit 2
    const lim = await runCli(["diff", a, b, "--limit", "towerA", "--json"]);
    assert.deepEqual(
      JSON.parse(lim.out).hosts.map((h: { host: string }) => h.host),
      ["towerA"],
    );
    const typo = await runCli(["diff", a, b, "--limit", "towrA"]);
    assert.equal(typo.code, 2);
    assert.match(typo.err, /limit\.no-match.*did you mean "towerA"/);
  });

  it("property: removed actions with a delete run it, added ones run create, untouched ones never run", () => {
    const action = (id: string, over: Partial<ClusterAction> = {}): ClusterAction => ({
      id,
      host: `h${id.length % 3}`,
      phase: "post-start",
      description: id,
      create: `create ${id}`,
      dependsOn: [],
      triggers: [],
      secret: false,
      ...over,
    });
    const ids = fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 12 });
    fc.assert(
      fc.property(ids, ids, fc.boolean(), (olds, news, withDelete) => {
        const oldA = olds.map((id) => action(id, withDelete ? { delete: `delete ${id}` } : {}));
        const newA = news.map((id) => action(id));
        const runs = actionsThatWouldRun({ actions: oldA }, { actions: newA }, new Set());
        for (const id of news.filter((x) => !olds.includes(x)))
          assert.ok(runs.some((r) => r.id === id && r.run === "create" && r.command === `create ${id}`));
        for (const id of olds.filter((x) => !news.includes(x)))
          assert.equal(
            runs.some((r) => r.id === id && r.run === "delete" && r.command === `delete ${id}`),
            withDelete,
          );
        for (const id of olds.filter((x) => news.includes(x))) assert.ok(!runs.some((r) => r.id === id), id);
      }),
    );
  });

  it("a trigger file or a notified service's file that changed re-runs the action / restarts the service", () => {
    const a: ClusterAction = {
      id: "x",
      host: "h",
      phase: "converge",
      description: "x",
      create: "do x",
      dependsOn: [],
      triggers: ["/etc/x.conf"],
      secret: false,
    };
    const svc: ServiceSpec = { host: "h", name: "haproxy", manager: "systemd", restart: "systemctl restart haproxy" };
    const m = { actions: [a], services: [svc], files: [{ host: "h", path: "/etc/haproxy/haproxy.cfg", notify: ["haproxy"] }] };
    assert.deepEqual(actionsThatWouldRun(m, m, new Set()), []);
    const runs = actionsThatWouldRun(m, m, new Set(["h:/etc/x.conf", "h:/etc/haproxy/haproxy.cfg"]));
    assert.deepEqual(
      runs.map((r) => [r.id, r.run, r.command, r.because]),
      [
        ["x", "rerun", "do x", "/etc/x.conf"],
        ["service:haproxy", "restart", "systemctl restart haproxy", "/etc/haproxy/haproxy.cfg"],
      ],
    );
  });
});

describe("--limit (plan, render)", () => {
  it("plan: groups and globs select hosts; !pattern leaves out; an unknown name is an error finding with did-you-mean (exit 2)", async () => {
    const j = JSON.parse((await runCli(["plan", inv("tower-cluster.ini"), "--limit", "east", "--json"])).out);
    assert.ok(j.hosts.length > 0);
    assert.ok(
      j.instanceGroups.every(
        (g: { name: string; instances: string[] }) =>
          g.name === "east" || g.instances.some((i: string) => j.hosts.some((h: { name: string }) => h.name === i)),
      ),
    );
    const glob = JSON.parse((await runCli(["plan", inv("tower-cluster.ini"), "--limit", "tower*,!towerB", "--json"])).out);
    assert.deepEqual(
      glob.hosts.map((h: { name: string }) => h.name),
      ["towerA", "towerC"],
    );
    const bad = await runCli(["plan", inv("tower-cluster.ini"), "--limit", "towr", "--json"]);
    assert.equal(bad.code, 2);
    const f = JSON.parse(bad.out).findings[0];
    assert.equal(f.code, "limit.no-match");
    assert.match(f.message, /did you mean "tower"/);
  });

  it("render --limit writes only those hosts' files and actions", async () => {
    const r = await render(inv("tower-cluster.ini"), join(dir, "lim"), "--limit", "towerA", "--json");
    assert.equal(r.code, 0, r.err);
    const m = JSON.parse(readFileSync(join(dir, "lim", "manifest.json"), "utf8"));
    assert.ok(m.files.length > 0);
    assert.ok(m.files.every((f: { host: string }) => f.host === "towerA"));
    assert.ok(m.actions.every((x: { host: string }) => x.host === "towerA"));
  });
});
