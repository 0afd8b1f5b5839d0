/**
 * Host-level planning: one PlannedHost per inventory host (roles are added by the services) and
 * the host rules: unique names and addresses, SSH addresses without ports, host-key pinning,
 * bastions that exist and do not loop.
 */
import { error, warning, type Finding } from "../core/findings";
import type { Inventory } from "../inventory/schema";
import { parsePublicKeyLine } from "../transport/host-keys";
import type { PlannedHost } from "./types";

/** `host:22`, `10.0.0.1:2222`: a port in the address field (IPv6 literals have several colons). */
const ADDRESS_WITH_PORT = /^[A-Za-z0-9._-]+:[0-9]+$/;
/** DNS names, IPv4, IPv6 (optionally with a zone), nothing else (no scheme, no user@, no spaces). */
const ADDRESS_CHARS = /^[A-Za-z0-9._:%-]+$/;

/** The host rules that judge addresses (ServiceModule.addressRules for the hosts). */
export const HOST_ADDRESS_RULES: readonly string[] = [
  "hosts.invalid-address",
  "hosts.duplicate-address",
  "hosts.duplicate-internal-address",
];

export function planHosts(inventory: Inventory): { hosts: Map<string, PlannedHost>; findings: Finding[] } {
  const findings: Finding[] = [];
  const { hosts, byName } = hostEntries(inventory, findings);
  addressRules(inventory, byName, findings);
  if (inventory.target === "ssh") {
    sshRules(inventory, byName, findings);
    bastionCycles(hosts, findings);
  }
  return { hosts, findings };
}

/** One PlannedHost per host name (the first definition wins), and each name's index. */
function hostEntries(inventory: Inventory, findings: Finding[]): { hosts: Map<string, PlannedHost>; byName: Map<string, number> } {
  const hosts = new Map<string, PlannedHost>();
  const byName = new Map<string, number>();
  const byLowerName = new Map<string, number>();

  inventory.hosts.forEach((h, order) => {
    const base = `hosts[${order}]`;
    const first = byName.get(h.name);
    if (first !== undefined) {
      findings.push(
        error(
          "hosts.duplicate-name",
          `${base}.name`,
          `host name ${JSON.stringify(h.name)} is used twice (also hosts[${first}])`,
          "Host names identify hosts everywhere (groups, node names); rename or merge the two entries.",
        ),
      );
      return; // the first definition wins; the plan is dropped anyway
    }
    const lowerFirst = byLowerName.get(h.name.toLowerCase());
    if (lowerFirst !== undefined) {
      findings.push(
        warning(
          "hosts.duplicate-name-case",
          `${base}.name`,
          `host names ${JSON.stringify(inventory.hosts[lowerFirst]!.name)} and ${JSON.stringify(h.name)} differ only in case`,
          "DNS ignores case but node names (RabbitMQ, Pacemaker) do not; pick one spelling.",
        ),
      );
    }
    byName.set(h.name, order);
    byLowerName.set(h.name.toLowerCase(), order);
    hosts.set(h.name, {
      name: h.name,
      address: h.address,
      internalAddress: h.internalAddress ?? h.address,
      interfaces: h.interfaces,
      ssh: h.ssh,
      init: h.init,
      managedByPolicy: h.managedByPolicy,
      roles: [],
      order,
    });
  });
  return { hosts, byName };
}

