/**
 * The one escaping module (src/core/escape.ts), each helper checked against the reader of its
 * format: `sh` for shell words, js-yaml for YAML/JSON, xmlbuilder2's parser for XML; and the
 * template guard that makes a plain `{{x}}` unable to write a line break.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import yaml from "js-yaml";
import { create } from "xmlbuilder2";
import * as esc from "../../src/core/escape";
import { compileTemplate, Fragment, renderTemplate, TEMPLATES_DIR } from "../../src/render/templates";

const NASTY = ["", "a b", "'", '"', "\\", "$(touch /tmp/x)", "`id`", "a;b", "a\nb", "%h", "${X}", "*", "~", "-n", "#", "\u00e9\u2028"];
/** Strings without NUL (argv cannot carry one), biased to shell metacharacters. */
const text = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({
    unit: fc.constantFrom("a", " ", "'", '"', "\\", "$", "`", ";", "\n", "%", "*", "#", "(", ")", "|", "&", "<", ">", "!", "{", "}"),
  }),
  fc.string(),
);
const noNul = text.filter((s) => !s.includes("\u0000"));

const shEcho = (words: string): string => execFileSync("sh", ["-c", `printf '%s|' ${words}`], { encoding: "utf8" });

describe("escape: one helper per format", () => {
  it("shellQuote and shellWord: sh reads back exactly the value, as one word", () => {
    const values: string[] = fc.sample(noNul, { numRuns: 150, seed: 13 }).concat(NASTY);
    // One sh run for all: every value is one word, followed by `|`.
    assert.equal(shEcho(values.map(esc.shellQuote).join(" ")), values.map((v) => `${v}|`).join(""));
    assert.equal(shEcho(values.map(esc.shellWord).join(" ")), values.map((v) => `${v}|`).join(""));
    assert.equal(esc.shellWord("dr-provision"), "dr-provision", "safe names stay readable");
    assert.throws(() => esc.shellQuote("a\u0000b"), esc.EscapeError);
  });

  it("shellToken and pathSegment refuse what would need quoting or leave a directory", () => {
    for (const bad of ["a b", "$x", "a'b", "a\nb", "`x`", ""]) assert.throws(() => esc.shellToken(bad), esc.EscapeError, bad);
    for (const bad of ["..", ".", "", "a/b", "../x", "a\nb"]) assert.throws(() => esc.pathSegment(bad), esc.EscapeError, bad);
    assert.equal(esc.pathSegment("getty@tty1"), "getty@tty1");
  });

  it("shellAssignment: sourcing the line sets exactly the value", () => {
    fc.assert(
      fc.property(noNul, (v) => {
        const out = execFileSync("sh", ["-c", `${esc.shellAssignment("V", v)}\nprintf '%s' "$V"`], { encoding: "utf8" });
        assert.equal(out, v);
      }),
      { numRuns: 40, seed: 13 },
    );
  });

  it("systemd: one quoted word on one line, % doubled, quotes and backslashes escaped", () => {
    fc.assert(
      fc.property(fc.string(), (v) => {
        const q = esc.systemdQuote(v);
        assert.ok(!/[\n\r]/.test(q));
        assert.match(q, /^"(?:[^"\\%]|\\.|%%)*"$/s);
        // Undo systemd's unquoting for the escapes we emit, and get the value back.
        const back = q
          .slice(1, -1)
          .replace(/%%/g, "%")
          .replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) =>
            e.length === 3
              ? String.fromCharCode(parseInt(e.slice(1), 16))
              : (({ n: "\n", t: "\t", r: "\r" } as Record<string, string>)[e] ?? e),
          );
        assert.equal(back, v);
      }),
      { numRuns: 300, seed: 13 },
    );
  });

  it("INI and conf values never span lines", () => {
    for (const f of [esc.iniValue, esc.iniLine, esc.confQuote, esc.systemdLine]) {
      assert.throws(() => f("a\nserver rogue 1.2.3.4:80"), esc.EscapeError);
      assert.throws(() => f("a\r"), esc.EscapeError);
    }
    assert.equal(esc.iniValue('a"b\\c%d'), '"a\\"b\\\\c%%d"');
    assert.equal(esc.confQuote('p"a$s\\s'), '"p\\"a\\$s\\\\s"');
  });

  it("xml: an XML parser reads back the value from an attribute and from text", () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s) && !/[\ud800-\udfff]/.test(s)),
        (v) => {
          const root = create(`<r a="${esc.xml(v)}">[${esc.xml(v)}]</r>`).root().node as unknown as {
            getAttribute(n: string): string;
            textContent: string;
          };
          assert.equal(root.getAttribute("a"), v);
          assert.equal(root.textContent, `[${v}]`); // brackets: the parser drops whitespace-only text
        },
      ),
      { numRuns: 300, seed: 13 },
    );
  });

  it("json and yaml: the YAML reader reads back the value", () => {
    fc.assert(
      fc.property(fc.string(), (v) => {
        assert.equal((yaml.load(`k: ${esc.yaml(v)}\n`) as { k: string }).k, v);
        assert.equal(JSON.parse(esc.json(v)), v);
      }),
      { numRuns: 300, seed: 13 },
    );
  });
});

