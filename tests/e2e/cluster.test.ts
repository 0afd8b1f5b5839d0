/**
 * End to end: the lab stack's program (index.ts) driven through the engine stand-in
 * (tests/e2e/harness → tests/engine: the program in its own process, every resource through the
 * SDK's dynamic-provider process over gRPC, a checkpoint between runs), provisioning real daemons
 * on 3 lab hosts: keepalived + HAProxy, RabbitMQ, Corosync/Pacemaker, etcd + Patroni, syncthing.
 * Then idempotence, a second operator (another clone, another HOME and key), a stack rename, bad
 * input, a rolling change, drift, the failovers, and last `destroy` (membership deletes one at a
 * time, the cluster sampled meanwhile). Root only (netns); run one such file at a time (docs/lab.md).
 * The inventory names the key as `~/.ssh/id_ed25519`: each operator's own, from their HOME.
 * Measured figures are printed as `e2e-figure NAME VALUE` lines (and as test diagnostics).
 * The lab is always torn down: in `after`, on signals and at process exit.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { before, describe, it } from "node:test";
import { hostExec, hostExecOk, type LabInfo } from "../../lab/exec";
import {
  applyProgram,
  cloneTo,
  cancelStack,
  describeFailure,
  destroyStack,
  labInventory,
  makeHome,
  renameStack,
  stateResources,
  textField,
  type ApplyResult,
  type Operation,
  type Operator,
  type RunSummary,
} from "./harness";
import { locksOf, type RunningOperation } from "../engine";
import { labSuite, type LabSuite } from "./harness/lab-suite";
import { amqpOk, holders, patroniCluster, pgWriter, primarySampler, psql, run, sleep, tcpOpen, waitFor } from "./harness/probes";
import { cibApplyCommand } from "../../src/services/pacemaker/render";
import { judgeRemovalSamples } from "./harness/removal-judge";

const SKIP = process.getuid?.() !== 0 ? "the lab needs root" : false;
const ROOT = path.join(__dirname, "..", "..");
const HOSTS = ["lab1", "lab2", "lab3"] as const;
const KEEPALIVED_VIP = "10.213.7.100";
const PACEMAKER_VIP = "10.213.7.101";
const ADVERT_INT_S = 1; // inventories/lab.yaml: keepalived advertInt default
const ETCD_HEARTBEAT_MS = 150; // invR: etcd's heartbeat-interval and election-timeout (defaults 100, 1000)
const ETCD_ELECTION_MS = 1500;
const KEEPALIVED_STARTUP_DELAY_S = 1; // invR: vrrp_startup_delay

// Test-only values for the inventory's `secret:` references (keepalived keeps 8 characters).
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

const ops = (r: RunSummary, re: RegExp) => r.operations.filter((o) => re.test(o.name) && o.op !== "same");
const span = (list: Operation[]) => Math.max(...list.map((o) => o.endMs)) - Math.min(...list.map((o) => o.startMs));

describe("e2e: the lab stack on 3 real hosts", { skip: SKIP, timeout: 1_800_000 }, () => {
  const suite = labSuite({ hosts: 3, tmpPrefix: "haforge-e2e-", totalFigure: "suite-total", figuresLabel: "e2e figures" });
  figure = suite.figure.bind(suite);
  let lab: LabInfo;
  let tmp: string;
  let invA: string; // lab.yaml with the lab's real host keys
  let invB: string; // invA with a RabbitMQ setting changed (rolls the brokers)
  let invC: string; // invB with a Postgres parameter that needs a restart
  let invD: string; // invC with HAProxy's and keepalived's check intervals changed (reloads)
  let invR: string; // invA with etcd timings and a keepalived startup delay (both need restarts)
  let invK: string; // invR with another RabbitMQ setting (the roll that is killed mid-way)
  let invBad: string; // invA with an error
  let stateFile: string;
  let stack = "lab";
  let first: ApplyResult | undefined;
  /** Operator A: this checkout, a HOME holding the lab's client key. Operator B: set up by its test. */
  let operatorA: Operator;
  const apply = (inventory: string, extra: Partial<Parameters<typeof applyProgram>[0]> = {}) =>
    applyProgram({ ...operatorA, inventory, stateFile, stack, secrets: SECRETS, timeoutMs: 420_000, ...extra });
  /** Every managed file of the state, as its host has it: content hash, mtime and ctime (ns), mode, owner. */
  const snapshot = async () => {
    const managed = [...stateResources(stateFile).values()].filter((r) => r.kind === "file");
    assert.ok(managed.length >= 60, `managed files in state: ${managed.length}`);
    const out: Record<string, string> = {};
    for (const h of HOSTS) {
      // by path: an apply may rewrite the checkpoint with its resources in another order
      const paths = managed
        .filter((r) => r.host === h)
        .map((r) => `'${r.path!}'`)
        .sort();
      // and no leftover temp files
      out[h] = await hostExecOk(
        h,
        `stat -c '%n %y %z %a %U' ${paths.join(" ")} && sha256sum ${paths.join(" ")} && find /etc /var/lib/haforge /usr/local/lib/haforge -name '*.haforge-tmp*' 2>/dev/null | wc -l`,
      );
    }
    return out;
  };
  /** Every supervisord program of every host with its PID: a restart changes it. */
  const daemons = async () => {
    const out: string[] = [];
    for (const h of HOSTS) {
      const st = await hostExec(h, "supervisorctl status");
      for (const l of st.stdout.split("\n").filter(Boolean)) out.push(`${h} ${l.replace(/,? uptime .*$/, "").replace(/\s+/g, " ")}`);
    }
    return out.sort();
  };
  /** The key fingerprint of every SSH login each host's sshd accepted so far (its log). */
  const sshLogins = async () => {
    const out: Record<string, string[]> = {};
    for (const h of HOSTS)
      out[h] = (await hostExec(h, "grep -o 'Accepted publickey for .*' /var/log/supervisor/sshd.log")).stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => l.trim().split(" ").pop()!);
    return out;
  };
  const loginsSince = (before: Record<string, string[]>, after: Record<string, string[]>) =>
    Object.fromEntries(HOSTS.map((h) => [h, after[h]!.slice(before[h]!.length)]));

  before(async () => {
    lab = suite.lab;
    tmp = suite.tmp;
    stateFile = suite.stateFile;
    const homeA = path.join(tmp, "home-a");
    makeHome(homeA, "", lab.privateKeyPath);
    operatorA = { cwd: ROOT, env: { ...process.env, HOME: homeA, SSH_AUTH_SOCK: "" } };
    const hosts = lab.hosts.map((h) => ({ name: h.name, address: h.address, hostKey: h.hostKey, privateKeyPath: "~/.ssh/id_ed25519" }));
    const source = path.join(ROOT, "inventories", "lab.yaml");
    invA = labInventory(source, hosts, path.join(tmp, "lab-a.yaml"));
    // Settings etcd and keepalived take at a start only (rolled by invR's apply); every later
    // inventory keeps them, or its apply would roll them back.
    const restartOnly = (inv: Record<string, Record<string, unknown>>) => {
      inv["quorumStore"]!["heartbeatIntervalMs"] = ETCD_HEARTBEAT_MS;
      inv["quorumStore"]!["electionTimeoutMs"] = ETCD_ELECTION_MS;
      inv["keepalived"]!["startupDelayS"] = KEEPALIVED_STARTUP_DELAY_S;
    };
    invR = labInventory(source, hosts, path.join(tmp, "lab-r.yaml"), restartOnly);
    invB = labInventory(source, hosts, path.join(tmp, "lab-b.yaml"), (inv) => {
      restartOnly(inv);
      inv["rabbitmq"]["partitionHandling"] = "autoheal";
    });
    invC = labInventory(source, hosts, path.join(tmp, "lab-c.yaml"), (inv) => {
      restartOnly(inv);
      inv["rabbitmq"]["partitionHandling"] = "autoheal";
      inv["postgres"]["spec"] = { pgParameters: { max_connections: 150 } };
    });
    invD = labInventory(source, hosts, path.join(tmp, "lab-d.yaml"), (inv) => {
      restartOnly(inv);
      inv["rabbitmq"]["partitionHandling"] = "autoheal";
      inv["postgres"]["spec"] = { pgParameters: { max_connections: 150 } };
      inv["haproxy"]["backends"][1]["checkInterval"] = "3s";
      inv["keepalived"]["instances"][0]["track"][0]["interval"] = 3;
    });
    invK = labInventory(source, hosts, path.join(tmp, "lab-k.yaml"), (inv) => {
      restartOnly(inv);
      inv["rabbitmq"]["partitionHandling"] = "ignore";
    });
    invBad = labInventory(source, hosts, path.join(tmp, "lab-bad.yaml"), (inv) => {
      inv["keepalived"]["instances"][0]["hosts"] = ["lab1", "lab2", "lab9"];
    });
  });

  it("first apply provisions every service on the 3 hosts", { timeout: 480_000 }, async (t) => {
    const t0 = Date.now();
    first = await apply(invA);
    assert.ok(first.ok, describeFailure(first));
    figure(t, "first-apply", Date.now() - t0, " ms");
    assert.ok(first.writes >= 60, `expected the whole tree written, got ${first.writes} writes`);
    const rabbit = ops(first, /^haforge-rabbitmq-(restart|rabbitmq-member)/);
    figure(t, "rabbitmq-cluster-formation", span(rabbit), " ms (first node start to last member seen)");
    const pcmk = ops(first, /^haforge-pacemaker-(restart-corosync|pacemaker-lab-member)/);
    figure(t, "pacemaker-online", span(pcmk), " ms (first corosync start to 3 members)");
  });

  it("keepalived: exactly one host holds the VIP", { timeout: 30_000 }, async () => {
    const { value } = await waitFor(
      "one VIP holder",
      async () => {
        const h = await holders(HOSTS, KEEPALIVED_VIP);
        return h.length === 1 ? h : undefined;
      },
      15_000,
      200,
    );
    // and it stays that way (no flapping between two masters)
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await holders(HOSTS, KEEPALIVED_VIP), value);
      await sleep(300);
    }
  });

  it("HAProxy: backends up through the VIP (AMQP to every broker, Postgres to the leader)", { timeout: 60_000 }, async () => {
    const [holder] = await holders(HOSTS, KEEPALIVED_VIP);
    assert.ok(holder);
    const stat = await waitFor(
      "rabbitmq servers UP in haproxy",
      async () => {
        const s = await hostExecOk(holder, "echo 'show stat' | socat -T 2 stdio UNIX-CONNECT:/run/haproxy-admin.sock");
        const rows = s.split("\n").map((l) => l.split(","));
        const rmq = rows.filter((r) => r[0] === "rabbitmq" && /^lab\d$/.test(r[1] ?? ""));
        return rmq.length === 3 && rmq.every((r) => r[17] === "UP") ? rows : undefined;
      },
      30_000,
    );
    const pg = stat.value.filter((r) => r[0] === "patroni" && /^lab\d$/.test(r[1] ?? ""));
    assert.equal(pg.filter((r) => r[17] === "UP").length, 1, "exactly the Patroni leader is UP (httpchk GET /primary)");
    const q = await waitFor(
      "psql through the VIP",
      async () => {
        const r = await psql("lab1", KEEPALIVED_VIP, 5000, SECRETS.pgSuperuserPassword, "select pg_is_in_recovery()");
        return r.code === 0 ? r.out : undefined;
      },
      30_000,
    );
    assert.equal(q.value, "f", "the VIP's :5000 reaches the primary");
  });

  it("RabbitMQ: 3 nodes, one cluster, our cookie; vhost and user work through the VIP", { timeout: 60_000 }, async () => {
    for (const h of HOSTS) {
      const cookie = await hostExecOk(h, "cat /var/lib/rabbitmq/.erlang.cookie");
      assert.equal(cookie.trim(), SECRETS.rabbitmqCookie, `${h} runs with our cookie`);
      const st = JSON.parse(await hostExecOk(h, "rabbitmqctl -q cluster_status --formatter json", { timeoutMs: 30_000 })) as {
        running_nodes: string[];
        cluster_name: string;
      };
      assert.deepEqual([...st.running_nodes].sort(), ["rabbit@lab1", "rabbit@lab2", "rabbit@lab3"], `${h} sees all 3 running`);
      assert.equal(st.cluster_name, "lab");
    }
    const url = (host: string, port: number) => `amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${host}:${port}/tower`;
    assert.equal(await amqpOk(url(KEEPALIVED_VIP, 5673)), true, "AMQP handshake as tower on vhost tower through VIP:5673");
    assert.equal(await amqpOk(`amqp://tower:wrong@${KEEPALIVED_VIP}:5673/tower`), false, "a wrong password is refused");
    assert.equal(await amqpOk(`amqp://guest:guest@${KEEPALIVED_VIP}:5673/`), false, "no guest access from outside");
  });

  it(
    "Corosync/Pacemaker: 3 nodes online and quorate, our CIB applied by diff/patch, the VIP resource running",
    { timeout: 90_000 },
    async () => {
      const q = await hostExec("lab1", "corosync-quorumtool -s");
      assert.equal(q.code, 0, q.stdout + q.stderr);
      assert.match(q.stdout, /Quorate:\s+Yes/);
      assert.match(q.stdout, /Total votes:\s+3/);
      const mon = await waitFor(
        "3 online nodes and lab-vip started",
        async () => {
          const s = await hostExecOk("lab1", "crm_mon -1 -r");
          return /Online: \[ lab1 lab2 lab3 \]/.test(s) && /lab-vip\s+\(ocf:heartbeat:IPaddr2\):\s+Started lab\d/.test(s) ? s : undefined;
        },
        60_000,
        1000,
      );
      const runsOn = /lab-vip\s+\(ocf:heartbeat:IPaddr2\):\s+Started (lab\d)/.exec(mon.value)![1];
      assert.deepEqual(await holders(HOSTS, PACEMAKER_VIP), [runsOn], "IPaddr2 really added the VIP on the node Pacemaker says");
      const cib = first!.operations.find((o) => o.name === "haforge-pacemaker-pacemaker-lab-cib");
      assert.ok(cib && cib.op === "create", "the CIB action ran");
      assert.match(cib.stdout ?? "", /cib-apply: CIB patched/);
      const live = await hostExecOk("lab1", "cibadmin --query");
      assert.match(live, /<primitive [^>]*id="lab-vip"/);
      assert.match(live, /name="stonith-enabled" value="false"/);
      // Idempotent by itself too: re-running the apply script finds nothing to change.
      assert.match(await hostExecOk("lab1", cibApplyCommand("/var/lib/haforge/pacemaker/lab/cib.xml")), /already up to date/);
    },
  );

  it("Patroni on a 3-member etcd: one leader, two streaming replicas", { timeout: 90_000 }, async () => {
    const etcd = await hostExecOk("lab1", "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 member list");
    assert.equal(
      etcd
        .trim()
        .split("\n")
        .filter((l) => /started/.test(l)).length,
      3,
      etcd,
    );
    const addresses = lab.hosts.map((h) => h.address);
    const c = await waitFor(
      "a leader and 2 replicas",
      async () => {
        const cl = await patroniCluster(addresses);
        const leaders = cl?.members.filter((m) => m.role === "leader") ?? [];
        const replicas = cl?.members.filter((m) => (m.role === "replica" || m.role === "sync_standby") && m.state !== "stopped") ?? [];
        return leaders.length === 1 && replicas.length === 2 ? leaders[0]!.name : undefined;
      },
      60_000,
      1000,
    );
    const leaderAddr = lab.hosts.find((h) => h.name === c.value)!.address;
    // Patroni 3.0.2 calls replicas "running": streaming is checked on the leader (docs/lab.md).
    const rep = await waitFor(
      "2 streaming replicas",
      async () => {
        const r = await psql(
          c.value,
          leaderAddr,
          5432,
          SECRETS.pgSuperuserPassword,
          "select count(*) from pg_stat_replication where state = 'streaming'",
        );
        return r.code === 0 && r.out === "2" ? r.out : undefined;
      },
      60_000,
      1000,
    );
    assert.equal(rep.value, "2");
  });

  it(
    "Patroni switchover behind HAProxy: sessions on the demoted leader are cut within inter × fall, none writes read-only; a new session writes on the new leader",
    { timeout: 240_000 },
    async (t) => {
      const addresses = lab.hosts.map((h) => h.address);
      const addrOf = (name: string) => lab.hosts.find((h) => h.name === name)!.address;
      const [holder] = await holders(HOSTS, KEEPALIVED_VIP);
      assert.ok(holder);
      const leader0 = (await patroniCluster(addresses))!.members.find((m) => m.role === "leader")!.name;
      const c = await psql(
        leader0,
        addrOf(leader0),
        5432,
        SECRETS.pgSuperuserPassword,
        "create table e2e_cut (sid int, at timestamptz default now())",
      );
      assert.equal(c.code, 0, c.err);
      /**
       * One switchover with a session held on the leader and a new session through HAProxy every
       * 100 ms. Patroni demotes by a fast stop of the leader's PostgreSQL (which ends the held
       * session itself) and starts it again as a replica; until HAProxy's check marks it down,
       * HAProxy still sends new sessions there. Those are the ones `on-marked-down
       * shutdown-sessions` must cut. Returns how many landed there, with the round's figures.
       */
      const round = async () => {
        // In synchronous mode only the synchronous standby may be promoted.
        const { leader, candidate } = (
          await waitFor(
            "a leader and a sync standby",
            async () => {
              const cl = await patroniCluster(addresses);
              const l = cl?.members.find((m) => m.role === "leader")?.name;
              const s = cl?.members.find((m) => m.role === "sync_standby")?.name;
              return l && s ? { leader: l, candidate: s } : undefined;
            },
            30_000,
            1000,
          )
        ).value;
        // The bound comes from the rendered check settings of the Postgres frontend's backend.
        const check = patroniCheck(await hostExecOk(holder, "cat /etc/haproxy/haproxy.cfg"), leader);
        const boundMs = check.interMs * check.fall + CUT_MARGIN_MS;
        const via = HOSTS.find((h) => h !== leader && h !== candidate)!;
        const client = pgSessionWatcher(via, KEEPALIVED_VIP, 5000, SECRETS.pgSuperuserPassword, 120);
        let switchedAt = 0;
        let returnedAt = 0;
        let events: SessionEvent[];
        try {
          await waitFor("the held session open", client.held, 20_000, 200);
          await sleep(1_000);
          switchedAt = Date.now();
          const sw = await run("curl", [
            "-sS",
            "--max-time",
            "60",
            "-XPOST",
            "-d",
            JSON.stringify({ leader, candidate }),
            `http://${addrOf(leader)}:8008/switchover`,
          ]);
          returnedAt = Date.now();
          assert.equal(sw.code, 0, sw.stderr);
          assert.match(sw.stdout, /switched over/i, sw.stdout);
          // past the bound: a session HAProxy did not cut by then is still open at the end
          await sleep(Math.max(0, returnedAt + boundMs + 1_000 - Date.now()));
        } finally {
          await client.stop();
          events = await client.done;
        }
        const sessions = events.filter((e) => e.ev === "session");
        const cutOf = (sid: number) => events.find((e) => e.ev === "cut" && e.sid === sid);
        const writeOf = (sid: number) => events.find((e) => e.ev === "write" && e.sid === sid);
        const log = JSON.stringify(events.filter((e) => e.ev !== "session" || e.rec || e.atMs >= switchedAt).slice(0, 80));
        const held = sessions.find((e) => e.sid === 0);
        assert.ok(held, `no held session: ${log}`);
        assert.deepEqual([held.rec, held.addr], [false, addrOf(leader)], "the held session is on the leader");
        // Every session held on the old leader (session 0, and those HAProxy sent there once it was
        // read-only): cut within the bound; a write on it then fails on a closed connection; none
        // still open at the end, no write anywhere refused as read-only.
        const window = sessions.filter((e) => e.sid !== 0 && e.kept && e.rec && e.addr === addrOf(leader) && e.atMs >= switchedAt);
        for (const s of [held, ...window]) {
          const cut = cutOf(s.sid!);
          assert.ok(
            cut,
            `session ${s.sid} on ${leader} (opened ${s.atMs - returnedAt} ms after the switchover returned) was not cut; a write on it at the end: ${JSON.stringify(writeOf(s.sid!))}; ${log}`,
          );
          assert.ok(
            cut.atMs <= returnedAt + boundMs,
            `session ${s.sid} cut ${cut.atMs - returnedAt} ms after the switchover returned (bound ${boundMs} ms)`,
          );
          const w = writeOf(s.sid!);
          assert.ok(w && w.result === "error" && w.pgcode === null, `session ${s.sid}: a write after the cut: ${JSON.stringify(w)}`);
        }
        assert.deepEqual(
          events.filter((e) => e.ev === "write" && e.pgcode === "25006"),
          [],
          "a write ran on a read-only node",
        );
        assert.deepEqual(
          events.filter((e) => e.ev === "open-at-end"),
          [],
          "a session still open at the end",
        );
        const wrote = events.find(
          (e) => e.ev === "write" && e.result === "ok" && e.atMs >= switchedAt && addrOfSession(events, e.sid!) === addrOf(candidate),
        );
        assert.ok(wrote, `no new session wrote on ${candidate}: ${log}`);
        // the old leader back as a streaming replica before the next round or step
        await waitFor(
          "a leader and 2 streaming replicas",
          async () => {
            const r = await psql(
              candidate,
              addrOf(candidate),
              5432,
              SECRETS.pgSuperuserPassword,
              "select count(*) from pg_stat_replication where state = 'streaming'",
            );
            return r.out === "2" ? true : undefined;
          },
          60_000,
          1000,
        );
        const since = (at: number) => `${at - returnedAt} ms after the switchover returned (${at - switchedAt} ms after it was requested)`;
        const heldCut = cutOf(0)!;
        const cuts = window.map((s) => cutOf(s.sid!)!.atMs);
        return {
          window: window.length,
          figures: {
            "patroni-cut-check": `inter ${check.interMs} ms, fall ${check.fall}, bound ${boundMs} ms; on-marked-down shutdown-sessions ${check.shutdownSessions ? "rendered" : "NOT rendered"}`,
            "patroni-cut-switchover": `${returnedAt - switchedAt} ms (${leader} -> ${candidate}, Patroni's REST /switchover)`,
            "patroni-cut-held": `${since(heldCut.atMs)}: ${heldCut.msg?.split("\n")[0]}`,
            "patroni-cut-demoted-sessions": window.length
              ? `${window.length} sessions opened on read-only ${leader} ${Math.min(...window.map((s) => s.atMs)) - returnedAt}..${Math.max(...window.map((s) => s.atMs)) - returnedAt} ms after the switchover returned, cut ${Math.min(...cuts) - returnedAt}..${Math.max(...cuts) - returnedAt} ms after it: ${cutOf(window[0]!.sid!)!.msg?.split("\n")[0]}`
              : `none opened on read-only ${leader}`,
            "patroni-cut-new-leader-write": since(wrote.atMs),
          },
        };
      };
      // A round exercises the cut only if HAProxy sent a session to the old leader before marking
      // it down (its restart as a replica has to beat inter × fall): switch over again, back and
      // forth, until one did, within a deadline.
      const deadline = Date.now() + 120_000;
      let rounds = 0;
      let last: Awaited<ReturnType<typeof round>>;
      do {
        rounds++;
        last = await round();
        for (const [k, v] of Object.entries(last.figures)) figure(t, k, `${v}${rounds > 1 ? ` (round ${rounds})` : ""}`);
      } while (last.window === 0 && Date.now() < deadline);
      assert.ok(last.window > 0, `in ${rounds} switchovers no session reached the demoted leader before HAProxy marked it down`);
    },
  );

  it("syncthing: a file written on lab1 appears on lab2; the post-apply check used /rest/db/completion", { timeout: 60_000 }, async (t) => {
    for (const h of ["lab1", "lab2"]) {
      const op = first!.operations.find((o) => o.name === `haforge-syncthing-syncthing-in-sync-${h}`);
      assert.ok(op, `in-sync action for ${h}`);
      assert.match(op.stdout ?? "", /syncthing: in sync/);
      const inputs = stateResources(stateFile).get(`haforge-syncthing-syncthing-in-sync-${h}`)!.inputs;
      assert.match(textField(inputs, "create"), /\/rest\/db\/completion\?folder=lab-shared&device=/);
    }
    const name = `e2e-${randomBytes(4).toString("hex")}.txt`;
    const body = `written on lab1 at ${new Date().toISOString()}\n`;
    await hostExecOk("lab1", `printf '%s' '${body}' > /srv/lab-shared/${name}`);
    const t0 = Date.now();
    await waitFor(
      `${name} on lab2`,
      async () => ((await hostExec("lab2", `cat /srv/lab-shared/${name}`)).stdout === body ? true : undefined),
      40_000,
      200,
    );
    figure(t, "syncthing-propagation", Date.now() - t0, " ms");
  });

  it("second apply with unchanged inputs writes no file and restarts nothing", { timeout: 300_000 }, async (t) => {
    const r = await apply(invA);
    assert.ok(r.ok, describeFailure(r));
    figure(t, "second-apply", r.wallMs, " ms");
    assert.equal(
      r.writes,
      0,
      `files written: ${ops(r, /./)
        .map((o) => o.name)
        .join(", ")}`,
    );
    assert.equal(
      r.commandRuns,
      0,
      `commands run: ${ops(r, /./)
        .filter((o) => o.kind === "command")
        .map((o) => o.name)
        .join(", ")}`,
    );
    assert.ok(r.registered >= 100 && r.operations.every((o) => o.op === "same"));
  });

  it(
    "a second operator (another clone, another HOME, their own key and known_hosts) runs up: no change, nothing run, no file touched",
    { timeout: 420_000 },
    async (t) => {
      const homeB = path.join(tmp, "home-b");
      const pubB = makeHome(homeB, lab.hosts.map((h) => `${h.address} ${h.hostKey}\n`).join(""));
      for (const h of HOSTS) await hostExecOk(h, `echo '${pubB}' >> /root/.ssh/authorized_keys`);
      const fpB = execFileSync("ssh-keygen", ["-lf", path.join(homeB, ".ssh", "id_ed25519.pub")], { encoding: "utf8" }).split(" ")[1]!;
      const fpA = execFileSync("ssh-keygen", ["-lf", path.join(tmp, "home-a", ".ssh", "id_ed25519.pub")], { encoding: "utf8" }).split(
        " ",
      )[1]!;
      assert.notEqual(fpB, fpA);
      const cloneB = path.join(tmp, "ci", "work", "checkout");
      cloneTo(cloneB);
      const files0 = await snapshot();
      const daemons0 = await daemons();
      const logins0 = await sshLogins();
      const r = await applyProgram({
        cwd: cloneB,
        env: { ...process.env, HOME: homeB, SSH_AUTH_SOCK: "" },
        inventory: invA,
        stateFile,
        stack,
        secrets: SECRETS,
        timeoutMs: 400_000,
      });
      assert.ok(r.ok, describeFailure(r));
      figure(t, "second-operator-apply", r.wallMs, " ms");
      assert.deepEqual(
        ops(r, /./).map((o) => `${o.op} ${o.name}`),
        [],
        "every step is Same",
      );
      assert.ok(r.registered >= 100, `registered ${r.registered}`);
      assert.equal(r.writes + r.commandRuns, 0);
      assert.equal((r.rpcs["create"] ?? 0) + (r.rpcs["update"] ?? 0) + (r.rpcs["delete"] ?? 0), 0, JSON.stringify(r.rpcs));
      assert.deepEqual(await daemons(), daemons0, "no daemon restarted (supervisord PIDs)");
      assert.deepEqual(await snapshot(), files0, "no managed file touched (hash, mtime, ctime, mode, owner)");
      // B's provider read the live files over SSH with B's own key, on every host
      const logins = loginsSince(logins0, await sshLogins());
      for (const h of HOSTS) {
        assert.ok(logins[h]!.length > 0, `${h}: no SSH login by B`);
        assert.deepEqual([...new Set(logins[h])], [fpB], `${h}: logins with a key other than B's`);
      }
    },
  );

  it("a stack rename (checkpoint moved, URNs rewritten) changes nothing on the hosts", { timeout: 420_000 }, async (t) => {
    const renamed = path.join(path.dirname(stateFile), "lab-renamed.json");
    renameStack(stateFile, renamed, stack, "lab-renamed");
    stateFile = renamed;
    stack = "lab-renamed";
    assert.ok([...stateResources(stateFile).values()].every((r) => r.urn.startsWith("urn:pulumi:lab-renamed::")));
    const files0 = await snapshot();
    const daemons0 = await daemons();
    const r = await apply(invA);
    assert.ok(r.ok, describeFailure(r));
    figure(t, "renamed-stack-apply", r.wallMs, " ms");
    assert.deepEqual(
      ops(r, /./).map((o) => `${o.op} ${o.name}`),
      [],
      "every step is Same",
    );
    assert.ok(r.registered >= 100);
    assert.ok(r.operations.every((o) => o.urn.startsWith("urn:pulumi:lab-renamed::")));
    assert.deepEqual(await daemons(), daemons0, "no daemon restarted");
    assert.deepEqual(await snapshot(), files0, "no managed file touched");
  });

  it("a broken inventory stops before any host is touched", { timeout: 120_000 }, async () => {
    const before = await snapshot();
    const logins = await sshLogins();
    const r = await apply(invBad);
    assert.equal(r.ok, false);
    assert.match(r.errors.join("\n"), /error\(s\); nothing was changed on any host/);
    assert.match(r.stderr, /lab9/);
    assert.deepEqual(loginsSince(logins, await sshLogins()), { lab1: [], lab2: [], lab3: [] }, "no SSH login on any host");
    assert.deepEqual(r.rpcs, {}, "the provider process was never asked anything");
    assert.equal(r.writes + r.commandRuns, 0);
    assert.equal(r.operations.filter((o) => o.kind === "file" || o.kind === "command").length, 0, "no host resource was even registered");
    assert.deepEqual(await snapshot(), before);
  });

  it(
    "etcd and keepalived: settings they take at a start only roll each one host at a time in one apply; etcd keeps quorum with at most one member down, the VIP answers",
    { timeout: 300_000 },
    async (t) => {
      const pidsOf = async (svc: string) =>
        Object.fromEntries(
          await Promise.all(HOSTS.map(async (h) => [h, (await hostExec(h, `supervisorctl pid ${svc}`)).stdout.trim()] as const)),
        );
      const etcd0 = await pidsOf("etcd");
      const keepalived0 = await pidsOf("keepalived");
      // etcd: a quorum read through each member, about every 300 ms; the VIP (HAProxy's stats port) every 100 ms
      const etcdSamples: { atMs: number; down: string[] }[] = [];
      const probes: { atMs: number; ok: boolean }[] = [];
      let sampling = true;
      const etcdSampler = (async () => {
        for (let i = 0; sampling && i < 1000; i++) {
          const atMs = Date.now();
          const ok = await Promise.all(
            HOSTS.map((h) =>
              hostExec(
                h,
                "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=2s --command-timeout=3s endpoint health",
                {
                  timeoutMs: 8_000,
                },
              ).then((x) => x.code === 0),
            ),
          );
          etcdSamples.push({ atMs, down: HOSTS.filter((_, k) => !ok[k]) });
          await sleep(300);
        }
      })();
      const vipPoller = (async () => {
        for (let i = 0; sampling && i < 3000; i++) {
          probes.push({ atMs: Date.now(), ok: await tcpOpen(KEEPALIVED_VIP, 8404, 1_000) });
          await sleep(100);
        }
      })();
      let r: ApplyResult;
      try {
        r = await apply(invR);
        // a VIP handed back to the restarted master settles within a few adverts
        await sleep(2_000);
      } finally {
        sampling = false;
        await Promise.all([etcdSampler, vipPoller]);
      }
      assert.ok(r.ok, describeFailure(r));
      figure(t, "etcd-keepalived-roll", r.wallMs, " ms (the whole apply)");
      // one restart per host and service, each after the previous one of its group ended
      const chain = (svc: string) => ops(r, new RegExp(`-restart-${svc}-lab\\d$`)).sort((a, b) => a.startMs - b.startMs);
      const etcdSteps = chain("etcd");
      const keepalivedSteps = chain("keepalived");
      const hostOf = (o: Operation) => /(lab\d)$/.exec(o.name)![1]!;
      assert.deepEqual(etcdSteps.map(hostOf), ["lab1", "lab2", "lab3"], "etcd rolls in the plan's order");
      assert.deepEqual(keepalivedSteps.map(hostOf), ["lab3", "lab2", "lab1"], "keepalived: backups first, the preferred master last");
      for (const steps of [etcdSteps, keepalivedSteps])
        for (let i = 1; i < steps.length; i++)
          assert.ok(steps[i]!.startMs >= steps[i - 1]!.endMs, `${steps[i]!.name} started before ${steps[i - 1]!.name} ended`);
      for (const o of keepalivedSteps)
        assert.doesNotMatch(o.stdout ?? "", /reloaded keepalived/, `${o.name} reloaded instead of restarting`);
      // every member restarted (a new PID), and took the new settings
      const etcd1 = await pidsOf("etcd");
      const keepalived1 = await pidsOf("keepalived");
      for (const h of HOSTS) {
        assert.notEqual(etcd1[h], etcd0[h], `${h}: etcd not restarted`);
        assert.notEqual(keepalived1[h], keepalived0[h], `${h}: keepalived not restarted`);
        assert.match(
          await hostExecOk(h, "cat /etc/keepalived/keepalived.conf"),
          new RegExp(`vrrp_startup_delay ${KEEPALIVED_STARTUP_DELAY_S}\\n`),
        );
        assert.match(await hostExecOk(h, "tail -c 200000 /var/log/supervisor/etcd*.log"), new RegExp(`heartbeat = ${ETCD_HEARTBEAT_MS}ms`));
      }
      // etcd: never more than one member without a quorum read, and quorum at every sample
      const during = etcdSamples.filter((sm) => sm.atMs >= etcdSteps[0]!.startMs - 1_000);
      const downCounts = countBy(during.map((sm) => sm.down.length));
      figure(t, "etcd-roll-samples", `${during.length} samples, members down per sample ${JSON.stringify(downCounts)}`);
      assert.ok(during.length >= 5, `too few etcd samples: ${during.length}`);
      assert.deepEqual(
        during.filter((sm) => sm.down.length > 1),
        [],
        "two etcd members down at once",
      );
      let outage = 0;
      let start: number | undefined;
      for (const p of probes) {
        if (!p.ok) start ??= p.atMs;
        else if (start !== undefined) {
          outage = Math.max(outage, p.atMs - start);
          start = undefined;
        }
      }
      const failed = probes.filter((p) => !p.ok).length;
      figure(t, "etcd-keepalived-roll-vip-outage", outage, ` ms longest (${failed} of ${probes.length} probes failed)`);
      assert.ok(probes.length >= 50, `too few VIP probes: ${probes.length}`);
      assert.equal(start, undefined, "the VIP answers at the end");
    },
  );

  it(
    "two applies on one stack at once: the second is refused by the stack lock before it runs anything; the first completes",
    { timeout: 240_000 },
    async (t) => {
      const files0 = await snapshot();
      const daemons0 = await daemons();
      const lockOf = { cwd: ROOT, stack, checkpointFile: stateFile };
      let holder: RunningOperation | undefined;
      // The first: the inventory as applied (no change). The second: invA, which would roll etcd and keepalived back.
      const pFirst = apply(invR, { onStarted: (x) => (holder = x) });
      await waitFor("the first apply's stack lock", async () => (locksOf(lockOf).length === 1 ? true : undefined), 60_000, 50);
      const second = await apply(invA);
      const first = await pFirst;
      assert.ok(first.ok, describeFailure(first));
      figure(t, "concurrent-applies", first.wallMs, " ms (the first apply; the second refused)");
      assert.equal(second.ok, false, "the second apply is refused");
      assert.match(
        second.errors.join("\n"),
        /the stack is currently locked by 1 lock\(s\)\. Either wait for the other process\(es\) to end or delete the lock file with `pulumi cancel`\./,
      );
      assert.match(second.errors.join("\n"), new RegExp(`\\(pid ${holder!.pid}\\)`), "the lock names the first apply's process");
      assert.deepEqual(second.rpcs, {}, "the refused apply's provider was never asked anything");
      assert.equal(second.operations.length, 0, "no step of the refused apply");
      assert.equal(first.writes + first.commandRuns, 0, "the first apply had nothing to change");
      assert.deepEqual(locksOf(lockOf), [], "no lock left");
      assert.deepEqual(await daemons(), daemons0, "no daemon restarted");
      assert.deepEqual(await snapshot(), files0, "no managed file touched: nothing of the second apply");
    },
  );

  it(
    "kill -9 of the apply in the middle of a RabbitMQ roll: 2 brokers answer throughout; after cancel the next up finishes the roll; no broker restarts twice",
    { timeout: 600_000 },
    async (t) => {
      const url = (addr: string) => `amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${addr}:5672/tower`;
      const pidOf = async (h: string) => Number((await hostExec(h, "supervisorctl pid rabbitmq-server")).stdout.trim()) || 0;
      const before = Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h, await pidOf(h)] as const)));
      // every broker PID each host showed, and how many brokers answered AMQP, about once a second
      const seen = Object.fromEntries(HOSTS.map((h) => [h, new Set<number>()]));
      const now = Object.fromEntries(HOSTS.map((h) => [h, before[h]!]));
      const samples: number[] = [];
      let sampling = true;
      const sampler = (async () => {
        for (let i = 0; sampling && i < 1200; i++) {
          const [pids, up] = await Promise.all([
            Promise.all(HOSTS.map(pidOf)),
            Promise.all(lab.hosts.map((h) => amqpOk(url(h.address), 3_000))),
          ]);
          HOSTS.forEach((h, j) => {
            now[h] = pids[j]!;
            if (pids[j]) seen[h]!.add(pids[j]);
          });
          samples.push(up.filter(Boolean).length);
          await sleep(500);
        }
      })();
      let killed: ApplyResult | undefined;
      let resumed: ApplyResult | undefined;
      let victim: string | undefined;
      // the brokers whose restart step the killed apply finished (their step's line in the engine's log)
      const stepsDone: string[] = [];
      try {
        let running: RunningOperation | undefined;
        const pKilled = apply(invK, {
          onStarted: (r) => (running = r),
          log: (l) => {
            const m = /update .*::haforge-rabbitmq-restart-rabbitmq-server-(lab\d)$/.exec(l);
            if (m) stepsDone.push(m[1]!);
          },
        });
        // kill once the first broker's restart step finished and the next one's restart runs on its
        // host (its broker stopped or restarted, its step not finished)
        victim = (
          await waitFor(
            "a second broker's restart running",
            async () => (stepsDone.length ? HOSTS.find((h) => !stepsDone.includes(h) && now[h] !== before[h]) : undefined),
            300_000,
            100,
          )
        ).value;
        running!.kill();
        killed = await pKilled;
        assert.equal(killed.ok, false, "the killed apply failed");
        // the killed apply's lock refuses the next one until `pulumi cancel`
        const refused = await apply(invK);
        assert.equal(refused.ok, false);
        assert.match(refused.errors.join("\n"), /the stack is currently locked by 1 lock\(s\)/);
        assert.equal(refused.rpcs["create"] ?? 0, 0);
        assert.equal(cancelStack({ stateFile, stack }), 1);
        // the restart the kill interrupted goes on on its host (a remote command outlives its SSH client)
        // (an operator's next `up` comes later than the test's would: wait until that command ended)
        const ended = await waitFor(
          `${victim}'s interrupted restart command to end`,
          async () => ((await hostExec(victim!, "pgrep -f 'applied/[r]abbitmq-server'")).code === 1 ? true : undefined),
          240_000,
        );
        t.diagnostic(`${victim}'s interrupted restart command ended ${ended.ms} ms after the kill`);
        resumed = await apply(invK);
        assert.ok(resumed.ok, describeFailure(resumed));
      } finally {
        sampling = false;
        await sampler;
      }
      figure(t, "rabbitmq-roll-resumed-up", resumed.wallMs, " ms");
      const min = Math.min(...samples);
      figure(
        t,
        "rabbitmq-roll-killed-samples",
        `${samples.length} samples, min answering ${min}, counts ${JSON.stringify(countBy(samples))}`,
      );
      assert.ok(samples.length >= 10, `too few samples: ${samples.length}`);
      assert.ok(min >= 2, `a sample saw only ${min} broker(s) answering`);
      for (const h of HOSTS) {
        assert.match(await hostExecOk(h, "cat /etc/rabbitmq/rabbitmq.conf"), /cluster_partition_handling = ignore/);
        const after = await pidOf(h);
        assert.notEqual(after, before[h], `${h}'s broker was restarted for the change`);
        assert.deepEqual(
          [...seen[h]!].filter((p) => p !== before[h]),
          [after],
          `${h}: one restart, one new broker PID (seen ${[...seen[h]!].join(", ")}; victim ${victim})`,
        );
      }
      // the restart that finished before the kill is a Same step now; the interrupted one ran its command again
      const doneBefore = stepsDone.filter((h) => h !== victim);
      assert.ok(doneBefore.length >= 1, "the killed apply finished a restart before the kill");
      const again = ops(resumed, /^haforge-rabbitmq-restart-rabbitmq-server-/);
      for (const h of doneBefore) assert.ok(!again.some((o) => o.host === h), `${h}'s finished restart is not run again`);
      const victimRun = again.find((o) => o.host === victim);
      t.diagnostic(
        `killed during ${victim}'s restart; resumed: ${again.map((o) => `${o.host} ${o.detail}: ${(o.stdout ?? "").trim().slice(0, 120)}`).join(" | ")}`,
      );
      assert.ok(victimRun, `the interrupted restart (${victim}) ran again`);
    },
  );

  it("a RabbitMQ config change rolls node by node; at least 2 nodes run at every sample", { timeout: 420_000 }, async (t) => {
    const url = (addr: string) => `amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${addr}:5672/tower`;
    const samples: { atMs: number; running: number }[] = [];
    let sampling = true;
    const t0 = Date.now();
    const sampler = (async () => {
      for (let i = 0; sampling && i < 2000; i++) {
        const up = await Promise.all(lab.hosts.map((h) => amqpOk(url(h.address), 3_000)));
        samples.push({ atMs: Date.now() - t0, running: up.filter(Boolean).length });
        await sleep(500);
      }
    })();
    let r: ApplyResult;
    try {
      r = await apply(invB);
    } finally {
      sampling = false;
      await sampler;
    }
    assert.ok(r.ok, describeFailure(r));
    figure(t, "rabbitmq-roll", r.wallMs, " ms");
    const restarts = ops(r, /^haforge-rabbitmq-restart-rabbitmq-server-/).sort((a, b) => a.startMs - b.startMs);
    assert.equal(restarts.length, 3, "each broker restarted once");
    for (let i = 1; i < restarts.length; i++)
      assert.ok(restarts[i]!.startMs >= restarts[i - 1]!.endMs, `${restarts[i]!.name} started before ${restarts[i - 1]!.name} was healthy`);
    const min = Math.min(...samples.map((s) => s.running));
    figure(
      t,
      "rabbitmq-roll-samples",
      `${samples.length} samples, min running ${min}, counts ${JSON.stringify(countBy(samples.map((s) => s.running)))}`,
    );
    assert.ok(samples.length >= 10, `too few samples: ${samples.length}`);
    assert.ok(min >= 2, `a sample saw only ${min} running node(s): ${JSON.stringify(samples.filter((s) => s.running < 2))}`);
    assert.ok(
      samples.some((s) => s.running === 2),
      "the sampler never saw a node down: did anything roll?",
    );
    for (const h of HOSTS) assert.match(await hostExecOk(h, "cat /etc/rabbitmq/rabbitmq.conf"), /cluster_partition_handling = autoheal/);
    // nothing but the brokers restarted
    assert.deepEqual(
      ops(r, /-restart-/).filter((o) => !/rabbitmq/.test(o.name)),
      [],
    );
  });

  it("an out-of-band edit is detected and not silently overwritten", { timeout: 120_000 }, async () => {
    const file = "/etc/rabbitmq/rabbitmq-env.conf";
    await hostExecOk("lab2", `echo '# edited by hand' >> ${file}`);
    const edited = await hostExecOk("lab2", `cat ${file}`);
    const r = await apply(invB);
    assert.equal(r.ok, false, "the apply must refuse");
    assert.match(r.errors.join("\n"), new RegExp(`lab2.*${file.replace(/\./g, "\\.")}`));
    assert.match(r.errors.join("\n"), /changed|edited|out.of.band|refus/i);
    assert.equal(await hostExecOk("lab2", `cat ${file}`), edited, "the edit is still there");
    assert.equal(r.writes, 0);
    assert.equal(r.commandRuns, 0, "nothing restarted");
  });

  it(`keepalived: kill -9 the holder's keepalived; another host holds the VIP within 3×advert_int+1 s`, { timeout: 60_000 }, async (t) => {
    const [holder] = await holders(HOSTS, KEEPALIVED_VIP);
    assert.ok(holder);
    const others = HOSTS.filter((h) => h !== holder);
    // All keepalived processes of that host (its own PID namespace: pidof sees only its own).
    await hostExecOk(holder, "kill -9 $(pidof keepalived)");
    const t0 = Date.now();
    const r = await waitFor(
      "another VIP holder",
      async () => {
        const h = await holders(others, KEEPALIVED_VIP);
        return h.length ? h : undefined;
      },
      10_000,
      50,
    );
    const ms = Date.now() - t0;
    figure(t, "keepalived-failover", ms, " ms");
    assert.equal(r.value.length, 1, `exactly one new holder: ${r.value.join(", ")}`);
    assert.ok(ms <= (3 * ADVERT_INT_S + 1) * 1000, `VIP moved after ${ms} ms`);
    // supervisord restarts it; the cluster settles on one holder again
    await waitFor("one holder again", async () => ((await holders(HOSTS, KEEPALIVED_VIP)).length === 1 ? true : undefined), 20_000, 200);
  });

  it("Pacemaker: one node stopped keeps quorum, two stopped lose it", { timeout: 180_000 }, async (t) => {
    const stop = (h: string) => hostExecOk(h, "supervisorctl stop pacemaker && supervisorctl stop corosync", { timeoutMs: 120_000 });
    await stop("lab3");
    const one = await waitFor(
      "quorate with 2 votes, VIP running",
      async () => {
        const q = await hostExec("lab1", "corosync-quorumtool -s");
        const mon = await hostExec("lab1", "crm_mon -1 -r");
        return q.code === 0 &&
          /Total votes:\s+2/.test(q.stdout) &&
          /lab-vip\s+\(ocf:heartbeat:IPaddr2\):\s+Started lab[12]/.test(mon.stdout)
          ? true
          : undefined;
      },
      60_000,
      1000,
    );
    assert.ok(one.value);
    assert.equal((await holders(HOSTS, PACEMAKER_VIP)).length, 1);
    await stop("lab2");
    const t0 = Date.now();
    const lost = await waitFor(
      "quorum lost and the VIP stopped",
      async () => {
        const q = await hostExec("lab1", "corosync-quorumtool -s");
        return q.code === 2 && /Quorate:\s+No/.test(q.stdout) && (await holders(HOSTS, PACEMAKER_VIP)).length === 0 ? q.stdout : undefined;
      },
      60_000,
      500,
    );
    figure(t, "pacemaker-quorum-loss-to-vip-stopped", Date.now() - t0, " ms");
    assert.match(lost.value, /Total votes:\s+1/);
  });

  it(
    "Patroni: a parameter that needs a restart rolls Patroni's way (replicas, a switchover, the old leader); writes go on, one member down at most",
    { timeout: 480_000 },
    async (t) => {
      // The drift test's hand edit is undone (the operator's fix), or the apply is refused.
      await hostExec("lab2", "sed -i '/^# edited by hand$/d' /etc/rabbitmq/rabbitmq-env.conf");
      const addresses = lab.hosts.map((h) => h.address);
      const leader = (await patroniCluster(addresses))!.members.find((m) => m.role === "leader")!.name;
      const leaderAddr = lab.hosts.find((h) => h.name === leader)!.address;
      const c = await psql(leader, leaderAddr, 5432, SECRETS.pgSuperuserPassword, "create table e2e_roll (seq int primary key)");
      assert.equal(c.code, 0, c.err);
      const writer = pgWriter(
        HOSTS.find((h) => h !== leader)!,
        KEEPALIVED_VIP,
        5000,
        SECRETS.pgSuperuserPassword,
        "e2e_roll",
        450,
      );
      const samples: { atMs: number; down: string[]; leader?: string }[] = [];
      let sampling = true;
      const sampler = (async () => {
        for (let i = 0; sampling && i < 2000; i++) {
          const cl = await patroniCluster(addresses);
          const running = new Set(cl?.members.filter((m) => m.state === "running").map((m) => m.name) ?? []);
          const l = cl?.members.find((m) => m.role === "leader")?.name;
          samples.push({ atMs: Date.now(), down: HOSTS.filter((h) => !running.has(h)), ...(l ? { leader: l } : {}) });
          await sleep(500);
        }
      })();
      let r: ApplyResult;
      try {
        r = await apply(invC);
      } finally {
        sampling = false;
        await sampler;
        await writer.stop();
      }
      assert.ok(r.ok, describeFailure(r));
      figure(t, "patroni-roll", r.wallMs, " ms (the whole apply)");
      const action = r.operations.find((o) => o.name === "haforge-postgres-patroni-pending-restarts");
      assert.ok(action && action.detail === "create", `the pending-restarts action ran: ${JSON.stringify(action)}`);
      const steps = (action.stdout ?? "").split("\n").filter((l) => l.startsWith("patroni-pending-restarts:"));
      figure(t, "patroni-roll-steps", steps.map((l) => l.replace("patroni-pending-restarts: ", "")).join("; "));
      const others = HOSTS.filter((h) => h !== leader);
      assert.deepEqual(
        steps
          .slice(0, 2)
          .map((l) => /restart replica (lab\d)/.exec(l)?.[1])
          .sort(),
        others,
        `the two replicas first: ${steps.join(" | ")}`,
      );
      assert.match(steps[2] ?? "", new RegExp(`switchover ${leader} -> lab\\d`), `then a switchover: ${steps.join(" | ")}`);
      assert.match(steps[steps.length - 1] ?? "", /nothing pending/);
      // every member runs with the new value, none pending
      for (const h of lab.hosts) {
        const v = await psql(h.name, h.address, 5432, SECRETS.pgSuperuserPassword, "show max_connections");
        assert.equal(v.out, "150", `${h.name}: ${v.err}`);
      }
      const after = await patroniCluster(addresses);
      assert.ok(
        after?.members.every((m) => !m.pending_restart),
        JSON.stringify(after),
      );
      const maxDown = Math.max(...samples.map((s) => s.down.length));
      figure(
        t,
        "patroni-roll-samples",
        `${samples.length} samples, members not running per sample ${JSON.stringify(countBy(samples.map((s) => s.down.length)))}`,
      );
      assert.ok(samples.length >= 10, `too few samples: ${samples.length}`);
      assert.ok(maxDown <= 1, `a sample saw ${maxDown} members down: ${JSON.stringify(samples.filter((s) => s.down.length > 1))}`);
      const results = await writer.done;
      const acked = results.filter((x) => x.ok);
      const newLeader = after!.members.find((m) => m.role === "leader")!.name;
      const newAddr = lab.hosts.find((h) => h.name === newLeader)!.address;
      const rows = await psql(newLeader, newAddr, 5432, SECRETS.pgSuperuserPassword, "select seq from e2e_roll");
      const have = new Set(rows.out.split("\n").filter(Boolean).map(Number));
      const lost = acked.filter((x) => !have.has(x.seq)).length;
      let outage = 0;
      for (let i = 1; i < acked.length; i++) outage = Math.max(outage, acked[i]!.atMs - acked[i - 1]!.atMs);
      figure(t, "patroni-roll-write-outage-ms", outage, "");
      figure(t, "patroni-roll-commits-lost", lost, ` (${acked.length} of ${results.length} inserts acknowledged)`);
      assert.equal(lost, 0);
      assert.ok(acked.length >= 20, `too few acknowledged inserts: ${acked.length}`);
    },
  );

  it(
    "HAProxy and keepalived: a config change reloads both on every host; an established connection through the VIP survives, the VIP answers",
    { timeout: 300_000 },
    async (t) => {
      await hostExec("lab2", "sed -i '/^# edited by hand$/d' /etc/rabbitmq/rabbitmq-env.conf");
      const masters = async () =>
        Promise.all(
          HOSTS.map(
            async (h) =>
              `${h} haproxy ${(await hostExec(h, "supervisorctl pid haproxy")).stdout.trim()} keepalived ${(await hostExec(h, "supervisorctl pid keepalived")).stdout.trim()}`,
          ),
        );
      const pidsBefore = await masters();
      // A long-lived AMQP connection through the VIP's HAProxy (heartbeats every 5 s).
      const amqp = require("amqplib") as typeof import("amqplib");
      const conn = await amqp.connect(
        `amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${KEEPALIVED_VIP}:5673/tower?heartbeat=5`,
      );
      let closed: string | undefined;
      conn.on("close", (e: unknown) => (closed = `close ${String(e)}`));
      conn.on("error", (e: unknown) => (closed = `error ${String(e)}`));
      const ch = await conn.createChannel();
      await ch.assertQueue("", { exclusive: true });
      // The VIP polled every 100 ms (HAProxy's stats port on the VIP holder).
      const probes: { atMs: number; ok: boolean }[] = [];
      let polling = true;
      const poller = (async () => {
        for (let i = 0; polling && i < 6000; i++) {
          probes.push({ atMs: Date.now(), ok: await tcpOpen(KEEPALIVED_VIP, 8404, 1_000) });
          await sleep(100);
        }
      })();
      let r: ApplyResult;
      try {
        r = await apply(invD);
      } finally {
        polling = false;
        await poller;
      }
      assert.ok(r.ok, describeFailure(r));
      figure(t, "haproxy-keepalived-reload", r.wallMs, " ms (the whole apply)");
      const reloads = ops(r, /-restart-(haproxy|keepalived)-/);
      assert.equal(reloads.length, 6, `haproxy and keepalived on 3 hosts: ${reloads.map((o) => o.name).join(", ")}`);
      for (const o of reloads) assert.match(o.stdout ?? "", /reloaded (haproxy|keepalived)/, `${o.name}: ${o.stdout}`);
      assert.deepEqual(await masters(), pidsBefore, "no HAProxy master or keepalived restarted");
      // the connection opened before the reloads still works
      await ch.assertQueue("", { exclusive: true });
      assert.equal(closed, undefined, "the connection through the VIP was closed");
      await conn.close();
      let outage = 0;
      let start: number | undefined;
      for (const p of probes) {
        if (!p.ok) start ??= p.atMs;
        else if (start !== undefined) {
          outage = Math.max(outage, p.atMs - start);
          start = undefined;
        }
      }
      const failed = probes.filter((p) => !p.ok).length;
      figure(t, "haproxy-keepalived-vip-outage", outage, ` ms longest (${failed} of ${probes.length} probes failed)`);
      assert.ok(probes.length >= 50, `too few probes: ${probes.length}`);
      assert.equal(start, undefined, "the VIP answers at the end");
      for (const h of HOSTS) {
        assert.match(await hostExecOk(h, "cat /etc/haproxy/haproxy.cfg"), /check port 8008 inter 3s/);
        assert.match(await hostExecOk(h, "cat /etc/keepalived/keepalived.conf"), /interval 3/);
      }
    },
  );

  it(
    "Patroni: kill -9 of Patroni alone on the leader (the orphan-primary window): never two writable primaries",
    { timeout: 180_000 },
    async (t) => {
      const addresses = lab.hosts.map((h) => h.address);
      const leader = (await patroniCluster(addresses))!.members.find((m) => m.role === "leader")!.name;
      const via = HOSTS.find((h) => h !== leader)!;
      const pid = (await hostExecOk(leader, "supervisorctl pid patroni")).trim();
      assert.match(pid, /^\d+$/);
      const postmaster = async () => (await hostExecOk(leader, "pgrep -o -u postgres -x postgres")).trim();
      const pmBefore = await postmaster();
      // The sampler runs past ttl (20 s): a replica promoted while the orphan postmaster still
      // serves would show as a second 'f'.
      const SECONDS = 35;
      const sampling = primarySampler(via, addresses, SECRETS.pgSuperuserPassword, SECONDS);
      await sleep(2_000);
      await hostExecOk(leader, `kill -9 ${pid}`);
      const killedAt = Date.now();
      const back = await waitFor(
        "Patroni restarted by supervisord and answering",
        async () => {
          const p = (await hostExec(leader, "supervisorctl pid patroni")).stdout.trim();
          const r = await run("curl", [
            "-fsS",
            "--max-time",
            "2",
            `http://${lab.hosts.find((h) => h.name === leader)!.address}:8008/health`,
          ]);
          return /^\d+$/.test(p) && p !== "0" && p !== pid && r.code === 0 ? p : undefined;
        },
        60_000,
        200,
      );
      figure(t, "patroni-orphan-restart", back.ms, " ms (kill -9 of Patroni to its REST API answering again)");
      const samples = await sampling;
      const writable = samples.map((s) => Object.values(s.state).filter((v) => v === "f").length);
      const after = samples.filter((s) => s.atMs >= killedAt);
      figure(
        t,
        "patroni-orphan-samples",
        `${samples.length} samples (${after.length} after the kill), writable primaries per sample ${JSON.stringify(countBy(writable))}`,
      );
      assert.ok(after.length >= 50, `too few samples after the kill: ${after.length}`);
      assert.ok(after[after.length - 1]!.atMs - killedAt >= 25_000, "sampled past ttl");
      const two = samples.filter((s, i) => writable[i]! > 1);
      assert.deepEqual(two, [], "two writable primaries at once");
      // and the leader is the same, its postmaster never stopped
      const c = await patroniCluster(addresses);
      assert.equal(c?.members.find((m) => m.role === "leader")?.name, leader);
      assert.equal(await postmaster(), pmBefore, "the orphaned postmaster was adopted, not restarted");
    },
  );

  it(
    "Patroni (synchronous_mode): kill the leader during inserts through HAProxy; a replica takes over, no acknowledged commit lost",
    { timeout: 240_000 },
    async (t) => {
      const addresses = lab.hosts.map((h) => h.address);
      const cl = (await patroniCluster(addresses))!;
      const leader = cl.members.find((m) => m.role === "leader")!.name;
      const leaderAddr = lab.hosts.find((h) => h.name === leader)!.address;
      // synchronous_mode is in the store (bootstrap.dcs, and the dynamic-config action) and a standby is synchronous
      const config = await run("curl", ["-fsS", "--max-time", "3", `http://${leaderAddr}:8008/config`]);
      assert.equal((JSON.parse(config.stdout) as { synchronous_mode?: boolean }).synchronous_mode, true, config.stdout);
      await waitFor(
        "a sync standby",
        async () => ((await patroniCluster(addresses))?.members.some((m) => m.role === "sync_standby") ? true : undefined),
        30_000,
        1000,
      );
      const token = randomBytes(8).toString("hex");
      const w = await psql(
        leader,
        leaderAddr,
        5432,
        SECRETS.pgSuperuserPassword,
        `create table if not exists e2e (v text); insert into e2e values ('${token}'); create table e2e_w (seq int primary key)`,
      );
      assert.equal(w.code, 0, w.err);
      // Wait until both replicas replayed it (synchronous_commit is local: a crash could lose an
      // unreplicated commit, which is not what this test is about).
      await waitFor(
        "row on the replicas",
        async () => {
          const r = await psql(
            leader,
            leaderAddr,
            5432,
            SECRETS.pgSuperuserPassword,
            "select count(*) from pg_stat_replication where replay_lsn = pg_current_wal_lsn()",
          );
          return r.out === "2" ? true : undefined;
        },
        30_000,
        500,
      );
      // A client inserting through HAProxy on the VIP, from a host that stays.
      const writerHost = HOSTS.find((h) => h !== leader)!;
      const writer = pgWriter(writerHost, KEEPALIVED_VIP, 5000, SECRETS.pgSuperuserPassword, "e2e_w");
      await waitFor(
        "inserts acknowledged through the VIP",
        async () => {
          const r = await psql(leader, leaderAddr, 5432, SECRETS.pgSuperuserPassword, "select count(*) from e2e_w");
          return Number(r.out) >= 10 ? true : undefined;
        },
        30_000,
        500,
      );
      // The leader host drops off the network (a crash as far as etcd and the peers can tell).
      await run("ip", ["-n", leader, "link", "set", "eth0", "down"]);
      const t0 = Date.now();
      const others = lab.hosts.filter((h) => h.name !== leader).map((h) => h.address);
      const nl = await waitFor(
        "a new leader",
        async () => {
          const c = await patroniCluster(others);
          const l = c?.members.find((m) => m.role === "leader" && m.name !== leader);
          if (!l) return undefined;
          const addr = lab.hosts.find((h) => h.name === l.name)!.address;
          const r = await psql(l.name, addr, 5432, SECRETS.pgSuperuserPassword, "select pg_is_in_recovery()");
          return r.out === "f" ? l.name : undefined;
        },
        90_000,
        500,
      );
      figure(t, "patroni-failover", Date.now() - t0, " ms (leader host off the network, ttl 20 s)");
      const newAddr = lab.hosts.find((h) => h.name === nl.value)!.address;
      const row = await psql(nl.value, newAddr, 5432, SECRETS.pgSuperuserPassword, `select v from e2e where v = '${token}'`);
      assert.equal(row.out, token, "the row committed before the failover is on the new leader");
      // the writer goes on until inserts are acknowledged again through the VIP: rows beyond those
      // the new leader had when it took over (the replicated ones count from before the failover)
      const atTakeover = await psql(nl.value, newAddr, 5432, SECRETS.pgSuperuserPassword, "select count(*) from e2e_w");
      assert.equal(atTakeover.code, 0, atTakeover.err);
      await waitFor(
        "inserts acknowledged again",
        async () => {
          const r = await psql(nl.value, newAddr, 5432, SECRETS.pgSuperuserPassword, "select count(*) from e2e_w");
          return r.code === 0 && Number(r.out) > Number(atTakeover.out) ? r.out : undefined;
        },
        60_000,
        500,
      );
      await sleep(3_000);
      await writer.stop();
      const results = await writer.done;
      const acked = results.filter((x) => x.ok);
      const rows = await psql(nl.value, newAddr, 5432, SECRETS.pgSuperuserPassword, "select seq from e2e_w order by seq");
      assert.equal(rows.code, 0, rows.err);
      const have = new Set(rows.out.split("\n").filter(Boolean).map(Number));
      const lost = acked.filter((x) => !have.has(x.seq)).map((x) => x.seq);
      let outage = 0;
      for (let i = 1; i < acked.length; i++) outage = Math.max(outage, acked[i]!.atMs - acked[i - 1]!.atMs);
      figure(t, "patroni-write-outage-ms", outage, "");
      figure(t, "patroni-commits-lost", lost.length, "");
      figure(t, "patroni-commits-acknowledged", `${acked.length} of ${results.length} inserts`);
      assert.ok(
        acked.some((x) => x.atMs > t0 + nl.ms),
        "writes resumed after the failover",
      );
      assert.ok(
        acked.some((x) => x.atMs < t0),
        "writes were acknowledged before the kill",
      );
      assert.deepEqual(lost, [], "acknowledged commits missing on the new leader");
    },
  );

  // Last: it tears the stack down (the lab itself goes in `after`).
  it(
    "destroy: membership deletes one at a time in the reverse order of the joins, the remaining members quorate meanwhile",
    { timeout: 600_000 },
    async (t) => {
      // The failovers above left Patroni's old leader off the network and Pacemaker stopped on
      // lab2 and lab3: heal the cluster first (destroy runs on a working cluster).
      for (const h of HOSTS) await run("ip", ["-n", h, "link", "set", "eth0", "up"]);
      for (const h of ["lab2", "lab3"])
        await hostExecOk(h, "supervisorctl start corosync && supervisorctl start pacemaker", { timeoutMs: 120_000 });
      await waitFor(
        "corosync quorate with 3 votes",
        async () => {
          const q = await hostExec("lab1", "corosync-quorumtool -s");
          return q.code === 0 && /Total votes:\s+3/.test(q.stdout) ? true : undefined;
        },
        120_000,
        1000,
      );
      const url = (addr: string) => `amqp://tower:${encodeURIComponent(SECRETS.rabbitmqPassword)}@${addr}:5672/tower`;
      await waitFor(
        "3 RabbitMQ nodes answer AMQP",
        async () => ((await Promise.all(lab.hosts.map((h) => amqpOk(url(h.address), 3_000)))).every(Boolean) ? true : undefined),
        180_000,
        2000,
      );
      const state = stateResources(stateFile);
      // membership actions: a delete, not a host's deprovisioning (its daemons stop after the members left)
      const members = [...state.values()].filter(
        (r) => r.kind === "command" && textField(r.inputs, "delete").trim() !== "" && !/-deprovision-lab\d$/.test(r.name),
      );
      assert.ok(members.length >= 4, `membership actions in state: ${members.map((m) => m.name).join(", ")}`);
      const memberOf = (name: string) => /-(lab\d)$/.exec(name)![1]!;
      const isRabbit = (name: string) => /rabbitmq/.test(name);
      const isPacemaker = (name: string) => /pacemaker/.test(name);
      const isEtcd = (name: string) => /etcd-member/.test(name);
      // Each membership kind needs its probe below: a new kind fails here until it has one.
      for (const m of members) assert.ok(isRabbit(m.name) || isPacemaker(m.name) || isEtcd(m.name), `no quorum probe for ${m.name}`);
      const joins = first!.operations
        .filter((o) => members.some((m) => m.name === o.name))
        .sort((a, b) => a.startMs - b.startMs)
        .map((o) => o.name);
      assert.equal(joins.length, members.length);

      // Sample while destroy runs: corosync's quorum, each broker's AMQP answer and a quorum read
      // through each etcd member, per host.
      const samples: {
        atMs: number;
        endMs: number;
        quorate: Record<string, boolean>;
        amqp: Record<string, boolean>;
        etcd: Record<string, boolean>;
      }[] = [];
      let sampling = true;
      const t0 = Date.now();
      const sampler = (async () => {
        for (let i = 0; sampling && i < 2000; i++) {
          const atMs = Date.now() - t0;
          const q = await Promise.all(
            HOSTS.map((h) => hostExec(h, "corosync-quorumtool -s", { timeoutMs: 10_000 }).then((x) => x.code === 0)),
          );
          const a = await Promise.all(lab.hosts.map((h) => amqpOk(url(h.address), 3_000)));
          const e = await Promise.all(
            HOSTS.map((h) =>
              hostExec(h, "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 --command-timeout=5s endpoint health", {
                timeoutMs: 10_000,
              }).then((x) => x.code === 0),
            ),
          );
          samples.push({
            atMs,
            endMs: Date.now() - t0,
            quorate: Object.fromEntries(HOSTS.map((h, k) => [h, q[k]!])),
            amqp: Object.fromEntries(HOSTS.map((h, k) => [h, a[k]!])),
            etcd: Object.fromEntries(HOSTS.map((h, k) => [h, e[k]!])),
          });
          await sleep(500);
        }
      })();
      let r: RunSummary;
      try {
        r = await destroyStack({ ...operatorA, stateFile, stack });
      } finally {
        sampling = false;
        await sampler;
      }
      assert.ok(r.ok, describeFailure(r));
      figure(t, "destroy", r.wallMs, " ms");
      assert.equal(stateResources(stateFile).size, 0, "the state is empty");
      const deletes = r.operations.filter((o) => members.some((m) => m.name === o.name)).sort((a, b) => a.startMs - b.startMs);
      assert.deepEqual(
        deletes.map((o) => `${o.op} ${o.detail} ${o.name}`),
        deletes.map((o) => `delete delete ${o.name}`),
        "each membership action ran its delete",
      );
      assert.deepEqual(
        deletes.map((o) => o.name),
        [...joins].reverse(),
        "deleted in the reverse order of the joins",
      );
      for (let i = 1; i < deletes.length; i++)
        assert.ok(
          deletes[i]!.startMs >= deletes[i - 1]!.endMs,
          `${deletes[i]!.name} started at ${deletes[i]!.startMs} ms, before ${deletes[i - 1]!.name} ended at ${deletes[i - 1]!.endMs} ms`,
        );
      figure(
        t,
        "destroy-membership-deletes",
        deletes.map((o) => `${o.name} ${o.startMs}-${o.endMs}`).join("; "),
        ` (ms from the destroy's start; ${samples.length} samples)`,
      );
      // While the deletes run, every member not yet being removed stays up: corosync quorate on
      // each Pacemaker member whose delete had not started, AMQP answered by each such broker, a
      // quorum read through each such etcd member.
      // A Pacemaker node's removal begins with its deprovisioning: it stops first (Pacemaker, then
      // corosync), then its member delete runs (Pacemaker's order, pcs cluster node remove).
      const stopOf = (host: string) =>
        r.operations.find((o) => o.op === "delete" && new RegExp(`-pacemaker-deprovision-${host}$`).test(o.name));
      for (const m of deletes.filter((o) => isPacemaker(o.name))) {
        const stop = stopOf(memberOf(m.name));
        assert.ok(stop && stop.endMs <= m.startMs, `${memberOf(m.name)} stopped (its deprovisioning) before ${m.name} ran`);
      }
      for (const h of HOSTS)
        assert.equal(
          (await hostExec(h, "pgrep -x pacemakerd || pgrep -x corosync")).code,
          1,
          `${h}: Pacemaker/corosync still run after destroy`,
        );
      const startOf = (name: string) =>
        isPacemaker(name) ? stopOf(memberOf(name))!.startMs : deletes.find((o) => o.name === name)!.startMs;
      const from = Math.min(...deletes.map((o) => startOf(o.name)));
      const during = samples.filter((sm) => sm.atMs >= from && sm.atMs <= deletes[deletes.length - 1]!.endMs);
      assert.ok(during.length >= 2, `too few samples during the deletes: ${during.length} of ${samples.length}`);
      // Every member not yet being removed answers. A destroy takes every Pacemaker node away, one
      // stop at a time before the member deletes: once a majority has stopped, the ones left cannot
      // be quorate (votequorum keeps the whole nodelist's expected votes until a removal reloads
      // it, and a removal waits for the node's stop). So a node is judged only while a quorum of
      // the nodes had not begun stopping by the sample's end: a stop in progress may already have
      // taken its corosync away (tests/e2e/harness/removal-judge.ts; its property in
      // tests/unit/removal-judge.test.ts).
      const label = (name: string) => (isRabbit(name) ? "RabbitMQ" : isPacemaker(name) ? "Pacemaker" : "etcd");
      const pacemakerNodes = deletes.filter((o) => isPacemaker(o.name)).length;
      const verdict = judgeRemovalSamples(
        during.map((sm) => ({ atMs: sm.atMs, endMs: sm.endMs, up: { RabbitMQ: sm.amqp, Pacemaker: sm.quorate, etcd: sm.etcd } })),
        deletes.map((o) => ({ cluster: label(o.name), host: memberOf(o.name), removalStartMs: startOf(o.name) })),
        { Pacemaker: { voting: { quorum: Math.floor(pacemakerNodes / 2) + 1 } } },
      );
      assert.deepEqual(verdict.violations, [], "members not yet removed answered (RabbitMQ: AMQP, Pacemaker: quorate, etcd: healthy)");
      // and the samples did judge members of every cluster before their removal
      for (const c of ["RabbitMQ", "Pacemaker", "etcd"])
        assert.ok((verdict.judged[c] ?? 0) > 0, `no sample judged a ${c} member before its removal`);
      figure(t, "destroy-judged", JSON.stringify(verdict.judged), " (sample x member pairs judged before the member's removal)");
    },
  );
});

