/**
 * Small, bounded probes of the lab's daemons from the root namespace (the bridge reaches every
 * host) or inside a host (lab/exec.ts hostExec). Every loop has a count and a time bound.
 */
import { execFile } from "node:child_process";
import * as net from "node:net";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 15_000, env: opts.env ?? process.env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === "number"
          ? (err as unknown as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Poll `probe` until it returns a non-undefined value; throws with the last state after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 500,
): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  let last: unknown;
  for (let i = 0; Date.now() - t0 < timeoutMs && i < 100_000; i++) {
    try {
      const v = await probe();
      if (v !== undefined) return { value: v, ms: Date.now() - t0 };
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

/** Hosts whose eth0 carries `ip` (read from each host's netns; nothing is sent). */
export async function holders(hosts: readonly string[], ip: string): Promise<string[]> {
  const out = await Promise.all(
    hosts.map(async (h) => {
      const r = await run("ip", ["-n", h, "-4", "-o", "addr", "show", "dev", "eth0"], { timeoutMs: 5_000 });
      return r.stdout.split("\n").some((l) => l.includes(` ${ip}/`)) ? h : undefined;
    }),
  );
  return out.filter((h): h is string => !!h);
}

/** True when a TCP connection to host:port opens within `timeoutMs`. */
export function tcpOpen(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** A full AMQP 0-9-1 handshake (auth + vhost) and a channel; resolves false on any failure. */
export async function amqpOk(url: string, timeoutMs = 4_000): Promise<boolean> {
  const amqp = require("amqplib") as typeof import("amqplib");
  let conn: import("amqplib").ChannelModel | undefined;
  try {
    conn = await amqp.connect(url, { timeout: timeoutMs });
    conn.on("error", () => {});
    const ch = await conn.createChannel();
    await ch.close();
    return true;
  } catch {
    return false;
  } finally {
    await conn?.close().catch(() => {});
  }
}

/**
 * `psql -At` against host:port as the superuser, run INSIDE lab host `via` (pg_hba admits the
 * cluster's own addresses, not the bridge's .1); the SQL goes over stdin, so no quoting issues.
 */
export async function psql(
  via: string,
  host: string,
  port: number,
  password: string,
  sql: string,
): Promise<{ code: number; out: string; err: string }> {
  const { hostExec } = require("../../../lab/exec") as typeof import("../../../lab/exec");
  const r = await hostExec(
    via,
    `PGPASSWORD='${password}' PGCONNECT_TIMEOUT=3 psql -At -X -q -h ${host} -p ${port} -U postgres -d postgres -f -`,
    { timeoutMs: 15_000, input: sql },
  );
  return { code: r.code ?? 1, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** Patroni's /cluster from any member that answers. */
export async function patroniCluster(
  addresses: readonly string[],
): Promise<{ members: { name: string; role: string; state: string; pending_restart?: boolean }[] } | undefined> {
  for (const a of addresses) {
    const r = await run("curl", ["-fsS", "--max-time", "3", `http://${a}:8008/cluster`], { timeoutMs: 5_000 });
    if (r.code === 0)
      return JSON.parse(r.stdout) as { members: { name: string; role: string; state: string; pending_restart?: boolean }[] };
  }
  return undefined;
}

/** One acknowledged (or failed) insert of `pgWriter`: its sequence number and when it returned (epoch ms). */
export interface WriteResult {
  readonly seq: number;
  readonly atMs: number;
  readonly ok: boolean;
}

/**
 * A client inserting through `host:port` from inside lab host `via`: one row per transaction
 * (`insert into TABLE values (seq)`, autocommit), each in its own bounded psql (connect 2 s, the
 * whole statement 3 s: an insert hung on a vanished primary is cut, never counted). Every insert
 * psql reported as done is an acknowledged commit. Runs until `stop()` (a file in the host's
 * private /tmp) or `maxS` seconds; resolves with every insert's outcome in order.
 */
export function pgWriter(
  via: string,
  host: string,
  port: number,
  password: string,
  table: string,
  maxS = 150,
): { done: Promise<WriteResult[]>; stop: () => Promise<void> } {
  const { hostExec } = require("../../../lab/exec") as typeof import("../../../lab/exec");
  const stopFile = `/tmp/haforge-e2e-writer-${table}.stop`;
  const script =
    `rm -f ${stopFile}; i=0; end=$(( $(date +%s) + ${maxS} )); ` +
    `while [ ! -e ${stopFile} ] && [ "$(date +%s)" -lt "$end" ]; do i=$((i+1)); ` +
    `if PGPASSWORD='${password}' PGCONNECT_TIMEOUT=2 timeout 3 psql -At -X -q -h ${host} -p ${port} -U postgres -d postgres ` +
    `-c "insert into ${table} values ($i)" >/dev/null 2>&1; then echo "ack $i $(date +%s%3N)"; else echo "err $i $(date +%s%3N)"; sleep 0.1; fi; done`;
  const done = hostExec(via, script, { timeoutMs: (maxS + 30) * 1000 }).then((r) =>
    r.stdout
      .split("\n")
      .map((l) => /^(ack|err) (\d+) (\d+)$/.exec(l))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => ({ seq: Number(m[2]), atMs: Number(m[3]), ok: m[1] === "ack" })),
  );
  return {
    done,
    stop: async () => {
      await hostExec(via, `touch ${stopFile}`);
    },
  };
}

/** One sample of `primarySampler`: epoch ms and, per address, "t" (in recovery), "f" (writable primary) or "x" (no answer). */
export interface RecoverySample {
  readonly atMs: number;
  readonly state: Record<string, "t" | "f" | "x">;
}

/**
 * Every ~`intervalMs`, `select pg_is_in_recovery()` on each address (port 5432, one kept
 * connection per node, reopened with a 1 s connect timeout after an error, each query bounded by a
 * 1 s statement timeout), run inside lab host `via` with Patroni's own interpreter and psycopg2.
 * Runs for `seconds`; resolves with every sample.
 */
export async function primarySampler(
  via: string,
  addresses: readonly string[],
  password: string,
  seconds: number,
  intervalMs = 100,
): Promise<RecoverySample[]> {
  const { hostExec } = require("../../../lab/exec") as typeof import("../../../lab/exec");
  const py = [
    "import json, os, sys, time",
    "import psycopg2",
    "addrs = sys.argv[1].split(',')",
    "end = time.time() + float(sys.argv[2])",
    "conns = {}",
    "def ask(a):",
    "    try:",
    "        c = conns.get(a)",
    "        if c is None:",
    "            c = psycopg2.connect(host=a, port=5432, user='postgres', dbname='postgres', password=os.environ['PGPASSWORD'],",
    "                                 connect_timeout=1, options='-c statement_timeout=1000')",
    "            c.autocommit = True",
    "            conns[a] = c",
    "        cur = c.cursor()",
    "        cur.execute('select pg_is_in_recovery()')",
    "        return 't' if cur.fetchone()[0] else 'f'",
    "    except Exception:",
    "        old = conns.pop(a, None)",
    "        if old is not None:",
    "            try: old.close()",
    "            except Exception: pass",
    "        return 'x'",
    "while time.time() < end:",
    "    t = time.time()",
    "    print(json.dumps({'atMs': int(t * 1000), 'state': {a: ask(a) for a in addrs}}), flush=True)",
    "    time.sleep(max(0, float(sys.argv[3]) / 1000 - (time.time() - t)))",
  ].join("\n");
  const r = await hostExec(via, `PGPASSWORD='${password}' /usr/bin/python3 - ${addresses.join(",")} ${seconds} ${intervalMs}`, {
    timeoutMs: (seconds + 30) * 1000,
    input: py,
  });
  return r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as RecoverySample);
}
