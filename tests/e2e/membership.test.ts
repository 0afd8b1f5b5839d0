/**
 * Day 2, membership changes (issue 11), proven live on its own 5-host lab: the lab inventory for
 * 3 hosts is applied, then the same inventory for 5 hosts (the inventory is the only thing that
 * changes; one state file between the applies), through the same harness as cluster.test.ts
 * (index.ts under the SDK, every resource forwarded to the real providers).
 *
 * Covered here: RabbitMQ (nodes join: cluster_status shows 5 on every node), keepalived (the
 * new hosts are VRRP peers: unicast_peer lists follow), HAProxy (backends follow, on every
 * balancer), etcd (the new members are added with `member add` before they start, then start
 * with `initial-cluster-state: existing`: 5 members, healthy) and Patroni (4 replicas streaming).
 * Hosts that were already members are not restarted: their daemons keep their PIDs (beam.smp,
 * the HAProxy master, keepalived, etcd, patroni, the postmaster), besides the HAProxy, keepalived
 * and Patroni reloads the README documents. Sampled throughout: a TCP poller through the
 * keepalived VIP (longest outage), the AMQP handshake on each original broker (at least 2 of 3 up
 * at every sample), an etcd quorum read (every sample healthy), and a RabbitMQ publisher with
 * confirms to a quorum queue through the VIP (0 confirmed messages lost, longest publish gap).
 * Not in this file: Pacemaker,
 * syncthing, and shrinking (5 → 3).
 * Figures: `e2e-figure membership-grow-* VALUE` lines.
 *
 * Root only (netns); run alone, one lab-using file at a time (docs/lab.md). The lab is always torn down.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { labDownSync } from "../../lab/down";
import { hostExecOk, labUp, type LabInfo } from "../../lab/exec";
import { applyProgram, describeFailure, LAB_WAIT_MS, labInventory, type ApplyResult } from "./harness";
import { amqpOk, patroniCluster, psql, run, sleep, tcpOpen, waitFor } from "./harness/probes";

const SKIP = process.getuid?.() !== 0 ? "the lab needs root" : false;
const ROOT = path.join(__dirname, "..", "..");
const FIRST = ["lab1", "lab2", "lab3"] as const;
const ALL = ["lab1", "lab2", "lab3", "lab4", "lab5"] as const;
const KEEPALIVED_VIP = "10.213.7.100";

const SECRETS = {
  rabbitmqPassword: `rmq-${randomBytes(6).toString("hex")}`,
  rabbitmqCookie: randomBytes(16).toString("hex").toUpperCase(),
  keepalivedAuthPass: randomBytes(4).toString("hex"),
  haproxyStatsPassword: `stats-${randomBytes(4).toString("hex")}`,
  pgSuperuserPassword: `pg-${randomBytes(6).toString("hex")}`,
  pgReplicationPassword: `repl-${randomBytes(6).toString("hex")}`,
};

const figures: Record<string, string> = {};
function figure(t: { diagnostic(m: string): void }, name: string, value: number | string, unit = "") {
  const v = `${typeof value === "number" ? Math.round(value) : value}${unit}`;
  figures[name] = v;
  t.diagnostic(`${name}: ${v}`);
  process.stderr.write(`e2e-figure ${name} ${v}\n`);
}

/**
 * The lab inventory (inventories/lab.yaml) narrowed to the services this file proves, on `hosts`:
 * RabbitMQ, keepalived and HAProxy (its AMQP frontend) on every host.
 */
function membershipInventory(lab: LabInfo, hosts: readonly string[], out: string): string {
  const real = lab.hosts.map((h) => ({ name: h.name, address: h.address, hostKey: h.hostKey, privateKeyPath: lab.privateKeyPath }));
  return labInventory(path.join(ROOT, "inventories", "lab.yaml"), real, out, (inv) => {
    const template = (inv["hosts"] as Record<string, any>[])[0]!;
    inv["hosts"] = hosts.map((name) => {
      const h = real.find((x) => x.name === name)!;
      return {
        ...template,
        name,
        address: h.address,
        interfaces: [{ name: "eth0", address: `${h.address}/24` }],
        ssh: { ...template["ssh"], hostKey: h.hostKey },
      };
    });
    for (const k of ["pacemaker", "syncthing"]) delete inv[k];
    inv["rabbitmq"]["nodes"] = [...hosts];
    inv["keepalived"]["instances"][0]["hosts"] = [...hosts];
    inv["quorumStore"]["members"] = [...hosts];
    inv["postgres"]["nodes"] = [...hosts];
    for (const b of inv["haproxy"]["backends"] as Record<string, any>[])
      b["servers"] = hosts.map((host) => ({ host, port: b["servers"][0]["port"] }));
  });
}

