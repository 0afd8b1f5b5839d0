/**
 * Handlebars templates from templates/<svc>/<name>. Configs are not HTML, so Handlebars' HTML
 * escaping is useless here; instead every value is written in one of two ways:
 *
 * - `{{x}}` (a plain mustache) writes a TOKEN: a number, a boolean, or a string without any
 *   control character. The templates are compiled from a rewritten syntax tree in which every
 *   plain `{{x}}` is `{{__token x}}`, and `__token` throws on a string holding a line break, so a
 *   value can never add a line, a section or a server to a config, whatever its source.
 * - free text goes through the helper of the file's format, from the one escaping module
 *   (src/core/escape.ts): `{{shell x}}`, `{{shellWord x}}`, `{{systemd x}}`, `{{systemdLine x}}`,
 *   `{{ini x}}`, `{{iniLine x}}`, `{{conf x}}`, `{{xml x}}`, `{{json x}}`, `{{yaml x}}`.
 *
 * A template's output may be placed in another one as a `Fragment` (renderFragment).
 * Triple-stash `{{{x}}}` (raw output) is refused when a template compiles. Missing data renders
 * empty (never throws); the daemon's own check in the system tests catches a config that came
 * out wrong. Handlebars itself is loaded on the first render (planning never renders).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type HandlebarsNs from "handlebars";
import * as esc from "../core/escape";
import { PACKAGE_ROOT } from "../core/package-root";

export const TEMPLATES_DIR = join(PACKAGE_ROOT, "templates");

// eslint-disable-next-line @typescript-eslint/no-base-to-string -- template data: strings, numbers, booleans as the inventory holds them
const str = (s: unknown): string => String(s ?? "");

/**
 * A template's output placed inside another template (`{{nodeList}}`): written as is, since every
 * value in it went through the guard when it rendered. Only renderFragment makes one.
 */
export class Fragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** What a plain `{{x}}` may write: numbers, booleans, strings without control characters, fragments. */
function token(v: unknown, where: string): string {
  if (v === undefined || v === null) return "";
  if (v instanceof Fragment) return v.text;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- template data: strings, numbers, booleans as the inventory holds them
  const s = String(v);
  if (esc.CONTROL_CHARS.test(s))
    throw new esc.EscapeError(
      `{{${where}}}`,
      s,
      "a plain {{value}} is a token; free text needs its format's helper ({{shell x}}, {{xml x}}, ...)",
    );
  return s;
}

let engine: typeof HandlebarsNs | undefined;

/** The Handlebars instance with our helpers, loaded on the first render. */
function handlebars(): typeof HandlebarsNs {
  if (engine) return engine;
  const hb = (require("handlebars") as typeof HandlebarsNs).create();
  hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  hb.registerHelper("ne", (a: unknown, b: unknown) => a !== b);
  hb.registerHelper("not", (a: unknown) => !a);
  hb.registerHelper("join", (list: unknown, sep: unknown) =>
    Array.isArray(list) ? token(list.join(typeof sep === "string" ? sep : ","), "join") : "",
  );
  hb.registerHelper("add", (a: unknown, b: unknown) => Number(a) + Number(b));
  hb.registerHelper("lower", (s: unknown) => token(str(s).toLowerCase(), "lower"));
  hb.registerHelper("upper", (s: unknown) => token(str(s).toUpperCase(), "upper"));
  // One helper per target format (src/core/escape.ts).
  hb.registerHelper("shell", (s: unknown) => esc.shellQuote(str(s)));
  hb.registerHelper("shellWord", (s: unknown) => esc.shellWord(str(s)));
  hb.registerHelper("systemd", (s: unknown) => esc.systemdQuote(str(s)));
  hb.registerHelper("systemdLine", (s: unknown) => esc.systemdLine(str(s)));
  hb.registerHelper("ini", (s: unknown) => esc.iniValue(str(s)));
  hb.registerHelper("iniLine", (s: unknown) => esc.iniLine(str(s)));
  hb.registerHelper("conf", (s: unknown) => esc.confQuote(str(s)));
  hb.registerHelper("xml", (s: unknown) => esc.xml(str(s)));
  hb.registerHelper("json", (v: unknown) => esc.json(v));
  hb.registerHelper("yaml", (v: unknown) => esc.yaml(v));
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- template data: strings, numbers, booleans as the inventory holds them
  hb.registerHelper("__token", (v: unknown, options: { hash?: { where?: unknown } }) => token(v, String(options?.hash?.where ?? "value")));
  engine = hb;
  return hb;
}

type Node = { type: string; [k: string]: unknown };

/** Rewrite every plain `{{path}}` into `{{token path}}`; refuse `{{{raw}}}`. */
function guard(node: unknown, file: string): void {
  if (!node || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const n of node) guard(n, file);
    return;
  }
  const n = node as Node;
  if (n.type === "MustacheStatement") {
    const path = n["path"] as Node & { original?: string };
    const params = (n["params"] as unknown[]) ?? [];
    if (n["escaped"] === false) throw new Error(`${file}: raw {{{${path.original ?? "…"}}}} is not allowed; use a format helper`);
    // Every parameterless mustache is a value, even one named like a helper (`{{token}}`).
    if (params.length === 0 && !n["hash"]) {
      const loc = n["loc"];
      n["params"] = [path];
      n["hash"] = {
        type: "Hash",
        pairs: [
          {
            type: "HashPair",
            key: "where",
            value: { type: "StringLiteral", value: String(path.original ?? "value"), original: String(path.original ?? "value"), loc },
            loc,
          },
        ],
        loc,
      };
      n["path"] = { type: "PathExpression", data: false, depth: 0, parts: ["__token"], original: "__token", loc };
    }
  }
  for (const [k, v] of Object.entries(n)) if (k !== "loc" && v && typeof v === "object") guard(v, file);
}

/** Compile a template source with the token guard (exported for tests). */
export function compileTemplate(source: string, file = "template"): HandlebarsNs.TemplateDelegate {
  const hb = handlebars();
  const ast = hb.parse(source);
  guard(ast, file);
  return hb.compile(ast, { noEscape: true, strict: false });
}

const cache = new Map<string, HandlebarsNs.TemplateDelegate>();

/** Render templates/<svc>/<name> as a fragment for another template. */
export function renderFragment(svc: string, name: string, data: unknown): Fragment {
  return new Fragment(renderTemplate(svc, name, data));
}

/** Render templates/<svc>/<name> with `data`. */
export function renderTemplate(svc: string, name: string, data: unknown): string {
  const key = `${svc}/${name}`;
  let tpl = cache.get(key);
  if (!tpl) {
    tpl = compileTemplate(readFileSync(join(TEMPLATES_DIR, svc, name), "utf8"), key);
    cache.set(key, tpl);
  }
  return tpl(data);
}

const verbatim = new Map<string, string>();

/**
 * A file shipped as it is (a plain script such as templates/pacemaker/cib-apply.sh): no template
 * syntax, every value passed on its command line. Refuses a file holding Handlebars syntax, so a
 * `.hbs` by another name is never copied unrendered.
 */
export function staticFile(svc: string, name: string): string {
  const key = `${svc}/${name}`;
  let text = verbatim.get(key);
  if (text === undefined) {
    text = readFileSync(join(TEMPLATES_DIR, svc, name), "utf8");
    if (name.endsWith(".hbs") || text.includes("{{")) throw new Error(`${key} is a template, not a file shipped as it is`);
    verbatim.set(key, text);
  }
  return text;
}