/** Addresses: bare, well-formed, each (with its SSH port) and each internal address once. */
function addressRules(inventory: Inventory, byName: ReadonlyMap<string, number>, findings: Finding[]): void {
  const seenAddress = new Map<string, number>(); // `${address}|${port}` → index
  const seenInternal = new Map<string, { index: number; explicit: boolean }>();
  inventory.hosts.forEach((h, i) => {
    if (byName.get(h.name) !== i) return;
    const base = `hosts[${i}]`;
    if (ADDRESS_WITH_PORT.test(h.address)) {
      findings.push(
        error(
          "hosts.address-has-port",
          `${base}.address`,
          `address ${JSON.stringify(h.address)} of host ${JSON.stringify(h.name)} carries a port`,
          "Put the port in ssh.port (INI: ansible_port or host:port on the host line) and keep the address bare.",
        ),
      );
    } else if (!ADDRESS_CHARS.test(h.address)) {
      findings.push(
        error(
          "hosts.invalid-address",
          `${base}.address`,
          `address ${JSON.stringify(h.address)} of host ${JSON.stringify(h.name)} is not a DNS name or an IP address`,
          "Write a bare DNS name or IP: no scheme, user@ or spaces.",
        ),
      );
    }
    if (h.internalAddress !== undefined && !ADDRESS_CHARS.test(h.internalAddress)) {
      findings.push(
        error(
          "hosts.invalid-address",
          `${base}.internalAddress`,
          `internal address ${JSON.stringify(h.internalAddress)} of host ${JSON.stringify(h.name)} is not a DNS name or an IP address`,
        ),
      );
    }
    // Two names behind one address are fine when the SSH ports differ (NAT port forwards).
    const key = `${h.address.toLowerCase()}|${h.ssh.port}`;
    const prev = seenAddress.get(key);
    if (prev !== undefined) {
      findings.push(
        error(
          "hosts.duplicate-address",
          `${base}.address`,
          `hosts ${JSON.stringify(inventory.hosts[prev]!.name)} and ${JSON.stringify(h.name)} have the same address ${JSON.stringify(h.address)} and SSH port ${h.ssh.port}`,
          "Each host needs its own address (or its own SSH port behind NAT).",
        ),
      );
    } else seenAddress.set(key, i);
    // The cluster-internal address (`rabbitmq_host`) identifies the node to its peers.
    const internal = (h.internalAddress ?? h.address).toLowerCase();
    const explicit = h.internalAddress !== undefined;
    const prevInternal = seenInternal.get(internal);
    if (prevInternal !== undefined && (explicit || prevInternal.explicit)) {
      findings.push(
        error(
          "hosts.duplicate-internal-address",
          explicit ? `${base}.internalAddress` : `${base}.address`,
          `hosts ${JSON.stringify(inventory.hosts[prevInternal.index]!.name)} and ${JSON.stringify(h.name)} have the same internal address ${JSON.stringify(h.internalAddress ?? h.address)}`,
          "Peers would reach the wrong node; give each host its own rabbitmq_host / internalAddress.",
        ),
      );
    } else if (prevInternal === undefined) seenInternal.set(internal, { index: i, explicit });
  });
}

/** SSH: host keys parse and are pinned, bastions are other inventory hosts. */
function sshRules(inventory: Inventory, byName: ReadonlyMap<string, number>, findings: Finding[]): void {
  inventory.hosts.forEach((h, i) => {
    if (byName.get(h.name) !== i) return;
    const base = `hosts[${i}].ssh`;
    const s = h.ssh;
    if (s.hostKey !== undefined) {
      try {
        parsePublicKeyLine(s.hostKey);
      } catch (e) {
        findings.push(
          error(
            "ssh.host-key-invalid",
            `${base}.hostKey`,
            `host key of ${JSON.stringify(h.name)} is not an OpenSSH public key line: ${(e as Error).message}`,
            "Paste one line of `ssh-keyscan -t ed25519 HOST` without the host name, e.g. `ssh-ed25519 AAAA...`.",
          ),
        );
      }
    }
    if (s.hostKey === undefined && s.knownHostsFile === undefined && !s.trustOnFirstUse) {
      findings.push(
        warning(
          "ssh.host-key-unpinned",
          base,
          `the SSH host key of ${JSON.stringify(h.name)} is not pinned: connecting will be refused`,
          "Set ssh.hostKey or ssh.knownHostsFile (INI: haforge_host_key / haforge_known_hosts_file), or opt in to ssh.trustOnFirstUse.",
        ),
      );
    }
    if (s.bastion !== undefined) {
      if (s.bastion === h.name) {
        findings.push(error("ssh.bastion-self", `${base}.bastion`, `host ${JSON.stringify(h.name)} names itself as its bastion`));
      } else if (!byName.has(s.bastion)) {
        findings.push(
          error(
            "ssh.unknown-bastion",
            `${base}.bastion`,
            `bastion ${JSON.stringify(s.bastion)} of host ${JSON.stringify(h.name)} is not an inventory host`,
            "A bastion is another host of this inventory (with its own address and host key); add it to hosts.",
          ),
        );
      }
    }
  });
}

/** Jump chains must end: A via B via A never connects. Reported once per loop, on a member. */
function bastionCycles(hosts: ReadonlyMap<string, PlannedHost>, findings: Finding[]): void {
  const reported = new Set<string>();
  for (const h of hosts.values()) {
    if (reported.has(h.name)) continue;
    const chain: string[] = [h.name];
    let cur = h.ssh.bastion;
    while (cur !== undefined && hosts.has(cur) && !chain.includes(cur)) {
      chain.push(cur);
      cur = hosts.get(cur)!.ssh.bastion;
    }
    if (cur === undefined || !chain.includes(cur)) continue;
    const loop = chain.slice(chain.indexOf(cur));
    if (loop.length < 2 || !loop.includes(h.name)) continue; // self-loops: ssh.bastion-self
    loop.forEach((n) => reported.add(n));
    findings.push(
      error(
        "ssh.bastion-cycle",
        `hosts[${h.order}].ssh.bastion`,
        `bastions loop: ${[...loop, cur].join(" → ")}`,
        "A jump chain must end at a host reached directly.",
      ),
    );
  }
}