function countBy(xs: number[]): Record<string, number> {
  const o: Record<string, number> = {};
  for (const x of xs) o[x] = (o[x] ?? 0) + 1;
  return o;
}

/** Slack on top of HAProxy's own mark-down time (inter × fall) for a busy CI machine. */
const CUT_MARGIN_MS = 2_000;
/** HAProxy's `fall` when neither the server line nor `default-server` sets one (its documentation: 3). */
const HAPROXY_DEFAULT_FALL = 3;

/**
 * The check settings of `server` in the backend that the `postgres` frontend uses, as the rendered
 * haproxy.cfg has them: `inter` (ms), `fall` (HAProxy's default when absent) and whether the
 * backend cuts a down server's sessions.
 */
function patroniCheck(cfg: string, server: string): { interMs: number; fall: number; shutdownSessions: boolean } {
  const frontend = /^frontend postgres\n([\s\S]*?)(?=^\S|(?![\s\S]))/m.exec(cfg)?.[1] ?? "";
  const backendName = /^\s*default_backend (\S+)/m.exec(frontend)?.[1];
  assert.ok(backendName, `no default_backend in haproxy.cfg's frontend postgres:\n${cfg}`);
  const backend = new RegExp(`^backend ${backendName}\\n([\\s\\S]*?)(?=^\\S|(?![\\s\\S]))`, "m").exec(cfg)?.[1] ?? "";
  const line = new RegExp(`^\\s*server ${server} .*$`, "m").exec(backend)?.[0];
  assert.ok(line, `no server ${server} in backend ${backendName}:\n${backend}`);
  const dflt = /^\s*default-server .*$/m.exec(backend)?.[0] ?? "";
  const inter = /\binter (\d+)(ms|s|m)?\b/.exec(line);
  assert.ok(inter, `no inter on: ${line}`);
  const interMs = Number(inter[1]) * ({ ms: 1, s: 1000, m: 60_000 }[inter[2] ?? "ms"] ?? 1);
  const fall = Number(/\bfall (\d+)/.exec(line)?.[1] ?? /\bfall (\d+)/.exec(dflt)?.[1] ?? HAPROXY_DEFAULT_FALL);
  return { interMs, fall, shutdownSessions: /on-marked-down shutdown-sessions/.test(dflt) };
}

