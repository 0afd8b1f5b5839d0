/**
 * `haforge diff --live` habits without an sshd: a host that accepts TCP and never speaks SSH
 * (a silent listener on loopback) and a host whose port is closed.
 *
 * - --timeout: the silent host is reported unreachable with the reason, exit 2, within the bound;
 * - progress: each host's line reaches stderr as the host answers (the refused host long before
 *   the silent one times out), not all at the end;
 * - --json: unreachable hosts with their step and reason; --limit: groups/globs, an unknown name
 *   is a finding with did-you-mean and no host is contacted.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { main } from "../../src/cli/main";
import { parseDuration } from "../../src/cli/live-diff";

const dir = mkdtempSync(join(tmpdir(), "hf-live-"));
// A client key that exists (no server will ever see it).
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "key")]);
let silent: Server;
let silentPort: number;
let closedPort: number;
const sockets: Socket[] = [];
let accepted = 0;

before(async () => {
  silent = createServer((s) => {
    accepted++;
    sockets.push(s); // accepted, never answered
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  silentPort = (silent.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => silent.close(() => r()));
});

function inventory(): string {
  const host = (name: string, port: number, cidr: string) => [
    `  - name: ${name}`,
    `    address: 127.0.0.1`,
    `    interfaces: [{ name: eth0, address: ${cidr} }]`,
    `    ssh: { user: root, port: ${port}, privateKeyPath: ${join(dir, "key")}, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE4bXTrmU0IHnB7jTAuT0CQ3vBzAkOBQUN6fHm8V6LeA" }`,
  ];
  const path = join(dir, `inv-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    path,
    [
      "version: 1",
      "name: live-habits",
      "target: ssh",
      "hosts:",
      ...host("drp1", silentPort, "10.40.0.11/24"),
      ...host("drp2", closedPort, "10.40.0.12/24"),
      "activePassive:",
      "  - name: drp",
      "    service: dr-provision",
      "    hosts: [drp1, drp2]",
      "    vip: 10.40.0.10/24",
      "    interface: eth0",
      "    haId: drp-ha-1",
      "    token: { env: HF_TEST_TOKEN }",
      "",
    ].join("\n"),
  );
  return path;
}

async function run(args: string[]) {
  const start = Date.now();
  let out = "";
  const err: { t: number; line: string }[] = [];
  const code = await main(
    args,
    { out: (t) => (out += t + "\n"), err: (t) => err.push({ t: Date.now() - start, line: t }) },
    { HF_TEST_TOKEN: "tok-0123456789" },
  );
  return { code, out, err, ms: Date.now() - start };
}

describe("diff --live: --timeout, progress per host, --json, --limit", () => {
  it("a host that never answers is unreachable after --timeout (exit 2); each host's line is printed as it answers", async () => {
    const inv = inventory();
    const r = await run(["diff", inv, "--live", "--timeout", "3s", "--materials", join(dir, "m.json")]);
    assert.equal(r.code, 2, r.out + JSON.stringify(r.err));
    assert.ok(accepted > 0, "the silent host was dialed");
    const line = (host: string) => r.err.find((e) => e.line.startsWith(`${host} `));
    const slow = line("drp1");
    const refused = line("drp2");
    assert.ok(slow && refused, JSON.stringify(r.err));
    assert.match(slow.line, /^drp1 unreachable \(timeout: no answer within 3 s \(--timeout\); \d+ ms\)$/);
    assert.match(refused.line, /^drp2 unreachable \(connect: .*; \d+ ms\)$/);
    // Streamed: the refused host is reported before the silent one's bound runs out.
    assert.ok(refused.t < slow.t, `drp2 at ${refused.t} ms, drp1 at ${slow.t} ms`);
    assert.ok(slow.t >= 2900, `the timeout fired at ${slow.t} ms`);
    assert.match(r.out, /2 host\(s\) could not be read: drp1, drp2/);
    assert.ok(r.err.some((e) => /^drp1: FAILED at step "timeout"/.test(e.line)));
    // The command ends soon after: the pool's dials to the silent host are bounded by --timeout too.
    assert.ok(r.ms < 3000 + 6000, `the command took ${r.ms} ms`);
  });

  it("--json: unreachable hosts with step and reason; -q prints no progress", async () => {
    const inv = inventory();
    const r = await run(["diff", inv, "--live", "--timeout", "1500ms", "--json", "-q", "--materials", join(dir, "m.json")]);
    assert.equal(r.code, 2);
    const j = JSON.parse(r.out);
    assert.deepEqual(j.unreachableHosts.sort(), ["drp1", "drp2"]);
    const h1 = j.hosts.find((h: { host: string }) => h.host === "drp1");
    assert.equal(h1.unreachable.step, "timeout");
    assert.match(h1.unreachable.reason, /no answer within 1500 ms/);
    assert.deepEqual(h1.files, []);
    assert.equal(typeof h1.target, "string");
    assert.ok(!r.err.some((e) => /^drp\d (ok|changed|unreachable)/.test(e.line)), "no progress under -q");
  });

  it("--limit selects by group and glob; an unknown name is an error finding with did-you-mean, nothing contacted", async () => {
    const inv = inventory();
    const before = accepted;
    const bad = await run(["diff", inv, "--live", "--limit", "drpp1", "--materials", join(dir, "m.json")]);
    assert.equal(bad.code, 2);
    assert.ok(
      bad.err.some((e) => /error limit\.no-match at --limit: "drpp1" .*did you mean "drp1"\?/.test(e.line)),
      JSON.stringify(bad.err),
    );
    assert.equal(accepted, before, "no host contacted");
    const host = await run(["diff", inv, "--live", "--host", "drp2", "--timeout", "2s", "--materials", join(dir, "m.json")]);
    assert.equal(host.code, 2);
    assert.ok(!host.err.some((e) => e.line.startsWith("drp1 ")), "--host is --limit NAME");
    assert.equal(accepted, before, "drp1 (the silent host) left out");
  });

  it("--timeout takes 30s, 2m, 1m30s, 500ms or seconds; anything else is a usage error", async () => {
    assert.equal(parseDuration("30s"), 30_000);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("2"), 2000);
    for (const bad of ["", "soon", "30 s", "-1s", "1x"]) assert.equal(parseDuration(bad), undefined, bad);
    const r = await run(["diff", inventory(), "--live", "--timeout", "soon"]);
    assert.equal(r.code, 2);
    assert.ok(r.err.some((e) => /--timeout "soon" is not a duration/.test(e.line)));
    const notLive = await run(["diff", "a", "b", "--timeout", "3s"]);
    assert.equal(notLive.code, 2);
  });
});
