/**
 * The daemons Pacemaker runs get their configuration from haforge (RabbitMQ under
 * rabbitmq-cluster: the shared cookie + rabbitmq.conf; Galera: wsrep settings; a clustercheck on
 * 9200 that HAProxy's Galera check talks to; Redis: redis.conf), over the example inventories and
 * random clusters, planned and rendered by the real code. MariaDB and Redis are not installed on
 * this machine: their files are checked structurally; the clustercheck script runs for real under
 * /bin/sh with a stub `mysql`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { parse as parseIni } from "ini";
import type { DesiredState } from "../../src/core/desired-state";
import { generateMaterial } from "../../src/core/generate-material";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import type { ClusterPlan } from "../../src/plan/types";
import { renderDesiredState, requiredMaterials } from "../../src/pipeline/render";
import {
  CLUSTERCHECK_PORT,
  CLUSTERCHECK_SCRIPT,
  CLUSTERCHECK_SERVICE,
  GALERA_CNF,
  RABBITMQ_CONF,
  RABBITMQ_COOKIE,
  REDIS_CONF,
  clustercheckScript,
} from "../../src/services/pacemaker/managed-config";
import { pacemakerRunUnits } from "../../src/services/pacemaker/owned";
import { examplePlans } from "../fixtures/keepalived-plan";

const work = mkdtempSync(join(tmpdir(), "haforge-managed-"));
after(() => rmSync(work, { recursive: true, force: true }));

function renderWithMaterials(plan: ClusterPlan, secrets = {}): DesiredState {
  const materials = Object.fromEntries(requiredMaterials(plan).map((m) => [m.key, generateMaterial(m.kind)]));
  return renderDesiredState(plan, secrets, materials);
}

/** Every owned unit on every node has its configuration; cookies are shared per cluster. */
function checkManaged(plan: ClusterPlan, state: DesiredState): number {
  const owned = pacemakerRunUnits(plan.inventory);
  const fileOf = (host: string, path: string) => state.hosts.find((h) => h.host === host)?.files.find((f) => f.path === path);
  let checked = 0;
  for (const c of plan.pacemakerClusters) {
    const cookies = new Set<string>();
    for (const n of c.nodes) {
      const units = owned.get(n.host);
      const addr = plan.hosts.find((h) => h.name === n.host)!.internalAddress;
      if (units?.has("rabbitmq-server")) {
        const cookie = fileOf(n.host, RABBITMQ_COOKIE)!;
        assert.ok(cookie, `${n.host}: Erlang cookie`);
        assert.deepEqual([cookie.mode, cookie.owner, cookie.secret], ["0400", "rabbitmq", true]);
        assert.match(cookie.content, /^[A-Za-z0-9]{20,255}$/);
        cookies.add(cookie.content);
        const conf = fileOf(n.host, RABBITMQ_CONF)!;
        assert.match(conf.content, /^cluster_partition_handling = pause_minority$/m);
        assert.ok(conf.content.includes(`:5672`));
        assert.deepEqual(conf.notify, [], "Pacemaker restarts RabbitMQ, haforge never");
        checked++;
      }
      if (units?.has("mariadb")) {
        const cnf = fileOf(n.host, GALERA_CNF)!;
        const g = parseIni(cnf.content)["galera"] as Record<string, string>;
        assert.equal(g["wsrep_on"], "ON");
        assert.equal(g["wsrep_provider"], "/usr/lib/galera/libgalera_smm.so");
        assert.equal(g["wsrep_cluster_name"], c.name);
        assert.equal(g["wsrep_cluster_address"], `gcomm://${c.nodes.map((x) => x.host).join(",")}`);
        assert.equal(g["wsrep_node_address"], addr);
        assert.equal(g["wsrep_node_name"], n.host);
        assert.equal(g["binlog_format"], "ROW");
        assert.equal(g["innodb_autoinc_lock_mode"], "2");
        assert.deepEqual(cnf.notify, []);
        assert.ok(fileOf(n.host, CLUSTERCHECK_SCRIPT), `${n.host}: clustercheck`);
        const svc = state.hosts.find((h) => h.host === n.host)!.services.find((s) => s.name === CLUSTERCHECK_SERVICE)!;
        assert.match(svc.health!, new RegExp(`127\\.0\\.0\\.1:${CLUSTERCHECK_PORT}/`));
        checked++;
      }
      if (units?.has("redis-server")) {
        const r = fileOf(n.host, REDIS_CONF)!;
        assert.match(r.content, new RegExp(`^bind ${addr.replace(/\./g, "\\.")} 127\\.0\\.0\\.1$`, "m"));
        assert.match(r.content, /^protected-mode yes$/m);
        checked++;
      }
    }
    assert.ok(cookies.size <= 1, `cluster ${c.name}: one cookie on every node`);
  }
  // Every server HAProxy checks on 9200 answers there.
  for (const b of plan.haproxy?.backends ?? [])
    if (b.checkPort === CLUSTERCHECK_PORT)
      for (const s of b.servers)
        assert.ok(
          state.hosts.find((h) => h.host === s.host)?.services.some((x) => x.name === CLUSTERCHECK_SERVICE),
          `${b.name}: ${s.host} answers on 9200`,
        );
  return checked;
}

