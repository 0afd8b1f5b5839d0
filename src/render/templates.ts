/**
 * Handlebars templates from templates/<svc>/<name>. Configs are not HTML: no escaping. Templates
 * only format data the service's TypeScript computed; missing data renders empty (never throws),
 * and the daemon's own check in the system tests catches a config that came out wrong.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type HandlebarsNs from "handlebars";

export const TEMPLATES_DIR = join(__dirname, "..", "..", "templates");

let engine: typeof HandlebarsNs | undefined;

/** The Handlebars instance with our helpers, loaded on the first render (planning never renders). */
function handlebars(): typeof HandlebarsNs {
  if (engine) return engine;
  const hb = (require("handlebars") as typeof HandlebarsNs).create();
  hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  hb.registerHelper("ne", (a: unknown, b: unknown) => a !== b);
  hb.registerHelper("not", (a: unknown) => !a);
  hb.registerHelper("join", (list: unknown, sep: unknown) => (Array.isArray(list) ? list.join(typeof sep === "string" ? sep : ",") : ""));
  hb.registerHelper("json", (v: unknown) => JSON.stringify(v ?? null));
  hb.registerHelper("add", (a: unknown, b: unknown) => Number(a) + Number(b));
  hb.registerHelper("lower", (s: unknown) => String(s ?? "").toLowerCase());
  hb.registerHelper("upper", (s: unknown) => String(s ?? "").toUpperCase());
  hb.registerHelper("xml", (s: unknown) =>
    String(s ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;"),
  );
  engine = hb;
  return hb;
}

const cache = new Map<string, HandlebarsNs.TemplateDelegate>();

/** Render templates/<svc>/<name> with `data`. */
export function renderTemplate(svc: string, name: string, data: unknown): string {
  const key = `${svc}/${name}`;
  let tpl = cache.get(key);
  if (!tpl) {
    const source = readFileSync(join(TEMPLATES_DIR, svc, name), "utf8");
    tpl = handlebars().compile(source, { noEscape: true, strict: false });
    cache.set(key, tpl);
  }
  return tpl(data);
}
