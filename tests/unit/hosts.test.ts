/** Host rules (src/plan/hosts.ts): each with a passing and a failing inventory. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planHosts } from "../../src/plan/hosts";
import { error } from "../../src/core/findings";
import { formatPath } from "../../src/inventory/load";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII7updw4JZKS+DiaEiqQQA/vJZM0FM8BPq3nxY4aFqa8";
const pinned = { knownHostsFile: "/etc/haforge/known_hosts" };
const host = (name: string, address: string, extra: Record<string, unknown> = {}) => ({ name, address, ssh: pinned, ...extra });
/** The host rules, after the schema (whose string kinds reject malformed values first). */
const run = (input: InventoryInput) => {
  const parsed = Inventory.safeParse(input);
  if (!parsed.success)
    return { hosts: new Map(), findings: parsed.error.issues.map((i) => error("schema.invalid", formatPath(i.path), i.message)) };
  return planHosts(parsed.data);
};
const codes = (input: InventoryInput) => run(input).findings.map((f) => `${f.code} @ ${f.path}`);
const has = (input: InventoryInput, code: string, path?: string) =>
  run(input).findings.some((f) => f.code === code && (path === undefined || f.path === path));

describe("host rules", () => {
  it("plans every host with defaults and inventory order", () => {
    const { hosts, findings } = run({ hosts: [host("a", "10.0.0.1", { internalAddress: "10.1.0.1" }), host("b", "10.0.0.2")] });
    assert.deepEqual(findings, []);
    assert.equal(hosts.get("a")!.internalAddress, "10.1.0.1");
    assert.equal(hosts.get("b")!.internalAddress, "10.0.0.2");
    assert.deepEqual(
      [...hosts.values()].map((h) => h.order),
      [0, 1],
    );
  });

  it("duplicate host names: error on the second", () => {
    assert.ok(has({ hosts: [host("a", "10.0.0.1"), host("a", "10.0.0.2")] }, "hosts.duplicate-name", "hosts[1].name"));
    assert.ok(!has({ hosts: [host("a", "10.0.0.1"), host("b", "10.0.0.2")] }, "hosts.duplicate-name"));
  });

  it("names differing only in case: warning", () => {
    assert.ok(has({ hosts: [host("web1", "10.0.0.1"), host("WEB1", "10.0.0.2")] }, "hosts.duplicate-name-case", "hosts[1].name"));
    assert.ok(!has({ hosts: [host("web1", "10.0.0.1"), host("web2", "10.0.0.2")] }, "hosts.duplicate-name-case"));
  });

  it("duplicate addresses: error, unless the SSH ports differ (NAT)", () => {
    assert.ok(has({ hosts: [host("a", "10.0.0.1"), host("b", "10.0.0.1")] }, "hosts.duplicate-address", "hosts[1].address"));
    assert.ok(
      !has(
        {
          hosts: [
            host("a", "nat.example.com", { ssh: { ...pinned, port: 2201 } }),
            host("b", "nat.example.com", { ssh: { ...pinned, port: 2202 } }),
          ],
        },
        "hosts.duplicate-address",
      ),
    );
  });

  it("duplicate rabbitmq_host / internal addresses: error (the Tower doc's own example has one)", () => {
    // AWX docs/clustering.md: "hostB rabbitmq_host=10.1.0.3" and "hostC rabbitmq_host=10.1.0.3".
    const bad = {
      hosts: [host("hostB", "1.1.1.2", { internalAddress: "10.1.0.3" }), host("hostC", "1.1.1.3", { internalAddress: "10.1.0.3" })],
    };
    assert.ok(has(bad, "hosts.duplicate-internal-address", "hosts[1].internalAddress"));
    // An internal address equal to another host's (default) address collides too.
    assert.ok(
      has({ hosts: [host("a", "10.1.0.3"), host("b", "1.1.1.3", { internalAddress: "10.1.0.3" })] }, "hosts.duplicate-internal-address"),
    );
    assert.ok(
      !has(
        { hosts: [host("hostB", "1.1.1.2", { internalAddress: "10.1.0.2" }), host("hostC", "1.1.1.3", { internalAddress: "10.1.0.3" })] },
        "hosts.duplicate-internal-address",
      ),
    );
  });

  it("an address with a port or junk is an error", () => {
    // The schema's address kinds reject these before the host rules, at the same path.
    for (const bad of ["10.0.0.1:2222", "ssh://10.0.0.1", "root@10.0.0.1", "10.213.7.311", "10.0.0.1\nx", "a b"]) {
      assert.ok(has({ hosts: [host("a", bad)] }, "schema.invalid", "hosts[0].address"), bad);
      assert.ok(has({ hosts: [host("a", "10.0.0.1", { internalAddress: bad })] }, "schema.invalid", "hosts[0].internalAddress"), bad);
    }
    assert.deepEqual(codes({ hosts: [host("a", "10.0.0.1"), host("b", "fe80::1%eth0"), host("c", "db.example.com")] }), []);
  });

  it("unpinned SSH host key: warning ssh.host-key-unpinned; hostKey, knownHostsFile or trustOnFirstUse silence it", () => {
    const f = run({ hosts: [{ name: "a", address: "10.0.0.1" }] }).findings;
    assert.deepEqual(
      f.map((x) => [x.severity, x.code, x.path]),
      [["warning", "ssh.host-key-unpinned", "hosts[0].ssh"]],
    );
    assert.deepEqual(codes({ hosts: [{ name: "a", address: "10.0.0.1", ssh: { hostKey: KEY } }] }), []);
    assert.deepEqual(codes({ hosts: [{ name: "a", address: "10.0.0.1", ssh: { trustOnFirstUse: true } }] }), []);
    assert.deepEqual(codes({ hosts: [host("a", "10.0.0.1")] }), []);
  });

  it("not on a Kubernetes target (no SSH there)", () => {
    assert.deepEqual(codes({ target: "kubernetes", hosts: [{ name: "a", address: "10.0.0.1" }] }), []);
  });

  it("a pinned host key that is not an OpenSSH public key line is an error", () => {
    assert.ok(
      has(
        { hosts: [{ name: "a", address: "10.0.0.1", ssh: { hostKey: "ssh-ed25519 not-base64!" } }] },
        "schema.invalid",
        "hosts[0].ssh.hostKey",
      ),
    );
    assert.ok(
      has({ hosts: [{ name: "a", address: "10.0.0.1", ssh: { hostKey: KEY.replace("ssh-ed25519", "ssh-rsa") } }] }, "ssh.host-key-invalid"),
    );
    assert.ok(!has({ hosts: [{ name: "a", address: "10.0.0.1", ssh: { hostKey: KEY + " comment" } }] }, "ssh.host-key-invalid"));
  });

  it("a bastion naming an unknown host is an error; a known one is fine", () => {
    assert.ok(
      has({ hosts: [host("a", "10.0.0.1", { ssh: { ...pinned, bastion: "jump" } })] }, "ssh.unknown-bastion", "hosts[0].ssh.bastion"),
    );
    assert.deepEqual(codes({ hosts: [host("jump", "192.0.2.1"), host("a", "10.0.0.1", { ssh: { ...pinned, bastion: "jump" } })] }), []);
  });

  it("bastion loops and self-bastions are errors, reported once", () => {
    assert.ok(has({ hosts: [host("a", "10.0.0.1", { ssh: { ...pinned, bastion: "a" } })] }, "ssh.bastion-self"));
    const loop = codes({
      hosts: [
        host("a", "10.0.0.1", { ssh: { ...pinned, bastion: "b" } }),
        host("b", "10.0.0.2", { ssh: { ...pinned, bastion: "c" } }),
        host("c", "10.0.0.3", { ssh: { ...pinned, bastion: "a" } }),
        host("d", "10.0.0.4", { ssh: { ...pinned, bastion: "a" } }),
      ],
    });
    assert.deepEqual(loop, ["ssh.bastion-cycle @ hosts[0].ssh.bastion"]);
    assert.deepEqual(
      codes({
        hosts: [
          host("a", "10.0.0.1", { ssh: { ...pinned, bastion: "b" } }),
          host("b", "10.0.0.2", { ssh: { ...pinned, bastion: "c" } }),
          host("c", "10.0.0.3"),
        ],
      }),
      [],
    );
  });
});
