/**
 * Day 2, membership changes (issue 11), proven live on its own 5-host lab: the lab inventory for
 * 3 hosts is applied, then the same inventory for 5 hosts (the inventory is the only thing that
 * changes; one state file between the applies), through the same harness as cluster.test.ts
 * (index.ts under the SDK, every resource forwarded to the real providers).
 *
 * Covered here: RabbitMQ (nodes join: cluster_status shows 5 on every node), keepalived (the
 * new hosts are VRRP peers: unicast_peer lists follow), HAProxy (backends follow, on every
 * balancer), etcd (the new members are added with `member add` before they start, then start
 * with `initial-cluster-state: existing`: 5 members, healthy), Patroni (4 replicas streaming) and
 * Pacemaker/Corosync (the members reload the nodelist with `corosync-cfgtool -R`, then lab4 and
 * lab5 start: 5 nodes online in every node's crm_mon, corosync's nodelist the 5 with their node
 * ids, 5 votes, the CIB's nodes the 5, no fence request) and syncthing (the folder shared with
 * lab4 and lab5: every host's config.xml and running daemon list the 4 others, a file written on
 * lab1 appears on both; the members' syncthing restarts, as it reads config.xml only at start).
 * Hosts that were already members are not restarted: their daemons keep their PIDs (beam.smp,
 * the HAProxy master, keepalived, etcd, patroni, the postmaster, corosync, pacemakerd), besides the
 * HAProxy, keepalived, Patroni and corosync reloads the README documents. Sampled throughout: a
 * TCP poller through the keepalived VIP (longest outage), the AMQP handshake on each original broker (at least 2 of 3 up
 * at every sample), an etcd quorum read (every sample healthy), and a RabbitMQ publisher with
 * confirms to a quorum queue through the VIP (0 confirmed messages lost, longest publish gap), and
 * corosync's quorum on each original node (`corosync-quorumtool -s`: quorate in every sample).
 * Then the 3-host inventory again (shrink 5 → 3, same lab, same state): lab4 and lab5 leave each
 * cluster the operators' way (RabbitMQ forget_cluster_node after stop_app, etcd member remove
 * while the member runs; Pacemaker the other way round: the node stops, then it is removed from the
 * nodelist and the CIB), then their daemons stop (each service's deprovisioning of the host, one
 * host at a time); the members that stay keep their PIDs, RabbitMQ/etcd/Pacemaker list 3 members
 * (3 expected votes, lab4/lab5 gone from the CIB's nodes and corosync's nodelist), syncthing on
 * lab1..3 lists only lab1..3 (lab4/lab5 unshared, their syncthing stopped), the
 * VRRP peers and HAProxy backends follow, Patroni keeps a leader and 2 streaming replicas and the
 * leavers' replication slots are dropped; the same samplers run (0 confirmed messages lost).
 * Then lab2 is replaced (issue 11): the lab wipes it (a fresh disk, new SSH host keys) and `up`
 * with its old pinned key is refused on its first connection: no login, no file written there,
 * nothing restarted on lab1/lab3. Then the operator pins lab2's new key and `up` rejoins it (same
 * samplers): the etcd key written before the wipe on lab2's member, lab2 streaming from the Patroni
 * leader with the rows, its broker in every cluster_status with the quorum queue's replica at the
 * leader's commit index and the messages consumed through it, lab2 online in Pacemaker under its
 * node id, the shared folder pulled back onto lab2 (a file written before the wipe) and syncing
 * again; lab1/lab3 keep every PID from before the wipe (quorate throughout); a second `up`
 * changes nothing.
 * Figures: `e2e-figure membership-{grow,shrink,replace}-* VALUE` and `replace-*` lines.
 *
 * Root only (netns); run alone, one lab-using file at a time (docs/lab.md). The lab is always torn down.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { hostExec, hostExecOk, labWipe, type LabInfo } from "../../lab/exec";
import { readState } from "../../lab/state";
import { applyProgram, describeFailure, labInventory, type ApplyResult } from "./harness";
import { labSuite, type LabSuite } from "./harness/lab-suite";
import { amqpOk, patroniCluster, psql, run, sleep, tcpOpen, waitFor } from "./harness/probes";
import { ETCD_DATA_DIR } from "../../src/services/quorum-store/render";

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

/** The suite's figure printer (tests/e2e/harness/lab-suite.ts), set when the suite is declared. */
let figure: LabSuite["figure"];

/**
 * The lab inventory (inventories/lab.yaml) narrowed to the services this file proves, on `hosts`:
 * RabbitMQ, keepalived and HAProxy (its AMQP frontend), etcd, Patroni, Pacemaker and syncthing's
 * shared folder on every host.
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
    // the lab's shared folder on every host
    inv["syncthing"]["folders"][0]["hosts"] = [...hosts];
    // one Pacemaker cluster on `hosts` (3 or 5: odd counts), default node ids (1..n in hosts order)
    inv["pacemaker"]["clusters"][0]["nodes"] = [...hosts];
    // fencing on throughout, as in production: cluster-glue's `null` device (it records every
    // request and touches nothing), able to fence all five lab hosts from the start, so a node a
    // grow adds could be fenced while it is installed if Pacemaker ever saw it unclean
    inv["pacemaker"]["clusters"][0]["properties"]["stonith-enabled"] = true;
    inv["pacemaker"]["clusters"][0]["fencing"] = [
      { id: "fence-null", agent: "stonith:null", params: { hostlist: "lab1 lab2 lab3 lab4 lab5" } },
    ];
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
    'for p in beam.smp haproxy keepalived etcd patroni postgres corosync pacemakerd; do echo "$p $(pgrep -o -x $p || echo none)"; done',
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

const amqpUrl = (addr: string, port = 5672) => `amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${addr}:${port}/tower`;
const VIP_URL = amqpUrl(KEEPALIVED_VIP, 5673);
const QUEUE = "membership-e2e";

interface Sampled {
  vip: { atMs: number; ok: boolean }[];
  /** `up` of the brokers; `retried`: how many answered only when asked a second time. */
  brokers: { atMs: number; up: number; retried: number }[];
  etcd: { atMs: number; healthy: boolean; first?: string; error?: string }[];
  published: { confirmed: number[]; longestGapMs: number; failures: number };
  /** How many brokers the broker sampler asks (the members that stay). */
  brokerCount: number;
  /** Pacemaker on each member that stays: corosync quorate, and how many nodes crm_mon -1 -s counts online. */
  pacemaker: PacemakerSample[];
}

