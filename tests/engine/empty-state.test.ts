/**
 * An empty state meets hosts another operator provisioned (issue 9, item 1: a second operator on
 * a fresh backend, a lost state), through the engine stand-in (the SDK's dynamic-provider
 * process over gRPC) against two isolated sshd hosts running syncthing's configuration: operator
 * A creates the stack; operator B, with an empty checkpoint of their own, previews (the preview
 * says what `up` adopts; with HAFORGE_DIFF=state, that the hosts were not contacted) and runs
 * `up`: every key A generated (each host's device certificate and key, its API key in
 * config.xml) is adopted, nothing is regenerated and no file on the hosts changes (bytes, mtime).
 * What the user reads is the run's `diagnostics` (the provider's stderr lines as the engine shows
 * them, the program's log messages).
 *
 * B's up restarts nothing: the restart actions are new resources with an empty state, so the
 * engine runs their create, and that create finds syncthing running with every file it follows
 * unchanged since haforge last restarted it (src/render/daemon.ts appliedOnce) and says it
 * skipped. A daemon that is not running, or whose file changed after that restart, restarts.
 *
 * Needs root (unshare, mounts, sshd). Run under the machine's lab lock on a shared machine.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { preview, readCheckpoint, unwrap, up, type RunResult } from ".";
import { startSshd, type Sshd } from "../providers/sshd-fixture";
import { cloneTo, makeHome } from "./operator";

const ACTIONS_LOG = "/var/log/haforge-stub-actions.log";
/** systemctl as in two-operators.test.ts: records every call; a unit is active once started. */
const SYSTEMCTL = [
  "#!/bin/sh",
  `echo "systemctl $*" >> ${ACTIONS_LOG}`,
  'eval "unit=\\${$#}"',
  'case "$1" in',
  '  is-active) [ -e "/var/log/haforge-stub-active-$unit" ]; exit $? ;;',
  '  start|restart) : > "/var/log/haforge-stub-active-$unit" ;;',
  "  show) echo no ;;",
  "esac",
  "exit 0",
  "",
].join("\n");
/** syncthing's REST API as a synced peer answers it: every device of config.xml connected, 100% complete. */
const CURL = [
  "#!/bin/sh",
  `echo "curl $*" >> ${ACTIONS_LOG}`,
  'case "$*" in',
  "  *system/connections*)",
  `    printf '{"connections":{'`,
  `    for id in $(sed -n 's:.*<device id="\\([^"]*\\)".*:\\1:p' /var/lib/syncthing/config.xml); do printf '"%s":{"connected":true},' "$id"; done`,
  `    printf '"-":{}}}\\n' ;;`,
  `  *completion*) echo '{"completion":100,"needBytes":0}' ;;`,
  `  *) echo '{"ping":"pong"}' ;;`,
  "esac",
  "",
].join("\n");
const STUBS = { systemctl: SYSTEMCTL, curl: CURL };
const FILES = [
  "/var/lib/syncthing/cert.pem",
  "/var/lib/syncthing/key.pem",
  "/var/lib/syncthing/config.xml",
  "/etc/systemd/system/syncthing.service",
];

const tmp = fs.mkdtempSync(join(tmpdir(), "haforge-empty-state-"));
const clone = join(tmp, "checkout");
const home = { a: join(tmp, "home-a"), b: join(tmp, "home-b") };
const checkpoint = { a: join(tmp, "state-a", "st.json"), b: join(tmp, "state-b", "st.json") };
const hosts: Record<string, Sshd> = {};

const inventory = () =>
  [
    "version: 1",
    "name: st",
    "hosts:",
    ...Object.entries(hosts).flatMap(([name, s], i) => [
      `  - name: ${name}`,
      "    address: 127.0.0.1",
      `    internalAddress: 192.0.2.${11 + i}`,
      `    ssh: { user: root, port: ${s.port}, hostKey: "${s.hostKeyLine}", privateKeyPath: "~/.ssh/id_ed25519" }`,
    ]),
    "syncthing:",
    "  folders:",
    "    - { id: shared, path: /srv/shared, hosts: [st1, st2] }",
    "",
  ].join("\n");

const log = process.env["HAFORGE_ENGINE_VERBOSE"] ? (l: string) => process.stderr.write(`${l}\n`) : () => {};
const operator = (who: "a" | "b", env: Record<string, string> = {}) => ({
  cwd: clone,
  env: { ...process.env, HOME: home[who], SSH_AUTH_SOCK: "", ...env },
  stack: "st",
  checkpointFile: checkpoint[who],
  config: { "haforge:inventory": "st.yaml" },
  secretKeys: [],
  log,
  timeoutMs: 240_000,
});
const ok = (r: RunResult) => assert.ok(r.ok, `the run failed:\n${r.errors.join("\n")}`);
const notes = (r: RunResult) => r.diagnostics.map((d) => `${d.from} ${d.severity}: ${d.message}`).join("\n");
const materials = (file: string) =>
  (unwrap(readCheckpoint(file, "").resources.find((r) => r.urn.endsWith("::haforge-materials"))?.outputs) as Record<string, unknown>)[
    "values"
  ] as Record<string, string>;
