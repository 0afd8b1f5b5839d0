/**
 * Every rendered file of every example inventory through its real daemon.
 *
 * Each example is rendered with --reveal-secrets (the golden materials and the fake secrets of
 * tests/golden, so these are the files of the golden trees, unmasked) and every host gets a
 * stand-in (tests/system/examples/host-env.ts): its own network namespace with its addresses on
 * interfaces named as in the inventory, its rendered files at their real paths (overlays, modes
 * and owners as in the manifest), its hostname. Then, on that host:
 *
 * - every file with a `validate` command passes it, run as the host runs it (`{file}` is the
 *   file's path in the render tree; the files next to it — the corosync authkey, RabbitMQ's
 *   definitions — are in place): keepalived -t (after checking the file exists: it exits 0 on a
 *   missing one), haproxy -c, corosync -t, crm_verify --xml-file, patroni --validate-config,
 *   RabbitMQ's Cuttlefish, sh -n, Python's parser, ssh-keygen, ssh -G, json.tool, key sizes;
 * - files without one are judged by the daemon that reads them: systemd units and drop-ins by
 *   `systemd-analyze verify` (no complaint allowed), supervisor programs by supervisord's own
 *   loader, sysctl.d files by the kernel (`sysctl -p` in the host's namespace, read back),
 *   etcd.yml by booting every member and running the rendered health command, syncthing's home
 *   by booting syncthing (rendered health, its own device ID = the rendered one, config.xml not
 *   rewritten), the RabbitMQ files by booting a node from the rendered unit/program that must
 *   report the configured vhost and user and accept the user's password;
 * - a `target: kubernetes` example's config carried in ConfigMaps/Secrets goes through the same
 *   offline checks (RabbitMQ Cuttlefish, Python, JSON, Erlang terms).
 *
 * Negative controls show each kind of check can fail (a corrupted copy, a missing file, a host
 * without the ring address, a node booting with a bad key). Nothing here may skip: a missing tool
 * or a namespace that cannot be created is a failure. Needs root.
 *
 * Run: node --import tsx --test --test-concurrency=1 tests/system/examples.test.ts
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { resolveSecret } from "../../src/core/secrets";
import type { Manifest, ManifestFile } from "../../src/render/output";
import type { ClusterPlan } from "../../src/plan/types";
import { RABBITMQ_CONF_VALIDATE } from "../../src/services/rabbitmq/conf-check";
import { exampleInventories, fakeSecrets, goldenMaterials, hasGoldenMaterials, inventoryPath, renderExample } from "../golden/examples";
import { ExampleHosts, stageTree, type ExampleHost, type Proc, type Run } from "./examples/host-env";
import {
  SUPERVISOR_LOADER,
  effectiveUnit,
  expandedArgv,
  programCommand,
  unitCommand,
  type ServiceCommand,
  type SupervisorProgram,
} from "./examples/services";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BOOT_TIMEOUT_MS = 150_000; // RabbitMQ: 12–18 s idle, 37 s measured at load 18 (rabbitmq.test.ts)

// --- bookkeeping: which check judged which file, per example --------------------------------

/** example → "host:path" → check kinds that passed on it. */
const covered = new Map<string, Map<string, Set<string>>>();
const cover = (ex: string, host: string, path: string, kind: string): void => {
  const m = covered.get(ex) ?? new Map<string, Set<string>>();
  covered.set(ex, m);
  const k = `${host}:${path}`;
  m.set(k, (m.get(k) ?? new Set()).add(kind));
};
const notes: string[] = [];

/**
 * Files no daemon of this machine reads, and why (docs/lab.md: stolon and consul are not in Debian
 * and cannot be built here; Tower is not packaged). They still pass their `validate` (parsers).
 */
