/**
 * How the components reach a host: a transport HostConnection for RemoteFile, and for HostAction
 * an operator-independent ActionConnection (no key text, a pinned host key) plus the secret
 * credentials from stack config, resolved by the provider only when it connects.
 *
 * Host keys come only from the inventory (`ssh.hostKey`) or a committed known_hosts: the stack's
 * `haforge:knownHostsFile` or a host's `ssh.knownHostsFile` given relative to the project. A
 * known_hosts under `~` or elsewhere on one machine differs per operator, so it never decides
 * what the program declares.
 */
import { isAbsolute } from "node:path";
import * as pulumi from "../src/providers/pulumi-sdk";
import type { SecretValues } from "../src/core/secrets";
import type { PlannedHost } from "../src/plan/types";
import type { ActionConnection, ActionCredential, ActionCredentials } from "../src/providers/host-action";
import type { HostConnection } from "../src/transport";
import { hostConnection, hostCredentials, pinnedHostKey } from "../src/transport";

// The pure builders live in src/transport (shared with `haforge diff --live`); re-exported for
// the components that imported them from here.
export { expandHome, pinnedHostKey } from "../src/transport";

/** A known_hosts path that names the same file for every operator of a stack. */
export const isCommittedPath = (p: string): boolean => !p.startsWith("~") && !isAbsolute(p);

/**
 * The host key the program pins: `ssh.hostKey`, else the stack's committed known_hosts, else the
 * host's own known_hosts when it is a project file. Undefined when only an operator-specific
 * file (or nothing) knows the host.
 */
export function committedHostKey(h: PlannedHost, stackKnownHosts?: string): string | undefined {
  if (h.ssh.hostKey) return pinnedHostKey(h);
  const own = h.ssh.knownHostsFile && isCommittedPath(h.ssh.knownHostsFile) ? h.ssh.knownHostsFile : undefined;
  const bare = { ...h, ssh: { ...h.ssh, knownHostsFile: undefined } };
  return (stackKnownHosts ? pinnedHostKey(bare, stackKnownHosts) : undefined) ?? (own ? pinnedHostKey(bare, own) : undefined);
}

export interface HostAccess {
  readonly host: string;
  /** For RemoteFile (plain data, may carry Outputs for the address). */
  readonly file: pulumi.Output<HostConnection>;
  /**
   * For HostAction. `hostKey` is the committed pin; a trust-on-first-use host passes the key its
   * first RemoteFile recorded (then verified like any pin).
   */
  readonly action: (hostKeySeen?: pulumi.Input<string | undefined>) => pulumi.Output<ActionConnection>;
  /** Secret credentials of the host and its bastions (inventory secrets, the stack's deploy key). */
  readonly credentials: pulumi.Output<ActionCredentials | undefined>;
  /** The pinned key line, when the inventory or a committed known_hosts pins one. */
  readonly pinnedKey?: string;
}

export interface AccessOptions {
  /** Address overrides known only at deploy time (VMs created in the same program). */
  readonly addresses?: Record<string, pulumi.Input<string>>;
  /** Resolved secret values (Outputs), by secretKey. */
  readonly secrets: pulumi.Output<SecretValues>;
  /** Stack-wide committed known_hosts, consulted before each host's own. */
  readonly knownHostsFile?: string;
  /** One deploy key (private key text) for every host without credentials of its own. */
  readonly deployKey?: pulumi.Input<string>;
}

const MAX_DEPTH = 4;

export function hostAccess(hosts: ReadonlyMap<string, PlannedHost>, opts: AccessOptions): Map<string, HostAccess> {
  const out = new Map<string, HostAccess>();
  const address = (h: PlannedHost) => pulumi.output(opts.addresses?.[h.name] ?? h.address);
  const bastionOf = (h: PlannedHost, depth: number) => (h.ssh.bastion && depth < MAX_DEPTH ? hosts.get(h.ssh.bastion) : undefined);
  const hasOwnSecret = (h: PlannedHost) => !!(h.ssh.privateKey || h.ssh.password);

  const fileConn = (h: PlannedHost, depth = 0): pulumi.Output<HostConnection> => {
    const bastion = bastionOf(h, depth);
    const key = committedHostKey(h, opts.knownHostsFile);
    // Only hosts with secret credentials get a secret connection (a plain one keeps previews readable).
    const secretCreds = hasOwnSecret(h)
      ? opts.secrets.apply((s) => hostCredentials(h, s))
      : opts.deployKey !== undefined && !h.ssh.privateKeyPath
        ? pulumi.secret(pulumi.output(opts.deployKey).apply((privateKey) => ({ privateKey })))
        : pulumi.output({});
    return pulumi
      .all([address(h), secretCreds, bastion ? fileConn(bastion, depth + 1) : pulumi.output(undefined)])
      .apply(([addr, credentials, b]) =>
        hostConnection(h, { address: addr, ...(key ? { pinnedKey: key } : {}), credentials, ...(b ? { bastion: b } : {}) }),
      );
  };

  const actionConn = (h: PlannedHost, seen: pulumi.Input<string | undefined> | undefined, depth = 0): pulumi.Output<ActionConnection> => {
    const bastion = bastionOf(h, depth);
    const pinned = committedHostKey(h, opts.knownHostsFile);
    return pulumi
      .all([address(h), pulumi.output(seen), bastion ? actionConn(bastion, undefined, depth + 1) : pulumi.output(undefined)])
      .apply(([addr, s, b]): ActionConnection => {
        const hostKey = pinned ?? s ?? "";
        return {
          host: h.name,
          address: addr,
          port: h.ssh.port,
          user: h.ssh.user,
          // Empty when nothing pins it: HostAction's check then refuses the action.
          hostKey,
          // As written: expanded by the provider when it connects.
          ...(h.ssh.privateKeyPath ? { privateKeyPath: h.ssh.privateKeyPath } : {}),
          ...(h.ssh.agent ? { agent: true } : {}),
          ...(b ? { bastion: b } : {}),
        };
      });
  };

  const chain = (h: PlannedHost): PlannedHost[] => {
    const list: PlannedHost[] = [];
    for (let x: PlannedHost | undefined = h, d = 0; x && d <= MAX_DEPTH; x = bastionOf(x, d), d++) list.push(x);
    return list;
  };
  const credentialsOf = (h: PlannedHost): pulumi.Output<ActionCredentials | undefined> => {
    const own = chain(h).filter(hasOwnSecret);
    if (own.length === 0 && opts.deployKey === undefined) return pulumi.output(undefined);
    return pulumi.secret(
      pulumi.all([opts.secrets, pulumi.output(opts.deployKey)]).apply(([s, deployKey]) => {
        const creds: Record<string, ActionCredential> = {};
        for (const x of own) creds[x.name] = hostCredentials(x, s);
        if (deployKey !== undefined) creds["*"] = { privateKey: deployKey };
        return creds;
      }),
    );
  };

  for (const h of hosts.values()) {
    const pinned = committedHostKey(h, opts.knownHostsFile);
    out.set(h.name, {
      host: h.name,
      file: fileConn(h),
      action: (seen) => actionConn(h, seen),
      credentials: credentialsOf(h),
      ...(pinned ? { pinnedKey: pinned } : {}),
    });
  }
  return out;
}
