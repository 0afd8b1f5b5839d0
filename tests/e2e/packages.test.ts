/**
 * Software on a host, proven live (src/providers/host-packages.ts): lab1 has its own /usr
 * (`ownRoot`), its LB and broker packages are purged inside it (the real machine keeps them), a
 * local repository is built on this machine from Debian's packages (`apt-get download` +
 * dpkg-scanpackages) and lab1 sees it as a `file:` apt source (the lab has no route out). The
 * HostPackages resource goes through the engine stand-in (tests/engine: the SDK's dynamic-provider
 * process over gRPC, a checkpoint between runs), as the program's would. One up reads the
 * installed set once, installs exactly what is missing from that repository, starts no daemon
 * (policy-rc.d during the install), and leaves nothing of its own behind; the next up is a Same
 * step (its Diff reads the host); a pin to a version the repository lacks fails with apt's reason.
 * Root only; run one such file at a time (docs/lab.md).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { labDownSync } from "../../lab/down";
import { hostExec, hostExecOk, labUp, type LabInfo } from "../../lab/exec";
import { STATE_DIR } from "../../lab/config";
import { run } from "../../lab/proc";
import { hostPackagesProviderText, type HostPackagesInputs } from "../../src/providers/host-packages";
import { upResources } from "../engine";
import { LAB_WAIT_MS } from "./harness";

const SKIP = process.getuid?.() !== 0 ? "the lab needs root" : false;
const PURGED = ["haproxy", "keepalived", "rabbitmq-server"];
const DAEMONS = ["haproxy", "keepalived", "beam.smp"];

describe("e2e: packages purged inside a host come back from a local repository", { skip: SKIP, timeout: 900_000 }, () => {
  let lab: LabInfo;
  const repo = path.join(STATE_DIR, "repo");
  const checkpointFile = path.join(STATE_DIR, "packages-checkpoint.json");
  let inputs: HostPackagesInputs;
  const figure = (name: string, v: string) => process.stderr.write(`e2e-figure ${name} ${v}\n`);
  const NAME = "lab1-packages";
  /** One `pulumi up` of a program holding just lab1's HostPackages resource. */
  const up = (i: HostPackagesInputs) =>
    upResources({
      cwd: path.join(__dirname, "..", ".."),
      stack: "lab",
      checkpointFile,
      resources: [{ type: "pulumi-nodejs:dynamic:Resource", name: NAME, inputs: { ...i, __provider: hostPackagesProviderText } }],
    });
  const changes = (r: Awaited<ReturnType<typeof up>>) => r.steps.map((s) => `${s.op}${s.error ? " FAILED" : ""}`);

  before(async () => {
    labDownSync({});
    lab = await labUp({ hosts: 1, ownRoot: ["lab1"], waitMs: LAB_WAIT_MS });
    const h = lab.hosts[0]!;
    inputs = {
      connection: { host: h.name, address: h.address, user: "root", hostKey: h.hostKey, privateKeyPath: lab.privateKeyPath },
      host: h.name,
      os: "debian",
      needs: { debian: PURGED.map((name) => ({ name })), rhel: PURGED.map((name) => ({ name })) },
    };
    // the local repository, from Debian's own packages
    fs.mkdirSync(repo, { recursive: true });
    const dl = await run("sh", ["-c", `cd '${repo}' && apt-get download ${PURGED.join(" ")} && dpkg-scanpackages -m . > Packages`], {
      timeoutMs: 300_000,
    });
    assert.equal(dl.code, 0, `building the local repository: ${dl.stderr}`);
    // lab1: no other source, the repository as a file: source (read as root: the lab's state
    // folder is 0700, apt's _apt sandbox user cannot read it), the packages purged in its own root
    await hostExecOk(
      "lab1",
      `mkdir -p /etc/apt/sources.list.d.off && mv /etc/apt/sources.list.d/* /etc/apt/sources.list.d.off/ 2>/dev/null; mv /etc/apt/sources.list /etc/apt/sources.list.off 2>/dev/null; echo 'deb [trusted=yes] file:${repo} ./' > /etc/apt/sources.list.d/haforge-lab.list; find /var/lib/apt/lists -maxdepth 1 -type f -delete; echo 'APT::Sandbox::User "root";' > /etc/apt/apt.conf.d/99haforge-lab-repo`,
    );
    await hostExecOk("lab1", `DEBIAN_FRONTEND=noninteractive dpkg --purge ${PURGED.join(" ")}`, { timeoutMs: 300_000 });
    // this machine ships a policy-rc.d (exit 101) that lab1 inherited with /usr: remove lab1's copy,
    // so that the only thing keeping the daemons from starting during the install is haforge's
    await hostExecOk("lab1", "rm -f /usr/sbin/policy-rc.d");
  });
  after(() => {
    labDownSync({});
  });

  it("the purge happened inside lab1 only", async () => {
    for (const p of PURGED)
      assert.notEqual(
        (await hostExec("lab1", `dpkg-query -W -f='\${db:Status-Abbrev}' ${p} | grep -q '^ii'`)).code,
        0,
        `${p} still installed in lab1`,
      );
    assert.equal((await hostExec("lab1", "test -e /usr/sbin/keepalived")).code, 1, "keepalived binary still in lab1");
    assert.ok(fs.existsSync("/usr/sbin/keepalived"), "the real machine lost keepalived");
    assert.equal((await run("dpkg-query", ["-W", "-f=${db:Status-Abbrev}", "keepalived"])).stdout.trim(), "ii");
  });

  it("one apply installs exactly what is missing, from the local repository, and starts no daemon", async () => {
    const t0 = Date.now();
    const r = await up(inputs);
    figure("packages-install-ms", String(Date.now() - t0));
    assert.ok(r.ok, r.errors.join("\n"));
    assert.deepEqual(changes(r), ["create"]);
    const out = r.outputs[NAME] as { installedNow: string[]; family: string; installed: Record<string, string> };
    assert.deepEqual([...out.installedNow].sort(), [...PURGED].sort());
    assert.equal(out.family, "debian");
    for (const p of PURGED) assert.match(out.installed[p] ?? "", /./, `${p} has no version`);
    assert.equal(
      (await hostExec("lab1", "test -x /usr/sbin/keepalived && test -x /usr/sbin/haproxy && test -x /usr/sbin/rabbitmq-server")).code,
      0,
    );
    for (const d of DAEMONS) assert.equal((await hostExec("lab1", `pgrep -x ${d}`)).code, 1, `${d} was started by the package install`);
    assert.equal((await hostExec("lab1", "test -e /usr/sbin/policy-rc.d")).code, 1, "policy-rc.d left behind");
    const apt = await hostExecOk("lab1", "grep -h 'Commandline\\|Install:' /var/log/apt/history.log | tail -2");
    assert.match(apt, /install/);
  });

  it("the next up is a Same step: its Diff reads the host and finds nothing missing", async () => {
    const r = await up(inputs);
    assert.ok(r.ok, r.errors.join("\n"));
    assert.deepEqual(changes(r), ["same"]);
    assert.equal(r.rpcs["diff"], 1);
    assert.equal((r.rpcs["create"] ?? 0) + (r.rpcs["update"] ?? 0), 0);
  });

  it("a pin the repository cannot satisfy fails with apt's reason and changes nothing", async () => {
    const pinned: HostPackagesInputs = { ...inputs, needs: { ...inputs.needs, debian: [{ name: "keepalived", version: "0.0.1-1" }] } };
    const r = await up(pinned);
    assert.deepEqual(changes(r), ["update FAILED"]);
    assert.match(r.errors.join("\n"), /keepalived=0\.0\.1-1.*failed[\s\S]*(not found|Version)/);
    assert.equal((await hostExec("lab1", "test -x /usr/sbin/keepalived")).code, 0);
    assert.equal((await hostExec("lab1", "test -e /usr/sbin/policy-rc.d")).code, 1, "policy-rc.d left behind after a failed install");
  });

  it("a host of an unexpected family is refused before anything is installed", async () => {
    const r = await up({ ...inputs, os: "rhel" });
    assert.deepEqual(changes(r), ["update FAILED"]);
    assert.match(r.errors.join("\n"), /inventory says os rhel but the host runs debian/);
  });
});
