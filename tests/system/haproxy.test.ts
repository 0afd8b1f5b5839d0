/**
 * HAProxy's own verdict on every haproxy.cfg rendered from tests/fixtures/haproxy-plan.ts, then
 * the lb1 config running for real in a network namespace of its own (on a private bridge with an
 * HTTP backend namespace): the VIP bind needs the rendered ip_nonlocal_bind sysctl, the VIP can
 * arrive later without a restart, checks, backup servers, stats auth, the health command and the
 * USR2 reload all behave as rendered. Root only (CI runs as root); never skipped.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FileSpec } from "../../src/core/desired-state";
import { renderTemplate } from "../../src/render/templates";
import { renderPart } from "../../src/services/haproxy/render";
import { STATS_PASSWORD, haproxyMaterials, haproxyPlan, haproxySecrets } from "../fixtures/haproxy-plan";
import { examplePlans } from "../fixtures/keepalived-plan";
import { expandedArgv, renderedUnit, splitCommand, unitCommand } from "./examples/services";
import { NetnsHosts } from "./netns-hosts";
import { Children, must, privateRunTmp, q, sh, waitUntil } from "./shell";

const CFG = "/etc/haproxy/haproxy.cfg";
const tag = `hfh${process.pid % 100000}`;
const NODES = [
  { name: "lb1", address: "10.77.0.11" },
  { name: "app1", address: "10.77.0.21" },
  { name: "db1", address: "10.77.0.31" },
];
const net = new NetnsHosts(tag, NODES);
const ns = (host: string) => net.ns(host);
// Not under /tmp: haproxy below gets a private /tmp, and this directory must stay visible.
const dir = mkdtempSync("/var/tmp/haforge-haproxy-");
const rendered = renderPart.render!({
  plan: haproxyPlan(),
  secrets: haproxySecrets,
  materials: haproxyMaterials,
  template: renderTemplate,
});
const cfgs = rendered.files.filter((f) => f.path === CFG);
const verdicts: string[] = [];

function place(host: string, f: FileSpec, name: string, rewrite: (s: string) => string = (s) => s): string {
  mkdirSync(join(dir, host), { recursive: true });
  const p = join(dir, host, name);
  writeFileSync(p, rewrite(f.content), { mode: 0o600 });
  return p;
}
const file = (host: string, path: string) => rendered.files.find((f) => f.host === host && f.path === path)!;

const children = new Children();

/** `show stat` over the admin socket inside haproxy's mount namespace, as rows by "proxy/server". */
function showStat(masterPid: number): Map<string, Record<string, string>> {
  const r = sh(`nsenter -t ${masterPid} -m -n -- sh -c ${q("echo 'show stat' | socat -T 2 stdio UNIX-CONNECT:/run/haproxy-admin.sock")}`);
  const lines = r.stdout.split("\n").filter(Boolean);
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  return new Map(
    lines.slice(1).map((l) => {
      const row = Object.fromEntries(l.split(",").map((v, i) => [header[i] ?? String(i), v]));
      return [`${row.pxname}/${row.svname}`, row];
    }),
  );
}

// Each node: eth0 with its address on a private bridge.
before(() => net.up());

after(async () => {
  await children.stopAll();
  await net.down();
  rmSync(dir, { recursive: true, force: true });
  if (verdicts.length) console.log(`haproxy verdicts:\n  ${verdicts.join("\n  ")}`);
});

