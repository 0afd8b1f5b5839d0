/**
 * The SSH transport against a real OpenSSH sshd on loopback: pooling, host-key pinning,
 * retries, bastion hops, exec semantics. Effects are asserted on sshd's own log and on the
 * filesystem (the "remote" host is this machine), not only on our counters.
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SshPool, TransportError, mapLimit, type HostConnection } from "../../src/transport";
import { startSshd, type Sshd } from "./sshd-fixture";

let a: Sshd;
let b: Sshd;

before(async () => {
  [a, b] = await Promise.all([startSshd({ name: "hostA" }), startSshd({ name: "hostB" })]);
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

/** Run `fn` with a fresh pool, always closed afterwards. */
async function withPool<T>(fn: (pool: SshPool) => Promise<T>, opts?: ConstructorParameters<typeof SshPool>[0]): Promise<T> {
  const pool = new SshPool(opts);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TransportError, `expected a TransportError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a rejection");
}

describe("exec", () => {
  it("returns exit code, stdout and stderr, and feeds stdin", async () => {
    await withPool(async (pool) => {
      const r = await pool.exec(a.conn(), "cat; echo oops >&2; exit 3", { stdin: "from stdin\n" });
      assert.deepEqual(r, { code: 3, stdout: "from stdin\n", stderr: "oops\n", timedOut: false });
    });
  });

  it("bounds a long command with a remote `timeout`, which really stops it on the host", async () => {
    await withPool(async (pool) => {
      const marker = join(a.dir, `slow-${randomBytes(4).toString("hex")}`);
      const t0 = Date.now();
      const r = await pool.exec(a.conn(), `sleep 30; touch ${marker}`, { timeoutMs: 1000 });
      assert.equal(r.timedOut, true);
      assert.equal(r.code, 124);
      assert.ok(Date.now() - t0 < 10_000);
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(existsSync(marker), false, "the remote command must not keep running");
    });
  });
});

describe("pool", () => {
  it("uses ONE connection per host for many concurrent commands (pool counter and sshd's log agree)", async () => {
    await withPool(async (pool) => {
      const ma = a.mark();
      const mb = b.mark();
      // 60 commands per host at once: more than sshd's MaxSessions (10), so the per-connection
      // channel bound is exercised too.
      const jobs = Array.from({ length: 120 }, (_, i) => (i % 2 ? a : b));
      const out = await mapLimit(jobs, 120, (s, i) => pool.exec(s.conn(), `echo ${i}`));
      assert.deepEqual(
        out.map((r) => r.stdout.trim()),
        jobs.map((_, i) => String(i)),
      );
      assert.equal(pool.stats().opened, 2);
      assert.equal(a.connectionsSince(ma), 1);
      assert.equal(b.connectionsSince(mb), 1);
      assert.equal((a.logSince(ma).match(/Starting session: command/g) ?? []).length, 60);
    });
  });

  it("a session channel sshd refuses while it still counts a closed one is opened again (bound = MaxSessions)", async () => {
    // OpenSSH frees a session slot only once it has processed the client's close: with the bound
    // at sshd's MaxSessions (10) and fast commands, opens right after a close are refused ("no more
    // sessions") unless the pool opens them again; nothing ran on the host for a refused open.
    await withPool(
      async (pool) => {
        const m = a.mark();
        const out = await mapLimit(Array.from({ length: 100 }), 100, (_, i) => pool.exec(a.conn(), `echo ${i}`));
        assert.deepEqual(
          out.map((r) => r.stdout.trim()),
          out.map((_, i) => String(i)),
        );
        assert.equal((a.logSince(m).match(/Starting session: command/g) ?? []).length, 100);
      },
      { maxChannelsPerConnection: 10 },
    );
  });

  it("a refused session open waits for sshd to free a slot for as long as it takes, not a fixed few tries", async () => {
    // sshd allows one session; the pool allows two channels: the second open is refused for as
    // long as the first command runs (2 s, longer than any fixed burst of short retries), and
    // then runs exactly once.
    const one = await startSshd({ name: "hostOneSession", maxSessions: 1 });
    try {
      await withPool(
        async (pool) => {
          const m = one.mark();
          const slow = pool.exec(one.conn(), "sleep 2; echo slow");
          await new Promise((res) => setTimeout(res, 200));
          const t0 = Date.now();
          const fast = await pool.exec(one.conn(), "echo fast");
          assert.equal(fast.stdout, "fast\n");
          assert.ok(Date.now() - t0 >= 1000, "the second command waited for the first one's slot");
          assert.equal((await slow).stdout, "slow\n");
          assert.equal((one.logSince(m).match(/Starting session: command/g) ?? []).length, 2);
        },
        { maxChannelsPerConnection: 2 },
      );
    } finally {
      await one.stop();
    }
  });

  it("redials after the connection dies, and names host + step when a command is cut off", async () => {
    await withPool(async (pool) => {
      await pool.exec(a.conn(), "true");
      const running = pool.exec(a.conn(), "sleep 20", { step: "hold" });
      await new Promise((res) => setTimeout(res, 300));
      a.killSessions();
      const e = await rejection(running);
      assert.equal(e.code, "CONNECTION_LOST");
      assert.match(e.message, /^hostA: hold: connection lost/);
      const r = await pool.exec(a.conn(), "echo again");
      assert.equal(r.stdout, "again\n");
      assert.equal(pool.stats().opened, 2);
    });
  });
});

describe("pool reuse: what verification and auth depend on", () => {
  const marker = () => join(a.dir, `marker-${randomBytes(4).toString("hex")}`);

  it("a request pinning another host key is never served by a connection verified against a different pin", async () => {
    await withPool(async (pool) => {
      await pool.exec(a.conn(), "true");
      const m = a.mark();
      const file = marker();
      // Same user@address:port as the pooled connection, but pinning hostB's key.
      const e = await rejection(pool.exec(a.conn({ hostKey: b.hostKeyLine }), `touch ${file}`));
      assert.equal(e.code, "HOSTKEY_MISMATCH");
      assert.equal(existsSync(file), false, "the command must not run on a host whose key the request does not pin");
      assert.doesNotMatch(a.logSince(m), /userauth-request/, "refused during key exchange, before any credential");
      // The original connection still serves requests that pin its key.
      assert.equal((await pool.exec(a.conn(), "echo ok")).stdout, "ok\n");
    });
  });

  it("a request with other credentials authenticates with its own (a wrong key is refused, not covered by a pooled session)", async () => {
    await withPool(async (pool) => {
      await pool.exec(a.conn(), "true");
      const file = marker();
      // b's client key is not authorized on a.
      const e = await rejection(pool.exec(a.conn({ privateKeyPath: b.clientKeyPath }), `touch ${file}`));
      assert.equal(e.code, "AUTH");
      assert.equal(existsSync(file), false);
    });
  });

  it("a reused connection is re-checked against the request's known_hosts: a key marked @revoked since is refused", async () => {
    const [type, key] = a.hostKeyLine.split(" ");
    const kh = join(a.dir, `known_hosts_${randomBytes(4).toString("hex")}`);
    writeFileSync(kh, `[127.0.0.1]:${a.port} ${type} ${key}\n`);
    const { hostKey: _drop, ...viaFile } = a.conn();
    const conn: HostConnection = { ...viaFile, knownHostsFile: kh };
    await withPool(async (pool) => {
      await pool.exec(conn, "true");
      writeFileSync(kh, `[127.0.0.1]:${a.port} ${type} ${key}\n@revoked * ${type} ${key}\n`);
      const file = marker();
      const e = await rejection(pool.exec(conn, `touch ${file}`));
      assert.equal(e.code, "HOSTKEY_REVOKED");
      assert.equal(existsSync(file), false);
      assert.equal(pool.stats().opened, 1, "refused on the pooled connection, no new dial");
    });
  });

  it("the same pins and credentials written differently share one connection", async () => {
    await withPool(async (pool) => {
      const ecdsa = readFileSync(join(a.dir, "host_ecdsa.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
      const bare = a.hostKeyLine.split(" ").slice(0, 2).join(" ");
      await pool.exec(a.conn({ hostKey: [a.hostKeyLine, ecdsa] }), "true");
      await pool.exec(a.conn({ hostKey: [ecdsa, `${bare} a comment`] }), "true");
      assert.equal(pool.stats().opened, 1);
    });
  });
});

describe("host keys", () => {
  const marker = () => join(a.dir, `marker-${randomBytes(4).toString("hex")}`);

  it("refuses an unknown host key during key exchange: no user-auth request reaches sshd, no command runs", async () => {
    await withPool(async (pool) => {
      const m = a.mark();
      const file = marker();
      const { hostKey: _drop, ...unpinned } = a.conn();
      const e = await rejection(pool.exec(unpinned, `touch ${file}`));
      assert.equal(e.code, "HOSTKEY_UNKNOWN");
      assert.match(e.message, /^hostA: connect: unknown host key (ssh-ed25519|ecdsa-sha2-nistp256) SHA256:/);
      assert.match(e.message, /trustOnFirstUse/);
      const log = a.logSince(m);
      assert.equal(a.connectionsSince(m), 1, "exactly one connection: no retry after a host-key refusal");
      assert.doesNotMatch(log, /userauth-request/);
      assert.equal(existsSync(file), false);
      assert.equal(pool.stats().opened, 0);
      assert.equal(pool.stats().dialRetries, 0);
    });
  });

  it("refuses a mismatched pinned key (another server's key) before authenticating", async () => {
    await withPool(async (pool) => {
      const m = a.mark();
      const file = marker();
      const e = await rejection(pool.exec(a.conn({ hostKey: b.hostKeyLine }), `touch ${file}`));
      assert.equal(e.code, "HOSTKEY_MISMATCH");
      assert.match(e.message, /^hostA: connect: host key mismatch for 127\.0\.0\.1:\d+: connection\.hostKey expects ssh-ed25519 SHA256:/);
      assert.doesNotMatch(a.logSince(m), /userauth-request/);
      assert.equal(existsSync(file), false);
    });
  });

  it("trust-on-first-use accepts and reports the key seen, which then pins", async () => {
    const { hostKey: _drop, ...unpinned } = a.conn();
    const seen = await withPool(async (pool) => {
      await pool.exec({ ...unpinned, trustOnFirstUse: true }, "true");
      return pool.hostKeysSeen();
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.trustedOnFirstUse, true);
    // The server has ed25519 and ecdsa keys; whichever it presented is one of its real keys.
    const serverKeys = [a.hostKeyLine, readFileSync(join(a.dir, "host_ecdsa.pub"), "utf8")].map((l) =>
      l.trim().split(" ").slice(0, 2).join(" "),
    );
    assert.ok(serverKeys.includes(seen[0]!.key), `reported key ${seen[0]!.key} is not one of the server's keys`);
    await withPool((pool) => pool.exec(a.conn({ hostKey: seen[0]!.key }), "true"));
  });

  it("trust-on-first-use never overrides a mismatch", async () => {
    await withPool(async (pool) => {
      const e = await rejection(pool.exec(a.conn({ hostKey: b.hostKeyLine, trustOnFirstUse: true }), "true"));
      assert.equal(e.code, "HOSTKEY_MISMATCH");
    });
  });

  it("reads known_hosts: [addr]:port entries, hashed entries, @revoked", async () => {
    const [type, key] = a.hostKeyLine.split(" ");
    const plain = join(a.dir, "known_hosts_plain");
    writeFileSync(plain, `# comment\n[127.0.0.1]:${a.port} ${type} ${key}\n`);
    const salt = randomBytes(20);
    const hashed = join(a.dir, "known_hosts_hashed");
    const h = createHmac("sha1", salt).update(`[127.0.0.1]:${a.port}`).digest("base64");
    writeFileSync(hashed, `|1|${salt.toString("base64")}|${h} ${type} ${key}\n`);
    const revoked = join(a.dir, "known_hosts_revoked");
    writeFileSync(revoked, `[127.0.0.1]:${a.port} ${type} ${key}\n@revoked * ${type} ${key}\n`);
    const viaFile = (f: string): HostConnection => {
      const { hostKey: _drop, ...c } = a.conn();
      return { ...c, knownHostsFile: f };
    };
    await withPool((pool) => pool.exec(viaFile(plain), "true"));
    await withPool((pool) => pool.exec(viaFile(hashed), "true"));
    const e = await withPool((pool) => rejection(pool.exec(viaFile(revoked), "true")));
    assert.equal(e.code, "HOSTKEY_REVOKED");
    // Another server's entry under this name is a mismatch, not "unknown".
    const other = join(a.dir, "known_hosts_other");
    writeFileSync(other, `[127.0.0.1]:${a.port} ${b.hostKeyLine}\n`);
    const e2 = await withPool((pool) => rejection(pool.exec(viaFile(other), "true")));
    assert.equal(e2.code, "HOSTKEY_MISMATCH");
    assert.match(e2.message, /known_hosts_other expects/);
  });
});

