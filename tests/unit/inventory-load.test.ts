/**
 * The loader contract (src/inventory/load.ts): format detection, schema findings with paths and
 * hints, secrets never echoed, unreadable files, and fuzzing: no input may make it throw.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { detectFormat, formatPath, loadInventoryFile, parseInventoryText } from "../../src/inventory/load";
import { planCluster } from "../../src/pipeline/plan";

describe("format detection", () => {
  it("by extension", () => {
    assert.equal(detectFormat("[tower]\na\n", "x.yaml"), "yaml");
    assert.equal(detectFormat("hosts: []", "x.yml"), "yaml");
    assert.equal(detectFormat("{}", "x.json"), "yaml");
    assert.equal(detectFormat("hostA\nhostB\n", "hosts.ini"), "tower-ini");
    assert.equal(detectFormat("a\n", "x.CFG"), "tower-ini");
  });
  it("sniffed otherwise: a [section] line means INI, a flow list does not", () => {
    assert.equal(detectFormat("# Tower\n[tower]\nhostA\n", "inventory"), "tower-ini");
    assert.equal(detectFormat("  [all:vars] # c\nx=1\n", "inventory"), "tower-ini");
    assert.equal(detectFormat("hosts: []\n", "inventory"), "yaml");
    assert.equal(detectFormat("[a, b]\n", "inventory"), "yaml");
    assert.equal(detectFormat("hosts:\n  - name: a\n    interfaces: [eth0]\n", "inventory.txt"), "yaml");
  });
});

describe("schema findings", () => {
  it("schema.invalid with a.b[1].c paths, quoting field and value", () => {
    const r = parseInventoryText(
      "hosts:\n  - name: a\n    address: 10.0.0.1\n  - name: b\n    address: 10.0.0.2\n    ssh: { port: '22' }\n",
      "x.yaml",
    );
    assert.equal(r.inventory, undefined);
    assert.deepEqual(
      r.findings.map((f) => [f.code, f.path]),
      [["schema.invalid", "hosts[1].ssh.port"]],
    );
    assert.match(r.findings[0]!.message, /"hosts\[1\]\.ssh\.port" \(value "22"\): .*expected number/);
    assert.ok(r.findings[0]!.hint);
  });

  it("missing required fields name the field", () => {
    const r = parseInventoryText("hosts:\n  - name: a\n", "x.yaml");
    assert.deepEqual(
      r.findings.map((f) => f.path),
      ["hosts[0].address"],
    );
    assert.match(r.findings[0]!.hint!, /Add "address"/);
  });

  it("unknown fields: path to the field and a did-you-mean hint", () => {
    const r = parseInventoryText("hosts:\n  - name: a\n    adress: 10.0.0.1\n", "x.yaml");
    const unknown = r.findings.find((f) => f.message.includes("unknown field"))!;
    assert.equal(unknown.path, "hosts[0].adress");
    assert.match(unknown.hint!, /Did you mean "address"/);
    const top = parseInventoryText("rabbitmg: {}\n", "x.yaml").findings[0]!;
    assert.match(top.hint!, /"rabbitmq"/);
  });

  it("secret values are never quoted back", () => {
    const r = parseInventoryText("rabbitmq:\n  password: { valeu: 'hunter2hunter2' }\n", "x.yaml");
    assert.ok(r.findings.length > 0);
    for (const f of r.findings) assert.ok(!`${f.message} ${f.hint}`.includes("hunter2"), f.message);
    assert.match(r.findings[0]!.hint!, /secret: KEY/);
  });

  it("INI sources report schema problems at the INI location", () => {
    const r = parseInventoryText("[tower]\nbad/name ansible_host=10.0.0.1\n", "inventory");
    assert.deepEqual(
      r.findings.map((f) => [f.code, f.path]),
      [["schema.invalid", "[tower] bad/name"]],
    );
    assert.equal(r.sourcePath(r.findings[0]!.path), "[tower] bad/name", "translating twice is harmless");
  });

  it("formatPath quotes keys that are not plain names", () => {
    assert.equal(formatPath(["hosts", 0, "vars", "a b"]), 'hosts[0].vars["a b"]');
  });
});

describe("loadInventoryFile", () => {
  it("an unreadable file is a finding", () => {
    const r = loadInventoryFile("/nonexistent/haforge/inventory.ini");
    assert.equal(r.inventory, undefined);
    assert.deepEqual(
      r.findings.map((f) => f.code),
      ["inventory.unreadable"],
    );
    assert.equal(r.format, "tower-ini");
  });
  it("reads and sniffs a file without extension", () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-load-"));
    try {
      const p = join(dir, "inventory");
      writeFileSync(p, "[tower]\nt1\n");
      const r = loadInventoryFile(p);
      assert.equal(r.format, "tower-ini");
      assert.deepEqual(r.inventory!.tower!.instanceGroups[0]!.hosts, ["t1"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("fuzz: never throws, always findings or an inventory", () => {
  const check = (text: string, name: string) => {
    const r = parseInventoryText(text, name);
    assert.ok(r.inventory !== undefined || r.findings.some((f) => f.severity === "error"), "no inventory without an error");
    assert.ok(r.findings.every((f) => typeof f.code === "string" && typeof f.path === "string" && typeof f.message === "string"));
    assert.ok(!r.findings.some((f) => f.code === "inventory.internal-error"), JSON.stringify(r.findings));
    assert.equal(typeof r.sourcePath("hosts[0].address"), "string");
    // Whatever loads must also plan without throwing.
    if (r.inventory) planCluster(r.inventory);
  };

  it("arbitrary text as INI and as YAML", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: "binary" }), (s) => {
        check(s, "inventory.ini");
        check(s, "inventory.yaml");
        check(s, "inventory");
      }),
      { numRuns: 300 },
    );
  });

  it("INI-shaped text built from inventory fragments", () => {
    const fragment = fc.constantFrom(
      "[tower]",
      "[instance_group_east]",
      "[instance_group_tower]",
      "[isolated_group_g]",
      "[isolated_group_g:vars]",
      "[database]",
      "[all:vars]",
      "[tower:children]",
      "[x:children]",
      "[bad",
      "hostA",
      "hostB rabbitmq_host=10.1.0.2",
      "hostC:2222 ansible_host='1.2.3.4'",
      "iso controller=east",
      "web[1:3]",
      "x[9:1]",
      "h k='unterminated",
      "h \\",
      "controller=east",
      "controller=tower",
      "policy_instance_percentage=50",
      "policy_instance_minimum=2",
      "policy_instance_list=hostA,hostB",
      "rabbitmq_port=5672",
      "rabbitmq_port=abc",
      "rabbitmq_use_long_name=true",
      "rabbitmq_cookie=''",
      "pg_host=db",
      "ansible_port=22",
      "managed_by_policy=false",
      "x",
      "# c",
      "; c",
      "",
      "__proto__=1",
      "constructor=2",
      "hostA",
      "hostA haforge_bastion=hostB",
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 40 }), (lines) => check(lines.join("\n"), "inventory")),
      { numRuns: 500 },
    );
  });

  it("YAML-shaped documents built from inventory-like values", () => {
    const scalar = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom("tower", "east", "10.1.0.1", "hostA"),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { maxDepth: 4 },
        scalar,
        fc.array(tie("node"), { maxLength: 4 }),
        fc.dictionary(
          fc.constantFrom("name", "address", "hosts", "value", "secret", "policy", "percentage", "nodes", "controller", "__proto__", "x"),
          tie("node"),
          { maxKeys: 4 },
        ),
      ),
    })).node;
    const doc = fc.dictionary(fc.constantFrom("hosts", "tower", "rabbitmq", "name", "target", "version", "bogus"), value, { maxKeys: 4 });
    fc.assert(
      fc.property(doc, (d) => check(JSON.stringify(d), "inventory.json")),
      { numRuns: 300 },
    );
  });
});
