/**
 * `haforge diff --live` against real OpenSSH sshds on loopback (tests/providers/sshd-fixture.ts).
 *
 * - The operation (`liveDiff`) with synthetic FileSpecs pointing into the fixtures' temp dirs:
 *   absent / same / changed / mode / secret / secret-inside-a-plain-file cases, one connection
 *   per host, and nothing written (inode, mtime, ctime and directory listing unchanged).
 * - The CLI end to end: a YAML inventory whose hosts are the two sshds (pinned keys): the happy
 *   path (read-only, the rendered paths do not exist here), an unpinned host key (refused before
 *   authentication, exit 2), and an inventory with errors (exit 1, sshd sees no connection).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { formatLiveDiff, liveDiff, type LiveDiffFile, type LiveFileDiff } from "../../src/cli/live-diff";
import { SshPool, type HostConnection } from "../../src/transport";
import { runCli } from "../helpers/cli";
import { startSshd, type Sshd } from "./sshd-fixture";

let a: Sshd;
let b: Sshd;
const pools: SshPool[] = [];
const newPool = (o: ConstructorParameters<typeof SshPool>[0] = {}) => {
  const p = new SshPool(o);
  pools.push(p);
  return p;
};
before(async () => {
  [a, b] = await Promise.all([startSshd({ name: "hostA" }), startSshd({ name: "hostB" })]);
});
after(async () => {
  for (const p of pools) await p.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

const OLD_PW = "old-keepalived-pw-1";
const NEW_PW = "new-keepalived-pw-2";
const file = (host: string, path: string, content: string, over: Partial<LiveDiffFile> = {}): LiveDiffFile => ({
  host,
  path,
  content,
  mode: "0644",
  owner: "root",
  group: "root",
  secret: false,
  ...over,
});

/** inode, mtime, ctime (chmod/chown move it), size of every entry: any write shows. */
function snapshot(dir: string): string {
  return readdirSync(dir)
    .sort()
    .map((n) => {
      const s = statSync(join(dir, n));
      return `${n} ${s.ino} ${s.mtimeMs} ${s.ctimeMs} ${s.size} ${s.mode.toString(8)}`;
    })
    .join("\n");
}

