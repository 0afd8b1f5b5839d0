/**
 * THE masking module: every output that shows rendered or live content (the render tree, `haforge
 * diff`, `diff --live`, the RemoteFile provider's diffs and error messages) masks secrets here,
 * with one placeholder format:
 *
 *     <secret:LABEL h:XXXXXXXX>
 *
 * LABEL names the secret (`secret:rabbitmqPassword`, `corosync/authkey/db`, `file` for a file
 * masked whole; literal inventory values are labelled `value`, without any hash of them). The 8
 * hex digits are an HMAC-SHA256 of the value keyed with the inventory's mask salt (the
 * `haforge/mask-salt` material, kept with the other generated material, so the same on every
 * machine that renders the inventory): a changed secret still shows as a changed placeholder, and a
 * weak password cannot be confirmed from it. Without a salt the key is random per process (stable
 * within one run, meaningless outside it) — never a plain hash.
 *
 * Secret VALUES are masked, not whole files, so the rest of a file stays reviewable. Each value is
 * masked in every form a renderer may write it (JSON/YAML/shell/XML/URL escapes, base64); values a
 * renderer derives (keepalived's auth_pass cut to 8 characters) are added by the caller
 * (src/render/derived-secrets.ts). Only binary secret files, and secret files where no known value is found (e.g. a hash
 * derived from a password), are masked whole.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { MaterialSpec } from "./materials";

/** The material key of the mask salt (a 32-character token generated once per inventory). */
export const MASK_SALT_KEY = "haforge/mask-salt";

/** The mask salt as a material: generated once with the inventory's other keys (CLI and Pulumi alike). */
export const MASK_SALT_SPEC: MaterialSpec = {
  key: MASK_SALT_KEY,
  kind: { type: "token", length: 32 },
  description: "key of the masked-secret hashes",
};

/** Values shorter than this are not masked textually (they would hit unrelated text). */
export const MIN_MASKED_LENGTH = 4;

const processKey = randomBytes(32).toString("hex");

export function keyedShortHash(value: string | Buffer, salt: string | undefined): string {
  return createHmac("sha256", salt || processKey)
    .update(value)
    .digest("hex")
    .slice(0, 8);
}

/** What a label shows: a literal's canonical key carries an (unkeyed) hash of it, which must not show. */
const shownLabel = (label: string): string => (label.startsWith("value:") ? "value" : label);

export function placeholder(label: string, value: string | Buffer, salt: string | undefined): string {
  return `<secret:${shownLabel(label)} h:${keyedShortHash(value, salt)}>`;
}

/** Placeholders as they appear in masked text (to find them again). */
export const PLACEHOLDER_RE = /<secret:([^\s>]+) h:[0-9a-f]{8}>/g;

const xmlEscape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