/** One line of `pgSessionWatcher` (epoch ms; `sid` 0 is the held session). */
interface SessionEvent {
  readonly ev: "session" | "refused" | "cut" | "write" | "open-at-end" | "error";
  readonly atMs: number;
  readonly sid?: number;
  /** session: pg_is_in_recovery() and inet_server_addr() when it opened */
  readonly rec?: boolean;
  readonly addr?: string;
  /** session: held and watched (session 0, and one on a read-only node) */
  readonly kept?: boolean;
  /** cut, refused, write errors: what the client library said */
  readonly msg?: string;
  readonly result?: "ok" | "error";
  readonly kind?: string;
  readonly pgcode?: string | null;
}

const addrOfSession = (events: SessionEvent[], sid: number) => events.find((e) => e.ev === "session" && e.sid === sid)?.addr;

/**
 * Postgres sessions through `host:port` (HAProxy's frontend), from inside lab host `via` with
 * Patroni's interpreter and psycopg2. Session 0 opens first and is held: nothing runs on it after
 * its `select pg_is_in_recovery(), inet_server_addr()`; its socket is watched (readable and a read
 * fails: the server side closed it) and only once it is cut is a write tried on it. Every 100 ms a
 * new session opens and asks the same: one on a writable node inserts a row and closes; one on a
 * read-only node is held and watched like session 0 (up to 40), on a thread of its own. At `stop()` (or `maxS`), every
 * session still open tries a write ("open-at-end"). Resolves with every event in order.
 */
