/**
 * Which host keys a connection accepts, as OpenSSH decides it: every listed key (an old+current
 * pair during a rotation), never a `@revoked` one, and trust-on-first-use keys recorded so the
 * next run pins them.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { hostConnections, pinnedHostKeys, recordTrustedKeys, type ConnectableHost } from "../../src/transport";

/** A syntactically valid ssh-ed25519 public key line (random 32-byte key). */
function fakeKey(seed: Buffer = randomBytes(32)): string {
  const name = Buffer.from("ssh-ed25519");
  const blob = Buffer.concat([Buffer.from([0, 0, 0, name.length]), name, Buffer.from([0, 0, 0, 32]), seed]);
  return `ssh-ed25519 ${blob.toString("base64")}`;
}

const host = (ssh: Partial<ConnectableHost["ssh"]> = {}): ConnectableHost =>
  ({ name: "db1", address: "10.0.0.5", ssh: { user: "root", port: 22, ...ssh } }) as ConnectableHost;

describe("pinned host keys", () => {
  it("all listed keys are accepted, revoked ones never (any file, any order)", () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-kh-"));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            revoked: fc.boolean(),
            listed: fc.boolean(),
            file: fc.constantFrom(0, 1),
            name: fc.constantFrom("10.0.0.5", "db1", "*", "10.0.0.*"),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (entries) => {
          const keys = entries.map(() => fakeKey());
          const files = [join(dir, "own"), join(dir, "stack")];
          const text: string[][] = [[], []];
          entries.forEach((e, i) => {
            if (e.listed) text[e.file]!.push(`${e.name} ${keys[i]}`);
            if (e.revoked) text[1 - e.file]!.push(`@revoked ${e.name} ${keys[i]}`);
          });
          files.forEach((f, i) => writeFileSync(f, text[i]!.join("\n") + "\n"));
          const got = pinnedHostKeys(host({ knownHostsFile: files[0] }), files[1]);
          const want = keys.filter((_, i) => entries[i]!.listed && !entries[i]!.revoked);
          assert.deepEqual(new Set(got), new Set(want));
          // The connection carries every valid key, and the revoking file for the transport.
          const c = hostConnections([host({ knownHostsFile: files[0] })], {}, { knownHostsFile: files[1]! }).get("db1")!;
          const pinned = c.hostKey === undefined ? [] : typeof c.hostKey === "string" ? [c.hostKey] : [...c.hostKey];
          assert.deepEqual(new Set(pinned), new Set(want));
          if (entries.some((e) => e.revoked)) assert.ok(c.knownHostsFile, "the transport sees the @revoked entries");
        },
      ),
      { numRuns: 80 },
    );
  });

  it("an inline ssh.hostKey revoked in a known_hosts file is not pinned", () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-kh-"));
    const k = fakeKey();
    writeFileSync(join(dir, "kh"), `@revoked * ${k}\n`);
    assert.deepEqual(pinnedHostKeys(host({ hostKey: k, knownHostsFile: join(dir, "kh") })), []);
  });

  it("trust-on-first-use keys are recorded once (0600) and pinned on the next run", () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-kh-"));
    const file = join(dir, ".haforge", "inv.yaml.known_hosts");
    const k = fakeKey();
    const seen = [{ host: "db1", address: "10.0.0.5", port: 2222, key: k }];
    assert.equal(recordTrustedKeys(file, seen).length, 1);
    assert.equal(recordTrustedKeys(file, seen).length, 0, "not recorded twice");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, "utf8"), /^\[10\.0\.0\.5\]:2222,\[db1\]:2222 ssh-ed25519 /);
    const tofuHost = host({ port: 2222, trustOnFirstUse: true });
    assert.deepEqual(pinnedHostKeys(tofuHost, undefined, file), [k]);
    const c = hostConnections([tofuHost], {}, { tofuFile: file }).get("db1")!;
    assert.equal(c.hostKey, k, "the next run pins the recorded key: any other key is a mismatch");
  });
});
