/**
 * Generated key material (corosync authkeys, isolated-group SSH key pairs, syncthing device
 * certificates, API keys). Services declare what they need as MaterialSpecs; material is generated
 * ONCE and then kept: by the CLI in a materials file, by the Pulumi layer as secret outputs of a
 * dynamic resource. Rendering receives the values, so it stays deterministic.
 *
 * `kind` is data, not a closure, so the Pulumi dynamic provider can generate it after
 * serialization (it requires this module inside its method).
 */
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";

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
  /**
   * Where the material lives on the hosts when no file holds it whole (those are found from the
   * render, materialSources): a certificate pair, a token inside a config file, a key pair an
   * application keeps. With no state the Materials resource reads it back from there (adopts it)
   * instead of generating a new one.
   */
  readonly readBack?: readonly MaterialSource[];
  /**
   * On a Kubernetes target: the Secret key the material is stored under (Tower's SECRET_KEY).
   * With no state the Materials resource reads the live Secret through the Kubernetes API
   * (src/providers/kubernetes-secret.ts) and adopts its value.
   */
  readonly readBackKubernetes?: { readonly namespace: string; readonly name: string; readonly key: string };
  /**
   * The only paths a whole file of this material is read back from (materialSources). A rotated
   * key: the file in place holds the previous generation's key, which must not be adopted as the
   * new one. @default - every file that holds it
   */
  readonly adoptOnlyFrom?: readonly string[];
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

/**
 * Where a generated material lands on a host as a whole file: a file whose bytes ARE the
 * material (a corosync/pacemaker authkey, a consul gossip key, a token such as an Erlang cookie),
 * optionally followed by one newline. With no state (a second operator's first `up`, a lost
 * state), the Materials resource reads the key back from one of these files instead of
 * generating a new one, so keys that already run a cluster are adopted, never replaced.
 */
export interface MaterialSource {
  readonly host: string;
  readonly path: string;
  /** The material is the base64 of the file's bytes (`encoding: base64` files); else the text. */
  readonly base64: boolean;
  /** Text after the material in the file (a trailing newline). @default "" */
  readonly suffix?: string;
  /**
   * The material is the text between these two strings in the file (the first occurrence of the
   * first, then the next of the second): a token inside a config file (syncthing's
   * `<apikey>…</apikey>`).
   */
  readonly between?: readonly [string, string];
  /**
   * A `syncthing-cert` pair: `path` is the certificate (PEM), this the private key (PEM). Adopted
   * only when the certificate parses and the key is its key.
   */
  readonly keyPath?: string;
  /**
   * Read by running this shell script on the host (`path` then only names what is read): its
   * stdout has one line `HAFORGE-MATERIAL <base64 of the value>` when the host holds the
   * material, none when it does not (an application that keeps the key in its database).
   */
  readonly script?: string;
}

/** The line a read-back script (MaterialSource.script) prints the value on. */
export const MATERIAL_LINE_PREFIX = "HAFORGE-MATERIAL ";

/** Material kinds written whole into a file, which can therefore be read back. */
export const ADOPTABLE_KINDS: ReadonlySet<MaterialKind["type"]> = new Set(["random-bytes", "token"]);

/**
 * The files that hold each adoptable material, found in a render made with `placeholders`
 * (distinct per key, so each file is attributed to exactly one material).
 */
export function materialSources(
  files: readonly { readonly host: string; readonly path: string; readonly content: string; readonly encoding?: "utf8" | "base64" }[],
  specs: readonly Pick<MaterialSpec, "key" | "kind" | "adoptOnlyFrom">[],
  placeholders: Materials,
): Record<string, MaterialSource[]> {
  const byValue = new Map<string, string>();
  const only = new Map<string, readonly string[]>();
  for (const s of specs) {
    const v = placeholders[s.key];
    if (ADOPTABLE_KINDS.has(s.kind.type) && v) byValue.set(v, s.key);
    if (s.adoptOnlyFrom) only.set(s.key, s.adoptOnlyFrom);
  }
  const out: Record<string, MaterialSource[]> = {};
  const add = (key: string, src: MaterialSource) => {
    if (only.get(key)?.includes(src.path) === false) return;
    (out[key] ??= []).push(src);
  };
  for (const f of files) {
    if (f.encoding === "base64") {
      const key = byValue.get(f.content);
      if (key) add(key, { host: f.host, path: f.path, base64: true });
      continue;
    }
    const exact = byValue.get(f.content);
    if (exact) add(exact, { host: f.host, path: f.path, base64: false });
    else if (f.content.endsWith("\n") && byValue.has(f.content.slice(0, -1)))
      add(byValue.get(f.content.slice(0, -1))!, { host: f.host, path: f.path, base64: false, suffix: "\n" });
  }
  return out;
}

