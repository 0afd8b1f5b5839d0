/**
 * Generators for MaterialKind (src/core/materials.ts). Called ONCE per MaterialSpec by whoever
 * keeps materials (the CLI's materials file, the Pulumi dynamic resource that holds them as secret
 * outputs); rendering only ever reads the kept values, so it stays deterministic.
 *
 * Synchronous on purpose: the Pulumi dynamic provider requires this module inside its method and
 * calls it directly. Everything comes from node:crypto; the certificate structure is encoded with
 * @peculiar/asn1-x509 (RFC 5280 schemas) and signed with node:crypto, both synchronous.
 */
import { generateKeyPairSync, randomBytes, randomInt, sign, type KeyObject } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_kp_clientAuth,
  id_kp_serverAuth,
} from "@peculiar/asn1-x509";
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

// ---------------------------------------------------------------------------------------------
// Self-signed device certificate (syncthing)

/** ecdsa-with-SHA384 (RFC 5758 §3.2): parameters MUST be absent. */
const ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3";
const OID_O = "2.5.4.10";
const OID_OU = "2.5.4.11";
const OID_CN = "2.5.4.3";
const TWENTY_YEARS_MS = 20 * 365.25 * 24 * 3600 * 1000;

function rdn(type: string, value: string): RelativeDistinguishedName {
  return new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/**
 * A certificate shaped like the ones `syncthing generate` makes (lib/tlsutil NewCertificate):
 * ECDSA P-384 key, O=Syncthing / OU=Automatically Generated / CN=<commonName>, key usage
 * digitalSignature+keyEncipherment, EKU serverAuth+clientAuth, CA:false, SAN DNS:<commonName>,
 * valid from the start of today (UTC) for 20 years. The key is SEC1 PEM ("EC PRIVATE KEY"), as
 * syncthing writes it. The device ID is the SHA-256 of the DER, so it is fixed once generated.
 */
export function selfSignedCertificate(commonName: string, now: Date = new Date()): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-384" });
  const spki = AsnConvert.parse(publicKey.export({ type: "spki", format: "der" }), SubjectPublicKeyInfo);
  const notBefore = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const notAfter = new Date(notBefore.getTime() + TWENTY_YEARS_MS);
  // A positive 63-bit serial: the top bit of the first byte clear so DER keeps it non-negative.
  const serial = randomBytes(8);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const name = new Name([rdn(OID_O, "Syncthing"), rdn(OID_OU, "Automatically Generated"), rdn(OID_CN, commonName)]);
  const sigAlg = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA384 });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: sigAlg,
    issuer: name,
    validity: new Validity({ notBefore, notAfter }),
    subject: name,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_subjectAltName, false, new SubjectAlternativeName([new GeneralName({ dNSName: commonName })])),
    ]),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  // dsaEncoding "der": X.509 carries ECDSA signatures as DER SEQUENCE { r, s } (RFC 5480 / 3279).
  const signature = sign("sha384", tbsDer, { key: privateKey, dsaEncoding: "der" });
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: sigAlg, signatureValue: new Uint8Array(signature).buffer });
  const der = Buffer.from(AsnConvert.serialize(cert));
  return { cert: pem("CERTIFICATE", der), key: privateKey.export({ type: "sec1", format: "pem" }).toString() };
}

function pem(label: string, der: Buffer): string {
  const b64 = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
