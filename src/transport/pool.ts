/**
 * SSH transport over ssh2: one pooled connection per host per process, host keys pinned before
 * anything else is sent, dial retries (and only dial retries), bastion hops, bounded channels.
 *
 * Every error is a `TransportError` whose message starts with "<host>: <step>:" so a failure in
 * a 200-file converge says which host and which step without a stack trace. Messages never
 * carry passwords, keys, commands or file content.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import type { Duplex } from "node:stream";
// ssh2 (with its crypto modules) loads at the first connection, not with this module: the Pulumi
// program imports the transport for connection data only and never connects (only the dynamic
// provider process does); tests/program/compiled.test.ts.
import type { Client, ClientChannel, ConnectConfig } from "ssh2";
import { shQuote } from "../core/file-ops";
import {
  blobKeyType,
  fingerprint,
  formatPublicKey,
  hostKeyAlgorithms,
  knownHostsLookup,
  knownHostsNames,
  parsePublicKeyLine,
  pinnedKeyTexts,
  type PublicKey,
} from "./host-keys";
import { Semaphore } from "./limit";

/**
 * How to reach one host. Plain data only (no functions): it is stored in Pulumi state as part of
 * a RemoteFile's inputs and crosses into the dynamic provider's process.
 */
export interface HostConnection {
  /** Inventory host name: used in every message ("hostA: connect: …"). */
  readonly host: string;
  /** IP or DNS name to dial (as seen from the bastion when there is one). */
  readonly address: string;
  /** @default 22 */
  readonly port?: number;
  readonly user: string;
  /**
   * Pinned host key(s), OpenSSH public key lines as in `/etc/ssh/ssh_host_ed25519_key.pub` or
   * `ssh-keyscan` output (`ssh-ed25519 AAAA… [comment]`).
   * @default - none: `knownHostsFile` or `trustOnFirstUse` must say how to trust the host
   */
  readonly hostKey?: string | readonly string[];
  /** OpenSSH known_hosts file to look the host up in (by `address` and by `host`). */
  readonly knownHostsFile?: string;
  /**
   * Accept an unknown host key and report it (`SshPool.hostKeysSeen()`). Never overrides a
   * mismatch with a key that *is* pinned.
   * @default false
   */
  readonly trustOnFirstUse?: boolean;
  /** Private key text (OpenSSH or PEM). Prefer `privateKeyPath` so the key stays out of state. */
  readonly privateKey?: string;
  readonly privateKeyPath?: string;
  readonly passphrase?: string;
  readonly password?: string;
  /**
   * ssh-agent: `true` for `$SSH_AUTH_SOCK`, or the agent socket path.
   * @default - `$SSH_AUTH_SOCK` when no other credential is given
   */
  readonly agent?: string | boolean;
  /** Jump host: this host is dialed through a `direct-tcpip` channel of the bastion's pooled connection. */
  readonly bastion?: HostConnection;
}

/**
 * `~/x` → `$HOME/x`, at connect time: connections keep `~` as written (they are stored in state
 * and shared by operators with different homes), each operator's process expands it.
 */
export const expandHome = (p: string): string => (p === "~" ? homedir() : p.startsWith("~/") ? homedir() + p.slice(1) : p);

export type TransportErrorCode =
  | "CONFIG"
  | "DIAL"
  | "HOSTKEY_UNKNOWN"
  | "HOSTKEY_MISMATCH"
  | "HOSTKEY_REVOKED"
  | "AUTH"
  | "PROTOCOL"
  | "CONNECTION_LOST"
  | "TIMEOUT"
  | "COMMAND";

export class TransportError extends Error {
  override readonly name = "TransportError";
  constructor(
    readonly host: string,
    readonly step: string,
    detail: string,
    readonly code: TransportErrorCode,
    /** True only for failures to reach the host at all: safe to dial again. */
    readonly retryable = false,
  ) {
    super(`${host}: ${step}: ${detail}`);
  }
}

