import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as parseIni } from "ini";
import type { ClusterPlan } from "../../src/plan/types";
import type { SecretValues } from "../../src/core/secrets";
import { renderTemplate } from "../../src/render/templates";
import { renderPart } from "../../src/services/active-passive/render";
import { shellAssignment, systemdAssignment } from "../../src/services/active-passive/env";
import { DRP_TOKEN, activePassiveMaterials, activePassivePlan, activePassiveSecrets } from "../fixtures/active-passive-plan";
import { examplePlans } from "../fixtures/keepalived-plan";

const render = (plan: ClusterPlan = activePassivePlan(), secrets: SecretValues = activePassiveSecrets) =>
  renderPart.render!({ plan, secrets, materials: activePassiveMaterials, template: renderTemplate });

const DROPIN = "/etc/systemd/system/dr-provision.service.d/20-ha.conf";

/** systemd's unquoting of one double-quoted Environment= assignment (C escapes, %% → %). */
function systemdUnquote(v: string): string {
  assert.match(v, /^".*"$/);
  return v
    .slice(1, -1)
    .replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c))
    .replace(/%%/g, "%");
}

function dropInEnv(content: string): Map<string, string> {
  const lines = content.split("\n").filter((l) => l.startsWith("Environment="));
  return new Map(
    lines.map((l) => {
      const assignment = systemdUnquote(l.slice("Environment=".length));
      const eq = assignment.indexOf("=");
      return [assignment.slice(0, eq), assignment.slice(eq + 1)];
    }),
  );
}