const NO_DAEMON: readonly [RegExp, string][] = [
  [/^\/etc\/stolon\//, "stolon (not in Debian): its password files and cluster spec are read by stolon only (the spec is parsed as JSON)"],
  [/^\/etc\/consul\.d\//, "consul (not in Debian)"],
  [/^\/etc\/tower\//, "Ansible Tower (not packaged): Python settings, parsed by Python only"],
  [/^\/var\/lib\/awx\//, "Ansible Tower (not packaged): SSH material checked by OpenSSH's tools only"],
  [/^\/etc\/pacemaker\/authkey$/, "Pacemaker remote key: read by pacemaker-remoted only (size checked)"],
  [
    /^\/etc\/mysql\/mariadb\.conf\.d\//,
    "MariaDB/Galera (run by Pacemaker's galera agent) is not installed on this machine: wsrep settings checked structurally (tests/unit/pacemaker-managed-config.test.ts)",
  ],
  [
    /^\/etc\/redis\//,
    "Redis (run by Pacemaker's redis agent) is not installed on this machine: checked structurally (tests/unit/pacemaker-managed-config.test.ts)",
  ],
  [
    /^\/usr\/local\/lib\/haforge\/.*\.sh$/,
    "haforge's own script: shell parser only (tests/system/pacemaker.test.ts runs it against a real cluster)",
  ],
];
/** Binaries a rendered unit may name that Debian does not ship (systemd-analyze reports them missing). */
const NOT_IN_DEBIAN = [/\/stolon-(keeper|sentinel|proxy)$/, /\/consul$/, /\/dr-provision$/];

// --- per-example state ---------------------------------------------------------------------

interface Example {
  readonly name: string;
  readonly tag: string;
  readonly plan: ClusterPlan;
  readonly tree: string;
  readonly manifest: Manifest;
  readonly secretValues: Record<string, string>;
  hosts?: ExampleHosts;
  /** host → supervisor programs as supervisord's loader read them (hosts managed by supervisor). */
  readonly programs: Map<string, SupervisorProgram[]>;
  readonly daemons: Map<string, Proc>;
}

const work = mkdtempSync(join(tmpdir(), "hf-ex-"));
chmodSync(work, 0o755);
const examples: Example[] = [];
const exampleNames = exampleInventories();
/** The RabbitMQ node started with a corrupted rabbitmq.conf (negative control), if any. */
let negativeBoot: { ex: Example; host: string; proc: Proc } | undefined;

const filesOf = (ex: Example, pred: (f: ManifestFile) => boolean): ManifestFile[] => ex.manifest.files.filter(pred);
const treePath = (ex: Example, f: { host: string; path: string }): string => join(ex.tree, f.host, f.path);
const serviceOf = (ex: Example, host: string, name: string) => ex.manifest.services.find((s) => s.host === host && s.name === name);
const hostsOf = (ex: Example) => {
  assert.ok(ex.hosts, `${ex.name}: host environments are up`);
  return ex.hosts;
};
const short = (r: Run, n = 1500) => (r.out.length > n ? `…${r.out.slice(-n)}` : r.out);

/** The stand-in of each inventory host: eth0 + the other interfaces, every address it owns. */
function exampleHosts(plan: ClusterPlan): ExampleHost[] {
  return plan.hosts.map((h) => {
    const eth0 = h.interfaces.find((i) => i.name === "eth0");
    const first = eth0 ? eth0.address : `${h.internalAddress}/24`;
    const have = new Set([first.split("/")[0], ...h.interfaces.map((i) => i.address.split("/")[0])]);
    const extra = [h.internalAddress, h.address].filter((a, i, all) => !have.has(a) && all.indexOf(a) === i).map((a) => `${a}/32`);
    return {
      name: h.name,
      eth0: [first, ...extra],
      interfaces: h.interfaces.filter((i) => i.name !== "eth0").map((i) => ({ name: i.name, cidr: i.address })),
    };
  });
}

/** How `host` starts service `name`: its supervisor program or its systemd unit, as rendered. */
function commandOf(ex: Example, host: string, name: string): ServiceCommand {
  const svc = serviceOf(ex, host, name);
  assert.ok(svc, `${ex.name}: no service ${name} on ${host}`);
  if (svc.manager === "supervisor") {
    const p = ex.programs.get(host)?.find((x) => x.name === name);
    assert.ok(p, `${ex.name}: supervisor program ${name} on ${host}`);
    return programCommand(p);
  }
  // haforge's own unit, or the packaged one with haforge's drop-ins, merged as systemd does.
  const root = join(ex.tree, host);
  const dropInDir = join(root, "etc/systemd/system", `${name}.service.d`);
  const unit = effectiveUnit(
    name,
    (p) => (existsSync(join(root, p)) ? readFileSync(join(root, p), "utf8") : undefined),
    existsSync(dropInDir) ? readdirSync(dropInDir) : [],
  );
  const c = unitCommand(unit.text);
  assert.ok(c, `${ex.name}: ExecStart in ${unit.base}`);
  const argv = expandedArgv(c);
  // systemd sets HOME (and USER) from the passwd entry of User=.
  const home = c.user && !c.env["HOME"] ? spawnSync("getent", ["passwd", c.user], { encoding: "utf8" }).stdout.split(":")[5] : undefined;
  return { ...c, argv, env: { ...c.env, ...(home ? { HOME: home } : {}) } };
}

function startService(ex: Example, host: string, name: string): Proc {
  const c = commandOf(ex, host, name);
  const p = hostsOf(ex).start(host, name, c.argv, {
    ...(c.user ? { user: c.user } : {}),
    env: { ...c.env },
    ...(c.cwd ? { cwd: c.cwd } : {}),
  });
  ex.daemons.set(`${host}/${name}`, p);
  return p;
}

/** Run items with at most `n` in flight. */
async function pool<T, R>(items: readonly T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

/** Which daemon/tool a validate command asks, for the tally. */
function validateKind(v: string): string {
  if (/keepalived -t/.test(v)) return "keepalived -t";
  if (/haproxy -c/.test(v)) return "haproxy -c";
  if (/corosync -t/.test(v)) return "corosync -t";
  if (/crm_verify/.test(v)) return "crm_verify";
  if (/patroni --validate-config/.test(v)) return "patroni --validate-config";
  if (/cuttlefish/.test(v)) return "rabbitmq cuttlefish";
  if (/wc -c/.test(v)) return "key size";
  if (/^sh -n/.test(v)) return "sh -n";
  if (/ast\.parse/.test(v)) return "python parser";
  if (/ssh-keygen -y/.test(v)) return "ssh-keygen -y";
  if (/ssh-keygen -l/.test(v)) return "ssh-keygen -l";
  if (/ssh -G/.test(v)) return "ssh -G";
  if (/json\.tool/.test(v)) return "json.tool";
  if (/consul validate/.test(v)) return "consul validate";
  return `other: ${v.slice(0, 30)}`;
}

const JSON_CHECK = 'python3 -m json.tool "$1" >/dev/null';
/** INI as oslo.config reads it: sections, `key = value`, no duplicate section or option. */
const INI_CHECK = `python3 -c 'import configparser, sys; configparser.ConfigParser(strict=True, interpolation=None).read_file(open(sys.argv[1]))' "$1"`;

/** A validate command as the host runs it: `{file}` → "$1". */
const validateScript = (v: string): string => v.split("{file}").join('"$1"');

// --- bring-up --------------------------------------------------------------------------------

before(async () => {
  assert.equal(process.getuid?.(), 0, "needs root (network and mount namespaces)");
  const tools = [
    "ip",
    "nsenter",
    "unshare",
    "setpriv",
    "keepalived",
    "haproxy",
    "corosync",
    "crm_verify",
    "patroni",
    "erl",
    "systemd-analyze",
    "sysctl",
    "etcd",
    "etcdctl",
    "syncthing",
    "curl",
    "python3",
    "ssh-keygen",
    "epmd",
  ];
  const missing = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`], { env: ExampleHosts.baseEnv() }).status !== 0);
  assert.deepEqual(missing, [], `tools missing on this machine (.ci/run installs them): ${missing.join(", ")}`);

  for (const name of exampleNames) {
    const a = analyzeInventoryFile(inventoryPath(name));
    assert.ok(a.plan, `${name} plans`);
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    const materials = join(dir, "materials.json");
    if (hasGoldenMaterials(name)) copyFileSync(goldenMaterials(name), materials);
    const tree = join(dir, "tree");
    const r = await renderExample(name, tree, { materials, reveal: true });
    assert.equal(r.code, 0, `${name}: render --reveal-secrets: ${r.err}`);
    assert.doesNotMatch(r.err, /unresolved secrets/);
    const manifest = JSON.parse(readFileSync(join(tree, "manifest.json"), "utf8")) as Manifest;
    const tag = name.replace(/\.([a-z]+)$/, "-$1");
    const ex: Example = {
      name,
      tag,
      plan: a.plan,
      tree,
      manifest,
      secretValues: fakeSecrets(name).values,
      programs: new Map(),
      daemons: new Map(),
    };
    examples.push(ex);
    if (a.plan.target !== "ssh" || manifest.files.length === 0) continue;
    const unknownOwners = stageTree(tree, manifest.files);
    if (unknownOwners.length) notes.push(`${name}: owners not on this machine (files stay root-owned): ${unknownOwners.join(", ")}`);
    const hostLines =
      [
        "127.0.0.1 localhost",
        "::1 localhost ip6-localhost ip6-loopback",
        ...a.plan.hosts.map((h) => `${h.internalAddress} ${h.name}`),
      ].join("\n") + "\n";
    ex.hosts = new ExampleHosts(`hf-ex-${tag}`, exampleHosts(a.plan), tree, join(dir, "hosts"), hostLines);
    await ex.hosts.up();
  }

  // supervisord's loader on every supervisor-managed host (a check in itself, reported below),
  // then the daemons, all at once: boots overlap with the static checks.
  for (const ex of examples.filter((e) => e.hosts)) {
    for (const host of new Set(ex.manifest.services.filter((s) => s.manager === "supervisor").map((s) => s.host))) {
      const r = ex.hosts!.sh(host, `python3 -c "$1" /etc/supervisor/supervisord.conf`, { args: [SUPERVISOR_LOADER] });
      assert.equal(r.rc, 0, `${ex.name} ${host}: supervisord's loader: ${short(r)}`);
      ex.programs.set(host, JSON.parse(r.out.trim().split("\n").pop()!) as SupervisorProgram[]);
    }
    const withFile = (path: string) => [...new Set(filesOf(ex, (f) => f.path === path).map((f) => f.host))];
    for (const host of withFile("/etc/haforge/etcd/etcd.yml")) startService(ex, host, "etcd");
    for (const host of withFile("/var/lib/syncthing/config.xml")) startService(ex, host, "syncthing");
    const rmq = ex.plan.rabbitmq?.nodes[0];
    if (rmq) {
      // Our own epmd, recorded (the node would otherwise daemonize one we did not start).
      ex.daemons.set(
        `${rmq.host}/epmd`,
        ex.hosts!.start(rmq.host, "epmd", ["epmd"], { user: "rabbitmq", env: { HOME: "/var/lib/rabbitmq" } }),
      );
      await sleep(300);
      startService(ex, rmq.host, "rabbitmq-server");
    }
  }
  // Negative control for the RabbitMQ boot: a second node of the first multi-node example, its
  // rabbitmq.conf given one key 3.10 does not know, must refuse to boot by itself.
  const neg = examples.find((e) => e.hosts && (e.plan.rabbitmq?.nodes.length ?? 0) > 1);
  if (neg) {
    const host = neg.plan.rabbitmq!.nodes[1]!.host;
    const w = neg.hosts!.sh(host, "printf 'default_queue_type = quorum\\n' >> /etc/rabbitmq/rabbitmq.conf");
    assert.equal(w.rc, 0, w.out);
    neg.hosts!.start(host, "epmd", ["epmd"], { user: "rabbitmq" });
    await sleep(300);
    const c = commandOf(neg, host, "rabbitmq-server");
    negativeBoot = {
      ex: neg,
      host,
      proc: neg.hosts!.start(host, "rabbitmq-server-broken", c.argv, {
        ...(c.user ? { user: c.user } : {}),
        env: c.env,
        ...(c.cwd ? { cwd: c.cwd } : {}),
      }),
    };
  }
});

after(async () => {
  const problems: string[] = [];
  for (const ex of examples) if (ex.hosts) problems.push(...(await ex.hosts.down()));
  // The report: checks per example, then the files no daemon of this machine reads.
  const lines: string[] = ["# examples: files checked per daemon/tool per inventory"];
  for (const ex of examples) {
    const byKind = new Map<string, number>();
    for (const kinds of covered.get(ex.name)?.values() ?? []) for (const k of kinds) byKind.set(k, (byKind.get(k) ?? 0) + 1);
    lines.push(
      `#   ${ex.name}: ${
        [...byKind]
          .sort()
          .map(([k, n]) => `${k} ${n}`)
          .join(", ") || "(none)"
      }`,
    );
  }
  lines.push(...notes.map((n) => `#   note: ${n}`));
  console.log(lines.join("\n"));
  if (!process.env["HF_EX_KEEP"]) rmSync(work, { recursive: true, force: true });
  assert.deepEqual(problems, [], "teardown");
});

// --- the checks ------------------------------------------------------------------------------

for (const name of exampleNames) {
  describe(name, { timeout: 300_000 }, () => {
    const ex = () => {
      const e = examples.find((x) => x.name === name);
      assert.ok(e, `${name} rendered`);
      return e;
    };

    it("every file with a validate command passes it on its host", async () => {
      const e = ex();
      const files = filesOf(e, (f) => f.validate !== undefined);
      if (e.plan.target !== "ssh") return assert.equal(files.length, 0);
      const failures: string[] = [];
      await pool(files, 3, async (f) => {
        const kind = validateKind(f.validate!);
        if (kind === "keepalived -t") {
          // keepalived -t exits 0 when the file is missing: make sure the file is there first.
          assert.ok(readFileSync(treePath(e, f), "utf8").includes("vrrp_instance"), `${f.host}:${f.path} exists and holds a vrrp_instance`);
        }
        const r = await hostsOf(e).shAsync(f.host, validateScript(f.validate!), { args: [treePath(e, f)], timeoutMs: 90_000 });
        if (r.rc === 0) cover(name, f.host, f.path, kind);
        else failures.push(`${f.host}:${f.path} [${kind}] rc ${r.rc}\n${short(r)}`);
      });
      assert.deepEqual(failures, []);
    });

    it("systemd units and drop-ins: systemd-analyze verify loads them without a complaint", async () => {
      const e = ex();
      const units = filesOf(e, (f) => /^\/etc\/systemd\/system\/[^/]+\.service(\.d\/[^/]+\.conf)?$/.test(f.path));
      const failures: string[] = [];
      // One host at a time (stand-ins are per host), its units side by side.
      for (const host of new Set(units.map((f) => f.host)))
        await pool(
          units.filter((f) => f.host === host),
          3,
          async (f) => {
            const unit = f.path.split("/")[4]!.replace(/\.d$/, "");
            const dropIn = f.path.endsWith(".conf");
            // A drop-in of a unit this machine lacks (httpd, dr-provision...) loads over a stand-in.
            const script = [
              `if [ ! -e /etc/systemd/system/${unit} ] && [ ! -e /lib/systemd/system/${unit} ]; then`,
              `  mkdir -p /run/systemd/system && printf '[Service]\\nExecStart=/bin/true\\n' > /run/systemd/system/${unit}; fi`,
              `SYSTEMD_LOG_LEVEL=debug systemd-analyze verify --man=no ${unit} 2>&1 | grep -F 'Path: ${f.path}' >/dev/null || { echo "${f.path} was not loaded"; exit 3; }`,
              `systemd-analyze verify --man=no ${unit}`,
            ].join("\n");
            const r = await hostsOf(e).shAsync(f.host, script, { timeoutMs: 30_000 });
            const missingBinary = (l: string) => NOT_IN_DEBIAN.some((re) => re.test(/Command (\S+) is not executable/.exec(l)?.[1] ?? ""));
            const complaints = r.out.split("\n").filter((l) => l.trim() && !missingBinary(l));
            if (r.rc === 0 && complaints.length === 0)
              cover(name, f.host, f.path, dropIn ? "systemd-analyze (drop-in)" : "systemd-analyze");
            else if (complaints.length === 0 && r.rc !== 0) {
              // Only "not executable" for a daemon Debian does not ship: the unit itself parsed.
              cover(name, f.host, f.path, "systemd-analyze (binary not in Debian)");
              notes.push(`${name} ${f.host}:${f.path}: systemd-analyze parsed it; its binary is not in Debian`);
            } else failures.push(`${f.host}:${f.path} rc ${r.rc}\n${r.out}`);
          },
        );
      assert.deepEqual(failures, []);
    });

    it("supervisor programs: supervisord's own loader reads every rendered program with its command, user and environment", () => {
      const e = ex();
      const progs = filesOf(e, (f) => f.path.startsWith("/etc/supervisor/conf.d/"));
      for (const f of progs) {
        const name = f.path
          .split("/")
          .pop()!
          .replace(/\.conf$/, "");
        const p = e.programs.get(f.host)?.find((x) => x.name === name);
        assert.ok(p, `${f.host}: program ${name} loaded from ${f.path}`);
        const exe = hostsOf(e).sh(f.host, 'test -x "$1"', { args: [p.argv[0]!] });
        assert.equal(exe.rc, 0, `${f.host}: ${p.argv[0]} (program ${name}) is an executable on the host`);
        cover(e.name, f.host, f.path, "supervisord loader");
      }
    });

    it("sysctl.d files: the kernel takes them in the host's namespace (the rendered action, then read back)", () => {
      const e = ex();
      for (const f of filesOf(e, (x) => x.path.startsWith("/etc/sysctl.d/"))) {
        const action = e.manifest.actions.find((a) => a.host === f.host && a.create.includes(f.path));
        const r = hostsOf(e).sh(f.host, action?.create ?? `sysctl -p ${f.path}`);
        assert.equal(r.rc, 0, `${f.host}: ${short(r)}`);
        for (const line of readFileSync(treePath(e, f), "utf8")
          .split("\n")
          .filter((l) => /^\s*[\w.]+\s*=/.test(l))) {
          const [key, value] = line.split("=").map((s) => s.trim());
          const got = hostsOf(e).sh(f.host, `sysctl -n ${key}`);
          assert.equal(got.out.trim(), value, `${f.host}: ${key}`);
        }
        cover(e.name, f.host, f.path, "sysctl (kernel)");
      }
    });

    it("etcd: every member boots from its rendered etcd.yml and passes the rendered health command", async () => {
      const e = ex();
      const members = filesOf(e, (f) => f.path === "/etc/haforge/etcd/etcd.yml");
      if (members.length === 0) return;
      const healthy = async (host: string) =>
        (await hostsOf(e).shAsync(host, serviceOf(e, host, "etcd")!.health!, { timeoutMs: 15_000 })).rc === 0;
      const t0 = Date.now();
      let ok = false;
      while (!ok && Date.now() - t0 < 90_000) {
        ok = (await Promise.all(members.map((m) => healthy(m.host)))).every(Boolean);
        if (!ok) await sleep(1000);
      }
      const exited = members.filter((m) => e.daemons.get(`${m.host}/etcd`)?.exited);
      assert.ok(
        ok,
        `etcd not healthy on every member within 90 s (exited: ${exited.map((m) => m.host).join(", ") || "none"}); logs: ${members.map((m) => e.daemons.get(`${m.host}/etcd`)?.log).join(" ")}`,
      );
      const list = hostsOf(e).sh(members[0]!.host, "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 member list -w json");
      assert.equal(list.rc, 0, list.out);
      const names = (JSON.parse(list.out) as { members: { name: string }[] }).members.map((m) => m.name).sort();
      assert.deepEqual(names, members.map((m) => m.host).sort());
      for (const m of members) cover(e.name, m.host, m.path, "etcd boot + health");
      // The seed a first start reads (etcd-start.sh: the store's member list, initial-cluster-state):
      // every member above started from an empty data dir through the rendered command.
      for (const m of filesOf(e, (f) => f.path === "/etc/haforge/etcd/initial-cluster.yml"))
        cover(e.name, m.host, m.path, "etcd first start through etcd-start.sh + health");
      notes.push(`${e.name}: etcd ${members.length} members healthy after ~${Math.round((Date.now() - t0) / 1000)} s of waiting`);
    });

    it("syncthing: boots from the rendered home (its own device ID is the rendered one, config.xml not rewritten) and passes the rendered health command", async () => {
      const e = ex();
      const homes = filesOf(e, (f) => f.path === "/var/lib/syncthing/config.xml");
      for (const f of homes) {
        const h = hostsOf(e);
        const health = serviceOf(e, f.host, "syncthing")!.health!;
        const t0 = Date.now();
        let r: Run = { rc: -1, out: "" };
        while (Date.now() - t0 < 60_000) {
          r = await h.shAsync(f.host, health, { timeoutMs: 10_000 });
          if (r.rc === 0) break;
          await sleep(500);
        }
        assert.equal(r.rc, 0, `${f.host}: syncthing health: ${short(r)} (log ${e.daemons.get(`${f.host}/syncthing`)?.log})`);
        const xml = readFileSync(treePath(e, f), "utf8");
        const apikey = /<apikey>([^<]+)<\/apikey>/.exec(xml)![1]!;
        const mine = new RegExp(`<device id="([A-Z0-9-]+)" name="${f.host}"`).exec(xml)![1]!;
        const status = h.sh(f.host, `curl -fsS --max-time 5 -H "X-API-Key: $1" http://127.0.0.1:8384/rest/system/status`, {
          args: [apikey],
        });
        assert.equal(status.rc, 0, status.out);
        assert.equal(
          (JSON.parse(status.out) as { myID: string }).myID,
          mine,
          `${f.host}: syncthing's own ID is the rendered device ID (cert.pem/key.pem)`,
        );
        assert.ok(!existsSync(join(h.upperOf(f.host, "/var"), "lib/syncthing/config.xml")), `${f.host}: syncthing rewrote config.xml`);
        for (const p of ["/var/lib/syncthing/config.xml", "/var/lib/syncthing/cert.pem", "/var/lib/syncthing/key.pem"])
          cover(e.name, f.host, p, "syncthing boot + health");
      }
    });

    it("rabbitmq: a node boots from the rendered unit/program and files, reports the configured vhost and user, accepts the user's password", async () => {
      const e = ex();
      const rmq = e.plan.rabbitmq;
      if (!rmq || e.plan.target !== "ssh") return;
      const h = hostsOf(e);
      const host = rmq.nodes[0]!.host;
      const node = e.daemons.get(`${host}/rabbitmq-server`)!;
      const health = serviceOf(e, host, "rabbitmq-server")!.health!;
      const t0 = Date.now();
      let r: Run = { rc: -1, out: "" };
      while (Date.now() - t0 < BOOT_TIMEOUT_MS && !node.exited) {
        r = await h.shAsync(host, health, { timeoutMs: 20_000 });
        if (r.rc === 0) break;
        await sleep(1000);
      }
      const log = () => readFileSync(node.log, "utf8").slice(-3000);
      assert.ok(!node.exited, `node exited during boot:\n${log()}`);
      assert.equal(r.rc, 0, `rendered health not passing after ${BOOT_TIMEOUT_MS / 1000} s: ${short(r)}\n${log()}`);
      notes.push(`${e.name}: RabbitMQ ${rmq.nodes[0]!.nodeName} healthy ${Math.round((Date.now() - t0) / 1000)} s after the checks began`);
      // The rendered converge action (definitions import) runs verbatim on the node's host.
      const imp = e.manifest.actions.find((a) => a.host === host && a.id === "rabbitmq-definitions");
      if (imp) assert.equal(h.sh(host, imp.create).rc, 0, "definitions import action");
      const status = h.sh(host, "rabbitmqctl -q cluster_status --formatter json");
      assert.equal(status.rc, 0, status.out);
      assert.ok(
        (JSON.parse(status.out) as { running_nodes: string[] }).running_nodes.includes(rmq.nodes[0]!.nodeName),
        `running as ${rmq.nodes[0]!.nodeName}`,
      );
      const vhosts = h.sh(host, "rabbitmqctl -q list_vhosts name");
      assert.deepEqual(vhosts.out.trim().split("\n").slice(1), [rmq.vhost], vhosts.out);
      const users = h.sh(host, "rabbitmqctl -q list_users --formatter json");
      assert.deepEqual(
        (JSON.parse(users.out) as { user: string }[]).map((u) => u.user),
        [rmq.username],
        users.out,
      );
      const password = resolveSecret(rmq.password, e.secretValues);
      assert.equal(
        h.sh(host, 'rabbitmqctl -q authenticate_user "$1" "$2"', { args: [rmq.username, password] }).rc,
        0,
        "the user's password is accepted",
      );
      assert.notEqual(
        h.sh(host, 'rabbitmqctl -q authenticate_user "$1" "$2"', { args: [rmq.username, `${password}-wrong`] }).rc,
        0,
        "a wrong password is refused",
      );
      const booted = [
        "/etc/rabbitmq/rabbitmq.conf",
        "/etc/rabbitmq/rabbitmq-env.conf",
        "/etc/rabbitmq/enabled_plugins",
        "/etc/rabbitmq/definitions.json",
        "/var/lib/rabbitmq/.erlang.cookie",
      ];
      for (const p of booted) cover(e.name, host, p, "rabbitmq boot");
      // The other nodes' cluster-wide files are byte-identical to the booted node's, so the boot
      // judged them too (rabbitmq.conf/env differ per node and each passed its offline check).
      for (const p of ["/etc/rabbitmq/enabled_plugins", "/etc/rabbitmq/definitions.json", "/var/lib/rabbitmq/.erlang.cookie"]) {
        const mine = readFileSync(join(e.tree, host, p));
        for (const f of filesOf(e, (x) => x.path === p && x.host !== host)) {
          assert.ok(readFileSync(treePath(e, f)).equals(mine), `${f.host}:${p} equals ${host}'s`);
          cover(e.name, f.host, p, "rabbitmq boot (identical to the booted node's)");
        }
      }
    });

    it("kubernetes objects: config carried in ConfigMaps and Secrets passes the offline checks", () => {
      const e = ex();
      if (e.plan.target !== "kubernetes") return;
      const k8s = join(e.tree, "k8s");
      const objs = spawnSync("ls", [k8s], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
      assert.ok(objs.length > 0, "k8s objects rendered");
      const dir = join(work, name, "k8s-files");
      mkdirSync(dir, { recursive: true });
      const data = new Map<string, string>();
      for (const file of objs) {
        const o = yaml.load(readFileSync(join(k8s, file), "utf8")) as {
          kind: string;
          data?: Record<string, string>;
          stringData?: Record<string, string>;
        };
        if (o.kind !== "ConfigMap" && o.kind !== "Secret") continue;
        for (const [k, v] of Object.entries(o.stringData ?? {})) data.set(`${file}#${k}`, v);
        for (const [k, v] of Object.entries(o.data ?? {}))
          data.set(`${file}#${k}`, o.kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v);
      }
      const defs = [...data].find(([k]) => k.endsWith("#definitions.json"));
      let checked = 0;
      for (const [key, value] of data) {
        const base = key.split("#")[1]!;
        const p = join(dir, key.replace(/[^A-Za-z0-9_.-]/g, "_"));
        let content = value;
        // load_definitions names the path the pod mounts the Secret at: point it at our copy.
        if (base === "rabbitmq.conf" && defs) {
          const dp = join(dir, "definitions.json");
          writeFileSync(dp, defs[1]);
          content = value.replace(/^load_definitions = .*$/m, `load_definitions = ${dp}`);
        }
        writeFileSync(p, content);
        let check: string | undefined;
        let kind = "";
        if (base === "rabbitmq.conf") [check, kind] = [RABBITMQ_CONF_VALIDATE, "rabbitmq cuttlefish"];
        else if (base.endsWith(".py"))
          [check, kind] = [`python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' {file}`, "python parser"];
        else if (base.endsWith(".json")) [check, kind] = ["python3 -m json.tool {file} >/dev/null", "json.tool"];
        else if (base === "enabled_plugins")
          [check, kind] = [
            `erl -noshell -noinput -eval '{ok, [L]} = file:consult(hd(init:get_plain_arguments())), true = is_list(L), halt(0).' -extra {file}`,
            "erlang terms",
          ];
        if (!check) continue;
        const r = spawnSync("sh", ["-c", validateScript(check), "sh", p], {
          encoding: "utf8",
          timeout: 60_000,
          env: ExampleHosts.baseEnv(),
        });
        assert.equal(r.status, 0, `${key} [${kind}]: ${r.stdout}${r.stderr}`);
        cover(e.name, "k8s", key, kind);
        checked++;
      }
      assert.ok(checked > 0, "some config found in the objects");
      notes.push(
        `${e.name}: ${checked} config values of ConfigMaps/Secrets checked offline; the objects themselves have no daemon here (no API server in Debian)`,
      );
    });

    it("scripts without a validate command parse (sh -n)", () => {
      const e = ex();
      for (const f of filesOf(
        e,
        (x) => !x.validate && (x.path.endsWith(".sh") || readFileSync(treePath(e, x)).subarray(0, 9).toString() === "#!/bin/sh"),
      )) {
        const r = hostsOf(e).sh(f.host, 'sh -n "$1"', { args: [treePath(e, f)] });
        assert.equal(r.rc, 0, `${f.host}:${f.path}: ${short(r)}`);
        cover(e.name, f.host, f.path, "sh -n");
      }
    });

    it("OpenStack drop-ins (<project>.conf.d/*.conf) parse as INI (Python's configparser, strict; oslo.config is not installed)", () => {
      const e = ex();
      for (const f of filesOf(e, (x) => !x.validate && /^\/etc\/[^/]+\/[^/]+\.conf\.d\/[^/]+\.conf$/.test(x.path))) {
        const r = hostsOf(e).sh(f.host, INI_CHECK, { args: [treePath(e, f)] });
        assert.equal(r.rc, 0, `${f.host}:${f.path}: ${short(r)}`);
        cover(e.name, f.host, f.path, "configparser");
      }
    });

    it("JSON files without a validate command parse (Python's json)", () => {
      const e = ex();
      for (const f of filesOf(e, (x) => x.path.endsWith(".json") && !x.validate)) {
        const r = hostsOf(e).sh(f.host, JSON_CHECK, { args: [treePath(e, f)] });
        assert.equal(r.rc, 0, `${f.host}:${f.path}: ${short(r)}`);
        cover(e.name, f.host, f.path, "json parse");
      }
    });

    it("every rendered file was judged by a daemon or tool, or is listed as having none here (and why)", () => {
      const e = ex();
      const got = covered.get(e.name) ?? new Map<string, Set<string>>();
      const unjudged: string[] = [];
      const noDaemon = new Map<string, string>();
      for (const f of e.manifest.files) {
        const key = `${f.host}:${f.path}`;
        const reason = NO_DAEMON.find(([re]) => re.test(f.path))?.[1];
        if (reason) noDaemon.set(f.path.replace(/\/[^/]+$/, "/…"), reason);
        if (!got.has(key) && !reason) unjudged.push(key);
        // A file listed as having no daemon still passed its validate when it has one.
        if (f.validate) assert.ok(got.has(key), `${key}: its validate passed`);
      }
      assert.deepEqual(unjudged, [], "files no check judged");
      for (const [p, why] of noDaemon) notes.push(`${e.name}: no daemon check for ${p}: ${why}`);
    });
  });
}

// --- negative controls: each kind of check can fail --------------------------------------------

describe("negative controls: a corrupted copy fails the same check", { timeout: 300_000 }, () => {
  /** First example/file matching `pred`, its host environment and a corrupted copy's path. */
  function pick(pred: (f: ManifestFile) => boolean): { ex: Example; f: ManifestFile; h: ExampleHosts } {
    for (const ex of examples) {
      if (!ex.hosts) continue;
      const f = ex.manifest.files.find(pred);
      if (f) return { ex, f, h: ex.hosts };
    }
    assert.fail("no example renders such a file");
  }
  function corrupt(ex: Example, f: ManifestFile, edit: (s: string) => string): string {
    const p = join(work, "corrupt", ex.tag, f.host, f.path);
    mkdirSync(dirname(p), { recursive: true });
    const original = readFileSync(treePath(ex, f), "utf8");
    const changed = edit(original);
    assert.notEqual(changed, original, `the corruption changed ${f.host}:${f.path}`);
    writeFileSync(p, changed);
    return p;
  }
  const runValidate = (h: ExampleHosts, host: string, v: string, file: string): Run =>
    h.sh(host, validateScript(v), { args: [file], timeoutMs: 60_000 });

  const cases: [string, (f: ManifestFile) => boolean, (s: string) => string][] = [
    [
      "keepalived -t: an unknown VRRP state",
      (f) => f.path.endsWith("keepalived.conf"),
      (s) => s.replace(/state (MASTER|BACKUP)/, "state SOMETIMES"),
    ],
    ["haproxy -c: an unknown keyword", (f) => f.path.endsWith("haproxy.cfg"), (s) => s + "\nbackend broken\n    frobnicate yes\n"],
    [
      "corosync -t: an unbalanced brace",
      (f) => f.path.endsWith("corosync.conf") && !!f.validate,
      (s) => s.replace("totem {", "totem {\n  {"),
    ],
    [
      "crm_verify: a colocation naming an unknown resource",
      (f) => f.path.endsWith("cib.xml"),
      (s) =>
        s
          .replace(
            /<constraints\/>|<\/constraints>/,
            '<constraints><rsc_colocation id="ghost-col" rsc="ghost" with-rsc="also-ghost" score="INFINITY"/></constraints>',
          )
          .replace("</constraints></constraints>", "</constraints>"),
    ],
    [
      "patroni --validate-config: a non-numeric ttl",
      (f) => f.path === "/etc/patroni/config.yml",
      (s) => s.replace(/^(\s*)ttl: \d+/m, "$1ttl: soon"),
    ],
    [
      "rabbitmq cuttlefish: a key 3.10 does not know",
      (f) => f.path === "/etc/rabbitmq/rabbitmq.conf",
      (s) => s + "default_queue_type = quorum\n",
    ],
    ["sh -n: an unterminated if", (f) => f.path.endsWith("rabbitmq-env.conf"), (s) => s + "if true; then\n"],
    ["python parser: a syntax error", (f) => f.path.endsWith(".py"), (s) => s + "\ndef (:\n"],
    ["ssh -G: an unknown option", (f) => !!f.validate?.startsWith("ssh -G"), (s) => s + "\nFrobnicate yes\n"],
  ];
  for (const [what, pred, edit] of cases) {
    it(what, () => {
      const { ex, f, h } = pick((x) => pred(x) && !!x.validate);
      const good = runValidate(h, f.host, f.validate!, treePath(ex, f));
      assert.equal(good.rc, 0, `the original passes: ${short(good)}`);
      const bad = runValidate(h, f.host, f.validate!, corrupt(ex, f, edit));
      assert.notEqual(bad.rc, 0, `${ex.name} ${f.host}:${f.path}: the corrupted copy must fail\n${short(bad)}`);
    });
  }

  it("json.tool: a trailing comma", () => {
    const { ex, f, h } = pick((x) => x.path.endsWith(".json"));
    assert.equal(h.sh(f.host, JSON_CHECK, { args: [treePath(ex, f)] }).rc, 0, "the original parses");
    assert.notEqual(h.sh(f.host, JSON_CHECK, { args: [corrupt(ex, f, (s) => s.replace(/}\s*$/, ",}"))] }).rc, 0);
  });

  it("configparser: an option outside any section, and a duplicate option", () => {
    const { ex, f, h } = pick((x) => !x.validate && /^\/etc\/[^/]+\/[^/]+\.conf\.d\/[^/]+\.conf$/.test(x.path));
    assert.equal(h.sh(f.host, INI_CHECK, { args: [treePath(ex, f)] }).rc, 0, "the original parses");
    assert.notEqual(h.sh(f.host, INI_CHECK, { args: [corrupt(ex, f, (s) => "orphan = 1\n" + s)] }).rc, 0);
    const dup = corrupt(ex, f, (s) => s.replace(/^(\w+) = (.*)$/m, "$1 = $2\n$1 = $2"));
    assert.notEqual(h.sh(f.host, INI_CHECK, { args: [dup] }).rc, 0);
  });

  it("key size: a truncated corosync authkey", () => {
    const { ex, f, h } = pick((x) => x.path === "/etc/corosync/authkey");
    const p = join(work, "corrupt", "authkey");
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, readFileSync(treePath(ex, f)).subarray(0, 128));
    assert.notEqual(runValidate(h, f.host, f.validate!, p).rc, 0);
  });

  it("keepalived: a missing file fails the validate (keepalived -t alone would exit 0)", () => {
    const { f, h } = pick((x) => x.path.endsWith("keepalived.conf"));
    const alone = h.sh(f.host, "keepalived -t -f /nonexistent/keepalived.conf");
    const r = runValidate(h, f.host, f.validate!, "/nonexistent/keepalived.conf");
    notes.push(`keepalived -t on a missing file: rc ${alone.rc}; the rendered validate: rc ${r.rc}`);
    assert.notEqual(r.rc, 0);
  });

  it("corosync -t: the same file fails on a host that does not own the ring address", () => {
    const { ex, f } = pick((x) => x.path.endsWith("corosync.conf") && !!x.validate);
    // A host of the same example outside that cluster, or of another example.
    const other = examples
      .flatMap((e) => (e.hosts ? e.hosts.hosts.map((x) => ({ e, host: x.name })) : []))
      .find(({ e, host }) => !(e === ex && ex.manifest.files.some((g) => g.host === host && g.path === f.path)))!;
    const r = runValidate(other.e.hosts!, other.host, f.validate!, treePath(ex, f));
    assert.notEqual(r.rc, 0, `${other.e.name} ${other.host} owns no ring address of ${ex.name} ${f.host}: ${short(r)}`);
  });

  it("corosync -t: the same file fails when its authkey is not in place (crypto on)", () => {
    const { ex, f, h } = pick((x) => x.path.endsWith("corosync.conf") && !!x.validate);
    const bad = corrupt(ex, f, (s) => s.replace("keyfile: /etc/corosync/authkey", "keyfile: /etc/corosync/no-such-authkey"));
    const r = runValidate(h, f.host, f.validate!, bad);
    assert.notEqual(r.rc, 0, short(r));
  });

  it("systemd-analyze: a bad directive in a drop-in is a complaint", () => {
    const { ex, f, h } = pick((x) => /\.service$/.test(x.path) && x.path.startsWith("/etc/systemd/system/"));
    const unit = f.path.split("/").pop()!;
    const r = h.sh(
      f.host,
      `mkdir -p /run/systemd/system/${unit}.d && printf '[Service]\\nRestart=sometimes\\nFrobnicate=1\\n' > /run/systemd/system/${unit}.d/broken.conf && systemd-analyze verify --man=no ${unit}; rc=$?; rm -r /run/systemd/system/${unit}.d; exit $rc`,
    );
    assert.match(r.out, /Failed to parse|Unknown key/, `${ex.name} ${f.host}: ${r.out}`);
  });

  it("supervisord's loader: a program without a command is refused", () => {
    const { f, h } = pick((x) => x.path.startsWith("/etc/supervisor/conf.d/"));
    const r = h.sh(
      f.host,
      `printf '[program:broken]\\nuser=root\\n' > /etc/supervisor/conf.d/zz-broken.conf && python3 -c "$1" /etc/supervisor/supervisord.conf; rc=$?; rm /etc/supervisor/conf.d/zz-broken.conf; exit $rc`,
      { args: [SUPERVISOR_LOADER] },
    );
    assert.notEqual(r.rc, 0, r.out);
    assert.match(r.out, /command/);
  });

  it("sysctl: an unknown key is refused by the kernel", () => {
    const { f, h } = pick((x) => x.path.startsWith("/etc/sysctl.d/"));
    const r = h.sh(
      f.host,
      "printf 'net.ipv4.haforge_nonexistent = 1\\n' > /tmp/hf-ex-bad-sysctl.conf; sysctl -p /tmp/hf-ex-bad-sysctl.conf; rc=$?; rm -f /tmp/hf-ex-bad-sysctl.conf; exit $rc",
    );
    assert.notEqual(r.rc, 0, r.out);
  });

  it("etcd: a corrupted etcd.yml stops etcd at start", async () => {
    const { ex, f, h } = pick((x) => x.path === "/etc/haforge/etcd/etcd.yml");
    // the file a first start runs (etcd-start.sh: etcd.yml + the seed), with the seed's state corrupted
    const seed = readFileSync(treePath(ex, { ...f, path: "/etc/haforge/etcd/initial-cluster.yml" }), "utf8");
    const bad = corrupt(ex, f, (s) =>
      (s + seed)
        .replace(/initial-cluster-state: "new"/, 'initial-cluster-state: "sometimes"')
        .replace(/data-dir: .*/, `data-dir: "/tmp/hf-ex-etcd-broken-${process.pid}"`),
    );
    const p = h.start(f.host, "etcd-broken", ["etcd", "--config-file", bad], {});
    const exited = await h.exitsWithin(p, 20_000);
    await h.stop(p);
    rmSync(`/tmp/hf-ex-etcd-broken-${process.pid}`, { recursive: true, force: true });
    assert.ok(exited && p.code !== 0, `etcd must refuse the corrupted file (exited ${exited}, code ${p.code}); log ${p.log}`);
  });

  it("syncthing: a truncated config.xml stops syncthing at start", async () => {
    const { ex, f, h } = pick((x) => x.path === "/var/lib/syncthing/config.xml");
    const home = join(work, "corrupt", "syncthing-home");
    mkdirSync(home, { recursive: true });
    for (const n of ["cert.pem", "key.pem"]) copyFileSync(join(ex.tree, f.host, "var/lib/syncthing", n), join(home, n));
    const xml = readFileSync(treePath(ex, f), "utf8");
    // Another GUI port and listen address: the good instance on this host keeps its own.
    writeFileSync(join(home, "config.xml"), xml.replace("127.0.0.1:8384", "127.0.0.1:8385").slice(0, Math.floor(xml.length / 2)));
    const p = h.start(
      f.host,
      "syncthing-broken",
      ["syncthing", "serve", `--home=${home}`, "--no-browser", "--no-restart", "--no-upgrade"],
      { env: { HOME: home, STNODEFAULTFOLDER: "1" } },
    );
    const exited = await h.exitsWithin(p, 20_000);
    await h.stop(p);
    assert.ok(exited && p.code !== 0, `syncthing must refuse the truncated config (exited ${exited}, code ${p.code}); log ${p.log}`);
  });

  it("rabbitmq: a node whose rabbitmq.conf has a key 3.10 does not know refuses to boot", async () => {
    assert.ok(negativeBoot, "an example with two RabbitMQ nodes");
    const { proc, ex, host } = negativeBoot;
    const exited = await hostsOf(ex).exitsWithin(proc, 60_000);
    const log = readFileSync(proc.log, "utf8");
    assert.ok(exited, `${ex.name} ${host}: the node did not stop by itself\n${log.slice(-2000)}`);
    assert.match(log, /unknown variable: default_queue_type/);
  });
});
