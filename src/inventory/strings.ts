/**
 * What an inventory string may be. Every string field of the schema (schema.ts) uses one of these
 * kinds, so a value that could change the structure of a rendered file or command — a newline, a
 * quote, a `;`, a `/` or `..` in something that becomes a path — is a `schema.invalid` finding
 * with the field's path before anything is planned or rendered.
 *
 * The kinds are narrow on purpose: a unit name is a unit name, an IPv4 address has four octets of
 * at most 255 (`10.213.7.311` is neither an address nor a DNS name: a DNS name's last label is
 * never all digits, RFC 3696 section 2). Only `freeText` (descriptions, Pacemaker parameter
 * values, host vars, the RabbitMQ vhost) may hold quotes, `$` or spaces; it never holds a control
 * character, and the renderers escape it for its target format with the one helper per format in
 * src/render/escape.ts.
 *
 * Each kind carries a JSON Schema `title` (shown in docs/inventory-reference.md) and, where a
 * regex can say it, a `pattern`, so editors flag the value too.
 */
import { isIP } from "node:net";
import { posix } from "node:path";
import { z } from "zod";
import { CONTROL_CHARS } from "../core/escape";

export { CONTROL_CHARS };

export const hasControlChars = (s: string): boolean => CONTROL_CHARS.test(s);

const NO_CONTROL = "must not contain control characters (newline, tab, NUL, ...)";

/** A string of one kind: non-empty, bounded, matching `re`. */
function kind(title: string, re: RegExp, message: string, max = 253) {
  return z
    .string()
    .min(1, `must not be empty (a ${title})`)
    .max(max, `is longer than ${max} characters (a ${title})`)
    .regex(re, message)
    .meta({ title });
}

// ---------------------------------------------------------------------------------------------
// Names

/**
 * An identifier: names of groups, clusters, instances, backends, folders, the inventory itself.
 * Used in file names and config keys: letters, digits, `_`, `.`, `-`; no leading `.`/`-`, no `..`.
 */
export const identifier = kind(
  "identifier",
  /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
  "must be an identifier: letters, digits, '_', '.', '-' (not first), no '..'",
);

/**
 * An inventory host name (and every reference to one). Becomes a directory (`--out DIR/<host>`),
 * a corosync node name, an XML attribute: DNS-like labels, no `..`, no leading/trailing `.`/`-`.
 */
export const hostName = kind(
  "host name",
  /^(?!.*\.\.)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/,
  "must be a host name: letters, digits, '_', '.', '-' (not first or last), no '..'",
);

/** An XML ID (Pacemaker CIB ids): starts with a letter or `_`. */
export const xmlId = kind(
  "XML id",
  /^(?!.*\.\.)[A-Za-z_][A-Za-z0-9_.-]*$/,
  "must be an XML id: a letter or '_' first, then letters, digits, '_', '.', '-'",
);

/**
 * A systemd unit / supervisor program name without its `.service` suffix: becomes
 * `/etc/systemd/system/<name>.service.d/`, `[program:<name>]` and an argument of systemctl.
 */
export const unitName = kind(
  "unit name",
  /^(?!.*\.\.)(?!.*\.service$)[A-Za-z0-9_][A-Za-z0-9_.@-]*$/,
  "must be a unit name without '.service': letters, digits, '_', '.', '@', '-' (not first), no '..'",
  200,
);

/** A systemd service that haforge only adds a drop-in to: a unit name, `.service` optional. */
export const serviceUnit = kind(
  "unit name",
  /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.@-]*$/,
  "must be a unit name: letters, digits, '_', '.', '@', '-' (not first), no '..'",
  200,
);

/**
 * A cluster id shared by the nodes of an app (dr-provision RS_HA_ID, often a MAC address):
 * letters, digits, `_`, `.`, `:`, `-`.
 */
