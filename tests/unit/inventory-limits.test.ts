/**
 * Careless input and resource limits (issue 13): INI typos warn with "did you mean", duplicate
 * :vars keys are reported, empty inventories are errors, and what an inventory can expand to is
 * bounded (aliases, host ranges, bytes) with a finding instead of minutes, gigabytes or an abort.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadInventoryFile, parseInventoryText } from "../../src/inventory/load";
import { MAX_INVENTORY_BYTES, MAX_INVENTORY_HOSTS } from "../../src/inventory/limits";

const ini = (text: string) => parseInventoryText(text, "inventory.ini");
const codes = (r: { findings: readonly { severity: string; code: string; path: string }[] }) =>
  r.findings.map((f) => `${f.severity} ${f.code} ${f.path}`);
const BASE = "[tower]\ntower1 ansible_host=10.1.0.11\n";

describe("careless INI input", () => {
  it("a misspelt variable warns with 'did you mean' (host line, group vars, all:vars)", () => {
    const r = ini(
      "[tower]\ntower1 ansible_hots=10.1.0.11\n[instance_group_east]\ntower1\n[instance_group_east:vars]\npolicy_instance_minmum=1\n[all:vars]\nrabbitmq_pasword=x\n",
    );
    const typos = r.findings.filter((f) => f.code === "ini.unknown-var");
    assert.deepEqual(
      typos.map((f) => [f.severity, f.path, /did you mean "([^"]+)"/.exec(f.message)?.[1]]),
      [
        ["warning", "[instance_group_east:vars] policy_instance_minmum", "policy_instance_minimum"],
        ["warning", "[all:vars] rabbitmq_pasword", "rabbitmq_password"],
        ["warning", "[tower] tower1", "ansible_host"],
      ],
    );
    // Names far from every known one are the user's own vars: no warning.
    assert.deepEqual(
      codes(ini(`${BASE}[all:vars]\nmy_site_id=42\nntp_server=pool.ntp.org\n`)).filter((c) => c.includes("unknown-var")),
      [],
    );
    assert.deepEqual(
      codes(ini(`${BASE}[all:vars]\nrabbitmq_port=5672\nansible_user=root\n`)).filter((c) => c.includes("unknown-var")),
      [],
    );
  });

  it("a :vars key set twice is reported: an error with different values, a warning with the same", () => {
    const diff = ini(`${BASE}[all:vars]\nrabbitmq_password=s3cr3t-A\nadmin_password=a\nrabbitmq_password=s3cr3t-B\n`);
    const f = diff.findings.find((x) => x.code === "ini.duplicate-var")!;
    assert.equal(f.severity, "error");
    assert.equal(f.path, "[all:vars] rabbitmq_password");
    assert.match(f.message, /line 6: .*first at line 4/);
    assert.ok(!`${f.message} ${f.hint}`.includes("s3cr3t"), "values are not quoted back");
    const same = ini(`${BASE}[tower:vars]\nx=1\nx=1\n`).findings.find((x) => x.code === "ini.duplicate-var")!;
    assert.equal(same.severity, "warning");
  });

  it("empty inventories are errors (YAML, INI, no hosts); a Kubernetes target needs no hosts", () => {
    for (const [text, name] of [
      ["", "i.yaml"],
      ["# nothing\n", "i.yaml"],
      ["version: 1\n", "i.yaml"],
      ["{}", "i.json"],
      ["", "i.ini"],
      ["[all:vars]\nrabbitmq_port=5672\n", "i.ini"],
    ] as const) {
      const r = parseInventoryText(text, name);
      const e = r.findings.filter((f) => f.code === "inventory.empty");
      assert.equal(e.length, 1, `${JSON.stringify(text)}: ${JSON.stringify(r.findings)}`);
      assert.equal(e[0]!.severity, "error");
    }
    assert.deepEqual(codes(parseInventoryText("version: 1\ntarget: kubernetes\n", "k.yaml")), []);
  });
});

describe("resource limits", () => {
  it("a billion-laughs YAML (aliases of aliases) is a finding, found in well under a second", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 10; i++)
      levels.push(
        `${"abcdefghij"[i]}: &${"abcdefghij"[i]} [${Array(10)
          .fill(`*${"abcdefghij"[i - 1]}`)
          .join(", ")}]`,
      );
    const text = `version: 1\n${levels.join("\n")}\n`;
    assert.ok(text.length < 1200);
    const t0 = Date.now();
    const r = parseInventoryText(text, "laughs.yaml");
    assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
    assert.deepEqual(codes(r), ["error yaml.too-large (document)"]);
    assert.equal(r.inventory, undefined);
    // Aliases that stay small are fine (merge keys are how inventories share SSH settings).
    const ok = parseInventoryText(
      "version: 1\nhosts:\n  - { name: a, address: 10.0.0.1, ssh: &ssh { user: root, knownHostsFile: /etc/k } }\n  - { name: b, address: 10.0.0.2, ssh: *ssh }\n",
      "ok.yaml",
    );
    assert.ok(ok.inventory);
  });

  it("host ranges are bounded in total: 60 short lines of [0000:1023] are a finding, not 61,440 hosts", () => {
    const lines = ["[tower]"];
    for (let i = 0; i < 60; i++) lines.push(`w${i}-[0000:1023]`);
    const text = lines.join("\n") + "\n";
    assert.ok(text.length < 1100, `${text.length} bytes`);
    const t0 = Date.now();
    const r = ini(text);
    const f = r.findings.filter((x) => x.code === "ini.too-many-hosts");
    assert.equal(f.length, 1);
    assert.equal(f[0]!.severity, "error");
    assert.match(f[0]!.message, new RegExp(`past ${MAX_INVENTORY_HOSTS} hosts`));
    assert.ok(Date.now() - t0 < 30_000, `${Date.now() - t0} ms`);
  });

  it("Kubernetes replica counts are bounded like hosts: 2^31 RabbitMQ replicas is a finding, not an out-of-memory render", () => {
    // Found by the careless-values fuzzer (tests/system/escape-fuzz.test.ts): the render ran out of memory.
    for (const key of ["rabbitmq", "web", "task", "keepers", "sentinels", "proxies"]) {
      for (const n of [MAX_INVENTORY_HOSTS + 1, 2 ** 31]) {
        const r = parseInventoryText(JSON.stringify({ target: "kubernetes", kubernetes: { replicas: { [key]: n } } }), "k.json");
        assert.deepEqual(codes(r), [`error schema.invalid kubernetes.replicas.${key}`], `${key} = ${n}`);
      }
      const ok = parseInventoryText(
        JSON.stringify({ target: "kubernetes", kubernetes: { replicas: { [key]: MAX_INVENTORY_HOSTS } } }),
        "k.json",
      );
      assert.deepEqual(codes(ok), [], `${key} = ${MAX_INVENTORY_HOSTS}`);
    }
  });

  it("an inventory larger than the byte limit is a finding before it is parsed (text and file)", () => {
    const big = `[all:vars]\n${"x".repeat(60)}=1\n`.repeat(Math.ceil((43 * 1024 * 1024) / 64));
    assert.ok(big.length > MAX_INVENTORY_BYTES);
    const t0 = Date.now();
    assert.deepEqual(codes(ini(big)), ["error inventory.too-large (document)"]);
    const dir = mkdtempSync(join(tmpdir(), "haforge-big-"));
    try {
      writeFileSync(join(dir, "big.ini"), big);
      assert.deepEqual(codes(loadInventoryFile(join(dir, "big.ini"))), ["error inventory.too-large (document)"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(Date.now() - t0 < 10_000, `${Date.now() - t0} ms`);
  });
});
