/**
 * Generated key material (corosync authkeys, isolated-group SSH key pairs, syncthing device
 * certificates, API keys). Services declare what they need as MaterialSpecs; material is generated
 * ONCE and then kept: by the CLI in a materials file, by the Pulumi layer as secret outputs of a
 * dynamic resource. Rendering receives the values, so it stays deterministic.
 *
 * `kind` is data, not a closure, so the Pulumi dynamic provider can generate it after
 * serialization (it requires this module inside its method).
 */
export type MaterialKind =
  /** `bytes` random bytes, base64 (corosync authkey: 256). */
  | { readonly type: "random-bytes"; readonly bytes: number }
  /** Random token of `length` characters from [A-Za-z0-9]. */
  | { readonly type: "token"; readonly length: number }
  /** RSA key pair: JSON `{ "privateKey": PEM (PKCS#1), "publicKey": "ssh-rsa AAAA... comment" }`. */
  | { readonly type: "rsa-keypair"; readonly bits: number; readonly comment: string }
  /** Self-signed X.509 certificate for a syncthing device: JSON `{ "cert": PEM, "key": PEM }`. */
  | { readonly type: "syncthing-cert"; readonly commonName: string };

export interface MaterialSpec {
  /** Stable key, namespaced by service: `corosync/authkey/<cluster>`, `syncthing/cert/<host>`. */
  readonly key: string;
  readonly kind: MaterialKind;
  readonly description: string;
}

/** Generated values by MaterialSpec.key. */
export interface Materials {
  readonly [key: string]: string;
}

/** Parse a `syncthing-cert` material value; null when it is not one. */
export function parseSyncthingCert(value: string): { cert: string; key: string } | null {
  try {
    const v = JSON.parse(value) as unknown;
    if (
      v &&
      typeof v === "object" &&
      typeof (v as { cert?: unknown }).cert === "string" &&
      typeof (v as { key?: unknown }).key === "string"
    ) {
      return { cert: (v as { cert: string }).cert, key: (v as { key: string }).key };
    }
  } catch {
    /* not JSON */
  }
  return null;
}
