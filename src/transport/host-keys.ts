/**
 * Host key pinning: OpenSSH public-key lines and known_hosts files, compared as raw key blobs.
 *
 * Formats follow sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT": comma-separated host patterns (`*`, `?`,
 * `!negation`, `[host]:port` for non-22 ports), hashed entries `|1|salt|hmac-sha1(host)`, and the
 * `@revoked` marker. `@cert-authority` lines are skipped: certificate host keys are not supported
 * by ssh2, and treating a CA key as a host key would be wrong.
 */
import { createHash, createHmac } from "node:crypto";

export interface PublicKey {
  /** Key type as named in the blob, e.g. "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa". */
  readonly type: string;
  /** The SSH wire-format key blob (what the server sends during key exchange). */
  readonly blob: Buffer;
}

/** The type string embedded at the start of a key blob (uint32 length + name). */
export function blobKeyType(blob: Buffer): string {
  if (blob.length < 4) throw new Error("host key blob too short");
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) throw new Error("host key blob malformed");
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** Parse `ssh-ed25519 AAAA… [comment]` (the .pub / ssh-keyscan format). Throws on garbage. */
export function parsePublicKeyLine(line: string): PublicKey {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) throw new Error(`not an OpenSSH public key line: expected "<type> <base64> [comment]"`);
  const [type, b64] = parts as [string, string];
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error(`not an OpenSSH public key line: the key is not base64`);
  const blob = Buffer.from(b64, "base64");
  const inner = blobKeyType(blob);
  if (inner !== type) throw new Error(`public key line says ${type} but the key inside is ${inner}`);
  return { type, blob };
}

/** `SHA256:…` as printed by `ssh-keygen -lf` and by OpenSSH's warnings. */
export const fingerprint = (blob: Buffer): string => `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;

/** The `.pub`-style line for a key blob (what a trust-on-first-use report hands back for pinning). */
/** A public key line as OpenSSH compares it: type and base64, no comment. */
export const publicKeyText = (line: string): string => line.trim().split(/\s+/).slice(0, 2).join(" ");

/** A connection's pinned key or keys as OpenSSH compares them; undefined when none is pinned. */
export const pinnedKeyTexts = (hostKey: string | readonly string[] | undefined): string[] | undefined =>
  hostKey === undefined ? undefined : (typeof hostKey === "string" ? [hostKey] : [...hostKey]).map(publicKeyText);

export const formatPublicKey = (blob: Buffer): string => `${blobKeyType(blob)} ${blob.toString("base64")}`;

/** Names to look a host up under, OpenSSH style: `[addr]:port` unless the port is 22. */
export function knownHostsNames(address: string, port: number, alias?: string): string[] {
  const names = [address, ...(alias && alias !== address ? [alias] : [])];
  return port === 22 ? names : names.map((n) => `[${n}]:${port}`);
}

export interface KnownHostsMatch {
  readonly keys: readonly PublicKey[];
  readonly revoked: readonly PublicKey[];
}

function globToRegExp(pattern: string): RegExp {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i");
}

function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const pat of field.split(",")) {
    if (pat.startsWith("!")) {
      if (globToRegExp(pat.slice(1)).test(name)) return false; // a negated match vetoes the line
    } else if (globToRegExp(pat).test(name)) matched = true;
  }
  return matched;
}

/** Keys (and revoked keys) that a known_hosts text lists for any of `names`. */
export function knownHostsLookup(text: string, names: readonly string[]): KnownHostsMatch {
  const keys: PublicKey[] = [];
  const revoked: PublicKey[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    let fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]!.startsWith("@")) {
      marker = fields[0];
      fields = fields.slice(1);
    }
    if (marker === "@cert-authority" || fields.length < 3) continue;
    if (!names.some((n) => hostFieldMatches(fields[0]!, n))) continue;
    let key: PublicKey;
    try {
      key = parsePublicKeyLine(`${fields[1]} ${fields[2]}`);
    } catch {
      continue; // a malformed line elsewhere in the file must not break this host
    }
    (marker === "@revoked" ? revoked : keys).push(key);
  }
  return { keys, revoked };
}

/**
 * Host key algorithms to offer when keys are pinned: only those the pinned keys can satisfy, so
 * a server that also has, say, an ECDSA key does not present that one and look like a mismatch
 * (OpenSSH's client orders its offer by known_hosts the same way).
 */
export function hostKeyAlgorithms(types: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of types) {
    const algos = t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t];
    for (const a of algos) if (!out.includes(a)) out.push(a);
  }
  return out;
}
