/**
 * Software on the hosts (src/core/packages.ts, src/plan/packages.ts): the one query per host
 * parsed back exactly (property, and for real on this Debian machine), only what is missing or at
 * the wrong version installed and installing it converges (property), the install script under
 * shellcheck and run against stub package managers (policy-rc.d forbids daemon starts during the
 * install and is removed after; an operator's own is kept), and the plan's findings.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  missingPackages,
  osFamily,
  packageInstallScript,
  packageQueryScript,
  parsePackageQuery,
  versionMatches,
  type OsFamily,
  type PackageNeed,
} from "../../src/core/packages";
import { Inventory } from "../../src/inventory/schema";
import { hostPackageNeeds, packagePlan } from "../../src/plan/packages";
import { planCluster } from "../../src/pipeline/plan";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";

const ROOT = path.join(__dirname, "..", "..");
const pkgName = fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{0,12}$/);
const pkgVersion = fc.stringMatching(/^[0-9][A-Za-z0-9.+~:-]{0,10}$/);
const family = fc.constantFrom<OsFamily>("debian", "rhel");

describe("packages: host side", () => {
  it("property: the query's output parses back to exactly the installed packages (dpkg status ?i)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(pkgName, fc.tuple(pkgVersion, fc.constantFrom("ii ", "hi ", "rc ", "un ", "iU "))),
        fc.constantFrom("debian", "ubuntu", "rocky", "arch"),
        (pkgs, id) => {
          const out = [
            `HAFORGE-PKG os ${id} `,
            "noise line",
            ...Object.entries(pkgs).map(([n, [v, st]]) => `HAFORGE-PKG pkg ${n} ${v} ${st}`),
          ].join("\n");
          const facts = parsePackageQuery(out);
          const expected = Object.entries(pkgs)
            .filter(([, [, st]]) => st[1] === "i")
            .map(([n, [v]]) => [n, v]);
          assert.deepEqual([...facts.installed.entries()].sort(), expected.sort());
          assert.equal(facts.family, osFamily(id));
        },
      ),
    );
  });

  it("the query on this machine (Debian 12): one run, family debian, the daemons' packages installed", () => {
    const r = spawnSync("sh", ["-s"], { input: packageQueryScript(), encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const facts = parsePackageQuery(r.stdout);
    assert.equal(facts.family, "debian");
    for (const p of ["dpkg", "rabbitmq-server", "keepalived", "haproxy", "pacemaker", "etcd-server", "patroni"])
      assert.ok(facts.installed.has(p), p);
    const dpkg = spawnSync("dpkg-query", ["-W", "-f=${Version}", "rabbitmq-server"], { encoding: "utf8" }).stdout;
    assert.equal(facts.installed.get("rabbitmq-server"), dpkg);
  });

  it("property: only missing or wrongly versioned packages are installed, and installing them converges", () => {
    fc.assert(
      fc.property(
        family,
        fc.dictionary(pkgName, pkgVersion),
        fc.array(fc.record({ name: pkgName, version: fc.option(pkgVersion, { nil: undefined }) }), { maxLength: 12 }),
        (fam, inst, raw) => {
          const needs: PackageNeed[] = raw.map((n) => (n.version === undefined ? { name: n.name } : { name: n.name, version: n.version }));
          const installed = new Map(Object.entries(inst));
          const todo = missingPackages(fam, needs, installed);
          for (const t of todo) {
            assert.ok(needs.some((n) => n.name === t.name));
            const have = installed.get(t.name);
            assert.ok(
              have === undefined || (t.version !== undefined && !versionMatches(fam, have, t.version)),
              `${t.name} is installed as needed`,
            );
          }
          assert.equal(new Set(todo.map((t) => t.name)).size, todo.length, "each package once");
          for (const n of needs)
            if (!installed.has(n.name))
              assert.ok(
                todo.some((t) => t.name === n.name),
                `${n.name} is missing but not installed`,
              );
          // the package manager installs what was asked (pinned version, or some version)
          const after = new Map(installed);
          for (const t of todo) after.set(t.name, t.version ?? "1.0");
          // a pinned package asked twice with two versions cannot converge; otherwise nothing is left
          const conflicting = needs.some((a) => needs.some((b) => a.name === b.name && a.version !== b.version));
          if (!conflicting) assert.deepEqual(missingPackages(fam, needs, after), []);
        },
      ),
    );
  });

  it("the install scripts pass shellcheck", () => {
    for (const fam of ["debian", "rhel"] as const) {
      const script = `#!/bin/sh\n${packageInstallScript(fam, [{ name: "rabbitmq-server", version: "3.10.8-1.1+deb12u1" }, { name: "haproxy" }])}`;
      const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
      assert.equal(r.status, 0, `${fam}: ${r.stdout}`);
      const q = spawnSync("shellcheck", ["-s", "sh", "-e", "SC1091", "-"], {
        input: `#!/bin/sh\n${packageQueryScript()}`,
        encoding: "utf8",
      });
      assert.equal(q.status, 0, q.stdout);
    }
  });

  it("Debian install against stub apt-get: daemon starts are forbidden during the install (policy-rc.d exit 101), the policy is removed after, an operator's own is kept", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-pkg-"));
    try {
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      const policy = path.join(dir, "policy-rc.d");
      const log = path.join(dir, "log");
      // apt-get: records its arguments and what invoke-rc.d would get from the policy right now
      fs.writeFileSync(
        path.join(bin, "apt-get"),
        `#!/bin/sh\nif [ -x '${policy}' ]; then '${policy}' rabbitmq-server start; rc=$?; else rc=none; fi\necho "apt-get $* policy=$rc" >> '${log}'\n`,
        { mode: 0o755 },
      );
      const run = () =>
        spawnSync("sh", ["-s"], {
          input: packageInstallScript("debian", [{ name: "haproxy" }, { name: "rabbitmq-server", version: "3.10.8-1.1+deb12u1" }], {
            policyPath: policy,
          }),
          encoding: "utf8",
          env: { PATH: `${bin}:/usr/bin:/bin` },
        });
      let r = run();
      assert.equal(r.status, 0, r.stderr);
      const lines = fs.readFileSync(log, "utf8").trim().split("\n");
      assert.deepEqual(
        lines.map((l) => l.split(" ").slice(-1)[0]),
        ["policy=101", "policy=101"],
        "every apt-get ran with starts forbidden",
      );
      assert.match(lines[0]!, /apt-get -q update/);
      assert.match(lines[1]!, /install haproxy rabbitmq-server=3\.10\.8-1\.1\+deb12u1 policy=101$/);
      assert.match(lines[1]!, /--no-install-recommends/);
      assert.equal(fs.existsSync(policy), false, "haforge's policy-rc.d was left behind");
      // an operator's own policy is neither replaced nor removed; a failing apt-get still cleans up ours
      fs.writeFileSync(policy, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      r = run();
      assert.equal(r.status, 0);
      assert.equal(fs.readFileSync(policy, "utf8"), "#!/bin/sh\nexit 0\n");
      fs.rmSync(policy);
      fs.writeFileSync(path.join(bin, "apt-get"), "#!/bin/sh\nexit 100\n", { mode: 0o755 });
      r = run();
      assert.notEqual(r.status, 0);
      assert.equal(fs.existsSync(policy), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("packages: plan side", () => {
  const lab = () => analyzeInventoryFile(path.join(ROOT, "inventories", "lab.yaml"));
  const plan = (edit: (inv: any) => void) => {
    const inv = structuredClone(lab().inventory!) as any;
    edit(inv);
    return planCluster(Inventory.parse(inv));
  };

  it("every lab host needs its services' Debian packages, all installed on this machine (the lab's hosts share them)", () => {
    const p = lab().plan!;
    const needs = hostPackageNeeds(p, "lab1", "debian").map((n) => n.name);
    for (const n of [
      "rabbitmq-server",
      "etcd-server",
      "corosync",
      "pacemaker",
      "keepalived",
      "haproxy",
      "patroni",
      "postgresql-15",
      "syncthing",
      "supervisor",
    ])
      assert.ok(needs.includes(n), n);
    const facts = parsePackageQuery(spawnSync("sh", ["-s"], { input: packageQueryScript(), encoding: "utf8" }).stdout);
    assert.deepEqual(missingPackages("debian", hostPackageNeeds(p, "lab1", "debian"), facts.installed), []);
    assert.ok(hostPackageNeeds(p, "lab1", "rhel").some((n) => n.name === "postgresql15-server"));
  });

  it("pins apply; manage: false needs nothing; an unsupported OS, a bad pin and an unused pin are findings", () => {
    const pinned = plan((inv) => (inv.packages = { manage: true, versions: { "rabbitmq-server": "3.10.8-1.1+deb12u1" } }));
    assert.deepEqual(
      hostPackageNeeds(pinned.plan!, "lab2", "debian").find((n) => n.name === "rabbitmq-server"),
      { name: "rabbitmq-server", version: "3.10.8-1.1+deb12u1" },
    );
    const off = plan((inv) => (inv.packages = { manage: false, versions: {} }));
    assert.deepEqual(packagePlan(off.plan!), []);
    const bad = plan((inv) => {
      inv.hosts[1].os = "alpine";
      inv.hosts[2].os = "ubuntu";
      inv.packages = { manage: true, versions: { "no-such-thing": "1.0" } };
    });
    const codes = bad.findings.map((f) => `${f.severity} ${f.code} ${f.path}`);
    assert.ok(codes.includes("error packages.unsupported-os hosts[1].os"), codes.join("\n"));
    assert.ok(!codes.some((c) => c.includes("hosts[2].os")), "ubuntu is a Debian");
    assert.ok(codes.includes("warning packages.unused-pin packages.versions.no-such-thing"), codes.join("\n"));
    assert.equal(bad.plan, undefined);
    // A pin that is not a package version never reaches the plan: the schema's `package version` kind.
    const inv = structuredClone(lab().inventory!) as any;
    inv.packages = { manage: true, versions: { haproxy: "1.0; rm -rf /" } };
    assert.deepEqual(
      Inventory.safeParse(inv).error?.issues.map((i) => i.path.join(".")),
      ["packages.versions.haproxy"],
    );
  });
});