export const clusterId = kind(
  "cluster id",
  /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_.:-]*$/,
  "must be an id: letters, digits, '_', '.', ':', '-' (not first), no '..'",
);

/** A Linux network interface name (IFNAMSIZ: at most 15 characters, no '/', ':' or spaces). */
export const interfaceName = kind(
  "interface name",
  /^(?!\.\.?$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/,
  "must be an interface name: at most 15 letters, digits, '_', '.', '-'",
  15,
);

/** A user name (SSH, database, HAProxy stats, RabbitMQ). */
export const userName = kind(
  "user name",
  /^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/,
  "must be a user name: letters, digits, '_', '.', '@', '-' (not first)",
  64,
);

/** An environment variable name (`env:` secret references, host vars keys). */
export const envName = kind(
  "variable name",
  /^[A-Za-z_][A-Za-z0-9_]*$/,
  "must be a variable name: letters, digits, '_', not a digit first",
  128,
);

/** A configuration key (Pacemaker params/meta/properties, stolon spec, image keys). */
export const configKey = kind(
  "config key",
  /^[A-Za-z_][A-Za-z0-9_.-]*$/,
  "must be a configuration key: a letter or '_' first, then letters, digits, '_', '.', '-'",
  128,
);

/** A secret's name in the stack config: `name` or `namespace:name`. */
export const secretName = kind(
  "secret name",
  /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/,
  "must be a config key: letters, digits, '_', '.', '-', optionally 'namespace:key'",
  200,
);

/** A Kubernetes DNS-1123 label (namespace). */
export const k8sLabel = kind(
  "DNS-1123 label",
  /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/,
  "must be a DNS-1123 label: lower-case letters, digits, '-'",
  63,
);

/** A Kubernetes DNS-1123 subdomain (storage class, ingress class). */
export const k8sName = kind(
  "DNS-1123 subdomain",
  /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/,
  "must be a DNS-1123 subdomain: lower-case letters, digits, '-', '.'",
);

/** A distribution package name (Debian or RPM). */
export const packageName = kind(
  "package name",
  /^[A-Za-z0-9][A-Za-z0-9+._-]*$/,
  "must be a package name: letters, digits, '+', '.', '_', '-'",
  128,
);

/** A package version as the package manager prints it (`3.10.8-1.1+deb12u1`, `1:2.4-3.el9`). */
export const packageVersion = kind(
  "package version",
  /^[A-Za-z0-9][A-Za-z0-9.+~:_-]*$/,
  "must be a package version: letters, digits, '.', '+', '~', ':', '_', '-'",
  128,
);

/** A container image reference (`registry/name:tag` or `@sha256:...`). */
export const imageRef = kind("image reference", /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/, "must be an image reference: registry/name:tag", 512);

// ---------------------------------------------------------------------------------------------
// Addresses

const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;
/** DNS name: labels of letters/digits/`-`/`_`, the last one not all digits (so `10.1.2.311` is not one). */
const DNS =
  /^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*(?![0-9]+$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

export const isIpv4 = (s: string): boolean => IPV4.test(s);
export const isIpAddress = (s: string): boolean => IPV4.test(s) || (isIP(s) === 6 && !hasControlChars(s) && !s.includes("%"));
export const isDnsName = (s: string): boolean => DNS.test(s);

/** An IPv4 (dotted quad, octets <= 255, no leading zeros) or IPv6 address. */
export const ipAddress = z
  .string()
  .min(1, "must not be empty (an IP address)")
  .max(64)
  .refine(isIpAddress, "must be an IPv4 address (four numbers 0-255) or an IPv6 address")
  .meta({ title: "IP address" });

/** An IP address or a DNS name: where haforge or a daemon connects to. */
export const address = z
  .string()
  .min(1, "must not be empty (an IP address or DNS name)")
  .max(253)
  .refine(
    (s) => isIpAddress(s) || isDnsName(s),
    "must be a bare IPv4 address (four numbers 0-255), IPv6 address or DNS name: no port, scheme, user@ or spaces",
  )
  .meta({ title: "IP address or DNS name" });

/**
 * The address haforge's SSH client connects to: an IP address or DNS name, or a link-local IPv6
 * address with its zone (`fe80::1%eth0`). Never written into a config (internalAddress is).
 */
export const connectAddress = z
  .string()
  .min(1, "must not be empty (an IP address or DNS name)")
  .max(253)
  .refine((s) => {
    const zone = /^([0-9A-Fa-f:.]+)%([A-Za-z0-9_.-]{1,15})$/.exec(s);
    if (zone) return isIP(zone[1]!) === 6;
    return isIpAddress(s) || isDnsName(s);
  }, "must be a bare IPv4 address (four numbers 0-255), IPv6 address or DNS name: no port, scheme, user@ or spaces")
  .meta({ title: "IP address or DNS name" });

/** `ADDRESS/PREFIX`, IPv4 or IPv6, prefix within the family's width. */
export const cidr = z
  .string()
  .min(1, "must not be empty (ADDRESS/PREFIX)")
  .max(64)
  .refine((s) => {
    const m = /^([^/]+)\/(0|[1-9][0-9]{0,2})$/.exec(s);
    if (!m || !isIpAddress(m[1]!)) return false;
    return Number(m[2]) <= (IPV4.test(m[1]!) ? 32 : 128);
  }, "must be ADDRESS/PREFIX, e.g. 10.0.0.100/24 (octets 0-255, prefix 0-32; IPv6 prefix 0-128)")
  .meta({ title: "CIDR" });

const PORT = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})";

