/**
 * Two operators, one stack, against a real sshd (issue "a team can run it"): the Pulumi program
 * (index.ts) of two clones of this repository at different paths, run by two operators with
 * different HOMEs (their own SSH key, their own known_hosts) through the engine stand-in — the
 * SDK's dynamic-provider process over gRPC with the engine's semantics (engine.ts) — against one
 * isolated sshd host (tests/providers/sshd-fixture.ts, `isolated`: its own overlay of /etc,
 * /var, /usr/local..., so the program's system paths never reach this machine).
 *
 * Operator A creates the stack; A's clone is then deleted. Operator B previews, refreshes,
 * changes one file, removes a service (its files), renames the stack and destroys. Checked after
 * every step: nothing fails, nothing is regenerated (Materials identical), no live file the
 * program declares is lost or rewritten unless it changed, and restart actions run only when
 * their files changed — counted on the host: the service manager there is a stub that records
 * every call (systemd is not PID 1 here; the daemons' own behaviour is the lab e2e's subject).
 * Refresh and destroy run with what A's `up` stored in state (`__provider`, connections): with
 * A's clone gone they can only pass if that holds nothing of A's machine. Before destroying, B
 * switches to the compiled program (program.js after `npm run build`), as users run it: no
 * resource changes, and destroy runs the compiled providers.
 *
 * Needs root (unshare, mounts, sshd). Run under the machine's lab lock on a shared machine.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  destroy,
  preview,
  readCheckpoint,
  refresh,
  renameStack,
  unwrap,
  up,
  urnName,
  changedSteps,
  type ProgramResult,
  type RunResult,
} from ".";
import { startSshd, type Sshd } from "../providers/sshd-fixture";
import { cloneTo, keygen, makeHome } from "./operator";
import { remoteFileOutputsOf } from "../../src/providers/remote-file";

const ROOT = join(__dirname, "..", "..");
const ACTIONS_LOG = "/var/log/haforge-stub-actions.log";
/** A command the host's actions call, recorded (one line per call) and answered as a healthy host would. */
const stub = (name: string, answer = "") => `#!/bin/sh\necho "${name} $*" >> ${ACTIONS_LOG}\n${answer}exit 0\n`;
/**
 * systemctl as a host without systemd running would answer it: a unit is active once it was
 * started or restarted (so a first apply restarts, a later config change of a running daemon
 * reloads, src/render/daemon.ts reloadOrRestartCommand) until it is stopped (`disable --now`: a
 * removed host's deprovisioning), and no unit needs a daemon-reload.
 */
const SYSTEMCTL = [
  "#!/bin/sh",
  `echo "systemctl $*" >> ${ACTIONS_LOG}`,
  'eval "unit=\\${$#}"',
  'case "$1" in',
  '  is-active) [ -e "/var/log/haforge-stub-active-$unit" ]; exit $? ;;',
  '  start|restart) : > "/var/log/haforge-stub-active-$unit" ;;',
  '  stop) rm -f "/var/log/haforge-stub-active-$unit" ;;',
  '  disable) case " $* " in *" --now "*) rm -f "/var/log/haforge-stub-active-$unit" ;; esac ;;',
  "  show) echo no ;;",
  "esac",
  "exit 0",
  "",
].join("\n");
const STUBS = {
  systemctl: SYSTEMCTL,
  pidof: stub("pidof", "echo 1\n"),
  // haproxy's health gate asks its admin socket for `show info`.
  socat: stub("socat", "echo 'Pid: 1'\n"),
  // HAProxy binding a VIP sets net.ipv4.ip_nonlocal_bind: never on this machine's kernel.
  sysctl: stub("sysctl"),
  // keepalived's roll gate pings the host's VIPs (src/services/keepalived/render.ts
  // keepalivedHealth); keepalived never runs here, so nobody holds the TEST-NET-1 VIP.
  ping: stub("ping"),
};

const tmp = fs.mkdtempSync(join(tmpdir(), "haforge-two-ops-"));
const checkpointFile = join(tmp, "state", "ops.json");
const clone = { a: join(tmp, "alice", "src", "haforge"), b: join(tmp, "ci", "work", "checkout") };
const home = { a: join(tmp, "home-alice"), b: join(tmp, "home-bob") };
let sshd: Sshd;

/**
 * keepalived's own check (the file's validator) wants an interface that exists and is not
 * loopback; keepalived never runs here, so the VIP (TEST-NET-1) is only validated.
 */
const NIC = fs
  .readdirSync("/sys/class/net")
  .filter((n) => n !== "lo" && !n.startsWith("hfbr"))
  .sort()[0];

