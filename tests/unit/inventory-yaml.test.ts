/** YAML inventory reading (src/inventory/yaml.ts) through the loader. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseInventoryText } from "../../src/inventory/load";
import { literalSecretWarnings } from "../../src/inventory/yaml";

const load = (text: string) => parseInventoryText(text, "inventory.yaml");

describe("YAML inventory", () => {
  it("a minimal inventory gets the schema defaults", () => {
    const r = load("hosts:\n  - name: a\n    address: 10.0.0.1\n");
    assert.deepEqual(r.findings, []);
    assert.equal(r.format, "yaml");
    assert.deepEqual(
      [r.inventory!.version, r.inventory!.target, r.inventory!.hosts[0]!.ssh.port, r.inventory!.hosts[0]!.ssh.user],
      [1, "ssh", 22, "root"],
    );
    assert.equal(r.sourcePath("hosts[0].address"), "hosts[0].address");
  });

  it("syntax errors: yaml.syntax with the line", () => {
    const r = load("hosts:\n  - name: a\n    address: [10.0.0.1\n");
    assert.equal(r.inventory, undefined);
    assert.equal(r.findings.length, 1);
    assert.equal(r.findings[0]!.code, "yaml.syntax");
    assert.match(r.findings[0]!.path, /^line \d+$/);
    assert.match(r.findings[0]!.message, /line \d+, column \d+/);
  });

  it("duplicate keys are a syntax error (the second address must not win silently)", () => {
    const r = load("hosts:\n  - name: a\n    address: 10.0.0.1\n    address: 10.0.0.2\n");
    assert.deepEqual(
      r.findings.map((f) => [f.code, f.path]),
      [["yaml.syntax", "line 4"]],
    );
  });

  it("literal secrets warn (secret.literal) at their path; references and defaults do not", () => {
    const r = load(
      "hosts:\n  - name: a\n    address: 10.0.0.1\n    ssh: { password: { value: hunter2 } }\nrabbitmq:\n  password: { value: '' }\n  cookie: { secret: rabbitmqCookie }\ntower:\n  adminPassword: { env: TOWER_ADMIN }\n",
    );
    assert.deepEqual(
      r.findings.map((f) => [f.severity, f.code, f.path]),
      [
        ["warning", "secret.literal", "hosts[0].ssh.password"],
        ["warning", "secret.literal", "rabbitmq.password"],
      ],
    );
    assert.ok(!r.findings.some((f) => f.message.includes("hunter2")), "the secret is never quoted");
    assert.deepEqual(load("hosts: [{ name: a, address: 10.0.0.1 }]\nrabbitmq: {}\n").findings, []); // the cookiemonster default is the plan's business
  });

  it("an empty document is an empty inventory: an error (nothing to deploy)", () => {
    const r = load("# nothing yet\n");
    assert.deepEqual(
      r.findings.map((f) => [f.severity, f.code]),
      [["error", "inventory.empty"]],
    );
    assert.equal(r.inventory, undefined);
  });

  it("core schema: date-like and yes/no scalars stay strings; merge keys work", () => {
    const r = load(
      "name: 2024-01-01\nhosts:\n  - &base { name: a, address: 10.0.0.1, init: supervisor }\n  - { <<: *base, name: b, address: 10.0.0.2 }\n",
    );
    assert.deepEqual(r.findings, []);
    assert.equal(r.inventory!.name, "2024-01-01");
    assert.deepEqual(
      r.inventory!.hosts.map((h) => [h.name, h.init]),
      [
        ["a", "supervisor"],
        ["b", "supervisor"],
      ],
    );
  });

  it("alias bombs stay bounded: counted without expanding, refused past the limit", () => {
    const lines = ["a0: &a0 [{ value: x }]"];
    for (let i = 1; i <= 12; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const t0 = Date.now();
    const r = load(lines.join("\n") + "\n");
    assert.ok(Date.now() - t0 < 3000, "finished quickly");
    assert.equal(r.inventory, undefined);
    assert.deepEqual(
      r.findings.map((f) => f.code),
      ["yaml.too-large"],
    );
  });

  it("literalSecretWarnings ignores lookalikes that are not { value: string }", () => {
    assert.deepEqual(literalSecretWarnings({ a: { value: 3 }, b: { value: "x", other: 1 } }), []);
  });
});
