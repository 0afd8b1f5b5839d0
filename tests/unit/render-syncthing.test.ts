/**
 * syncthing render: device-ID math against syncthing's own output, the material generators, and
 * the structure of what is rendered. The real daemon's verdict is tests/system/syncthing.test.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { join } from "node:path";
import { generateMaterial, randomToken } from "../../src/core/generate-material";
import { parseSyncthingCert } from "../../src/core/materials";
import { base32NoPad, deviceIdFromDigest, deviceIdFromPem, isValidDeviceId, luhn32 } from "../../src/core/syncthing-id";
import { renderTemplate } from "../../src/render/templates";
import { checkDesiredState, renderDesiredState } from "../../src/pipeline/render";
import { loadInventoryFile } from "../../src/inventory/load";
import { planCluster } from "../../src/pipeline/plan";
import { SYNCTHING_HOME, deviceIdOf, renderPart } from "../../src/services/syncthing/render";
import type { ClusterPlan } from "../../src/plan/types";
import type { Materials } from "../../src/core/materials";
import { REFERENCE_CERT, REFERENCE_DEVICE_ID, generateMaterials, syncthingPlan } from "../fixtures/syncthing-plan";
import { buildPlan, type FixtureHost } from "../fixtures/quorum-store-plan";
import fc from "fast-check";

const render = (plan: ClusterPlan, materials: Materials) => renderPart.render!({ plan, secrets: {}, materials, template: renderTemplate });

describe("syncthing device IDs", () => {
  test("the reference certificate's ID equals what syncthing 1.19.2 printed for it", () => {
    assert.equal(deviceIdFromPem(REFERENCE_CERT), REFERENCE_DEVICE_ID);
    assert.ok(isValidDeviceId(REFERENCE_DEVICE_ID));
  });

  test("base32 is RFC 4648 (test vectors) without padding", () => {
    const enc = (s: string) => base32NoPad(Buffer.from(s));
    assert.equal(enc(""), "");
    assert.equal(enc("f"), "MY");
    assert.equal(enc("fo"), "MZXQ");
    assert.equal(enc("foo"), "MZXW6");
    assert.equal(enc("foob"), "MZXW6YQ");
    assert.equal(enc("fooba"), "MZXW6YTB");
    assert.equal(enc("foobar"), "MZXW6YTBOI");
  });

  test("shape: 8 groups of 7, check characters validate, a flipped character does not", () => {
    const id = deviceIdFromDigest(new Uint8Array(32).fill(0xa5));
    assert.match(id, /^([A-Z2-7]{7}-){7}[A-Z2-7]{7}$/);
    assert.ok(isValidDeviceId(id));
    const flipped = REFERENCE_DEVICE_ID.replace(/^H/, "I");
    assert.equal(isValidDeviceId(flipped), false);
    assert.throws(() => luhn32("a"), /alphabet/);
    assert.throws(() => deviceIdFromDigest(new Uint8Array(31)), /32 bytes/);
  });
});

describe("generateMaterial", () => {
  test("random-bytes: base64 of exactly N bytes, different every time", () => {
    const a = generateMaterial({ type: "random-bytes", bytes: 256 });
    assert.equal(Buffer.from(a, "base64").length, 256);
    assert.notEqual(a, generateMaterial({ type: "random-bytes", bytes: 256 }));
  });

  test("token: length and alphabet", () => {
    const t = generateMaterial({ type: "token", length: 40 });
    assert.match(t, /^[A-Za-z0-9]{40}$/);
    assert.equal(randomToken(0), "");
  });

  test("rsa-keypair: PKCS#1 private key and a matching OpenSSH ssh-rsa public key", () => {
    const v = JSON.parse(generateMaterial({ type: "rsa-keypair", bits: 2048, comment: "haforge@isolated" })) as {
      privateKey: string;
      publicKey: string;
    };
    assert.match(v.privateKey, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    const [type, blob, comment] = v.publicKey.split(" ");
    assert.equal(type, "ssh-rsa");
    assert.equal(comment, "haforge@isolated");
    // Decode the wire format (RFC 4253 §6.6) and compare with the private key's n and e.
    const buf = Buffer.from(blob!, "base64");
    const fields: Buffer[] = [];
    for (let off = 0; off < buf.length;) {
      const len = buf.readUInt32BE(off);
      fields.push(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    assert.equal(fields.length, 3);
    assert.equal(fields[0]!.toString(), "ssh-rsa");
    const jwk = createPublicKey(createPrivateKey(v.privateKey)).export({ format: "jwk" });
    const strip = (b: Buffer) => (b[0] === 0 ? b.subarray(1) : b);
    assert.equal(strip(fields[1]!).toString("base64url"), jwk.e);
    assert.equal(strip(fields[2]!).toString("base64url"), jwk.n);
    assert.equal(fields[2]![0], 0, "n has its high bit set, so the mpint carries a 0x00 prefix");
  });

  test("syncthing-cert: self-signed ECDSA P-384, syncthing's fields, key matches, valid 20 years", () => {
    const raw = generateMaterial({ type: "syncthing-cert", commonName: "syncthing" });
    const v = parseSyncthingCert(raw);
    assert.ok(v);
    const cert = new X509Certificate(v.cert);
    assert.equal(cert.subject, "O=Syncthing\nOU=Automatically Generated\nCN=syncthing");
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "secp384r1");
    assert.ok(cert.verify(cert.publicKey), "signature verifies with its own key");
    assert.ok(cert.checkPrivateKey(createPrivateKey(v.key)), "key.pem belongs to cert.pem");
    assert.match(v.key, /^-----BEGIN EC PRIVATE KEY-----\n/);
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage?.sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert.equal(cert.subjectAltName, "DNS:syncthing");
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 24 * 3600e3);
    assert.ok(Math.abs(years - 20) < 0.01, `validity ${years} years`);
    assert.ok(isValidDeviceId(deviceIdFromPem(v.cert)));
    assert.equal(parseSyncthingCert("not json"), null);
    assert.equal(parseSyncthingCert(JSON.stringify({ cert: 1 })), null);
  });
});

describe("syncthing render", () => {
  const plan = syncthingPlan();
  const materials = generateMaterials(plan);
  const r = render(plan, materials);
  const file = (host: string, path: string) => r.files.find((f) => f.host === host && f.path === path);
  const configXml = (host: string) => file(host, `${SYNCTHING_HOME}/config.xml`)!.content;

  test("materials: a certificate and an API key per host", () => {
    const specs = renderPart.materials!(plan);
    assert.deepEqual(
      specs.map((s) => [s.key, s.kind.type]),
      ["fs1", "fs2", "fs3"].flatMap((h) => [
        [`syncthing/cert/${h}`, "syncthing-cert"],
        [`syncthing/apikey/${h}`, "token"],
      ]),
    );
  });

  test("each host: config.xml (secret 0600), cert.pem (0644), key.pem (secret 0600), its unit", () => {
    for (const h of ["fs1", "fs2", "fs3"]) {
      const c = file(h, `${SYNCTHING_HOME}/config.xml`)!;
      assert.deepEqual([c.mode, c.secret, c.notify], ["0600", true, ["syncthing"]]);
      const cert = file(h, `${SYNCTHING_HOME}/cert.pem`)!;
      assert.deepEqual([cert.mode, cert.secret], ["0644", false]);
      const key = file(h, `${SYNCTHING_HOME}/key.pem`)!;
      assert.deepEqual([key.mode, key.secret], ["0600", true]);
      const m = parseSyncthingCert(materials[`syncthing/cert/${h}`]!)!;
      assert.equal(cert.content, m.cert);
      assert.equal(key.content, m.key);
    }
    assert.ok(file("fs1", "/etc/systemd/system/syncthing.service"));
    const sup = file("fs2", "/etc/supervisor/conf.d/syncthing.conf")!;
    assert.match(sup.content, /^command=\/usr\/bin\/syncthing serve --home=\/var\/lib\/syncthing --no-browser --no-restart/m);
    assert.match(sup.content, /^stopasgroup=true$/m, "serve forks a monitor (docs/lab.md)");
  });

  test("config.xml: own + peer devices at tcp://<internal>:22000, only this host's folders", () => {
    const id = (h: string) => deviceIdOf(h, materials);
    const x1 = configXml("fs1");
    assert.match(x1, /^<configuration version="36">$/m);
    for (const [h, ip] of [
      ["fs1", "10.213.37.21"],
      ["fs2", "10.213.37.22"],
      ["fs3", "10.213.37.23"],
    ] as const) {
      assert.ok(x1.includes(`<device id="${id(h)}" name="${h}" `), `fs1 lists ${h}`);
      assert.ok(x1.includes(`<address>tcp://${ip}:22000</address>`));
    }
    assert.match(x1, /<folder id="shared" label="shared" path="\/srv\/sync\/shared" [^>]*fsWatcherEnabled="true" fsWatcherDelayS="1"/);
    assert.match(x1, /<folder id="pair" [^>]*rescanIntervalS="3600" [^>]*fsWatcherDelayS="10"/);
    const x3 = configXml("fs3");
    assert.doesNotMatch(x3, /id="pair"/, "fs3 does not share pair");
    assert.match(x3, /<listenAddress>tcp:\/\/10\.213\.37\.23:22000<\/listenAddress>/);
    // The pair folder's device list is exactly fs1+fs2.
    const pair = /<folder id="pair"[\s\S]*?<\/folder>/.exec(x1)![0];
    assert.deepEqual(
      [...pair.matchAll(/<device id="([^"]+)"/g)].map((m) => m[1]),
      [id("fs1"), id("fs2")],
    );
  });

  test("config.xml: everything that reaches the internet is off; GUI on loopback with the API key", () => {
    const x = configXml("fs2");
    for (const [k, v] of [
      ["globalAnnounceEnabled", "false"],
      ["localAnnounceEnabled", "false"],
      ["relaysEnabled", "false"],
      ["natEnabled", "false"],
      ["urAccepted", "-1"],
      ["autoUpgradeIntervalH", "0"],
      ["crashReportingEnabled", "false"],
      ["startBrowser", "false"],
    ])
      assert.ok(x.includes(`<${k}>${v}</${k}>`), `${k}=${v}`);
    assert.ok(x.includes(`<address>127.0.0.1:8384</address>`));
    assert.ok(x.includes(`<apikey>${materials["syncthing/apikey/fs2"]}</apikey>`));
    assert.doesNotMatch(x, /dynamic|default<\/(listenAddress|globalAnnounceServer)/);
  });

  test("the API key appears only in config.xml: not in units, health, actions", () => {
    for (const h of ["fs1", "fs2", "fs3"]) {
      const key = materials[`syncthing/apikey/${h}`]!;
      for (const f of r.files.filter((x) => !x.path.endsWith("config.xml"))) assert.ok(!f.content.includes(key), f.path);
      for (const s of r.services) assert.ok(!JSON.stringify(s).includes(key));
      for (const a of r.actions) assert.ok(!JSON.stringify(a).includes(key));
    }
  });

  test("services: health pings the REST API with the key read on the host; rollGroup syncthing", () => {
    for (const s of r.services) {
      assert.equal(s.name, "syncthing");
      assert.equal(s.rollGroup, "syncthing");
      assert.ok(plan.rollingGroups.some((g) => g.id === s.rollGroup));
      assert.match(
        s.health!,
        /^key=\$\(sed -n .*\/var\/lib\/syncthing\/config\.xml\) && curl -fsS .*-H "X-API-Key: \$key" http:\/\/127\.0\.0\.1:8384\/rest\/system\/ping$/,
      );
    }
  });

  test("actions: a bounded post-start in-sync check per host, naming its peers' device IDs", () => {
    assert.deepEqual(
      r.actions.map((a) => [a.id, a.host, a.phase]),
      [
        ["syncthing-in-sync-fs1", "fs1", "post-start"],
        ["syncthing-in-sync-fs2", "fs2", "post-start"],
        ["syncthing-in-sync-fs3", "fs3", "post-start"],
      ],
    );
    const a3 = r.actions[2]!;
    assert.ok(a3.create.includes(`folder=shared&device=${deviceIdOf("fs1", materials)}`));
    assert.ok(!a3.create.includes("folder=pair"));
    assert.ok(!a3.create.includes(deviceIdOf("fs3", materials)), "not its own ID");
    assert.match(a3.create, /while \[ \$i -lt \d+ \]/);
    assert.deepEqual(a3.triggers, [`${SYNCTHING_HOME}/config.xml`]);
    assert.equal(a3.secret, false);
  });

  test("deterministic: same plan + materials → identical output", () => {
    assert.deepEqual(render(plan, materials), r);
  });

  test("missing materials and odd folder paths: no throw, markers and XML escaping", () => {
    const odd = syncthingPlan();
    const st = odd.syncthing!;
    const tweaked: ClusterPlan = { ...odd, syncthing: { ...st, folders: [{ ...st.folders[0]!, path: `/srv/a&b "q" <x>` }] } };
    const out = render(tweaked, {});
    const x = out.files.find((f) => f.path.endsWith("config.xml"))!.content;
    assert.ok(x.includes(`path="/srv/a&amp;b &quot;q&quot; &lt;x&gt;"`));
    assert.match(x, /__HAFORGE_MISSING_MATERIAL_syncthing_cert_fs1__/);
    assert.deepEqual(render({ ...odd, syncthing: undefined }, {}), { files: [], services: [], actions: [] });
  });
});

describe("syncthing over the example inventories", () => {
  for (const name of ["cloudify.yaml", "lab.yaml"]) {
    test(`${name}: plan → render has syncthing homes, passes checkDesiredState`, () => {
      const loaded = loadInventoryFile(join(__dirname, "..", "..", "inventories", name));
      assert.ok(loaded.inventory, JSON.stringify(loaded.findings));
      const { plan, findings } = planCluster(loaded.inventory);
      assert.ok(plan, JSON.stringify(findings));
      const materials = generateMaterials(plan);
      const state = renderDesiredState(plan, {}, materials);
      assert.deepEqual(checkDesiredState(state), []);
      for (const h of plan.syncthing!.hosts) {
        const files = state.hosts.find((x) => x.host === h)!.files.map((f) => f.path);
        for (const p of ["config.xml", "cert.pem", "key.pem"]) assert.ok(files.includes(`${SYNCTHING_HOME}/${p}`), `${h} ${p}`);
        const x = state.hosts.find((x) => x.host === h)!.files.find((f) => f.path.endsWith("config.xml"))!.content;
        for (const peer of plan.syncthing!.hosts) assert.ok(x.includes(deviceIdOf(peer, materials)));
      }
    });
  }
});

describe("syncthing membership: grow, shrink and replace between two applies (materials kept in state)", () => {
  // Six hosts; each apply puts two folders on subsets of them. The materials are the state's: one
  // certificate per host, generated once and kept (src/providers/materials.ts never regenerates).
  const POOL: FixtureHost[] = Array.from({ length: 6 }, (_, i) => ({ name: `st${i + 1}`, internal: `10.213.38.${11 + i}` }));
  const kept = generateMaterials(
    buildPlan(POOL, {
      syncthing: { hosts: POOL.map((h) => h.name), folders: [], guiPort: 8384, listenPort: 22000 },
    }),
  );
  const planOf = (folders: string[][]): ClusterPlan => {
    const names = POOL.map((h) => h.name).filter((n) => folders.some((f) => f.includes(n)));
    const hosts = POOL.filter((h) => names.includes(h.name));
    return buildPlan(hosts, {
      syncthing: {
        hosts: names,
        folders: folders.map((f, i) => ({ id: `f${i}`, path: `/srv/sync/f${i}`, hosts: f, rescanIntervalS: 60, fsWatcherDelayS: 1 })),
        guiPort: 8384,
        listenPort: 22000,
      },
      rollingGroups: [{ id: "syncthing", service: "syncthing", hosts: names, maxUnavailable: 1 }],
    });
  };
  const subset = fc.subarray(
    POOL.map((h) => h.name),
    { minLength: 2 },
  );
  const id = (h: string) => deviceIdOf(h, kept);

  test("property: every member lists exactly the devices it shares a folder with; a removed host's device is in no file; a kept host's identity files are unchanged", () => {
    fc.assert(
      fc.property(fc.tuple(subset, subset), fc.tuple(subset, subset), (before, after) => {
        const r0 = render(planOf(before), kept);
        const r1 = render(planOf(after), kept);
        const members = POOL.map((h) => h.name).filter((n) => after.some((f) => f.includes(n)));
        for (const h of members) {
          const x = r1.files.find((f) => f.host === h && f.path === `${SYNCTHING_HOME}/config.xml`)!.content;
          const sharing = members.filter((p) => p === h || after.some((f) => f.includes(h) && f.includes(p)));
          assert.deepEqual(
            [...x.matchAll(/<device id="([^"]+)" name="/g)].map((m) => m[1]).sort(),
            sharing.map(id).sort(),
            `${h}: devices`,
          );
          after.forEach((f, i) => {
            const block = new RegExp(`<folder id="f${i}"[\\s\\S]*?</folder>`).exec(x)?.[0];
            if (!f.includes(h)) return assert.equal(block, undefined, `${h} does not have f${i}`);
            assert.deepEqual(
              [...block!.matchAll(/<device id="([^"]+)" introducedBy/g)].map((m) => m[1]).sort(),
              f.map(id).sort(),
              `${h}: f${i} shared with exactly its hosts`,
            );
          });
        }
        const removed = POOL.map((h) => h.name).filter((n) => !members.includes(n));
        for (const gone of removed) {
          for (const f of r1.files) assert.ok(!f.content.includes(id(gone)), `${gone}'s device ID left in ${f.host}:${f.path}`);
          for (const a of r1.actions) assert.ok(!a.create.includes(id(gone)), `${gone}'s device ID in ${a.id}`);
        }
        // a host in both applies (replaced or not) is rendered the same certificate and key
        for (const h of members) {
          for (const p of ["cert.pem", "key.pem"]) {
            const was = r0.files.find((f) => f.host === h && f.path === `${SYNCTHING_HOME}/${p}`);
            const now = r1.files.find((f) => f.host === h && f.path === `${SYNCTHING_HOME}/${p}`)!;
            if (was) assert.equal(now.content, was.content, `${h}: ${p}`);
          }
        }
      }),
      { numRuns: 25, seed: 8 },
    );
  });
});
