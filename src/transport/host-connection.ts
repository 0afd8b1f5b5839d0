/**
 * From an inventory host's `ssh:` settings to a transport HostConnection. Shared by the Pulumi
 * layer (components/connections.ts, inside an `apply` because addresses may be Outputs) and the
 * CLI (`haforge diff --live`), so both reach a host the same way: same pinned key, same
 * known_hosts lookup, same credentials, same bastion chain.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { secretKey, type SecretValues } from "../core/secrets";
import type { SshSettings } from "../inventory/schema";
import { formatPublicKey, knownHostsLookup, knownHostsNames } from "./host-keys";
import type { HostConnection } from "./pool";

/** The parts of a planned host (src/plan/types.ts, PlannedHost) a connection is built from. */
export interface ConnectableHost {
  readonly name: string;
  readonly address: string;
  readonly ssh: SshSettings;
}

/** `~/x` → `$HOME/x` (inventories are written by people). */
export const expandHome = (p: string): string => (p === "~" ? homedir() : p.startsWith("~/") ? homedir() + p.slice(1) : p);

/**
 * The pinned host key line: ssh.hostKey, else the first known_hosts entry for the address or the
 * name, looked up in the host's own known_hosts file and then in the stack-wide one.
 */
export function pinnedHostKey(h: ConnectableHost, stackKnownHosts?: string): string | undefined {
  if (h.ssh.hostKey) return h.ssh.hostKey.trim().split(/\s+/).slice(0, 2).join(" ");
  for (const file of [h.ssh.knownHostsFile, stackKnownHosts]) {
    if (!file) continue;
    let text: string;
    try {
      text = readFileSync(expandHome(file), "utf8");
    } catch {
      continue;
    }
    const m = knownHostsLookup(text, [...knownHostsNames(h.address, h.ssh.port), ...knownHostsNames(h.name, h.ssh.port)]);
    const first = m.keys[0];
    if (first) return formatPublicKey(first.blob);
  }
  return undefined;
}

export interface HostCredentials {
  readonly privateKey?: string;
  readonly password?: string;
}

/** Secret credentials (ssh.privateKey / ssh.password) resolved against resolved secret values. */
export function hostCredentials(h: ConnectableHost, secrets: SecretValues): HostCredentials {
  const value = (ref: NonNullable<SshSettings["password"]>): string | undefined => ("value" in ref ? ref.value : secrets[secretKey(ref)]);
  const privateKey = h.ssh.privateKey ? value(h.ssh.privateKey) : undefined;
  const password = h.ssh.password ? value(h.ssh.password) : undefined;
  return { ...(privateKey !== undefined ? { privateKey } : {}), ...(password !== undefined ? { password } : {}) };
}

export interface HostConnectionParts {
  /** The address to dial. @default - h.address */
  readonly address?: string;
  /** @default - ssh.hostKey, else looked up in known_hosts (see pinnedHostKey) */
  readonly pinnedKey?: string;
  readonly credentials?: HostCredentials;
  readonly bastion?: HostConnection;
}

/**
 * The connection itself. A pinned key wins over `knownHostsFile` (the file is then not needed at
 * connect time); paths are `~`-expanded here because ssh2 and fs do not expand them.
 */
export function hostConnection(h: ConnectableHost, parts: HostConnectionParts = {}): HostConnection {
  const key = parts.pinnedKey ?? pinnedHostKey(h);
  return {
    host: h.name,
    address: parts.address ?? h.address,
    port: h.ssh.port,
    user: h.ssh.user,
    ...(key ? { hostKey: key } : {}),
    ...(!key && h.ssh.knownHostsFile ? { knownHostsFile: expandHome(h.ssh.knownHostsFile) } : {}),
    ...(h.ssh.trustOnFirstUse ? { trustOnFirstUse: true } : {}),
    ...(h.ssh.privateKeyPath ? { privateKeyPath: expandHome(h.ssh.privateKeyPath) } : {}),
    ...(h.ssh.agent ? { agent: true } : {}),
    ...parts.credentials,
    ...(parts.bastion ? { bastion: parts.bastion } : {}),
  };
}

/** Bastion chains deeper than this are cut (a cycle in `ssh.bastion` must not recurse forever). */
export const MAX_BASTION_DEPTH = 4;

/**
 * Connections for every host when addresses are plain strings (the CLI): bastions resolved by
 * inventory name, credentials from resolved secrets.
 */
export function hostConnections(
  hosts: Iterable<ConnectableHost>,
  secrets: SecretValues,
  opts: { readonly knownHostsFile?: string } = {},
): Map<string, HostConnection> {
  const byName = new Map([...hosts].map((h) => [h.name, h]));
  const build = (h: ConnectableHost, depth: number): HostConnection => {
    const via = h.ssh.bastion && depth < MAX_BASTION_DEPTH ? byName.get(h.ssh.bastion) : undefined;
    const pinnedKey = pinnedHostKey(h, opts.knownHostsFile);
    return hostConnection(h, {
      ...(pinnedKey ? { pinnedKey } : {}),
      credentials: hostCredentials(h, secrets),
      ...(via ? { bastion: build(via, depth + 1) } : {}),
    });
  };
  return new Map([...byName.values()].map((h) => [h.name, build(h, 0)]));
}