/** A listen address: `ADDRESS:PORT`, `[IPv6]:PORT`, `*:PORT` or `:PORT`. */
export const bindAddress = z
  .string()
  .min(1, "must not be empty (ADDRESS:PORT)")
  .max(300)
  .refine((s) => {
    const m = new RegExp(`^(.*):(${PORT})$`).exec(s);
    if (!m) return false;
    const host = m[1]!;
    if (host === "" || host === "*") return true;
    const v6 = /^\[(.+)\]$/.exec(host);
    if (v6) return isIP(v6[1]!) === 6 && !v6[1]!.includes("%");
    return IPV4.test(host) || DNS.test(host);
  }, "must be ADDRESS:PORT, [IPv6]:PORT, *:PORT or :PORT (port 1-65535)")
  .meta({ title: "listen address" });

/** An http(s) URL of a service endpoint: scheme, host, optional port and path; nothing else. */
export const url = z
  .string()
  .min(1, "must not be empty (a URL)")
  .max(2048)
  .refine((s) => {
    const m = new RegExp(`^https?://(\\[[0-9A-Fa-f:.]+\\]|[^/:\\[\\]]+)(?::${PORT})?(/[A-Za-z0-9._~%!$&'()*+;=:@/-]*)?$`).exec(s);
    if (!m) return false;
    const host = m[1]!;
    const v6 = /^\[(.+)\]$/.exec(host);
    return v6 ? isIP(v6[1]!) === 6 : IPV4.test(host) || DNS.test(host);
  }, "must be an http:// or https:// URL: scheme, host, optional :port and /path (no spaces, quotes or commas)")
  .meta({ title: "URL" });

// ---------------------------------------------------------------------------------------------
// Values

/**
 * A duration both HAProxy and Pacemaker read the same way: a whole number with an optional unit
 * `ms`, `s`, `m` or `h` (no unit: HAProxy reads milliseconds, Pacemaker seconds — say the unit).
 */
export const duration = kind(
  "duration",
  /^[0-9]{1,9}(?:ms|s|m|h)?$/,
  "must be a duration: a whole number with ms, s, m or h, e.g. 10s",
  12,
);

/** Pacemaker score: INFINITY, -INFINITY, +INFINITY or an integer. */
export const score = z.union([
  z.number().int(),
  kind("score", /^[-+]?(?:INFINITY|[0-9]{1,9})$/, "must be INFINITY, -INFINITY or an integer", 16),
]);

