/**
 * keepalived's own verdict on every keepalived.conf rendered from tests/fixtures/keepalived-plan.ts.
 *
 * `keepalived -t` checks that the interface exists and that track scripts resolve, so each file is
 * checked inside a network namespace that looks like its host: `eth0` with the host's address on
 * a private bridge (namespaces created here and removed in `after`). Then the rendered configs run
 * for real: lb1 and lb2 with their systemd unit's ExecStart, lb3 under supervisord with its
 * rendered program file (each in a private /run and /tmp), and we watch VRRP place and move the
 * VIPs. Root only (CI runs as root); never skipped.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FileSpec } from "../../src/core/desired-state";
import { renderTemplate } from "../../src/render/templates";
import { keepalivedHealth, renderPart } from "../../src/services/keepalived/render";
import { API_AUTH_PASS, LB_HOSTS, examplePlans, keepalivedMaterials, keepalivedPlan, keepalivedSecrets } from "../fixtures/keepalived-plan";
import { expandedArgv, renderedUnit, unitCommand } from "./examples/services";
import { NetnsHosts } from "./netns-hosts";
import { Children, must, privateRunTmp, q, sh, sleep, stopChild, supervisordConf, waitUntil } from "./shell";

const CONF = "/etc/keepalived/keepalived.conf";
const tag = `hfk${process.pid % 100000}`;
const net = new NetnsHosts(tag, LB_HOSTS);
const ns = (host: string) => net.ns(host);
// Not under /tmp: the daemons below get a private /tmp, and this directory must stay visible.
const dir = mkdtempSync("/var/tmp/haforge-keepalived-");
const rendered = renderPart.render!({
  plan: keepalivedPlan(),
  secrets: keepalivedSecrets,
  materials: keepalivedMaterials,
  template: renderTemplate,
});
const confs = rendered.files.filter((f) => f.path === CONF);
const verdicts: string[] = [];

const inNs = (name: string, cmd: string) => sh(`ip netns exec ${name} sh -c ${q(cmd)}`);
const hasVip = (host: string, vip: string) => sh(`ip -n ${ns(host)} -o addr show dev eth0 to ${vip}`).stdout.trim() !== "";
const LB_NAMES = LB_HOSTS.map((h) => h.name);
const holders = (vip: string) => LB_NAMES.filter((h) => hasVip(h, vip));

/** Write a rendered file into the test dir, with its config paths pointed at the test dir. */
function place(host: string, f: FileSpec, name: string, rewrite: (s: string) => string = (s) => s): string {
  const p = join(dir, host, name);
  mkdirSync(join(dir, host), { recursive: true });
  writeFileSync(p, rewrite(f.content), { mode: 0o600 });
  return p;
}
const confOf = (host: string) => confs.find((f) => f.host === host)!;
const validate = (f: FileSpec, path: string) => f.validate!.replace(/\{file\}/g, path);

const children = new Children();
/** Start `cmd` in the host's netns with a private /run and /tmp (pid files, dumps, sockets). */
const startInHost = (host: string, cmd: string, log: string): ChildProcess => children.start(ns(host), privateRunTmp(cmd), log);

// Each host: eth0 with its address on a private bridge (the bridge's own namespace has no eth0).
before(() => net.up());

const extraNs: string[] = [];

after(async () => {
  await children.stopAll();
  await net.down();
  for (const n of extraNs) sh(`ip netns del ${n}`);
  rmSync(dir, { recursive: true, force: true });
  if (verdicts.length) console.log(`keepalived verdicts:\n  ${verdicts.join("\n  ")}`);
});

