/**
 * A host's deprovisioning (the `delete` of `<service>-deprovision-<host>`, run when the host leaves
 * the inventory or on destroy): its services stop for good in reverse start order, and each
 * service's `retire` runs right after its own stop succeeded — never while it still runs. etcd's
 * retire sets the member's data directory aside (issue 11): a member removed with `member remove`
 * and later added again under the same name must start empty (etcd-start.sh starts a data dir that
 * holds a member as it is, and the store refuses the removed member's id). Judged under sh against
 * a stub supervisorctl/systemctl that records what it was asked. Before: the deprovisioning only
 * stopped etcd, and the removed member's data stayed in /var/lib/etcd/haforge.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { ServiceSpec } from "../../src/core/desired-state";
import { deprovisionCommand } from "../../src/render/daemon";
import { ETCD_DATA_DIR, etcdRetire, renderPart } from "../../src/services/quorum-store/render";
import { renderTemplate } from "../../src/render/templates";
import { etcdPlan } from "../fixtures/quorum-store-plan";

/** A manager stub: `$STATE_DIR/<name>` holds RUNNING or STOPPED; a name listed in $STUCK ignores stop. */
const MANAGER = `#!/bin/sh
echo "$(basename "$0") $*" >> "$LOG"
f() { echo "$STATE_DIR/$1"; }
stuck() { case " $STUCK " in *" $1 "*) return 0 ;; esac; return 1; }
case "$(basename "$0") $1" in
  "supervisorctl stop") stuck "$2" || echo STOPPED > "$(f "$2")" ;;
  "supervisorctl status") [ -e "$(f "$2")" ] || { echo "$2: ERROR (no such process)"; exit 4; }; echo "$2 $(cat "$(f "$2")")" ;;
  "systemctl disable") stuck "$3" || echo STOPPED > "$(f "$3")" ;;
  "systemctl is-active") [ "$(cat "$(f "$3")" 2>/dev/null)" = RUNNING ]; exit $? ;;
esac
exit 0
`;

function run(services: readonly ServiceSpec[], o: { stuck?: readonly string[] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-deprovision-"));
  try {
    for (const m of ["supervisorctl", "systemctl"]) fs.writeFileSync(path.join(dir, m), MANAGER, { mode: 0o755 });
    const state = path.join(dir, "state");
    fs.mkdirSync(state);
    for (const s of services) fs.writeFileSync(path.join(state, s.name), "RUNNING\n");
    const log = path.join(dir, "log");
    fs.writeFileSync(log, "");
    const r = spawnSync("/bin/sh", ["-c", deprovisionCommand(services)], {
      env: { PATH: `${dir}:/usr/bin:/bin`, LOG: log, STATE_DIR: state, STUCK: (o.stuck ?? []).join(" "), WORK: dir },
      encoding: "utf8",
      timeout: 20_000,
    });
    const calls = fs.readFileSync(log, "utf8").split("\n").filter(Boolean);
    const states = Object.fromEntries(services.map((s) => [s.name, fs.readFileSync(path.join(state, s.name), "utf8").trim()]));
    return { code: r.status, calls, states, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const svc = (name: string, manager: ServiceSpec["manager"], retire?: string): ServiceSpec => ({
  host: "h1",
  name,
  manager,
  restart: "true",
  ...(retire ? { retire } : {}),
});

describe("deprovisioning a host's services", () => {
  it("stops every service in reverse start order; a retire runs only after its own service stopped", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/), { minLength: 1, maxLength: 5 }),
        fc.constantFrom<ServiceSpec["manager"]>("supervisor", "systemd"),
        fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        fc.option(fc.nat({ max: 4 }), { nil: undefined }),
        (names, manager, retires, stuckAt) => {
          // each retire records itself with the state its service was in when it ran
          const services = names.map((n, i) =>
            svc(n, manager, retires[i] ? `echo "retire ${n} $(cat "$STATE_DIR/${n}")" >> "$LOG"` : undefined),
          );
          const stuck = stuckAt !== undefined && stuckAt < names.length ? names[stuckAt]! : undefined;
          const r = run(services, { stuck: stuck ? [stuck] : [] });
          const order = [...names].reverse();
          const stopOf = (n: string) =>
            r.calls.findIndex((c) => (manager === "supervisor" ? c === `supervisorctl stop ${n}` : c === `systemctl disable --now ${n}`));
          // up to the first service that does not stop, every service is stopped in reverse order
          const reached = stuck ? order.slice(0, order.indexOf(stuck) + 1) : order;
          for (let i = 1; i < reached.length; i++)
            assert.ok(stopOf(reached[i - 1]!) < stopOf(reached[i]!), `${reached[i - 1]} stops before ${reached[i]}`);
          for (const n of order.slice(reached.length)) assert.equal(stopOf(n), -1, `${n} is not touched after ${stuck} failed to stop`);
          for (const [i, n] of names.entries()) {
            const retired = r.calls.filter((c) => c.startsWith(`retire ${n} `));
            if (retires[i] && reached.includes(n) && n !== stuck) {
              assert.deepEqual(retired, [`retire ${n} STOPPED`], `${n}: retired once, after its stop`);
              assert.ok(r.calls.indexOf(retired[0]!) > stopOf(n));
            } else assert.deepEqual(retired, [], `${n}: no retire (${stuck === n ? "still running" : "not reached or none"})`);
          }
          assert.equal(r.code === 0, stuck === undefined, `exit ${r.code}: ${r.stderr}`);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("etcd: the rendered member's retire sets its data directory aside once etcd stopped", () => {
    const r = renderPart.render!({ plan: etcdPlan(), secrets: {}, materials: {}, template: renderTemplate });
    const etcd = r.services.filter((s) => s.name === "etcd");
    assert.equal(etcd.length, 3);
    for (const s of etcd) assert.equal(s.retire, etcdRetire(), `${s.host}: etcd's retire`);
    assert.match(etcdRetire(), new RegExp(ETCD_DATA_DIR.replace(/\//g, "\\/")));

    for (const stuck of [false, true]) {
      const work = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-etcd-data-"));
      try {
        const data = path.join(work, "haforge");
        fs.mkdirSync(path.join(data, "member", "wal"), { recursive: true });
        fs.writeFileSync(path.join(data, "member", "wal", "0.wal"), "x");
        const out = run([{ ...etcd[0]!, retire: etcdRetire(data) }], { stuck: stuck ? ["etcd"] : [] });
        const left = fs.readdirSync(work);
        if (stuck) {
          assert.notEqual(out.code, 0);
          assert.deepEqual(left, ["haforge"], "a member that still runs keeps its data dir");
        } else {
          assert.equal(out.code, 0, out.stderr);
          assert.equal(left.length, 1);
          assert.match(left[0]!, /^haforge\.removed-\d{8}T\d{6}Z$/, "the data dir is set aside, its name free for a new member");
          assert.ok(fs.existsSync(path.join(work, left[0]!, "member", "wal", "0.wal")), "the old member's data is kept aside");
          // a member already retired (a retried removal) converges
          assert.equal(run([{ ...etcd[0]!, retire: etcdRetire(data) }]).code, 0);
        }
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    }
  });
});
