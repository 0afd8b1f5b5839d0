import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterPlan, HaproxyPlan } from "../../src/plan/types";
import type { SecretValues } from "../../src/core/secrets";
import { renderTemplate } from "../../src/render/templates";
import { HAPROXY_HEALTH, renderPart } from "../../src/services/haproxy/render";
import { bindAddress, haproxyQuote, nonlocalFamilies } from "../../src/services/haproxy/config";
import { examplePlans, plannedHost } from "../fixtures/keepalived-plan";
import { STATS_PASSWORD, haproxyMaterials, haproxyPlan, haproxySecrets, haproxySlice } from "../fixtures/haproxy-plan";

const render = (plan: ClusterPlan = haproxyPlan(), secrets: SecretValues = haproxySecrets) =>
  renderPart.render!({ plan, secrets, materials: haproxyMaterials, template: renderTemplate });

/** haproxy.cfg as sections: `{ "frontend api": ["bind ...", ...] }`, comments dropped. */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split("\n")) {
    if (!raw.trim() || raw.trim().startsWith("#")) continue;
    if (!/^\s/.test(raw)) {
      assert.ok(!out.has(raw.trim()), `section "${raw.trim()}" once`);
      out.set(raw.trim(), (current = []));
    } else {
      assert.ok(current, `"${raw}" inside a section`);
      current.push(raw.trim());
    }
  }
  return out;
}
const cfg = (host: string, r = render()) => {
  const f = r.files.find((x) => x.host === host && x.path === "/etc/haproxy/haproxy.cfg");
  assert.ok(f, `haproxy.cfg for ${host}`);
  return { file: f, s: sections(f.content) };
};
const sec = (s: Map<string, string[]>, name: string) => {
  const v = s.get(name);
  assert.ok(v, `section "${name}"`);
  return v;
};

