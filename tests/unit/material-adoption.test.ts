/**
 * Adopting generated keys (issue 9, item 1): where each whole-file material lands on the hosts
 * (materialSources), and reading it back (adoptedValue). The Materials provider uses both when
 * the state has no value for a key (tests/providers/adoption.test.ts runs it against sshd).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ADOPTABLE_KINDS, adoptedValue, chooseAdopted, materialSources, type MaterialKind } from "../../src/core/materials";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { renderByService, requiredMaterials } from "../../src/pipeline/render";

const ROOT = join(__dirname, "..", "..");

describe("material adoption", () => {
  for (const inv of ["openstack-pacemaker.yaml", "tripleo-lightweight.yaml", "lab.yaml"]) {
    it(`${inv}: every whole-file key (authkeys, gossip keys, tokens) is found in the files of the hosts that use it`, () => {
      const plan = analyzeInventoryFile(join(ROOT, "inventories", inv)).plan!;
      const specs = requiredMaterials(plan);
      const adoptable = specs.filter((s) => ADOPTABLE_KINDS.has(s.kind.type));
      assert.ok(adoptable.length > 0, "the example has adoptable keys");
      // Distinct placeholders per key, as the program renders its structure.
      const values = Object.fromEntries(
        specs.map((s) => {
          const d = createHash("sha256").update(s.key).digest();
          return [
            s.key,
            s.kind.type === "random-bytes"
              ? Buffer.concat(Array(8).fill(d)).toString("base64")
              : `placeholder${d.toString("hex").slice(0, 21)}`,
          ];
        }),
      );
      const secrets = new Proxy({}, { get: (_t, k) => `placeholder-${String(k)}` }) as Record<string, string>;
      const files = renderByService(plan, secrets, values).flatMap((r) => r.files);
      const sources = materialSources(files, specs, values);
      const corosync = adoptable.filter((s) => s.key.startsWith("corosync/"));
      for (const s of corosync) assert.ok((sources[s.key] ?? []).length > 0, `${s.key}: no file holds it`);
      for (const [key, list] of Object.entries(sources)) {
        for (const src of list) {
          const f = files.find((x) => x.host === src.host && x.path === src.path)!;
          assert.ok(f.secret, `${key} lands in ${src.host}:${src.path}, which must be a secret file`);
        }
      }
    });
  }

  it("reads back exactly what was written, and nothing of another length or alphabet (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 512 }), fc.uint8Array({ minLength: 1, maxLength: 600 }), (n, raw) => {
        const kind: MaterialKind = { type: "random-bytes", bytes: n };
        const bytes = Buffer.from(raw);
        const v = adoptedValue(kind, { host: "h", path: "/k", base64: true }, bytes);
        if (bytes.length === n) assert.equal(v, bytes.toString("base64"));
        else assert.equal(v, undefined);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.boolean(), (text, nl) => {
        const kind: MaterialKind = { type: "token", length: text.length };
        const v = adoptedValue(kind, { host: "h", path: "/c", base64: false, suffix: "\n" }, Buffer.from(text + (nl ? "\n" : "")));
        assert.equal(v, nl && /^[A-Za-z0-9]+$/.test(text) ? text : undefined);
      }),
      { numRuns: 200 },
    );
  });
});

describe("chooseAdopted: which value found on the hosts is the cluster's", () => {
  const found = fc.array(fc.record({ host: fc.constantFrom("h1", "h2", "h3", "h4", "h5"), value: fc.constantFrom("A", "B", "C", "D") }), {
    maxLength: 8,
  });
  it("adopts only a value two hosts share or the only value there is; every host its own = unshared; never both", () => {
    fc.assert(
      fc.property(found, (f) => {
        const hostsOf = (v: string) => new Set(f.filter((x) => x.value === v).map((x) => x.host)).size;
        const values = [...new Set(f.map((x) => x.value))];
        const r = chooseAdopted(f);
        assert.ok(!(r.value !== undefined && r.unshared), "adopted and unshared at once");
        if (r.value !== undefined) {
          assert.ok(values.length === 1 || hostsOf(r.value) >= 2, `${r.value} adopted although only one host of several holds it`);
          for (const v of values) assert.ok(hostsOf(v) < hostsOf(r.value) || v === r.value, `${v} is held by as many hosts as ${r.value}`);
        }
        if (r.unshared)
          assert.ok(values.length >= 2 && values.every((v) => hostsOf(v) === 1), "unshared only when every host holds its own");
        if (values.length === 1) assert.equal(r.value, values[0], "one value everywhere (or one host): adopted");
        if (values.length >= 2 && values.every((v) => hostsOf(v) === 1)) assert.ok(r.unshared);
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});