describe("configuration of the daemons Pacemaker runs", () => {
  it("example inventories: rabbitmq-cluster, galera (+ clustercheck for HAProxy), redis nodes are configured", () => {
    let checked = 0;
    for (const ex of examplePlans().filter((e) => e.plan.target === "ssh"))
      checked += checkManaged(ex.plan, renderWithMaterials(ex.plan, ex.secrets));
    assert.ok(checked >= 3 + 3 + 9, `${checked} (node, daemon) pairs`);
  });

  it("random clusters (which agents, how many nodes): every node of the cluster gets what its daemons need", () => {
    fc.assert(
      fc.property(
        fc.subarray(["rabbitmq", "galera", "redis"] as const, { minLength: 1 }),
        fc.integer({ min: 3, max: 5 }),
        fc.boolean(),
        (agents, n, lightweight) => {
          const nodes = Array.from({ length: n }, (_, i) => `c${i + 1}`);
          const agentOf = {
            rabbitmq: "ocf:heartbeat:rabbitmq-cluster",
            galera: "ocf:heartbeat:galera",
            redis: "ocf:heartbeat:redis",
          } as const;
          const inv: InventoryInput = {
            name: "mg",
            hosts: nodes.map((h, i) => ({
              name: h,
              address: `10.6.0.${11 + i}`,
              interfaces: [{ name: "eth0", address: `10.6.0.${11 + i}/24` }],
            })),
            pacemaker: {
              ...(lightweight ? { layout: "lightweight" as const } : {}),
              clusters: [
                {
                  name: "mg",
                  nodes: nodes.map((host) => ({ host })),
                  properties: { "stonith-enabled": false },
                  ...(lightweight
                    ? { lightweight: { vips: [], managed: [...agents], systemdServices: [] } }
                    : {
                        primitives: agents.map((a) => ({ id: a, agent: agentOf[a] })),
                        clones: agents.map((a) => ({ id: `${a}-clone`, resource: a, ...(a === "rabbitmq" ? {} : { promotable: true }) })),
                      }),
                },
              ],
            },
          };
          const r = planCluster(Inventory.parse(inv));
          assert.ok(r.plan, JSON.stringify(r.findings.filter((f) => f.severity === "error")));
          assert.equal(checkManaged(r.plan, renderWithMaterials(r.plan)), n * agents.length);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("clustercheck answers HAProxy's httpchk: 200 when wsrep_local_state is 4 (Synced), 503 otherwise; Content-Length exact", () => {
    const bin = join(work, "bin");
    mkdirSync(bin, { recursive: true });
    const script = join(work, "clustercheck");
    writeFileSync(script, clustercheckScript());
    for (const [state, code] of [
      ["4", "200"],
      ["2", "503"],
      ["", "503"],
    ] as const) {
      writeFileSync(join(bin, "mysql"), `#!/bin/sh\n${state ? `printf 'wsrep_local_state\\t${state}\\n'` : "exit 1"}\n`);
      chmodSync(join(bin, "mysql"), 0o755);
      const r = spawnSync("/bin/sh", [script], {
        input: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        encoding: "utf8",
        env: { PATH: `${bin}:/usr/bin:/bin` },
      });
      assert.equal(r.status, 0, r.stderr);
      const [head, body] = r.stdout.split("\r\n\r\n");
      assert.match(head!, new RegExp(`^HTTP/1\\.1 ${code} `));
      assert.equal(Number(/Content-Length: (\d+)/.exec(head!)![1]), Buffer.byteLength(body!), "Content-Length");
    }
    assert.equal(spawnSync("shellcheck", ["-s", "sh", "-S", "warning", script], { encoding: "utf8" }).status, 0);
  });
});
