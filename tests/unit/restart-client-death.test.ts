/**
 * A restart whose SSH client dies (kill -9 of `pulumi up` in the middle of a rolling restart,
 * issue 11) runs to its end on the host and sets haforge's mark (src/render/daemon.ts
 * appliedOnce), so the next `up` skips it instead of restarting the member a second time. The
 * remote command outlives its client, but the session's pipes are gone: anything it writes there
 * ends it with SIGPIPE (a health gate's output while it waits, a manager's messages). Here the
 * command runs under sh with its stdout and stderr pipes closed at once, against stub managers
 * and a health check that print; before the change the stub's output ended the chain before the
 * mark was set, and the resumed restart restarted again.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { appliedOnce, daemon } from "../../src/render/daemon";

// Both print after doing their work, as supervisorctl/systemctl and health checks do.
const SUPERVISORCTL = `#!/bin/sh
echo "supervisorctl $*" >> "$LOG"
case "$1" in
  status) echo "$2 $(cat "$STATE")" ;;
  stop) echo STOPPED > "$STATE" ;;
  start) echo RUNNING > "$STATE" ;;
esac
i=0; while [ $i -lt 200 ]; do echo "supervisorctl $1: some output line $i"; echo "a warning $i" >&2; i=$((i+1)); done
exit 0
`;
const HEALTH = `#!/bin/sh
echo "health check" >> "$LOG"
echo "node is up and healthy"; echo "some notice" >&2
`;

function host() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-client-death-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin", "supervisorctl"), SUPERVISORCTL, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "bin", "check-health"), HEALTH, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "log"), "");
  fs.writeFileSync(path.join(dir, "state"), "RUNNING\n");
  fs.writeFileSync(path.join(dir, "app.conf"), "changed\n");
  return dir;
}

/** Runs `cmd`; with `clientDies` its stdout/stderr pipes are closed right away (the session is gone). */
function runSh(
  dir: string,
  cmd: string,
  clientDies: boolean,
): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", cmd], {
      env: { PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`, LOG: path.join(dir, "log"), STATE: path.join(dir, "state") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    if (clientDies) {
      child.stdout.destroy();
      child.stderr.destroy();
    } else {
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    }
    const t = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, out, err });
    });
  });
}

describe("a restart whose SSH client died runs to its end and sets the mark", () => {
  const s = daemon({ host: "h", init: "supervisor", name: "app", description: "d", command: "/bin/true", health: "check-health" }).service;
  const command = (dir: string) =>
    appliedOnce(
      s,
      [path.join(dir, "app.conf")],
      `${s.restart} && timeout 20 sh -c 'until ${s.health}; do sleep 1; done'`,
      path.join(dir, "applied"),
    );
  const starts = (dir: string) =>
    fs
      .readFileSync(path.join(dir, "log"), "utf8")
      .split("\n")
      .filter((l) => l === "supervisorctl start app").length;

  it("the client dies during the restart: the mark is set; the resumed restart skips (one restart in all)", async () => {
    const dir = host();
    try {
      const killed = await runSh(dir, command(dir), true);
      assert.equal(fs.existsSync(path.join(dir, "applied", "app")), true, `no mark (exit ${killed.code}, ${killed.signal})`);
      assert.equal(starts(dir), 1);
      const resumed = await runSh(dir, command(dir), false);
      assert.equal(resumed.code, 0);
      assert.match(resumed.out, /haforge: skipped: app runs/);
      assert.equal(starts(dir), 1, "the resumed restart did not restart again");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("with its client alive, the output still reaches it (stdout and stderr) and the exit status is the command's", async () => {
    const dir = host();
    try {
      const r = await runSh(dir, command(dir), false);
      assert.equal(r.code, 0);
      assert.match(r.err, /a warning 199/);
      assert.match(r.out, /node is up and healthy/);
      fs.writeFileSync(path.join(dir, "bin", "check-health"), "#!/bin/sh\necho unhealthy; exit 1\n", { mode: 0o755 });
      fs.writeFileSync(path.join(dir, "app.conf"), "changed again\n");
      const failing = appliedOnce(s, [path.join(dir, "app.conf")], `${s.restart} && check-health`, path.join(dir, "applied"));
      const before = fs.statSync(path.join(dir, "applied", "app")).mtimeMs;
      const f = await runSh(dir, failing, false);
      assert.equal(f.code, 1, "a failed gate fails the action");
      assert.match(f.out, /unhealthy/);
      assert.equal(fs.statSync(path.join(dir, "applied", "app")).mtimeMs, before, "a failed restart leaves the mark where it was");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
