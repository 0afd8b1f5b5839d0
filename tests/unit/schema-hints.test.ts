/**
 * Every `schema.invalid` finding says what the field takes (issue 13): the hint is specific to the
 * failure — the allowed values of an enum (with a did-you-mean), the range of a number, the type
 * expected, the kind of a string, the forms of a union, the count of a list — never the generic
 * "see the schema".
 *
 * The property: a field of an example inventory, picked at random, gets a wrong value of a
 * random failure kind; the finding validate reports at that path carries a hint that names what
 * the field takes. The expectation comes from the exported JSON Schema
 * (schema/inventory.schema.json: enum, minimum/maximum, type, title, minItems), not from the
 * code under test.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import yaml from "js-yaml";
import { parseInventoryText } from "../../src/inventory/load";
import { joinPath } from "../../src/inventory/yaml";
import { ROOT } from "../helpers/cli";

const GENERIC = /see schema\/inventory\.schema\.json for the expected shape/i;
const EXAMPLES = [
  "cloudify.yaml",
  "dr-provision.yaml",
  "lab.yaml",
  "openstack-pacemaker.yaml",
  "tower-cluster.yaml",
  "tripleo-lightweight.yaml",
];

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  title?: string;
  pattern?: string;
}
const SCHEMA = JSON.parse(readFileSync(join(ROOT, "schema", "inventory.schema.json"), "utf8")) as JsonSchema;

type Path = (string | number)[];
/** The JSON Schema node a document path names (objects, arrays; the object form of a union). */
function nodeAt(path: Path): JsonSchema | undefined {
  let n: JsonSchema | undefined = SCHEMA;
  for (const seg of path) {
    if (!n) return undefined;
    if (n.anyOf)
      n = n.anyOf.find((o) =>
        typeof seg === "number"
          ? o.items
          : (o.properties?.[seg] ?? (typeof o.additionalProperties === "object" ? o.additionalProperties : undefined)),
      );
    if (!n) return undefined;
    if (typeof seg === "number") n = n.items;
    else n = n.properties?.[seg] ?? (typeof n.additionalProperties === "object" ? n.additionalProperties : undefined);
  }
  return n;
}

/** Secret fields never show their value; their hint is the secret-reference one (tested elsewhere). */
const SECRETISH = /password|cookie|token|authPass|encryptKey|privateKey|secretKey/i;

interface Site {
  readonly example: string;
  readonly doc: unknown;
  readonly path: Path;
  readonly node: JsonSchema;
}
function sites(): Site[] {
  const out: Site[] = [];
  for (const example of EXAMPLES) {
    const doc = yaml.load(readFileSync(join(ROOT, "inventories", example), "utf8"));
    const walk = (v: unknown, path: Path) => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      if (
        path.some((s) => typeof s === "string" && SECRETISH.test(s)) ||
        path.some((s) => ["params", "meta", "spec", "vars", "properties"].includes(String(s)))
      )
        return;
      const node = nodeAt(path);
      if (
        node &&
        (node.enum ||
          node.type === "integer" ||
          node.type === "number" ||
          node.type === "boolean" ||
          (node.type === "string" && node.title) ||
          node.type === "array")
      )
        out.push({ example, doc, path, node });
    };
    walk(doc, []);
  }
  return out;
}

function setAt(doc: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let parent = copy;
  for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
  return copy;
}

const fmt = (path: Path) => path.reduce<string>((p, s) => joinPath(p, s), "");

