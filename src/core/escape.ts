/**
 * Escaping, one helper per target format. Every string that reaches a rendered file or a command
 * is either of a narrow kind the schema checked (src/inventory/strings.ts: names, addresses,
 * durations...) or goes through the helper of its target format here. No other module quotes or
 * escapes on its own.
 *
 * | format | helper | used for |
 * | --- | --- | --- |
 * | POSIX shell | `shellQuote` (always quoted), `shellWord` (bare when safe) | restart/health/actions, scripts, env files, supervisor `command=` |
 * | systemd unit | `systemdQuote`, `systemdAssignment` | `Environment=`, `Description=` |
 * | INI (supervisor) | `iniValue` | supervisor `environment=` values |
 * | conf (HAProxy-style double quotes) | `confQuote` | haproxy.cfg arguments with spaces or secrets |
 * | XML | `xml` | syncthing config.xml (the CIB is built by xmlbuilder2, which escapes) |
 * | JSON | `json` | patroni.yml / etcd.yml / consul.hcl / rabbitmq.conf values |
 * | YAML | `yaml` | YAML scalars (a JSON string is a YAML double-quoted scalar) |
 *
 * Formats that have no escape for a line break (INI, conf, systemd's comment lines) refuse one:
 * `EscapeError`. The schema's kinds make that unreachable from an inventory (free text holds no
 * control characters), so an EscapeError is a bug in haforge, never a silently broken file.
 */

/** A value the target format cannot represent safely (a bug: the schema should have refused it). */
export class EscapeError extends Error {
  constructor(format: string, value: string, why: string) {
    super(`cannot write ${JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value)} into ${format}: ${why}`);
    this.name = "EscapeError";
  }
}

/** C0/C1 controls, DEL, Unicode line/paragraph separators, BOM, bidi overrides. */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069]/;

const refuseControl = (format: string, s: string): string => {
  if (CONTROL_CHARS.test(s)) throw new EscapeError(format, s, "it contains a control character (newline, tab, NUL, ...)");
  return s;
};

// ---------------------------------------------------------------------------------------------
// POSIX shell

/** Single-quoted for POSIX sh, always: the only character needing care inside '…' is ' itself. */
export function shellQuote(s: string): string {
  if (s.includes("\u0000")) throw new EscapeError("a shell word", s, "a NUL byte cannot be passed to a command");
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Characters that are never special to sh (word splitting, globbing, expansion, operators). */
const SHELL_SAFE = /^[A-Za-z0-9_.,:/@%+=-]+$/;

/** A shell word: bare when it only has safe characters (readable commands), else single-quoted. */
export function shellWord(s: string): string {
  return SHELL_SAFE.test(s) ? s : shellQuote(s);
}

/**
 * A word that is safe bare AND inside double quotes (no `$`, backquote, `"`, `\`, space): for
 * names the schema already restricted (unit, interface, address) that appear in messages too.
 */
export function shellToken(s: string): string {
  if (!SHELL_SAFE.test(s)) throw new EscapeError("a shell token", s, "only letters, digits and _.,:/@%+=- are safe unquoted");
  return s;
}

/** `KEY='value'` for a POSIX shell (`set -a; . FILE`). */
export function shellAssignment(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new EscapeError("a shell assignment", key, "not a variable name");
  return `${key}=${shellQuote(value)}`;
}

// ---------------------------------------------------------------------------------------------
// File names

/**
 * One path segment (a unit, program or host name inside a path): never empty, `.` or `..`, no
 * `/`, no control characters. What keeps a rendered file under its directory.
 */
export function pathSegment(s: string): string {
  if (s === "" || s === "." || s === ".." || s.includes("/") || CONTROL_CHARS.test(s))
    throw new EscapeError("a file name", s, "not a single path segment");
  return s;
}

// ---------------------------------------------------------------------------------------------
// systemd

/**
 * A double-quoted systemd word: `\` and `"` escaped, `%` doubled (specifier expansion), control
 * characters as C escapes (`\n`, `\t`, `\xNN`), which systemd's unquoting understands.
 * https://www.freedesktop.org/software/systemd/man/latest/systemd.syntax.html#Quoting
 */
export function systemdQuote(s: string): string {
  const body = s
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/%/g, "%%")
    .replace(
      /[\u0000-\u001f\u007f]/g,
      (c) => ({ "\n": "\\n", "\t": "\\t", "\r": "\\r" })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
    );
  return `"${refuseControl("a systemd unit", body)}"`;
}

/**
 * One `Environment=` assignment, double-quoted as a whole (`"KEY=value"`); `$` is literal there.
 * https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#Environment=
 */
export function systemdAssignment(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new EscapeError("a systemd Environment=", key, "not a variable name");
  return systemdQuote(`${key}=${value}`);
}

/** Text on one line of a unit file (Description=, comments): no line break, `%` doubled. */
export function systemdLine(s: string): string {
  return refuseControl("a systemd unit line", s).replace(/%/g, "%%");
}

// ---------------------------------------------------------------------------------------------
// INI (supervisor: Python configparser with %-interpolation)

/**
 * A supervisor `KEY="value"` value: `\` and `"` escaped, `%` doubled (supervisor expands
 * `%(here)s`). INI has no escape for a line break: refused.
 * http://supervisord.org/configuration.html#program-x-section-values (environment)
 */
export function iniValue(s: string): string {
  return `"${refuseControl("an INI value", s)
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/%/g, "%%")}"`;
}

/** Text on one INI line (supervisor `command=`, comments): no line break, `%` doubled. */
export function iniLine(s: string): string {
  return refuseControl("an INI line", s).replace(/%/g, "%%");
}

// ---------------------------------------------------------------------------------------------
// conf (HAProxy-style line configs)

/**
 * HAProxy 2.x double-quoted argument: `\`, `"` and `$` (environment expansion inside double
 * quotes) are escaped; `#` and spaces are literal inside quotes. A line break is refused.
 */
export function confQuote(s: string): string {
  return `"${refuseControl("a config line", s).replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** A bare token on a config line (corosync, keepalived, haproxy): no line break, no `#`, no space. */
export function confToken(s: string): string {
  if (!/^[^\s#;"'\\{}]+$/.test(s)) throw new EscapeError("a config token", s, "it has spaces, quotes, braces, '#' or ';'");
  return s;
}

// ---------------------------------------------------------------------------------------------
// XML, JSON, YAML

/** XML text or attribute value; control characters other than tab/LF/CR are not XML at all. */
export function xml(s: string): string {
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s))
    throw new EscapeError("XML", s, "it contains a character XML 1.0 cannot hold");
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")
    .replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON value (`null` for undefined); U+2028/U+2029 escaped too. */
export function json(v: unknown): string {
  return JSON.stringify(v ?? null).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** A YAML scalar: a JSON string is a valid YAML double-quoted scalar (1.2, and 1.1 for these escapes). */
export function yaml(v: unknown): string {
  return json(v);
}