export interface ExecOptions {
  /** Bytes for the command's stdin; stdin is closed after them (or at once when absent). */
  readonly stdin?: string | Buffer;
  /**
   * Bound on the command's run time. The command is wrapped in `timeout` on the host (a remote
   * command whose SSH client dies keeps running otherwise), and the client gives up 10 s later
   * as a backstop.
   * @default - no bound
   */
  readonly timeoutMs?: number;
  /** Names the step in errors, e.g. "write /etc/x". @default "exec" */
  readonly step?: string;
}

export interface ExecResult {
  /** Exit status; null when the command died of a signal. */
  readonly code: number | null;
  readonly signal?: string;
  readonly stdout: string;
  readonly stderr: string;
  /** The remote `timeout` wrapper fired (exit 124/137). */
  readonly timedOut: boolean;
}

export interface SeenHostKey {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  /** `<type> <base64>`: ready to pin as `hostKey`. */
  readonly key: string;
  readonly fingerprint: string;
  /** Accepted only because of `trustOnFirstUse`. */
  readonly trustedOnFirstUse: boolean;
}

export interface PoolOptions {
  /** Channels in flight per connection; OpenSSH's `MaxSessions` defaults to 10. @default 8 */
  readonly maxChannelsPerConnection?: number;
  /** Dial attempts per connection, including the first. @default 4 */
  readonly dialAttempts?: number;
  /** First retry delay; doubles per attempt (with ±25 % jitter), capped at 5 s. @default 250 */
  readonly backoffMs?: number;
  /** TCP connect + SSH handshake + auth must finish within this. @default 20000 */
  readonly readyTimeoutMs?: number;
  /** SSH keepalive: a dead peer is noticed after 3 missed intervals. @default 15000 */
  readonly keepaliveIntervalMs?: number;
}

export interface PoolStats {
  /** Connections that completed auth, since the pool was created. */
  readonly opened: number;
  /** Connections open right now. */
  readonly open: number;
  /** Dial attempts, including retries. */
  readonly dials: number;
  readonly dialRetries: number;
  readonly execs: number;
}

/** Socket errors that mean "could not reach the host": nothing was sent, so dialing again is safe. */
const DIAL_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EPIPE",
  "EAI_AGAIN",
]);
/** SSH_OPEN_CONNECT_FAILED (RFC 4254 §5.1): the bastion could not reach the target. */
const OPEN_CONNECT_FAILED = 2;

const portOf = (c: HostConnection): number => c.port ?? 22;

/**
 * Pool key: host + port + user, the hop it is reached through (same IP behind two bastions ≠ same
 * host), and a digest of everything verification and authentication depend on (the pinned keys,
 * the known_hosts file, trust-on-first-use, the credentials). A request that pins another key or
 * brings other credentials gets its own connection, verified and authenticated with what IT
 * says, never one opened under someone else's pins or key.
 */
export function connectionKey(c: HostConnection): string {
  const own = `${c.user}@${c.address}:${portOf(c)} ${trustDigest(c)}`;
  return c.bastion ? `${own} via ${connectionKey(c.bastion)}` : own;
}

/** Digest (not the values: credentials never sit in a map key) of what verification and auth use. */
function trustDigest(c: HostConnection): string {
  const pins = (pinnedKeyTexts(c.hostKey) ?? []).sort();
  const material = JSON.stringify([
    pins,
    c.knownHostsFile ?? null,
    c.trustOnFirstUse === true,
    c.privateKey ?? null,
    c.privateKeyPath ?? null,
    c.passphrase ?? null,
    c.password ?? null,
    c.agent ?? null,
  ]);
  return createHash("sha256").update(material).digest("hex").slice(0, 16);
}

/** Wrap a command in coreutils `timeout` (SIGTERM, then SIGKILL 5 s later). */
export function withRemoteTimeout(command: string, timeoutMs: number): string {
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  return `timeout -k 5 ${secs} sh -c ${shQuote(command)}`;
}

interface Session {
  readonly key: string;
  readonly conn: HostConnection;
  /** The host key the server presented (and that was verified) when this connection was opened. */
  hostKeyBlob?: Buffer;
  readonly client: Client;
  readonly channels: Semaphore;
  closed: boolean;
}

