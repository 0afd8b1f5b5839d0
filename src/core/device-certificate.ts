/**
 * The self-signed device certificate syncthing makes (src/core/generate-material.ts
 * selfSignedCertificate loads this module on first use): the structure encoded with
 * @peculiar/asn1-x509 (RFC 5280 schemas), signed with node:crypto, both synchronous.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
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