interface Shape {
  routerId: number;
  haproxy: boolean;
}
/** The inventory both clones hold (written at test time: the sshd's port and host key are new each run). */
function inventory(s: Sshd, shape: Shape): string {
  return [
    "version: 1",
    "name: ops",
    "hosts:",
    "  - name: ops1",
    "    address: 127.0.0.1",
    `    interfaces: [{ name: ${NIC}, address: 192.0.2.10/24 }]`,
    // `~` as written: each operator's own key, expanded on their machine at connect time.
    `    ssh: { user: root, port: ${s.port}, hostKey: "${s.hostKeyLine}", privateKeyPath: "~/.ssh/id_ed25519" }`,
    "keepalived:",
    "  instances:",
    `    - { name: lb, vip: 192.0.2.100/24, interface: ${NIC}, routerId: ${shape.routerId}, unicast: false, hosts: [ops1], authPass: { secret: kaPass } }`,
    ...(shape.haproxy
      ? [
          "haproxy:",
          "  frontends: [{ name: web, bind: ':8080', backend: app }]",
          "  backends: [{ name: app, servers: [{ host: ops1, port: 9000 }] }]",
          "  stats: { bind: '127.0.0.1:8404', password: { secret: statsPass } }",
        ]
      : []),
    "",
  ].join("\n");
}

const config = {
  "haforge:inventory": "ops.yaml",
  "haforge:kaPass": "kapass01",
  "haforge:statsPass": "stats-pass-1",
};
const secretKeys = ["haforge:kaPass", "haforge:statsPass"];
const log = process.env["HAFORGE_ENGINE_VERBOSE"] ? (l: string) => process.stderr.write(`${l}\n`) : () => {};
const operator = (who: "a" | "b", stack = "ops") => ({
  cwd: clone[who],
  // The operator's own environment: their HOME, no agent of the test runner's.
  env: { ...process.env, HOME: home[who], SSH_AUTH_SOCK: "" },
  stack,
  checkpointFile,
  config,
  secretKeys,
  log,
  timeoutMs: 240_000,
});

const ok = (r: RunResult) => assert.ok(r.ok, `the run failed:\n${r.errors.join("\n")}`);
const short = urnName;
const changes = changedSteps;

/** What the host's stub service manager was asked, line by line. */
const actionsLog = (): string[] => {
  const p = sshd.hostPath(ACTIONS_LOG);
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8").split("\n").filter(Boolean) : [];
};
const restarts = (lines: string[], unit: string) => lines.filter((l) => l === `systemctl restart ${unit}`).length;
const reloads = (lines: string[], unit: string) => lines.filter((l) => l === `systemctl reload ${unit}`).length;

type Obj = Record<string, unknown>;
const state = () => readCheckpoint(checkpointFile, "");
/**
 * A file's outputs as the provider returned them (packed: connection, spec, facts; the checkpoint
 * marks secret ones: the facts of a secret file), read flat.
 */
const outs = (r: { outputs: Obj }) => remoteFileOutputsOf(unwrap(r.outputs) as never) as unknown as Obj;
const files = () =>
  state().resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource" && "spec" in r.outputs && "facts" in r.outputs);
const materials = () => (unwrap(state().resources.find((r) => r.urn.endsWith("::haforge-materials"))?.outputs) as Obj)["values"];
/** Every declared file as it is on the host: sha256 and mode. */
function onHost(paths: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of paths) {
    const f = sshd.hostPath(p);
    out[p] = fs.existsSync(f)
      ? `${createHash("sha256").update(fs.readFileSync(f)).digest("hex")} ${(fs.statSync(f).mode & 0o7777).toString(8)} ${fs.statSync(f).mtimeMs}`
      : "absent";
  }
  return out;
}
const statePaths = () => files().map((r) => String(outs(r)["path"]));

before(async () => {
  assert.ok(NIC, "a network interface other than lo (keepalived's check needs one)");
  const keyA = makeHome(home.a, "");
  const keyB = makeHome(home.b, "");
  sshd = await startSshd({ name: "ops1", isolated: true, authorizedKeys: [keyA, keyB], stubs: STUBS });
  // A's known_hosts pins the right key; B's has another key for the same address: neither may matter.
  fs.writeFileSync(join(home.a, ".ssh", "known_hosts"), `[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}\n`);
  keygen(join(tmp, "other_host_key"));
  fs.writeFileSync(
    join(home.b, ".ssh", "known_hosts"),
    `[127.0.0.1]:${sshd.port} ${fs.readFileSync(join(tmp, "other_host_key.pub"), "utf8")}`,
  );
  fs.mkdirSync(dirname(checkpointFile), { recursive: true });
  cloneTo(clone.a);
  cloneTo(clone.b);
  for (const c of [clone.a, clone.b]) fs.writeFileSync(join(c, "ops.yaml"), inventory(sshd, { routerId: 51, haproxy: true }));
});

