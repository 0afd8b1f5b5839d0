/** haforge used as a library with deploy-time addresses (Outputs of other resources). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseRun, type MockRun } from "./mock-engine";

const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const unwrap = (v: any): any => (v && typeof v === "object" && v[SECRET_KEY] !== undefined ? unwrap(v.value) : v);

describe("HaCluster as a library, addresses from other resources", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "run-library.ts")], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  it("runs", () => assert.equal(r.status, 0, r.stderr.slice(-2000)));
  const run: MockRun = r.status === 0 ? parseRun<MockRun>(r.stdout) : { resources: [], outputs: {} };
  const files = run.resources.filter((x) => x.type === "pulumi-nodejs:dynamic:Resource" && unwrap(unwrap(x.raw).spec)?.path);

  it("connects to each host at the address its VM got", () => {
    const want: Record<string, string> = { a: "192.0.2.11", b: "192.0.2.12", c: "192.0.2.13" };
    assert.ok(files.length >= 6);
    for (const f of files) {
      const c = unwrap(unwrap(f.raw).connection);
      assert.equal(c.address, want[c.host], `${f.name}`);
    }
  });

  it("renders configs with the deploy-time addresses, not the inventory placeholder", () => {
    const conf = files.find(
      (f) => unwrap(unwrap(f.raw).spec)?.path === "/etc/keepalived/keepalived.conf" && unwrap(unwrap(f.raw).connection).host === "a",
    );
    assert.ok(conf, "keepalived.conf on a");
    const content = String(unwrap(unwrap(conf.raw).content));
    assert.match(content, /192\.0\.2\.11/);
    assert.match(content, /192\.0\.2\.12/);
    assert.doesNotMatch(content, /203\.0\.113\.250/);
    const cfg = files.find((f) => unwrap(unwrap(f.raw).spec)?.path === "/etc/haproxy/haproxy.cfg");
    assert.match(String(unwrap(unwrap(cfg!.raw).content)), /192\.0\.2\.13:8080/);
  });

  it("reports the real addresses in the stack outputs (hosts, AMQP endpoints, brokerUrl), never the placeholder", () => {
    const want: Record<string, string> = { a: "192.0.2.11", b: "192.0.2.12", c: "192.0.2.13" };
    const hosts = run.outputs["hosts"]!.value as { name: string; address: string }[];
    assert.deepEqual(Object.fromEntries(hosts.map((h) => [h.name, h.address])), want);
    const amqp = (run.outputs["endpoints"]!.value as { amqp: string[] }).amqp;
    assert.equal(amqp.length, 3);
    for (const ip of Object.values(want))
      assert.ok(
        amqp.some((u) => u.includes(`@${ip}:`)),
        `${ip} in ${amqp.join(", ")}`,
      );
    assert.equal(run.outputs["brokerUrl"]!.secret, true);
    assert.match(String(run.outputs["brokerUrl"]!.value), /@192\.0\.2\.11:5672\//);
    assert.doesNotMatch(JSON.stringify(run.outputs), /203\.0\.113\.250/);
  });

  it("waits for the VMs before touching their hosts", () => {
    const vmUrns = new Set(run.resources.filter((x) => x.type === "test:index:Vm").map((x) => x.urn));
    assert.equal(vmUrns.size, 3);
    // The address is an input of every file: the SDK records the VM as a dependency of the file.
    for (const f of files)
      assert.ok(
        f.dependencies.some((d) => vmUrns.has(d)),
        `${f.name} does not depend on its VM`,
      );
  });
});
