/**
 * Findings carry FILE:LINE:COL for YAML and INI, in text and in JSON (`file`, `line`, `col`).
 *
 * The property: an example inventory re-written in a random YAML layout (indentation, flow or
 * block collections, key order, comment and blank lines), with ONE typed value replaced by a
 * bad one; the error validate reports for that value points at it. The expected position is
 * found by searching the text for the injected token, independently of any YAML parser.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import yaml from "js-yaml";
import { joinPath } from "../../src/inventory/yaml";
import { ROOT, runCli } from "../helpers/cli";

const dir = mkdtempSync(join(tmpdir(), "hf-loc-"));
const EXAMPLES = [
  "cloudify.yaml",
  "dr-provision.yaml",
  "lab.yaml",
  "openstack-pacemaker.yaml",
  "tower-cluster.yaml",
  "tripleo-lightweight.yaml",
];
const TOKEN = "badvalue-q7";

type Path = (string | number)[];
/** Number and boolean leaves of typed fields (free-form maps — params, meta, spec — take any value). */
function typedLeaves(data: unknown): Path[] {
  const out: Path[] = [];
  const walk = (n: unknown, p: Path) => {
    if (typeof n === "number" || typeof n === "boolean") out.push(p);
    else if (Array.isArray(n)) n.forEach((x, i) => walk(x, [...p, i]));
    else if (n && typeof n === "object")
      for (const [k, v] of Object.entries(n)) if (!["params", "meta", "spec"].includes(k)) walk(v, [...p, k]);
  };
  walk(data, []);
  return out;
}

const bases = EXAMPLES.map((f) => {
  const data = yaml.load(readFileSync(join(ROOT, "inventories", f), "utf8"));
  return { f, data, leaves: typedLeaves(data) };
});

/** 1-based line and column of `index` in `text`. */
function position(text: string, index: number): { line: number; col: number } {
  const before = text.slice(0, index);
  return { line: before.split("\n").length, col: index - before.lastIndexOf("\n") };
}

interface JsonFinding {
  severity: string;
  path: string;
  file?: string;
  line?: number;
  col?: number;
}