/** The forms of `value` a renderer may write: the value itself and its escaped/encoded forms. */
export function secretForms(value: string): string[] {
  const one = (v: string): string[] => [
    v,
    JSON.stringify(v).slice(1, -1), // JSON, YAML double-quoted: \" \\ \n \uXXXX
    v.replace(/[\\"]/g, "\\$&"), // C-style / conf double-quoted
    v.replace(/[\\"$`]/g, "\\$&"), // shell double-quoted
    v.replace(/'/g, "''"), // YAML/SQL single-quoted
    v.replace(/'/g, `'\\''`), // shell single-quoted
    v.replace(/'/g, `'"'"'`),
    xmlEscape(v),
    v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;"),
    encodeURIComponent(v), // URLs (AMQP, Postgres DSNs)
    v.replace(/%/g, "%%"), // systemd specifiers
    Buffer.from(v).toString("base64"),
  ];
  return [...new Set(one(value))].filter((f) => f.length >= MIN_MASKED_LENGTH);
}

/** Secrets to mask: label → value. */
export type MaskSet = ReadonlyMap<string, string>;

interface Needle {
  readonly form: string;
  readonly label: string;
  readonly value: string;
}

/**
 * The needles of the last MaskSets seen, with the entries they were computed from: a render tree
 * masks thousands of files with one set, and computing every escaped form of every secret for each
 * file was most of a 10,000-host render's CPU. An entry is reused only while the set holds the same
 * labels and values (a Map changed in place is computed again).
 */
const needleCache = new WeakMap<MaskSet, { entries: [string, string][]; needles: Needle[] }>();

function needles(secrets: MaskSet): Needle[] {
  const cached = needleCache.get(secrets);
  if (cached && cached.entries.length === secrets.size) {
    let i = 0;
    let same = true;
    for (const [label, value] of secrets) {
      const e = cached.entries[i++]!;
      if (e[0] !== label || e[1] !== value) {
        same = false;
        break;
      }
    }
    if (same) return cached.needles;
  }
  const out = computeNeedles(secrets);
  needleCache.set(secrets, { entries: [...secrets.entries()], needles: out });
  return out;
}

function computeNeedles(secrets: MaskSet): Needle[] {
  const out: Needle[] = [];
  // Labels sorted, then longest form first (stable sort): a value containing another is masked whole.
  for (const [label, value] of [...secrets.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    if (value.length < MIN_MASKED_LENGTH) continue;
    for (const form of secretForms(value)) out.push({ form, label, value });
  }
  return out.sort((a, b) => b.form.length - a.form.length);
}

/** Replace every form of every secret value in `text` by its placeholder. */
export function maskText(text: string, secrets: MaskSet, salt: string | undefined): string {
  let out = text;
  for (const n of needles(secrets)) {
    if (!out.includes(n.form)) continue;
    // Never cut into a placeholder already written (its hash could contain the form).
    const ph = placeholder(n.label, n.value, salt);
    out = out
      .split(/(<secret:[^\s>]+ h:[0-9a-f]{8}>)/)
      .map((part, i) => (i % 2 === 1 ? part : part.split(n.form).join(ph)))
      .join("");
  }
  return out;
}

/** A whole file's content masked as one secret (binary files, secret files without known values). */
export const maskWhole = (content: string | Buffer, salt: string | undefined): string => placeholder("file", content, salt);

/**
 * A file's content for display: secret values masked; a secret file that is binary (base64) or
 * in which no known value was found is masked whole.
 */
export function maskFileContent(
  file: { readonly content: string; readonly secret: boolean; readonly encoding?: string },
  secrets: MaskSet,
  salt: string | undefined,
): string {
  if (file.secret && file.encoding === "base64") {
    // A binary key: masked whole, under its material's name when it is one (`corosync/authkey/db`).
    const known = [...secrets.entries()].find(([, v]) => v === file.content.trim());
    return `${known ? placeholder(known[0], known[1], salt) : maskWhole(file.content, salt)}\n`;
  }
  const out = maskText(file.content, secrets, salt);
  return file.secret && out === file.content ? `${maskWhole(file.content, salt)}\n` : out;
}

/**
 * Is this token of a secret file secret-looking, rather than an ordinary word of the format?
 * Split at `- _ . : / @ = ,`, every segment must read as vocabulary — a lowercase word
 * (`haproxy`, `backend`), a number, a word followed by a number (`node01`), or an all-capital
 * word (`PASS`) — for the token to be ordinary. Anything else of 6 characters or more is
 * secret-looking: mixed case or digits inside a word (`Sup3rS3cret`), hex/base64 (`a3f9c2…`,
 * `dGhpcw==`), symbols (`#!$%`), or a lowercase run too long to be a word (16+).
 * Absolute paths and addresses are vocabulary too.
 */
export function secretLooking(token: string): boolean {
  if (token.length < 6) return false;
  if (/^\/[A-Za-z0-9._/-]*$/.test(token) || /^[0-9.:]+(\/[0-9]+)?$/.test(token)) return false;
  const segments = token.split(/[-_.:/@=,]+/).filter(Boolean);
  if (segments.length === 0) return false;
  return segments.some((seg) => !/^(?:[a-z]{1,15}[0-9]{0,4}|[0-9]+|[A-Z][a-z]{1,15}|[A-Z]{1,15}[0-9]{0,4})$/.test(seg));
}

/**
 * Redaction of a secret file's content out of free text (a validator's or an activation's
 * output may quote the offending line). What is masked, and why:
 *
 * - every line that sets a secret (a word naming one: `auth`, `pass`, `secret`, `key`, `token`,
 *   `cookie`, ... then a value), and its part from that word on, wherever the output quotes them:
 *   a quoted `stats auth admin:haproxy` or `auth_pass hunter2` is hidden whatever the value's
 *   strength — a weak secret is not shown where the file holds it; a file of one token (a
 *   cookie, a token file) is hidden whole;
 * - every secret-looking token of the content (`secretLooking`), wherever it appears;
 * - NOT the ordinary words of the file (`haproxy`, `backend`, `global`, a path, an address): a
 *   secret file's validator output stays readable. A secret that is itself an ordinary word can
 *   only be hidden in the lines that hold it: told apart from the same word elsewhere, it cannot.
 *
 * The RemoteFile provider knows the content only, not which values in it are secrets (the render
 * tree and the review diffs mask by value: maskText).
 */
/** A word that names a secret: the key of a line that sets one. */
const SECRET_KEYWORD = /[A-Za-z_]*(?:pass|secret|auth|token|cookie|credential|psk|key)[A-Za-z_]*/i;

export function redactContent(text: string, secretContent: string, salt?: string): string {
  const pieces = new Map<string, string>();
  let i = 0;
  const lines = secretContent.split(/\r?\n/);
  // A file of one token is the secret itself (an Erlang cookie, a token file): masked whatever it is.
  const whole = secretContent.trim();
  if (whole.length >= MIN_MASKED_LENGTH && !/\s/.test(whole)) pieces.set(`file-${++i}`, whole);
  for (const line of lines) {
    const l = line.trim();
    // A line that sets a secret (`stats auth admin:x`, `auth_pass x`, `password: "x"`): the line,
    // and its part from the secret's keyword on, wherever the output quotes them.
    const key = SECRET_KEYWORD.exec(l);
    if (key && /\S\s+\S|[:=]\s*\S/.test(l.slice(key.index))) {
      pieces.set(`file-${++i}`, l);
      pieces.set(`file-${++i}`, l.slice(key.index));
    }
    for (const tok of l.split(/[\s"'`;,(){}[\]<>]+/)) if (secretLooking(tok)) pieces.set(`file-${++i}`, tok);
    // A token's secret-looking parts alone too (`admin:S3cr3t!`: the part after the colon).
    for (const tok of l.split(/[\s"'`;,(){}[\]<>=:]+/)) if (secretLooking(tok)) pieces.set(`file-${++i}`, tok);
  }
  let out = text;
  for (const [label, p] of [...pieces.entries()].sort((a, b) => b[1].length - a[1].length)) {
    if (!out.includes(p)) continue;
    // Never cut into a placeholder already written.
    out = out
      .split(/(<secret:[^\s>]+ h:[0-9a-f]{8}>)/)
      .map((part, k) => (k % 2 === 1 ? part : part.split(p).join(placeholder(label, p, salt))))
      .join("");
  }
  return out;
}