interface Verification {
  called: boolean;
  blob?: Buffer;
  rejection?: TransportError;
  seen?: SeenHostKey;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A session channel the server refused to open (SSH_MSG_CHANNEL_OPEN_FAILURE, which ssh2 reports
 * with a numeric `reason`) is opened again, 20 ms apart, doubling up to 250 ms, for as long as
 * CHANNEL_OPEN_PATIENCE_MS: nothing ran on the host. OpenSSH frees a session slot only after it
 * has processed the client's close of the channel, so a channel opened right after another one
 * closed can be refused with "no more sessions" even though the pool never has more than
 * `maxChannelsPerConnection` (< MaxSessions) in flight: seen with fast commands (120 `echo`s on 2
 * connections). The budget is time, not a count of attempts: on a loaded machine sshd can take
 * longer than a fixed number of short waits to process closes (a CI run refused a 100-command
 * burst for more than 620 ms, the old six attempts' total).
 */
const CHANNEL_OPEN_PATIENCE_MS = 15_000;
const channelRetryDelay = (attempt: number) => Math.min(20 * 2 ** (attempt - 1), 250);
const refusedByServer = (err: Error) => typeof (err as Error & { reason?: unknown }).reason === "number";

export class SshPool {
  private readonly sessions = new Map<string, Promise<Session>>();
  /** Connections that are up, by pool key. */
  private readonly live = new Map<string, Session>();
  private readonly seenKeys = new Map<string, SeenHostKey>();
  private readonly counters = { opened: 0, dials: 0, dialRetries: 0, execs: 0 };
  private readonly opts: Required<PoolOptions>;

  constructor(opts: PoolOptions = {}) {
    this.opts = {
      maxChannelsPerConnection: opts.maxChannelsPerConnection ?? 8,
      dialAttempts: opts.dialAttempts ?? 4,
      backoffMs: opts.backoffMs ?? 250,
      readyTimeoutMs: opts.readyTimeoutMs ?? 20000,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 15000,
    };
  }

  stats(): PoolStats {
    return { ...this.counters, open: this.live.size };
  }

  /** Host keys presented by every host connected so far (the trust-on-first-use report). */
  hostKeysSeen(): SeenHostKey[] {
    return [...this.seenKeys.values()];
  }

  /** The pooled connection for `conn`, dialing it if needed. Concurrent callers share one dial. */
  async connect(conn: HostConnection): Promise<void> {
    await this.session(conn);
  }

  /** Run a command; a non-zero exit is a result, not an error (the caller knows what it means). */
  async exec(conn: HostConnection, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const session = await this.session(conn);
    const wrapped = opts.timeoutMs !== undefined ? withRemoteTimeout(command, opts.timeoutMs) : command;
    return session.channels.run(() => this.execOn(session, wrapped, opts));
  }

  /** Close one host's connection (e.g. after the host was rebuilt); the next use dials again. */
  async drop(conn: HostConnection): Promise<void> {
    const key = connectionKey(conn);
    const p = this.sessions.get(key);
    this.sessions.delete(key);
    if (!p) return;
    const s = await p.catch(() => undefined);
    if (s) await this.retire(s);
  }

  /** Close every connection. The pool stays usable (it will dial again). */
  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    const settled = await Promise.all(all.map((p) => p.catch(() => undefined)));
    // Inner (bastioned) connections first: their sockets are channels of the outer ones.
    const ordered = settled.filter((s): s is Session => s !== undefined).sort((a, b) => depth(b.conn) - depth(a.conn));
    for (const s of ordered) await this.retire(s);
  }

  private async retire(s: Session): Promise<void> {
    // Forget it now, so its 'close' event cannot retire a newer connection under the same key.
    if (this.live.get(s.key) === s) this.live.delete(s.key);
    await endClient(s.client);
  }

  // -------------------------------------------------------------------------------------------

  private session(conn: HostConnection): Promise<Session> {
    const key = connectionKey(conn);
    const existing = this.sessions.get(key);
    // A reused connection is verified again against this request's trust: a known_hosts file
    // may have changed since (a key marked @revoked, a pin replaced) — a mismatch is refused.
    if (existing) return existing.then((s) => this.recheck(s, conn));
    const p = this.dial(conn, key);
    this.sessions.set(key, p);
    // A failed dial must not poison the pool: the next caller dials afresh.
    p.catch(() => {
      if (this.sessions.get(key) === p) this.sessions.delete(key);
    });
    return p;
  }

  private recheck(s: Session, conn: HostConnection): Session {
    if (s.hostKeyBlob === undefined) return s;
    const port = portOf(conn);
    const verdict = verifyHostKey(conn, port, resolveTrust(conn), s.hostKeyBlob);
    if (verdict.error) throw verdict.error;
    return s;
  }

  private async dial(conn: HostConnection, key: string): Promise<Session> {
    validateConnection(conn);
    for (let attempt = 1; ; attempt++) {
      this.counters.dials++;
      try {
        return await this.dialOnce(conn, key);
      } catch (e) {
        // Retry only when nothing reached the SSH layer: never after a host key or auth failure
        // (retrying those would hammer fail2ban / MaxAuthTries and hide a real problem).
        if (!(e instanceof TransportError) || !e.retryable || attempt >= this.opts.dialAttempts) throw e;
        this.counters.dialRetries++;
        const delay = Math.min(5000, this.opts.backoffMs * 2 ** (attempt - 1));
        await sleep(delay * (0.75 + Math.random() * 0.5));
      }
    }
  }

  private async dialOnce(conn: HostConnection, key: string): Promise<Session> {
    const port = portOf(conn);
    const trust = resolveTrust(conn);
    const auth = resolveAuth(conn);
    const sock = conn.bastion ? await this.viaBastion(conn, conn.bastion, port) : undefined;

    const verification: Verification = { called: false };
    const client = new (require("ssh2") as typeof import("ssh2")).Client();
    client.setMaxListeners(100);
    const config: ConnectConfig = {
      username: conn.user,
      readyTimeout: this.opts.readyTimeoutMs,
      keepaliveInterval: this.opts.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      tryKeyboard: false,
      ...auth,
      // Runs during key exchange, before the client sends its user name or any credential.
      hostVerifier: (keyBlob: Buffer) => {
        verification.called = true;
        verification.blob = Buffer.from(keyBlob);
        const verdict = verifyHostKey(conn, port, trust, keyBlob);
        verification.seen = verdict.seen;
        if (verdict.error) verification.rejection = verdict.error;
        return verdict.error === undefined;
      },
      ...(trust.algorithms.length > 0 ? { algorithms: { serverHostKey: trust.algorithms as never } } : {}),
      ...(sock ? { sock } : { host: conn.address, port }),
    };
    return this.handshake(conn, key, port, client, config, verification);
  }

  /** A channel to the host's SSH port through its bastion's (pooled) session. */
  private async viaBastion(conn: HostConnection, via: HostConnection, port: number): Promise<Duplex> {
    const { host, address } = conn;
    const bastion = await this.session(via).catch((e: unknown) => {
      throw new TransportError(host, "connect", `via bastion ${via.host}: ${(e as Error).message}`, (e as TransportError).code ?? "DIAL");
    });
    return new Promise<Duplex>((resolve, reject) => {
      bastion.client.forwardOut("127.0.0.1", 0, address, port, (err, stream) => {
        if (!err) return resolve(stream);
        const reason = (err as Error & { reason?: number }).reason;
        reject(
          new TransportError(
            host,
            "connect",
            `bastion ${via.host} cannot reach ${address}:${port} (${err.message})`,
            "DIAL",
            reason === OPEN_CONNECT_FAILED,
          ),
        );
      });
    });
  }

  /** Connects and settles once: the pooled session when ready, else the first failure (the host key's rejection first). */
  private handshake(
    conn: HostConnection,
    key: string,
    port: number,
    client: Client,
    config: ConnectConfig,
    verification: Verification,
  ): Promise<Session> {
    const { host, address } = conn;
    return new Promise<Session>((resolve, reject) => {
      let settled = false;
      const session: Session = { key, conn, client, channels: new Semaphore(this.opts.maxChannelsPerConnection), closed: false };
      const fail = (e: TransportError) => {
        if (settled) return;
        settled = true;
        reject(e);
        client.end();
      };
      client.on("ready", () => {
        if (settled) return;
        settled = true;
        this.counters.opened++;
        if (verification.blob) session.hostKeyBlob = verification.blob;
        this.live.set(key, session);
        if (verification.seen) this.seenKeys.set(key, verification.seen);
        resolve(session);
      });
      client.on("error", (err: Error & { level?: string; code?: string }) => {
        if (settled) return; // after ready: the 'close' handler below retires the session
        fail(classifyConnectError(conn, port, err, verification, this.opts.readyTimeoutMs));
      });
      client.on("close", () => {
        session.closed = true;
        // Retire the pooled entry only if it is still this connection (not a newer redial).
        if (this.live.get(key) === session) {
          this.live.delete(key);
          this.sessions.delete(key);
        }
        fail(
          verification.rejection ??
            new TransportError(
              host,
              "connect",
              `connection closed by ${address}:${port} before authentication finished`,
              "DIAL",
              !verification.called,
            ),
        );
      });
      try {
        client.connect(config);
      } catch (e) {
        // Synchronous config errors from ssh2 (e.g. an unparsable private key). ssh2's message
        // names the problem without echoing the key.
        fail(new TransportError(host, "connect", (e as Error).message, "CONFIG"));
      }
    });
  }

  private execOn(s: Session, command: string, opts: ExecOptions): Promise<ExecResult> {
    const { host } = s.conn;
    const step = opts.step ?? "exec";
    this.counters.execs++;
    return new Promise<ExecResult>((resolve, reject) => {
      if (s.closed) return reject(new TransportError(host, step, "connection lost", "CONNECTION_LOST"));
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const onClientClose = () => finish(new TransportError(host, step, "connection lost before the command finished", "CONNECTION_LOST"));
      const finish = (e: TransportError | null, r?: ExecResult) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        s.client.removeListener("close", onClientClose);
        if (e) reject(e);
        else resolve(r!);
      };
      s.client.once("close", onClientClose);
      const onChannel = (err: Error | undefined, ch: ClientChannel) => {
        if (err) {
          return finish(
            s.closed
              ? new TransportError(host, step, "connection lost", "CONNECTION_LOST")
              : new TransportError(host, step, `cannot open an SSH channel (${err.message})`, "PROTOCOL"),
          );
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | undefined;
        let exited = false;
        ch.on("data", (d: Buffer) => out.push(d));
        ch.stderr.on("data", (d: Buffer) => errOut.push(d));
        ch.on("exit", (c: number | null, sig?: string) => {
          exited = true;
          if (typeof c === "number") code = c;
          else signal = sig;
        });
        ch.on("close", () => {
          if (!exited) return finish(new TransportError(host, step, "connection lost before the command finished", "CONNECTION_LOST"));
          const wrapped = opts.timeoutMs !== undefined;
          finish(null, {
            code,
            ...(signal === undefined ? {} : { signal }),
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(errOut).toString("utf8"),
            timedOut: wrapped && (code === 124 || code === 137),
          });
        });
        // ssh2 honours the channel window, buffering the rest: large stdin is fine.
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
        if (opts.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            try {
              ch.signal("KILL");
            } catch {
              /* older servers ignore signal requests; closing the channel is the fallback */
            }
            ch.close();
            finish(new TransportError(host, step, `no answer within ${Math.round(opts.timeoutMs! / 1000) + 10} s`, "TIMEOUT"));
          }, opts.timeoutMs + 10_000);
        }
      };
      execChannel(s, command, () => !done, onChannel);
    });
  }
}

