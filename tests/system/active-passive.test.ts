/**
 * Real-tool verdicts on the active/passive files (tests/fixtures/active-passive-plan.ts):
 * - the systemd drop-in, loaded by systemd's own parser (`systemd-analyze verify` works here
 *   without systemd as PID 1) beside a stand-in unit, yields exactly the RS_HA_* values;
 * - the supervisor env file, sourced by /bin/sh as the program does, yields exactly the values;
 * - on supervisor hosts, the rendered program + env file run under a real supervisord in network
 *   namespaces, with a stand-in for dr-provision that holds the VIP while active, follows
 *   dr-provision's documented signals (USR2 → passive, USR1 → active) and, while passive, logs
 *   "Stream switch to realtime streaming" once it is told it has caught up; the health gate waits
 *   for that line, the switchover asked by `active` refuses a target that has not caught up, moves
 *   the VIP to one that has, and is a no-op when re-run.
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
const expectedEnv = (passive: boolean, host: string) => [
  ["RS_DRP_ID", host],
  ["RS_STATIC_IP", `10.77.0.${50 + HOSTS.indexOf(host) + 1}`],
  ["RS_HA_ENABLED", "true"],
  ["RS_HA_INTERFACE", "eth0"],
  ["RS_HA_ADDRESS", "10.77.0.50/24"],
  ["RS_HA_ID", "8c:ec:4b:ea:d9:fe"],
  ["RS_HA_TOKEN", DRP_TOKEN],
  ["RS_HA_PASSIVE", String(passive)],
];

const renderPlan = (plan: ClusterPlan) =>
  renderPart.render!({ plan, secrets: activePassiveSecrets, materials: activePassiveMaterials, template: renderTemplate });
const rendered = renderPlan(activePassivePlan());
/** The same app with every host under supervisor (the manager the lab hosts use); `active` asks for a switchover. */
const supervisedWith = (active?: string) => {
  const p = activePassivePlan();
  return renderPlan({
    ...p,
    hosts: p.hosts.map((h) => ({ ...h, init: "supervisor" as const })),
    activePassive: p.activePassive.filter((a) => a.name === "drp").map((a) => (active ? { ...a, active } : a)),
  });
};
const supervised = supervisedWith();