describe("liveDiff (the operation) against real sshds", () => {
  let dirA: string;
  let dirB: string;
  let files: LiveDiffFile[];
  before(() => {
    dirA = join(a.dir, "etc-live");
    dirB = join(b.dir, "etc-live");
    mkdirSync(dirA);
    mkdirSync(dirB);
    writeFileSync(join(dirA, "same.conf"), "listen 80\n");
    writeFileSync(join(dirA, "changed.conf"), "global\n  maxconn 100\n  log stdout\ndefaults\n  mode http\n");
    writeFileSync(join(dirA, "mode.conf"), "x = 1\n", { mode: 0o600 });
    writeFileSync(join(dirA, "secret.key"), "OLD-KEY-MATERIAL-abcdef\n", { mode: 0o600 });
    writeFileSync(join(dirA, "keepalived.conf"), `vrrp_instance VI_1 {\n  priority 100\n  auth_pass ${OLD_PW}\n}\n`);
    writeFileSync(join(dirB, "same.conf"), "listen 80\n");
    files = [
      file("hostA", join(dirA, "absent.conf"), "new file\nline two\n"),
      file("hostA", join(dirA, "same.conf"), "listen 80\n"),
      file("hostA", join(dirA, "changed.conf"), "global\n  maxconn 200\n  log stdout\ndefaults\n  mode http\n"),
      file("hostA", join(dirA, "mode.conf"), "x = 1\n"),
      file("hostA", join(dirA, "secret.key"), "NEW-KEY-MATERIAL-123456\n", { mode: "0600", secret: true }),
      file("hostA", join(dirA, "keepalived.conf"), `vrrp_instance VI_1 {\n  priority 100\n  auth_pass ${NEW_PW}\n}\n`, {
        notify: ["keepalived"],
      }),
      file("hostB", join(dirB, "same.conf"), "listen 80\n"),
      file("hostB", join(dirB, "absent.conf"), "b\n"),
    ];
  });

  const connections = () =>
    new Map<string, HostConnection>([
      ["hostA", a.conn()],
      ["hostB", b.conn()],
    ]);
  const byPath = (files: readonly LiveFileDiff[], name: string) => {
    const f = files.find((x) => x.path.endsWith(`/${name}`));
    assert.ok(f, name);
    return f;
  };

  it("plans every file over one connection and one command per host, and writes nothing", async () => {
    const before = { a: snapshot(dirA), b: snapshot(dirB) };
    const ma = a.mark();
    const mb = b.mark();
    const pool = newPool();
    const d = await liveDiff(files, connections(), { pool, toMask: new Map([["secret:kp", NEW_PW]]), salt: "test-salt" });

    // One connection per host: the pool's counters and sshd's own log agree.
    assert.deepEqual({ opened: pool.stats().opened, execs: pool.stats().execs }, { opened: 2, execs: 2 });
    assert.equal(a.connectionsSince(ma), 1);
    assert.equal(b.connectionsSince(mb), 1);
    // Nothing written: same inodes, mtimes, ctimes, modes, and no temp or .haforge-prev files.
    assert.equal(snapshot(dirA), before.a);
    assert.equal(snapshot(dirB), before.b);
    assert.equal(existsSync(join(dirA, "absent.conf")), false);

    assert.deepEqual(d.failedHosts, []);
    const [ha, hb] = d.hosts;
    assert.equal(ha!.host, "hostA");
    assert.equal(hb!.host, "hostB");

    // Absent → create, the whole file as added lines.
    const absent = byPath(ha!.files, "absent.conf");
    assert.deepEqual(
      absent.plan.changes.map((c) => c.kind),
      ["write"],
    );
    assert.match(absent.plan.changes[0]!.reason, /^create .*absent\.conf \(0644 root:root, 18 bytes\)/);
    assert.match(absent.plan.changes[0]!.diff!, /^--- \/dev\/null\n\+\+\+ b\/.*absent\.conf\n@@ -0,0 \+1,2 @@\n\+new file\n\+line two\n$/);
    assert.equal(absent.takeOver, false);

    // Same content and metadata → no change.
    const same = byPath(ha!.files, "same.conf");
    assert.deepEqual(same.plan.changes, []);
    assert.match(same.plan.noop!, /already up to date/);

    // Changed content → a unified diff with exactly the changed line, and context around it.
    const changed = byPath(ha!.files, "changed.conf");
    assert.deepEqual(
      changed.plan.changes.map((c) => c.kind),
      ["write"],
    );
    assert.equal(changed.takeOver, true, "no state: an existing different file is taken over");
    const cd = changed.plan.changes[0]!.diff!;
    assert.match(
      cd,
      /^--- a\/.*changed\.conf\n\+\+\+ b\/.*changed\.conf\n@@ -1,5 \+1,5 @@\n global\n- {2}maxconn 100\n\+ {2}maxconn 200\n {3}log stdout\n/,
    );
    assert.equal(cd.split("\n").filter((l) => /^[-+][^-+]/.test(l)).length, 2);

    // Mode only → chmod, no write.
    const mode = byPath(ha!.files, "mode.conf");
    assert.deepEqual(
      mode.plan.changes.map((c) => c.kind),
      ["chmod"],
    );
    assert.match(mode.plan.changes[0]!.reason, /0600 → 0644/);

    // Secret file → masked on both sides, neither value shown.
    const secret = byPath(ha!.files, "secret.key");
    const sd = secret.plan.changes[0]!.diff!;
    assert.match(sd, /^-<secret:file h:[0-9a-f]{8}>$/m);
    assert.match(sd, /^\+<secret:file h:[0-9a-f]{8}>$/m);
    assert.doesNotMatch(sd, /KEY-MATERIAL/);

    // A secret value inside a plain file → masked like the render tree; the OLD value (unknown
    // to us) is masked by position, with a different hash, so the change still shows.
    const kp = byPath(ha!.files, "keepalived.conf");
    const kd = kp.plan.changes[0]!.diff!;
    assert.doesNotMatch(kd, new RegExp(`${OLD_PW}|${NEW_PW}`));
    const minus = /^- {2}auth_pass <secret:secret:kp h:([0-9a-f]{8})>$/m.exec(kd);
    const plus = /^\+ {2}auth_pass <secret:secret:kp h:([0-9a-f]{8})>$/m.exec(kd);
    assert.ok(minus && plus, kd);
    assert.notEqual(minus[1], plus[1]);
    assert.match(kd, /^ {3}priority 100$/m, "context lines are kept");

    assert.equal(byPath(hb!.files, "same.conf").plan.changes.length, 0);
    assert.equal(byPath(hb!.files, "absent.conf").plan.changes[0]!.kind, "write");

    assert.equal(d.changedFiles, 6);
    assert.equal(d.changedHosts, 2);
    const text = formatLiveDiff(d);
    assert.deepEqual(text.errors, []);
    const all = text.out.join("\n");
    assert.match(all, /^== hostA \(root@127\.0\.0\.1:\d+\): 5 of 6 file\(s\) would change$/m);
    assert.match(all, /^hostA: chmod mode of .*mode\.conf 0600 → 0644$/m);
    assert.match(all, /^hostA: note: .*changed\.conf .*taken over, the current copy kept as .*changed\.conf\.haforge-prev$/m);
    assert.match(all, /^hostA: then notify keepalived$/m);
    assert.match(all, /^6 file\(s\) would change on 2 host\(s\)$/m);
    assert.doesNotMatch(all, new RegExp(`${OLD_PW}|${NEW_PW}|KEY-MATERIAL`));
  });

  it("a refused host key and an unreachable host are per-host errors naming the step; the other hosts are still diffed", async () => {
    const pool = newPool({ dialAttempts: 1 });
    const mb = b.mark();
    const conns = new Map<string, HostConnection>([
      ["hostA", a.conn()],
      // b's address with a's pinned key: a mismatch, refused during key exchange.
      ["hostB", b.conn({ hostKey: a.hostKeyLine })],
      ["hostC", a.conn({ host: "hostC", port: 1 })],
    ]);
    const d = await liveDiff(
      [...files.filter((f) => f.host !== "hostB"), ...files.filter((f) => f.host === "hostB"), file("hostC", "/etc/hostname", "x\n")],
      conns,
      { pool },
    );
    assert.deepEqual(d.failedHosts, ["hostB", "hostC"]);
    const hb = d.hosts.find((h) => h.host === "hostB")!;
    assert.equal(hb.error!.step, "connect");
    assert.match(hb.error!.detail, /host key mismatch/);
    assert.doesNotMatch(b.logSince(mb), /Accepted publickey/, "refused before authenticating");
    const hc = d.hosts.find((h) => h.host === "hostC")!;
    assert.equal(hc.error!.step, "connect");
    assert.match(hc.error!.detail, /cannot reach 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    assert.equal(d.hosts.find((h) => h.host === "hostA")!.files.length, 6, "hostA still diffed");
    const text = formatLiveDiff(d);
    assert.match(text.errors.join("\n"), /^hostB: FAILED at step "connect" \(root@127\.0\.0\.1:\d+\): host key mismatch/m);
    assert.match(text.errors.join("\n"), /^hostC: FAILED at step "connect" \(root@127\.0\.0\.1:1\): cannot reach/m);
    assert.match(text.out.at(-1)!, /^5 file\(s\) would change on 1 host\(s\); 2 host\(s\) could not be read: hostB, hostC$/);
  });
});

describe("haforge diff --live (CLI)", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "hf-live-diff-"));
    writeFileSync(join(dir, "secrets.yaml"), "drpHaToken: tok-0123456789-abcdef\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Two active/passive hosts, one per fixture sshd; `ssh` settings per host overridable. */
  const inventory = (opts: { pin?: boolean; hostsOfPair?: string; ssh?: (s: Sshd) => string; path?: string } = {}) => {
    const host = (name: string, s: Sshd, cidr: string) => [
      `  - name: ${name}`,
      `    address: 127.0.0.1`,
      `    interfaces: [{ name: eth0, address: ${cidr} }]`,
      `    ssh: { user: root, port: ${s.port}, privateKeyPath: ${s.clientKeyPath}${opts.ssh ? `, ${opts.ssh(s)}` : opts.pin === false ? "" : `, hostKey: "${s.hostKeyLine}"`} }`,
    ];
    const path = opts.path ?? join(dir, `inv-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      path,
      [
        "version: 1",
        "name: live-diff-test",
        "target: ssh",
        "hosts:",
        ...host("drp1", a, "10.40.0.11/24"),
        ...host("drp2", b, "10.40.0.12/24"),
        "activePassive:",
        "  - name: drp",
        "    service: dr-provision",
        `    hosts: ${opts.hostsOfPair ?? "[drp1, drp2]"}`,
        "    vip: 10.40.0.10/24",
        "    interface: eth0",
        "    haId: drp-ha-1",
        "    token: { secret: drpHaToken }",
        "",
      ].join("\n"),
    );
    return path;
  };
  const cli = (inv: string, ...extra: string[]) =>
    runCli(["diff", inv, "--live", "--secrets", join(dir, "secrets.yaml"), "--materials", join(dir, "m.json"), ...extra]);

  it("renders like `render` and diffs against both hosts, read-only; secrets masked; --exit-code", async () => {
    const ma = a.mark();
    const mb = b.mark();
    const r = await cli(inventory());
    assert.equal(r.code, 0, r.err + r.out);
    // The drop-in this inventory renders does not exist on this machine: a create on each host.
    const target = "/etc/systemd/system/dr-provision.service.d/20-ha.conf";
    assert.equal(existsSync(target), false, "diff --live never writes");
    assert.match(r.out, /^== drp1 \(root@127\.0\.0\.1:\d+\): 1 of 1 file\(s\) would change$/m);
    assert.match(
      r.out,
      /^drp2: write create \/etc\/systemd\/system\/dr-provision\.service\.d\/20-ha\.conf \(0600 root:root, \d+ bytes\)$/m,
    );
    // A secret file shows its lines, with the secret VALUE masked (keyed placeholder).
    assert.match(r.out, /^\+.*<secret:secret:drpHaToken h:[0-9a-f]{8}>/m);
    assert.doesNotMatch(r.out + r.err, /tok-0123456789/);
    assert.match(r.out, /^2 file\(s\) would change on 2 host\(s\)$/m);
    // What the changed drop-in would run: the service it notifies restarts, per host.
    assert.match(r.out, /^== drp1: actions that would run$/m);
    assert.match(r.out, /^ {2}restart service:dr-provision: .* {2}\(\/etc\/systemd\/system\/dr-provision\.service\.d\/20-ha\.conf\)$/m);
    assert.match(r.out, /^2 action\(s\) would run$/m);
    // Each host on stderr as it answered.
    assert.match(r.err, /^drp1 changed \(1 of 1 files, \d+ ms\)$/m);
    assert.equal(a.connectionsSince(ma), 1);
    assert.equal(b.connectionsSince(mb), 1);
    // What the refusal test below must NOT see, seen here (so its absence means something).
    assert.match(a.logSince(ma), /Accepted publickey for root/);
    const j = JSON.parse((await cli(inventory(), "--json")).out) as {
      hosts: { host: string; files: { change: string; diff?: string }[] }[];
    };
    assert.deepEqual(
      j.hosts.map((h) => [h.host, h.files.map((f) => f.change)]),
      [
        ["drp1", ["added"]],
        ["drp2", ["added"]],
      ],
    );

    const only = await cli(inventory(), "--host", "drp2", "--exit-code", "--concurrency", "1");
    assert.equal(only.code, 1, "--exit-code: something would change");
    assert.doesNotMatch(only.out, /drp1/);
    assert.match(only.out, /^1 file\(s\) would change on 1 host\(s\)$/m);

    const bad = await cli(inventory(), "--host", "nope");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /error limit\.no-match at --limit: "nope" matches no host or group of this inventory/);
  });

  it("an unpinned host key is refused before authentication: per-host error, exit 2, nothing read", async () => {
    const ma = a.mark();
    const mb = b.mark();
    const r = await cli(inventory({ pin: false }));
    assert.equal(r.code, 2, r.out + r.err);
    for (const h of ["drp1", "drp2"])
      assert.match(
        r.err,
        new RegExp(`^${h}: FAILED at step "connect" \\(root@127\\.0\\.0\\.1:\\d+\\): unknown host key ssh-ed25519 SHA256:`, "m"),
      );
    assert.match(r.out, /^0 file\(s\) would change on 0 host\(s\); 2 host\(s\) could not be read: drp1, drp2$/m);
    // sshd saw the TCP connection but no authentication and no command.
    for (const [s, m] of [
      [a, ma],
      [b, mb],
    ] as const) {
      assert.ok(s.connectionsSince(m) >= 1);
      assert.doesNotMatch(s.logSince(m), /Accepted publickey|session_new|Starting session/);
    }
  });

  it("trust-on-first-use records the key it accepted; the next run accepts only that key", async () => {
    const sub = mkdtempSync(join(dir, "tofu-"));
    const inv = inventory({ ssh: () => "trustOnFirstUse: true", path: join(sub, "tofu.yaml") });
    const first = await cli(inv);
    assert.equal(first.code, 0, first.err);
    const recorded = join(sub, ".haforge", "tofu.yaml.known_hosts");
    for (const [h, s] of [
      ["drp1", a],
      ["drp2", b],
    ] as const) {
      assert.match(
        first.err,
        new RegExp(
          `^${h}: trusted on first use: ssh-ed25519 SHA256:\\S+ \\(recorded in ${recorded.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
          "m",
        ),
      );
      assert.ok(readFileSync(recorded, "utf8").includes(`[127.0.0.1]:${s.port}`));
    }
    const second = await cli(inv);
    assert.equal(second.code, 0, second.err);
    assert.doesNotMatch(second.err, /trusted on first use/, "pinned now");
    // Another key at that address (a man in the middle, a rebuilt host) is refused from now on.
    writeFileSync(recorded, readFileSync(recorded, "utf8").replace(a.hostKeyLine.split(" ")[1]!, b.hostKeyLine.split(" ")[1]!));
    const third = await cli(inv);
    assert.equal(third.code, 2, third.out);
    assert.match(third.err, /^drp1: FAILED at step "connect" .*host key mismatch/m);
  });

  it("known_hosts: @revoked refuses the key, even with trust-on-first-use; an old+current pair connects", async () => {
    const kh = join(dir, "known_hosts_rev");
    const hostLines = (s: Sshd) => `[127.0.0.1]:${s.port} ${s.hostKeyLine}`;
    writeFileSync(kh, `${hostLines(a)}\n@revoked [127.0.0.1]:${a.port} ${a.hostKeyLine}\n${hostLines(b)}\n`);
    const ma = a.mark();
    const r = await cli(inventory({ ssh: () => `knownHostsFile: ${kh}, trustOnFirstUse: true` }));
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /^drp1: FAILED at step "connect" .*(revoked|unknown host key|mismatch)/m);
    assert.doesNotMatch(a.logSince(ma), /Accepted publickey/, "refused before authenticating");
    assert.doesNotMatch(r.err, /^drp2: FAILED/m);
    // Key rotation: the old key (another server's) and the current one both listed.
    const pair = join(dir, "known_hosts_pair");
    writeFileSync(
      pair,
      `[127.0.0.1]:${a.port} ${b.hostKeyLine}\n[127.0.0.1]:${a.port} ${a.hostKeyLine}\n[127.0.0.1]:${b.port} ${a.hostKeyLine}\n[127.0.0.1]:${b.port} ${b.hostKeyLine}\n`,
    );
    const ok = await cli(inventory({ ssh: () => `knownHostsFile: ${pair}` }));
    assert.equal(ok.code, 0, ok.err);
  });

  it("an inventory with errors exits 1 with findings and contacts no host", async () => {
    const ma = a.mark();
    const mb = b.mark();
    const r = await cli(inventory({ hostsOfPair: "[drp1, ghost]" }));
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.err, /error .*activePassive\[0\]\.hosts/);
    assert.equal(r.out, "");
    assert.equal(a.connectionsSince(ma), 0);
    assert.equal(b.connectionsSince(mb), 0);
  });
});