/**
 * An absolute path on a managed host (a syncthing folder): normalized (no `.`/`..` segments, no
 * `//`), not `/` itself, printable, no quotes or backslashes.
 */
export const hostPath = z
  .string()
  .max(4096)
  .refine(
    (s) =>
      s.startsWith("/") &&
      !hasControlChars(s) &&
      !/["'\\`$]/.test(s) &&
      posix.normalize(s) === s &&
      !s.split("/").includes("..") &&
      s !== "/",
    "must be a normalized absolute path below / (no '..', '.', '//', quotes, backslashes or '$')",
  )
  .meta({ title: "absolute path" });

/** A path on the machine running haforge (SSH key, known_hosts): `~/` allowed, printable. */
export const localPath = z
  .string()
  .min(1, "must not be empty (a path)")
  .max(4096)
  .refine((s) => !hasControlChars(s), NO_CONTROL)
  .meta({ title: "local path" });

/** An OpenSSH public key line: `TYPE BASE64 [comment]`. */
export const sshPublicKey = kind(
  "SSH public key",
  /^(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-[A-Za-z0-9@.-]+) [A-Za-z0-9+/]+={0,3}(?: [\x20-\x7e]*)?$/,
  "must be an OpenSSH public key: 'ssh-ed25519 AAAA... [comment]'",
  16384,
);

/**
 * An HAProxy `option httpchk` request: METHOD and an absolute URI, optionally the HTTP version
 * (`GET /healthz`, `HEAD / HTTP/1.1`); no spaces, quotes, `#`, `\` or `$` inside the URI.
 */
export const httpCheck = kind(
  "HTTP check",
  /^(?:GET|HEAD|OPTIONS|POST) \/[A-Za-z0-9._~%!&()*+,;=:@/?-]*(?: HTTP\/1\.[01])?$/,
  "must be METHOD /path, e.g. GET /healthz (GET, HEAD, OPTIONS or POST; no spaces, quotes, '#', '\\' or '$' in the path)",
  1024,
);

/** A Pacemaker agent: `class:provider:type` for OCF, `class:type` otherwise. */
export const pcmkAgent = kind(
  "resource agent",
  /^(?:ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+|(?:stonith|systemd|service|lsb|upstart|nagios):[A-Za-z0-9_.@-]+)$/,
  "must be class:provider:type (ocf:heartbeat:IPaddr2) or class:type (systemd:haproxy, stonith:fence_ipmilan)",
);

/** A fence agent (`fence_ipmilan`, `stonith:fence_ipmilan`). */
export const fenceAgent = kind(
  "fence agent",
  /^(?:stonith:)?[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
  "must be a fence agent name, e.g. fence_ipmilan or stonith:fence_ipmilan",
  128,
);

/**
 * A command line a daemon runs (keepalived track scripts): non-empty, printable. It is a command
 * by design; the renderer quotes it for keepalived's parser.
 */
export const commandLine = z
  .string()
  .max(4096)
  .refine((s) => s.trim() !== "", "must not be empty: a check that runs nothing always passes")
  .refine((s) => !hasControlChars(s), NO_CONTROL)
  .meta({ title: "command line" });

/**
 * A literal secret (password, token, cookie): any printable text, one line. Only SSH private
 * keys span lines (schema.ts KeySecretRef).
 */
export const secretText = z
  .string()
  .refine((s) => !hasControlChars(s), "must be one line of printable text: no newline, tab or other control character")
  .meta({ title: "secret text" });

/** Free text: anything printable, escaped by the renderer for its target format. */
export function freeText(max = 4096) {
  return z
    .string()
    .max(max, `is longer than ${max} characters`)
    .refine((s) => !hasControlChars(s), NO_CONTROL)
    .meta({ title: "text" });
}