describe("auth and retries", () => {
  it("does not retry an authentication failure (one connection in sshd's log)", async () => {
    await withPool(async (pool) => {
      const m = a.mark();
      // b's client key is not authorized on a.
      const e = await rejection(pool.exec(a.conn({ privateKeyPath: b.clientKeyPath }), "true"));
      assert.equal(e.code, "AUTH");
      assert.match(e.message, /^hostA: connect: authentication failed for root@127\.0\.0\.1:\d+/);
      assert.equal(pool.stats().dials, 1);
      assert.equal(a.connectionsSince(m), 1);
    });
  });

  it("retries dial errors with backoff, then reports the host and the cause", async () => {
    await withPool(
      async (pool) => {
        // A port nobody listens on: ECONNREFUSED on every attempt.
        const closed: HostConnection = { ...a.conn(), host: "ghost", port: 1 };
        const e = await rejection(pool.exec(closed, "true"));
        assert.equal(e.code, "DIAL");
        assert.match(e.message, /^ghost: connect: cannot reach 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
        assert.equal(pool.stats().dials, 3);
        assert.equal(pool.stats().dialRetries, 2);
      },
      { dialAttempts: 3, backoffMs: 10 },
    );
  });

  it("does not leak credentials into errors", async () => {
    await withPool(async (pool) => {
      const secretish = "not-a-key-but-SECRET-material";
      const e = await rejection(pool.exec(a.conn({ privateKeyPath: undefined, privateKey: secretish }), "true"));
      assert.equal(e.code, "CONFIG");
      assert.doesNotMatch(e.message, /SECRET/);
    });
  });
});

describe("bastion", () => {
  it("reaches a host through the bastion's pooled connection (forwardOut), one connection each", async () => {
    await withPool(async (pool) => {
      const ma = a.mark();
      const mb = b.mark();
      const viaA = b.conn({ bastion: a.conn() });
      const rs = await Promise.all(Array.from({ length: 12 }, () => pool.exec(viaA, "echo $SSH_CONNECTION")));
      for (const r of rs) assert.match(r.stdout, /^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+/);
      await pool.exec(a.conn(), "true"); // the bastion's own connection is the pooled one
      assert.equal(pool.stats().opened, 2);
      assert.equal(a.connectionsSince(ma), 1);
      assert.equal(b.connectionsSince(mb), 1);
      assert.match(a.logSince(ma), /direct-tcpip/);
    });
  });

  it("verifies the target's host key too (a bastion does not make a host trusted)", async () => {
    await withPool(async (pool) => {
      const e = await rejection(pool.exec(b.conn({ hostKey: a.hostKeyLine, bastion: a.conn() }), "true"));
      assert.equal(e.code, "HOSTKEY_MISMATCH");
      assert.match(e.message, /^hostB: connect: host key mismatch/);
    });
  });
});

describe("mapLimit", () => {
  it("keeps input order, never exceeds the limit, and stops starting work after a failure", async () => {
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 3, async (ms, i) => {
      started.push(i);
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, ms * 5));
      active--;
      return ms * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
    assert.equal(peak, 3);
    assert.equal(started.length, 6);

    const ran: number[] = [];
    await assert.rejects(
      mapLimit([1, 2, 3, 4, 5, 6], 2, async (x) => {
        ran.push(x);
        if (x === 2) throw new Error("boom 2");
        await new Promise((r) => setTimeout(r, 20));
        return x;
      }),
      /boom 2/,
    );
    assert.ok(ran.length < 6, `work kept starting after the failure: ${ran.join(",")}`);
  });
});
