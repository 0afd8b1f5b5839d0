/**
 * How the components reach a host: a transport HostConnection for RemoteFile (credentials by path
 * where possible, so they stay out of state) and @pulumi/command ConnectionArgs for lifecycle
 * commands, always with `hostKey` set (docs/architecture.md: host keys are always pinned).
 */
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import type { SecretValues } from "../src/core/secrets";
import type { PlannedHost } from "../src/plan/types";
import type { HostConnection } from "../src/transport";
import { hostConnection, hostCredentials, pinnedHostKey } from "../src/transport";

// The pure builders live in src/transport (shared with `haforge diff --live`); re-exported for
// the components that imported them from here.
export { expandHome, pinnedHostKey } from "../src/transport";

export interface HostAccess {
  readonly host: string;
  /** For RemoteFile (plain data, may carry Outputs for the address). */
  readonly file: pulumi.Output<HostConnection>;
  /** For remote.Command. `hostKey` is resolved here; TOFU hosts get it from the first file written. */
  readonly command: (hostKeySeen?: pulumi.Input<string | undefined>) => pulumi.Output<command.types.input.remote.ConnectionArgs>;
  /** The pinned key line, when the inventory pins one. */
  readonly pinnedKey?: string;
}

export interface AccessOptions {
  /** Address overrides known only at deploy time (VMs created in the same program). */
  readonly addresses?: Record<string, pulumi.Input<string>>;
  /** Resolved secret values (Outputs), by secretKey. */
  readonly secrets: pulumi.Output<SecretValues>;
  /** Stack-wide known_hosts consulted after each host's own. */
  readonly knownHostsFile?: string;
}

export function hostAccess(hosts: ReadonlyMap<string, PlannedHost>, opts: AccessOptions): Map<string, HostAccess> {
  const out = new Map<string, HostAccess>();
  const fileConn = (h: PlannedHost, depth = 0): pulumi.Output<HostConnection> => {
    const bastion = h.ssh.bastion && depth < 4 ? hosts.get(h.ssh.bastion) : undefined;
    const key = pinnedHostKey(h, opts.knownHostsFile);
    // Only hosts with secret credentials get a secret connection (a plain one keeps previews readable).
    const secretCreds = h.ssh.privateKey || h.ssh.password ? opts.secrets.apply((s) => hostCredentials(h, s)) : pulumi.output({});
    return pulumi
      .all([pulumi.output(opts.addresses?.[h.name] ?? h.address), secretCreds, bastion ? fileConn(bastion, depth + 1) : pulumi.output(undefined)])
      .apply(([address, credentials, b]) =>
        hostConnection(h, { address, ...(key ? { pinnedKey: key } : {}), credentials, ...(b ? { bastion: b } : {}) }),
      );
  };
  for (const h of hosts.values()) {
    const file = fileConn(h);
    const pinned = pinnedHostKey(h, opts.knownHostsFile);
    const command = (hostKeySeen?: pulumi.Input<string | undefined>) =>
      pulumi.all([file, pulumi.output(hostKeySeen)]).apply(([c, seen]) => {
        // Commands read the private key's content (the command provider takes no path); it is
        // a secret input. Host key: pinned, else the one RemoteFile saw on first use.
        let privateKey = c.privateKey;
        if (!privateKey && c.privateKeyPath) {
          try {
            privateKey = readFileSync(c.privateKeyPath, "utf8");
          } catch {
            privateKey = undefined;
          }
        }
        const hostKey = pinned ?? seen ?? undefined;
        const proxy = c.bastion
          ? { host: c.bastion.address, port: c.bastion.port ?? 22, user: c.bastion.user, ...(typeof c.bastion.hostKey === "string" ? { hostKey: c.bastion.hostKey } : {}) }
          : undefined;
        const args: command.types.input.remote.ConnectionArgs = {
          host: c.address,
          port: c.port ?? 22,
          user: c.user,
          ...(hostKey ? { hostKey } : {}),
          ...(privateKey ? { privateKey: pulumi.secret(privateKey) } : {}),
          ...(c.password ? { password: pulumi.secret(c.password) } : {}),
          ...(proxy ? { proxy } : {}),
          dialErrorLimit: 5,
          perDialTimeout: 15,
        };
        return args;
      });
    out.set(h.name, { host: h.name, file, command, ...(pinned ? { pinnedKey: pinned } : {}) });
  }
  return out;
}
