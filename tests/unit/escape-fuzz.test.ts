/**
 * The injection fuzzer (issue 13's, kept in the suite so the class stays closed): shell, quoting,
 * newline, CR, NUL/control-character, `..`, very long and numeric-looking payloads in every string
 * field and every map key of every example inventory (inventories/*), and in the INI text of the
 * Tower INI examples (group names, host names, variable values). See tests/helpers/fuzz.ts: each
 * render either ends in findings (no exception), or yields a tree with the un-fuzzed one's parsed
 * structure (every file's directives, sections, XML elements, JSON/YAML keys and value types),
 * hosts that are one path segment, file paths under their root, and commands that, run under `sh`
 * against stub binaries, create no marker file.
 *
 * Seeded and bounded: one payload per site (rotating through the list), plus a fast-check property
 * drawing (site, payload) pairs with a fixed number of runs; HAFORGE_FUZZ_ALL=1 tries every
 * payload on every site. The real daemons' verdict on what a payload reached: tests/system/escape-fuzz.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { analyzeInventoryText } from "../../src/pipeline/analyze";
import type { DesiredState, FileSpec } from "../../src/core/desired-state";
import { secretKey } from "../../src/core/secrets";
import { collectSecretRefs } from "../../src/render/output";
import { secretFindings } from "../../src/pipeline/render";
import { exampleInventories, inventoryPath } from "../golden/examples";
import {
  Sandbox,
  checkVariant,
  loadExample,
  payloads,
  renderVariant,
  siteName,
  baselineOf,
  type Baseline,
  type Example,
  type Payload,
  type Site,
} from "../helpers/fuzz";

const WORK = mkdtempSync(join(tmpdir(), "haforge-fuzz-"));
after(() => rmSync(WORK, { recursive: true, force: true }));
const sb = new Sandbox(WORK);
const PAYLOADS = payloads(sb.mark);
const totals = { renders: 0, refused: 0, accepted: 0, files: 0 };

function tryVariant(ex: Example, base: Baseline, site: Site, payload: Payload): "refused" | "rendered" {
  const ctx = `${ex.name}: ${siteName(site)} ${payload.replace ? "=" : "+"} ${JSON.stringify(payload.text.length > 80 ? `${payload.text.slice(0, 40)}…(${payload.text.length})` : payload.text)}`;
  let out;
  try {
    out = renderVariant(ex, site, payload);
  } catch (e) {
    assert.fail(`${ctx} threw ${(e as Error).stack}`);
  }
  totals.renders++;
  if (!out.state) {
    totals.refused++;
    return "refused";
  }
  totals.accepted++;
  totals.files += out.state.hosts.reduce((n, h) => n + h.files.length, 0);
  checkVariant(sb, base, out.state, payload, ctx);
  return "rendered";
}

/** INI text takes no line break (that is just the next line); a group renamed to a number is another group. */
const usable = (site: Site): Payload[] =>
  PAYLOADS.filter((p) => site.kind === "doc" || (p.ini && !(p.replace && site.what.startsWith("group"))));

describe("injection fuzzer over the example inventories", () => {
  const all = process.env["HAFORGE_FUZZ_ALL"] === "1";
  const examples = exampleInventories();
  assert.ok(examples.length >= 9, examples.join(", "));
  for (const [n, name] of examples.entries()) {
    it(`${name}: payloads in every string field, map key (and INI token) end in findings or the same structure`, () => {
      const ex = loadExample(name);
      const baseline = renderVariant(ex, undefined, undefined);
      assert.ok(baseline.state, `${name} renders`);
      const base = baselineOf(baseline.state);
      assert.ok(ex.sites.length > 20, `${name}: only ${ex.sites.length} sites`);
      if (name.endsWith(".ini"))
        assert.ok(
          ex.sites.some((s) => s.kind === "ini"),
          `${name}: no INI text site`,
        );
      const seen = { refused: 0, rendered: 0 };
      ex.sites.forEach((site, i) => {
        const list = usable(site);
        for (const payload of all ? list : [list[(i * 7 + n * 3) % list.length]!]) seen[tryVariant(ex, base, site, payload)]++;
      });
      // Plus random (site, payload) pairs: hidden runs use other seeds.
      fc.assert(
        fc.property(fc.nat({ max: ex.sites.length - 1 }), fc.nat({ max: PAYLOADS.length - 1 }), (si, pi) => {
          const site = ex.sites[si]!;
          const list = usable(site);
          seen[tryVariant(ex, base, site, list[pi % list.length]!)]++;
        }),
        { numRuns: 60, seed: 1300 + n, includeErrorInReport: true },
      );
      assert.ok(seen.refused > 0, "some payloads must be refused");
      // Free text (pacemaker params, host vars, literal secrets) is accepted and escaped.
      if (name === "openstack-pacemaker.yaml" || name.endsWith(".ini"))
        assert.ok(seen.rendered > 0, `${name}: no payload reached a render`);
    });
  }
  after(() => {
    console.log(
      `escape fuzzer: ${totals.renders} renders (${totals.refused} refused with findings, ${totals.accepted} rendered: ${totals.files} files checked), ${sb.commandsRun} commands run under sh`,
    );
  });
});

describe("the fuzzer's checks can fail (negative controls)", () => {
  const file = (path: string, content: string): FileSpec => ({
    host: "h1",
    path,
    content,
    mode: "0644",
    owner: "root",
    group: "root",
    secret: false,
    notify: [],
  });
  const state = (files: FileSpec[], restart = "systemctl restart haproxy"): DesiredState => ({
    hosts: [{ host: "h1", files, services: [{ host: "h1", name: "haproxy", manager: "systemd", restart }] }],
    actions: [],
    manifests: [],
  });
  const cfg = "backend b\n    server lab1 10.0.0.1:80 check\n";
  const base = baselineOf(state([file("/etc/haproxy/haproxy.cfg", cfg), file("/etc/x.yaml", "a: '012'\n")]));
  const p: Payload = { text: "x", ini: true };
  it("the same structure passes", () => {
    checkVariant(
      sb,
      base,
      state([file("/etc/haproxy/haproxy.cfg", cfg.replace("lab1", "lab1x")), file("/etc/x.yaml", "a: 'x'\n")]),
      p,
      "ok",
    );
  });
  it("an extra server line, a string turned number, a path outside its root, an injected command are caught", () => {
    const bad: [string, DesiredState][] = [
      [
        "extra server",
        state([file("/etc/haproxy/haproxy.cfg", `${cfg}    server rogue 10.6.6.6:80\n`), file("/etc/x.yaml", "a: '012'\n")]),
      ],
      ["number", state([file("/etc/haproxy/haproxy.cfg", cfg), file("/etc/x.yaml", "a: 012\n")])],
      ["traversal", state([file("/etc/haproxy/../../tmp/haproxy.cfg", cfg), file("/etc/x.yaml", "a: '012'\n")])],
      [
        "injection",
        state([file("/etc/haproxy/haproxy.cfg", cfg), file("/etc/x.yaml", "a: '012'\n")], `systemctl restart haproxy;touch ${sb.mark}`),
      ],
    ];
    for (const [what, st] of bad) {
      assert.throws(() => checkVariant(sb, base, st, p, what), /structure changed|leaves its root|created the marker/, what);
      rmSync(sb.mark, { force: true });
    }
  });
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