describe("schema.invalid hints say what the field takes", () => {
  const all = sites();
  it("the examples give sites of every kind", () => {
    const kinds = new Set(all.map((s) => (s.node.enum ? "enum" : String(s.node.type))));
    for (const k of ["enum", "integer", "boolean", "string", "array"]) assert.ok(kinds.has(k), `${k}: ${[...kinds].join(", ")}`);
  });

  it("property: a wrong value of any kind at any field gets a hint naming the allowed values, range, type or kind", () => {
    fc.assert(
      fc.property(fc.nat(all.length - 1), fc.nat(1000), fc.constantFrom("type", "value"), (i, k, how) => {
        const site = all[i]!;
        const n = site.node;
        let bad: unknown;
        let expect: (hint: string) => void;
        const allowed = n.enum ?? ("const" in n ? [n.const] : undefined);
        if (allowed) {
          const strings = allowed.every((v) => typeof v === "string");
          if (how === "type" || !strings) {
            bad = `nope-${k}`;
          } else {
            // A near miss: one of the values with its first letter doubled.
            const v = allowed[k % allowed.length] as string;
            bad = `${v.slice(0, 1)}${v}`;
          }
          expect = (hint) => {
            for (const v of allowed) assert.ok(hint.includes(JSON.stringify(v)), `lists ${JSON.stringify(v)}: ${hint}`);
            if (how === "value" && strings) assert.match(hint, /Did you mean/, hint);
          };
        } else if (n.type === "integer" || n.type === "number") {
          const min = n.minimum ?? (n.exclusiveMinimum !== undefined ? n.exclusiveMinimum + 1 : undefined);
          const max = n.maximum ?? (n.exclusiveMaximum !== undefined ? n.exclusiveMaximum - 1 : undefined);
          const safe = (x: number | undefined) => (x !== undefined && Math.abs(x) < 2 ** 53 ? x : undefined);
          const lo = safe(min);
          const hi = safe(max);
          if (how === "type" || (lo === undefined && hi === undefined)) {
            bad = k % 2 ? `${k}` : "soon";
            expect = (hint) => {
              assert.match(hint, n.type === "integer" ? /whole number/ : /number/, hint);
              if (typeof bad === "string" && /^\d+$/.test(bad)) assert.match(hint, /without quotes/, hint);
            };
          } else {
            bad = hi !== undefined && (k % 2 === 1 || lo === undefined) ? hi + 1 + (k % 7) : lo! - 1 - (k % 7);
            expect = (hint) => {
              if (lo !== undefined && hi !== undefined) assert.ok(hint.includes(`from ${lo} to ${hi}`), `range ${lo}..${hi}: ${hint}`);
              else assert.ok(hint.includes(String(lo ?? hi)), `bound ${lo ?? hi}: ${hint}`);
            };
          }
        } else if (n.type === "boolean") {
          bad = how === "type" ? k : "yes";
          expect = (hint) => assert.match(hint, /true or false/, hint);
        } else if (n.type === "string" && n.title) {
          bad = how === "type" ? k : `bad value ${k}\n;`;
          expect = (hint) =>
            how === "type"
              ? assert.match(hint, /Quote it|string|name|address/i, hint)
              : assert.ok(hint.includes(n.title!), `kind ${n.title}: ${hint}`);
        } else if (n.type === "array") {
          if (how === "value" && n.minItems) {
            bad = [];
            expect = (hint) => assert.ok(hint.includes(`at least ${n.minItems}`), `minItems ${n.minItems}: ${hint}`);
          } else {
            bad = `x${k}`;
            expect = (hint) => assert.match(hint, /list/, hint);
          }
        } else return;
        const doc = setAt(site.doc, site.path, bad);
        const r = parseInventoryText(JSON.stringify(doc), `${site.example}.json`);
        const at = fmt(site.path);
        const found = r.findings.filter(
          (f) => f.code === "schema.invalid" && (f.path === at || f.path.startsWith(`${at}[`) || f.path.startsWith(`${at}.`)),
        );
        if (found.length === 0) {
          // Some values are valid after all (a string kind that allows spaces): then no finding at all.
          assert.ok(!r.findings.some((f) => f.code === "schema.invalid" && f.path === at), JSON.stringify(r.findings));
          return;
        }
        const f = found.find((x) => x.path === at) ?? found[0]!;
        assert.ok(f.hint, `${site.example} ${at} = ${JSON.stringify(bad)}: a hint`);
        assert.doesNotMatch(f.hint, GENERIC, `${site.example} ${at} = ${JSON.stringify(bad)}: ${f.message}`);
        if (f.path === at) expect(f.hint);
      }),
      { numRuns: 400, seed: 1313 },
    );
  });

  it("every schema.invalid finding of the mutated examples has a specific hint (no generic one)", () => {
    let n = 0;
    for (const site of all) {
      for (const bad of [null, "x", 1.5, [], {}]) {
        const r = parseInventoryText(JSON.stringify(setAt(site.doc, site.path, bad)), `${site.example}.json`);
        for (const f of r.findings.filter((x) => x.code === "schema.invalid")) {
          n++;
          assert.ok(f.hint && !GENERIC.test(f.hint), `${site.example} ${f.path} = ${JSON.stringify(bad)}: ${f.message} / ${f.hint}`);
        }
      }
    }
    assert.ok(n > 500, `${n} findings`);
  });
});