/**
 * `client.exec`, opening again a session channel the server refused (for CHANNEL_OPEN_PATIENCE_MS) while
 * `wanted()`. A connection closed before a retry: `cb` gets an error (ssh2's exec throws then).
 */
function execChannel(
  s: Session,
  command: string,
  wanted: () => boolean,
  cb: (err: Error | undefined, ch: ClientChannel) => void,
  attempt = 1,
  since = Date.now(),
): void {
  s.client.exec(command, (err: Error | undefined, ch: ClientChannel) => {
    if (err && !s.closed && refusedByServer(err) && Date.now() - since < CHANNEL_OPEN_PATIENCE_MS) {
      setTimeout(() => {
        if (!wanted()) return;
        if (s.closed) return cb(new Error("connection closed"), ch);
        try {
          execChannel(s, command, wanted, cb, attempt + 1, since);
        } catch (e) {
          cb(e instanceof Error ? e : new Error(String(e)), ch);
        }
      }, channelRetryDelay(attempt));
      return;
    }
    cb(err, ch);
  });
}

const depth = (c: HostConnection): number => (c.bastion ? 1 + depth(c.bastion) : 0);

function endClient(client: Client): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      client.destroy();
      resolve();
    }, 2000);
    client.once("close", () => {
      clearTimeout(t);
      resolve();
    });
    client.end();
  });
}

