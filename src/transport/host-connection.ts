/**
 * From an inventory host's `ssh:` settings to a transport HostConnection. Shared by the Pulumi
 * layer (components/connections.ts, inside an `apply` because addresses may be Outputs) and the
 * CLI (`haforge diff --live`), so both reach a host the same way: same pinned key, same
 * known_hosts lookup, same credentials, same bastion chain.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { secretKey, type SecretValues } from "../core/secrets";
import type { SshSettings } from "../inventory/schema";
import { formatPublicKey, knownHostsLookup, knownHostsNames, publicKeyText } from "./host-keys";
import { expandHome, type HostConnection } from "./pool";

/** The parts of a planned host (src/plan/types.ts, PlannedHost) a connection is built from. */
export interface ConnectableHost {
  readonly name: string;
  readonly address: string;
  readonly ssh: SshSettings;
}

/** `~/x` → `$HOME/x` (inventories are written by people). */
export { expandHome };

function readKnownHosts(file: string): string | undefined {
  try {
    return readFileSync(expandHome(file), "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Every key a host may present, as OpenSSH decides it: ssh.hostKey, and every known_hosts entry
 * for the address or the name in the host's own known_hosts file, the stack-wide one and the
 * trust-on-first-use record (`tofuFile`) — all of them, so an old+current pair during a key
 * rotation both verify — minus any key marked `@revoked` in any of those files (OpenSSH refuses a
 * revoked key even when it is also listed as valid).
 */
export function pinnedHostKeys(h: ConnectableHost, stackKnownHosts?: string, tofuFile?: string): string[] {
  const names = [...knownHostsNames(h.address, h.ssh.port), ...knownHostsNames(h.name, h.ssh.port)];
  const keys: string[] = [];
  const revoked = new Set<string>();
  if (h.ssh.hostKey) keys.push(publicKeyText(h.ssh.hostKey));
  for (const file of [h.ssh.knownHostsFile, stackKnownHosts, tofuFile]) {
    if (!file) continue;
    const text = readKnownHosts(file);
    if (text === undefined) continue;
    const m = knownHostsLookup(text, names);
    for (const k of m.revoked) revoked.add(formatPublicKey(k.blob));
    // A pinned ssh.hostKey wins over the files' valid keys (not over their revocations).
    if (!h.ssh.hostKey) for (const k of m.keys) keys.push(formatPublicKey(k.blob));
  }
  return [...new Set(keys)].filter((k) => !revoked.has(k));
}

/** The first of `pinnedHostKeys` (for callers that pin one key). */
export function pinnedHostKey(h: ConnectableHost, stackKnownHosts?: string, tofuFile?: string): string | undefined {
  return pinnedHostKeys(h, stackKnownHosts, tofuFile)[0];
}

/**
 * The first of the known_hosts files that marks a key of this host `@revoked`: the connection
 * names it so the transport refuses those keys at connect time, whatever else is pinned or
 * trusted on first use.
 */
export function revokingKnownHostsFile(h: ConnectableHost, stackKnownHosts?: string): string | undefined {
  const names = [...knownHostsNames(h.address, h.ssh.port), ...knownHostsNames(h.name, h.ssh.port)];
  for (const file of [h.ssh.knownHostsFile, stackKnownHosts]) {
    const text = file ? readKnownHosts(file) : undefined;
    if (text !== undefined && knownHostsLookup(text, names).revoked.length) return file!;
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
  /** @default - ssh.hostKey, else looked up in known_hosts (see pinnedHostKeys) */
  readonly pinnedKey?: string | readonly string[];
  readonly credentials?: HostCredentials;
  readonly bastion?: HostConnection;
  /** A known_hosts file the transport reads at connect time (for its `@revoked` entries). */
  readonly knownHostsFile?: string;
}

/**
 * The connection itself. A pinned key wins over `knownHostsFile` (the file is then not needed at
 * connect time); paths keep `~` as written (stored in state, shared by operators): the transport
 * expands them when it connects, in the process of whoever runs it.
 */
export function hostConnection(h: ConnectableHost, parts: HostConnectionParts = {}): HostConnection {
  const keys =
    parts.pinnedKey === undefined ? pinnedHostKeys(h) : typeof parts.pinnedKey === "string" ? [parts.pinnedKey] : [...parts.pinnedKey];
  const key = keys.length === 0 ? undefined : keys.length === 1 ? keys[0] : keys;
  const revoking = parts.knownHostsFile ?? revokingKnownHostsFile(h);
  return {
    host: h.name,
    address: parts.address ?? h.address,
    port: h.ssh.port,
    user: h.ssh.user,
    ...(key ? { hostKey: key } : {}),
    ...(revoking ? { knownHostsFile: revoking } : !key && h.ssh.knownHostsFile ? { knownHostsFile: h.ssh.knownHostsFile } : {}),
    ...(h.ssh.trustOnFirstUse ? { trustOnFirstUse: true } : {}),
    ...(h.ssh.privateKeyPath ? { privateKeyPath: h.ssh.privateKeyPath } : {}),
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
  opts: {
    readonly knownHostsFile?: string;
    /** Where trust-on-first-use keys are recorded (see recordTrustedKeys); read as a known_hosts file. */
    readonly tofuFile?: string;
  } = {},
): Map<string, HostConnection> {
  const byName = new Map([...hosts].map((h) => [h.name, h]));
  const build = (h: ConnectableHost, depth: number): HostConnection => {
    const via = h.ssh.bastion && depth < MAX_BASTION_DEPTH ? byName.get(h.ssh.bastion) : undefined;
    const pinnedKey = pinnedHostKeys(h, opts.knownHostsFile, opts.tofuFile);
    const revoking = revokingKnownHostsFile(h, opts.knownHostsFile);
    return hostConnection(h, {
      pinnedKey, // possibly none: every key listed may have been revoked
      ...(revoking ? { knownHostsFile: revoking } : {}),
      credentials: hostCredentials(h, secrets),
      ...(via ? { bastion: build(via, depth + 1) } : {}),
    });
  };
  return new Map([...byName.values()].map((h) => [h.name, build(h, 0)]));
}

/**
 * Record keys accepted on trust-on-first-use as known_hosts lines in `file` (created 0600), so the
 * next run pins them instead of trusting whatever key is presented. Returns the lines added.
 */
export function recordTrustedKeys(file: string, seen: readonly { host: string; address: string; port: number; key: string }[]): string[] {
  const existing = readKnownHosts(file) ?? "";
  const added: string[] = [];
  for (const k of seen) {
    const names = knownHostsNames(k.address, k.port, k.host);
    const line = `${names.join(",")} ${k.key}`;
    if (existing.includes(line) || added.includes(line)) continue;
    added.push(line);
  }
  if (added.length) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    appendFileSync(file, (existing && !existing.endsWith("\n") ? "\n" : "") + added.map((l) => `${l}\n`).join(""), { mode: 0o600 });
  }
  return added;
}
