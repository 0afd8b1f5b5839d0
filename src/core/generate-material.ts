/**
 * Generators for MaterialKind (src/core/materials.ts). Called ONCE per MaterialSpec by whoever
 * keeps materials (the CLI's materials file, the Pulumi dynamic resource that holds them as secret
 * outputs); rendering only ever reads the kept values, so it stays deterministic.
 *
 * Synchronous on purpose: the Pulumi dynamic provider requires this module inside its method and
 * calls it directly. Everything comes from node:crypto; the syncthing device certificate is in
 * ./device-certificate (its ASN.1 libraries load with the first certificate, not with this module,
 * which the Pulumi program loads for its placeholders).
 */
import { generateKeyPairSync, randomBytes, randomInt, type KeyObject } from "node:crypto";
import type { MaterialKind } from "./materials";

const TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Generate one material value of `kind` (see MaterialKind for each value's format). */
export function generateMaterial(kind: MaterialKind): string {
  switch (kind.type) {
    case "random-bytes":
      return randomBytes(kind.bytes).toString("base64");
    case "token":
      return randomToken(kind.length);
    case "rsa-keypair":
      return JSON.stringify(rsaKeyPair(kind.bits, kind.comment));
    case "syncthing-cert":
      return JSON.stringify(selfSignedCertificate(kind.commonName));
  }
}

/** `length` characters from [A-Za-z0-9]; randomInt is uniform (no modulo bias). */
export function randomToken(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return out;
}

// ---------------------------------------------------------------------------------------------
// RSA key pair with an OpenSSH public key

/** `{ privateKey: PKCS#1 PEM, publicKey: "ssh-rsa AAAA… comment" }`. */
export function rsaKeyPair(bits: number, comment: string): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits, publicExponent: 0x10001 });
  return {
    privateKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    publicKey: openSshRsaPublicKey(publicKey, comment),
  };
}

/**
 * OpenSSH `ssh-rsa` public key line: base64 of string("ssh-rsa") ‖ mpint(e) ‖ mpint(n)
 * (RFC 4253 §6.6; string and mpint encodings from RFC 4251 §5).
 */
export function openSshRsaPublicKey(publicKey: KeyObject, comment: string): string {
  const jwk = publicKey.export({ format: "jwk" });
  if (!jwk.n || !jwk.e) throw new Error("not an RSA public key");
  const blob = Buffer.concat([
    sshString(Buffer.from("ssh-rsa")),
    sshMpint(Buffer.from(jwk.e, "base64url")),
    sshMpint(Buffer.from(jwk.n, "base64url")),
  ]);
  return `ssh-rsa ${blob.toString("base64")}${comment ? ` ${comment}` : ""}`;
}

function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** Positive mpint: no superfluous leading zeros, and a 0x00 prefix when the high bit is set. */
function sshMpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let body = unsigned.subarray(i);
  if (body.length > 0 && (body[0]! & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return sshString(body);
}

/** A syncthing device certificate and its key (./device-certificate, loaded on first use). */
export function selfSignedCertificate(commonName: string, now?: Date): { cert: string; key: string } {
  return (require("./device-certificate") as typeof import("./device-certificate")).selfSignedCertificate(commonName, now);
}
