/**
 * The isolated host's authorized_keys is never replaced (issue: "without wiping the keys it does
 * not own"): the rendered action scripts run under /bin/sh on a temporary awx home (stub getent,
 * install, chown and the minimal-set commands), over random authorized_keys files an operator
 * could have:
 * - ensure: every line that is not haforge's stays, in order; exactly one haforge line, the
 *   current key; a second run changes nothing; a rotated key replaces only haforge's old line;
 * - delete: only haforge's line goes;
 * - a host missing part of the minimal set: refused, naming what is missing, the file untouched.
 * The real sshd's verdict on the result is tests/system/tower.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import {
  KEY_MARKER,
  MINIMAL_COMMANDS,
  authorizedKeyLine,
  ensureIsolatedHostScript,
  removeIsolatedKeyScript,
} from "../../src/services/tower/isolated";

const work = mkdtempSync(join(tmpdir(), "haforge-isolated-keys-"));
after(() => rmSync(work, { recursive: true, force: true }));

let seq = 0;
/** A fake host: awx's home under dir, stub tools; `lacking` commands are absent. */
function host(lacking: readonly string[] = [], psutil = true) {
  const dir = join(work, String(seq++));
  const bin = join(dir, "bin");
  const home = join(dir, "home");
  mkdirSync(bin, { recursive: true });
  mkdirSync(home);
  const w = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  w("getent", `[ "$1" = passwd ] && [ "$2" = awx ] && echo "awx:x:990:990::${home}:/bin/sh"`);
  w("id", `echo awx`);
  w("chown", "exit 0");
  // install without owner/group (not root here): drop -o/-g and their values.
  w(
    "install",
    `args=""; while [ $# -gt 0 ]; do case "$1" in -o|-g) shift 2 ;; *) args="$args '$1'"; shift ;; esac; done; eval "/usr/bin/install $args"`,
  );
  for (const c of MINIMAL_COMMANDS) if (!lacking.includes(c)) w(c, "exit 0");
  w("python3", psutil ? "exit 0" : "exit 1");
  // Only these tools and the stubs: a real rsync or bwrap on this machine must not count.
  for (const t of ["grep", "cmp", "mktemp", "cut", "mv", "chmod", "cat", "rm", "mkdir", "dirname"])
    symlinkSync(`/usr/bin/${t}`, join(bin, t));
  const env = { PATH: bin };
  const file = join(home, ".ssh", "authorized_keys");
  const run = (script: string) => {
    const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", env, timeout: 20_000 });
    return { rc: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  const read = () => (existsSync(file) ? readFileSync(file, "utf8") : undefined);
  const write = (content: string) => {
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(file, content, { mode: 0o600 });
  };
  return { run, read, write, file };
}

const b64 = fc.stringMatching(/^[A-Za-z0-9+/]{8,40}$/);
/** Lines an operator's authorized_keys may hold: other keys (with options, comments), comments, blanks. */
const otherLine = fc.oneof(
  fc
    .tuple(fc.constantFrom("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"), b64, fc.stringMatching(/^[a-z][a-z0-9@.-]{0,20}$/))
    .map(([t, k, c]) => `${t} AAAA${k} ${c}`),
  b64.map((k) => `from="10.0.0.0/8",no-pty ssh-ed25519 AAAA${k} ops@bastion`),
  fc.stringMatching(/^# [a-z ]{0,30}$/),
  fc.constant(""),
);
const publicKey = b64.map((k) => `ssh-rsa AAAAB3${k} ${KEY_MARKER}`);
const ours = (content: string) => content.split("\n").filter((l) => l.endsWith(` ${KEY_MARKER}`));
const notOurs = (content: string) => content.split("\n").filter((l) => !l.endsWith(` ${KEY_MARKER}`));

describe("isolated host authorized_keys: one marked line, everything else kept", () => {
  it("property: ensure keeps every other line in order, holds exactly the current key once, is idempotent; delete removes only it", () => {
    fc.assert(
      fc.property(fc.array(otherLine, { maxLength: 8 }), fc.option(publicKey, { nil: undefined }), publicKey, (others, old, key) => {
        const h = host();
        // An earlier haforge key (rotation) somewhere in the operator's file, or none.
        const lines = [...others];
        if (old !== undefined) lines.splice(Math.floor(lines.length / 2), 0, authorizedKeyLine(old));
        const before = lines.length ? `${lines.join("\n")}\n` : "";
        h.write(before);
        const r = h.run(ensureIsolatedHostScript("iso1", key));
        assert.equal(r.rc, 0, r.out);
        const after1 = h.read()!;
        assert.deepEqual(ours(after1), [authorizedKeyLine(key)], "exactly one haforge line, the current key");
        assert.deepEqual(notOurs(after1).filter(Boolean), others.filter(Boolean), "the operator's lines, in order");
        assert.ok(after1.startsWith(others.length ? others.join("\n") : ""), "the operator's part byte for byte");
        const again = h.run(ensureIsolatedHostScript("iso1", key));
        assert.equal(again.rc, 0, again.out);
        assert.match(again.out, /already has the key/);
        assert.equal(h.read(), after1, "a second run changes nothing");
        const del = h.run(removeIsolatedKeyScript());
        assert.equal(del.rc, 0, del.out);
        assert.equal(h.read(), others.length ? `${others.join("\n")}\n` : "", "delete leaves exactly the operator's file");
      }),
      { numRuns: 60 },
    );
  });

  it("no authorized_keys yet: created with the one line; delete without a file or without our line: nothing", () => {
    const h = host();
    const r = h.run(ensureIsolatedHostScript("iso1", "ssh-rsa AAAAB3xyz c"));
    assert.equal(r.rc, 0, r.out);
    assert.equal(h.read(), `${authorizedKeyLine("ssh-rsa AAAAB3xyz c")}\n`);
    const g = host();
    assert.equal(g.run(removeIsolatedKeyScript()).rc, 0);
    assert.equal(g.read(), undefined);
    g.write("ssh-ed25519 AAAAop ops\n");
    assert.equal(g.run(removeIsolatedKeyScript()).rc, 0);
    assert.equal(g.read(), "ssh-ed25519 AAAAop ops\n");
  });

  it("the file haforge 0.2 owned whole (per-group keys, its comments): its lines are replaced by the one line, an operator's key kept", () => {
    const h = host();
    const legacy = [
      "# Managed by haforge: the isolated-group keys Tower controllers use to reach this host as awx.",
      "# Replaced whole; do not add keys here.",
      "# isolated group dmz (controller: east)",
      "no-agent-forwarding,no-port-forwarding,no-X11-forwarding ssh-rsa AAAAold1 haforge-isolated-dmz",
      "ssh-ed25519 AAAAop ops@bastion",
      "# isolated group restricted (controller: tower)",
      "no-agent-forwarding,no-port-forwarding,no-X11-forwarding ssh-rsa AAAAold2 haforge-isolated-restricted",
      "",
    ].join("\n");
    h.write(legacy);
    const r = h.run(ensureIsolatedHostScript("iso1", "ssh-rsa AAAAB3new c"));
    assert.equal(r.rc, 0, r.out);
    assert.equal(h.read(), `ssh-ed25519 AAAAop ops@bastion\n${authorizedKeyLine("ssh-rsa AAAAB3new c")}\n`);
  });

  it("a host without the minimal set is refused, naming what is missing; its file is untouched", () => {
    fc.assert(
      fc.property(fc.subarray([...MINIMAL_COMMANDS], { minLength: 1 }), fc.boolean(), (lacking, psutil) => {
        const h = host(lacking, psutil);
        h.write("ssh-ed25519 AAAAop ops\n");
        const r = h.run(ensureIsolatedHostScript("iso9", "ssh-rsa AAAAB3xyz c"));
        assert.notEqual(r.rc, 0);
        assert.match(r.out, /isolated host iso9 lacks what Tower jobs need there:/);
        for (const c of lacking) assert.ok(r.out.includes(` ${c}`), c);
        if (!psutil) assert.match(r.out, /python3:psutil/);
        assert.equal(h.read(), "ssh-ed25519 AAAAop ops\n");
      }),
      { numRuns: 20 },
    );
  });

  it("a missing key material is refused before anything is written", () => {
    const h = host();
    h.write("ssh-ed25519 AAAAop ops\n");
    const r = h.run(ensureIsolatedHostScript("iso1", "__HAFORGE_MISSING_MATERIAL_tower_isolated_keypair__"));
    assert.notEqual(r.rc, 0);
    assert.equal(h.read(), "ssh-ed25519 AAAAop ops\n");
  });

  it("the scripts pass shellcheck", () => {
    for (const s of [ensureIsolatedHostScript("iso1", "ssh-rsa AAAAB3xyz c"), removeIsolatedKeyScript()]) {
      const r = spawnSync("shellcheck", ["-s", "sh", "-S", "warning", "-"], { input: `#!/bin/sh\n${s}\n`, encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });
});