/** The stdout tail of HOST's syncthing restart action in a checkpoint. */
const restartOutput = (file: string, host: string): string => {
  const r = readCheckpoint(file, "").resources.find((x) => x.urn.endsWith(`::haforge-syncthing-restart-syncthing-${host}`));
  return String((unwrap(r?.outputs) as { result?: { stdout?: string } } | undefined)?.result?.stdout ?? "(no restart action)");
};
/** Every file syncthing's render declares, on both hosts: sha256, mode and mtime. */
const onHosts = () =>
  Object.fromEntries(
    Object.entries(hosts).flatMap(([name, s]) =>
      FILES.map((p) => {
        const f = s.hostPath(p);
        const st = fs.statSync(f);
        return [
          `${name}:${p}`,
          `${createHash("sha256").update(fs.readFileSync(f)).digest("hex")} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`,
        ];
      }),
    ),
  );
const serviceCalls = () =>
  Object.entries(hosts).flatMap(([name, s]) => {
    const p = s.hostPath(ACTIONS_LOG);
    return fs.existsSync(p)
      ? fs
          .readFileSync(p, "utf8")
          .split("\n")
          .filter((l) => / (restart|reload|start|stop) syncthing/.test(l))
          .map((l) => `${name}: ${l}`)
      : [];
  });

before(async () => {
  const keyA = makeHome(home.a, "");
  const keyB = makeHome(home.b, "");
  for (const name of ["st1", "st2"]) hosts[name] = await startSshd({ name, isolated: true, authorizedKeys: [keyA, keyB], stubs: STUBS });
  cloneTo(clone);
  fs.writeFileSync(join(clone, "st.yaml"), inventory());
  for (const f of Object.values(checkpoint)) fs.mkdirSync(join(f, ".."), { recursive: true });
});

after(async () => {
  for (const s of Object.values(hosts)) await s.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("an empty state meets hosts another operator provisioned (syncthing's keys)", { concurrency: false }, () => {
  let host0: Record<string, string>;
  let materials0: Record<string, string>;
  let calls0: string[];

  it("operator A creates the stack", async () => {
    const r = await up(operator("a"));
    ok(r);
    host0 = onHosts();
    materials0 = materials(checkpoint.a);
    calls0 = serviceCalls();
    assert.ok(
      calls0.some((l) => /st1: systemctl (re)?start syncthing/.test(l)),
      `syncthing started on st1: ${calls0.join("; ")}`,
    );
    assert.match(fs.readFileSync(hosts["st1"]!.hostPath("/var/lib/syncthing/cert.pem"), "utf8"), /BEGIN CERTIFICATE/);
  });

  it("B's preview with an empty state says what up adopts, and touches nothing", async () => {
    const r = await preview(operator("b"));
    ok(r);
    const text = notes(r);
    for (const h of ["st1", "st2"]) {
      assert.match(
        text,
        new RegExp(
          `provider info: note: haforge: syncthing/cert/${h}: the state has none: up adopts the key found on ${h}:/var/lib/syncthing/cert\\.pem`,
        ),
      );
      assert.match(
        text,
        new RegExp(
          `provider info: note: haforge: syncthing/apikey/${h}: the state has none: up adopts the key found on ${h}:/var/lib/syncthing/config\\.xml`,
        ),
      );
    }
    assert.doesNotMatch(text, /never taken over silently|BEGIN .*PRIVATE KEY/);
    assert.equal(fs.existsSync(checkpoint.b), false, "a preview writes no state");
    assert.deepEqual(onHosts(), host0);
  });

  it("B's CI preview (HAFORGE_DIFF=state) contacts no host and says so", async () => {
    const r = await preview(operator("b", { HAFORGE_DIFF: "state" }));
    ok(r);
    assert.match(
      notes(r),
      /provider info: note: haforge: HAFORGE_DIFF=state: .*syncthing\/cert\/st1.* hosts not contacted in this preview/,
    );
    assert.doesNotMatch(notes(r), /up adopts/);
  });

  it("B's up with the empty state: every key adopted, no file on the hosts changed", async () => {
    const r = await up(operator("b"));
    ok(r);
    const values = materials(checkpoint.b);
    for (const k of Object.keys(materials0).filter((k) => k.startsWith("syncthing/")))
      assert.equal(values[k], materials0[k], `${k}: adopted, not regenerated`);
    assert.match(
      notes(r),
      /provider info: note: haforge: syncthing\/cert\/st2: adopted the key found on st2:\/var\/lib\/syncthing\/cert\.pem/,
    );
    assert.deepEqual(onHosts(), host0, "no live file changed");
    assert.deepEqual(serviceCalls(), calls0, "no start, restart, reload or stop of syncthing");
    for (const h of ["st1", "st2"]) assert.match(restartOutput(checkpoint.b, h), /^haforge: skipped: syncthing runs/m, `${h}'s restart`);
  });

  it("a daemon that is not running is started by the same create (a stopped syncthing, a new empty state)", async () => {
    fs.rmSync(hosts["st2"]!.hostPath("/var/log/haforge-stub-active-syncthing"));
    fs.rmSync(checkpoint.b);
    const r = await up(operator("b"));
    ok(r);
    assert.deepEqual(serviceCalls().slice(calls0.length), ["st2: systemctl restart syncthing"]);
    assert.match(restartOutput(checkpoint.b, "st1"), /^haforge: skipped: syncthing runs/m);
    assert.doesNotMatch(restartOutput(checkpoint.b, "st2"), /skipped/);
    assert.deepEqual(onHosts(), host0, "no live file changed");
  });
});
