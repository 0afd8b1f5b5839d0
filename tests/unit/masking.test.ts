/**
 * Masked output never leaks a secret, in any form a renderer writes it, and stays reviewable: the
 * one masking module (src/core/masking.ts) with its one keyed placeholder.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { keyedShortHash, maskFileContent, maskText, placeholder, secretLooking } from "../../src/core/masking";
import { redactSecret, sha256Hex } from "../../src/core/file-ops";
import { ROOT, runCli } from "../helpers/cli";
import { listTree } from "../golden/examples";

const inv = (f: string) => join(ROOT, "inventories", f);
const treeText = (dir: string) =>
  listTree(dir)
    .map((f) => readFileSync(join(dir, f), "latin1"))
    .join("\n");

/** A password a careless or hostile user might choose: quotes, backslashes, `%`, `&`, non-ASCII. */
const password = (min: number) =>
  fc
    .array(fc.constantFrom(..."abcXYZ0189\"\\'%&<>$`!#é €".split("")), { minLength: min, maxLength: 24 })
    .map((cs) => `Zq${cs.join("")}`)
    .filter((p) => !p.includes("$$") && p.trim() === p);

describe("masking: the module", () => {
  it("masks every escaped form of a value with one keyed placeholder", () => {
    fc.assert(
      fc.property(password(4), fc.string({ minLength: 8, maxLength: 12 }), (pw, salt) => {
        const secrets = new Map([["secret:pw", pw]]);
        const forms = [
          pw,
          JSON.stringify(pw).slice(1, -1),
          pw.replace(/'/g, "''"),
          pw.replace(/'/g, `'\\''`),
          encodeURIComponent(pw),
          Buffer.from(pw).toString("base64"),
        ];
        for (const f of forms) {
          const out = maskText(`before ${f} after`, secrets, salt);
          assert.equal(out, `before ${placeholder("secret:pw", pw, salt)} after`, `form ${JSON.stringify(f)}`);
        }
      }),
    );
  });

  it("one set masks many texts as a new set would, also after the set was changed in place (its forms are computed once)", () => {
    fc.assert(
      fc.property(fc.array(password(4), { minLength: 1, maxLength: 4 }), password(4), fc.nat(3), (pws, next, k) => {
        const secrets = new Map(pws.map((pw, i) => [`secret:p${i}`, pw]));
        const text = (m: ReadonlyMap<string, string>) => `a ${[...m.values(), next].join(" b ")} c`;
        for (let i = 0; i < 3; i++)
          assert.equal(maskText(text(secrets), secrets, "salt"), maskText(text(secrets), new Map(secrets), "salt"));
        // changed in place: a value replaced, then one added
        secrets.set(`secret:p${k % pws.length}`, next);
        assert.equal(maskText(text(secrets), secrets, "salt"), maskText(text(secrets), new Map(secrets), "salt"));
        assert.ok(!maskText(text(secrets), secrets, "salt").includes(next), "the new value is masked");
        secrets.set("secret:added", `${next}Zz`);
        assert.ok(!maskText(`x ${next}Zz y`, secrets, "salt").includes(`${next}Zz`), "an added value is masked");
      }),
      { numRuns: 60 },
    );
  });

  it("the placeholder is keyed: never the plain sha256, different per salt; literals show no hash of themselves", () => {
    const v = "Summer2024!";
    assert.notEqual(keyedShortHash(v, undefined), sha256Hex(v).slice(0, 8));
    assert.notEqual(keyedShortHash(v, "a".repeat(32)), keyedShortHash(v, "b".repeat(32)));
    assert.equal(placeholder("value:1234abcd", v, "s"), `<secret:value h:${keyedShortHash(v, "s")}>`);
  });

  it("values, not files: a secret text file keeps its other lines; a binary secret file is masked whole", () => {
    const toMask = new Map([["secret:ka", "abcdefgh"]]);
    const masked = maskFileContent({ content: 'virtual_router_id 51\nauth_pass "abcdefgh"\n', secret: true }, toMask, "s");
    assert.match(masked, /^virtual_router_id 51$/m);
    assert.doesNotMatch(masked, /abcdefgh/);
    assert.match(
      maskFileContent({ content: Buffer.from("abcdefgh").toString("base64"), secret: true, encoding: "base64" }, toMask, "s"),
      /^<secret:file h:[0-9a-f]{8}>\n$/,
    );
  });
});

describe("masking: rendered trees", () => {
  const { refs } = {
    refs: [
      "rabbitmqPassword",
      "rabbitmqCookie",
      "keepalivedAuthPass",
      "haproxyStatsPassword",
      "pgSuperuserPassword",
      "pgReplicationPassword",
    ],
  };
  const work = mkdtempSync(join(tmpdir(), "hf-mask-"));
  const materials = join(work, "m.json");
  copyFileSync(join(ROOT, "tests", "golden", "lab.yaml", "materials.json"), materials);
  let n = 0;

  it("no secret of the lab inventory leaks from the masked tree, escaped or cut to 8 characters", async () => {
    await fc.assert(
      fc.asyncProperty(fc.record({ pg: password(6), repl: password(6), ka: password(8), stats: password(6) }), async (s) => {
        const env: Record<string, string> = {
          HAFORGE_SECRET_rabbitmqPassword: "rabbit-password-123",
          HAFORGE_SECRET_rabbitmqCookie: "COOKIE0123456789",
          HAFORGE_SECRET_keepalivedAuthPass: s.ka,
          HAFORGE_SECRET_haproxyStatsPassword: s.stats,
          HAFORGE_SECRET_pgSuperuserPassword: s.pg,
          HAFORGE_SECRET_pgReplicationPassword: s.repl,
        };
        const out = join(work, `t${n++}`);
        const r = await runCli(["render", inv("lab.yaml"), "--out", out, "--materials", materials], env);
        fc.pre(r.code === 0); // some passwords are findings (keepalived cannot quote `"`): nothing to leak
        const text = treeText(out);
        for (const [name, v] of Object.entries({ pg: s.pg, repl: s.repl, ka: s.ka, stats: s.stats })) {
          for (const form of [v, JSON.stringify(v).slice(1, -1), v.replace(/'/g, "''"), [...v].slice(0, 8).join("")]) {
            assert.ok(!text.includes(form), `${name}: ${JSON.stringify(form)} (of ${JSON.stringify(v)}) leaks`);
          }
        }
      }),
      { numRuns: 12 },
    );
    assert.ok(refs.length > 0);
  });

  it("review diffs see non-secret changes in files that hold secrets (virtual_router_id, ttl, a backend)", async () => {
    const env = {
      HAFORGE_SECRET_rabbitmqPassword: "rabbit-password-123",
      HAFORGE_SECRET_rabbitmqCookie: "COOKIE0123456789",
      HAFORGE_SECRET_keepalivedAuthPass: "kapass12",
      HAFORGE_SECRET_haproxyStatsPassword: "stats-pass",
      HAFORGE_SECRET_pgSuperuserPassword: "pg-super-pass",
      HAFORGE_SECRET_pgReplicationPassword: "pg-repl-pass",
    };
    const text = readFileSync(inv("lab.yaml"), "utf8");
    const changed = join(work, "lab-changed.yaml");
    const vrid = /routerId: (\d+)/.exec(text);
    assert.ok(vrid, "lab.yaml sets a routerId");
    assert.match(text, /^ {2}ttl: 20$/m);
    assert.match(text, /checkInterval: 2s/);
    writeFileSync(
      changed,
      text
        .replace(vrid[0], `routerId: ${Number(vrid[1]) + 1}`)
        .replace(/^ {2}ttl: 20$/m, "  ttl: 25")
        .replace("checkInterval: 2s", "checkInterval: 3s"),
    );
    const a = join(work, "va");
    const b = join(work, "vb");
    assert.equal((await runCli(["render", inv("lab.yaml"), "--out", a, "--materials", materials], env)).code, 0);
    assert.equal((await runCli(["render", changed, "--out", b, "--materials", materials], env)).code, 0);
    const d = await runCli(["diff", a, b]);
    assert.match(d.out, new RegExp(`^-\\s*virtual_router_id ${vrid[1]}$`, "m"));
    assert.match(d.out, new RegExp(`^\\+\\s*virtual_router_id ${Number(vrid[1]) + 1}$`, "m"));
    assert.doesNotMatch(d.out, /kapass12/);
    // Patroni's ttl and HAProxy's server lines change in files that also hold a password.
    assert.match(d.out, /^-\s*ttl: 20$/m);
    assert.match(d.out, /^\+\s*ttl: 25$/m);
    assert.match(d.out, /^\+\s*server lab1 \S+ check port 8008 inter 3s$/m);
    for (const [file, secret] of [
      ["lab1/etc/patroni/config.yml", "pgSuperuserPassword"],
      ["lab1/etc/haproxy/haproxy.cfg", "haproxyStatsPassword"],
      ["lab1/etc/keepalived/keepalived.conf", "keepalivedAuthPass"],
    ] as const) {
      const masked = readFileSync(join(b, file), "utf8");
      assert.match(masked, new RegExp(`<secret:secret:${secret} h:[0-9a-f]{8}>`), `${file} holds the masked ${secret}`);
      assert.doesNotMatch(masked, new RegExp(env[`HAFORGE_SECRET_${secret}`]), `${file} shows no ${secret}`);
    }
    for (const v of Object.values(env)) assert.ok(!d.out.includes(v), "the diff shows no secret value");
  });

  it("numeric-looking secrets from --secrets keep their exact text", async () => {
    const secretsFile = join(work, "secrets.yaml");
    writeFileSync(
      secretsFile,
      "rabbitmqPassword: 0123456789012\nrabbitmqCookie: 012345678901234567890\nkeepalivedAuthPass: 00000001\nhaproxyStatsPassword: 1e3000\npgSuperuserPassword: 0x1234567\npgReplicationPassword: yes-really\n",
    );
    const out = join(work, "num");
    const r = await runCli(
      ["render", inv("lab.yaml"), "--out", out, "--materials", materials, "--secrets", secretsFile, "--reveal-secrets"],
      {},
    );
    assert.equal(r.code, 0, r.err);
    const text = treeText(out);
    assert.ok(text.includes("012345678901234567890"), "the cookie is written as given");
    assert.ok(!text.includes("12345678901234567000"));
    for (const v of ["0123456789012", "00000001", "1e3000", "0x1234567"]) assert.ok(text.includes(v), `${v} is written as given`);
  });
});

describe("masking: a secret file's validator output (RemoteFile errors)", () => {
  // A secret file of the kind haforge writes: keywords, names, paths, addresses, and one secret.
  const VOCAB = [
    "global",
    "daemon",
    "backend",
    "listen",
    "haproxy",
    "stats",
    "option",
    "httpchk",
    "galera-nodes",
    "server",
    "node01",
    "/run/haproxy/admin.sock",
    "10.0.0.2:3306",
    "check",
    "auth_type",
    "PASS",
    "vrrp_instance",
    "eth0",
  ];
  const fileWith = (secretLine: string) =>
    [
      "global",
      "    daemon",
      "listen stats",
      "    bind 10.0.0.1:8404",
      secretLine,
      "    stats socket /run/haproxy/admin.sock",
      "backend galera-nodes",
      "    server node01 10.0.0.2:3306 check",
      "",
    ].join("\n");
  const forms = (v: string) => [
    `    stats auth admin:${v}`,
    `    auth_pass ${v}`,
    `password: "${v}"`,
    `    requirepass ${v}`,
    `SECRET_KEY = '${v}'`,
  ];
  /** A strong secret: 8-24 characters of mixed classes. */
  const strong = fc
    .array(fc.constantFrom(..."abcdefXYZ0123456789#!%+".split("")), { minLength: 8, maxLength: 24 })
    .map((cs) => cs.join(""))
    .filter((v) => secretLooking(v));

  it("property: a strong secret never shows, wherever the validator quotes it (its line, the token, inside quotes)", () => {
    fc.assert(
      fc.property(strong, fc.nat(4), fc.nat(3), fc.array(fc.constantFrom(...VOCAB), { maxLength: 5 }), (v, f, how, words) => {
        const line = forms(v)[f]!;
        const content = fileWith(line);
        const quoted = [`line 5: '${line.trim()}'`, `unexpected '${v}'`, `near ${v}.`, `value "${v}" is invalid`][how]!;
        const out = redactSecret(`[ALERT] ${words.join(" ")} ${quoted} ${words.join(" ")}`, content, "k".repeat(32));
        assert.ok(!out.includes(v), `${JSON.stringify(v)} leaked: ${out}`);
        assert.match(out, /<secret:file-\d+ h:[0-9a-f]{8}>/);
      }),
      { numRuns: 300, seed: 1313 },
    );
  });

  it("property: ordinary words of the file stay readable, also when a secret is such a word; the line holding a weak secret is hidden", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("haproxy", "changeme", "backend", "admin", "stats"),
        fc.nat(4),
        fc.array(fc.constantFrom(...VOCAB), { minLength: 1, maxLength: 8 }),
        (weak, f, words) => {
          const line = forms(weak)[f]!;
          const content = fileWith(line);
          // The validator's own words: keywords, names, paths and addresses of the file, the weak secret's word among them.
          const own = `[ALERT] parsing [/etc/haproxy/haproxy.cfg:12] : ${[...words, weak].join(" ")} section`;
          assert.equal(redactSecret(own, content, "k".repeat(32)), own, "ordinary words are not masked");
          // Where the file holds the weak secret, quoted whole: hidden.
          const quoted = redactSecret(`line 5: '${line.trim()}'`, content, "k".repeat(32));
          assert.ok(!quoted.includes(line.trim()), quoted);
          assert.match(quoted, /^line 5: '<secret:file-\d+ h:[0-9a-f]{8}>'$/);
        },
      ),
      { numRuns: 200, seed: 1313 },
    );
  });

  it("secretLooking: words, names, paths and addresses are vocabulary; mixed classes, encodings and long runs are not", () => {
    for (const w of [
      "haproxy",
      "changeme",
      "galera-node-01",
      "keepalived.conf",
      "/etc/corosync/authkey",
      "10.20.0.21",
      "10.0.0.1:8404",
      "SECRET_KEY",
      "node01",
      "eth0",
    ])
      assert.equal(secretLooking(w), false, w);
    for (const s of [
      "Sup3rS3cretValue",
      "Summer2024!",
      "dGhpcyBpcyBiYXNlNjQ=",
      "a3f9c2d4e5f60718",
      "correcthorsebatterystaple",
      "xK9#mP2q",
    ])
      assert.equal(secretLooking(s), true, s);
  });
});
