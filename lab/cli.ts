/**
 * npm run lab -- up [--hosts N] [--prefix lab] [--wait SECONDS] | down [--keep-state] | status | exec HOST CMD... | wipe HOST | bench
 * See lab/README.md.
 */
import { Command, InvalidArgumentError } from "commander";
import * as fs from "node:fs";
import * as path from "node:path";
import { BRIDGE, DEFAULT_HOSTS, DEFAULT_PREFIX, HOSTS_FILE, INVENTORY_FILE, KNOWN_HOSTS, LIMITS, SSH_CONFIG, STATE_DIR } from "./config";
import { hostExec, hostInfo, hostMemory, labDownSync, labUp, labWipe, LabError, sshBanner } from "./exec";
import { readState } from "./state";
import { describeClaim, readClaim } from "./claim";
import { labInventory } from "./inventory";
import type { LabHost } from "./up";

const log = (m: string) => process.stderr.write(`${m}\n`);

/** hosts.json as `up` wrote it. */
function readHosts(): LabHost[] | undefined {
  try {
    return JSON.parse(fs.readFileSync(HOSTS_FILE, "utf8")) as LabHost[];
  } catch {
    return undefined;
  }
}

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("not an integer");
  return n;
}

/** While `up` runs, a Ctrl-C or kill still tears down whatever was created. */
function guardSignals(): () => void {
  const sigs: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const h = (sig: NodeJS.Signals) => {
    log(`${sig}: tearing down`);
    try {
      labDownSync({ log });
    } finally {
      process.exit(130);
    }
  };
  for (const s of sigs) process.on(s, h);
  return () => sigs.forEach((s) => process.off(s, h));
}

async function status(): Promise<number> {
  const claim = readClaim();
  console.log(claim ? `${BRIDGE} held by ${describeClaim(claim)}` : `${BRIDGE}: not claimed`);
  const st = readState();
  if (!st) {
    console.log("no lab (lab/.state/state.json missing)");
    return 1;
  }
  console.log(`lab "${st.prefix}" phase=${st.phase} created=${st.createdAt}`);
  let bad = 0;
  for (const h of hostInfo()) {
    const banner = h.running ? await sshBanner(h.address, 2000) : null;
    const mem = h.running ? await hostMemory(h.name) : null;
    if (!banner) bad++;
    console.log(
      [
        h.name.padEnd(8),
        h.address.padEnd(14),
        `pid1=${h.initPid ?? "-"}`.padEnd(12),
        h.running ? "running" : "STOPPED",
        banner ? `sshd: ${banner}` : "sshd: no answer",
        mem ? `mem: ${(mem.pssKiB / 1024).toFixed(1)} MiB pss / ${(mem.rssKiB / 1024).toFixed(1)} MiB rss, ${mem.processes} procs` : "",
      ].join("  "),
    );
  }
  console.log(`inventory: ${INVENTORY_FILE}\nknown_hosts: ${KNOWN_HOSTS}\nssh: ssh -F ${SSH_CONFIG} <host>`);
  return bad ? 1 : 0;
}

async function main(): Promise<number> {
  let rc = 0;
  const program = new Command("lab")
    .description("local multi-host lab: netns + overlay + supervisord hosts on 10.213.7.0/24")
    .showHelpAfterError();
  program
    .command("up")
    .description("create the hosts and wait until each sshd answers with its own key")
    .option("--hosts <n>", "number of hosts", int, DEFAULT_HOSTS)
    .option("--prefix <p>", "host name prefix", DEFAULT_PREFIX)
    .option("--wait <seconds>", "when another lab holds the bridge, wait this long for it (default: refuse at once)", int, 0)
    .option("--own-root <hosts>", "comma-separated hosts that get their own /usr (apt/dpkg may run inside them)", "")
    .action(async (o: { hosts: number; prefix: string; wait: number; ownRoot: string }) => {
      const unguard = guardSignals();
      try {
        const info = await labUp({
          hosts: o.hosts,
          prefix: o.prefix,
          log,
          waitMs: o.wait * 1000,
          ownRoot: o.ownRoot.split(",").filter(Boolean),
        });
        for (const h of info.hosts) console.log(`${h.name}\t${h.address}\t${h.hostKey}`);
        console.log(`up in ${info.ms} ms; inventory ${info.inventoryPath}; ssh -F ${info.sshConfigPath} ${info.hosts[0]?.name ?? ""}`);
      } finally {
        unguard();
      }
    });
  program
    .command("down")
    .description("stop every host by its recorded PID, delete netns/veths/bridge and lab/.state (idempotent)")
    .option("--keep-state", "keep lab/.state (upper layers, logs) for a post-mortem", false)
    .action((o: { keepState: boolean }) => {
      labDownSync({ log, keepState: o.keepState });
    });
  program
    .command("status")
    .description("list hosts and whether their sshd answers")
    .action(async () => {
      rc = await status();
    });
  program
    .command("exec")
    .description("run a shell command inside a host (nsenter into all its namespaces)")
    .argument("<host>")
    .argument("<cmd...>")
    .option("--timeout <ms>", "time limit", int, LIMITS.execMs)
    .action(async (host: string, cmd: string[], o: { timeout: number }) => {
      const r = await hostExec(host, cmd.join(" "), { timeoutMs: o.timeout });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      rc = r.code ?? 1;
    });
  program
    .command("wipe")
    .description(
      "replace a host under its name: stop it, delete its own /etc /var /opt /home /srv /usr/local and /root, boot it again (new host keys)",
    )
    .argument("<host>")
    .action(async (host: string) => {
      const r = await labWipe(host, { log });
      console.log(`${r.host.name}\t${r.host.address}\t${r.host.hostKey}`);
      console.log(`wiped in ${r.ms} ms (was ${r.oldHostKey ?? "-"}); known_hosts and inventory.yaml pin the new key`);
    });
  program
    .command("inventory")
    .description("write an example inventory with the running lab's addresses, host keys and client key (for pulumi up)")
    .option("--from <file>", "example inventory to adapt", path.join(__dirname, "..", "inventories", "lab.yaml"))
    .option("--out <file>", "where to write it", path.join(STATE_DIR, "lab.yaml"))
    .action((o: { from: string; out: string }) => {
      const st = readState();
      const hosts = readHosts();
      if (!st || !hosts) {
        log("no lab is up: run `npm run lab -- up` first");
        rc = 1;
        return;
      }
      console.log(labInventory(o.from, hosts, o.out));
    });
  program
    .command("bench")
    .description("measure bring-up, memory per bare host and teardown")
    .option("--hosts <n>", "number of hosts", int, DEFAULT_HOSTS)
    .action(async (o: { hosts: number }) => {
      const unguard = guardSignals();
      try {
        const info = await labUp({ hosts: o.hosts, log });
        const mem = await Promise.all(info.hosts.map((h) => hostMemory(h.name)));
        const down = labDownSync({ log });
        const avg = (f: (m: (typeof mem)[number]) => number) => Math.round(mem.reduce((a, m) => a + f(m), 0) / mem.length / 1024);
        console.log(
          JSON.stringify({
            hosts: o.hosts,
            upMs: info.ms,
            downMs: down.ms,
            perHostPssMiB: avg((m) => m.pssKiB),
            perHostRssMiB: avg((m) => m.rssKiB),
          }),
        );
      } finally {
        unguard();
      }
    });
  await program.parseAsync(process.argv);
  return rc;
}

main().then(
  (rc) => process.exit(rc),
  (e: unknown) => {
    log(e instanceof LabError ? `lab: ${e.message}` : `lab: unexpected error: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