describe("haproxy render", () => {
  it("renders haproxy.cfg, the nonlocal-bind sysctl and a service definition per HAProxy host", () => {
    const r = render();
    assert.deepEqual(
      r.files.map((f) => `${f.host} ${f.path}`),
      [
        "lb1 /etc/haproxy/haproxy.cfg",
        "lb1 /etc/sysctl.d/60-haforge-nonlocal-bind.conf",
        "lb1 /etc/systemd/system/haproxy.service.d/50-haforge.conf",
        "lb2 /etc/haproxy/haproxy.cfg",
        "lb2 /etc/sysctl.d/60-haforge-nonlocal-bind.conf",
        "lb2 /etc/supervisor/conf.d/haproxy.conf",
      ],
    );
    assert.deepEqual(Object.keys(Object.fromEntries([...cfg("lb1").s])), [
      "global",
      "defaults",
      "frontend api",
      "frontend galera",
      "frontend rabbitmq",
      "backend api",
      "backend galera",
      "backend rabbitmq",
      "listen stats",
    ]);
  });

  it("global and defaults: log to stdout, maxconn, timeouts, admin socket for reloads and health", () => {
    const { s } = cfg("lb1");
    const g = sec(s, "global");
    assert.ok(g.includes("log stdout format raw local0"));
    assert.ok(g.includes("maxconn 4096"));
    assert.ok(g.includes("stats socket /run/haproxy-admin.sock mode 600 level admin expose-fd listeners"));
    const d = sec(s, "defaults");
    for (const t of ["timeout connect 5s", "timeout client 1m", "timeout server 1m", "timeout check 5s", "log global"])
      assert.ok(d.includes(t), t);
  });

  it("frontends bind what the plan says and log in their own mode", () => {
    const { s } = cfg("lb2");
    assert.deepEqual(sec(s, "frontend api"), [
      "bind 10.77.0.100:80",
      "mode http",
      "option httplog",
      "option forwardfor",
      "default_backend api",
    ]);
    assert.deepEqual(sec(s, "frontend galera"), ["bind 10.77.0.101:3306", "mode tcp", "option tcplog", "default_backend galera"]);
    assert.deepEqual(sec(s, "frontend rabbitmq"), ["bind *:5672", "mode tcp", "option tcplog", "default_backend rabbitmq"]);
  });

  it("round-robin backend with httpchk and `check inter` from the plan", () => {
    assert.deepEqual(sec(cfg("lb1").s, "backend api"), [
      "mode http",
      "balance roundrobin",
      "option httpchk GET /healthz",
      "server app1 10.77.0.21:8080 check inter 1s",
      "server app2 10.77.0.22:8080 check inter 1s",
      "server app3 10.77.0.23:8080 check inter 1s",
    ]);
    const mq = sec(cfg("lb1").s, "backend rabbitmq");
    assert.ok(mq.includes("balance leastconn"));
    assert.ok(!mq.some((l) => l.startsWith("option httpchk") || l.startsWith("stick")));
  });

  it("single-active backend: stick table on dst, every server but the first is backup, check on checkPort", () => {
    const g = sec(cfg("lb1").s, "backend galera");
    assert.ok(g.includes("stick-table type ip size 1 nopurge"));
    assert.ok(g.includes("stick on dst"));
    assert.deepEqual(
      g.filter((l) => l.startsWith("server ")),
      [
        "server db1 10.77.0.31:3306 check port 9200 inter 2s",
        "server db2 10.77.0.32:3306 check port 9200 inter 2s backup",
        "server db3 10.77.0.33:3306 check port 9200 inter 2s backup",
      ],
    );
    assert.ok(g.includes("option httpchk GET /"), "clustercheck over HTTP on checkPort");
  });

  it("stats listener with the password quoted for HAProxy; the file is secret", () => {
    const { file, s } = cfg("lb1");
    const st = sec(s, "listen stats");
    assert.ok(st.includes("bind *:8404"));
    assert.ok(st.includes("mode http"));
    assert.ok(st.includes(`stats auth "admin:pa ss\\"w\\$rd#1\\\\x'"`), st.join("\n"));
    assert.equal(file.secret, true);
    assert.equal(file.mode, "0600");
    assert.equal(haproxyQuote(`a"b$c\\d`), `"a\\"b\\$c\\\\d"`);
    assert.ok(!file.content.includes(STATS_PASSWORD), "the raw password appears only escaped");
  });

  it("no stats password: no `stats auth`, file not secret; no stats: no listener", () => {
    const plan = haproxyPlan();
    const open: ClusterPlan = { ...plan, haproxy: { ...haproxySlice, stats: { bind: "127.0.0.1:8404", user: "admin" } } };
    const a = cfg("lb1", render(open));
    assert.ok(!sec(a.s, "listen stats").some((l) => l.startsWith("stats auth")));
    assert.equal(a.file.secret, false);
    assert.equal(a.file.mode, "0644");
    const { stats: _s, ...noStats } = haproxySlice;
    const b = cfg("lb1", render({ ...plan, haproxy: noStats }));
    assert.ok(!b.s.has("listen stats"));
  });

  it("validate is haproxy -c; the config notifies haproxy", () => {
    const { file } = cfg("lb2");
    assert.equal(file.validate, "haproxy -c -f {file}");
    assert.deepEqual(file.notify, ["haproxy"]);
  });

  it("VIP binds: sysctl file + bootstrap action per host; none when every bind is local or wildcard", () => {
    const r = render();
    const sysctl = r.files.find((f) => f.host === "lb1" && f.path.startsWith("/etc/sysctl.d/"))!;
    assert.match(sysctl.content, /^net\.ipv4\.ip_nonlocal_bind = 1$/m);
    assert.doesNotMatch(sysctl.content, /ipv6/);
    assert.deepEqual(sysctl.notify, []);
    assert.deepEqual(
      r.actions.map((a) => [a.id, a.host, a.phase, a.create, a.triggers, a.dependsOn, a.secret]),
      [
        [
          "haproxy-nonlocal-bind-lb1",
          "lb1",
          "bootstrap",
          "sysctl -p /etc/sysctl.d/60-haforge-nonlocal-bind.conf",
          ["/etc/sysctl.d/60-haforge-nonlocal-bind.conf"],
          [],
          false,
        ],
        [
          "haproxy-nonlocal-bind-lb2",
          "lb2",
          "bootstrap",
          "sysctl -p /etc/sysctl.d/60-haforge-nonlocal-bind.conf",
          ["/etc/sysctl.d/60-haforge-nonlocal-bind.conf"],
          [],
          false,
        ],
      ],
    );
    const local: HaproxyPlan = {
      ...haproxySlice,
      frontends: [
        { name: "own", bind: "10.77.0.11:80", mode: "http", backend: "api" },
        { name: "any", bind: "*:81", mode: "http", backend: "api" },
        { name: "lo", bind: "127.0.0.1:82", mode: "http", backend: "api" },
      ],
      stats: { bind: ":8404", user: "admin" },
    };
    const lb1 = plannedHost("lb1", "10.77.0.11", 0);
    assert.deepEqual(nonlocalFamilies(local, lb1), []);
    const lr = render({ ...haproxyPlan(), haproxy: { ...local, hosts: ["lb1"] } });
    assert.ok(!lr.files.some((f) => f.path.startsWith("/etc/sysctl.d/")));
    assert.deepEqual(lr.actions, []);
    const v6: HaproxyPlan = { ...local, frontends: [{ name: "v6", bind: "[fd00::100]:80", mode: "http", backend: "api" }] };
    assert.deepEqual(nonlocalFamilies(v6, lb1), [6]);
    assert.deepEqual(bindAddress("[fd00::100]:80 ssl crt /x"), { address: "fd00::100", port: "80" });
    assert.deepEqual(bindAddress("*:5672"), { address: "*", port: "5672" });
  });

  it("services: master-worker haproxy, USR2 reload, socket health, rolling group", () => {
    const r = render();
    assert.deepEqual(
      r.services.map((s) => [s.host, s.name, s.manager, s.reload, s.health, s.rollGroup]),
      [
        ["lb1", "haproxy", "systemd", "systemctl reload haproxy", HAPROXY_HEALTH, "haproxy"],
        ["lb2", "haproxy", "supervisor", "supervisorctl signal USR2 haproxy", HAPROXY_HEALTH, "haproxy"],
      ],
    );
    assert.match(HAPROXY_HEALTH, /UNIX-CONNECT:\/run\/haproxy-admin\.sock/);
    // systemd: Debian's haproxy.service stays (its ExecReload checks the config, then USR2); the
    // drop-in only raises the file limit, it never replaces ExecStart/ExecReload.
    assert.equal(
      r.files.find((f) => f.path === "/etc/systemd/system/haproxy.service"),
      undefined,
      "the packaged unit is not replaced",
    );
    const dropIn = r.files.find((f) => f.path === "/etc/systemd/system/haproxy.service.d/50-haforge.conf")!;
    assert.equal(dropIn.content, "# Managed by haforge\n[Service]\nLimitNOFILE=65536\n");
    const prog = r.files.find((f) => f.path === "/etc/supervisor/conf.d/haproxy.conf")!;
    assert.match(prog.content, /^command=\/usr\/sbin\/haproxy -W -db -f \/etc\/haproxy\/haproxy.cfg$/m);
  });

  it("is deterministic; nothing without a haproxy slice; template survives an empty model", () => {
    assert.deepEqual(render(), render());
    const { haproxy: _h, ...rest } = haproxyPlan();
    assert.deepEqual(render(rest as ClusterPlan), { files: [], services: [], actions: [] });
    const text = renderTemplate("haproxy", "haproxy.cfg.hbs", {});
    assert.ok(sections(text).has("global"));
  });

  it("example inventories: planCluster's haproxy slice renders a config per host with every frontend and backend", () => {
    const examples = examplePlans().filter((e) => e.plan.haproxy);
    assert.ok(examples.length >= 3, "lab, openstack-pacemaker and tripleo-lightweight carry haproxy");
    for (const { file, plan, secrets } of examples) {
      const hp = plan.haproxy!;
      const r = render(plan, secrets);
      const keys = r.files.map((f) => `${f.host}:${f.path}`);
      assert.equal(new Set(keys).size, keys.length, `${file}: no file rendered twice`);
      for (const host of hp.hosts) {
        const { s } = cfg(host, r);
        for (const fe of hp.frontends) assert.equal(sec(s, `frontend ${fe.name}`)[0], `bind ${fe.bind}`, `${file} ${host}`);
        for (const be of hp.backends)
          assert.equal(sec(s, `backend ${be.name}`).filter((l) => l.startsWith("server ")).length, be.servers.length);
        // Every bind on an address the host does not own comes with the sysctl and its action.
        const needs =
          nonlocalFamilies(
            hp,
            plan.hosts.find((h) => h.name === host),
          ).length > 0;
        assert.equal(
          r.files.some((f) => f.host === host && f.path === "/etc/sysctl.d/60-haforge-nonlocal-bind.conf"),
          needs,
          `${file} ${host}`,
        );
        assert.equal(
          r.actions.some((a) => a.id === `haproxy-nonlocal-bind-${host}`),
          needs,
        );
      }
      assert.ok(
        r.files.every((f) => !f.content.includes("__HAFORGE_UNRESOLVED_")),
        `${file}: every secret resolved`,
      );
    }
  });
});