describe("keepalived (real daemon)", () => {
  it("fixtures cover ≥2 instances, unicast and multicast, track scripts and auth", () => {
    const plan = keepalivedPlan();
    assert.ok(plan.keepalived.length >= 2);
    assert.ok(plan.keepalived.some((i) => i.unicast) && plan.keepalived.some((i) => !i.unicast));
    assert.ok(plan.keepalived.every((i) => i.track.length > 0 && i.authPass));
    assert.equal(confs.length, 3);
  });

  it("every rendered keepalived.conf passes its own validate command (keepalived -t) in its host's namespace", () => {
    for (const f of confs) {
      const p = place(f.host, f, "keepalived.conf");
      assert.ok(existsSync(p));
      const r = inNs(ns(f.host), validate(f, p));
      verdicts.push(`${f.host}: \`${validate(f, "F")}\` -> rc ${r.status}${r.stderr.trim() ? ` (${r.stderr.trim()})` : ""}`);
      assert.equal(r.status, 0, `${f.host}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), "", `${f.host}: keepalived -t is silent on a clean file`);
    }
  });

  it("keepalived -t fails a broken keyword, an over-long auth_pass and a missing interface; validate fails a missing file", () => {
    const f = confOf("lb1");
    const broken = place("lb1", f, "broken.conf", (s) => s.replace("advert_int 1", "advert_intx 1"));
    const b = inNs(ns("lb1"), validate(f, broken));
    verdicts.push(`lb1 + unknown keyword: rc ${b.status} (${b.stderr.trim().split("\n")[0]})`);
    assert.equal(b.status, 5);
    assert.match(b.stderr, /Unknown keyword 'advert_intx'/);

    const long = place("lb1", f, "long-pass.conf", (s) => s.replace(`"${API_AUTH_PASS.slice(0, 8)}"`, `"${API_AUTH_PASS}"`));
    const l = inNs(ns("lb1"), validate(f, long));
    verdicts.push(`lb1 + untruncated ${API_AUTH_PASS.length}-char auth_pass: rc ${l.status} (${l.stderr.trim()})`);
    assert.equal(l.status, 5, "keepalived 2.2.7 treats the truncation as a config error: why we render 8 characters");
    assert.match(l.stderr, /Truncating auth_pass to 8 characters/);

    const good = join(dir, "lb1", "keepalived.conf");
    const noIface = sh(validate(f, good).replace("keepalived -t", `ip netns exec ${net.switchNs} keepalived -t`));
    verdicts.push(`lb1 conf where eth0 does not exist: rc ${noIface.status}`);
    assert.notEqual(noIface.status, 0);
    assert.match(noIface.stderr, /Non-existent interface/);

    const missing = join(dir, "does-not-exist.conf");
    const bare = sh(`keepalived -t -f ${missing}`);
    const guarded = sh(validate(f, missing));
    verdicts.push(`missing file: bare keepalived -t rc ${bare.status}, our validate rc ${guarded.status}`);
    assert.equal(bare.status, 0, "the trap the validate guards against (docs/lab.md)");
    assert.notEqual(guarded.status, 0);
  });

  it("the rendered systemd unit passes systemd-analyze verify", () => {
    // Debian's packaged unit with haforge's drop-ins (if any) merged in: what systemd loads.
    const unit = renderedUnit(rendered.files, "lb1", "keepalived");
    mkdirSync(join(dir, "units"), { recursive: true });
    const p = join(dir, "units", "keepalived.service");
    writeFileSync(p, unit.text);
    const r = sh(`systemd-analyze verify --man=no ${p}`);
    verdicts.push(`systemd-analyze verify keepalived.service: rc ${r.status}${r.stderr.trim() ? ` (${r.stderr.trim()})` : ""}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "");
  });

  it("running the rendered configs: VRRP elects the planned masters, keepalived runs scripts via sh, reload and failover work", async () => {
    // lb1, lb2: the ExecStart of the unit systemd loads (packaged + drop-ins), with the config path
    // and console logging given through $DAEMON_ARGS, as /etc/default/keepalived would.
    const procs = new Map<string, ChildProcess>();
    for (const host of ["lb1", "lb2"]) {
      const c = unitCommand(renderedUnit(rendered.files, host, "keepalived").text)!;
      const exec = expandedArgv(c, { DAEMON_ARGS: `--log-console -f ${join(dir, host, "keepalived.conf")}` })
        .map(q)
        .join(" ");
      procs.set(host, startInHost(host, exec, join(dir, host, "keepalived.log")));
    }
    // lb3: its rendered supervisor program under a real supervisord.
    const prog = rendered.files.find((f) => f.host === "lb3" && f.path === "/etc/supervisor/conf.d/keepalived.conf")!;
    mkdirSync(join(dir, "lb3", "conf.d"), { recursive: true });
    writeFileSync(
      join(dir, "lb3", "conf.d", "keepalived.conf"),
      prog.content
        .replace(CONF, join(dir, "lb3", "keepalived.conf"))
        .replace("/var/log/supervisor/keepalived.log", join(dir, "lb3", "keepalived.log")),
    );
    const supConf = join(dir, "lb3", "supervisord.conf");
    writeFileSync(supConf, supervisordConf(join(dir, "lb3")));
    const sup = startInHost("lb3", `supervisord -n -c ${supConf}`, join(dir, "lb3", "supervisord.out"));

    const tElect = await waitUntil(
      "api VIP on lb1 and db VIP on one node",
      () => hasVip("lb1", "10.77.0.100") && holders("10.77.0.101").length === 1,
      20_000,
    );
    await sleep(1500); // let every election settle, then check nobody else holds a VIP
    assert.deepEqual(holders("10.77.0.100"), ["lb1"]);
    assert.deepEqual(holders("10.77.0.101"), ["lb2"], "db: nopreempt, all BACKUP; the highest priority (lb2, 150) wins the first election");
    verdicts.push(`live: api VIP on lb1 (unicast), db VIP on lb2 (multicast, nopreempt) after ${tElect} ms`);

    // keepalived's own data dump (SIGUSR1 → /tmp/keepalived.data in its private /tmp).
    const lb2 = procs.get("lb2")!;
    process.kill(lb2.pid!, "SIGUSR1");
    const dump = `/proc/${lb2.pid}/root/tmp/keepalived.data`;
    await waitUntil("keepalived.data", () => existsSync(dump) && readFileSync(dump, "utf8").includes("VRRP Scripts"), 5_000);
    const data = readFileSync(dump, "utf8");
    assert.match(data, /Command = '\S*\/sh' '-c' 'pidof haproxy'/, "pidof runs under sh, not as its symlink target");
    assert.doesNotMatch(data, /killall5/);
    assert.match(data, /Command = '\S*\/sh' '-c' 'echo [A-Za-z0-9+/=]+ \| base64 -d \| \/bin\/sh'/);
    assert.match(data, new RegExp(`Password = ${API_AUTH_PASS.slice(0, 8)}$`, "m"));
    verdicts.push("live: keepalived.data shows track scripts as /bin/sh -c argv (no killall5) and the 8-char auth_pass");

    // The supervisor host's reload command (ServiceSpec.reload), pointed at this supervisord.
    const svc3 = rendered.services.find((s) => s.host === "lb3")!;
    const reload = svc3.reload!.replace("supervisorctl", `supervisorctl -c ${supConf}`);
    const rr = sh(`nsenter -t ${sup.pid} -m -n -- sh -c '${reload}'`);
    assert.equal(rr.status, 0, rr.stderr + rr.stdout);
    await waitUntil("lb3 keepalived reload", () => /Reloading/.test(readFileSync(join(dir, "lb3", "keepalived.log"), "utf8")), 5_000);
    verdicts.push(`live: \`${svc3.reload}\` on lb3 -> rc 0, keepalived logged "Reloading"`);

    // The roll gate (ServiceSpec.health) in each host's namespace: first as is, then with every
    // host dropping ICMP echo (the kernel's own switch, per namespace), as a firewall would.
    const gateOf = (host: string) => rendered.services.find((x) => x.host === host)!.health!;
    const runGate = (host: string, cmd: string) => {
      const t = Date.now();
      const r = inNs(ns(host), cmd);
      return { ok: r.status === 0, ms: Date.now() - t };
    };
    for (const h of LB_NAMES) assert.ok(runGate(h, gateOf(h)).ok, `${h}: the gate with ICMP answered`);
    const echo = (v: 0 | 1) => {
      for (const h of LB_NAMES) must(`ip netns exec ${ns(h)} sysctl -qw net.ipv4.icmp_echo_ignore_all=${v}`);
    };
    echo(1);
    try {
      // the echo is really dropped: a gate by ping alone (haforge's earlier form) fails on lb3,
      // which holds neither VIP
      const pingOnly =
        "pidof keepalived >/dev/null && ping -c 1 -W 1 10.77.0.100 >/dev/null 2>&1 && ping -c 1 -W 1 10.77.0.101 >/dev/null 2>&1";
      assert.equal(runGate("lb3", pingOnly).ok, false, "ICMP echo is dropped");
      const times: string[] = [];
      for (const h of LB_NAMES) {
        const g = runGate(h, gateOf(h));
        assert.ok(g.ok, `${h}: the gate with ICMP echo dropped`);
        times.push(`${h} ${g.ms} ms`);
      }
      // an address nobody holds fails, even with a `reachable` neighbour entry left for it (a stale
      // entry from an earlier holder: lb1's MAC)
      const nobody = { vip: "10.77.0.199", interface: "eth0" };
      assert.equal(runGate("lb3", keepalivedHealth([nobody])).ok, false, "a VIP nobody holds");
      const lb1Mac = must(`ip -n ${ns("lb1")} -o link show eth0`).match(/link\/ether (\S+)/)![1]!;
      must(`ip -n ${ns("lb3")} neigh replace 10.77.0.199 lladdr ${lb1Mac} dev eth0 nud reachable`);
      assert.equal(runGate("lb3", keepalivedHealth([nobody])).ok, false, "a VIP nobody holds, with a stale reachable entry");
      // and a held VIP on the wrong interface name cannot be answered at layer 2 either
      assert.equal(runGate("lb3", keepalivedHealth([{ vip: "10.77.0.100", interface: "lo" }])).ok, false, "wrong interface");
      verdicts.push(
        `live: roll gates with ICMP echo dropped on every host pass (${times.join(", ")}); a ping-only gate fails; a VIP nobody holds fails, a stale reachable entry included`,
      );
    } finally {
      echo(0);
    }

    // Clean stop of the api master: lb2 (next priority) takes the VIP.
    const t0 = Date.now();
    await stopChild(procs.get("lb1")!);
    await waitUntil("api VIP on lb2", () => hasVip("lb2", "10.77.0.100"), 10_000);
    const moved = Date.now() - t0;
    assert.deepEqual(holders("10.77.0.100"), ["lb2"]);
    verdicts.push(`live: SIGTERM to lb1's keepalived -> api VIP on lb2 after ${moved} ms`);
  });

  it("example inventories: every keepalived.conf planned from inventories/* passes keepalived -t on a look-alike host", () => {
    const examples = examplePlans().filter((e) => e.plan.keepalived.length > 0);
    assert.ok(examples.length >= 2);
    let n = 0;
    for (const { file, plan, secrets } of examples) {
      const r = renderPart.render!({ plan, secrets, materials: {}, template: renderTemplate });
      for (const f of r.files.filter((x) => x.path === CONF)) {
        // The host's interfaces as keepalived will look for them: name from the instance, the
        // member's VRRP address with the VIP's prefix.
        const name = `${tag}-e${n++}`;
        extraNs.push(name);
        must(`ip netns add ${name} && ip -n ${name} link set lo up`);
        const ifaces = new Map<string, string[]>();
        for (const inst of plan.keepalived) {
          const me = inst.members.find((m) => m.host === f.host);
          if (me) ifaces.set(inst.interface, [...(ifaces.get(inst.interface) ?? []), `${me.address}/${inst.prefix}`]);
        }
        [...ifaces].forEach(([iface, addrs], k) => {
          must(
            `ip -n ${name} link add ${iface} type veth peer name p${k} && ip -n ${name} link set ${iface} up && ip -n ${name} link set p${k} up`,
          );
          for (const a of new Set(addrs)) must(`ip -n ${name} addr add ${a} dev ${iface}`);
        });
        const p = place(`${file}-${f.host}`, f, "keepalived.conf");
        const res = inNs(name, validate(f, p));
        verdicts.push(`${file} ${f.host}: keepalived -t rc ${res.status}${res.stderr.trim() ? ` (${res.stderr.trim()})` : ""}`);
        assert.equal(res.status, 0, `${file} ${f.host}: ${res.stderr}`);
        assert.equal(res.stderr.trim(), "");
      }
    }
  });
});
