/**
 * A daemon that can reload (HAProxy, keepalived, Patroni, consul) applies a changed config by its
 * reload when it runs and its service definition is unchanged, and restarts otherwise (issue 11:
 * a membership change must not restart the members that stay). The service's apply command runs
 * under sh against stub supervisorctl/systemctl that record what they were asked to do.
 * Before this change every file change restarted them (the reload was never used).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { daemon, packagedDaemon } from "../../src/render/daemon";
import { renderDesiredState } from "../../src/pipeline/render";
import { examplePlans } from "../fixtures/keepalived-plan";

const SUPERVISORCTL = `#!/bin/sh
echo "supervisorctl $*" >> "$LOG"
case "$1" in
  status) s=$(cat "$STATE"); [ "$s" = none ] && { echo "$2: ERROR (no such process)"; exit 4; }; echo "$2 $s"; [ "$s" = RUNNING ] || exit 3 ;;
  reread) if [ -n "$REREAD" ]; then echo "$REREAD"; else echo "No config updates to processes"; fi ;;
  stop) echo STOPPED > "$STATE" ;;
  start) echo RUNNING > "$STATE" ;;
  update) [ "$(cat "$STATE")" = none ] && echo STOPPED > "$STATE"; : ;;
esac
exit 0
`;
const SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >> "$LOG"
case "$1" in
  is-active) [ "$(cat "$STATE")" = RUNNING ] ;;
  show) echo "$NDR" ;;
  restart) echo RUNNING > "$STATE" ;;
esac
`;

function stubs(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-reload-"));
  fs.writeFileSync(path.join(dir, "supervisorctl"), SUPERVISORCTL, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "systemctl"), SYSTEMCTL, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "sysctl"), '#!/bin/sh\necho "sysctl $*" >> "$LOG"\n', { mode: 0o755 });
  return dir;
}

/** Runs `cmd` with the stubs; returns the recorded calls and the daemon's state after. */
function runApply(cmd: string, o: { state: "RUNNING" | "STOPPED" | "none"; changed: boolean; name: string }) {
  const dir = stubs();
  try {
    const log = path.join(dir, "log");
    const state = path.join(dir, "state");
    fs.writeFileSync(log, "");
    fs.writeFileSync(state, `${o.state}\n`);
    const out = execFileSync("sh", ["-c", cmd], {
      env: {
        PATH: `${dir}:/usr/bin:/bin`,
        LOG: log,
        STATE: state,
        REREAD: o.changed ? `${o.name}: changed` : "",
        NDR: o.changed ? "yes" : "no",
      },
      encoding: "utf8",
      timeout: 20_000,
    });
    return { calls: fs.readFileSync(log, "utf8").trim().split("\n"), out, state: fs.readFileSync(state, "utf8").trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const reloadable = (init: "systemd" | "supervisor", name: string) =>
  init === "systemd"
    ? packagedDaemon({ host: "h", init, name, description: "d", command: "/bin/true", reloadSignal: "HUP" }, { reloadable: true }).service
    : daemon({ host: "h", init, name, description: "d", command: "/bin/true", reloadSignal: "USR2" }).service;

describe("reloadable daemons: reload when running with an unchanged definition, restart otherwise", () => {
  it("property: reload exactly when running and unchanged; the daemon runs afterwards either way", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("systemd" as const, "supervisor" as const),
        fc.constantFrom("RUNNING" as const, "STOPPED" as const, "none" as const),
        fc.boolean(),
        fc.constantFrom("haproxy", "keepalived", "patroni", "consul"),
        (init, state, changed, name) => {
          if (init === "systemd" && state === "none") return; // systemd has no "unknown unit" state here
          const s = reloadable(init, name);
          const r = runApply(s.restart, { state, changed, name });
          const reloaded = r.calls.some((c) =>
            init === "systemd" ? c === `systemctl reload ${name}` : c === `supervisorctl signal USR2 ${name}`,
          );
          const restarted = r.calls.some((c) =>
            init === "systemd" ? c === `systemctl restart ${name}` : c === `supervisorctl start ${name}`,
          );
          const expectReload = state === "RUNNING" && !changed;
          assert.equal(reloaded, expectReload, `${init} ${state} changed=${changed}: ${r.calls.join(" | ")}`);
          assert.equal(restarted, !expectReload, `${init} ${state} changed=${changed}: ${r.calls.join(" | ")}`);
          assert.equal(r.state, "RUNNING");
          if (expectReload) assert.match(r.out, new RegExp(`reloaded ${name} \\(running, definition unchanged\\)`));
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  });

  it("a start-only settings file (restartOn) newer than the applied mark restarts a running daemon; older, or no mark, reloads", () => {
    // Before restartOn, keepalived's vrrp_startup_delay change was reloaded, which keeps the running value.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-restart-on-"));
    try {
      const settings = path.join(dir, "start-settings");
      const mark = path.join(dir, "applied", "keepalived");
      fs.mkdirSync(path.dirname(mark));
      const touch = (f: string) => {
        fs.writeFileSync(f, String(Date.now()));
        execFileSync("sleep", ["0.02"]);
      };
      for (const init of ["systemd", "supervisor"] as const) {
        const opts = {
          host: "h",
          init,
          name: "keepalived",
          description: "d",
          command: "/bin/true",
          reloadSignal: "HUP",
          restartOn: [settings],
        };
        const s = init === "systemd" ? packagedDaemon(opts, { reloadable: true }).service : daemon(opts).service;
        const cmd = s.restart.replaceAll("/var/lib/haforge/applied", path.dirname(mark));
        assert.notEqual(cmd, s.restart);
        const restarted = (r: { calls: string[] }) =>
          r.calls.some((c) => c === "systemctl restart keepalived" || c === "supervisorctl start keepalived");
        fs.rmSync(mark, { force: true });
        touch(settings);
        assert.ok(!restarted(runApply(cmd, { state: "RUNNING", changed: false, name: "keepalived" })), `${init}: no mark -> reload`);
        touch(mark);
        touch(settings);
        assert.ok(restarted(runApply(cmd, { state: "RUNNING", changed: false, name: "keepalived" })), `${init}: newer settings -> restart`);
        touch(mark);
        assert.ok(!restarted(runApply(cmd, { state: "RUNNING", changed: false, name: "keepalived" })), `${init}: older settings -> reload`);
        fs.rmSync(settings);
        assert.ok(
          !restarted(runApply(cmd, { state: "RUNNING", changed: false, name: "keepalived" })),
          `${init}: no settings file -> reload`,
        );
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a daemon without a reload still restarts", () => {
    const s = daemon({ host: "h", init: "supervisor", name: "rabbitmq-server", description: "d", command: "/bin/true" }).service;
    const r = runApply(s.restart, { state: "RUNNING", changed: false, name: "rabbitmq-server" });
    assert.ok(r.calls.includes("supervisorctl start rabbitmq-server"), r.calls.join(" | "));
  });

  it("the lab inventory: HAProxy and keepalived changes reload on a running member (supervisor hosts)", () => {
    const lab = examplePlans().find((e) => e.file === "lab.yaml")!;
    const state = renderDesiredState(lab.plan, lab.secrets, {});
    for (const name of ["haproxy", "keepalived"]) {
      const s = state.hosts.find((h) => h.host === "lab1")!.services.find((x) => x.name === name)!;
      const r = runApply(s.restart, { state: "RUNNING", changed: false, name });
      assert.ok(
        r.calls.some((c) => c.startsWith(`supervisorctl signal`)),
        `${name}: ${r.calls.join(" | ")}`,
      );
      assert.ok(!r.calls.includes(`supervisorctl stop ${name}`), `${name} was stopped: ${r.calls.join(" | ")}`);
    }
  });
});