after(async () => {
  await sshd?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("two operators, two clones, one stack, one sshd host", { concurrency: false }, () => {
  let created: ProgramResult;
  let materials0: unknown;
  let host0: Record<string, string>;

  it("operator A creates the stack: every file written, each daemon restarted once", async () => {
    created = await up(operator("a"));
    ok(created);
    assert.ok(!created.steps.some((s) => s.op !== "create"), `only creates: ${changes(created).join(", ")}`);
    const paths = statePaths().sort();
    assert.deepEqual(paths, [
      "/etc/haproxy/haproxy.cfg",
      "/etc/keepalived/keepalived.conf",
      "/etc/sysctl.d/60-haforge-nonlocal-bind.conf",
      "/etc/systemd/system/haproxy.service.d/50-haforge.conf",
    ]);
    for (const r of files()) {
      const { path, sha256 } = outs(r);
      const live = fs.readFileSync(sshd.hostPath(String(path)));
      assert.equal(createHash("sha256").update(live).digest("hex"), sha256, `${String(path)} as in state`);
    }
    assert.match(fs.readFileSync(sshd.hostPath("/etc/keepalived/keepalived.conf"), "utf8"), /virtual_router_id 51\b/);
    const acts = actionsLog();
    assert.equal(restarts(acts, "keepalived"), 1, acts.join("\n"));
    assert.equal(restarts(acts, "haproxy"), 1, acts.join("\n"));
    materials0 = materials();
    assert.ok(materials0 && Object.keys(materials0).length > 0, "Materials holds the generated values");
    host0 = onHost(paths);
  });

  it("the state names nothing of A's machine: no clone path, no HOME, no key text", () => {
    const text = fs.readFileSync(checkpointFile, "utf8");
    for (const p of [clone.a, home.a, tmp, ROOT]) assert.ok(!text.includes(p), `state mentions ${p}`);
    const priv = fs.readFileSync(join(home.a, ".ssh", "id_ed25519"), "utf8").split("\n")[1]!;
    assert.ok(!text.includes(priv), "state holds A's private key");
    // A leaves: their checkout is gone before anyone else runs anything.
    fs.rmSync(clone.a, { recursive: true, force: true });
  });

  it("operator B's preview from another clone and HOME: no change at all", async () => {
    const before = fs.readFileSync(checkpointFile, "utf8");
    const acts = actionsLog().length;
    const r = await preview(operator("b"));
    ok(r);
    assert.deepEqual(changes(r), []);
    assert.equal(r.rpcs["create"] ?? 0, 0);
    assert.equal(r.rpcs["update"] ?? 0, 0);
    assert.equal(fs.readFileSync(checkpointFile, "utf8"), before, "a preview writes no state");
    assert.equal(actionsLog().length, acts, "a preview runs nothing on the host");
    assert.deepEqual(onHost(Object.keys(host0)), host0);
  });

  it("B's refresh reads every resource with the state's provider: nothing gone, no content pulled into state", async () => {
    const size = fs.statSync(checkpointFile).size;
    const r = await refresh(operator("b"));
    ok(r);
    assert.deepEqual(
      r.steps.filter((s) => s.op !== "refresh").map((s) => `${s.op} ${short(s.urn)}`),
      [],
      "no resource dropped from state",
    );
    assert.ok(r.steps.length >= files().length);
    for (const f of files()) assert.equal("content" in f.outputs, false, `${String(outs(f)["path"])}: no content in outputs`);
    const grown = fs.statSync(checkpointFile).size - size;
    assert.ok(grown <= 2048, `refresh grew the state by ${grown} bytes`);
    assert.deepEqual(materials(), materials0, "Materials untouched");
    assert.deepEqual(onHost(Object.keys(host0)), host0);
  });

  it("B changes one setting: only that file is rewritten and only its daemon reloads (running, unit unchanged)", async () => {
    fs.writeFileSync(join(clone.b, "ops.yaml"), inventory(sshd, { routerId: 52, haproxy: true }));
    const acts = actionsLog();
    const r = await up(operator("b"));
    ok(r);
    assert.deepEqual(changes(r), ["update haforge-vip-ops1-etc-keepalived-keepalived-conf", "update haforge-vip-restart-keepalived-ops1"]);
    assert.match(fs.readFileSync(sshd.hostPath("/etc/keepalived/keepalived.conf"), "utf8"), /virtual_router_id 52\b/);
    const now = actionsLog().slice(acts.length);
    assert.equal(reloads(now, "keepalived"), 1, now.join("\n"));
    assert.equal(restarts(now, "keepalived"), 0, now.join("\n"));
    assert.equal(restarts(now, "haproxy") + reloads(now, "haproxy"), 0, now.join("\n"));
    assert.deepEqual(materials(), materials0, "nothing regenerated");
    const host = onHost(Object.keys(host0));
    for (const p of Object.keys(host0)) if (p !== "/etc/keepalived/keepalived.conf") assert.equal(host[p], host0[p], `${p} untouched`);
    host0 = host;
  });

  it("B removes HAProxy from the inventory: its daemon stops, its files go, keepalived's stay, nothing restarts", async () => {
    fs.writeFileSync(join(clone.b, "ops.yaml"), inventory(sshd, { routerId: 52, haproxy: false }));
    const acts = actionsLog().length;
    const r = await up(operator("b"));
    ok(r);
    const deleted = changes(r).filter((c) => c.startsWith("delete "));
    assert.deepEqual(deleted, [
      "delete haforge-haproxy-deprovision-ops1",
      "delete haforge-haproxy-haproxy-nonlocal-bind-ops1",
      "delete haforge-haproxy-ops1-etc-haproxy-haproxy-cfg",
      "delete haforge-haproxy-ops1-etc-sysctl-d-60-haforge-nonlocal-bind-conf",
      "delete haforge-haproxy-ops1-etc-systemd-system-haproxy-service-d-50-haforge-conf",
      "delete haforge-haproxy-restart-haproxy-ops1",
    ]);
    assert.ok(
      changes(r).every((c) => c.startsWith("delete ") || /^update haforge-ops1-packages$/.test(c)),
      `nothing else changes: ${changes(r).join(", ")}`,
    );
    const host = onHost(Object.keys(host0));
    assert.equal(host["/etc/haproxy/haproxy.cfg"], "absent");
    assert.equal(host["/etc/systemd/system/haproxy.service.d/50-haforge.conf"], "absent");
    assert.equal(host["/etc/sysctl.d/60-haforge-nonlocal-bind.conf"], "absent");
    assert.equal(host["/etc/keepalived/keepalived.conf"], host0["/etc/keepalived/keepalived.conf"], "keepalived.conf untouched");
    assert.deepEqual(
      actionsLog()
        .slice(acts)
        .filter((l) => / (restart|reload) /.test(l)),
      [],
      "no restart",
    );
    assert.deepEqual(
      actionsLog()
        .slice(acts)
        .filter((l) => /^systemctl (stop|disable)/.test(l)),
      ["systemctl disable --now haproxy"],
      "HAProxy stopped (its deprovisioning), nothing else",
    );
    assert.deepEqual(materials(), materials0);
    host0 = onHost(["/etc/keepalived/keepalived.conf"]);
  });

  it("a stack rename changes no resource and touches no host", async () => {
    renameStack(checkpointFile, "ops", "ops-renamed");
    const acts = actionsLog().length;
    const r = await up(operator("b", "ops-renamed"));
    ok(r);
    assert.deepEqual(changes(r), []);
    assert.equal(actionsLog().length, acts);
    assert.deepEqual(onHost(Object.keys(host0)), host0);
    assert.deepEqual(materials(), materials0);
  });

  it("B runs the program compiled (npm run build, Pulumi.yaml's program.js): no change, nothing written or restarted", async () => {
    // The compiled program declares what the sources declared, provider texts included: the
    // dynamic-provider process (plain node) loads the compiled providers through load-module.js
    // and diffs every file as unchanged. Destroy (next) runs them too.
    execFileSync(process.execPath, [join(clone.b, "scripts", "build.js")], { cwd: clone.b, stdio: "ignore" });
    const compiledNow = execFileSync(process.execPath, ["-e", 'console.log(require("./load-module.js").useCompiled())'], {
      cwd: clone.b,
      encoding: "utf8",
      env: { PATH: process.env["PATH"] },
    });
    assert.equal(compiledNow.trim(), "true", "B's build is fresh: its program and providers run compiled");
    const acts = actionsLog().length;
    const r = await up({ ...operator("b", "ops-renamed"), program: "program.js" });
    ok(r);
    assert.deepEqual(changes(r), []);
    assert.equal(actionsLog().length, acts);
    assert.deepEqual(onHost(Object.keys(host0)), host0);
    assert.deepEqual(materials(), materials0);
  });

  it("B destroys the stack without the program: every file it wrote removed, the daemons stopped, nothing restarted", async () => {
    const acts = actionsLog().length;
    const r = await destroy(operator("b", "ops-renamed"));
    ok(r);
    assert.deepEqual(state().resources, []);
    assert.equal(onHost(["/etc/keepalived/keepalived.conf"])["/etc/keepalived/keepalived.conf"], "absent");
    assert.deepEqual(
      actionsLog()
        .slice(acts)
        .filter((l) => / (restart|reload) /.test(l)),
      [],
    );
    assert.deepEqual(
      actionsLog()
        .slice(acts)
        .filter((l) => /^systemctl (stop|disable)/.test(l)),
      ["systemctl disable --now keepalived"],
    );
  });
});