/**
 * The material read back from a source (`bytes`: the file's bytes, or the script's stdout;
 * `keyBytes`: the key file of a certificate pair), or undefined when it does not hold a value of
 * this kind (wrong length, other characters, a certificate and key that do not belong together):
 * then it is not adopted.
 */
export function adoptedValue(kind: MaterialKind, src: MaterialSource, bytes: Buffer, keyBytes?: Buffer): string | undefined {
  if (src.keyPath !== undefined) return kind.type === "syncthing-cert" && keyBytes ? certPairValue(bytes, keyBytes) : undefined;
  if (src.script !== undefined) {
    const line = bytes
      .toString("utf8")
      .split("\n")
      .find((l) => l.startsWith(MATERIAL_LINE_PREFIX));
    if (line === undefined) return undefined;
    const text = Buffer.from(line.slice(MATERIAL_LINE_PREFIX.length).trim(), "base64").toString("utf8");
    return kind.type === "rsa-keypair" ? rsaPairValue(text) : textValue(kind, text);
  }
  if (src.base64) {
    if (kind.type !== "random-bytes" || bytes.length !== kind.bytes) return undefined;
    return bytes.toString("base64");
  }
  let text = bytes.toString("utf8");
  if (src.between) {
    const [open, close] = src.between;
    const start = text.indexOf(open);
    const end = start < 0 ? -1 : text.indexOf(close, start + open.length);
    if (end < 0) return undefined;
    return textValue(kind, text.slice(start + open.length, end));
  }
  if (src.suffix) {
    if (!text.endsWith(src.suffix)) return undefined;
    text = text.slice(0, -src.suffix.length);
  }
  return textValue(kind, text);
}

/** A token or base64 key given as text, when it has the kind's shape. */
function textValue(kind: MaterialKind, text: string): string | undefined {
  if (kind.type === "token") return /^[A-Za-z0-9]+$/.test(text) && text.length === kind.length ? text : undefined;
  if (kind.type === "random-bytes")
    return /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, "base64").length === kind.bytes ? text : undefined;
  return undefined;
}

/**
 * A certificate and its private key as the host has them (bytes kept, so the files render the
 * same), when the certificate parses and the key is its key.
 */
function certPairValue(certBytes: Buffer, keyBytes: Buffer): string | undefined {
  const cert = certBytes.toString("utf8");
  const key = keyBytes.toString("utf8");
  try {
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) return undefined;
  } catch {
    return undefined;
  }
  return JSON.stringify({ cert, key });
}

/**
 * An RSA key pair `{ privateKey, publicKey }` (JSON text, as an application keeps it), when the
 * private key parses as RSA and the OpenSSH public key is its public half.
 */
function rsaPairValue(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { privateKey?: unknown; publicKey?: unknown };
    if (typeof v.privateKey !== "string" || typeof v.publicKey !== "string") return undefined;
    const priv = createPrivateKey(v.privateKey);
    if (priv.asymmetricKeyType !== "rsa") return undefined;
    const { openSshRsaPublicKey } = require("./generate-material") as typeof import("./generate-material");
    const body = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(" ");
    if (body(openSshRsaPublicKey(createPublicKey(priv), "")) !== body(v.publicKey)) return undefined;
    return JSON.stringify({ privateKey: v.privateKey, publicKey: v.publicKey });
  } catch {
    return undefined;
  }
}

/**
 * Which of the values found on the hosts for one key is the cluster's (adoption with no state).
 * A value held by two or more hosts was shared, so a cluster uses it: the most common one is
 * adopted (a tie between two shared values is ambiguous: none is). A value found on one host
 * only is adopted when no other host holds one. When every host holds a value of its own, none
 * was ever shared: they are package-made (Debian's pacemaker-common writes a random
 * /etc/pacemaker/authkey on every host), nothing is adopted, a key is generated, and the hosts'
 * own files may be replaced (`unshared`).
 */
export function chooseAdopted(found: readonly { host: string; value: string }[]): { value?: string; unshared: boolean } {
  const byValue = new Map<string, Set<string>>();
  for (const f of found) byValue.set(f.value, (byValue.get(f.value) ?? new Set()).add(f.host));
  const ranked = [...byValue].map(([value, hosts]) => ({ value, count: hosts.size })).sort((a, b) => b.count - a.count);
  const [top, next] = ranked;
  if (!top) return { unshared: false };
  if (ranked.length === 1) return { value: top.value, unshared: false };
  if (top.count === 1) return { unshared: true };
  if (next && next.count === top.count) return { unshared: false };
  return { value: top.value, unshared: false };
}