describe("haproxy (real daemon)", () => {
  it("every rendered haproxy.cfg passes its validate command (haproxy -c) and zero-warning mode (-dW)", () => {
    assert.equal(cfgs.length, 2);
    for (const f of cfgs) {
      const p = place(f.host, f, "haproxy.cfg");
      const r = sh(f.validate!.replace(/\{file\}/g, p));
      verdicts.push(`${f.host}: \`${f.validate!.replace(/\{file\}/g, "F")}\` -> rc ${r.status} "${r.stdout.trim()}"`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Configuration file is valid/);
      const w = sh(`haproxy -dW -c -f ${p}`);
      verdicts.push(`${f.host}: \`haproxy -dW -c -f F\` -> rc ${w.status}`);
      assert.equal(w.status, 0, `warnings: ${w.stderr}`);
      assert.doesNotMatch(w.stdout + w.stderr, /WARNING|Warnings were found/);
    }
  });

  it("haproxy -c rejects an unknown keyword (rc 1)", () => {
    const f = cfgs[0]!;
    const p = place(f.host, f, "broken.cfg", (s) => s.replace("stick on dst", "stik on dst"));
    const r = sh(f.validate!.replace(/\{file\}/g, p));
    verdicts.push(`${f.host} + unknown keyword: rc ${r.status} (${/unknown keyword[^\n]*/.exec(r.stderr)?.[0] ?? r.stderr.trim()})`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown keyword 'stik'/);
  });

  it("the rendered systemd unit passes systemd-analyze verify", () => {
    mkdirSync(join(dir, "units"), { recursive: true });
    const p = join(dir, "units", "haproxy.service");
    // Debian's packaged unit with haforge's drop-in merged in: what systemd loads.
    writeFileSync(p, renderedUnit(rendered.files, "lb1", "haproxy").text);
    const r = sh(`systemd-analyze verify --man=no ${p}`);
    verdicts.push(`systemd-analyze verify haproxy.service: rc ${r.status}${r.stderr.trim() ? ` (${r.stderr.trim()})` : ""}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "");
  });

  it("running lb1's config: VIP bind needs the sysctl; checks, backups, stats auth, health and reload work", async () => {
    const cfgPath = join(dir, "lb1", "haproxy.cfg");
    // The ExecStart of the unit systemd loads (packaged + haforge's drop-in), $CONFIG pointed at
    // the test's copy (as /etc/default/haproxy could).
    const unit = renderedUnit(rendered.files, "lb1", "haproxy").text;
    const c = unitCommand(unit)!;
    const env = { ...c.env, CONFIG: cfgPath };
    const exec = expandedArgv(c, env).map(q).join(" ");
    // Private /run (the admin socket) and /tmp, as on a lab host.
    const inHost = privateRunTmp(exec);

    // 1. Without ip_nonlocal_bind the VIP frontends cannot bind on a node that lacks the VIP.
    const refused = spawnSync("ip", ["netns", "exec", ns("lb1"), ...inHost], { encoding: "utf8", timeout: 15_000 });
    verdicts.push(
      `live lb1 without the sysctl: haproxy rc ${refused.status} (${/cannot bind socket[^\n]*/.exec(refused.stderr + refused.stdout)?.[0]})`,
    );
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr + refused.stdout, /cannot bind socket .* for \[10\.77\.0\.100:80\]/);

    // 2. The bootstrap action applies the rendered sysctl file (per netns: the root namespace is untouched).
    const action = rendered.actions.find((a) => a.id === "haproxy-nonlocal-bind-lb1")!;
    const sysctlFile = place("lb1", file("lb1", "/etc/sysctl.d/60-haforge-nonlocal-bind.conf"), "nonlocal-bind.conf");
    const rootBefore = must("sysctl -n net.ipv4.ip_nonlocal_bind").trim();
    must(`ip netns exec ${ns("lb1")} sh -c ${q(action.create.replace("/etc/sysctl.d/60-haforge-nonlocal-bind.conf", sysctlFile))}`);
    assert.equal(must(`ip netns exec ${ns("lb1")} sysctl -n net.ipv4.ip_nonlocal_bind`).trim(), "1");
    assert.equal(must("sysctl -n net.ipv4.ip_nonlocal_bind").trim(), rootBefore);

    // 3. HTTP answers for the checks: app1's API on 8080, db1's clustercheck on 9200 (nothing
    //    listens on db1:3306: the check must go to checkPort, not the traffic port).
    const server = `import http.server as h, sys
class H(h.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
h.HTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()`;
    children.start(ns("app1"), ["/usr/bin/python3", "-c", server, "10.77.0.21", "8080"], join(dir, "app1.log"));
    children.start(ns("db1"), ["/usr/bin/python3", "-c", server, "10.77.0.31", "9200"], join(dir, "db1.log"));

    // 4. haproxy starts now, binding the VIP it does not hold.
    const hap = children.start(ns("lb1"), inHost, join(dir, "lb1", "haproxy.log"));
    const svc = rendered.services.find((s) => s.host === "lb1")!;
    const health = () => sh(`nsenter -t ${hap.pid} -m -n -- sh -c ${q(svc.health!)}`).status === 0;
    const tUp = await waitUntil("haproxy health command", health, 10_000);
    verdicts.push(`live lb1 with the sysctl: haproxy up, health \`${svc.health}\` rc 0 after ${tUp} ms`);
    const listening = must(`ip netns exec ${ns("lb1")} ss -Hltn`);
    for (const l of ["10.77.0.100:80", "10.77.0.101:3306", "0.0.0.0:5672", "0.0.0.0:8404"])
      assert.ok(listening.includes(l), `listening on ${l}\n${listening}`);

    // 5. Checks: app1 answers GET /healthz (UP), app2/app3 do not exist (DOWN); galera servers 2 and 3 are backups.
    await waitUntil(
      "api/app1 and galera/db1 UP, api/app2 DOWN",
      () => {
        const st = showStat(hap.pid!);
        return (
          st.get("api/app1")?.status === "UP" && st.get("galera/db1")?.status === "UP" && /DOWN/.test(st.get("api/app2")?.status ?? "")
        );
      },
      15_000,
    );
    const st = showStat(hap.pid!);
    assert.deepEqual(
      ["galera/db1", "galera/db2", "galera/db3"].map((k) => st.get(k)?.bck),
      ["0", "1", "1"],
    );
    verdicts.push(
      "live: httpchk marks app1 UP, absent app2/app3 DOWN; galera db1 UP via its check port 9200 (3306 closed); db2/db3 run as backup (bck=1)",
    );

    // 6. The VIP arrives (keepalived's job) while haproxy runs: traffic flows without a restart.
    must(`ip -n ${ns("lb1")} addr add 10.77.0.100/24 dev eth0`);
    const viaVip = must(`ip netns exec ${ns("lb1")} curl -sS -m 5 http://10.77.0.100/`);
    assert.equal(viaVip, "ok");
    verdicts.push("live: VIP added after start -> GET http://10.77.0.100/ proxied to app1 ('ok')");

    // 7. Stats: the escaped password authenticates, a wrong one does not.
    const code = (user: string) =>
      must(`ip netns exec ${ns("lb1")} curl -s -o /dev/null -w '%{http_code}' -m 5 -u ${q(user)} http://127.0.0.1:8404/`);
    assert.equal(code(`admin:${STATS_PASSWORD}`), "200");
    assert.equal(code("admin:wrong"), "401");
    verdicts.push("live: stats auth with the rendered (escaped) password -> 200, wrong password -> 401");

    // 8. Reload: the unit's ExecReload (USR2 to the master) starts a new worker; health holds.
    const pidOf = () =>
      /^Pid: (\d+)$/m.exec(
        sh(`nsenter -t ${hap.pid} -m -n -- sh -c ${q("echo 'show info' | socat -T 2 stdio UNIX-CONNECT:/run/haproxy-admin.sock")}`).stdout,
      )?.[1];
    const before = pidOf();
    assert.ok(before);
    // Every ExecReload= line in order (the packaged unit checks the config first, then USR2),
    // the check inside haproxy's own mount namespace, where its paths are.
    const reloads = [...unit.matchAll(/^ExecReload=(.*)$/gm)].map((m) =>
      expandedArgv({ argv: splitCommand(m[1]!), env: { ...env, MAINPID: String(hap.pid) } })
        .map(q)
        .join(" "),
    );
    assert.ok(reloads.length >= 1);
    for (const r of reloads) must(`nsenter -t ${hap.pid} -m -n -- sh -c ${q(r)}`);
    await waitUntil(
      "a new worker after USR2",
      () => {
        const now = pidOf();
        return now !== undefined && now !== before;
      },
      10_000,
    );
    assert.ok(health());
    assert.equal(must(`ip netns exec ${ns("lb1")} curl -sS -m 5 http://10.77.0.100/`), "ok");
    verdicts.push(`live: \`${reloads.join(" && ")}\` -> new worker (pid ${before} -> ${pidOf()}), health and traffic OK`);
    assert.match(readFileSync(join(dir, "lb1", "haproxy.log"), "utf8"), /Reloading HAProxy/);
  });

  it("example inventories: every haproxy.cfg planned from inventories/* passes haproxy -c and -dW", () => {
    const examples = examplePlans().filter((e) => e.plan.haproxy);
    assert.ok(examples.length >= 3);
    for (const { file, plan, secrets } of examples) {
      const r = renderPart.render!({ plan, secrets, materials: {}, template: renderTemplate });
      const files = r.files.filter((f) => f.path === CFG);
      assert.equal(files.length, plan.haproxy!.hosts.length);
      for (const f of files) {
        const p = place(`${file}-${f.host}`, f, "haproxy.cfg");
        const c = sh(f.validate!.replace(/\{file\}/g, p));
        const w = sh(`haproxy -dW -c -f ${p}`);
        verdicts.push(`${file} ${f.host}: haproxy -c rc ${c.status}, -dW rc ${w.status}`);
        assert.equal(c.status, 0, c.stderr);
        assert.match(c.stdout, /Configuration file is valid/);
        assert.equal(w.status, 0, w.stderr);
        // The lab's Patroni backend (checked on /primary) cuts a demoted leader's sessions; the
        // valid verdicts above include that line.
        if (file === "lab.yaml")
          assert.match(f.content, /\nbackend patroni\n(?: {4}.*\n)*? {4}default-server on-marked-down shutdown-sessions\n/);
      }
    }
  });
});
