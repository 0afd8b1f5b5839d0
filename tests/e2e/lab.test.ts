/**
 * The lab itself: 3 hosts that look like separate machines (hostname, PIDs, /etc, /dev/shm,
 * sshd host key) on a private bridge with no way out, a host wiped and booted again under its name
 * (a new host key, a fresh /etc, the others untouched), and a teardown that leaves nothing.
 * Run as root: npm run test:e2e
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { BRIDGE, STATE_DIR, SUBNET_PREFIX, vethName } from "../../lab/config";
import { hostExec, hostExecOk, hostInfo, labWipe, sshArgs, withLab, type LabInfo } from "../../lab/exec";
import { isAlive, pidNamespaceMembers, run, type ProcRef } from "../../lab/proc";
import { LAB_WAIT_MS } from "./harness";
import { readClaim } from "../../lab/claim";

const SKIP = process.getuid?.() !== 0 ? "the lab needs root" : false;

function realHostKey(): string {
  return fs.readFileSync("/etc/ssh/ssh_host_ed25519_key.pub", "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

async function ssh(address: string, cmd: string, knownHosts?: string) {
  return run("ssh", [...sshArgs(address, knownHosts), cmd], { timeoutMs: 15_000 });
}

test("lab: 3 isolated hosts on a private bridge, torn down without a trace", { skip: SKIP, timeout: 240_000 }, async (t) => {
  let recorded: ProcRef[] = [];
  let names: string[] = [];
  let labError: unknown;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-lab-test-"));
  try {
    await withLab({ hosts: 3, waitMs: LAB_WAIT_MS }, async (lab: LabInfo) => {
      recorded = hostInfo().flatMap((h) => h.pids);
      names = lab.hosts.map((h) => h.name);
      const [h1, h2, h3] = lab.hosts;
      assert.ok(h1 && h2 && h3);
      assert.deepEqual(names, ["lab1", "lab2", "lab3"]);

      await t.test("each host has its own hostname", async () => {
        const got = await Promise.all(lab.hosts.map((h) => hostExecOk(h.name, "hostname; cat /etc/hostname")));
        got.forEach((out, i) => assert.equal(out, `${names[i]}\n${names[i]}\n`));
        assert.notEqual(os.hostname(), "lab1");
      });

      await t.test("each sshd answers on its address with the host's OWN key", async () => {
        const real = realHostKey();
        const seen = new Set<string>();
        for (const h of lab.hosts) {
          const scan = await run("ssh-keyscan", ["-T", "5", "-t", "ed25519", h.address], { timeoutMs: 10_000 });
          assert.equal(scan.code, 0, scan.stderr);
          const line = scan.stdout.split("\n").find((l) => l.startsWith(h.address));
          assert.ok(line, `no key from ${h.address}: ${scan.stdout}`);
          const offered = line.split(/\s+/).slice(1, 3).join(" ");
          const inside = (await hostExecOk(h.name, "cat /etc/ssh/ssh_host_ed25519_key.pub")).trim().split(/\s+/).slice(0, 2).join(" ");
          assert.equal(offered, h.hostKey, `${h.name} offers a key other than the pinned one`);
          assert.equal(offered, inside, `${h.name} offers a key other than its own`);
          assert.notEqual(offered, real, `${h.name} offers the real machine's key`);
          seen.add(offered);
        }
        assert.equal(seen.size, 3, "host keys must differ across hosts");
      });

      await t.test("strict host key checking: pinned known_hosts works, a wrong one is refused", async () => {
        for (const h of lab.hosts) {
          const ok = await ssh(h.address, "hostname");
          assert.equal(ok.code, 0, ok.stderr);
          assert.equal(ok.stdout.trim(), h.name);
        }
        // every address pinned to another host's key (a MITM as far as ssh can tell)
        const wrong = path.join(tmp, "known_hosts.wrong");
        fs.writeFileSync(wrong, lab.hosts.map((h, i) => `${h.address} ${lab.hosts[(i + 1) % 3]!.hostKey}\n`).join(""));
        // the real machine's key for lab1's address
        const realOnly = path.join(tmp, "known_hosts.real");
        fs.writeFileSync(realOnly, `${h1.address} ${realHostKey()}\n`);
        const empty = path.join(tmp, "known_hosts.empty");
        fs.writeFileSync(empty, "");
        for (const kh of [wrong, realOnly, empty]) {
          const r = await ssh(h1.address, "echo SHOULD-NOT-RUN", kh);
          assert.equal(r.code, 255, `${path.basename(kh)}: ssh must refuse (got ${r.code})`);
          assert.doesNotMatch(r.stdout, /SHOULD-NOT-RUN/);
          assert.match(r.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
        }
      });

      await t.test("a process started in lab1 is invisible in lab2 (PID namespace)", async () => {
        const marker = `sleep 31${randomBytes(2).readUInt16BE() % 1000}7`;
        const pid = (await hostExecOk("lab1", `setsid ${marker} </dev/null >/dev/null 2>&1 & echo $!`)).trim();
        assert.match(pid, /^\d+$/);
        try {
          assert.equal((await hostExec("lab1", `pgrep -f '^${marker}$'`)).code, 0, "lab1 must see its own process");
          assert.equal((await hostExec("lab2", `pgrep -f '^${marker}$'`)).code, 1, "lab2 must not see lab1's process");
          const overSsh = await ssh(h2.address, `pgrep -f '^${marker}$'; echo rc=$?`);
          assert.match(overSsh.stdout, /rc=1/);
          // lab2's whole process table: supervisord as PID 1 and its own few processes
          const ps = await hostExecOk("lab2", "ps -e -o pid=,comm=");
          assert.match(ps, /^\s*1 supervisord$/m);
          assert.doesNotMatch(ps, /sleep/);
        } finally {
          await hostExec("lab1", `kill ${pid}`); // by the PID we recorded, inside lab1
        }
      });

      await t.test("files in /etc and /dev/shm of lab1 are not visible in lab2 nor on the real machine", async () => {
        const name = `haforge-lab-probe-${randomBytes(4).toString("hex")}`;
        await hostExecOk("lab1", `echo lab1 > /etc/${name} && echo lab1 > /dev/shm/${name}`);
        try {
          assert.equal(await hostExecOk("lab1", `cat /etc/${name}`), "lab1\n");
          assert.equal((await hostExec("lab2", `test -e /etc/${name}`)).code, 1);
          assert.equal((await hostExec("lab2", `test -e /dev/shm/${name}`)).code, 1);
          assert.equal(fs.existsSync(`/etc/${name}`), false, "leaked to the real /etc");
          assert.equal(fs.existsSync(`/dev/shm/${name}`), false, "leaked to the real /dev/shm");
        } finally {
          fs.rmSync(`/etc/${name}`, { force: true });
        }
      });

      await t.test("no inherited Erlang cookie; supervisorctl works inside a host", async () => {
        for (const h of lab.hosts) {
          assert.equal((await hostExec(h.name, "test -e /var/lib/rabbitmq/.erlang.cookie")).code, 1);
          assert.match(await hostExecOk(h.name, "supervisorctl status sshd"), /RUNNING/);
        }
      });

      await t.test("hosts reach each other, by address and name, but have no default route", async () => {
        assert.match(await hostExecOk("lab1", `ping -c 1 -W 2 ${h2.address} && ping -c 1 -W 2 lab3`), /1 received/);
        const tcp = await hostExecOk("lab2", `timeout 5 bash -c 'exec 3<>/dev/tcp/${h3.address}/22; head -c 8 <&3'`);
        assert.equal(tcp, "SSH-2.0-");
        for (const h of lab.hosts) {
          assert.equal(await hostExecOk(h.name, "ip route show default; ip -6 route show default"), "");
          const routes = (await hostExecOk(h.name, "ip -4 route show")).trim().split("\n");
          assert.deepEqual(
            routes.map((r) => r.split(" ")[0]),
            [`${SUBNET_PREFIX}.0/24`],
          );
          // route lookup only: nothing is sent
          assert.notEqual((await hostExec(h.name, "ip route get 198.51.100.1")).code, 0);
        }
      });

      await t.test(
        "wipe lab2: all its processes gone, its /etc fresh, a new host key; lab1 and lab3 untouched",
        { timeout: 120_000 },
        async (st) => {
          const probe = `haforge-wipe-probe-${randomBytes(4).toString("hex")}`;
          await hostExecOk("lab2", `echo before > /etc/${probe}`);
          const others = hostInfo().filter((h) => h.name !== "lab2");
          const lab2Before = hostInfo().find((h) => h.name === "lab2")!;
          const lab2Processes = pidNamespaceMembers(lab2Before.pids.find((r) => r.pid === lab2Before.initPid)!);
          assert.ok(lab2Processes.length >= 2, `lab2 runs supervisord and sshd: ${lab2Processes.length}`);
          const oldKnownHosts = path.join(tmp, "known_hosts.before-wipe");
          fs.copyFileSync(lab.knownHostsPath, oldKnownHosts);

          const r = await labWipe("lab2");
          recorded = [...recorded, ...hostInfo().flatMap((h) => h.pids)];
          assert.equal(r.oldHostKey, h2.hostKey);
          assert.deepEqual(
            lab2Processes.filter(isAlive).map((p) => p.pid),
            [],
            "lab2's processes from before the wipe are still alive",
          );
          // a different key, offered by sshd and the host's own
          const scan = await run("ssh-keyscan", ["-T", "5", "-t", "ed25519", h2.address], { timeoutMs: 10_000 });
          const offered = scan.stdout
            .split("\n")
            .find((l) => l.startsWith(h2.address))
            ?.split(/\s+/)
            .slice(1, 3)
            .join(" ");
          assert.equal(offered, r.host.hostKey);
          assert.notEqual(offered, h2.hostKey, "lab2 offers its old host key after the wipe");
          assert.notEqual(offered, realHostKey());
          const inside = (await hostExecOk("lab2", "cat /etc/ssh/ssh_host_ed25519_key.pub")).trim().split(/\s+/).slice(0, 2).join(" ");
          assert.equal(inside, offered);
          // the old pin refuses it; the lab's known_hosts now pins the new key
          const refused = await ssh(h2.address, "echo SHOULD-NOT-RUN", oldKnownHosts);
          assert.equal(refused.code, 255);
          assert.doesNotMatch(refused.stdout, /SHOULD-NOT-RUN/);
          assert.match(refused.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
          const ok = await ssh(h2.address, "hostname");
          assert.equal(ok.code, 0, ok.stderr);
          assert.equal(ok.stdout.trim(), "lab2");
          assert.match(fs.readFileSync(lab.inventoryPath, "utf8"), new RegExp(r.host.hostKey.split(" ")[1]!.replace(/[+/]/g, "\\$&")));
          // its disk is fresh: the file written before is gone; supervisord is PID 1 again
          assert.equal((await hostExec("lab2", `test -e /etc/${probe}`)).code, 1, `/etc/${probe} survived the wipe`);
          assert.match(await hostExecOk("lab2", "ps -o comm= -p 1"), /^supervisord$/m);
          assert.equal((await hostExec("lab2", "test -e /var/lib/rabbitmq/.erlang.cookie")).code, 1);
          // the other hosts: same PID 1 and launcher, still running
          for (const h of others) {
            const now = hostInfo().find((x) => x.name === h.name)!;
            assert.deepEqual(now.pids, h.pids, `${h.name}: its PIDs changed`);
            assert.ok(now.running, `${h.name} stopped`);
          }
          st.diagnostic(`wipe lab2: ${r.ms} ms (stop ${r.stopMs} ms, ${r.stopped} processes; boot ${r.bootMs} ms)`);
        },
      );
    });
  } catch (e) {
    labError = e;
  }

  await t.test("teardown leaves no netns, links, PIDs or state", async () => {
    assert.ok(recorded.length >= 6, `expected launcher + PID 1 for 3 hosts, recorded ${recorded.length}`);
    const alive = recorded.filter(isAlive);
    assert.deepEqual(alive, [], "recorded PIDs still alive");
    const netns = (await run("ip", ["netns", "list"])).stdout;
    for (const n of names) assert.doesNotMatch(netns, new RegExp(`^${n}\\b`, "m"));
    assert.notEqual((await run("ip", ["link", "show", "dev", BRIDGE])).code, 0, `${BRIDGE} still exists`);
    for (const n of names) assert.notEqual((await run("ip", ["link", "show", "dev", vethName(n)])).code, 0);
    assert.equal(fs.existsSync(STATE_DIR), false, "lab/.state left behind");
    assert.equal(readClaim(), null, "the lab's claim on the bridge was not released");
    assert.doesNotMatch(fs.readFileSync("/proc/self/mountinfo", "utf8"), new RegExp(STATE_DIR.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  });
  fs.rmSync(tmp, { recursive: true, force: true });
  if (labError) throw labError instanceof Error ? labError : new Error(`lab failed: ${JSON.stringify(labError)}`);
});
