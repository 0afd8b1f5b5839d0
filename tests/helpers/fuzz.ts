/**
 * The injection fuzzer's parts (issue 13), shared by tests/unit/escape-fuzz.test.ts (in-process:
 * findings or a clean tree, commands under `sh`, paths under their root) and
 * tests/system/escape-fuzz.test.ts (the real daemons' verdict on the configs a payload reached).
 *
 * - Sites: every string leaf and every map key of an example inventory, found by walking the
 *   parsed document generically (new fields are covered without touching this file); for the
 *   Tower INI examples also the INI text itself: section (group) names, host names and every
 *   `key=value` value, on host lines and in `:vars` sections.
 * - Payloads: shell metacharacters, `$(...)`, backticks, quotes of each kind, newlines, CR,
 *   NUL and other control characters, `..` path segments, a very long string, configuration
 *   structure of every format haforge writes; numeric-looking strings replace the value instead.
 * - A render either ends in error findings (and no exception), or its tree has the same parsed
 *   structure as the un-fuzzed one (`skeletons`): the same multiset of files, each with the same
 *   sequence of directives/sections/elements/keys and the same value types; every host is one
 *   path segment and every file path absolute and normalized; and every generated command
 *   holding the payload, run under `sh` with stub binaries, creates no marker file.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import yaml from "js-yaml";
import { create } from "xmlbuilder2";
import type { DesiredState, FileSpec } from "../../src/core/desired-state";
import { hasErrors } from "../../src/core/findings";
import { secretKey } from "../../src/core/secrets";
import { parseTowerIni } from "../../src/inventory/tower-ini";
import { analyzeInventoryText } from "../../src/pipeline/analyze";
import { renderDesiredState, requiredMaterials, secretFindings } from "../../src/pipeline/render";
import { collectSecretRefs } from "../../src/render/output";
import { fakeSecretValue, goldenMaterials, hasGoldenMaterials, inventoryPath } from "../golden/examples";

export const STUB_NAMES = [
  "systemctl",
  "supervisorctl",
  "ip",
  "curl",
  "sleep",
  "timeout",
  "rabbitmqctl",
  "rabbitmq-diagnostics",
  "crm_mon",
  "cibadmin",
  "crm_verify",
  "crm_resource",
  "crm_attribute",
  "corosync-quorumtool",
  "corosync-cfgtool",
  "etcdctl",
  "patronictl",
  "journalctl",
  "pcs",
  "crm",
  "stolonctl",
  "consul",
  "grep",
  "cat",
  "awk",
  "test",
  "mkdir",
  "rm",
  "mv",
  "cp",
  "chmod",
  "chown",
  "sh",
  "bash",
  "base64",
  "tr",
  "wc",
  "sed",
  "id",
  "nc",
  "socat",
  "ss",
  "pgrep",
  "pidof",
  "awx-manage",
  "ansible-tower-service",
  "psql",
  "pg_isready",
  "syncthing",
  "haproxy",
  "keepalived",
  "kill",
  "sysctl",
];

/** A scratch folder with a marker path and a PATH of stubs (`touch` real, the rest log and fail). */
export class Sandbox {
  readonly mark: string;
  readonly stubs: string;
  commandsRun = 0;
  constructor(readonly dir: string) {
    this.mark = join(dir, "pwned");
    this.stubs = join(dir, "bin");
    mkdirSync(this.stubs, { recursive: true });
    symlinkSync("/usr/bin/touch", join(this.stubs, "touch"));
    const log = join(dir, "argv.log");
    for (const name of STUB_NAMES) {
      const p = join(this.stubs, name);
      writeFileSync(p, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> ${log}\nexit 1\n`);
      chmodSync(p, 0o755);
    }
  }
  /** Run a command text under sh (stubs only on PATH); throws when the marker appeared. */
  runUnderSh(text: string, where: string): void {
    this.commandsRun++;
    spawnSync("/bin/sh", ["-c", text], { cwd: this.dir, env: { PATH: this.stubs, HOME: this.dir }, timeout: 5000, stdio: "ignore" });
    assert.ok(!existsSync(this.mark), `running ${where} under sh created the marker:\n${text}`);
  }
}

export interface Payload {
  readonly text: string;
  /** Replace the value instead of appending (numeric-looking strings). */
  readonly replace?: boolean;
  /** Usable inside INI text (no line break: in INI a line break is simply the next line). */
  readonly ini: boolean;
}

/** Payloads, each carrying the marker path where a shell would run it. */
export function payloads(mark: string): Payload[] {
  const p = (text: string, replace = false): Payload => ({ text, replace, ini: !/[\n\r\u0085\u2028\u2029]/.test(text) });
  return [
    p(`;touch ${mark}`),
    p(`$(touch ${mark})`),
    p(`\`touch ${mark}\``),
    p(`' ; touch ${mark} ; '`),
    p(`" ; touch ${mark} ; "`),
    p(`|| touch ${mark} #`),
    p(`&& touch ${mark}`),
    p(`\ntouch ${mark}`),
    p(`\rtouch ${mark}`),
    p(`\n    server rogue 10.66.66.66:80 check`),
    p(`\n  node {\n    ring0_addr: 10.66.66.66\n    nodeid: 66\n    quorum_votes: 5\n  }`),
    p(`\nExecStartPre=/usr/bin/touch ${mark}`),
    p(`\r\n[program:rogue]\r\ncommand=/usr/bin/touch ${mark}`),
    p(`"/><folder id="rogue" path="/"/><x a="`),
    p(`\\" ; touch ${mark} ; \\"`),
    p(`}\nrogue { }`),
    p(`\n}\nvrrp_instance rogue {\n  virtual_router_id 66\n}`),
    p(`\nrogue: {a: 1}\n`),
    p(`/../../../../tmp/rogue`),
    p(`/..`),
    p(`..`),
    p(`%n%h\${HOME}\${PATH}`),
    p(`\u0000touch ${mark}`),
    p(`\u0007\u001b[2J\u007f`),
    p(`\u0085\u2028touch ${mark}`),
    p(`\t# ${"x".repeat(6000)}`),
    p(`${"A".repeat(70_000)}`),
    p("012", true),
    p("1e3", true),
    p("0x1F", true),
    p("-0", true),
    p("123456789012345678901234567890", true),
    p("true", true),
    p("null", true),
    p("..", true),
  ];
}

type Json = unknown;
export type Site =
  | { readonly kind: "doc"; readonly path: readonly (string | number)[]; readonly key: boolean }
  /** INI text: insert at `at` of line `line` (after the token), or replace the token [from, at). */
  | { readonly kind: "ini"; readonly line: number; readonly from: number; readonly at: number; readonly what: string };

export const siteName = (s: Site): string =>
  s.kind === "doc" ? `${s.key ? "key " : ""}${s.path.join(".")}` : `INI line ${s.line + 1} ${s.what}`;

/** Every string leaf and every map key of a document. */
export function docSites(doc: Json, path: (string | number)[] = [], out: Site[] = []): Site[] {
  if (typeof doc === "string") out.push({ kind: "doc", path, key: false });
  else if (Array.isArray(doc)) doc.forEach((v, i) => docSites(v, [...path, i], out));
  else if (doc && typeof doc === "object") {
    for (const [k, v] of Object.entries(doc)) {
      out.push({ kind: "doc", path: [...path, k], key: true });
      docSites(v, [...path, k], out);
    }
  }
  return out;
}

/** INI text sites: group names, host names, every key=value value (host lines and :vars). */
export function iniSites(text: string): Site[] {
  const out: Site[] = [];
  let section = "";
  text.split("\n").forEach((raw, line) => {
    const l = raw.replace(/\r$/, "");
    if (/^\s*([#;]|$)/.test(l)) return;
    const sec = /^\s*\[([^\]:]+)(:[^\]]*)?\]/.exec(l);
    if (sec) {
      section = (sec[2] ?? "").slice(1);
      const from = l.indexOf("[") + 1;
      out.push({ kind: "ini", line, from, at: from + sec[1]!.length, what: `group [${sec[1]}]` });
      return;
    }
    if (section === "vars") {
      const kv = /^\s*([^=\s]+)\s*=\s*(.*?)\s*$/.exec(l);
      if (kv) out.push({ kind: "ini", line, from: l.length - kv[2]!.length, at: l.length, what: `var ${kv[1]}` });
      return;
    }
    if (section === "children") {
      const name = /^\s*(\S+)/.exec(l)!;
      out.push({ kind: "ini", line, from: name.index + name[0].length - name[1]!.length, at: name.index + name[0].length, what: "child" });
      return;
    }
    // A host line: the name, then key=value tokens.
    const host = /^\s*(\S+)/.exec(l)!;
    out.push({
      kind: "ini",
      line,
      from: host.index + host[0].length - host[1]!.length,
      at: host.index + host[0].length,
      what: `host ${host[1]}`,
    });
    for (const m of l.matchAll(/(\S+?)=('[^']*'|"[^"]*"|\S*)/g)) {
      const end = m.index + m[0].length;
      out.push({ kind: "ini", line, from: end - m[2]!.length, at: end, what: `host ${host[1]} ${m[1]}` });
    }
  });
  return out;
}

export function mutateDoc(doc: Json, site: Site & { kind: "doc" }, payload: Payload): Json {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const seg of site.path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
  const last = site.path[site.path.length - 1]!;
  const change = (v: string): string => (payload.replace ? payload.text : `${v}${payload.text}`);
  if (site.key) {
    // Keep the key order: rebuild the object with the renamed key in place.
    const entries = Object.entries(parent).map(([k, v]) => (k === last ? [change(k), v] : [k, v]));
    for (const k of Object.keys(parent)) delete parent[k];
    for (const [k, v] of entries) parent[k as string] = v;
  } else parent[last] = change(parent[last] as string);
  return copy;
}

export function mutateIni(text: string, site: Site & { kind: "ini" }, payload: Payload): string {
  const lines = text.split("\n");
  const l = lines[site.line]!;
  lines[site.line] = payload.replace
    ? l.slice(0, site.from) + payload.text + l.slice(site.at)
    : l.slice(0, site.at) + payload.text + l.slice(site.at);
  return lines.join("\n");
}

/** One example inventory: its text, its parsed document and every site to fuzz. */
export interface Example {
  readonly name: string;
  readonly text: string;
  readonly doc: Json;
  readonly sites: readonly Site[];
}

export function loadExample(name: string): Example {
  const text = readFileSync(inventoryPath(name), "utf8");
  const ini = name.endsWith(".ini");
  const doc = ini ? parseTowerIni(text).data : yaml.load(text);
  return { name, text, doc, sites: [...docSites(doc), ...(ini ? iniSites(text) : [])] };
}

export interface Outcome {
  readonly state?: DesiredState;
  readonly errors: number;
}

const materialsCache = new Map<string, Record<string, string>>();

/** Validate, plan and render in-process, with fake secrets and the example's committed materials. */
export function renderVariant(ex: Example, site: Site | undefined, payload: Payload | undefined): Outcome {
  return site?.kind === "ini" && payload
    ? renderText(ex, mutateIni(ex.text, site, payload), ex.name)
    : renderDoc(ex, site && payload ? mutateDoc(ex.doc, site as Site & { kind: "doc" }, payload) : ex.doc);
}

/** A changed document of the example (any JSON value at any place), rendered as renderVariant does. */
export const renderDoc = (ex: Example, doc: Json): Outcome => renderText(ex, JSON.stringify(doc), `${ex.name}.json`);

function renderText(ex: Example, text: string, filename: string): Outcome {
  const a = analyzeInventoryText(text, filename);
  if (!a.plan) {
    assert.ok(hasErrors(a.findings), "no plan and no error finding");
    for (const f of a.findings)
      assert.ok(f.code && typeof f.path === "string" && f.message, `finding without code/path/message: ${JSON.stringify(f)}`);
    return { errors: a.findings.length };
  }
  const secrets: Record<string, string> = {};
  for (const ref of collectSecretRefs(a.plan.inventory)) {
    secrets[secretKey(ref)] = "secret" in ref ? fakeSecretValue(ref.secret) : "env" in ref ? fakeSecretValue(ref.env) : ref.value;
  }
  const sf = secretFindings(a.plan, secrets);
  if (hasErrors(sf)) return { errors: sf.length };
  // The example's committed materials; a material whose key the payload renamed reuses one of its kind.
  let mats = materialsCache.get(ex.name);
  if (!mats)
    materialsCache.set(
      ex.name,
      (mats = hasGoldenMaterials(ex.name) ? (JSON.parse(readFileSync(goldenMaterials(ex.name), "utf8")) as Record<string, string>) : {}),
    );
  const materials: Record<string, string> = {};
  const baseSpecs = new Map<string, string>();
  for (const [k, v] of Object.entries(mats)) baseSpecs.set(k.split("/").slice(0, -1).join("/"), v);
  for (const spec of requiredMaterials(a.plan))
    materials[spec.key] = mats[spec.key] ?? baseSpecs.get(spec.key.split("/").slice(0, -1).join("/")) ?? "";
  return { state: renderDesiredState(a.plan, secrets, materials), errors: 0 };
}

// --- parsed structure ------------------------------------------------------------------------

/** The type tree of a JSON/YAML value: keys kept, leaves replaced by their type. */
function typeTree(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(typeTree);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).map((k) => [k, typeTree(o[k])]));
  }
  return v === null ? "null" : typeof v;
}