function pgSessionWatcher(
  via: string,
  host: string,
  port: number,
  password: string,
  maxS: number,
): { held: () => Promise<true | undefined>; stop: () => Promise<void>; done: Promise<SessionEvent[]> } {
  const heldFile = "/tmp/haforge-e2e-cut.held";
  const stopFile = "/tmp/haforge-e2e-cut.stop";
  const py = [
    "import json, os, select, sys, threading, time",
    "import psycopg2",
    "host, port, held_file, stop_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]",
    "end = time.time() + float(sys.argv[5])",
    "printing = threading.Lock()",
    "def out(**k):",
    "    with printing:",
    "        k['atMs'] = int(time.time() * 1000)",
    "        print(json.dumps(k), flush=True)",
    "def connect():",
    "    c = psycopg2.connect(host=host, port=port, user='postgres', dbname='postgres', password=os.environ['PGPASSWORD'],",
    "                         connect_timeout=1, options='-c statement_timeout=2000')",
    "    c.autocommit = True",
    "    cur = c.cursor()",
    "    cur.execute('select pg_is_in_recovery(), host(inet_server_addr())')",
    "    rec, addr = cur.fetchone()",
    "    return c, rec, addr",
    "def cut(c):",
    "    # no statement is sent: the socket turned readable and reading it fails (EOF or a FATAL)",
    "    try:",
    "        if not select.select([c.fileno()], [], [], 0)[0]:",
    "            return None",
    "        c.poll()",
    "        return None",
    "    except Exception as e:",
    "        return (' '.join(n.strip() for n in c.notices) + ' ' + str(e).strip()).strip() or type(e).__name__",
    "def write(c, sid):",
    "    try:",
    "        c.cursor().execute('insert into e2e_cut (sid) values (%s)', (sid,))",
    "        return dict(result='ok')",
    "    except Exception as e:",
    "        return dict(result='error', kind=type(e).__name__, pgcode=getattr(e, 'pgcode', None), msg=str(e).strip()[:200])",
    "held, lock = {}, threading.Lock()",
    "def watch():",
    "    # the held sessions' sockets, on their own thread: a slow probe never delays a cut's detection",
    "    while time.time() < end and not os.path.exists(stop_file):",
    "        with lock:",
    "            items = list(held.items())",
    "        for s, c in items:",
    "            m = cut(c)",
    "            if m is not None:",
    "                out(ev='cut', sid=s, msg=m)",
    "                out(ev='write', sid=s, **write(c, s))",
    "                with lock:",
    "                    del held[s]",
    "                c.close()",
    "        time.sleep(0.01)",
    "try:",
    "    c, rec, addr = connect()",
    "except Exception as e:",
    "    out(ev='error', msg=str(e).strip())",
    "    sys.exit(1)",
    "held[0] = c",
    "out(ev='session', sid=0, rec=rec, addr=addr, kept=True)",
    "open(held_file, 'w').close()",
    "watcher = threading.Thread(target=watch)",
    "watcher.start()",
    "sid = 0",
    "while time.time() < end and not os.path.exists(stop_file):",
    "    t0, sid = time.time(), sid + 1",
    "    try:",
    "        c, rec, addr = connect()",
    "        with lock:",
    "            keep = rec and len(held) < 40",
    "            if keep:",
    "                held[sid] = c",
    "        out(ev='session', sid=sid, rec=rec, addr=addr, kept=keep)",
    "        if not keep:",
    "            if not rec:",
    "                out(ev='write', sid=sid, **write(c, sid))",
    "            c.close()",
    "    except Exception as e:",
    "        out(ev='refused', sid=sid, msg=str(e).strip()[:200])",
    "    time.sleep(max(0, 0.1 - (time.time() - t0)))",
    "watcher.join()",
    "for s, c in held.items():",
    "    out(ev='open-at-end', sid=s)",
    "    out(ev='write', sid=s, **write(c, s))",
  ].join("\n");
  const done = hostExec(
    via,
    `rm -f ${heldFile} ${stopFile}; PGPASSWORD='${password}' /usr/bin/python3 - ${host} ${port} ${heldFile} ${stopFile} ${maxS}`,
    { timeoutMs: (maxS + 30) * 1000, input: py },
  ).then((r) =>
    r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as SessionEvent),
  );
  return {
    held: async () => ((await hostExec(via, `test -e ${heldFile}`)).code === 0 ? true : undefined),
    stop: async () => {
      await hostExec(via, `touch ${stopFile}`);
    },
    done,
  };
}