interface PacemakerSample {
  atMs: number;
  host: string;
  quorate: boolean;
  online: number;
  /** corosync-quorumtool's and crm_mon's answer when the sample was not quorate. */
  error?: string;
}

/** One Pacemaker sample on `host`: corosync-quorumtool -s (quorate) and crm_mon -1 -s (nodes online). */
async function pacemakerSample(host: string, t0: number): Promise<PacemakerSample> {
  const r = await hostExec(host, "timeout 5 corosync-quorumtool -s 2>&1; echo ===; timeout 5 crm_mon -1 -s 2>&1", {
    timeoutMs: 15_000,
  }).catch((e: Error) => ({ stdout: e.message }));
  const [quorum = "", mon = ""] = r.stdout.split("\n===\n");
  const quorate = /^Quorate:\s+Yes/m.test(quorum);
  return {
    atMs: Date.now() - t0,
    host,
    quorate,
    online: Number(/(\d+) nodes? online/.exec(mon)?.[1] ?? 0),
    ...(quorate ? {} : { error: r.stdout.trim().slice(0, 300) }),
  };
}

/**
 * Samplers while a membership change runs: a TCP poller through the keepalived VIP (HAProxy's
 * AMQP frontend) every 100 ms; the AMQP handshake on each broker of `stay` every 500 ms; an etcd
 * quorum read through lab1's member every 500 ms; a publisher with confirms to a quorum queue
 * through the VIP.
 */
