/**
 * How the components reach a host: a transport HostConnection for RemoteFile (credentials by path
 * where possible, so they stay out of state) and @pulumi/command ConnectionArgs for lifecycle
 * commands, always with `hostKey` set (DESIGN.md: pins host keys).
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { secretKey, type SecretValues } from "../src/core/secrets";
import type { PlannedHost } from "../src/plan/types";
import type { HostConnection } from "../src/transport";
import { formatPublicKey, knownHostsLookup, knownHostsNames } from "../src/transport";

export interface HostAccess {
  readonly host: string;
  /** For RemoteFile (plain data, may carry Outputs for the address). */
  readonly file: pulumi.Output<HostConnection>;
  /** For remote.Command. `hostKey` is resolved here; TOFU hosts get it from the first file written. */
  readonly command: (hostKeySeen?: pulumi.Input<string | undefined>) => pulumi.Output<command.types.input.remote.ConnectionArgs>;
  /** The pinned key line, when the inventory pins one. */
  readonly pinnedKey?: string;
}

/** `~/x` → `$HOME/x` (inventories are written by people). */
export const expandHome = (p: string): string => (p === "~" ? homedir() : p.startsWith("~/") ? homedir() + p.slice(1) : p);

/**
 * The pinned host key line: ssh.hostKey, else the first known_hosts entry for the address or the
 * name, looked up in the host's own known_hosts file and then in the stack-wide one.
 */
export function pinnedHostKey(h: PlannedHost, stackKnownHosts?: string): string | undefined {
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
    const secretCreds: pulumi.Output<{ privateKey?: string; password?: string }> =
      h.ssh.privateKey || h.ssh.password
        ? opts.secrets.apply((s) => ({
            ...(h.ssh.privateKey ? { privateKey: "value" in h.ssh.privateKey ? h.ssh.privateKey.value : s[secretKey(h.ssh.privateKey)]! } : {}),
            ...(h.ssh.password ? { password: "value" in h.ssh.password ? h.ssh.password.value : s[secretKey(h.ssh.password)]! } : {}),
          }))
        : pulumi.output({});
    return pulumi
      .all([pulumi.output(opts.addresses?.[h.name] ?? h.address), secretCreds, bastion ? fileConn(bastion, depth + 1) : pulumi.output(undefined)])
      .apply(([address, creds, b]) => {
        const conn: HostConnection = {
          host: h.name,
          address,
          port: h.ssh.port,
          user: h.ssh.user,
          ...(key ? { hostKey: key } : {}),
          ...(!key && h.ssh.knownHostsFile ? { knownHostsFile: expandHome(h.ssh.knownHostsFile) } : {}),
          ...(h.ssh.trustOnFirstUse ? { trustOnFirstUse: true } : {}),
          ...(h.ssh.privateKeyPath ? { privateKeyPath: expandHome(h.ssh.privateKeyPath) } : {}),
          ...(h.ssh.agent ? { agent: true } : {}),
          ...creds,
          ...(b ? { bastion: b } : {}),
        };
        return conn;
      });
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
