/**
 * Tower 3.x setup-bundle inventory (Ansible INI), read as-is, mapped to the YAML `Inventory` input.
 *
 * The format is Ansible's INI inventory, not a key=value INI file:
 * https://docs.ansible.com/ansible/latest/inventory_guide/intro_inventory.html and the Tower
 * clustering doc (https://github.com/ansible/awx/blob/devel/docs/clustering.md, 3.x era):
 *
 * - `[group]` sections hold HOST LINES: `hostA:2222 rabbitmq_host=10.1.0.1 ansible_host='1.2.3.4'`.
 *   Ansible splits them with Python's `shlex.split(line, comments=True)`: quotes group words,
 *   backslashes escape, and an unquoted `#` starts a comment even in the middle of a word. No INI
 *   library knows these rules, hence `shellSplit` below.
 * - `[group:vars]` sections hold `key=value` lines: Ansible splits at the first `=`, strips, and
 *   evaluates the value as a Python literal unless it contains `#`. We do not use the `ini` package
 *   for them although it reads `key=value`: it cuts values at an unquoted `;` or `#` (a password
 *   `s3cr;t` would silently become `s3cr`), turns `true` into a boolean and drops `__proto__`;
 *   Ansible keeps all of these as written. A wrong password read "successfully" is worse than none.
 * - `[group:children]` sections list child groups; membership is transitive.
 *
 * Every value we map keeps its origin (`[tower] hostC`, `[all:vars] rabbitmq_port`), so findings
 * computed later on YAML paths (`hosts[3].address`) are reported where the user wrote the value.
 * Nothing here throws on bad input: problems become findings with the INI path.
 */
import { error, warning, type Finding } from "../core/findings";
import { MAX_INVENTORY_HOSTS } from "./limits";
import type { InventoryInput } from "./schema";
import { closest } from "./suggest";

// ---------------------------------------------------------------------------------------------
// Tokenizing

export type SplitResult =
  { readonly tokens: string[]; readonly error?: undefined } | { readonly tokens?: undefined; readonly error: string };

/**
 * POSIX-shell word splitting as Python's `shlex.split(s, comments=True)` does it (Ansible host
 * lines): whitespace separates words; '…' is literal; in "…" a backslash escapes only `"` and `\`;
 * outside quotes a backslash escapes any character; an unquoted `#` ends the line.
 */
export function shellSplit(line: string): SplitResult {
  const tokens: string[] = [];
  let token = "";
  let inToken = false; // a word has started (possibly empty, e.g. '')
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inToken) tokens.push(token);
      token = "";
      inToken = false;
      i++;
      continue;
    }
    if (c === "#") break; // shlex: a commenter ends the current word and the line
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { error: "no closing quotation (')" };
      token += line.slice(i + 1, end);
      inToken = true;
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let closed = false;
      while (j < n) {
        const d = line[j]!;
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === "\\") {
          if (j + 1 >= n) return { error: "no escaped character after a backslash" };
          const e = line[j + 1]!;
          // shlex keeps the backslash unless it escapes the quote or itself.
          token += e === '"' || e === "\\" ? e : "\\" + e;
          j += 2;
          continue;
        }
        token += d;
        j++;
      }
      if (!closed) return { error: 'no closing quotation (")' };
      inToken = true;
      i = j + 1;
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= n) return { error: "no escaped character after a backslash" };
      token += line[i + 1]!;
      inToken = true;
      i += 2;
      continue;
    }
    token += c;
    inToken = true;
    i++;
  }
  if (inToken) tokens.push(token);
  return { tokens };
}

/**
 * Ansible's `_parse_value` (ansible-core plugins/inventory/ini.py): the value is evaluated as a
 * Python literal when it is one, else kept as written. So `''` → empty, `'a b'` → `a b`,
 * `5672  # default` → `5672` (Python's parser drops the comment), but `tower # main` stays
 * `tower # main` (not a literal: the comment becomes part of the value; `inlineComment` warns).
 * We cover the literal forms inventories use: strings (with escapes and implicit
 * concatenation), numbers, True/False/None. Lists/dicts stay as text (policy_instance_list is
 * split by its own reader).
 */
export function parseIniValue(raw: string): string {
  return pythonLiteral(raw) ?? raw;
}

const PY_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "\n": "",
};