function validateConnection(c: HostConnection): void {
  const bad = (what: string) => new TransportError(c.host || "(unnamed host)", "connect", what, "CONFIG");
  if (!c.host) throw bad("connection.host is empty");
  if (!c.address) throw bad("connection.address is empty");
  if (!c.user) throw bad("connection.user is empty");
  const port = portOf(c);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`connection.port ${JSON.stringify(c.port)} is not a TCP port`);
}

interface Trust {
  readonly pinned: readonly PublicKey[];
  readonly revoked: readonly PublicKey[];
  /** Where the pins came from, for messages. */
  readonly source: string;
  readonly algorithms: readonly string[];
}

function resolveTrust(conn: HostConnection): Trust {
  const port = portOf(conn);
  const pinned: PublicKey[] = [];
  const revoked: PublicKey[] = [];
  const sources: string[] = [];
  const lines = conn.hostKey === undefined ? [] : typeof conn.hostKey === "string" ? [conn.hostKey] : [...conn.hostKey];
  for (const line of lines) {
    try {
      pinned.push(parsePublicKeyLine(line));
    } catch (e) {
      throw new TransportError(conn.host, "connect", `connection.hostKey: ${(e as Error).message}`, "CONFIG");
    }
  }
  if (lines.length > 0) sources.push("connection.hostKey");
  if (conn.knownHostsFile) {
    let text = "";
    try {
      text = readFileSync(expandHome(conn.knownHostsFile), "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A missing file is just "nothing known yet" when the user opted into TOFU.
      if (!(code === "ENOENT" && conn.trustOnFirstUse)) {
        throw new TransportError(conn.host, "connect", `cannot read known_hosts file ${conn.knownHostsFile} (${code})`, "CONFIG");
      }
    }
    const found = knownHostsLookup(text, knownHostsNames(conn.address, port, conn.host));
    pinned.push(...found.keys);
    revoked.push(...found.revoked);
    sources.push(conn.knownHostsFile);
  }
  const usable = pinned.map((k) => k.type);
  return { pinned, revoked, source: sources.join(" and ") || "no pinned key", algorithms: hostKeyAlgorithms(usable) };
}

function verifyHostKey(conn: HostConnection, port: number, trust: Trust, keyBlob: Buffer): { error?: TransportError; seen: SeenHostKey } {
  const fp = fingerprint(keyBlob);
  let type: string;
  try {
    type = blobKeyType(keyBlob);
  } catch {
    type = "unknown";
  }
  const where = `${conn.address}:${port}`;
  const seen = (tofu: boolean): SeenHostKey => ({
    host: conn.host,
    address: conn.address,
    port,
    key: type === "unknown" ? `unknown ${keyBlob.toString("base64")}` : formatPublicKey(keyBlob),
    fingerprint: fp,
    trustedOnFirstUse: tofu,
  });
  const err = (detail: string, code: TransportErrorCode) => ({
    error: new TransportError(conn.host, "connect", detail, code),
    seen: seen(false),
  });

  if (trust.revoked.some((k) => k.blob.equals(keyBlob))) {
    return err(`host key ${fp} of ${where} is marked @revoked in ${conn.knownHostsFile}; refusing to connect`, "HOSTKEY_REVOKED");
  }
  if (trust.pinned.some((k) => k.blob.equals(keyBlob))) return { seen: seen(false) };
  if (trust.pinned.length > 0) {
    const expected = trust.pinned.map((k) => `${k.type} ${fingerprint(k.blob)}`).join(", ");
    return err(
      `host key mismatch for ${where}: ${trust.source} expects ${expected}, the server presented ${type} ${fp}. ` +
        `Someone may be intercepting the connection, or the host was rebuilt; update the pinned key only after checking it out of band`,
      "HOSTKEY_MISMATCH",
    );
  }
  if (conn.trustOnFirstUse) return { seen: seen(true) };
  return err(
    `unknown host key ${type} ${fp} for ${where} (${trust.source}); refusing to connect. ` +
      `Pin it with connection.hostKey or knownHostsFile after checking the fingerprint, or set trustOnFirstUse: true`,
    "HOSTKEY_UNKNOWN",
  );
}

function resolveAuth(conn: HostConnection): Partial<ConnectConfig> {
  const auth: { privateKey?: string | Buffer; passphrase?: string; password?: string; agent?: string } = {};
  if (conn.privateKey !== undefined) auth.privateKey = conn.privateKey;
  else if (conn.privateKeyPath !== undefined) {
    try {
      auth.privateKey = readFileSync(expandHome(conn.privateKeyPath));
    } catch (e) {
      throw new TransportError(
        conn.host,
        "connect",
        `cannot read private key ${conn.privateKeyPath} (${(e as NodeJS.ErrnoException).code})`,
        "CONFIG",
      );
    }
  }
  if (conn.passphrase !== undefined) auth.passphrase = conn.passphrase;
  if (conn.password !== undefined) auth.password = conn.password;
  const agent = conn.agent === true ? process.env.SSH_AUTH_SOCK : typeof conn.agent === "string" ? conn.agent : undefined;
  if (conn.agent === true && !agent)
    throw new TransportError(conn.host, "connect", "connection.agent is true but SSH_AUTH_SOCK is not set", "CONFIG");
  if (agent) auth.agent = agent;
  if (auth.privateKey === undefined && auth.password === undefined && auth.agent === undefined) {
    if (conn.agent !== false && process.env.SSH_AUTH_SOCK) auth.agent = process.env.SSH_AUTH_SOCK;
    else throw new TransportError(conn.host, "connect", "no credential: set privateKeyPath, privateKey, password or agent", "CONFIG");
  }
  return auth;
}

function classifyConnectError(
  conn: HostConnection,
  port: number,
  err: Error & { level?: string; code?: string },
  v: Verification,
  readyTimeoutMs: number,
): TransportError {
  const { host, address } = conn;
  if (v.rejection) return v.rejection;
  const where = `${address}:${port}`;
  switch (err.level) {
    case "client-authentication":
      return new TransportError(host, "connect", `authentication failed for ${conn.user}@${where} (${err.message})`, "AUTH");
    case "client-socket":
    case "client-dns": {
      const code = err.code ?? "";
      // A reset after the key exchange started is not a dial error any more.
      const dial = !v.called && DIAL_ERROR_CODES.has(code);
      return new TransportError(host, "connect", `cannot reach ${where} (${code || err.message})`, dial ? "DIAL" : "PROTOCOL", dial);
    }
    case "client-timeout":
      return new TransportError(
        host,
        "connect",
        `no SSH session with ${where} within ${readyTimeoutMs} ms${v.called ? " (stalled after the key exchange)" : ""}`,
        "TIMEOUT",
        !v.called,
      );
    default:
      // e.g. "Connection lost before handshake" (sshd's MaxStartups drop): still a dial error
      // while no key exchange happened.
      return new TransportError(host, "connect", `SSH error with ${where}: ${err.message}`, v.called ? "PROTOCOL" : "DIAL", !v.called);
  }
}

let defaultPool: SshPool | undefined;

/**
 * The process-wide pool: one connection per host per process, shared by every RemoteFile the
 * dynamic provider handles in this process.
 */
export function getDefaultPool(): SshPool {
  defaultPool ??= new SshPool();
  return defaultPool;
}