function startSampling(lab: LabInfo, stay: readonly string[]) {
  let sampling = true;
  const t0 = Date.now();
  const out: Omit<Sampled, "published"> = { vip: [], brokers: [], etcd: [], brokerCount: stay.length, pacemaker: [] };
  const stayAddresses = lab.hosts.filter((h) => stay.includes(h.name)).map((h) => h.address);
  const etcdPoller = (async () => {
    for (let i = 0; sampling && i < 4_000; i++) {
      // a quorum read through lab1's member: fails whenever the store has no quorum
      // (a failed read is asked again at once with a longer bound: one slow answer on this
      // loaded machine is not a quorum loss; two in a row are counted as one)
      const probe = (timeout: string) =>
        run("etcdctl", ["--endpoints=http://10.213.7.11:2379", "--dial-timeout=2s", `--command-timeout=${timeout}`, "endpoint", "health"], {
          env: { ...process.env, ETCDCTL_API: "3" },
          timeoutMs: 15_000,
        });
      let h = await probe("3s");
      const first = h.code === 0 ? "" : (h.stdout + h.stderr).trim().slice(0, 200);
      if (h.code !== 0) h = await probe("8s");
      out.etcd.push({
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
      out.vip.push({ atMs: Date.now() - t0, ok: await tcpOpen(KEEPALIVED_VIP, 5673, 1_000) });
      await sleep(100);
    }
  })();
  const brokerPoller = (async () => {
    for (let i = 0; sampling && i < 4_000; i++) {
      // a broker that fails the handshake is asked again at once with a longer bound, as the etcd
      // read above: on this loaded machine (CI runs the system files beside the lab) one stall of
      // this process or of the host failed all three handshakes of one sample at once while no
      // broker restarted; a broker that is down fails both
      const asked = await Promise.all(
        stayAddresses.map(async (a) => ((await amqpOk(amqpUrl(a), 3_000)) ? "up" : (await amqpOk(amqpUrl(a), 8_000)) ? "retried" : "down")),
      );
      out.brokers.push({
        atMs: Date.now() - t0,
        up: asked.filter((x) => x !== "down").length,
        retried: asked.filter((x) => x === "retried").length,
      });
      await sleep(500);
    }
  })();
  const pacemakerPoller = (async () => {
    for (let i = 0; sampling && i < 4_000; i++) {
      out.pacemaker.push(...(await Promise.all(stay.map((h) => pacemakerSample(h, t0)))));
      await sleep(500);
    }
  })();
  const publisher = confirmedPublisher(VIP_URL, QUEUE);
  return {
    async stop(): Promise<Sampled> {
      sampling = false;
      await Promise.all([vipPoller, brokerPoller, etcdPoller, pacemakerPoller]);
      return { ...out, published: await publisher.stop() };
    },
  };
}

/** The figures of a sampled change, and its bounds: quorum held, no confirmed message lost. */
async function judgeSampled(t: { diagnostic(m: string): void }, change: string, s: Sampled) {
  // the VIP: longest run of failed probes
  let longest = 0;
  let downSince: number | undefined;
  for (const x of s.vip) {
    if (!x.ok && downSince === undefined) downSince = x.atMs;
    if (x.ok && downSince !== undefined) {
      longest = Math.max(longest, x.atMs - downSince);
      downSince = undefined;
    }
  }
  if (downSince !== undefined) longest = Math.max(longest, s.vip[s.vip.length - 1]!.atMs - downSince);
  figure(
    t,
    `membership-${change}-vip-longest-outage`,
    longest,
    ` ms (${s.vip.length} probes, ${s.vip.filter((x) => !x.ok).length} failed)`,
  );
  const minUp = Math.min(...s.brokers.map((x) => x.up));
  const retried = s.brokers.filter((x) => x.retried > 0).length;
  figure(
    t,
    `membership-${change}-brokers-min-up`,
    `${minUp} of ${s.brokerCount} (${s.brokers.length} samples, ${retried} needed a second handshake)`,
  );
  assert.ok(s.vip.length >= 50, `too few VIP probes: ${s.vip.length}`);
  assert.ok(minUp >= s.brokerCount - 1, `a sample saw ${minUp} of the ${s.brokerCount} brokers that stay up`);
  // RabbitMQ as a user sees it: every confirmed message is in the quorum queue afterwards
  const received = await drain(VIP_URL, QUEUE);
  const lost = s.published.confirmed.filter((n) => !received.has(n));
  figure(
    t,
    `membership-${change}-publish-longest-gap`,
    s.published.longestGapMs,
    ` ms (${s.published.confirmed.length} confirmed, ${s.published.failures} reconnects)`,
  );
  figure(t, `membership-${change}-confirmed-lost`, lost.length);
  assert.ok(s.published.confirmed.length >= 100, `too few confirmed messages: ${s.published.confirmed.length}`);
  assert.deepEqual(lost.slice(0, 20), [], `${lost.length} confirmed messages lost`);
  const etcdDown = s.etcd.filter((x) => !x.healthy);
  figure(
    t,
    `membership-${change}-etcd-quorum`,
    `${s.etcd.length - etcdDown.length} of ${s.etcd.length} samples healthy (${s.etcd.filter((x) => x.first).length} needed a second read: ${JSON.stringify(s.etcd.filter((x) => x.first).slice(0, 3))})`,
  );
  assert.ok(s.etcd.length >= 20, `too few etcd samples: ${s.etcd.length}`);
  assert.deepEqual(etcdDown, [], `etcd lost quorum (or lab1's member) during the ${change}`);
  // Pacemaker: corosync quorate on every member that stays, in every sample
  const notQuorate = s.pacemaker.filter((x) => !x.quorate);
  figure(
    t,
    `membership-${change}-pacemaker-quorate`,
    `${s.pacemaker.length - notQuorate.length}/${s.pacemaker.length} samples on ${s.brokerCount} nodes`,
  );
  assert.ok(s.pacemaker.length >= 20, `too few Pacemaker samples: ${s.pacemaker.length}`);
  assert.deepEqual(notQuorate.slice(0, 5), [], `${notQuorate.length} Pacemaker samples not quorate during the ${change}`);
}

/**
 * keepalived and HAProxy follow the membership `members`: on each of them, the unicast peers are
 * the other members (a multicast instance needs no list) and the rabbitmq backend has one server
 * per member, all UP.
 */
async function assertPeersAndBackends(lab: LabInfo, members: readonly string[]): Promise<void> {
  for (const h of members) {
    const conf = await hostExecOk(h, "cat /etc/keepalived/keepalived.conf");
    if (/unicast_peer/.test(conf)) {
      const peers = /unicast_peer\s*\{([^}]*)\}/.exec(conf)![1]!.trim().split(/\s+/).sort();
      const expected = lab.hosts.filter((x) => x.name !== h && members.includes(x.name)).map((x) => x.address);
      assert.deepEqual(peers, expected.sort(), `${h}: unicast peers`);
    }
    await waitFor(
      `${h}: ${members.length} rabbitmq servers UP`,
      async () => {
        const st = await hostExecOk(h, "echo 'show stat' | socat -T 2 stdio UNIX-CONNECT:/run/haproxy-admin.sock");
        const rows = st
          .split("\n")
          .map((l) => l.split(","))
          .filter((x) => x[0] === "rabbitmq" && /^lab\d$/.test(x[1] ?? ""));
        return rows.length === members.length && rows.every((x) => x[17] === "UP") ? true : undefined;
      },
      30_000,
      1_000,
    );
  }
}

/**
 * Pacemaker/Corosync have exactly `members` on each of them (waits up to 120 s for crm_mon): every
 * member online in `crm_mon -1`, corosync's runtime nodelist the members with their node ids (the
 * default ids: 1..n in the lab's host order), `members.length` expected and total votes, quorate,
 * the CIB's nodes section the members only, and no fence request in the history (but of the nodes
 * in `fenced`: a host that died). Returns how long crm_mon took to show them all online.
 */
async function assertPacemakerMembers(members: readonly string[], fenced: readonly string[] = []): Promise<number> {
  const want = [...members].sort();
  const online = await waitFor(
    `${want.join(" ")} online in crm_mon on each of them`,
    async () => {
      for (const h of members) {
        const mon = await hostExecOk(h, "crm_mon -1", { timeoutMs: 30_000 });
        const on = /Online: \[ ([^\]]*) \]/.exec(mon)?.[1]?.trim().split(/\s+/).sort() ?? [];
        if (on.join(" ") !== want.join(" ") || /OFFLINE|UNCLEAN/.test(mon)) return undefined;
      }
      return true;
    },
    120_000,
    1_000,
  );
  for (const h of members) {
    const cmap = await hostExecOk(h, "corosync-cmapctl -b nodelist.node");
    const names = new Map([...cmap.matchAll(/^nodelist\.node\.(\d+)\.name \(str\) = (\S+)$/gm)].map((m) => [m[1], m[2]]));
    const ids = [...cmap.matchAll(/^nodelist\.node\.(\d+)\.nodeid \(u32\) = (\d+)$/gm)].map((m) => `${names.get(m[1])}:${m[2]}`).sort();
    assert.deepEqual(
      ids,
      want.map((n) => `${n}:${Number(n.replace("lab", ""))}`),
      `${h}: corosync's nodelist (name:nodeid)`,
    );
    const q = await hostExecOk(h, "corosync-quorumtool -s");
    assert.match(q, /^Quorate:\s+Yes/m, `${h}: quorate`);
    assert.match(q, new RegExp(`^Expected votes:\\s+${members.length}$`, "m"), `${h}: expected votes\n${q}`);
    assert.match(q, new RegExp(`^Total votes:\\s+${members.length}$`, "m"), `${h}: total votes\n${q}`);
    const cib = await hostExecOk(h, "cibadmin -Q -o nodes");
    assert.deepEqual([...cib.matchAll(/<node [^>]*uname="([^"]+)"/g)].map((m) => m[1]).sort(), want, `${h}: the CIB's nodes\n${cib}`);
  }
  const history = (await hostExecOk("lab1", "stonith_admin --history '*' 2>&1 || true")).trim();
  const fences = history
    .split("\n")
    .filter((l) => / of \S+ /.test(l))
    .filter((l) => !fenced.some((h) => l.includes(` of ${h} `)));
  assert.deepEqual(fences, [], `a fence was requested\n${history}`);
  // and fencing is live, so "no fence" means something: on, startup-fencing back at Pacemaker's
  // default (a grow switches it off until the CIB apply), a registered device able to fence each member
  const property = async (name: string) =>
    (await hostExecOk("lab1", `crm_attribute --type crm_config --name ${name} --query --quiet 2>/dev/null || true`)).trim();
  assert.match(await property("stonith-enabled"), /^(true|1|yes|on)$/i, "stonith-enabled");
  assert.equal(await property("startup-fencing"), "", "startup-fencing is Pacemaker's default again");
  for (const h of members) {
    const devices = await hostExecOk("lab1", `stonith_admin --list ${h} 2>&1 || true`);
    assert.match(devices, /fence-null/, `a device able to fence ${h}\n${devices}`);
  }
  return online.ms;
}

const SYNC_DIR = "/srv/lab-shared";

/** Writes a new file into the shared folder on `from` and waits (60 s) until each of `to` has it; returns the ms. */
async function syncedTo(from: string, to: readonly string[]): Promise<{ name: string; ms: number }> {
  const name = `membership-${randomBytes(4).toString("hex")}.txt`;
  const body = `written on ${from} at ${new Date().toISOString()}`;
  await hostExecOk(from, `printf '%s' '${body}' > ${SYNC_DIR}/${name}`);
  const t0 = Date.now();
  await waitFor(
    `${name} (written on ${from}) on ${to.join(", ")}`,
    async () => {
      for (const h of to) if ((await hostExec(h, `cat ${SYNC_DIR}/${name}`)).stdout !== body) return undefined;
      return true;
    },
    60_000,
    500,
  );
  return { name, ms: Date.now() - t0 };
}

/**
 * syncthing on `host` shares the folder with exactly `peers`: its config.xml's devices and the
 * running daemon's (the REST API's /rest/config/devices) are `host` and `peers` by name.
 */
async function assertSyncthingDevices(host: string, peers: readonly string[]): Promise<void> {
  const want = [host, ...peers].sort();
  const conf = await hostExecOk(host, "cat /var/lib/syncthing/config.xml");
  assert.deepEqual([...conf.matchAll(/<device id="[^"]+" name="([^"]+)"/g)].map((m) => m[1]).sort(), want, `${host}: config.xml's devices`);
  const live = await hostExecOk(
    host,
    "key=$(sed -n 's:.*<apikey>\\(.*\\)</apikey>.*:\\1:p' /var/lib/syncthing/config.xml); curl -fsS --max-time 5 -H \"X-API-Key: $key\" http://127.0.0.1:8384/rest/config/devices",
  );
  assert.deepEqual((JSON.parse(live) as { name: string }[]).map((d) => d.name).sort(), want, `${host}: the running syncthing's devices`);
}

/** Publishes 1..n to `queue` (a quorum queue) through `url`, each confirmed; throws unless every one is. */
async function publishConfirmed(url: string, queue: string, n: number): Promise<void> {
  const amqp = require("amqplib") as typeof import("amqplib");
  const conn = await amqp.connect(url, { timeout: 5_000 });
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
    for (let i = 1; i <= n; i++) ch.sendToQueue(queue, Buffer.from(String(i)), { persistent: true });
    await ch.waitForConfirms();
  } finally {
    await conn.close().catch(() => {});
  }
}

/** Lines of lab host `host`'s sshd log that record a login (nothing of haforge's reached a host without one). */
async function sshLogins(host: string): Promise<number> {
  const out = await hostExecOk(host, "grep -c 'Accepted publickey' /var/log/supervisor/sshd.log || true");
  return Number(out.trim() || "0");
}

interface ClusterStatus {
  running_nodes: string[];
  disk_nodes: string[];
}

/** Waits (120 s) until every one of `hosts` lists exactly `hosts` as its running RabbitMQ nodes. */
async function brokersRunningEverywhere(what: string, hosts: readonly string[]): Promise<void> {
  const want = hosts.map((x) => `rabbit@${x}`).join(",");
  await waitFor(
    what,
    async () => {
      for (const h of hosts) {
        const st = JSON.parse(
          await hostExecOk(h, "rabbitmqctl -q cluster_status --formatter json", { timeoutMs: 30_000 }),
        ) as ClusterStatus;
        if ([...st.running_nodes].sort().join(",") !== want) return undefined;
      }
      return true;
    },
    120_000,
    2_000,
  );
}

describe("e2e: membership changes on a 5-host lab (grow 3 → 5, shrink 5 → 3)", { skip: SKIP, timeout: 1_500_000 }, () => {
  const suite = labSuite({
    hosts: 5,
    tmpPrefix: "haforge-e2e-membership-",
    totalFigure: "membership-suite-total",
    figuresLabel: "e2e membership figures",
  });
  figure = suite.figure.bind(suite);
  let lab: LabInfo;
  let inv3: string;
  let inv5: string;
  const apply = (inventory: string) => applyProgram({ inventory, stateFile: suite.stateFile, secrets: SECRETS, timeoutMs: 600_000 });
  /** `up` of `inventory` while the samplers run on the members that stay (startSampling). */
  const sampledApply = async (inventory: string, stay: readonly string[]): Promise<{ r: ApplyResult; sampled: Sampled }> => {
    const sampler = startSampling(lab, stay);
    let r: ApplyResult;
    try {
      r = await apply(inventory);
    } catch (e) {
      await sampler.stop();
      throw e;
    }
    return { r, sampled: await sampler.stop() };
  };

  before(() => {
    lab = suite.lab;
    inv3 = membershipInventory(lab, FIRST, path.join(suite.tmp, "lab-3.yaml"));
    inv5 = membershipInventory(lab, ALL, path.join(suite.tmp, "lab-5.yaml"));
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

      const { r, sampled } = await sampledApply(inv5, FIRST);
      assert.ok(r.ok, describeFailure(r));
      figure(t, "membership-grow-duration", r.wallMs, " ms (3 → 5: RabbitMQ, keepalived, HAProxy, etcd, Patroni, Pacemaker)");

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
        assert.match(o.name, /-restart-(haproxy|keepalived|patroni|corosync|syncthing)-/, `${o.name} ran on a member that stays`);
        // syncthing reads config.xml only when it starts: the new devices are a restart (it
        // holds no quorum; its PID is not among daemonPids')
        if (/-restart-syncthing-/.test(o.name)) continue;
        if (/-restart-corosync-/.test(o.name))
          // the nodelist reloaded in place, lab4/lab5 offline until they start (corosync-apply.sh)
          assert.match(o.stdout ?? "", /reloadable change: corosync-cfgtool -R/, `${o.name}: ${o.stdout}`);
        else
          assert.match(o.stdout ?? "", /reloaded (haproxy|keepalived|patroni) \(running, definition unchanged\)/, `${o.name}: ${o.stdout}`);
      }

      // RabbitMQ: 5 running nodes, seen from every node.
      await brokersRunningEverywhere("5 running RabbitMQ nodes everywhere", ALL);
      // keepalived: every host lists the 4 others as unicast peers (or runs multicast, where the
      // peers need no list); HAProxy: on every balancer, the rabbitmq backend has 5 servers, all UP.
      await assertPeersAndBackends(lab, ALL);
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
          const replicas = c?.members.filter((m) => (m.role === "replica" || m.role === "sync_standby") && m.state !== "stopped") ?? [];
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

      // Pacemaker: 5 nodes online on every node, in corosync's nodelist with their ids, 5 votes, no fence
      const pcmk = await assertPacemakerMembers(ALL);
      // how long the new nodes took to be online: from the first of their corosync starts (the
      // step's start, on the run's clock) to the first sample of lab1's crm_mon -1 -s counting 5
      const joinStart = Math.min(
        ...r.operations.filter((o) => /^haforge-pacemaker-restart-corosync-lab[45]$/.test(o.name)).map((o) => o.startMs),
      );
      const seen5 = sampled.pacemaker.find((x) => x.host === "lab1" && x.online === 5);
      figure(
        t,
        "membership-grow-pacemaker-online",
        seen5
          ? `${seen5.atMs - joinStart} ms from lab4/lab5's first corosync start (${seen5.atMs} ms after the up began; lab1's crm_mon -1 -s)`
          : `${pcmk} ms after the up ended`,
      );

      // syncthing: the folder shared with lab4 and lab5 (every host lists the 4 others, in its
      // config.xml and its running daemon), a file written on lab1 appears on both
      for (const h of ALL)
        await assertSyncthingDevices(
          h,
          ALL.filter((x) => x !== h),
        );
      const synced = await syncedTo("lab1", ["lab4", "lab5"]);
      figure(t, "membership-grow-syncthing-propagation", synced.ms, " ms (lab1 → lab4, lab5)");

      // what was sampled during the grow
      await judgeSampled(t, "grow", sampled);
    },
  );

  it(
    "shrink 5 → 3 by the inventory only: lab4, lab5 leave every cluster the operators' way, then their daemons stop",
    { timeout: 900_000 },
    async (t) => {
      const before = Object.fromEntries(await Promise.all(FIRST.map(async (h) => [h, await daemonPids(h)] as const)));
      const { r, sampled } = await sampledApply(inv3, FIRST);
      assert.ok(r.ok, describeFailure(r));
      figure(t, "membership-shrink-duration", r.wallMs, " ms (5 → 3: RabbitMQ, keepalived, HAProxy, etcd, Patroni, Pacemaker)");

      // What ran on removal: each leaving member's membership delete, then its host's deprovisioning
      // (the daemons stop), one at a time within a service.
      const deletes = r.operations.filter((o) => o.op === "delete" && o.detail === "delete").sort((a, b) => a.startMs - b.startMs);
      figure(t, "membership-shrink-deletes", deletes.map((o) => `${o.name} ${o.startMs}-${o.endMs}`).join("; "));
      const names = deletes.map((o) => o.name);
      for (const h of ["lab4", "lab5"]) {
        for (const m of [`rabbitmq-member-${h}`, `etcd-member-${h}`, `pacemaker-lab-member-${h}`])
          assert.ok(
            names.some((n) => n.endsWith(m)),
            `${m} ran its delete: ${names.join(", ")}`,
          );
        for (const svc of ["rabbitmq", "vip", "haproxy", "store", "postgres", "pacemaker", "syncthing"])
          assert.ok(
            names.some((n) => new RegExp(`-${svc}-deprovision-${h}$`).test(n)),
            `${svc}'s deprovisioning of ${h} ran: ${names.join(", ")}`,
          );
      }
      // one at a time within each service (its membership chain); different services' clusters may overlap
      for (const svc of ["rabbitmq", "vip", "haproxy", "store", "postgres", "pacemaker", "syncthing"]) {
        const own = deletes.filter((o) => o.name.startsWith(`haforge-${svc}-`));
        for (let i = 1; i < own.length; i++)
          assert.ok(own[i]!.startMs >= own[i - 1]!.endMs, `${own[i]!.name} overlapped ${own[i - 1]!.name}`);
      }
      const at = (re: RegExp) => deletes.findIndex((o) => re.test(o.name));
      for (const h of ["lab4", "lab5"]) {
        assert.ok(at(new RegExp(`rabbitmq-member-${h}$`)) < at(new RegExp(`-rabbitmq-deprovision-${h}$`)), `${h}: forgotten, then stopped`);
        assert.ok(at(new RegExp(`etcd-member-${h}$`)) < at(new RegExp(`-store-deprovision-${h}$`)), `${h}: etcd member removed first`);
        // Pacemaker's order: the node stops first (Pacemaker, then corosync), then it is removed
        assert.ok(
          at(new RegExp(`-pacemaker-deprovision-${h}$`)) < at(new RegExp(`pacemaker-lab-member-${h}$`)),
          `${h}: Pacemaker stopped, then removed`,
        );
      }
      // The members that stay were not restarted.
      for (const h of FIRST) assert.deepEqual(await daemonPids(h), before[h], `${h}: its daemons were restarted (PIDs before/after)`);
      // The removed hosts run none of the services any more.
      for (const h of ["lab4", "lab5"]) {
        const left = await daemonPids(h);
        assert.deepEqual(
          Object.entries(left).filter(([, pid]) => pid !== "none"),
          [],
          `${h}: daemons still running after its removal`,
        );
      }
      // etcd: the removed members' data directories are set aside (a re-add of the name starts empty)
      for (const h of ["lab4", "lab5"])
        assert.match(
          await hostExecOk(h, `if [ -e ${ETCD_DATA_DIR} ]; then echo present; else ls -d ${ETCD_DATA_DIR}.removed-*; fi`),
          /\.removed-\d{8}T\d{6}Z$/m,
          `${h}: its etcd data directory was not set aside`,
        );

      // RabbitMQ: lab1..3 only, running and known (disk nodes), seen from every node that stays.
      for (const h of FIRST) {
        const st = JSON.parse(
          await hostExecOk(h, "rabbitmqctl -q cluster_status --formatter json", { timeoutMs: 30_000 }),
        ) as ClusterStatus;
        assert.deepEqual(
          [...st.running_nodes].sort(),
          FIRST.map((x) => `rabbit@${x}`),
          `${h}: running nodes`,
        );
        assert.deepEqual(
          [...st.disk_nodes].sort(),
          FIRST.map((x) => `rabbit@${x}`),
          `${h}: cluster members (forgotten nodes gone)`,
        );
      }
      // keepalived: every host that stays lists the 2 others; HAProxy: 3 rabbitmq servers, all UP.
      await assertPeersAndBackends(lab, FIRST);
      // Pacemaker: lab4/lab5 gone from the CIB and corosync's nodelist, 3 votes expected, no fence
      await assertPacemakerMembers(FIRST);
      // syncthing: lab4/lab5 unshared (lab1..3 list only each other), their syncthing stopped,
      // the folder still syncing among the 3
      for (const h of FIRST)
        await assertSyncthingDevices(
          h,
          FIRST.filter((x) => x !== h),
        );
      for (const h of ["lab4", "lab5"]) assert.equal((await hostExec(h, "pgrep -x syncthing")).code, 1, `${h}: syncthing still runs`);
      figure(t, "membership-shrink-syncthing-propagation", (await syncedTo("lab1", ["lab2", "lab3"])).ms, " ms (lab1 → lab2, lab3)");
      // etcd: 3 members, healthy on each.
      const members = JSON.parse(
        await hostExecOk("lab1", "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 member list -w json"),
      ) as { members: { name: string }[] };
      assert.deepEqual(members.members.map((m) => m.name).sort(), [...FIRST]);
      for (const h of FIRST)
        assert.match(await hostExecOk(h, "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 endpoint health 2>&1"), /is healthy/, h);
      // Patroni: the leader and 2 streaming replicas; the leavers' replication slots dropped.
      const addresses = lab.hosts.filter((h) => (FIRST as readonly string[]).includes(h.name)).map((h) => h.address);
      const leader = await waitFor(
        "a leader and 2 running replicas, no other member",
        async () => {
          const c = await patroniCluster(addresses);
          const l = c?.members.filter((m) => m.role === "leader") ?? [];
          const replicas = c?.members.filter((m) => (m.role === "replica" || m.role === "sync_standby") && m.state !== "stopped") ?? [];
          return l.length === 1 && replicas.length === 2 && c!.members.length === 3 ? l[0]!.name : undefined;
        },
        180_000,
        2_000,
      );
      const leaderAddr = lab.hosts.find((h) => h.name === leader.value)!.address;
      const slots = await waitFor(
        "the leavers' replication slots dropped",
        async () => {
          const q = await psql(
            leader.value,
            leaderAddr,
            5432,
            SECRETS.pgSuperuserPassword,
            "select coalesce(string_agg(slot_name, ',' order by slot_name), '') from pg_replication_slots",
          );
          return q.code === 0 && !/lab[45]/.test(q.out) ? q.out : undefined;
        },
        120_000,
        2_000,
      );
      figure(t, "membership-shrink-slots-left", slots.value || "(none)");
      const streaming = await psql(
        leader.value,
        leaderAddr,
        5432,
        SECRETS.pgSuperuserPassword,
        "select count(*) from pg_stat_replication where state = 'streaming'",
      );
      assert.equal(streaming.out, "2", "2 streaming replicas");

      await judgeSampled(t, "shrink", sampled);
    },
  );

  // Replace lab2 (issue 11): wiped under the same name (a fresh disk, new host keys), after the shrink.
  const REPLACE_QUEUE = "replace-e2e";
  const REPLACE_MESSAGES = 200;
  const REPLACE_ROWS = 500;
  const etcdKey = `/haforge-e2e/replace-${randomBytes(4).toString("hex")}`;
  const etcdValue = randomBytes(8).toString("hex");
  let beforeWipe: Record<string, Record<string, string>>;
  /** A file in the shared folder on lab1..3 before the wipe (lab2's copy goes with its disk). */
  let syncedBeforeWipe: { name: string; ms: number };
  /** lab2 as the wipe left it (its new host key). */
  let replaced: LabInfo["hosts"][number] | undefined;

  it(
    "replace lab2 (wiped: a fresh disk, a new host key): up with its old pin is refused on lab2's first connection, nothing written there, nothing restarted",
    { timeout: 600_000 },
    async (t) => {
      // data to find again on the replaced host once it rejoins (the next step)
      await hostExecOk("lab1", `ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 put ${etcdKey} ${etcdValue}`);
      const created = await psql(
        "lab1",
        KEEPALIVED_VIP,
        5000,
        SECRETS.pgSuperuserPassword,
        `create table replace_e2e (n int primary key); insert into replace_e2e select generate_series(1, ${REPLACE_ROWS});`,
      );
      assert.equal(created.code, 0, `rows through the VIP: ${created.err}`);
      await publishConfirmed(VIP_URL, REPLACE_QUEUE, REPLACE_MESSAGES);
      syncedBeforeWipe = await syncedTo("lab1", ["lab2", "lab3"]);
      beforeWipe = Object.fromEntries(await Promise.all(["lab1", "lab3"].map(async (h) => [h, await daemonPids(h)] as const)));

      const w = await labWipe("lab2");
      replaced = w.host;
      figure(t, "replace-wipe", w.ms, ` ms (stop ${w.stopMs} ms: ${w.stopped} processes; boot ${w.bootMs} ms)`);
      assert.notEqual(w.host.hostKey, lab.hosts.find((h) => h.name === "lab2")!.hostKey);
      assert.deepEqual(
        Object.entries(await daemonPids("lab2")).filter(([, pid]) => pid !== "none"),
        [],
        "lab2 runs none of the services after its wipe",
      );

      // `up` with the inventory as it was (lab2's old key pinned)
      const upper = path.join(readState()!.hosts.find((h) => h.name === "lab2")!.dir, "upper");
      const logins = await sshLogins("lab2");
      assert.ok(
        logins >= 1,
        "lab2's sshd log records no login at all (the wipe's own login proof is one): the count below would prove nothing",
      );
      const since = Date.now();
      await sleep(1_100); // mtimes have a 1 s resolution on some filesystems; nothing below may look "same second"
      const r = await apply(inv3);
      assert.equal(r.ok, false, "up with lab2's old pinned key must be refused");
      figure(t, "replace-old-pin-refused", r.wallMs, " ms");
      const mismatch = r.errors.filter((e) => /host key mismatch for 10\.213\.7\.12:22/.test(e));
      assert.ok(mismatch.length > 0, `no host key mismatch for lab2 among the errors:\n${describeFailure(r)}`);
      // nothing reached lab2: no login in its sshd's log, no file of its own disk changed (its logs aside)
      assert.equal(await sshLogins("lab2"), logins, "a login reached lab2 with its old pinned key");
      const found = await run("find", [upper, "-newermt", `@${Math.floor(since / 1000)}`, "-not", "-path", `${upper}/var/log/*`]);
      assert.equal(found.code, 0, found.stderr);
      const changed = found.stdout.split("\n").filter((f) => f && f !== upper && f !== `${upper}/var` && f !== `${upper}/var/log`);
      assert.deepEqual(changed, [], "files changed on lab2 by the refused up");
      const lab2Old = lab.hosts.find((h) => h.name === "lab2")!.address;
      const lab2Ops = r.operations.filter((x) => x.host === "lab2" || x.host === lab2Old || /-lab2$/.test(x.name));
      assert.ok(
        lab2Ops.some((o) => o.op === "failed" && /host key mismatch/.test(o.error ?? "")),
        "no lab2 step failed on its host key",
      );
      for (const o of lab2Ops) assert.ok(o.op === "failed" || o.op === "same", `${o.name} ran on lab2: ${o.op}`);
      // the other hosts: nothing restarted
      for (const h of ["lab1", "lab3"]) assert.deepEqual(await daemonPids(h), beforeWipe[h], `${h}: its daemons were restarted`);
    },
  );

  let invReplaced: string;

  it(
    "replace lab2, its new key pinned: up rejoins it to every cluster (no data lost, no manual step), lab1/lab3 not restarted",
    { timeout: 900_000 },
    async (t) => {
      assert.ok(replaced, "the refusal step wiped lab2");
      // the new key pinned the way the lab inventory pins keys: the host's key as the lab reads it
      const now: LabInfo = { ...lab, hosts: lab.hosts.map((h) => (h.name === "lab2" ? replaced! : h)) };
      invReplaced = membershipInventory(now, FIRST, path.join(suite.tmp, "lab-3-replaced.yaml"));
      const stay = ["lab1", "lab3"] as const;
      const { r, sampled } = await sampledApply(invReplaced, stay);
      assert.ok(r.ok, describeFailure(r));
      figure(
        t,
        "replace-up-duration",
        r.wallMs,
        " ms (lab2 wiped, its new key pinned: RabbitMQ, keepalived, HAProxy, etcd, Patroni, Pacemaker)",
      );
      figure(t, "replace-restart-actions", JSON.stringify(restartsByHost(r)));
      const lab2Addr = lab.hosts.find((h) => h.name === "lab2")!.address;
      const t0 = Date.now();

      // etcd: the key written before the wipe, read from lab2's own member (serializable: its local copy)
      const key = await waitFor(
        "lab2's etcd member holds the key written before the wipe",
        async () => {
          const out = await hostExecOk(
            "lab2",
            `ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 get --consistency=s --print-value-only ${etcdKey}`,
          );
          return out.trim() === etcdValue ? true : undefined;
        },
        60_000,
        1_000,
      );
      figure(t, "replace-etcd-key-local", key.ms, " ms after the up");
      // Patroni: lab2 streams from the leader, the 500 rows are on it
      const addresses = lab.hosts.filter((h) => (FIRST as readonly string[]).includes(h.name)).map((h) => h.address);
      const leader = await waitFor(
        "a Patroni leader",
        async () => (await patroniCluster(addresses))?.members.find((m) => m.role === "leader")?.name,
        60_000,
        2_000,
      );
      assert.notEqual(leader.value, "lab2", "lab2 (wiped) became the leader");
      const leaderAddr = lab.hosts.find((h) => h.name === leader.value)!.address;
      const streaming = await waitFor(
        "lab2 streaming from the leader",
        async () => {
          const q = await psql(
            leader.value,
            leaderAddr,
            5432,
            SECRETS.pgSuperuserPassword,
            "select count(*) from pg_stat_replication where application_name = 'lab2' and state = 'streaming'",
          );
          return q.code === 0 && q.out === "1" ? true : undefined;
        },
        180_000,
        2_000,
      );
      figure(t, "replace-patroni-streaming", streaming.ms, " ms after the up");
      const rows = await waitFor(
        `the ${REPLACE_ROWS} rows on lab2`,
        async () => {
          const q = await psql("lab2", lab2Addr, 5432, SECRETS.pgSuperuserPassword, "select count(*) from replace_e2e");
          return q.code === 0 && q.out === String(REPLACE_ROWS) ? true : undefined;
        },
        60_000,
        1_000,
      );
      assert.ok(rows.value);
      // RabbitMQ: lab2's broker is running in every node's cluster_status
      await brokersRunningEverywhere("rabbit@lab2 running in every node's cluster_status", FIRST);
      // Pacemaker: lab2 online again under its node id (2) on each node, 3 votes, no fence but
      // lab2's own (its wipe killed its daemons: with fencing on, the others fence a node lost
      // that way before they run without it)
      const pcmk = await assertPacemakerMembers(FIRST, ["lab2"]);
      figure(t, "replace-pacemaker-online", pcmk, " ms after the checks before it");
      // syncthing: lab2 pulled the folder back (the file written before the wipe) and syncs again
      await waitFor(
        `${syncedBeforeWipe.name} back on lab2`,
        async () => ((await hostExec("lab2", `test -s ${SYNC_DIR}/${syncedBeforeWipe.name}`)).code === 0 ? true : undefined),
        60_000,
        500,
      );
      for (const h of FIRST)
        await assertSyncthingDevices(
          h,
          FIRST.filter((x) => x !== h),
        );
      figure(t, "replace-syncthing-propagation", (await syncedTo("lab1", ["lab2"])).ms, " ms (lab1 → lab2, after the pull-back)");
      // the quorum queue's replica on lab2 holds the log: at the leader's commit index
      type QuorumRow = { "Node Name": string; "Raft State": string; "Commit Index": number };
      let last: QuorumRow[] = [];
      const caughtUp = await waitFor(
        "the quorum queue's replica on lab2 at the leader's commit index",
        async () => {
          const out = await hostExecOk("lab1", `rabbitmq-queues -q quorum_status ${REPLACE_QUEUE} -p tower --formatter json`, {
            timeoutMs: 30_000,
          });
          last = JSON.parse(out) as QuorumRow[];
          const l = last.find((x) => x["Raft State"] === "leader");
          const mine = last.find((x) => x["Node Name"] === "rabbit@lab2");
          return l && mine && l["Commit Index"] >= REPLACE_MESSAGES && mine["Commit Index"] === l["Commit Index"] ? true : undefined;
        },
        120_000,
        2_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(last)}`);
      });
      figure(t, "replace-queue-replica-caught-up", caughtUp.ms, ` ms after the up (${JSON.stringify(last)})`);
      // the messages published before the wipe, consumed through lab2's broker
      const got = await drain(amqpUrl(lab2Addr), REPLACE_QUEUE);
      assert.deepEqual(
        [...got].sort((a, b) => a - b),
        Array.from({ length: REPLACE_MESSAGES }, (_, i) => i + 1),
        "the messages published before the wipe, through lab2's broker",
      );
      figure(t, "replace-checks", Date.now() - t0, " ms (etcd key, streaming, rows, cluster_status, Pacemaker, syncthing, replica, drain)");
      // lab1 and lab3: every daemon kept its PID from before the wipe
      for (const h of stay) assert.deepEqual(await daemonPids(h), beforeWipe[h], `${h}: its daemons were restarted`);
      assert.deepEqual(
        Object.entries(await daemonPids("lab2")).filter(([, pid]) => pid === "none"),
        [],
        "lab2 runs every service again",
      );
      assert.equal((await hostExec("lab2", "pgrep -x syncthing")).code, 0, "lab2 runs syncthing again");
      // what was sampled during the up: VIP, brokers that stay, etcd quorum, 0 confirmed lost
      await judgeSampled(t, "replace", sampled);
    },
  );

  it("replace lab2, then up again: every step same, nothing written or run", { timeout: 600_000 }, async (t) => {
    assert.ok(invReplaced, "the replace step ran");
    const pids = Object.fromEntries(await Promise.all(FIRST.map(async (h) => [h, await daemonPids(h)] as const)));
    const r = await apply(invReplaced);
    assert.ok(r.ok, describeFailure(r));
    figure(t, "replace-second-up", r.wallMs, ` ms (${r.operations.length} steps)`);
    const changed = r.operations.filter((o) => o.op !== "same");
    assert.deepEqual(
      changed.map((o) => `${o.name}: ${o.op}`),
      [],
      "steps other than same after the replace",
    );
    assert.equal(r.writes, 0, "files written");
    assert.equal(r.commandRuns, 0, "commands run");
    for (const h of FIRST) assert.deepEqual(await daemonPids(h), pids[h], `${h}: its daemons were restarted`);
  });
});
