/**
 * The injection fuzzer (issue 13's, kept in the suite so the class stays closed): shell, newline
 * and quoting payloads are appended to every string field and every map key of full example
 * inventories — found by walking the parsed document generically, so new fields are covered
 * without touching this file — and each variant is rendered in-process. Every render must either
 * end in findings (no exception), or yield a tree in which
 *
 * - every host is one path segment and every file path is absolute and normalized (nothing lands
 *   outside its host's root, on disk or on apply);
 * - nothing structural grew: the number of files, of lines, of XML elements and of the lines that
 *   carry structure (sections, `server`, `nodeid:`, `Exec*=`/`Environment=`) is at most the
 *   unmodified inventory's, and no payload with a line break appears verbatim;
 * - every generated shell command (restart, reload, health, cluster actions) and every shell
 *   script that contains the payload, run under `sh` with a PATH of stub binaries, creates no
 *   marker file.
 *
 * Seeded and bounded (one payload per site, a few hundred renders); HAFORGE_FUZZ_ALL=1 tries
 * every payload on every site.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { after, describe, it } from "node:test";
import yaml from "js-yaml";
import { create } from "xmlbuilder2";
import { analyzeInventoryText } from "../../src/pipeline/analyze";
import type { DesiredState } from "../../src/core/desired-state";
import { hasErrors } from "../../src/core/findings";
import { secretKey } from "../../src/core/secrets";
import { parseTowerIni } from "../../src/inventory/tower-ini";
import { collectSecretRefs } from "../../src/render/output";
import { renderDesiredState, requiredMaterials, secretFindings } from "../../src/pipeline/render";
import { fakeSecretValue, goldenMaterials, hasGoldenMaterials, inventoryPath } from "../golden/examples";

const WORK = mkdtempSync(join(tmpdir(), "haforge-fuzz-"));
after(() => rmSync(WORK, { recursive: true, force: true }));
const MARK = join(WORK, "pwned");
const STUBS = join(WORK, "bin");

/** PATH for the commands: `touch` is real (so an injected `touch MARK` would work), the rest log their argv. */
function makeStubs(): void {
  mkdirSync(STUBS, { recursive: true });
  symlinkSync("/usr/bin/touch", join(STUBS, "touch"));
  const log = join(WORK, "argv.log");
  for (const name of [
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
    "sh",
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
  ]) {
    const p = join(STUBS, name);
    writeFileSync(p, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> ${log}\nexit 1\n`);
    chmodSync(p, 0o755);
  }
}
makeStubs();

/** Payloads: each carries the marker path where a shell would run it. */
const PAYLOADS: readonly string[] = [
  `;touch ${MARK}`,
  `$(touch ${MARK})`,
  `\`touch ${MARK}\``,
  `' ; touch ${MARK} ; '`,
  `" ; touch ${MARK} ; "`,
  `|| touch ${MARK} #`,
  `\ntouch ${MARK}`,
  `\n    server rogue 10.66.66.66:80 check`,
  `\n  node {\n    ring0_addr: 10.66.66.66\n    nodeid: 66\n  }`,
  `\nExecStartPre=/usr/bin/touch ${MARK}`,
  `\r\n[program:rogue]\r\ncommand=/usr/bin/touch ${MARK}`,
  `"/><folder id="rogue" path="/"/><x a="`,
  `\\" ; touch ${MARK} ; \\"`,
  `}\nrogue { }`,
  `/../../../../tmp/rogue`,
  `%n%h\${HOME}`,
];

type Json = unknown;
type Site = { readonly path: readonly (string | number)[]; readonly key: boolean };

/** Every string leaf and every map key of a document. */
function sites(doc: Json, path: (string | number)[] = [], out: Site[] = []): Site[] {
  if (typeof doc === "string") out.push({ path, key: false });
  else if (Array.isArray(doc)) doc.forEach((v, i) => sites(v, [...path, i], out));
  else if (doc && typeof doc === "object") {
    for (const [k, v] of Object.entries(doc)) {
      out.push({ path: [...path, k], key: true });
      sites(v, [...path, k], out);
    }
  }
  return out;
}

function mutate(doc: Json, site: Site, payload: string): Json {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const seg of site.path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
  const last = site.path[site.path.length - 1]!;
  if (site.key) {
    // Keep the key order: rebuild the object with the renamed key in place.
    const entries = Object.entries(parent).map(([k, v]) => (k === last ? [`${k}${payload}`, v] : [k, v]));
    for (const k of Object.keys(parent)) delete parent[k];
    for (const [k, v] of entries) parent[k as string] = v;
  } else parent[last] = `${parent[last] as string}${payload}`;
  return copy;
}

/** The example as a plain document: YAML as parsed, Tower INI as mapped to the YAML shape. */
function documentOf(name: string): Json {
  const text = readFileSync(inventoryPath(name), "utf8");
  return name.endsWith(".ini") ? parseTowerIni(text).data : yaml.load(text);
}

interface Outcome {
  readonly state?: DesiredState;
  readonly errors: number;
}

const goldenMats = new Map<string, Record<string, string>>();

function render(name: string, doc: Json): Outcome {
  const a = analyzeInventoryText(JSON.stringify(doc), `${name}.json`);
  if (!a.plan) {
    assert.ok(hasErrors(a.findings), "no plan and no error finding");
    return { errors: a.findings.length };
  }
  const secrets: Record<string, string> = {};
  for (const ref of collectSecretRefs(a.plan.inventory)) {
    secrets[secretKey(ref)] = "secret" in ref ? fakeSecretValue(ref.secret) : "env" in ref ? fakeSecretValue(ref.env) : ref.value;
  }
  const sf = secretFindings(a.plan, secrets);
  if (hasErrors(sf)) return { errors: sf.length };
  // The example's committed materials; a material whose key the payload renamed reuses one of its kind.
  let mats = goldenMats.get(name);
  if (!mats)
    goldenMats.set(
      name,
      (mats = hasGoldenMaterials(name) ? (JSON.parse(readFileSync(goldenMaterials(name), "utf8")) as Record<string, string>) : {}),
    );
  const materials: Record<string, string> = {};
  const baseSpecs = new Map<string, string>();
  for (const [k, v] of Object.entries(mats)) baseSpecs.set(k.split("/").slice(0, -1).join("/"), v);
  for (const spec of requiredMaterials(a.plan))
    materials[spec.key] = mats[spec.key] ?? baseSpecs.get(spec.key.split("/").slice(0, -1).join("/")) ?? "";
  return { state: renderDesiredState(a.plan, secrets, materials), errors: 0 };
}

interface Shape {
  files: number;
  lines: number;
  xmlElements: number;
  structural: number;
}

const STRUCTURAL =
  /^\s*(?:\[[^\]]*\]\s*$|server\s|backend\s|frontend\s|listen\s|node\s*\{|nodeid:|ring\d_addr:|vrrp_instance\s|vrrp_script\s|virtual_ipaddress|Exec\w*=|Environment=|EnvironmentFile=|command=|environment=)/;

function shape(state: DesiredState): Shape {
  const s: Shape = { files: 0, lines: 0, xmlElements: 0, structural: 0 };
  for (const h of state.hosts) {
    for (const f of h.files) {
      s.files++;
      if (f.encoding === "base64") continue;
      // Comment lines do not count (a track script that had to be encoded is shown in one).
      const lines = f.content.split(/\r\n|\r|\n|\u2028|\u2029|\u0085/).filter((l) => !/^\s*[#;]/.test(l));
      s.lines += lines.length;
      s.structural += lines.filter((l) => STRUCTURAL.test(l)).length;
      if (f.path.endsWith(".xml")) {
        const doc = create(f.content);
        let n = 0;
        const count = (node: { childNodes?: ArrayLike<unknown>; nodeType?: number }): void => {
          if (node.nodeType === 1) n++;
          for (const c of Array.from(node.childNodes ?? [])) count(c as typeof node);
        };
        count(doc.node);
        s.xmlElements += n;
      }
    }
  }
  return s;
}

function commands(state: DesiredState): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  for (const h of state.hosts) {
    for (const s of h.services)
      for (const k of ["restart", "reload", "health"] as const) if (s[k]) out.push({ where: `${h.host} ${s.name} ${k}`, text: s[k] });
    for (const f of h.files)
      if (f.encoding !== "base64" && (/^#!\s*\/bin\/(ba)?sh/.test(f.content) || f.path.endsWith(".sh") || f.path.endsWith(".env")))
        out.push({ where: `${h.host}:${f.path}`, text: f.content });
  }
  for (const a of state.actions) {
    out.push({ where: `action ${a.id}`, text: a.create });
    if (a.delete) out.push({ where: `action ${a.id} delete`, text: a.delete });
  }
  return out;
}

function runUnderSh(text: string): void {
  spawnSync("/bin/sh", ["-c", text], { cwd: WORK, env: { PATH: STUBS, HOME: WORK }, timeout: 5000, stdio: "ignore" });
}

function check(name: string, base: Shape, state: DesiredState, payload: string, what: string): void {
  const ctx = `${name}: ${what} + ${JSON.stringify(payload)}`;
  for (const h of state.hosts) {
    assert.ok(
      h.host !== "" && h.host !== "." && h.host !== ".." && !h.host.includes("/") && !/[\u0000-\u001f]/.test(h.host),
      `${ctx}: host ${JSON.stringify(h.host)} is not one path segment`,
    );
    for (const f of h.files) {
      assert.ok(
        f.path.startsWith("/") && posix.normalize(f.path) === f.path && !f.path.split("/").includes(".."),
        `${ctx}: ${h.host} file ${JSON.stringify(f.path)} leaves its root`,
      );
      if (/[\r\n]/.test(payload) && f.encoding !== "base64")
        assert.ok(!f.content.includes(payload), `${ctx}: ${h.host}:${f.path} holds the payload verbatim`);
    }
  }
  const s = shape(state);
  for (const k of ["files", "lines", "xmlElements", "structural"] as const)
    assert.ok(s[k] <= base[k], `${ctx}: ${k} grew from ${base[k]} to ${s[k]}`);
  for (const c of commands(state)) {
    if (!c.text.includes(MARK)) continue;
    runUnderSh(c.text);
    assert.ok(!existsSync(MARK), `${ctx}: running ${c.where} under sh created the marker:\n${c.text}`);
  }
}

const EXAMPLES = ["lab.yaml", "tower-cluster.ini", "dr-provision.yaml", "openstack-pacemaker.yaml"];

describe("injection fuzzer over example inventories", () => {
  const all = process.env["HAFORGE_FUZZ_ALL"] === "1";
  for (const [n, name] of EXAMPLES.entries()) {
    it(`${name}: payloads in every string field and map key end in findings or a clean tree`, () => {
      const doc = documentOf(name);
      const baseline = render(name, doc);
      assert.ok(baseline.state, `${name} renders`);
      const base = shape(baseline.state);
      const list = sites(doc);
      assert.ok(list.length > 20, `${name}: only ${list.length} sites`);
      let rendered = 0;
      let refused = 0;
      list.forEach((site, i) => {
        const payloads = all ? PAYLOADS : [PAYLOADS[(i * 7 + n * 3) % PAYLOADS.length]!];
        for (const payload of payloads) {
          const what = `${site.key ? "key " : ""}${site.path.join(".")}`;
          let out: Outcome;
          try {
            out = render(name, mutate(doc, site, payload));
          } catch (e) {
            assert.fail(`${name}: ${what} + ${JSON.stringify(payload)} threw ${(e as Error).stack}`);
          }
          if (!out.state) {
            refused++;
            continue;
          }
          rendered++;
          check(name, base, out.state, payload, what);
        }
      });
      assert.ok(refused > 0, "some payloads must be refused");
      // Free text (pacemaker params, host vars, literal secrets) is accepted and escaped.
      if (name === "openstack-pacemaker.yaml" || name === "tower-cluster.ini")
        assert.ok(rendered > 0, `${name}: no payload reached a render`);
    });
  }
});

describe("secrets are one line of printable text", () => {
  const base = "version: 1\nhosts:\n  - { name: h1, address: 10.0.0.1 }\n";
  it("a literal with a newline is a schema finding; an SSH private key may span lines", () => {
    const lit = analyzeInventoryText(`${base}rabbitmq: { cookie: { value: "abc\\ntouch /tmp/x" } }\n`, "i.yaml");
    assert.ok(
      lit.findings.some((f) => f.code === "schema.invalid" && f.path === "rabbitmq.cookie.value"),
      JSON.stringify(lit.findings),
    );
    const key = analyzeInventoryText(
      'version: 1\nhosts:\n  - { name: h1, address: 10.0.0.1, ssh: { privateKey: { value: "-----BEGIN X-----\\nAAAA\\n-----END X-----\\n" } } }\n',
      "i.yaml",
    );
    assert.ok(!key.findings.some((f) => f.severity === "error"), JSON.stringify(key.findings));
  });
  it("a resolved secret with a trailing newline is secret.control-characters at its reference", () => {
    const a = analyzeInventoryText(readFileSync(inventoryPath("lab.yaml"), "utf8"), "lab.yaml");
    assert.ok(a.plan);
    const refs = collectSecretRefs(a.plan.inventory).filter((r) => "secret" in r);
    assert.ok(refs.length > 0);
    const good = Object.fromEntries(refs.map((r) => [secretKey(r), "value"]));
    assert.deepEqual(
      secretFindings(a.plan, good).filter((x) => x.code === "secret.control-characters"),
      [],
    );
    const bad = { ...good, [secretKey(refs[0]!)]: "value\n" };
    const f = secretFindings(a.plan, bad).filter((x) => x.code === "secret.control-characters");
    assert.ok(f.length >= 1 && f.every((x) => x.severity === "error" && !x.message.includes("value\n")), JSON.stringify(f));
  });
});