describe("active/passive render", () => {
  it("systemd hosts get a drop-in, supervisor hosts an env file + program", () => {
    const r = render();
    assert.deepEqual(
      r.files.map((f) => `${f.host} ${f.path}`),
      [
        `drp1 ${DROPIN}`,
        `drp2 ${DROPIN}`,
        "drp3 /etc/haforge/dr-provision-ha.env",
        "drp3 /etc/supervisor/conf.d/dr-provision.conf",
        "drp3 /etc/haforge/edge-agent-ha.env",
        "drp3 /etc/supervisor/conf.d/edge-agent.conf",
        "drp2 /etc/systemd/system/edge-agent.service.d/20-ha.conf",
      ],
    );
  });

  it("drop-in: an INI [Service] section with the RS_HA_* environment; first node active, others passive", () => {
    const r = render();
    for (const [host, passive, ip] of [
      ["drp1", "false", "10.77.0.51"],
      ["drp2", "true", "10.77.0.52"],
    ] as const) {
      const f = r.files.find((x) => x.host === host && x.path === DROPIN)!;
      const ini = parseIni(f.content);
      assert.deepEqual(Object.keys(ini), ["Service"]);
      assert.deepEqual(
        [...dropInEnv(f.content)],
        [
          ["RS_DRP_ID", host],
          ["RS_STATIC_IP", ip],
          ["RS_HA_ENABLED", "true"],
          ["RS_HA_INTERFACE", "eth0"],
          ["RS_HA_ADDRESS", "10.77.0.50/24"],
          ["RS_HA_ID", "8c:ec:4b:ea:d9:fe"],
          ["RS_HA_TOKEN", DRP_TOKEN],
          ["RS_HA_PASSIVE", passive],
        ],
      );
      assert.equal(f.secret, true);
      assert.equal(f.mode, "0600");
      assert.deepEqual(f.notify, ["dr-provision"]);
    }
  });

  it("the token is escaped for systemd (%%, \\\", \\\\) and for sh ('\\'')", () => {
    assert.equal(systemdAssignment("K", `a%b"c\\d$e`), `"K=a%%b\\"c\\\\d$e"`);
    assert.equal(shellAssignment("K", `it's`), `K='it'\\''s'`);
    const env = render().files.find((f) => f.path === "/etc/haforge/dr-provision-ha.env")!;
    assert.ok(env.content.includes(shellAssignment("RS_HA_TOKEN", DRP_TOKEN)));
    assert.match(env.content, /^RS_HA_PASSIVE='true'$/m);
    assert.equal(env.secret, true);
    assert.equal(env.mode, "0600");
    assert.equal(env.validate, "sh -n {file}");
  });

  it("supervisor program sources the env file and execs the app (signals reach it)", () => {
    const prog = render().files.find((f) => f.path === "/etc/supervisor/conf.d/dr-provision.conf")!;
    const ini = parseIni(prog.content);
    assert.equal(
      ini["program:dr-provision"].command,
      "/bin/sh -c 'echo haforge-start && set -a && . /etc/haforge/dr-provision-ha.env && exec /usr/local/bin/dr-provision'",
    );
    assert.equal(prog.secret, false, "the token lives in the env file only");
    assert.ok(!prog.content.includes(DRP_TOKEN));
  });

  it("RS_HA_ID is identical on every node of an app; the second app is independent", () => {
    const r = render();
    const ids = r.files
      .filter((f) => f.content.includes("RS_HA_ID"))
      .map((f) => [f.host, /RS_HA_ID='?([^'"\n]*)/.exec(f.content)![1], f.path.includes("edge") ? "edge" : "drp"]);
    for (const [, id, app] of ids) assert.equal(id, app === "edge" ? "edge-1" : "8c:ec:4b:ea:d9:fe");
    const edgeFirst = r.files.find((f) => f.path === "/etc/haforge/edge-agent-ha.env")!;
    assert.match(edgeFirst.content, /^RS_HA_PASSIVE='false'$/m, "drp3 is edge's first (active) node");
  });

  it("services: one per app and host, by init system, rolling group where the plan has one; the gate waits for the VIP or the catch-up", () => {
    const sv = render().services;
    assert.deepEqual(
      sv.map((s) => [s.host, s.name, s.manager, s.rollGroup ?? null]),
      [
        ["drp1", "dr-provision", "systemd", "active-passive:drp"],
        ["drp2", "dr-provision", "systemd", "active-passive:drp"],
        ["drp3", "dr-provision", "supervisor", "active-passive:drp"],
        ["drp3", "edge-agent", "supervisor", null],
        ["drp2", "edge-agent", "systemd", null],
      ],
    );
    assert.equal(
      sv[0]!.health,
      `systemctl is-active --quiet dr-provision && { [ -n "$(ip -o addr show dev eth0 to 10.77.0.50)" ] || journalctl -q -o cat _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value dr-provision)" | grep -qF 'Stream switch to realtime streaming'; }`,
    );
    assert.match(
      sv[2]!.health!,
      /^supervisorctl status dr-provision \| grep -q RUNNING && \{ .* \|\| cat \/var\/log\/supervisor\/dr-provision\.log\.2 .*awk '\$0 == "haforge-start"/,
    );
    assert.match(sv[0]!.restart, /systemctl daemon-reload/);
  });

  it("a plain deploy (no `active`) has no switchover action: the VIP is never moved", () => {
    assert.deepEqual(render().actions, []);
    const ex = examplePlans().find((e) => e.file === "dr-provision.yaml")!;
    assert.deepEqual(render(ex.plan, ex.secrets).actions, []);
  });

  it("`active` set: check the target (caught up) first, release the VIP elsewhere, then promote; every step guarded", () => {
    const p = activePassivePlan();
    const plan = { ...p, activePassive: p.activePassive.map((a) => (a.name === "drp" ? { ...a, active: "drp2" } : a)) };
    const a = render(plan).actions;
    assert.deepEqual(
      a.map((x) => [x.id, x.host, x.phase, x.dependsOn]),
      [
        ["active-passive-drp-active-drp2-check", "drp2", "switchover", []],
        ["active-passive-drp-active-drp2-release-drp1", "drp1", "switchover", ["active-passive-drp-active-drp2-check"]],
        ["active-passive-drp-active-drp2-release-drp3", "drp3", "switchover", ["active-passive-drp-active-drp2-check"]],
        [
          "active-passive-drp-active-drp2-promote",
          "drp2",
          "switchover",
          [
            "active-passive-drp-active-drp2-check",
            "active-passive-drp-active-drp2-release-drp1",
            "active-passive-drp-active-drp2-release-drp3",
          ],
        ],
      ],
    );
    const vip = '[ -n "$(ip -o addr show dev eth0 to 10.77.0.50)" ]';
    assert.ok(a[0]!.create.startsWith(`if ${vip}; then echo "drp2 already holds 10.77.0.50: no switchover"; exit 0; fi`));
    assert.match(a[0]!.create, /until journalctl .*Stream switch to realtime streaming.*-ge 600 \]/);
    assert.equal(a[1]!.create.split("; then ")[1]!.split(" || ")[0], "systemctl kill --kill-who=main --signal=USR2 dr-provision");
    assert.ok(a[1]!.create.startsWith(`if ${vip}; then `), "only the holder is demoted");
    assert.ok(a[2]!.create.includes("supervisorctl signal USR2 dr-provision"));
    assert.ok(a[3]!.create.startsWith(`if ${vip}; then exit 0; fi; systemctl kill --kill-who=main --signal=USR1 dr-provision || exit 1; `));
    for (const x of a) {
      assert.equal(x.secret, false);
      assert.ok(!x.create.includes(DRP_TOKEN));
    }
  });

  it("is deterministic; nothing without apps; templates survive empty data", () => {
    assert.deepEqual(render(), render());
    assert.deepEqual(render({ ...activePassivePlan(), activePassive: [] }), { files: [], services: [], actions: [] });
    assert.match(renderTemplate("active-passive", "ha-dropin.conf.hbs", {}), /\[Service\]/);
    renderTemplate("active-passive", "ha.env.hbs", {});
  });

  it("an unresolved token renders the marker, not an empty value", () => {
    const f = render(activePassivePlan(), {}).files.find((x) => x.host === "drp1")!;
    assert.equal(dropInEnv(f.content).get("RS_HA_TOKEN"), "__HAFORGE_UNRESOLVED_secret_drpHaToken__");
  });

  it("example inventory dr-provision.yaml: 20-ha.conf drop-ins on both nodes, passive on the second, distinct RS_DRP_ID/RS_STATIC_IP, active first in the roll", () => {
    const ex = examplePlans().find((e) => e.file === "dr-provision.yaml");
    assert.ok(ex, "inventories/dr-provision.yaml plans");
    const r = render(ex.plan, ex.secrets);
    assert.deepEqual(
      r.files.map((f) => `${f.host} ${f.path}`),
      [`drp1 ${DROPIN}`, `drp2 ${DROPIN}`],
    );
    assert.equal(dropInEnv(r.files[0]!.content).get("RS_HA_PASSIVE"), "false");
    assert.equal(dropInEnv(r.files[1]!.content).get("RS_HA_PASSIVE"), "true");
    assert.equal(dropInEnv(r.files[1]!.content).get("RS_HA_ADDRESS"), "10.40.0.10/24");
    assert.deepEqual(
      r.files.map((f) => [dropInEnv(f.content).get("RS_DRP_ID"), dropInEnv(f.content).get("RS_STATIC_IP")]),
      [
        ["drp1", "10.40.0.11"],
        ["drp2", "10.40.0.12"],
      ],
    );
    assert.deepEqual(
      r.services.map((s) => s.rollGroup),
      ["active-passive:drp", "active-passive:drp"],
    );
    assert.deepEqual(ex.plan.rollingGroups.find((g) => g.id === "active-passive:drp")!.hosts, ["drp1", "drp2"]);
  });
});