function xmlTree(content: string): string {
  const doc = create(content);
  const out: string[] = [];
  const walk = (
    node: { childNodes?: ArrayLike<unknown>; nodeType?: number; nodeName?: string; attributes?: ArrayLike<{ name: string }> },
    depth: number,
  ): void => {
    if (node.nodeType === 1)
      out.push(
        `${" ".repeat(depth)}<${node.nodeName} ${Array.from(node.attributes ?? [])
          .map((a) => a.name)
          .sort()
          .join(" ")}>`,
      );
    for (const c of Array.from(node.childNodes ?? [])) walk(c as typeof node, depth + 1);
  };
  walk(doc.node, 0);
  return out.join("\n");
}

const LINE_BREAKS = /\r\n|\r|\n|\u2028|\u2029|\u0085/;

/** One line's structure: a section name's leading word, a `key=`, or a directive's first word. */
function lineSkeleton(line: string): string {
  const t = line.trim();
  const sec = /^\[([A-Za-z_]*)/.exec(t);
  if (sec && t.endsWith("]")) return `[${sec[1]}]`;
  const kv = /^([A-Za-z_][\w.-]*)\s*=/.exec(t);
  if (kv) return `${kv[1]}=`;
  // A line of one token is a value (a cookie, a password, a line of a PEM key, a host list).
  const word = (/\s|[:{]/.test(t) && /^([A-Za-z_][\w.-]*:?)/.exec(t)?.[1]) || "·";
  return `${word}${/\{$/.test(t) ? " {" : ""}${/^\}/.test(t) ? "}" : ""}`;
}

/** The parsed structure of one rendered file, independent of the values written in it. */
export function fileSkeleton(f: FileSpec): string {
  if (f.encoding === "base64") return `${f.mode} base64`;
  if (f.path.endsWith(".xml")) return `${f.mode} xml\n${xmlTree(f.content)}`;
  if (f.path.endsWith(".json")) return `${f.mode} json ${JSON.stringify(typeTree(JSON.parse(f.content)))}`;
  if (/\.ya?ml$/.test(f.path)) return `${f.mode} yaml ${JSON.stringify(typeTree(yaml.load(f.content)))}`;
  const lines = f.content.split(LINE_BREAKS).filter((l) => !/^\s*([#;]|$)/.test(l));
  // A file of one line is a value (an Erlang cookie, a password or token file).
  if (f.content.trim().split(LINE_BREAKS).length === 1) return `${f.mode} one line`;
  return `${f.mode} text\n${lines.map(lineSkeleton).join("\n")}`;
}

/** Every file's structure, as a sorted list (a renamed host or file keeps its structure). */
export function skeletons(state: DesiredState): string[] {
  const out: string[] = [];
  for (const h of state.hosts) for (const f of h.files) out.push(fileSkeleton(f));
  for (const m of state.manifests) out.push(`manifest ${JSON.stringify(typeTree(m))}`);
  out.push(`${state.actions.length} actions`, `${state.hosts.reduce((n, h) => n + h.services.length, 0)} services`);
  return out.sort();
}

/** Every shell text a host would run: service commands, cluster actions, shell scripts and env files. */
export function commands(state: DesiredState): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  for (const h of state.hosts) {
    for (const s of h.services)
      for (const k of ["restart", "reload", "health"] as const) if (s[k]) out.push({ where: `${h.host} ${s.name} ${k}`, text: s[k] });
    for (const f of h.files) {
      if (f.validate) out.push({ where: `${h.host}:${f.path} validate`, text: f.validate.replaceAll("{file}", "/nonexistent/file") });
      if (f.encoding !== "base64" && (/^#!\s*\/bin\/(ba)?sh/.test(f.content) || f.path.endsWith(".sh") || f.path.endsWith(".env")))
        out.push({ where: `${h.host}:${f.path}`, text: f.content });
    }
  }
  for (const a of state.actions) {
    out.push({ where: `action ${a.id}`, text: a.create });
    if (a.delete) out.push({ where: `action ${a.id} delete`, text: a.delete });
  }
  return out;
}

/** The multiset difference a \ b, for messages. */
function missingFrom(a: readonly string[], b: readonly string[]): string[] {
  const left = [...b];
  const out: string[] = [];
  for (const x of a) {
    const i = left.indexOf(x);
    if (i >= 0) left.splice(i, 1);
    else out.push(x);
  }
  return out;
}

/**
 * A rendered variant against the un-fuzzed render: hosts are path segments, paths stay under
 * their root, the structure is the same, no payload with a line break is written verbatim, and
 * every command the payload changed (or that holds the marker path) runs under sh without
 * creating the marker.
 */
export interface Baseline {
  readonly skeletons: readonly string[];
  /** The un-fuzzed render's command texts: a variant's command not among them is run under sh. */
  readonly commands: ReadonlySet<string>;
}

export function baselineOf(state: DesiredState): Baseline {
  return { skeletons: skeletons(state), commands: new Set(commands(state).map((c) => c.text)) };
}

export function checkVariant(sb: Sandbox, baseline: Baseline, state: DesiredState, payload: Payload, ctx: string): void {
  const base = baseline.skeletons;
  for (const h of state.hosts) {
    assert.ok(
      h.host !== "" && h.host !== "." && h.host !== ".." && !h.host.includes("/") && !/[\u0000-\u001f\u007f]/.test(h.host),
      `${ctx}: host ${JSON.stringify(h.host)} is not one path segment`,
    );
    for (const f of h.files) {
      assert.ok(
        f.path.startsWith("/") &&
          posix.normalize(f.path) === f.path &&
          !f.path.split("/").includes("..") &&
          !/[\u0000-\u001f]/.test(f.path),
        `${ctx}: ${h.host} file ${JSON.stringify(f.path)} leaves its root`,
      );
      if (/[\r\n\u0000]/.test(payload.text) && f.encoding !== "base64")
        assert.ok(!f.content.includes(payload.text), `${ctx}: ${h.host}:${f.path} holds the payload verbatim`);
    }
  }
  const got = skeletons(state);
  const extra = missingFrom(got, base);
  const lost = missingFrom(base, got);
  assert.ok(
    extra.length === 0 && lost.length === 0,
    `${ctx}: the parsed structure changed\n--- only in the un-fuzzed render:\n${lost.join("\n---\n")}\n+++ only with the payload:\n${extra.join("\n+++\n")}`,
  );
  for (const c of commands(state))
    if (c.text.includes(sb.mark) || !baseline.commands.has(c.text)) sb.runUnderSh(c.text, `${ctx}: ${c.where}`);
}

// --- careless values -------------------------------------------------------------------------

export interface CarelessVariant {
  readonly what: string;
  readonly doc: Json;
}

/**
 * Values a careless user writes, of the right type: every number at 0, 1, -1, a large and a huge
 * value; every boolean flipped; every list of two or more cut to its first element, and emptied.
 * Lists first (one member where a cluster expects several), then booleans, then numbers.
 */
export function carelessVariants(doc: Json): CarelessVariant[] {
  const lists: CarelessVariant[] = [];
  const flags: CarelessVariant[] = [];
  const numbers: CarelessVariant[] = [];
  const set = (path: readonly (string | number)[], value: unknown): Json => {
    const copy = structuredClone(doc) as Record<string | number, unknown>;
    let parent = copy;
    for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
    parent[path[path.length - 1]!] = value;
    return copy;
  };
  const walk = (v: unknown, path: (string | number)[]): void => {
    const name = path.join(".");
    if (typeof v === "number") {
      for (const n of [0, 1, -1, 65_535, 2 ** 31]) if (n !== v) numbers.push({ what: `${name} = ${n}`, doc: set(path, n) });
    } else if (typeof v === "boolean") flags.push({ what: `${name} = ${!v}`, doc: set(path, !v) });
    else if (Array.isArray(v)) {
      if (v.length >= 2 && path.length) {
        lists.push({ what: `${name} cut to its first element`, doc: set(path, [v[0]]) });
        lists.push({ what: `${name} = []`, doc: set(path, []) });
      }
      v.forEach((x, i) => walk(x, [...path, i]));
    } else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(doc, []);
  return [...lists, ...flags, ...numbers];
}