describe("findings carry file:line:col", () => {
  it("YAML, random layouts: the error for an injected bad value points at that value (text and JSON)", async () => {
    const layout = fc.record({
      indent: fc.integer({ min: 2, max: 6 }),
      flowLevel: fc.constantFrom(-1, -1, 2, 3, 4),
      sortKeys: fc.boolean(),
      comments: fc.array(fc.tuple(fc.nat(), fc.constantFrom("# a comment", "", "   # indented comment")), { maxLength: 6 }),
    });
    const pick = fc
      .integer({ min: 0, max: bases.length - 1 })
      .chain((b) => fc.record({ b: fc.constant(b), leaf: fc.integer({ min: 0, max: bases[b]!.leaves.length - 1 }) }));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(pick, layout, async ({ b, leaf }, lay) => {
        const base = bases[b]!;
        const path = base.leaves[leaf]!;
        const data = structuredClone(base.data) as Record<string | number, unknown>;
        let o = data;
        for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
        o[path[path.length - 1]!] = TOKEN;
        let text = yaml.dump(data, { indent: lay.indent, flowLevel: lay.flowLevel, sortKeys: lay.sortKeys, lineWidth: -1, noRefs: true });
        // Comment and blank lines before top-level keys (never inside a block scalar or a flow collection).
        const lines = text.split("\n");
        for (const [at, c] of lay.comments) {
          const i = at % lines.length;
          if (/^[A-Za-z]/.test(lines[i] ?? "")) lines.splice(i, 0, c);
        }
        text = lines.join("\n");
        const file = join(dir, `inv-${n++}.yaml`);
        writeFileSync(file, text);
        const expected = position(text, text.indexOf(TOKEN));
        const yamlPath = path.reduce<string>((p, k) => joinPath(p, k), "");

        const r = await runCli(["validate", file, "--json"]);
        assert.equal(r.code, 1, `${base.f} ${yamlPath}: the bad value must be an error\n${r.out}`);
        const findings = (JSON.parse(r.out) as { findings: JsonFinding[] }).findings;
        const at = findings.filter((f) => f.severity === "error" && f.path === yamlPath);
        assert.ok(at.length > 0, `${base.f}: no error at ${yamlPath}: ${r.out}`);
        for (const f of at) {
          assert.equal(f.file, file);
          assert.deepEqual({ line: f.line, col: f.col }, expected, `${base.f} ${yamlPath}\n${text}`);
        }
        const t = await runCli(["validate", file]);
        const prefix = `${file}:${expected.line}:${expected.col}: error `;
        assert.ok(
          t.out.split("\n").some((l) => l.startsWith(prefix) && l.includes(` at ${yamlPath}: `)),
          `${prefix}… at ${yamlPath}\n${t.out}`,
        );
      }),
      { numRuns: 100 },
    );
  });

  it("YAML: a missing required field points at the mapping it belongs in; a syntax error at its line", async () => {
    const file = join(dir, "missing.yaml");
    writeFileSync(file, "version: 1\nname: x\ntarget: ssh\nhosts:\n  - name: a\n    roles: [haproxy]\n");
    const r = await runCli(["validate", file, "--json"]);
    const f = (JSON.parse(r.out) as { findings: JsonFinding[] }).findings.find((x) => x.path === "hosts[0].address");
    assert.ok(f, r.out);
    assert.deepEqual([f.line, f.col], [5, 5], "the host's mapping starts at `name: a`");
    writeFileSync(file, "version: 1\nname: x\n  bad: indent\n");
    const s = await runCli(["validate", file]);
    assert.match(s.out, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:\\d+: error yaml\\.syntax`, "m"));
  });

  it("INI, random layouts: the error for a bad number points at the value (spacing, comments, section order)", async () => {
    const sections: Record<string, string[]> = {
      tower: ["towerA ansible_host=203.0.113.11", "towerB ansible_host=203.0.113.12", "towerC ansible_host=203.0.113.13"],
      instance_group_east: ["towerB"],
      "instance_group_east:vars": ["policy_instance_percentage=50"],
      database: ["dbA ansible_host=203.0.113.30"],
      "all:vars": ["ansible_user=root", "pg_database=awx", "rabbitmq_vhost=tower"],
    };
    const targets = [
      { section: "all:vars", key: "rabbitmq_port" },
      { section: "instance_group_east:vars", key: "policy_instance_minimum" },
    ];
    const arb = fc.record({
      order: fc.shuffledSubarray(Object.keys(sections), { minLength: 5, maxLength: 5 }),
      target: fc.constantFrom(...targets),
      at: fc.nat(),
      lead: fc.constantFrom("", " ", "  ", "\t"),
      eq: fc.constantFrom("=", " = ", "= ", " =", "\t=\t"),
      noise: fc.array(fc.tuple(fc.nat(), fc.constantFrom("", "# comment", "; comment", "   ")), { maxLength: 6 }),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(arb, async ({ order, target, at, lead, eq, noise }) => {
        const lines: string[] = [];
        let expected = { line: 0, col: 0 };
        for (const name of order) {
          const body = [...sections[name]!];
          for (const [i, c] of noise) body.splice(i % (body.length + 1), 0, c);
          const bad = `${lead}${target.key}${eq}${TOKEN}`;
          if (name === target.section) body.splice(at % (body.length + 1), 0, bad);
          lines.push(`[${name}]`);
          for (const l of body) {
            if (l === bad) expected = { line: lines.length + 1, col: l.indexOf(TOKEN) + 1 };
            lines.push(l);
          }
          lines.push("");
        }
        const file = join(dir, `inv-${n++}.ini`);
        writeFileSync(file, lines.join("\n"));
        const path = `[${target.section}] ${target.key}`;
        const r = await runCli(["validate", file, "--json"]);
        const at2 = (JSON.parse(r.out) as { findings: JsonFinding[] }).findings.filter((f) => f.severity === "error" && f.path === path);
        assert.ok(at2.length > 0, `no error at ${path}: ${r.out}\n${lines.join("\n")}`);
        for (const f of at2) assert.deepEqual({ line: f.line, col: f.col }, expected, lines.join("\n"));
      }),
      { numRuns: 60 },
    );
  });

  it("INI host patterns (web[01:10], [a:c], host:port): each expanded host's findings point at the pattern's line, a bad host variable at its value (text and JSON)", async () => {
    // Host lines of [tower]: a random mix of plain names and range patterns; one line (a pattern or
    // a plain host) carries a bad ansible_port. Every finding at `[tower] NAME` must point at the
    // line that names NAME, and the bad port's error at the value on that line.
    const pattern = fc.oneof(
      fc.record({
        kind: fc.constant("num" as const),
        prefix: fc.constantFrom("web", "app-", "node"),
        from: fc.nat(5),
        n: fc.integer({ min: 1, max: 4 }),
        pad: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant("alpha" as const),
        prefix: fc.constantFrom("db", "mq-"),
        from: fc.nat(3),
        n: fc.integer({ min: 1, max: 3 }),
        pad: fc.constant(false),
      }),
      fc.record({
        kind: fc.constant("plain" as const),
        prefix: fc.constantFrom("solo", "one", "x"),
        from: fc.nat(9),
        n: fc.constant(1),
        pad: fc.constant(false),
      }),
    );
    const arb = fc.record({
      patterns: fc.array(pattern, { minLength: 1, maxLength: 4 }),
      bad: fc.nat(),
      lead: fc.constantFrom("", " ", "\t"),
      gap: fc.constantFrom(" ", "  ", "\t"),
      port: fc.boolean(),
      noise: fc.array(fc.tuple(fc.nat(), fc.constantFrom("", "# comment", "; x")), { maxLength: 3 }),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(arb, async ({ patterns, bad, lead, gap, port, noise }) => {
        // Distinct prefixes per line (a host named twice is another finding's business).
        const seen = new Set<string>();
        const lines: { text: string; names: string[] }[] = [];
        patterns.forEach((p, i) => {
          const prefix = `${p.prefix}${i}`;
          if (seen.has(prefix)) return;
          seen.add(prefix);
          let token: string;
          let names: string[];
          if (p.kind === "plain") {
            token = `${prefix}h${p.from}`;
            names = [token];
          } else if (p.kind === "alpha") {
            const a = "abcdefg";
            token = `${prefix}[${a[p.from]}:${a[p.from + p.n - 1]}].example.com`;
            names = Array.from({ length: p.n }, (_, k) => `${prefix}${a[p.from + k]}.example.com`);
          } else {
            const w = p.pad ? 2 : 1;
            const num = (x: number) => String(x).padStart(w, "0");
            token = `${prefix}-[${num(p.from)}:${num(p.from + p.n - 1)}]`;
            names = Array.from({ length: p.n }, (_, k) => `${prefix}-${num(p.from + k)}`);
          }
          if (port && i === 0) token += ":2222";
          lines.push({ text: `${lead}${token}`, names });
        });
        const badLine = bad % lines.length;
        lines[badLine] = { ...lines[badLine]!, text: `${lines[badLine]!.text}${gap}ansible_port=${TOKEN}` };
        const body: string[] = lines.map((l) => l.text);
        for (const [i, c] of noise) body.splice(i % (body.length + 1), 0, c);
        const text = ["[all:vars]", "rabbitmq_password=x", "", "[tower]", ...body, ""].join("\n");
        const all = text.split("\n");
        const lineOf = (l: { text: string }) => all.indexOf(l.text) + 1;
        const file = join(dir, `range-${n++}.ini`);
        writeFileSync(file, text);
        const r = await runCli(["validate", file, "--json"]);
        const findings = (JSON.parse(r.out) as { findings: (JsonFinding & { code: string })[] }).findings;
        for (const l of lines)
          for (const name of l.names) {
            const at = findings.filter((f) => f.path === `[tower] ${name}`);
            for (const f of at) {
              assert.equal(f.file, file);
              if (f.code === "ini.not-a-number")
                assert.deepEqual({ line: f.line, col: f.col }, { line: lineOf(l), col: l.text.indexOf(TOKEN) + 1 }, `${name}: ${text}`);
              else assert.equal(f.line, lineOf(l), `${f.code} ${name}: ${text}`);
            }
            if (l === lines[badLine])
              assert.ok(
                at.some((f) => f.code === "ini.not-a-number"),
                `${name}: ${r.out}\n${text}`,
              );
          }
        // The same positions in the text output.
        const t = await runCli(["validate", file]);
        const b = lines[badLine];
        assert.ok(
          t.out
            .split("\n")
            .some((x) =>
              x.startsWith(`${file}:${lineOf(b)}:${b.text.indexOf(TOKEN) + 1}: error ini.not-a-number at [tower] ${b.names[0]}:`),
            ),
          t.out,
        );
      }),
      { numRuns: 60, seed: 1313 },
    );
  });

  it("INI: a group the file names without its own section points at the line that names it (its :vars header, a :children entry)", async () => {
    for (const [text, line] of [
      ["[tower]\nhostA ansible_host=10.0.0.1\n\n[instance_group_east:vars]\npolicy_instance_minimum=1\n", 4],
      ["[tower]\nhostA ansible_host=10.0.0.1\n\n[instance_group_all:children]\n  instance_group_east\n", 5],
    ] as const) {
      const file = join(dir, `group-${line}.ini`);
      writeFileSync(file, text);
      const r = await runCli(["validate", file, "--json"]);
      const fs = (JSON.parse(r.out) as { findings: JsonFinding[] }).findings.filter((f) => f.path === "[instance_group_east]");
      assert.ok(fs.length > 0, r.out);
      for (const f of fs) assert.deepEqual([f.file, f.line], [file, line], `${text}\n${r.out}`);
    }
  });

  it("INI: a bad :vars value points at the value, a host line at the host, in text and JSON", async () => {
    const file = join(dir, "inv.ini");
    writeFileSync(file, "[tower]\nhostA ansible_host=10.0.0.1\n\n[all:vars]\nadmin_password=x\n  rabbitmq_port = abc\nansible_hots=1\n");
    const r = await runCli(["validate", file, "--json"]);
    const fs = (JSON.parse(r.out) as { findings: JsonFinding[] }).findings;
    const port = fs.find((f) => f.path === "[all:vars] rabbitmq_port");
    assert.deepEqual([port?.file, port?.line, port?.col], [file, 6, 19]);
    const typo = fs.find((f) => f.path === "[all:vars] ansible_hots");
    assert.deepEqual([typo?.line, typo?.col], [7, 14]);
    const t = await runCli(["validate", file]);
    assert.match(t.out, new RegExp(`:6:19: error ini\\.not-a-number at \\[all:vars\\] rabbitmq_port`));
  });
});
