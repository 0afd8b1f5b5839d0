/**
 * The whole Pulumi program under the SDK's mocks, for every example stack: the resource graph as
 * the SDK really registered it (types, parents, dependsOn chains, secrets, outputs).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, before } from "node:test";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { renderByService } from "../../src/pipeline/render";
import { STOPS_BEFORE_LEAVING, slug } from "../../components/service-resources";
import { deployOrder } from "../../src/services/registry";
import type { RecordedResource } from "./run-stack";
import { parseRun } from "./mock-engine";
import { gateMembers, isRemovalGate, removalOrders } from "./delete-order";
import fc from "fast-check";
import yaml from "js-yaml";
import { readFileSync } from "node:fs";

const ROOT = join(__dirname, "..", "..");
const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const stacks = readdirSync(join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s);

interface Run {
  stack: string;
  resources: RecordedResource[];
  outputs: Record<string, { value: unknown; secret: boolean }>;
  secretValues: string[];
}

function runStack(stack: string, env: NodeJS.ProcessEnv = {}): { code: number; run?: Run; err: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "run-stack.ts"), stack], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  });
  return { code: r.status ?? -1, err: r.stderr, ...(r.status === 0 ? { run: parseRun<Run>(r.stdout) } : {}) };
}

const isSecretWrapper = (v: unknown): v is { value: unknown } =>
  !!v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_KEY] !== undefined;
const unwrap = (v: unknown): any => (isSecretWrapper(v) ? unwrap(v.value) : v);

/** Every string in `v` that is not inside a secret wrapper, with its path. */
function plainStrings(v: unknown, path = ""): [string, string][] {
  if (isSecretWrapper(v)) return [];
  if (typeof v === "string") return [[path, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => plainStrings(x, `${path}[${i}]`));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => plainStrings(x, `${path}.${k}`));
  return [];
}