/** Restart actions that ran, by host (`haforge-<service>-restart-<unit>-<host>`). */
function restartsByHost(r: ApplyResult): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const o of r.operations) {
    const m = /^haforge-[a-z-]+?-restart-(.+)-(lab\d+)$/.exec(o.name);
    if (!m || o.op === "same") continue;
    (out[m[2]!] ??= []).push(`${m[1]}:${o.op}`);
  }
  return out;
}

/** PIDs of the daemons that must survive a membership change on a host that stays. */
async function daemonPids(host: string): Promise<Record<string, string>> {
  const out = await hostExecOk(
    host,
    // the HAProxy master is the oldest haproxy; keepalived's parent likewise
    'for p in beam.smp haproxy keepalived etcd patroni postgres; do echo "$p $(pgrep -o -x $p || echo none)"; done',
  );
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => l.split(" ") as [string, string]),
  );
}

/**
 * A publisher with confirms to a quorum queue through the VIP (amqplib's confirm channel): one
 * message at a time, each awaited; a failed connection or publish is retried on a new connection
 * (bounded). `stop` returns the confirmed sequence numbers and the longest time between two
 * confirms.
 */
function confirmedPublisher(url: string, queue: string) {
  const amqp = require("amqplib") as typeof import("amqplib");
  const confirmed: number[] = [];
  let running = true;
  let longestGapMs = 0;
  let lastConfirm = Date.now();
  let failures = 0;
  const loop = (async () => {
    let seq = 0;
    for (let attempt = 0; running && attempt < 500; attempt++) {
      let conn: import("amqplib").ChannelModel | undefined;
      try {
        conn = await amqp.connect(url, { timeout: 3_000 });
        conn.on("error", () => {});
        const ch = await conn.createConfirmChannel();
        ch.on("error", () => {});
        await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
        while (running) {
          const n = ++seq;
          await new Promise<void>((resolve, reject) => {
            ch.sendToQueue(queue, Buffer.from(String(n)), { persistent: true }, (err) => (err ? reject(err as Error) : resolve()));
          });
          const now = Date.now();
          longestGapMs = Math.max(longestGapMs, now - lastConfirm);
          lastConfirm = now;
          confirmed.push(n);
          await sleep(20);
        }
      } catch {
        failures++;
        await sleep(200);
      } finally {
        await conn?.close().catch(() => {});
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { confirmed, longestGapMs, failures };
    },
  };
}

/** Every message in `queue` (acked as read), through `url`. */
async function drain(url: string, queue: string): Promise<Set<number>> {
  const amqp = require("amqplib") as typeof import("amqplib");
  const conn = await amqp.connect(url, { timeout: 5_000 });
  try {
    const ch = await conn.createChannel();
    const got = new Set<number>();
    for (let i = 0; i < 1_000_000; i++) {
      const m = await ch.get(queue, { noAck: true });
      if (m === false) break;
      got.add(Number(m.content.toString()));
    }
    return got;
  } finally {
    await conn.close().catch(() => {});
  }
}

interface ClusterStatus {
  running_nodes: string[];
  disk_nodes: string[];
}

describe("e2e: membership changes on a 5-host lab (grow 3 → 5)", { skip: SKIP, timeout: 1_500_000 }, () => {
  let lab: LabInfo;
  let tmp: string;
  let inv3: string;
  let inv5: string;
  let stateFile: string;
  const suiteStart = Date.now();
  const teardown = () => {
    try {
      labDownSync({});
    } catch (e) {
      process.stderr.write(`lab teardown failed: ${(e as Error).message}\n`);
    }
  };
  const onSignal = (sig: NodeJS.Signals) => {
    teardown();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  const apply = (inventory: string) => applyProgram({ inventory, stateFile, secrets: SECRETS, timeoutMs: 600_000 });

  before(async () => {
    process.on("exit", teardown);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    teardown(); // a lab left over by a killed run
    lab = await labUp({ hosts: 5, waitMs: LAB_WAIT_MS });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-e2e-membership-"));
    stateFile = path.join(tmp, "state", "lab.json");
    fs.mkdirSync(path.dirname(stateFile));
    inv3 = membershipInventory(lab, FIRST, path.join(tmp, "lab-3.yaml"));
    inv5 = membershipInventory(lab, ALL, path.join(tmp, "lab-5.yaml"));
    // RabbitMQ must form its cluster from OUR cookie, not one inherited from the real machine.
    for (const h of ALL) await hostExecOk(h, "rm -f /var/lib/rabbitmq/.erlang.cookie");
  });

  after(() => {
    teardown();
    process.off("exit", teardown);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    process.stderr.write(`e2e-figure membership-suite-total ${Math.round((Date.now() - suiteStart) / 1000)}s\n`);
    process.stderr.write(`e2e membership figures: ${JSON.stringify(figures)}\n`);
  });

  it("the 3-host inventory provisions lab1..lab3 (lab4, lab5 untouched)", { timeout: 600_000 }, async (t) => {
    const r = await apply(inv3);
    assert.ok(r.ok, describeFailure(r));
    figure(t, "membership-first-apply", r.wallMs, " ms");
    assert.deepEqual(Object.keys(restartsByHost(r)).sort(), [...FIRST]);
    await waitFor("the VIP answers on :5673", async () => ((await tcpOpen(KEEPALIVED_VIP, 5673, 1_000)) ? true : undefined), 30_000, 200);
  });

  it(
    "grow 3 → 5 by the inventory only: brokers join, VRRP peers and backends follow, no member restarts",
    { timeout: 900_000 },
    async (t) => {
      const before = Object.fromEntries(await Promise.all(FIRST.map(async (h) => [h, await daemonPids(h)] as const)));
      for (const h of FIRST)
        for (const [d, pid] of Object.entries(before[h]!)) assert.notEqual(pid, "none", `${h}: ${d} runs before the grow`);

      // Samplers: the VIP (TCP through HAProxy's AMQP frontend) every 100 ms; the original brokers'
      // AMQP handshakes every 500 ms.
      let sampling = true;
      const t0 = Date.now();
      const vip: { atMs: number; ok: boolean }[] = [];
      const brokers: { atMs: number; up: number }[] = [];
      const url = (addr: string) => `amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${addr}:5672/tower`;
      const firstAddresses = lab.hosts.filter((h) => (FIRST as readonly string[]).includes(h.name)).map((h) => h.address);
      const etcd: { atMs: number; healthy: boolean; first?: string; error?: string }[] = [];
      const etcdPoller = (async () => {
        for (let i = 0; sampling && i < 4_000; i++) {
          // a quorum read through lab1's member: fails whenever the store has no quorum
          // (a failed read is asked again at once with a longer bound: one slow answer on this
          // loaded machine is not a quorum loss; two in a row are counted as one)
          const probe = (timeout: string) =>
            run(
              "etcdctl",
              ["--endpoints=http://10.213.7.11:2379", "--dial-timeout=2s", `--command-timeout=${timeout}`, "endpoint", "health"],
              {
                env: { ...process.env, ETCDCTL_API: "3" },
                timeoutMs: 15_000,
              },
            );
          let h = await probe("3s");
          const first = h.code === 0 ? "" : (h.stdout + h.stderr).trim().slice(0, 200);
          if (h.code !== 0) h = await probe("8s");
          etcd.push({
            atMs: Date.now() - t0,
            healthy: h.code === 0,
            ...(first ? { first } : {}),
            ...(h.code ? { error: (h.stdout + h.stderr).trim().slice(0, 200) } : {}),
          });
          await sleep(500);
        }
      })();
      const vipPoller = (async () => {
        for (let i = 0; sampling && i < 20_000; i++) {
          vip.push({ atMs: Date.now() - t0, ok: await tcpOpen(KEEPALIVED_VIP, 5673, 1_000) });
          await sleep(100);
        }
      })();
      const brokerPoller = (async () => {
        for (let i = 0; sampling && i < 4_000; i++) {
          const up = await Promise.all(firstAddresses.map((a) => amqpOk(url(a), 3_000)));
          brokers.push({ atMs: Date.now() - t0, up: up.filter(Boolean).length });
          await sleep(500);
        }
      })();
      const vipUrl = `amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${KEEPALIVED_VIP}:5673/tower`;
      const publisher = confirmedPublisher(vipUrl, "membership-e2e");
      let published: Awaited<ReturnType<typeof publisher.stop>> | undefined;
      let r: ApplyResult;
      try {
        r = await apply(inv5);
      } finally {
        sampling = false;
        await Promise.all([vipPoller, brokerPoller, etcdPoller]);
        published = await publisher.stop();
      }
      assert.ok(r.ok, describeFailure(r));
      figure(t, "membership-grow-duration", r.wallMs, " ms (3 → 5: RabbitMQ, keepalived, HAProxy, etcd, Patroni)");

      // Members that stayed: nothing restarted (only reloads, which keep the PID).
      const restarted = restartsByHost(r);
      figure(t, "membership-grow-restart-actions", JSON.stringify(restarted));
      for (const h of FIRST) {
        const after = await daemonPids(h);
        assert.deepEqual(after, before[h], `${h}: its daemons were restarted (PIDs before/after)`);
      }
      for (const h of ["lab4", "lab5"]) assert.ok(restarted[h]?.length, `${h}: its daemons were started`);
      // what ran on the members that stay: the documented reloads, nothing else
      for (const o of r.operations.filter((x) => /-restart-/.test(x.name) && x.op !== "same")) {
        const host = /-(lab\d+)$/.exec(o.name)![1]!;
        if (!(FIRST as readonly string[]).includes(host)) continue;
        assert.match(o.name, /-restart-(haproxy|keepalived|patroni)-/, `${o.name} ran on a member that stays`);
        assert.match(o.stdout ?? "", /reloaded (haproxy|keepalived|patroni) \(running, definition unchanged\)/, `${o.name}: ${o.stdout}`);
      }

      // RabbitMQ: 5 running nodes, seen from every node.
      await waitFor(
        "5 running RabbitMQ nodes everywhere",
        async () => {
          for (const h of ALL) {
            const st = JSON.parse(
              await hostExecOk(h, "rabbitmqctl -q cluster_status --formatter json", { timeoutMs: 30_000 }),
            ) as ClusterStatus;
            if ([...st.running_nodes].sort().join(",") !== ALL.map((x) => `rabbit@${x}`).join(",")) return undefined;
          }
          return true;
        },
        120_000,
        2_000,
      );
      // keepalived: every host lists the 4 others as unicast peers (or runs multicast, where the
      // peers need no list) and exactly one host holds the VIP.
      for (const h of ALL) {
        const conf = await hostExecOk(h, "cat /etc/keepalived/keepalived.conf");
        if (/unicast_peer/.test(conf)) {
          const peers = /unicast_peer\s*\{([^}]*)\}/.exec(conf)![1]!.trim().split(/\s+/).sort();
          const expected = lab.hosts.filter((x) => x.name !== h).map((x) => x.address);
          assert.deepEqual(peers, expected.sort(), `${h}: unicast peers`);
        }
      }
      // HAProxy: on every balancer, the rabbitmq backend has 5 servers, all UP.
      for (const h of ALL) {
        await waitFor(
          `${h}: 5 rabbitmq servers UP`,
          async () => {
            const s = await hostExecOk(h, "echo 'show stat' | socat -T 2 stdio UNIX-CONNECT:/run/haproxy-admin.sock");
            const rows = s
              .split("\n")
              .map((l) => l.split(","))
              .filter((x) => x[0] === "rabbitmq" && /^lab\d$/.test(x[1] ?? ""));
            return rows.length === 5 && rows.every((x) => x[17] === "UP") ? true : undefined;
          },
          30_000,
          1_000,
        );
      }
      assert.equal(await amqpOk(`amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${KEEPALIVED_VIP}:5673/tower`), true);

      // etcd: 5 started members (lab4 and lab5 added with `member add` before they started), healthy.
      const members = JSON.parse(
        await hostExecOk("lab1", "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 member list -w json"),
      ) as {
        members: { name: string; peerURLs: string[] }[];
      };
      assert.deepEqual(members.members.map((m) => m.name).sort(), [...ALL]);
      for (const h of ALL)
        assert.match(await hostExecOk(h, "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 endpoint health 2>&1"), /is healthy/, h);
      // Patroni: one leader, 4 replicas streaming from it.
      const addresses = lab.hosts.map((h) => h.address);
      const leader = await waitFor(
        "a leader and 4 running replicas",
        async () => {
          const c = await patroniCluster(addresses);
          const l = c?.members.filter((m) => m.role === "leader") ?? [];
          const replicas = c?.members.filter((m) => m.role === "replica" && m.state !== "stopped") ?? [];
          return l.length === 1 && replicas.length === 4 ? l[0]!.name : undefined;
        },
        180_000,
        2_000,
      );
      const leaderAddr = lab.hosts.find((h) => h.name === leader.value)!.address;
      await waitFor(
        "4 streaming replicas",
        async () => {
          const q = await psql(
            leader.value,
            leaderAddr,
            5432,
            SECRETS.pgSuperuserPassword,
            "select count(*) from pg_stat_replication where state = 'streaming'",
          );
          return q.code === 0 && q.out === "4" ? true : undefined;
        },
        180_000,
        2_000,
      );

      // what was sampled during the grow
      // the VIP: longest run of failed probes
      let longest = 0;
      let downSince: number | undefined;
      for (const s of vip) {
        if (!s.ok && downSince === undefined) downSince = s.atMs;
        if (s.ok && downSince !== undefined) {
          longest = Math.max(longest, s.atMs - downSince);
          downSince = undefined;
        }
      }
      if (downSince !== undefined) longest = Math.max(longest, vip[vip.length - 1]!.atMs - downSince);
      figure(t, "membership-grow-vip-longest-outage", longest, ` ms (${vip.length} probes, ${vip.filter((s) => !s.ok).length} failed)`);
      const minUp = Math.min(...brokers.map((s) => s.up));
      figure(t, "membership-grow-brokers-min-up", `${minUp} of 3 (${brokers.length} samples)`);
      assert.ok(vip.length >= 50, `too few VIP probes: ${vip.length}`);
      assert.ok(minUp >= 2, `a sample saw ${minUp} of the original brokers up`);
      // RabbitMQ as a user sees it: every confirmed message is in the quorum queue afterwards
      const received = await drain(vipUrl, "membership-e2e");
      const lost = published.confirmed.filter((n) => !received.has(n));
      figure(
        t,
        "membership-grow-publish-longest-gap",
        published.longestGapMs,
        ` ms (${published.confirmed.length} confirmed, ${published.failures} reconnects)`,
      );
      figure(t, "membership-grow-confirmed-lost", lost.length);
      assert.ok(published.confirmed.length >= 100, `too few confirmed messages: ${published.confirmed.length}`);
      assert.deepEqual(lost.slice(0, 20), [], `${lost.length} confirmed messages lost`);
      const etcdDown = etcd.filter((s) => !s.healthy);
      figure(
        t,
        "membership-grow-etcd-quorum",
        `${etcd.length - etcdDown.length} of ${etcd.length} samples healthy (${etcd.filter((x) => x.first).length} needed a second read: ${JSON.stringify(etcd.filter((x) => x.first).slice(0, 3))})`,
      );
      assert.ok(etcd.length >= 20, `too few etcd samples: ${etcd.length}`);
      assert.deepEqual(etcdDown, [], "etcd lost quorum (or lab1's member) during the grow");
    },
  );
});
