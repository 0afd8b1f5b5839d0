/**
 * Real-tool verdicts on the active/passive files (tests/fixtures/active-passive-plan.ts):
 * - the systemd drop-in, loaded by systemd's own parser (`systemd-analyze verify` works here
 *   without systemd as PID 1) beside a stand-in unit, yields exactly the RS_HA_* values;
 * - the supervisor env file, sourced by /bin/sh as the program does, yields exactly the values;
 * - on supervisor hosts, the rendered program + env file run under a real supervisord in network
 *   namespaces, with a stand-in for dr-provision that holds the VIP while active and follows
 *   dr-provision's documented signals (USR2 → passive, USR1 → active); the rendered switchover
 *   actions then move the VIP.
 * dr-provision itself is not installed here (licensed HA feature), hence the stand-in.
 * Root only (CI runs as root); never skipped.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ClusterPlan } from "../../src/plan/types";
import { renderTemplate } from "../../src/render/templates";
import { renderPart } from "../../src/services/active-passive/render";
import { DRP_TOKEN, activePassiveMaterials, activePassivePlan, activePassiveSecrets } from "../fixtures/active-passive-plan";
import { Children, must, privateRunTmp, q, sh, supervisordConf, waitUntil } from "./shell";

const tag = `hfa${process.pid % 100000}`;
const ns = (host: string) => `${tag}-${host}`;
const HOSTS = ["drp1", "drp2", "drp3"];
const dir = mkdtempSync("/var/tmp/haforge-active-passive-");
const verdicts: string[] = [];
const expectedEnv = (passive: boolean) => [
  ["RS_HA_ENABLED", "true"],
  ["RS_HA_INTERFACE", "eth0"],
  ["RS_HA_ADDRESS", "10.77.0.50/24"],
  ["RS_HA_ID", "8c:ec:4b:ea:d9:fe"],
  ["RS_HA_TOKEN", DRP_TOKEN],
  ["RS_HA_PASSIVE", String(passive)],
];

const renderPlan = (plan: ClusterPlan) => renderPart.render!({ plan, secrets: activePassiveSecrets, materials: activePassiveMaterials, template: renderTemplate });
const rendered = renderPlan(activePassivePlan());
/** The same app with every host under supervisor (the manager the lab hosts use). */
const supervised = (() => {
  const p = activePassivePlan();
  return renderPlan({ ...p, hosts: p.hosts.map((h) => ({ ...h, init: "supervisor" as const })), activePassive: p.activePassive.filter((a) => a.name === "drp") });
})();

/** `NAME=value` lines of a NUL-separated environment, RS_HA_* only, in render order. */
function haVars(nulEnv: string): string[][] {
  const order = expectedEnv(false).map(([k]) => k);
  return nulEnv
    .split("\0")
    .filter((l) => l.startsWith("RS_HA_"))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])
    .sort((a, b) => order.indexOf(a[0]!) - order.indexOf(b[0]!));
}

const children = new Children();

before(() => {
  for (const h of HOSTS) {
    must(
      [
        `ip netns add ${ns(h)}`,
        `ip -n ${ns(h)} link add eth0 type veth peer name eth0p`,
        `ip -n ${ns(h)} addr add 10.77.0.${50 + HOSTS.indexOf(h) + 1}/24 dev eth0`,
        `ip -n ${ns(h)} link set eth0 up`,
        `ip -n ${ns(h)} link set eth0p up`,
        `ip -n ${ns(h)} link set lo up`,
      ].join(" && "),
    );
  }
});

after(async () => {
  await children.stopAll(10_000);
  for (const h of HOSTS) sh(`ip netns del ${ns(h)}`);
  rmSync(dir, { recursive: true, force: true });
  if (verdicts.length) console.log(`active/passive verdicts:\n  ${verdicts.join("\n  ")}`);
});

