/**
 * Adopting generated keys (issue 9, item 1): where each whole-file material lands on the hosts
 * (materialSources), and reading it back (adoptedValue). The Materials provider uses both when
 * the state has no value for a key (tests/providers/adoption.test.ts runs it against sshd).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash, createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  ADOPTABLE_KINDS,
  MATERIAL_LINE_PREFIX,
  adoptedValue,
  chooseAdopted,
  materialSources,
  type MaterialKind,
} from "../../src/core/materials";
import { generateMaterial } from "../../src/core/generate-material";
import { consulPlan } from "../fixtures/quorum-store-plan";
import { certMaterialKey, deviceIdOf } from "../../src/services/syncthing/render";
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

/**
 * Materials that no file holds whole (issue 9, item 1: key pairs and certificates on an empty
 * state): a syncthing device certificate with its key, a syncthing API key inside config.xml,
 * Tower's isolated key pair in Tower's settings. Each service declares where they live
 * (MaterialSpec.readBack); read back, they must render exactly what the hosts hold.
 */
describe("read-back sources: certificate pairs, embedded tokens, key pairs kept by an application", () => {
  const certs = Array.from({ length: 3 }, () => generateMaterial({ type: "syncthing-cert", commonName: "syncthing" }));
  const pairOf = (v: string) => JSON.parse(v) as { cert: string; key: string };
  const pairSrc = { host: "h", path: "/st/cert.pem", keyPath: "/st/key.pem", base64: false } as const;
  const certKind: MaterialKind = { type: "syncthing-cert", commonName: "syncthing" };

  it("a certificate is adopted with its own key only, byte for byte; another host's key, a cut or flipped byte, or nothing is refused (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 2 }),
        fc.option(fc.record({ file: fc.constantFrom("cert", "key"), at: fc.nat(), how: fc.constantFrom("flip", "cut") })),
        (ci, ki, damage) => {
          let cert = Buffer.from(pairOf(certs[ci]!).cert);
          let key = Buffer.from(pairOf(certs[ki]!).key);
          if (damage) {
            const b = damage.file === "cert" ? cert : key;
            // Inside the base64 body (between the PEM armour lines), where a change alters the DER.
            const body = b.toString().split("\n").slice(1, -2).join("\n");
            const start = b.indexOf(body);
            const at = start + (damage.at % body.length);
            const out =
              damage.how === "cut"
                ? Buffer.concat([b.subarray(0, at), b.subarray(b.length - 30)])
                : Buffer.from(b.toString().slice(0, at) + (b[at] === 0x41 ? "B" : "A") + b.toString().slice(at + 1));
            if (damage.file === "cert") cert = out;
            else key = out;
          }
          const v = adoptedValue(certKind, pairSrc, cert, key);
          if (v !== undefined) {
            assert.deepEqual(pairOf(v), { cert: cert.toString(), key: key.toString() }, "the host's bytes, unchanged");
            assert.equal(X509Certificate.prototype.checkPrivateKey.call(new X509Certificate(cert), createPrivateKey(key)), true);
          }
          if (!damage && ci === ki) assert.notEqual(v, undefined, "a matching pair is adopted");
          if (ci !== ki) assert.equal(v, undefined, "another certificate's key");
        },
      ),
      { numRuns: 150, seed: 9 },
    );
    assert.equal(adoptedValue(certKind, pairSrc, Buffer.from(pairOf(certs[0]!).cert), undefined), undefined, "no key file");
  });

  it("the pair syncthing itself generated is adopted, and its device ID is the one syncthing reports", () => {
    const home = mkdtempSync(join(tmpdir(), "haforge-st-"));
    try {
      execFileSync("syncthing", ["generate", `--home=${home}`], { stdio: "ignore", timeout: 60_000 });
      const cert = readFileSync(join(home, "cert.pem"));
      const v = adoptedValue(certKind, pairSrc, cert, readFileSync(join(home, "key.pem")));
      assert.ok(v, "syncthing's own pair adopted");
      const id = execFileSync("syncthing", ["--device-id", `--home=${home}`], { encoding: "utf8", timeout: 60_000 }).trim();
      assert.equal(deviceIdOf("h", { [certMaterialKey("h")]: v }), id);
      const apiKey = adoptedValue(
        { type: "token", length: 32 },
        { host: "h", path: "/st/config.xml", between: ["<apikey>", "</apikey>"], base64: false },
        readFileSync(join(home, "config.xml")),
      );
      assert.match(apiKey ?? "", /^[A-Za-z0-9-]{32}$/, "the API key in syncthing's own config.xml");
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("a token between two markers: exactly it, when it has the kind's shape (property)", () => {
    const src = { host: "h", path: "/c.xml", between: ["<apikey>", "</apikey>"] as const, base64: false };
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ maxLength: 60 }),
        (pre, tok, post) => {
          fc.pre(!pre.includes("<apikey>") && !tok.includes("</apikey>"));
          const text = `${pre}<apikey>${tok}</apikey>${post}`;
          const v = adoptedValue({ type: "token", length: tok.length }, src, Buffer.from(text));
          assert.equal(v, /^[A-Za-z0-9]+$/.test(tok) ? tok : undefined);
          const unmarked = Buffer.from(`${pre}${tok}${post}`.replaceAll("<apikey>", ""));
          assert.equal(adoptedValue({ type: "token", length: tok.length }, src, unmarked), undefined, "no marker: nothing");
        },
      ),
      { numRuns: 300, seed: 5 },
    );
  });

  it("an RSA pair printed by a read-back script: adopted when the public key is the private key's; a mixed pair, garbage or no line is not", () => {
    const kind: MaterialKind = { type: "rsa-keypair", bits: 2048, comment: "c" };
    const a = JSON.parse(generateMaterial(kind)) as { privateKey: string; publicKey: string };
    const b = JSON.parse(generateMaterial(kind)) as { privateKey: string; publicKey: string };
    const src = { host: "t1", path: "Tower settings", base64: false, script: "true" };
    const out = (v: unknown) => Buffer.from(`banner\n${MATERIAL_LINE_PREFIX}${Buffer.from(JSON.stringify(v)).toString("base64")}\n`);
    assert.deepEqual(JSON.parse(adoptedValue(kind, src, out(a))!), a);
    assert.equal(adoptedValue(kind, src, out({ privateKey: a.privateKey, publicKey: b.publicKey })), undefined);
    assert.equal(adoptedValue(kind, src, out({ privateKey: "x", publicKey: a.publicKey })), undefined);
    assert.equal(adoptedValue(kind, src, Buffer.from("banner\n")), undefined);
    // Tower keeps the public key as stored (render trims it): with another comment it is still the pair.
    assert.ok(adoptedValue(kind, src, out({ ...a, publicKey: `${a.publicKey.split(" ").slice(0, 2).join(" ")} other\n` })));
  });

  it("every example's read-back files are files the render writes to that host, and reading back the render returns the material (round trip)", () => {
    let checked = 0;
    for (const inv of ["lab.yaml", "cloudify.yaml", "tower-cluster.ini", "consul (fixture)"]) {
      const plan = inv.startsWith("consul") ? consulPlan(false) : analyzeInventoryFile(join(ROOT, "inventories", inv)).plan!;
      const specs = requiredMaterials(plan);
      const values = Object.fromEntries(
        specs.map((s) => [s.key, s.kind.type === "rsa-keypair" ? generateMaterial({ ...s.kind, bits: 1024 }) : generateMaterial(s.kind)]),
      );
      const secrets = new Proxy({}, { get: (_t, k) => `placeholder-${String(k)}` }) as Record<string, string>;
      const rendered = renderByService(plan, secrets, values);
      const files = rendered.flatMap((r) => r.files);
      const fileOf = (host: string, path: string) => files.find((f) => f.host === host && f.path === path);
      for (const s of specs)
        for (const src of s.readBack ?? []) {
          if (src.script !== undefined) {
            // Tower's pair: read from where the store action writes it (the same settings, same host).
            const store = rendered
              .flatMap((r) => r.actions)
              .find((x) => x.create.includes("AWX_ISOLATED_PRIVATE_KEY") && x.create.includes("Setting.objects.create"));
            assert.ok(store, `${inv}: the store action`);
            assert.equal(src.host, store.host, `${s.key} is read where it is stored`);
            for (const name of ["AWX_ISOLATED_PRIVATE_KEY", "AWX_ISOLATED_PUBLIC_KEY"]) assert.ok(src.script.includes(name));
            checked++;
            continue;
          }
          const f = fileOf(src.host, src.path);
          assert.ok(f, `${inv}: ${s.key} read back from ${src.host}:${src.path}, which is not rendered`);
          const k = src.keyPath === undefined ? undefined : fileOf(src.host, src.keyPath);
          if (src.keyPath !== undefined) assert.ok(k, `${inv}: ${src.keyPath} is not rendered`);
          const v = adoptedValue(s.kind, src, Buffer.from(f.content), k && Buffer.from(k.content));
          assert.equal(v, values[s.key], `${inv}: ${s.key} read back from its render`);
          checked++;
        }
      for (const s of specs.filter((m) => m.key.startsWith("consul/gossip-key/")))
        assert.equal(s.readBack?.length, plan.quorumStore?.members.length, "the gossip key is read back from every member");
      if (plan.syncthing)
        for (const h of plan.syncthing.hosts) assert.ok(specs.find((s) => s.key === certMaterialKey(h))?.readBack?.length);
    }
    assert.ok(checked >= 8, `${checked} read-back sources checked`);
  });
});
