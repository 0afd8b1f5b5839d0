/**
 * A restart action's create skips the restart when the service already runs its files (issue 9:
 * a second operator's `up` on an empty state restarted every daemon once, because every restart
 * action is a new resource there). The command (src/render/daemon.ts appliedOnce) runs under sh
 * against stub systemctl/supervisorctl, with real files and a real mark: it skips exactly when
 * the service runs, haforge's mark exists and no file it follows was written, chmod-ed or
 * removed after the mark; otherwise it restarts and moves the mark, and a failed restart leaves
 * the mark where it was.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { APPLIED_DIR, appliedOnce, daemon } from "../../src/render/daemon";
import { restartWithGate } from "../../components/service-resources";

const SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >> "$LOG"
case "$1" in
  is-active) [ "$(cat "$STATE")" = RUNNING ] ;;
  restart) echo RUNNING > "$STATE" ;;
esac
`;
const SUPERVISORCTL = `#!/bin/sh
echo "supervisorctl $*" >> "$LOG"
case "$1" in
  status) echo "$2 $(cat "$STATE")" ;;
  start) echo RUNNING > "$STATE" ;;
esac
`;

type Touch = "none" | "write" | "chmod" | "remove";

interface Case {
  readonly manager: "systemd" | "supervisor";
  readonly running: boolean;
  readonly marked: boolean;
  readonly touches: readonly Touch[];
  readonly fails: boolean;
}

function run(c: Case) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-applied-"));
  try {
    for (const [n, text] of [
      ["systemctl", SYSTEMCTL],
      ["supervisorctl", SUPERVISORCTL],
    ] as const)
      fs.writeFileSync(path.join(dir, n), text, { mode: 0o755 });
    const log = path.join(dir, "log");
    const state = path.join(dir, "state");
    const marks = path.join(dir, "applied");
    fs.writeFileSync(log, "");
    fs.writeFileSync(state, c.running ? "RUNNING\n" : "STOPPED\n");
    const files = c.touches.map((_, i) => path.join(dir, `etc file ${i}.conf`));
    for (const f of files) fs.writeFileSync(f, "a\n");
    const mark = path.join(marks, "svc");
    if (c.marked) {
      fs.mkdirSync(marks);
      fs.writeFileSync(mark, "");
    }
    // the kernel stamps inodes with a coarse clock: let it move on before the files change
    execFileSync("sleep", ["0.02"]);
    c.touches.forEach((t, i) => {
      if (t === "write") fs.writeFileSync(files[i]!, "b\n");
      if (t === "chmod") fs.chmodSync(files[i]!, 0o600);
      if (t === "remove") fs.rmSync(files[i]!);
    });
    const markBefore = c.marked ? fs.statSync(mark).mtimeMs : undefined;
    const restart = c.manager === "systemd" ? "systemctl restart svc" : "supervisorctl start svc";
    const cmd = appliedOnce({ manager: c.manager, name: "svc" }, files, c.fails ? `${restart} && false` : restart, marks);
    let out = "";
    let ok = true;
    try {
      out = execFileSync("sh", ["-c", cmd], { env: { PATH: `${dir}:/usr/bin:/bin`, LOG: log, STATE: state }, encoding: "utf8" });
    } catch {
      ok = false;
    }
    const calls = fs.readFileSync(log, "utf8").trim().split("\n");
    return {
      out,
      ok,
      restarted: calls.includes(restart),
      markBefore,
      markAfter: fs.existsSync(mark) ? fs.statSync(mark).mtimeMs : undefined,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const cases = fc.record({
  manager: fc.constantFrom("systemd" as const, "supervisor" as const),
  running: fc.boolean(),
  marked: fc.boolean(),
  touches: fc.array(fc.constantFrom<Touch>("none", "none", "write", "chmod", "remove"), { maxLength: 3 }),
  fails: fc.boolean(),
});

describe("a restart action's create restarts only a service that does not already run its files", () => {
  it("property: skipped iff running, marked and no followed file changed since the mark; else restarted, the mark moved on success only", () => {
    fc.assert(
      fc.property(cases, (c) => {
        const r = run(c);
        const settled = c.running && c.marked && c.touches.every((t) => t === "none");
        const what = JSON.stringify(c);
        assert.equal(r.restarted, !settled, `${what}: restarted`);
        if (settled) {
          assert.ok(r.ok, what);
          assert.match(r.out, /^haforge: skipped: svc runs and none of its files changed/m, what);
          assert.equal(r.markAfter, r.markBefore, `${what}: the mark stays`);
        } else if (c.fails) {
          assert.equal(r.ok, false, what);
          assert.equal(r.markAfter, r.markBefore, `${what}: a failed restart leaves the mark`);
        } else {
          assert.ok(r.ok, what);
          assert.doesNotMatch(r.out, /skipped/, what);
          assert.ok(r.markAfter !== undefined && (r.markBefore === undefined || r.markAfter > r.markBefore), `${what}: the mark moved`);
        }
      }),
      { numRuns: 40, seed: 9 },
    );
  });

  it("the components' restart action uses it with the files that notify the service; plain restartWithGate does not", () => {
    const s = daemon({ host: "h", init: "supervisor", name: "haproxy", description: "d", command: "/bin/true", health: "true" }).service;
    const guarded = restartWithGate(s, 180, ["/etc/haproxy/haproxy.cfg"]);
    assert.ok(guarded.startsWith("if supervisorctl status haproxy | grep -q RUNNING"), guarded);
    assert.ok(guarded.includes(`-cnewer '${APPLIED_DIR}/haproxy'`), guarded);
    assert.ok(guarded.includes(restartWithGate(s)), guarded);
    assert.ok(!restartWithGate(s).includes(APPLIED_DIR));
  });
});