describe("active/passive (real tools)", () => {
  it("systemd loads each drop-in beside a stand-in unit without a warning and sees exactly the RS_HA_* values", () => {
    for (const [host, passive] of [["drp1", false], ["drp2", true]] as const) {
      const f = rendered.files.find((x) => x.host === host && x.path.endsWith("/dr-provision.service.d/haforge-ha.conf"))!;
      const unitDir = join(dir, host, "units");
      mkdirSync(join(unitDir, "dr-provision.service.d"), { recursive: true });
      writeFileSync(join(unitDir, "dr-provision.service"), "[Unit]\nDescription=stand-in for the installer's unit\n[Service]\nExecStart=/bin/true\n");
      writeFileSync(join(unitDir, "dr-provision.service.d", "haforge-ha.conf"), f.content);
      const unit = join(unitDir, "dr-provision.service");
      const quiet = sh(`systemd-analyze verify --man=no ${unit}`);
      assert.equal(quiet.status, 0, quiet.stderr);
      assert.equal(quiet.stderr.trim(), "", "no parse warnings");
      const dbg = sh(`SYSTEMD_LOG_LEVEL=debug systemd-analyze verify --man=no ${unit}`);
      const dump = dbg.stdout + dbg.stderr;
      assert.match(dump, /DropIn Path: .*haforge-ha\.conf/);
      const env = [...dump.matchAll(/^\s+Environment: (.*)$/gm)].map((m) => [m[1]!.slice(0, m[1]!.indexOf("=")), m[1]!.slice(m[1]!.indexOf("=") + 1)]);
      assert.deepEqual(env, expectedEnv(passive));
      verdicts.push(`${host}: systemd-analyze verify (stand-in unit + drop-in) rc 0, no warnings; Environment = RS_HA_* as rendered, token byte-exact, RS_HA_PASSIVE=${passive}`);
    }
    // And systemd does flag a broken drop-in (the check can fail).
    const broken = join(dir, "drp1", "units", "dr-provision.service.d", "haforge-ha.conf");
    writeFileSync(broken, '[Service]\nEnvironment="RS_HA_ENABLED=true\n');
    const b = sh(`systemd-analyze verify --man=no ${join(dir, "drp1", "units", "dr-provision.service")}`);
    assert.match(b.stderr, /Invalid syntax/);
    verdicts.push(`broken drop-in (unterminated quote): systemd-analyze rc ${b.status} but "${b.stderr.trim()}" (rc stays 0: the test asserts on stderr)`);
  });

  it("the env file passes its validate (sh -n) and /bin/sh sources exactly the RS_HA_* values", () => {
    const f = rendered.files.find((x) => x.path === "/etc/haforge/dr-provision-ha.env")!;
    const p = join(dir, "dr-provision-ha.env");
    writeFileSync(p, f.content, { mode: 0o600 });
    assert.equal(sh(f.validate!.replace(/\{file\}/g, p)).status, 0);
    const env = spawnSync("/bin/sh", ["-c", `set -a && . ${p} && exec env -0`], { encoding: "utf8", env: {} }).stdout;
    assert.deepEqual(haVars(env), expectedEnv(true));
    const bad = join(dir, "bad.env");
    writeFileSync(bad, "RS_HA_TOKEN='unterminated\n");
    assert.notEqual(sh(f.validate!.replace(/\{file\}/g, bad)).status, 0);
    verdicts.push("drp3 env file: `sh -n` rc 0 (an unterminated quote: rc 2); sourced by /bin/sh -> RS_HA_* as rendered, token byte-exact");
  });

  it("supervisor hosts: the program runs the app with the env; the switchover actions move the VIP (USR2, then USR1)", async () => {
    // Stand-in for dr-provision: holds RS_HA_ADDRESS on RS_HA_INTERFACE while active.
    const fake = join(dir, "fake-dr-provision");
    writeFileSync(
      fake,
      [
        "#!/bin/sh",
        "env -0 > /run/ha-env",
        'up() { ip addr add "$RS_HA_ADDRESS" dev "$RS_HA_INTERFACE" 2>/dev/null; echo active > /run/ha-state; }',
        'down() { ip addr del "$RS_HA_ADDRESS" dev "$RS_HA_INTERFACE" 2>/dev/null; echo passive > /run/ha-state; }',
        "trap up USR1",
        "trap down USR2",
        "trap 'down; exit 0' TERM",
        'if [ "$RS_HA_PASSIVE" = true ]; then down; else up; fi',
        "while :; do sleep 1 & wait $!; done",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const sup = new Map<string, { pid: number; conf: string }>();
    for (const host of HOSTS) {
      const hdir = join(dir, "sup", host);
      mkdirSync(join(hdir, "conf.d"), { recursive: true });
      const envFile = supervised.files.find((f) => f.host === host && f.path === "/etc/haforge/dr-provision-ha.env")!;
      const prog = supervised.files.find((f) => f.host === host && f.path === "/etc/supervisor/conf.d/dr-provision.conf")!;
      writeFileSync(join(hdir, "ha.env"), envFile.content, { mode: 0o600 });
      writeFileSync(
        join(hdir, "conf.d", "dr-provision.conf"),
        prog.content
          .replace("/etc/haforge/dr-provision-ha.env", join(hdir, "ha.env"))
          .replace("/usr/local/bin/dr-provision", fake)
          .replace("/var/log/supervisor/dr-provision.log", join(hdir, "dr-provision.log")),
      );
      const conf = join(hdir, "supervisord.conf");
      writeFileSync(conf, supervisordConf(hdir));
      const child = children.start(ns(host), privateRunTmp(`supervisord -n -c ${conf}`), join(hdir, "supervisord.out"));
      sup.set(host, { pid: child.pid!, conf });
    }
    /** Run a rendered command on `host`: its netns and mount ns, supervisorctl pointed at its supervisord. */
    const onHost = (host: string, cmd: string) => {
      const { pid, conf } = sup.get(host)!;
      return sh(`nsenter -t ${pid} -m -n -- sh -c ${q(cmd.replace(/supervisorctl /g, `supervisorctl -c ${conf} `))}`, 60_000);
    };
    const hasVip = (host: string) => sh(`ip -n ${ns(host)} -o addr show dev eth0 to 10.77.0.50`).stdout.trim() !== "";
    const holders = () => HOSTS.filter(hasVip);

    // Health (ServiceSpec.health) on every host; startsecs=5 makes RUNNING take ~5 s.
    for (const host of HOSTS) {
      const svc = supervised.services.find((s) => s.host === host)!;
      await waitUntil(`${host} health`, () => onHost(host, svc.health!).status === 0, 20_000);
    }
    assert.deepEqual(holders(), ["drp1"], "RS_HA_PASSIVE=false only on the first node");
    for (const [host, passive] of [["drp1", false], ["drp2", true], ["drp3", true]] as const) {
      const envPath = `/proc/${sup.get(host)!.pid}/root/run/ha-env`;
      assert.ok(existsSync(envPath));
      assert.deepEqual(haVars(readFileSync(envPath, "utf8")), expectedEnv(passive), `${host}: the app's environment`);
    }
    verdicts.push("supervisord 4.2.5 runs the rendered program; the app sees RS_HA_* byte-exact; VIP on drp1 only; health rc 0 everywhere");

    const [demote, promote] = supervised.actions;
    assert.equal(promote!.dependsOn[0], demote!.id);
    const t0 = Date.now();
    const d = onHost(demote!.host, demote!.create);
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(holders(), [], "after the demotion no node holds the VIP");
    const p = onHost(promote!.host, promote!.create);
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(holders(), ["drp2"]);
    verdicts.push(`switchover: \`${demote!.create.split(" || ")[0]}\` on drp1 then \`${promote!.create.split(" || ")[0]}\` on drp2 -> VIP drp1 -> drp2 in ${Date.now() - t0} ms; no node holds it between the two`);

    // The action fails (bounded) when the signal does not take: drp3's app is stopped.
    must(`nsenter -t ${sup.get("drp3")!.pid} -m -n -- supervisorctl -c ${sup.get("drp3")!.conf} stop dr-provision`);
    const dead = onHost("drp3", supervised.actions[1]!.create);
    assert.notEqual(dead.status, 0);
    verdicts.push(`promote on a host whose app is stopped: rc ${dead.status} (${dead.stdout.trim() || dead.stderr.trim()})`);
  });
});