function pythonLiteral(raw: string): string | undefined {
  const s = raw.trim();
  let i = 0;
  let value = "";
  if (s[0] === "'" || s[0] === '"') {
    // One or more adjacent string literals ('a' "b" == 'ab' in Python).
    while (s[i] === "'" || s[i] === '"') {
      if (s.startsWith(s[i]!.repeat(3), i)) return undefined; // triple quotes: not worth emulating
      const q = s[i]!;
      i++;
      let closed = false;
      while (i < s.length) {
        const c = s[i]!;
        if (c === q) {
          closed = true;
          i++;
          break;
        }
        if (c === "\\") {
          const e = s[i + 1];
          if (e === undefined) return undefined;
          if (Object.hasOwn(PY_ESCAPES, e)) {
            value += PY_ESCAPES[e]!;
            i += 2;
            continue;
          }
          const hex = e === "x" ? /^[0-9a-fA-F]{2}/.exec(s.slice(i + 2)) : e === "u" ? /^[0-9a-fA-F]{4}/.exec(s.slice(i + 2)) : null;
          if (hex) {
            value += String.fromCharCode(parseInt(hex[0], 16));
            i += 2 + hex[0].length;
            continue;
          }
          if (e === "x" || e === "u") return undefined; // Python: SyntaxError, Ansible keeps the text
          value += "\\" + e; // unknown escapes keep their backslash in Python
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      if (!closed) return undefined;
      while (s[i] === " " || s[i] === "\t") i++;
    }
  } else {
    const m = /^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|True|False|None)(?![A-Za-z0-9_.])/.exec(s);
    if (!m) return undefined;
    if (/^[+-]?0[0-9]/.test(m[0])) return undefined; // 0755 is a SyntaxError in Python 3
    value = m[0] === "None" ? "" : m[0].replace(/^\+/, "");
    i = m[0].length;
  }
  const rest = s.slice(i).trim();
  return rest === "" || rest.startsWith("#") ? value : undefined;
}

/** A value that keeps a trailing ` # ...` because it is not a Python literal. */
const inlineComment = (raw: string): boolean => /\s#/.test(raw) && pythonLiteral(raw) === undefined;

/** Most hosts one line may expand to (`web[0001:9999]` is a typo, not a fleet). */
export const MAX_RANGE_HOSTS = 1024;

/**
 * Ansible host pattern → host names and optional port: `host:2222`, `[::1]:22`, and ranges
 * `web[01:20].example.com`, `db-[a:c]`, `node[0:10:2]` (zero padding follows the start bound).
 */
export function expandHostPattern(pattern: string): { names: string[]; port?: string; error?: string } {
  let p = pattern;
  let port: string | undefined;
  const bracketed = /^\[(.+)\]:([0-9]+)$/.exec(p);
  if (bracketed) [, p, port] = bracketed as unknown as [string, string, string];
  const hostport = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/.exec(p);
  if (hostport) [, p, port] = hostport as unknown as [string, string, string];
  const out: string[] = [];
  const err = expandRanges(p, out);
  if (err) return { names: [], error: err };
  return port === undefined ? { names: out } : { names: out, port };
}

function expandRanges(p: string, out: string[]): string | undefined {
  const m = /^([^[]*)\[([^\]]*:[^\]]*)\]([\s\S]*)$/.exec(p);
  if (!m) {
    out.push(p);
    return out.length > MAX_RANGE_HOSTS ? `expands to more than ${MAX_RANGE_HOSTS} hosts` : undefined;
  }
  const [, head, range, tail] = m as unknown as [string, string, string, string];
  const bounds = range.split(":");
  if (bounds.length > 3) return `range [${range}] must be [start:end] or [start:end:step]`;
  const beg = bounds[0] === "" ? "0" : bounds[0]!;
  const end = bounds[1] ?? "";
  const stepText = bounds[2] ?? "1";
  if (!/^[0-9]+$/.test(stepText) || Number(stepText) < 1)
    return `range [${range}]: step ${JSON.stringify(stepText)} is not a positive integer`;
  const step = Number(stepText);
  const items: string[] = [];
  if (/^[0-9]+$/.test(beg) && /^[0-9]+$/.test(end)) {
    const b = Number(beg);
    const e = Number(end);
    if (b > e) return `range [${range}]: start is after end`;
    if ((e - b) / step + 1 > MAX_RANGE_HOSTS) return `range [${range}] expands to more than ${MAX_RANGE_HOSTS} hosts`;
    const width = beg.length > 1 && beg.startsWith("0") ? beg.length : 0;
    for (let v = b; v <= e; v += step) items.push(String(v).padStart(width, "0"));
  } else if (/^[A-Za-z]$/.test(beg) && /^[A-Za-z]$/.test(end)) {
    const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const b = letters.indexOf(beg);
    const e = letters.indexOf(end);
    if (b > e) return `range [${range}]: start is after end`;
    for (let v = b; v <= e; v += step) items.push(letters[v]!);
  } else {
    return `range [${range}] must be numeric ([01:10]) or single letters ([a:f])`;
  }
  for (const item of items) {
    const err = expandRanges(head + item + tail, out);
    if (err) return err;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading the file

interface VarEntry {
  readonly value: string;
  readonly line: number;
  /** INI path of the definition: `[tower] hostA` (host line) or `[tower:vars] key`. */
  readonly origin: string;
}

interface HostEntry {
  readonly name: string;
  readonly firstSection: string;
  readonly line: number;
  port?: { readonly value: string; readonly origin: string };
  readonly vars: Map<string, VarEntry>;
}

interface GroupEntry {
  readonly name: string;
  /** Declared by a hosts or children section (a `:vars` section alone does not declare it). */
  declared: boolean;
  firstLine: number;
  readonly hosts: string[];
  /** Same as `hosts`, for O(1) membership checks on large inventories. */
  readonly hostSet: Set<string>;
  readonly children: { readonly name: string; readonly line: number }[];
  readonly vars: Map<string, VarEntry>;
}

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$/;
const CHILD = /^([^:\]\s]+)\s*(?:[#;].*)?$/;

export interface TowerIniResult {
  /** Absent only when nothing could be read at all (never for a syntactically odd but readable file). */
  readonly data?: InventoryInput;
  readonly findings: Finding[];
  /** YAML-style path → INI notation (see LoadResult.sourcePath). */
  readonly sourcePath: (path: string) => string;
}

/** Vars the Tower installer reads once for the whole install, from `[all:vars]`. */
const GLOBAL_VARS = new Set([
  "rabbitmq_port",
  "rabbitmq_vhost",
  "rabbitmq_username",
  "rabbitmq_password",
  "rabbitmq_cookie",
  "rabbitmq_use_long_name",
  "rabbitmq_use_long_names",
  "rabbitmq_enable_manager",
  "pg_host",
  "pg_port",
  "pg_database",
  "pg_username",
  "pg_password",
  "admin_password",
  "secret_key",
]);

const POLICY_VARS = new Set(["policy_instance_percentage", "policy_instance_minimum", "policy_instance_list"]);

/** Host-level vars we map onto Host fields (first alias of each pair is the modern name). */
const HOST_FIELD_VARS: Record<string, readonly string[]> = {
  address: ["ansible_host", "ansible_ssh_host"],
  user: ["ansible_user", "ansible_ssh_user"],
  port: ["ansible_port", "ansible_ssh_port"],
  privateKeyPath: ["ansible_ssh_private_key_file", "ansible_private_key_file"],
  password: ["ansible_password", "ansible_ssh_pass", "ansible_ssh_password"],
  internalAddress: ["rabbitmq_host"],
  managedByPolicy: ["managed_by_policy"],
  hostKey: ["haforge_host_key"],
  knownHostsFile: ["haforge_known_hosts_file"],
  trustOnFirstUse: ["haforge_trust_on_first_use"],
  agent: ["haforge_ssh_agent"],
  bastion: ["haforge_bastion"],
  init: ["haforge_init"],
};
const HOST_KNOWN = new Set([...Object.values(HOST_FIELD_VARS).flat(), "ansible_connection"]);

/** Every variable name haforge reads from a Tower INI (the "did you mean" candidates). */
const KNOWN_VARS: ReadonlySet<string> = new Set([...HOST_KNOWN, ...GLOBAL_VARS, ...POLICY_VARS, "controller"]);

/** Plan data is plain text: values of vars named like secrets are not copied into `host.vars`. */
const SECRET_NAME = /(pass|passwd|password|secret|token|cookie|private_key)$/i;

const BOOL_TRUE = new Set(["true", "yes", "on", "1", "y"]);
const BOOL_FALSE = new Set(["false", "no", "off", "0", "n"]);

/** What the line reader keeps between lines: the hosts and groups so far, and the section it is in. */
interface IniReader {
  readonly findings: Finding[];
  readonly hosts: Map<string, HostEntry>;
  readonly groups: Map<string, GroupEntry>;
  tooManyHosts: boolean;
  group: string;
  kind: "hosts" | "vars" | "children" | "skip";
}

function ensureGroup(r: IniReader, name: string, line: number): GroupEntry {
  let g = r.groups.get(name);
  if (!g)
    r.groups.set(name, (g = { name, declared: false, firstLine: line, hosts: [], hostSet: new Set(), children: [], vars: new Map() }));
  return g;
}

/** The section a line is in, as findings name it: `[tower]`, `[tower:vars]`, `[tower:children]`. */
const sectionOf = (r: IniReader): string =>
  r.kind === "vars" ? `[${r.group}:vars]` : r.kind === "children" ? `[${r.group}:children]` : `[${r.group}]`;

export function parseTowerIni(text: string): TowerIniResult {
  const r: IniReader = { findings: [], hosts: new Map(), groups: new Map(), tooManyHosts: false, group: "ungrouped", kind: "hosts" };
  ensureGroup(r, "ungrouped", 0).declared = true;

  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[") && !/^\[[^\]]+\]:[0-9]+/.test(line)) readSectionHeader(r, line, lineNo);
    else if (r.kind === "hosts") readHostLine(r, line, lineNo);
    else if (r.kind === "vars") readVarLine(r, line, lineNo);
    else if (r.kind === "children") readChildLine(r, line, lineNo);
  }

  for (const g of r.groups.values()) {
    if (!g.declared && g.name !== "all") {
      r.findings.push(
        warning(
          "ini.undefined-group",
          `[${g.name}]`,
          `group ${JSON.stringify(g.name)} is used (line ${g.firstLine}) but never declared with a [${g.name}] or [${g.name}:children] section`,
          "Ansible rejects vars or children for undeclared groups; add the section (it may be empty).",
        ),
      );
    }
  }

  const members = resolveMembers(r.groups, r.findings);
  return mapToInventory({ hosts: r.hosts, groups: r.groups, members, findings: r.findings });
}

/** `[group]`, `[group:vars]`, `[group:children]`: the section the next lines are in (`skip` after a bad header). */
function readSectionHeader(r: IniReader, line: string, lineNo: number): void {
  const m = SECTION.exec(line);
  if (!m) {
    r.findings.push(
      error(
        "ini.section-syntax",
        `line ${lineNo}`,
        `line ${lineNo}: ${JSON.stringify(shown(line))} is not a section header`,
        "Write `[group]`, `[group:vars]` or `[group:children]`; group names have no spaces, ':' or ']'.",
      ),
    );
    r.kind = "skip";
    return;
  }
  const name = m[1]!;
  const tag = m[2] ?? "hosts";
  if (tag !== "hosts" && tag !== "vars" && tag !== "children") {
    r.findings.push(
      error(
        "ini.section-type",
        `[${name}:${tag}]`,
        `line ${lineNo}: section [${name}:${tag}] has unknown type ${JSON.stringify(tag)}`,
        "Use `:vars` or `:children`.",
      ),
    );
    r.kind = "skip";
    return;
  }
  const g = ensureGroup(r, name, lineNo);
  if (tag !== "vars") g.declared = true;
  r.group = name;
  r.kind = tag;
}

/** A host line of a `[group]` section: `pattern key=value …`, its hosts added to the group with their vars. */
function readHostLine(r: IniReader, line: string, lineNo: number): void {
  const { findings, group } = r;
  const split = shellSplit(line);
  if (split.error !== undefined) {
    const first = line.split(/\s+/)[0] ?? "";
    findings.push(
      error(
        "ini.host-syntax",
        `[${group}] ${clip(first)}`,
        `line ${lineNo}: cannot split the host line: ${split.error}`,
        "Quote values with spaces as key='a b'; close every quote.",
      ),
    );
    return;
  }
  const tokens = split.tokens;
  if (tokens.length === 0) return; // only a comment after all
  const pattern = tokens[0]!;
  const expanded = expandHostPattern(pattern);
  if (expanded.error !== undefined) {
    findings.push(
      error(
        "ini.host-range",
        `[${group}] ${clip(pattern)}`,
        `line ${lineNo}: host pattern ${JSON.stringify(clip(pattern))}: ${expanded.error}`,
      ),
    );
    return;
  }
  const lineVars = hostLineVars(r, line, lineNo, pattern, tokens.slice(1));
  const g = ensureGroup(r, group, lineNo);
  const fresh = expanded.names.filter((n) => !r.hosts.has(n)).length;
  if (r.hosts.size + fresh > MAX_INVENTORY_HOSTS) {
    if (!r.tooManyHosts) {
      r.tooManyHosts = true;
      findings.push(
        error(
          "ini.too-many-hosts",
          `[${group}] ${clip(pattern)}`,
          `line ${lineNo}: host pattern ${JSON.stringify(clip(pattern))} takes the inventory past ${MAX_INVENTORY_HOSTS} hosts; this and later host lines are not read`,
          "Check the ranges ([01:99] is 99 hosts; ranges on several lines add up). Split a fleet this large into several inventories.",
        ),
      );
    }
    return;
  }
  for (const name of expanded.names) addHost(r, g, name, lineNo, expanded.port, lineVars);
}

/** The `key=value` words after a host pattern (a word without `=` is a finding, never echoed if the line may hold a secret). */
function hostLineVars(r: IniReader, line: string, lineNo: number, pattern: string, words: readonly string[]): [string, string][] {
  const lineVars: [string, string][] = [];
  for (const t of words) {
    const eq = t.indexOf("=");
    if (eq <= 0) {
      r.findings.push(
        error(
          "ini.host-var-syntax",
          `[${r.group}] ${clip(pattern)}`,
          `line ${lineNo}: expected key=value after the host name, got ${SECRET_WORD.test(line) ? "a bare word (not shown: the line may hold a secret)" : JSON.stringify(clip(t))}`,
          "Host lines are `name key=value key='value with spaces'`.",
        ),
      );
      continue;
    }
    lineVars.push([t.slice(0, eq), parseIniValue(t.slice(eq + 1))]);
  }
  return lineVars;
}

/** One host of a host line: into the group, its port and vars set (a different value set again is a warning; the last one wins). */
function addHost(
  r: IniReader,
  g: GroupEntry,
  name: string,
  lineNo: number,
  port: string | undefined,
  lineVars: readonly (readonly [string, string])[],
): void {
  const { findings, group } = r;
  let h = r.hosts.get(name);
  if (!h) r.hosts.set(name, (h = { name, firstSection: group, line: lineNo, vars: new Map() }));
  if (!g.hostSet.has(name)) {
    g.hostSet.add(name);
    g.hosts.push(name);
  }
  const origin = `[${group}] ${name}`;
  if (port !== undefined) {
    if (h.port && h.port.value !== port) {
      findings.push(
        warning(
          "ini.host-var-conflict",
          origin,
          `line ${lineNo}: host ${JSON.stringify(name)} is given port ${port} here and ${h.port.value} at ${h.port.origin}; the last one wins`,
        ),
      );
    }
    h.port = { value: port, origin };
  }
  for (const [k, v] of lineVars) {
    const prev = h.vars.get(k);
    if (prev && prev.value !== v) {
      findings.push(
        warning(
          "ini.host-var-conflict",
          origin,
          `line ${lineNo}: ${JSON.stringify(k)} of host ${JSON.stringify(name)} is set again (${prev.origin}, line ${prev.line}); the last one wins`,
          "Set each host var on one line only.",
        ),
      );
    }
    h.vars.set(k, { value: v, line: lineNo, origin });
  }
}

/** A `key=value` line of a `[group:vars]` section. */
function readVarLine(r: IniReader, line: string, lineNo: number): void {
  const { findings } = r;
  const sec = sectionOf(r);
  const eq = line.indexOf("=");
  if (eq <= 0) {
    findings.push(error("ini.var-syntax", sec, `line ${lineNo}: expected key=value in ${sec}, got ${JSON.stringify(shown(line))}`));
    return;
  }
  const k = line.slice(0, eq).trim();
  const raw = line.slice(eq + 1).trim();
  if (k === "" || /\s/.test(k)) {
    findings.push(error("ini.var-syntax", sec, `line ${lineNo}: ${JSON.stringify(shown(k))} is not a variable name`));
    return;
  }
  if (inlineComment(raw)) findings.push(inlineCommentWarning(`${sec} ${k}`, k, lineNo));
  const vars = ensureGroup(r, r.group, lineNo).vars;
  const value = parseIniValue(raw);
  const prev = vars.get(k);
  if (prev) {
    // Values are not quoted back: they may be passwords.
    findings.push(
      prev.value === value
        ? warning(
            "ini.duplicate-var",
            `${sec} ${k}`,
            `line ${lineNo}: ${JSON.stringify(k)} is set again in ${sec} (first at line ${prev.line}), to the same value`,
            "Keep one of the two lines.",
          )
        : error(
            "ini.duplicate-var",
            `${sec} ${k}`,
            `line ${lineNo}: ${JSON.stringify(k)} is set again in ${sec} (first at line ${prev.line}) with a different value; Ansible would silently use the last one`,
            "Keep the line you mean and delete the other.",
          ),
    );
  }
  vars.set(k, { value, line: lineNo, origin: `${sec} ${k}` });
}

/** A group name line of a `[group:children]` section. */
function readChildLine(r: IniReader, line: string, lineNo: number): void {
  const sec = sectionOf(r);
  const m = CHILD.exec(line);
  // `key=value` under :children is a misplaced variable, not a group (and may be a password).
  if (!m || m[1]!.includes("=")) {
    r.findings.push(
      error("ini.children-syntax", sec, `line ${lineNo}: expected a group name in ${sec}, got ${JSON.stringify(shown(line))}`),
    );
    return;
  }
  const child = m[1]!;
  ensureGroup(r, child, lineNo);
  const parent = ensureGroup(r, r.group, lineNo);
  if (!parent.children.some((c) => c.name === child)) parent.children.push({ name: child, line: lineNo });
}

function inlineCommentWarning(path: string, key: string, line: number): Finding {
  return warning(
    "ini.inline-comment",
    path,
    `line ${line}: the value of ${JSON.stringify(key)} keeps its trailing "# ..." text: in :vars sections Ansible drops a comment only after a quoted or numeric value, and so do we`,
    "Put the comment on its own line, or quote the value ('value' # comment).",
  );
}

const clip = (s: string, max = 60): string => (s.length > max ? s.slice(0, max) + "…" : s);

/** Words that name a secret anywhere in a line (rabbitmq_password, admin_pass, SECRET_KEY…). */
const SECRET_WORD = /(pass|passwd|password|secret|token|cookie|private_key)/i;
/**
 * A malformed line as quoted in a finding: cut after the first secret-looking word, so a password
 * on a line that does not parse is never echoed (findings go to terminals, CI logs, --json).
 */
function shown(line: string): string {
  const m = SECRET_WORD.exec(line);
  return m ? `${clip(line.slice(0, m.index + m[0].length))}… (the rest is not shown: it may hold a secret)` : clip(line);
}

/** Transitive hosts of every group (`:children`), in the order they were listed; cycles reported. */
function resolveMembers(groups: Map<string, GroupEntry>, findings: Finding[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const visiting = new Set<string>();
  const reported = new Set<string>();
  const visit = (name: string): string[] => {
    const done = out.get(name);
    if (done) return done;
    const g = groups.get(name);
    if (!g) return [];
    if (visiting.has(name)) {
      if (!reported.has(name)) {
        reported.add(name);
        findings.push(
          error(
            "ini.children-cycle",
            `[${name}:children]`,
            `group ${JSON.stringify(name)} contains itself through [..:children] sections`,
            "Remove one of the child links.",
          ),
        );
      }
      return [];
    }
    visiting.add(name);
    const list = [...g.hosts];
    const seen = new Set(list);
    for (const c of g.children) {
      for (const h of visit(c.name)) {
        if (!seen.has(h)) {
          seen.add(h);
          list.push(h);
        }
      }
    }
    visiting.delete(name);
    out.set(name, list);
    return list;
  };
  for (const name of groups.keys()) visit(name);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mapping to the inventory

interface MapInput {
  readonly hosts: Map<string, HostEntry>;
  readonly groups: Map<string, GroupEntry>;
  readonly members: Map<string, string[]>;
  readonly findings: Finding[];
}

type Json = Record<string, unknown>;

/** What the mapping steps share: the read file, the findings, the YAML path → INI path map, and the value readers. */
interface MapCtx extends MapInput {
  readonly allVars: Map<string, VarEntry>;
  readonly paths: Map<string, string>;
  /** A whole number, or a finding (an empty value is "default": undefined). */
  readonly num: (v: VarEntry | undefined, key: string) => number | undefined;
  /** A boolean (true/yes/on/1/y, false/no/off/0/n), or a finding. */
  readonly bool: (v: VarEntry | undefined, key: string) => boolean | undefined;
}

type Effective = VarEntry & { rank: number };

function mapToInventory(input: MapInput): TowerIniResult {
  const { groups, findings } = input;
  const c: MapCtx = {
    ...input,
    allVars: groups.get("all")?.vars ?? new Map<string, VarEntry>(),
    paths: new Map<string, string>(),
    num: (v, key) => readNumber(findings, v, key),
    bool: (v, key) => readBoolean(findings, v, key),
  };
  warnMisplacedVars(c);
  const hostList = mapHosts(c);
  const tower = mapTower(c);
  const rmq = mapRabbitmq(c);

  const data: Json = { hosts: hostList };
  if (tower) data.tower = tower;
  if (Object.keys(rmq).length) data.rabbitmq = rmq;

  const sourcePath = (path: string): string => {
    if (path.startsWith("[") || path.startsWith("line ")) return path;
    let p = path;
    while (p !== "") {
      const hit = c.paths.get(p);
      if (hit !== undefined) return hit;
      p = parentPath(p);
    }
    return path;
  };
  return { data: data, findings, sourcePath };
}

/** Global vars outside [all:vars], misspelt names, instance group policies in [all:vars]: warnings. */
function warnMisplacedVars({ hosts, groups, findings, allVars }: MapCtx): void {
  // Global vars outside [all:vars] are not read (the installer reads them once per install).
  for (const g of groups.values()) {
    if (g.name === "all") continue;
    for (const [k, v] of g.vars) {
      if (GLOBAL_VARS.has(k)) {
        findings.push(
          warning(
            "ini.global-var-scope",
            v.origin,
            `${JSON.stringify(k)} is read from [all:vars] only; the value in [${g.name}:vars] is ignored`,
            `Move it to [all:vars].`,
          ),
        );
      }
    }
  }
  for (const h of hosts.values()) {
    for (const [k, v] of h.vars) {
      if (GLOBAL_VARS.has(k)) {
        findings.push(
          warning(
            "ini.global-var-scope",
            v.origin,
            `${JSON.stringify(k)} is read from [all:vars] only; the host var on ${v.origin} is ignored`,
            `Move it to [all:vars].`,
          ),
        );
      }
    }
  }
  // A misspelt variable (`ansible_hots=`, `policy_instance_minmum=`) silently changes the plan:
  // a name one or two edits away from one haforge reads is most likely that one.
  const typo = (k: string, v: VarEntry) => {
    if (KNOWN_VARS.has(k)) return;
    const guess = closest(k, KNOWN_VARS, 2);
    if (guess)
      findings.push(
        warning(
          "ini.unknown-var",
          v.origin,
          `${JSON.stringify(k)} is not a variable haforge reads; did you mean ${JSON.stringify(guess)}?`,
          `Rename it to ${guess} if that is what you meant.`,
        ),
      );
  };
  for (const g of groups.values()) for (const [k, v] of g.vars) typo(k, v);
  for (const h of hosts.values()) for (const [k, v] of h.vars) typo(k, v);
  for (const k of POLICY_VARS) {
    const v = allVars.get(k);
    if (v)
      findings.push(
        warning(
          "ini.policy-var-scope",
          v.origin,
          `${JSON.stringify(k)} is an instance group policy; set it in [instance_group_<name>:vars], not [all:vars]`,
        ),
      );
  }
}

function readNumber(findings: Finding[], v: VarEntry | undefined, key: string): number | undefined {
  if (!v || v.value === "") return undefined; // Tower's sample inventory writes pg_port='' for "default"
  if (/^[0-9]{1,9}$/.test(v.value)) return Number(v.value);
  findings.push(
    error(
      "ini.not-a-number",
      v.origin,
      `${JSON.stringify(key)} is ${JSON.stringify(clip(v.value))}, not a whole number`,
      v.value.includes("#")
        ? "Ansible does not strip comments after a value in :vars sections; put the comment on its own line."
        : undefined,
    ),
  );
  return undefined;
}

function readBoolean(findings: Finding[], v: VarEntry | undefined, key: string): boolean | undefined {
  if (!v || v.value === "") return undefined;
  const low = v.value.toLowerCase();
  if (BOOL_TRUE.has(low)) return true;
  if (BOOL_FALSE.has(low)) return false;
  findings.push(
    error("ini.not-a-boolean", v.origin, `${JSON.stringify(key)} is ${JSON.stringify(clip(v.value))}, not a boolean`, "Use true or false."),
  );
  return undefined;
}

// --- hosts --------------------------------------------------------------------------------

function mapHosts(c: MapCtx): Json[] {
  const groupsOf = new Map<string, string[]>();
  for (const [g, list] of c.members) for (const h of list) groupsOf.set(h, [...(groupsOf.get(h) ?? []), g]);
  const hostList: Json[] = [];
  let index = 0;
  for (const h of c.hosts.values()) {
    hostList.push(mapHost(c, h, `hosts[${index}]`, groupsOf.get(h.name) ?? []));
    index++;
  }
  return hostList;
}

/** A host's effective vars, Ansible precedence: all < groups (by name) < host line. */
function effectiveVars({ groups, findings, allVars }: MapCtx, h: HostEntry, groupsOfHost: readonly string[]): Map<string, Effective> {
  const eff = new Map<string, Effective>();
  for (const [k, v] of allVars) eff.set(k, { ...v, rank: 0 });
  const own = groupsOfHost.filter((g) => g !== "all" && g !== "ungrouped").sort();
  for (const gname of own) {
    for (const [k, v] of groups.get(gname)!.vars) {
      const prev = eff.get(k);
      if (prev && prev.rank === 1 && prev.value !== v.value && HOST_KNOWN.has(k)) {
        findings.push(
          warning(
            "ini.var-conflict",
            v.origin,
            `host ${JSON.stringify(h.name)} gets ${JSON.stringify(k)} from both ${prev.origin} and ${v.origin} with different values; Ansible picks ${v.origin} (groups merge by name)`,
            "Set it as a host var to make the choice explicit.",
          ),
        );
      }
      eff.set(k, { ...v, rank: 1 });
    }
  }
  for (const [k, v] of h.vars) eff.set(k, { ...v, rank: 2 });
  return eff;
}

type Picked = Effective & { key: string };

function mapHost(c: MapCtx, h: HostEntry, base: string, groupsOfHost: readonly string[]): Json {
  const { paths, findings } = c;
  const hostPath = `[${h.firstSection}] ${h.name}`;
  paths.set(base, hostPath);
  paths.set(`${base}.name`, hostPath);
  paths.set(`${base}.address`, hostPath);
  const eff = effectiveVars(c, h, groupsOfHost);
  // Aliases (ansible_host / ansible_ssh_host): the most specific scope wins, then the modern name.
  const pick = (field: string): Picked | undefined => {
    let best: Picked | undefined;
    for (const key of HOST_FIELD_VARS[field]!) {
      const v = eff.get(key);
      if (v && (!best || v.rank > best.rank)) best = { ...v, key };
    }
    return best;
  };
  const host: Json = { name: h.name };
  const addr = pick("address");
  host.address = addr && addr.value !== "" ? addr.value : h.name;
  if (addr) paths.set(`${base}.address`, addr.origin);
  const internal = pick("internalAddress");
  if (internal && internal.value !== "") {
    host.internalAddress = internal.value;
    paths.set(`${base}.internalAddress`, internal.origin);
  }
  const ssh = mapSsh(c, h, base, pick);
  if (Object.keys(ssh).length) host.ssh = ssh;
  // Tower's default inventory says `localhost ansible_connection=local`; haforge always uses SSH.
  const conn = eff.get("ansible_connection");
  if (conn && !["ssh", "smart", "paramiko", ""].includes(conn.value)) {
    findings.push(
      warning(
        "ini.connection-unsupported",
        conn.origin,
        `ansible_connection=${conn.value} for host ${JSON.stringify(h.name)} is ignored: haforge reaches every host over SSH (here ${JSON.stringify(host.address)})`,
        "Run sshd on the host and pin its key (haforge_known_hosts_file / haforge_host_key), or use the Kubernetes target.",
      ),
    );
  }
  const init = pick("init");
  if (init && init.value !== "") {
    host.init = init.value; // zod checks the enum; the path map points at the var
    paths.set(`${base}.init`, init.origin);
  }
  const mbp = pick("managedByPolicy");
  const mbpValue = c.bool(mbp, "managed_by_policy");
  if (mbpValue !== undefined) {
    host.managedByPolicy = mbpValue;
    paths.set(`${base}.managedByPolicy`, mbp!.origin);
  }
  // Unknown vars stay available as host.vars: from the host's own lines and its groups' :vars
  // ([all:vars] holds the installer's settings, not per-host facts). `controller` only from host
  // lines: the group-level value is the isolated group's own field, and the plan compares them.
  const vars: Record<string, string> = {};
  for (const [k, v] of eff) {
    if (v.rank === 0 || HOST_KNOWN.has(k) || GLOBAL_VARS.has(k) || POLICY_VARS.has(k) || SECRET_NAME.test(k)) continue;
    if (k === "controller" && v.rank !== 2) continue;
    vars[k] = v.value;
    paths.set(`${base}.vars.${k}`, v.origin);
  }
  if (Object.keys(vars).length) host.vars = vars;
  return host;
}

/** A host's `ssh:` settings from its effective vars (and the port of its host pattern). */
function mapSsh({ paths, num, bool }: MapCtx, h: HostEntry, base: string, pick: (field: string) => Picked | undefined): Json {
  const ssh: Json = {};
  const text = (field: string, wrap: (v: string) => unknown = (v) => v) => {
    const v = pick(field);
    if (v && v.value !== "") {
      ssh[field] = wrap(v.value);
      paths.set(`${base}.ssh.${field}`, v.origin);
    }
  };
  const flag = (field: string, key: string) => {
    const v = pick(field);
    const value = bool(v, key);
    if (value !== undefined) {
      ssh[field] = value;
      paths.set(`${base}.ssh.${field}`, v!.origin);
    }
  };
  text("user");
  const portVar = pick("port");
  const patternPort = h.port;
  if (patternPort && (!portVar || portVar.rank < 2)) {
    ssh.port = Number(patternPort.value);
    paths.set(`${base}.ssh.port`, patternPort.origin);
  } else if (portVar) {
    const p = num(portVar, portVar.key);
    if (p !== undefined) ssh.port = p;
    paths.set(`${base}.ssh.port`, portVar.origin);
  }
  text("privateKeyPath");
  text("password", (value) => ({ value }));
  text("hostKey");
  text("knownHostsFile");
  flag("trustOnFirstUse", "haforge_trust_on_first_use");
  flag("agent", "haforge_ssh_agent");
  text("bastion");
  return ssh;
}

// --- tower ----------------------------------------------------------------------------------

function mapTower(c: MapCtx): Json | undefined {
  const { groups, paths, allVars } = c;
  const towerish = [...groups.keys()].some(
    (g) => g === "tower" || g === "database" || g.startsWith("instance_group_") || g.startsWith("isolated_group_"),
  );
  if (!towerish) return undefined;
  const instanceGroups = mapInstanceGroups(c);
  paths.set("tower", "[tower]");
  paths.set("tower.instanceGroups", "[tower]");
  const isolatedGroups = mapIsolatedGroups(c);
  paths.set("tower.isolatedGroups", "[tower]");
  const database = mapDatabase(c);

  const tower: Json = { instanceGroups, isolatedGroups, database };
  const admin = allVars.get("admin_password");
  if (admin) tower.adminPassword = { value: admin.value };
  paths.set("tower.adminPassword", "[all:vars] admin_password");
  const secretKey = allVars.get("secret_key");
  if (secretKey) tower.secretKey = { value: secretKey.value };
  paths.set("tower.secretKey", "[all:vars] secret_key");
  return tower;
}

/** `[tower]` and every `[instance_group_<name>]`, with the policy of its `:vars`. */
function mapInstanceGroups({ groups, members, paths, num }: MapCtx): Json[] {
  const instanceGroups: Json[] = [];
  const groupNames = ["tower", ...[...groups.keys()].filter((g) => g.startsWith("instance_group_"))];
  groupNames.forEach((gname, k) => {
    const g = groups.get(gname);
    const name = gname === "tower" ? "tower" : gname.slice("instance_group_".length);
    const base = `tower.instanceGroups[${k}]`;
    paths.set(base, `[${gname}]`);
    paths.set(`${base}.name`, `[${gname}]`);
    paths.set(`${base}.hosts`, `[${gname}]`);
    paths.set(`${base}.policy`, `[${gname}:vars]`);
    const list = members.get(gname) ?? [];
    list.forEach((h, j) => paths.set(`${base}.hosts[${j}]`, `[${gname}] ${h}`));
    const policy: Json = {};
    const pct = g?.vars.get("policy_instance_percentage");
    const pctValue = num(pct, "policy_instance_percentage");
    if (pctValue !== undefined) policy.percentage = pctValue;
    if (pct) paths.set(`${base}.policy.percentage`, pct.origin);
    const min = g?.vars.get("policy_instance_minimum");
    const minValue = num(min, "policy_instance_minimum");
    if (minValue !== undefined) policy.minimum = minValue;
    if (min) paths.set(`${base}.policy.minimum`, min.origin);
    const pl = g?.vars.get("policy_instance_list");
    if (pl) {
      policy.list = parseList(pl.value);
      paths.set(`${base}.policy.list`, pl.origin);
    }
    instanceGroups.push({ name, hosts: list, ...(Object.keys(policy).length ? { policy } : {}) });
  });
  return instanceGroups;
}

/** Every `[isolated_group_<name>]` with its controller (policies do not apply to them: warnings). */
function mapIsolatedGroups({ groups, members, paths, findings }: MapCtx): Json[] {
  const isolatedGroups: Json[] = [];
  [...groups.keys()]
    .filter((g) => g.startsWith("isolated_group_"))
    .forEach((gname, k) => {
      const g = groups.get(gname)!;
      const base = `tower.isolatedGroups[${k}]`;
      paths.set(base, `[${gname}]`);
      paths.set(`${base}.name`, `[${gname}]`);
      paths.set(`${base}.hosts`, `[${gname}]`);
      paths.set(`${base}.controller`, `[${gname}:vars] controller`);
      const list = members.get(gname) ?? [];
      list.forEach((h, j) => paths.set(`${base}.hosts[${j}]`, `[${gname}] ${h}`));
      const controller = g.vars.get("controller");
      for (const [k2, v] of g.vars) {
        if (k2 !== "controller" && POLICY_VARS.has(k2)) {
          findings.push(
            warning(
              "ini.isolated-policy",
              v.origin,
              `isolated groups take their listed hosts only; ${JSON.stringify(k2)} is ignored (AWX applies no policy to them)`,
            ),
          );
        }
      }
      isolatedGroups.push({
        name: gname.slice("isolated_group_".length),
        hosts: list,
        ...(controller && controller.value !== "" ? { controller: controller.value } : {}),
      });
    });
  return isolatedGroups;
}

/** `[database]` and the `pg_*` vars of `[all:vars]`. */
function mapDatabase({ members, paths, allVars, num }: MapCtx): Json {
  const database: Json = { hosts: members.get("database") ?? [] };
  paths.set("tower.database", "[database]");
  paths.set("tower.database.hosts", "[database]");
  (members.get("database") ?? []).forEach((h, j) => paths.set(`tower.database.hosts[${j}]`, `[database] ${h}`));
  const str = (key: string, field: string, target: Json, pathBase: string) => {
    const v = allVars.get(key);
    paths.set(`${pathBase}.${field}`, `[all:vars] ${key}`);
    if (v && v.value !== "") target[field] = v.value;
  };
  str("pg_host", "host", database, "tower.database");
  const pgPort = num(allVars.get("pg_port"), "pg_port");
  if (pgPort !== undefined) database.port = pgPort;
  paths.set("tower.database.port", "[all:vars] pg_port");
  str("pg_database", "name", database, "tower.database");
  str("pg_username", "username", database, "tower.database");
  const pgPassword = allVars.get("pg_password");
  if (pgPassword) database.password = { value: pgPassword.value };
  paths.set("tower.database.password", "[all:vars] pg_password");
  return database;
}

// --- rabbitmq -------------------------------------------------------------------------------

function mapRabbitmq({ paths, allVars, findings, num, bool }: MapCtx): Json {
  const rmq: Json = {};
  const rv = (k: string) => allVars.get(k);
  paths.set("rabbitmq", "[all:vars]");
  paths.set("rabbitmq.nodes", "[tower]");
  const port = num(rv("rabbitmq_port"), "rabbitmq_port");
  if (port !== undefined) rmq.port = port;
  paths.set("rabbitmq.port", "[all:vars] rabbitmq_port");
  for (const [key, field] of [
    ["rabbitmq_vhost", "vhost"],
    ["rabbitmq_username", "username"],
  ] as const) {
    const v = rv(key);
    if (v && v.value !== "") rmq[field] = v.value;
    paths.set(`rabbitmq.${field}`, `[all:vars] ${key}`);
  }
  for (const [key, field] of [
    ["rabbitmq_password", "password"],
    ["rabbitmq_cookie", "cookie"],
  ] as const) {
    const v = rv(key);
    if (v) rmq[field] = { value: v.value };
    paths.set(`rabbitmq.${field}`, `[all:vars] ${key}`);
  }
  // The Tower doc spells it both ways (`rabbitmq_use_long_name`, `rabbitmq_use_long_names`).
  const ln1 = rv("rabbitmq_use_long_name");
  const ln2 = rv("rabbitmq_use_long_names");
  const ln = ln1 ?? ln2;
  paths.set(
    "rabbitmq.useLongName",
    `[all:vars] ${ln1 ? "rabbitmq_use_long_name" : ln2 ? "rabbitmq_use_long_names" : "rabbitmq_use_long_name"}`,
  );
  const lnValue = bool(ln, ln1 ? "rabbitmq_use_long_name" : "rabbitmq_use_long_names");
  if (ln1 && ln2 && ln1.value.toLowerCase() !== ln2.value.toLowerCase()) {
    findings.push(
      error(
        "ini.conflicting-vars",
        ln2.origin,
        `"rabbitmq_use_long_name" (${ln1.value}) and "rabbitmq_use_long_names" (${ln2.value}) disagree`,
        "Keep one of the two spellings.",
      ),
    );
  }
  if (lnValue !== undefined) rmq.useLongName = lnValue;
  const mgr = bool(rv("rabbitmq_enable_manager"), "rabbitmq_enable_manager");
  if (mgr !== undefined) rmq.enableManagement = mgr;
  paths.set("rabbitmq.enableManagement", "[all:vars] rabbitmq_enable_manager");
  return rmq;
}

/** `a.b[1].c` → `a.b[1]` → `a.b` → `a` → "". */
export function parentPath(path: string): string {
  const m = /^(.*?)(?:\[\d+\]|\.[^.[\]]+|\["(?:[^"\\]|\\.)*"\])$/.exec(path);
  return m ? m[1]! : "";
}

/** policy_instance_list: `a,b` or a Python list `['a', 'b']`. */
function parseList(value: string): string[] {
  const inner = value.trim().replace(/^\[/, "").replace(/\]$/, "");
  return inner
    .split(",")
    .map((s) =>
      s
        .trim()
        .replace(/^(['"])(.*)\1$/, "$2")
        .trim(),
    )
    .filter((s) => s !== "");
}