/** `NAME=value` lines of a NUL-separated environment, RS_* only, in render order. */
function haVars(nulEnv: string): string[][] {
  const order = expectedEnv(false, "drp1").map(([k]) => k);
  return nulEnv
    .split("\0")
    .filter((l) => l.startsWith("RS_HA_") || l.startsWith("RS_DRP_ID=") || l.startsWith("RS_STATIC_IP="))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])
    .sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
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
    for (const [host, passive] of [
      ["drp1", false],
      ["drp2", true],
    ] as const) {
      const f = rendered.files.find((x) => x.host === host && x.path.endsWith("/dr-provision.service.d/20-ha.conf"))!;
      const unitDir = join(dir, host, "units");
      mkdirSync(join(unitDir, "dr-provision.service.d"), { recursive: true });
      writeFileSync(
        join(unitDir, "dr-provision.service"),
        "[Unit]\nDescription=stand-in for the installer's unit\n[Service]\nExecStart=/bin/true\n",
      );
      writeFileSync(join(unitDir, "dr-provision.service.d", "20-ha.conf"), f.content);
      const unit = join(unitDir, "dr-provision.service");
      const quiet = sh(`systemd-analyze verify --man=no ${unit}`);
      assert.equal(quiet.status, 0, quiet.stderr);
      assert.equal(quiet.stderr.trim(), "", "no parse warnings");
      const dbg = sh(`SYSTEMD_LOG_LEVEL=debug systemd-analyze verify --man=no ${unit}`);
      const dump = dbg.stdout + dbg.stderr;
      assert.match(dump, /DropIn Path: .*20-ha\.conf/);
      const env = [...dump.matchAll(/^\s+Environment: (.*)$/gm)].map((m) => [
        m[1]!.slice(0, m[1]!.indexOf("=")),
        m[1]!.slice(m[1]!.indexOf("=") + 1),
      ]);
      assert.deepEqual(env, expectedEnv(passive, host));
      verdicts.push(
        `${host}: systemd-analyze verify (stand-in unit + 20-ha.conf) rc 0, no warnings; Environment = RS_DRP_ID, RS_STATIC_IP, RS_HA_* as rendered, token byte-exact, RS_HA_PASSIVE=${passive}`,
      );
    }
    // And systemd does flag a broken drop-in (the check can fail).
    const broken = join(dir, "drp1", "units", "dr-provision.service.d", "20-ha.conf");
    writeFileSync(broken, '[Service]\nEnvironment="RS_HA_ENABLED=true\n');
    const b = sh(`systemd-analyze verify --man=no ${join(dir, "drp1", "units", "dr-provision.service")}`);
    assert.match(b.stderr, /Invalid syntax/);
    verdicts.push(
      `broken drop-in (unterminated quote): systemd-analyze rc ${b.status} but "${b.stderr.trim()}" (rc stays 0: the test asserts on stderr)`,
    );
  });

  it("the env file passes its validate (sh -n) and /bin/sh sources exactly the RS_HA_* values", () => {
    const f = rendered.files.find((x) => x.path === "/etc/haforge/dr-provision-ha.env")!;
    const p = join(dir, "dr-provision-ha.env");
    writeFileSync(p, f.content, { mode: 0o600 });
    assert.equal(sh(f.validate!.replace(/\{file\}/g, p)).status, 0);
    const env = spawnSync("/bin/sh", ["-c", `set -a && . ${p} && exec env -0`], { encoding: "utf8", env: {} }).stdout;
    assert.deepEqual(haVars(env), expectedEnv(true, "drp3"));
    const bad = join(dir, "bad.env");
    writeFileSync(bad, "RS_HA_TOKEN='unterminated\n");
    assert.notEqual(sh(f.validate!.replace(/\{file\}/g, bad)).status, 0);
    verdicts.push("drp3 env file: `sh -n` rc 0 (an unterminated quote: rc 2); sourced by /bin/sh -> RS_HA_* as rendered, token byte-exact");
  });

  it("supervisor hosts: the gate waits for the catch-up; `active` switches over only to a caught-up node, idempotently", async () => {
    /**
     * Stand-in for dr-provision, one per host: holds RS_HA_ADDRESS on RS_HA_INTERFACE while
     * active; while passive, prints dr-provision's caught-up line once `<hdir>/caught-up` exists
     * (the test decides when a passive node has replicated everything).
     */
    const fakeFor = (hdir: string) => {
      const fake = join(hdir, "fake-dr-provision");
      writeFileSync(
        fake,
        [
          "#!/bin/sh",
          "env -0 > /run/ha-env",
          "said=",
          'up() { ip addr add "$RS_HA_ADDRESS" dev "$RS_HA_INTERFACE" 2>/dev/null; echo active > /run/ha-state; echo "signal: now active"; }',
          'down() { ip addr del "$RS_HA_ADDRESS" dev "$RS_HA_INTERFACE" 2>/dev/null; echo passive > /run/ha-state; said=; echo "signal: now passive"; }',
          "trap up USR1",
          "trap down USR2",
          "trap 'down; exit 0' TERM",
          'if [ "$RS_HA_PASSIVE" = true ]; then down; else up; fi',
          `while :; do if [ -z "$said" ] && [ "$(cat /run/ha-state)" = passive ] && [ -e ${hdir}/caught-up ]; then echo "Stream switch to realtime streaming"; said=1; fi; sleep 0.2 & wait $!; done`,
          "",
        ].join("\n"),
        { mode: 0o755 },
      );
      return fake;
    };
    const sup = new Map<string, { pid: number; conf: string; hdir: string }>();
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
          .replace("/usr/local/bin/dr-provision", fakeFor(hdir))
          .replace("/var/log/supervisor/dr-provision.log", join(hdir, "dr-provision.log")),
      );
      const conf = join(hdir, "supervisord.conf");
      writeFileSync(conf, supervisordConf(hdir));
      const child = children.start(ns(host), privateRunTmp(`supervisord -n -c ${conf}`), join(hdir, "supervisord.out"));
      sup.set(host, { pid: child.pid!, conf, hdir });
    }
    /** Run a rendered command on `host`: its netns and mount ns, supervisorctl and the log pointed at its supervisord's. */
    const onHost = (host: string, cmd: string, bound?: number) => {
      const { pid, conf, hdir } = sup.get(host)!;
      let c = cmd
        .replace(/supervisorctl /g, `supervisorctl -c ${conf} `)
        .replace(/\/var\/log\/supervisor\/dr-provision\.log/g, join(hdir, "dr-provision.log"));
      if (bound !== undefined) c = c.replace(/-ge 600 \]/g, `-ge ${bound} ]`);
      return sh(`nsenter -t ${pid} -m -n -- sh -c ${q(c)}`, 60_000);
    };
    const hasVip = (host: string) => sh(`ip -n ${ns(host)} -o addr show dev eth0 to 10.77.0.50`).stdout.trim() !== "";
    const holders = () => HOSTS.filter(hasVip);
    const health = (host: string) => onHost(host, supervised.services.find((s) => s.host === host)!.health!).status === 0;
    const caughtUp = (host: string) => writeFileSync(join(sup.get(host)!.hdir, "caught-up"), "");

    // The active node (first host) passes its gate on the VIP; the passives only once caught up.
    await waitUntil("drp1 health (VIP)", () => health("drp1"), 20_000);
    assert.deepEqual(holders(), ["drp1"], "RS_HA_PASSIVE=false only on the first node");
    await waitUntil("drp2 running", () => onHost("drp2", "supervisorctl status dr-provision | grep -q RUNNING").status === 0, 20_000);
    assert.equal(health("drp2"), false, "a passive node that has not caught up does not pass the gate");
    caughtUp("drp2");
    await waitUntil("drp2 health (caught up)", () => health("drp2"), 10_000);
    for (const [host, passive] of [
      ["drp1", false],
      ["drp2", true],
      ["drp3", true],
    ] as const) {
      const envPath = `/proc/${sup.get(host)!.pid}/root/run/ha-env`;
      await waitUntil(`${host} env`, () => existsSync(envPath), 20_000);
      assert.deepEqual(haVars(readFileSync(envPath, "utf8")), expectedEnv(passive, host), `${host}: the app's environment`);
    }
    verdicts.push(
      "supervisord runs the rendered program; the app sees RS_DRP_ID, RS_STATIC_IP, RS_HA_* byte-exact; gate: drp1 on the VIP, drp2 refused until it logged the caught-up line, then passed",
    );

    const run = (actions: typeof supervised.actions, bound?: number) =>
      actions.map((a) => ({ id: a.id, r: onHost(a.host, a.create, bound) }));

    // A switchover to drp3, which has not caught up: refused before anything is demoted.
    const toDrp3 = supervisedWith("drp3").actions;
    const refused = run(toDrp3.slice(0, 1), 3);
    assert.notEqual(refused[0]!.r.status, 0);
    assert.match(refused[0]!.r.stderr, /has not caught up/);
    assert.deepEqual(holders(), ["drp1"], "nothing switched");
    verdicts.push(
      `switchover to drp3 (not caught up): check rc ${refused[0]!.r.status} (${refused[0]!.r.stderr.trim()}); VIP stays on drp1`,
    );

    // To drp2 (caught up): check, release on drp1 and drp3, promote drp2.
    const toDrp2 = supervisedWith("drp2").actions;
    const t0 = Date.now();
    const first = run(toDrp2);
    for (const x of first) assert.equal(x.r.status, 0, `${x.id}: ${x.r.stderr}`);
    assert.deepEqual(holders(), ["drp2"]);
    const signals = () =>
      HOSTS.map((h) => (readFileSync(join(sup.get(h)!.hdir, "dr-provision.log"), "utf8").match(/^signal: /gm) ?? []).length);
    const before = signals();
    verdicts.push(
      `switchover to drp2 (caught up): ${toDrp2.map((a) => a.id.replace("active-passive-drp-active-drp2-", "")).join(" -> ")}: VIP drp1 -> drp2 in ${Date.now() - t0} ms`,
    );

    // Re-running the same steps (an unchanged inventory re-applied, or a retried apply): no-ops.
    const again = run(toDrp2);
    for (const x of again) assert.equal(x.r.status, 0, `${x.id}: ${x.r.stderr}`);
    assert.deepEqual(holders(), ["drp2"]);
    assert.deepEqual(signals(), before, "no signal sent the second time");
    verdicts.push("re-run of the drp2 switchover: every step rc 0, no signal sent, VIP stays on drp2");

    // The caught-up line of an earlier run does not count after a restart (the start marker).
    caughtUp("drp3");
    await waitUntil("drp3 caught up", () => health("drp3"), 10_000);
    rmSync(join(sup.get("drp3")!.hdir, "caught-up"));
    assert.equal(onHost("drp3", "supervisorctl restart dr-provision").status, 0);
    await waitUntil("drp3 running", () => onHost("drp3", "supervisorctl status dr-provision | grep -q RUNNING").status === 0, 20_000);
    assert.equal(health("drp3"), false, "caught up in the previous run only");
    const stale = run(toDrp3.slice(0, 1), 2);
    assert.notEqual(stale[0]!.r.status, 0);
    assert.deepEqual(holders(), ["drp2"]);
    verdicts.push(
      "drp3 caught up, then restarted: its gate and a switchover to it refuse again (the line before the start marker does not count)",
    );
  });
});