for (const stack of stacks) {
  // A `target: kubernetes` stack has no hosts, files or remote commands: the SSH assertions below
  // do not apply. tests/program/k8s.test.ts checks those stacks (objects, secrets, outputs).
  const stackInventory = (
    yaml.load(readFileSync(join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, string> }
  ).config?.["haforge:inventory"];
  if (stackInventory && analyzeInventoryFile(join(ROOT, stackInventory)).inventory?.target === "kubernetes") continue;
  describe(`stack ${stack} under the SDK mocks`, () => {
    let run: Run;
    const stackCfg = yaml.load(readFileSync(join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, string> };
    const analysis = analyzeInventoryFile(join(ROOT, stackCfg.config["haforge:inventory"]!));
    before(() => {
      const r = runStack(stack);
      assert.equal(r.code, 0, r.err.slice(-3000));
      run = r.run!;
    });

    const files = () =>
      run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource" && unwrap(unwrap(r.raw).spec)?.path !== undefined);
    const commands = () => run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic:HostAction");

    it("has a RemoteFile for every rendered file of every host, on that host", () => {
      assert.ok(analysis.plan, "example inventory plans");
      const structure = renderByService(analysis.plan, {}, {});
      const expected = structure.flatMap((p) => p.files.map((f) => `${f.host} ${f.path}`)).sort();
      const actual = files()
        .map((r) => `${unwrap(unwrap(r.raw).connection).host} ${unwrap(unwrap(r.raw).spec)?.path}`)
        .sort();
      assert.ok(expected.length > 0);
      assert.deepEqual(actual, expected);
      for (const f of files()) assert.ok(f.hasSerializedProvider, `${f.name}: the dynamic provider was serialized`);
    });

    it("pins a host key on every remote connection", () => {
      for (const c of commands()) {
        const conn = unwrap(unwrap(c.raw).connection);
        assert.match(String(conn.hostKey ?? ""), /^(ssh-ed25519|ecdsa-sha2-\S+|ssh-rsa) AAAA/, `${c.name} has no host key`);
      }
      for (const f of files()) {
        const conn = unwrap(unwrap(f.raw).connection);
        assert.ok(conn.hostKey || conn.knownHostsFile, `${f.name} has neither a pinned key nor a known_hosts file`);
        assert.notEqual(conn.trustOnFirstUse, true, `${f.name} trusts on first use in an example stack`);
      }
    });

    it("declares every host action without operator-specific input, with a host-side timeout", () => {
      assert.ok(commands().length > 0, "the stack has host actions");
      for (const c of commands()) {
        const raw = unwrap(c.raw);
        assert.ok(c.hasSerializedProvider, `${c.name}: the HostAction provider was serialized`);
        for (let conn = unwrap(raw.connection); conn; conn = conn.bastion && unwrap(conn.bastion)) {
          for (const k of ["privateKey", "password", "passphrase", "knownHostsFile", "trustOnFirstUse"])
            assert.equal(conn[k], undefined, `${c.name}: connection.${k}`);
          if (conn.privateKeyPath !== undefined)
            assert.ok(!require("node:path").isAbsolute(conn.privateKeyPath), `${c.name}: key path ${conn.privateKeyPath} is expanded`);
        }
        assert.ok(!(raw.delete && unwrap(raw.triggers ?? []).length), `${c.name} has both delete and triggers`);
        const spec = unwrap(raw.spec);
        assert.ok(Number.isInteger(spec.timeoutSeconds) && spec.timeoutSeconds > 0, `${c.name} has no timeout`);
        if (c.name.includes("-restart-")) assert.equal(spec.rerun, "triggers", `${c.name}: a restart re-runs only on its triggers`);
      }
    });

    it("orders the membership actions (those with a delete) in one chain, so destroy removes members one at a time", () => {
      const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
      const reaches = (from: RecordedResource, urn: string): boolean => {
        const seen = new Set<string>();
        const todo = [...from.dependencies];
        while (todo.length) {
          const u = todo.pop()!;
          if (u === urn) return true;
          if (!seen.has(u)) {
            seen.add(u);
            todo.push(...(byUrn.get(u)?.dependencies ?? []));
          }
        }
        return false;
      };
      const members = commands().filter((c) => unwrap(c.raw).delete);
      for (let i = 0; i < members.length; i++) {
        for (let j = i + 1; j < members.length; j++) {
          const a = members[i]!;
          const b = members[j]!;
          assert.ok(reaches(a, b.urn) !== reaches(b, a.urn), `${a.name} and ${b.name} are not ordered: destroy would remove both at once`);
        }
        assert.ok(Number.isInteger(unwrap(unwrap(members[i]!.raw).spec).deleteTimeoutSeconds), `${members[i]!.name} has no delete timeout`);
      }
    });

    it("chains restarts of every rolling group in the planned order, each after the previous host", () => {
      const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
      const dependsTransitively = (from: RecordedResource, urn: string): boolean => {
        const seen = new Set<string>();
        const stack = [...from.dependencies];
        while (stack.length) {
          const u = stack.pop()!;
          if (u === urn) return true;
          if (seen.has(u)) continue;
          seen.add(u);
          stack.push(...(byUrn.get(u)?.dependencies ?? []));
        }
        return false;
      };
      let chains = 0;
      for (const g of analysis.plan!.rollingGroups) {
        const restarts = g.hosts
          .map((h) =>
            commands().find(
              (c) => c.name.endsWith(`-${h}`) && c.name.includes("-restart-") && c.name.includes(`-restart-${serviceOf(g.id, g.service)}`),
            ),
          )
          .filter((c): c is RecordedResource => !!c);
        if (restarts.length < 2) continue;
        chains++;
        for (let i = 1; i < restarts.length; i++) {
          assert.ok(
            dependsTransitively(restarts[i]!, restarts[i - 1]!.urn),
            `${restarts[i]!.name} does not wait for ${restarts[i - 1]!.name}`,
          );
          assert.ok(!dependsTransitively(restarts[i - 1]!, restarts[i]!.urn), "no cycle");
        }
        // The health gate sits between hosts.
        // (A daemon Pacemaker places is only reloaded where it runs: Pacemaker, not haforge, gates it.)
        for (const r of restarts) {
          const create = String(unwrap(unwrap(r.raw).create));
          if (/Pacemaker places it/.test(create)) continue;
          assert.match(create, /until .+; do sleep 1; done/, `${r.name} has no health gate`);
        }
      }
      if (analysis.plan!.rollingGroups.some((g) => g.hosts.length > 1)) assert.ok(chains > 0, "at least one rolling chain");
    });

    it("runs a host's bootstrap actions after its files and before its restarts", () => {
      const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
      const reaches = (from: RecordedResource, urn: string): boolean => {
        const seen = new Set<string>();
        const todo = [...from.dependencies];
        while (todo.length) {
          const u = todo.pop()!;
          if (u === urn) return true;
          if (!seen.has(u)) {
            seen.add(u);
            todo.push(...(byUrn.get(u)?.dependencies ?? []));
          }
        }
        return false;
      };
      let checked = 0;
      for (const part of renderByService(analysis.plan!, {}, {})) {
        for (const a of part.actions.filter((x) => x.phase === "bootstrap")) {
          const cmd = commands().find((c) => c.name.endsWith(`-${slug(a.id)}`));
          assert.ok(cmd, `bootstrap action ${a.id} has a command`);
          const owner = cmd.parent;
          for (const f of files().filter((f) => f.parent === owner && unwrap(unwrap(f.raw).connection).host === a.host))
            assert.ok(reaches(cmd, f.urn), `${a.id} runs after ${f.name}`);
          for (const r of commands().filter((c) => c.parent === owner && c.name.includes("-restart-") && c.name.endsWith(`-${a.host}`))) {
            assert.ok(reaches(r, cmd.urn), `${r.name} waits for bootstrap ${a.id}`);
            checked++;
          }
        }
      }
      if (analysis.plan!.haproxy) assert.ok(checked > 0, "the HAProxy sysctl bootstrap is checked");
    });

    it("deprovisions every host of every service: a delete that stops its daemons, after its restarts, before the service's members leave (Pacemaker: after)", () => {
      let checked = 0;
      let stoppedFirst = 0;
      for (const part of renderByService(analysis.plan!, {}, {})) {
        const hosts = [...new Set(part.services.map((s) => s.host))];
        const members = part.actions.filter((a) => a.delete).map((a) => commands().find((c) => c.name.endsWith(`-${slug(a.id)}`))!);
        for (const host of hosts) {
          const first = part.services.find((x) => x.host === host)!;
          const restart = commands().find(
            (c) => c.name.endsWith(`-restart-${first.name}-${host}`) && !c.name.includes(`-restart-${first.name}-${host}-`),
          );
          assert.ok(restart, `${part.service}: restart of ${first.name} on ${host}`);
          const d = commands().find((c) => c.parent === restart.parent && c.name.endsWith(`-deprovision-${host}`));
          assert.ok(d, `${part.service}: ${host} has a deprovisioning action`);
          const raw = unwrap(d.raw);
          assert.equal(unwrap(raw.create), "", `${d.name}: nothing runs on create`);
          for (const s of part.services.filter((x) => x.host === host))
            assert.match(
              String(unwrap(raw.delete)),
              new RegExp(`(supervisorctl stop|systemctl disable --now) ${s.name}\\b`),
              `${d.name} stops ${s.name}`,
            );
          for (const r of commands().filter((c) => c.parent === d.parent && c.name.includes("-restart-") && c.name.endsWith(`-${host}`)))
            assert.ok(d.dependencies.includes(r.urn), `${d.name} follows ${r.name}`);
          // through the service's removal-order gate, which lists the deprovisioning (tests/program/delete-order.ts)
          const gate = run.resources.find((g) => isRemovalGate(g) && g.parent === d.parent);
          const waitsFor = (a: RecordedResource, b: RecordedResource) =>
            a.dependencies.includes(b.urn) ||
            (!!gate && a.dependencies.includes(gate.urn) && gate.dependencies.includes(b.urn) && gateMembers(gate).includes(d.name));
          if (STOPS_BEFORE_LEAVING.has(part.service)) {
            // the node stops first, then leaves (pcs cluster node remove): the deprovisioning waits for every member action
            for (const m of members) {
              assert.ok(waitsFor(d, m), `${d.name} waits for ${m.name}: its delete (the stop) runs first`);
              assert.ok(!waitsFor(m, d), `${m.name} must not wait for ${d.name}`);
            }
            stoppedFirst++;
          } else for (const m of members) assert.ok(waitsFor(m, d), `${m.name} waits for ${d.name}: its delete runs first`);
          checked++;
        }
      }
      assert.ok(checked > 0, "deprovisioning actions checked");
      if (analysis.plan!.pacemakerClusters.length)
        assert.ok(stoppedFirst > 0, "Pacemaker's nodes are deprovisioned (stopped before they leave)");
    });

    it("removing any of its resources deletes in the order direct member → deprovisioning links gave (property)", () => {
      const urns = run.resources.filter((r) => !isRemovalGate(r)).map((r) => r.urn);
      fc.assert(
        fc.property(fc.subarray(urns, { minLength: 1 }), (removed) => {
          const { gated, direct } = removalOrders(run.resources, removed);
          assert.deepEqual(gated, direct);
        }),
        { numRuns: 40 },
      );
      const { gated, direct } = removalOrders(run.resources, urns);
      assert.deepEqual(gated, direct, "destroy");
    });

    it("starts a service after the files it reads at a new member's first start, without following them (no restart on change)", () => {
      let checked = 0;
      for (const part of renderByService(analysis.plan!, {}, {})) {
        for (const f of part.files.filter((x) => x.neededAtStart?.length)) {
          const file = files().find((r) => unwrap(unwrap(r.raw).connection).host === f.host && unwrap(unwrap(r.raw).spec)?.path === f.path);
          assert.ok(file, `${f.host}:${f.path} has a RemoteFile`);
          for (const svc of f.neededAtStart!) {
            const r: RecordedResource | undefined = commands().find(
              (c) => c.parent === file.parent && c.name.endsWith(`-restart-${svc}-${f.host}`),
            );
            assert.ok(r, `restart of ${svc} on ${f.host}`);
            assert.ok(r.dependencies.includes(file.urn), `${r.name} waits for ${f.path}`);
            const following = part.files.filter((x) => x.host === f.host && x.notify.includes(svc)).length;
            assert.equal(
              (unwrap(unwrap(r.raw).triggers) as unknown[]).length,
              following,
              `${r.name} follows only the files that notify it`,
            );
            checked++;
          }
        }
      }
      if (analysis.plan!.rabbitmq) assert.ok(checked > 0, "RabbitMQ's classic_config seed list is checked");
    });

    it("writes a file after the files its host-side check reads (FileSpec.after), and names every file a RabbitMQ load_definitions reads", () => {
      let checked = 0;
      const fileOf = (host: string, path: string) =>
        files().find((r) => unwrap(unwrap(r.raw).connection).host === host && unwrap(unwrap(r.raw).spec)?.path === path);
      for (const part of renderByService(analysis.plan!, {}, {})) {
        for (const f of part.files) {
          const loads = /^load_definitions\s*=\s*(\S+)/m.exec(f.content)?.[1];
          if (loads) assert.ok(f.after?.includes(loads), `${f.host}:${f.path} reads ${loads} at its check: it must be written after it`);
          for (const p of f.after ?? []) {
            const file = fileOf(f.host, f.path);
            const first = fileOf(f.host, p);
            assert.ok(file && first, `${f.host}: ${f.path} and ${p} have RemoteFiles`);
            assert.ok(file.dependencies.includes(first.urn), `${f.host}:${f.path} waits for ${p}`);
            checked++;
          }
        }
      }
      if (analysis.plan!.rabbitmq) assert.ok(checked > 0, "rabbitmq.conf after the definitions file is checked");
    });

    it("waits in a service deployed after others (component `after`) for every resource of theirs, listing only their sinks", () => {
      const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
      const closure = new Map<string, Set<string>>();
      const waitsFor = (urn: string): Set<string> => {
        let all = closure.get(urn);
        if (all) return all;
        closure.set(urn, (all = new Set()));
        for (const d of byUrn.get(urn)?.dependencies ?? []) {
          all.add(d);
          for (const x of waitsFor(d)) all.add(x);
        }
        return all;
      };
      const componentOf = (type: string) => run.resources.find((r) => r.type === type);
      let checked = 0;
      let pairs = 0;
      for (const svc of deployOrder) {
        const later = svc.component?.after && componentOf(svc.component.type);
        if (!later) continue;
        const mine = run.resources.filter((r) => r.parent === later.urn);
        for (const name of svc.component.after) {
          const spec = deployOrder.find((s) => s.name === name)?.component;
          const earlierComponent = spec && componentOf(spec.type);
          if (!earlierComponent) continue;
          const earlier = run.resources.filter((r) => r.parent === earlierComponent.urn);
          const earlierUrns = new Set(earlier.map((r) => r.urn));
          pairs++;
          // The earlier service's sinks: what none of its own resources waits for.
          const inner = new Set(earlier.flatMap((r) => r.dependencies.filter((d) => earlierUrns.has(d))));
          const sinks = new Set(earlier.filter((r) => !inner.has(r.urn)).map((r) => r.urn));
          for (const r of mine) {
            const w = waitsFor(r.urn);
            for (const e of earlier) assert.ok(w.has(e.urn), `${r.name} does not wait for ${e.name} (${svc.name} after ${name})`);
            const listed = r.dependencies.filter((d) => earlierUrns.has(d) && !sinks.has(d));
            assert.deepEqual(listed, [], `${r.name} lists ${name} resources that another of them waits for`);
            checked++;
          }
        }
      }
      if (stack === "dev") assert.ok(pairs > 0 && checked > 0, "the dev stack's Tower waits for its broker and database");
    });

    it("never sends a secret value in plaintext", () => {
      assert.ok(run.secretValues.length > 0 || stack === "none");
      for (const r of run.resources) {
        for (const [path, s] of plainStrings(r.raw)) {
          for (const secret of run.secretValues) assert.ok(!s.includes(secret), `${r.name}${path} carries a secret in plaintext`);
          assert.doesNotMatch(s, /material-(corosync|syncthing|tower)/, `${r.name}${path} carries generated key material in plaintext`);
        }
      }
    });

    it("parents every resource to a haforge component and registers the documented types", () => {
      const components = new Map(run.resources.filter((r) => r.type.startsWith("haforge:")).map((r) => [r.urn, r.type]));
      assert.ok([...components.values()].includes("haforge:index:HaCluster"));
      for (const r of [...files(), ...commands()]) assert.ok(components.has(r.parent), `${r.name} parent ${r.parent}`);
    });

    it("exports the stack outputs, secrets only as secret outputs", () => {
      for (const k of ["hosts", "vips", "endpoints", "instanceGroups", "isolatedGroups", "rabbitmqNodes", "pacemakerClusters"]) {
        assert.ok(k in run.outputs, `output ${k}`);
        assert.equal(run.outputs[k]!.secret, false, `${k} is plain`);
        const text = JSON.stringify(run.outputs[k]!.value);
        for (const s of run.secretValues) assert.ok(!text.includes(s), `${k} leaks a secret`);
      }
      if (analysis.plan!.rabbitmq) assert.equal(run.outputs["brokerUrl"]!.secret, true);
      const hosts = run.outputs["hosts"]!.value as { name: string }[];
      assert.deepEqual(
        hosts.map((h) => h.name),
        analysis.plan!.hosts.map((h) => h.name),
      );
    });
  });
}

/** The service name restarts of a rolling group are named after. */
function serviceOf(_id: string, service: string): string {
  return service;
}

describe("bad input under the program", () => {
  it("stops before any host resource is registered", () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-prog-"));
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "hosts:\n  - { name: a, address: 10.0.0.1 }\npacemaker:\n  clusters:\n    - { name: c, nodes: [a, ghost] }\n");
    const stacksDir = join(ROOT, "stacks");
    const stackFile = join(stacksDir, "Pulumi.zz-bad-test.yaml");
    writeFileSync(stackFile, `config:\n  haforge:inventory: ${bad}\n`);
    try {
      const r = runStack("zz-bad-test");
      assert.notEqual(r.code, 0);
      assert.match(r.err, /nothing was changed on any host/);
    } finally {
      require("node:fs").rmSync(stackFile);
    }
  });
});