describe("templates: a plain {{x}} writes a token", () => {
  it("a line break through {{x}} throws instead of adding a line", () => {
    const t = compileTemplate("server {{name}} {{addr}}:{{port}}\n");
    assert.equal(t({ name: "a", addr: "10.0.0.1", port: 80 }), "server a 10.0.0.1:80\n");
    assert.throws(() => t({ name: "a\nserver rogue", addr: "10.0.0.1", port: 80 }), esc.EscapeError);
    assert.throws(() => t({ name: "a", addr: "x\u2028y", port: 80 }), esc.EscapeError);
    // Even when the field is named like a helper.
    assert.throws(() => compileTemplate("token: {{token}}\n")({ token: "a\nb" }), esc.EscapeError);
    assert.equal(compileTemplate("token: {{token}}\n")({ token: 3000 }), "token: 3000\n");
  });

  it("a rendered template placed in another one is a Fragment; a multi-line string is not", () => {
    const outer = compileTemplate("a\n{{inner}}\nb\n");
    assert.equal(outer({ inner: new Fragment("x = 1\ny = 2") }), "a\nx = 1\ny = 2\nb\n");
    assert.throws(() => outer({ inner: "x = 1\ny = 2" }), esc.EscapeError);
  });

  it("raw {{{x}}} is refused when a template compiles; format helpers escape", () => {
    assert.throws(() => compileTemplate("{{{x}}}"), /not allowed/);
    assert.equal(compileTemplate("{{shell x}} {{xml x}} {{json x}}")({ x: "a'<\"" }), `'a'\\''<"' a&apos;&lt;&quot; "a'<\\""`);
  });

  it("every template under templates/ compiles under the guard and uses no raw mustache", () => {
    let n = 0;
    for (const svc of readdirSync(TEMPLATES_DIR)) {
      for (const f of readdirSync(join(TEMPLATES_DIR, svc))) {
        const src = readFileSync(join(TEMPLATES_DIR, svc, f), "utf8");
        assert.ok(!src.includes("{{{"), `${svc}/${f} has a raw {{{...}}}`);
        compileTemplate(src, `${svc}/${f}`);
        n++;
      }
    }
    assert.ok(n >= 20, `${n} templates`);
    assert.match(
      renderTemplate("common", "supervisor.conf.hbs", {
        name: "x",
        description: "50% d",
        command: "/bin/x %(here)s",
        startsecs: 2,
        stopwaitsecs: 30,
      }),
      /^; Managed by haforge: 50%% d\n\[program:x\]\ncommand=\/bin\/x %%\(here\)s$/m,
    );
  });
});
