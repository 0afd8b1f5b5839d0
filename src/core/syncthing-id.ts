/**
 * Syncthing device IDs, computed from a device certificate so that every host's config.xml can
 * list its peers before any syncthing runs. Pure functions, no I/O.
 *
 * The rule (https://docs.syncthing.net/dev/device-ids.html, lib/protocol/deviceid.go and luhn.go):
 * SHA-256 of the certificate's DER bytes → RFC 4648 base32 without the `=` padding (52
 * characters) → after each group of 13 characters a check character (syncthing's own "Luhn mod 32",
 * which, as its source says, "doesn't follow the actual Luhn algorithm": the factor starts at 1
 * on the LEFT and alternates 1,2,1,2…) → 56 characters in 8 groups of 7 joined by `-`.
 */
import { X509Certificate, createHash } from "node:crypto";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (upper case), without padding. */
export function base32NoPad(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Syncthing's check character for a base32 group. Mirrors lib/protocol/luhn.go exactly — including
 * where it differs from textbook Luhn — since the IDs must match what syncthing prints.
 */
export function luhn32(group: string): string {
  let factor = 1;
  let sum = 0;
  for (const ch of group) {
    const codepoint = BASE32.indexOf(ch);
    if (codepoint < 0) throw new Error(`luhn32: '${ch}' is not in the base32 alphabet`);
    let addend = factor * codepoint;
    factor = factor === 2 ? 1 : 2;
    addend = Math.floor(addend / 32) + (addend % 32);
    sum += addend;
  }
  return BASE32[(32 - (sum % 32)) % 32]!;
}

/** Device ID string of a 32-byte SHA-256 digest. */
export function deviceIdFromDigest(digest: Uint8Array): string {
  if (digest.length !== 32) throw new Error(`device ID digest must be 32 bytes, got ${digest.length}`);
  const b32 = base32NoPad(digest); // 52 characters
  let withChecks = "";
  for (let i = 0; i < 4; i++) {
    const group = b32.slice(i * 13, i * 13 + 13);
    withChecks += group + luhn32(group);
  }
  const chunks: string[] = [];
  for (let i = 0; i < withChecks.length; i += 7) chunks.push(withChecks.slice(i, i + 7));
  return chunks.join("-");
}

/** Device ID of a DER certificate. */
export function deviceIdFromDer(der: Uint8Array): string {
  return deviceIdFromDigest(createHash("sha256").update(der).digest());
}

/** Device ID of a PEM certificate (the first CERTIFICATE block). Throws on a malformed PEM. */
export function deviceIdFromPem(pem: string): string {
  return deviceIdFromDer(new X509Certificate(pem).raw);
}

/** Whether `id` is a well-formed device ID whose four check characters are right. */
export function isValidDeviceId(id: string): boolean {
  const flat = id.replace(/-/g, "");
  if (!/^[A-Z2-7]{56}$/.test(flat)) return false;
  for (let i = 0; i < 4; i++) {
    const group = flat.slice(i * 14, i * 14 + 13);
    if (luhn32(group) !== flat[i * 14 + 13]) return false;
  }
  return true;
}
