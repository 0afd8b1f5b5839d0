/**
 * Fixed facts about the local lab (docs/lab.md). One lab per machine at a time: the bridge name
 * and the /24 are the lab's by convention, and the lab that owns them holds a claim
 * (lab/claim.ts) so that a second lab (another checkout, another CI job) waits or is refused
 * instead of taking them over.
 */
import * as path from "node:path";

/** Bridge in the root namespace; it takes `.1` so the real machine reaches every host. */
export const BRIDGE = "hfbr0";
/** First three octets of the lab's private /24. Hosts are `.11`, `.12`, ... */
export const SUBNET_PREFIX = "10.213.7";
export const BRIDGE_ADDRESS = `${SUBNET_PREFIX}.1`;
export const SUBNET_CIDR = `${SUBNET_PREFIX}.0/24`;
/** Host i (1-based) gets `.${HOST_OFFSET + i}`. */
export const HOST_OFFSET = 10;
export const MAX_HOSTS = 50;
export const DEFAULT_HOSTS = 3;
export const DEFAULT_PREFIX = "lab";

/**
 * Directories of the real machine each host sees through its own overlay. Everything else
 * (/usr, /bin, /lib, /work ...) is shared read-write with the real machine; packages are
 * installed there only, never inside a host.
 */
export const OVERLAY_DIRS = ["etc", "var", "opt", "home", "srv", "usr/local"] as const;
/*
 * /root is NOT overlaid: each host gets a fresh, empty root home (Debian's default dotfiles).
 * The real machine's /root/.bashrc runs pyenv/cargo init in every `ssh host cmd` and its
 * `pyenv rehash` lock made parallel sessions hang for minutes.
 */

/** Where per-host upper layers, keys and generated inventories live (gitignored). */
export const STATE_DIR = process.env.HAFORGE_LAB_STATE ?? path.join(__dirname, ".state");
export const STATE_FILE = path.join(STATE_DIR, "state.json");
export const CLIENT_KEY = path.join(STATE_DIR, "id_ed25519");
export const KNOWN_HOSTS = path.join(STATE_DIR, "known_hosts");
export const INVENTORY_FILE = path.join(STATE_DIR, "inventory.yaml");
export const HOSTS_FILE = path.join(STATE_DIR, "hosts.json");
export const SSH_CONFIG = path.join(STATE_DIR, "ssh_config");
/**
 * Where labs claim the bridge (lab/claim.ts): one file per bridge, naming the state directory of
 * the lab that owns it. On /run so that a reboot forgets claims and bridges together.
 */
export const CLAIM_DIR = process.env.HAFORGE_LAB_CLAIMS ?? "/run/haforge-lab";

/** Time limits. Every wait in the lab is bounded by one of these. */
export const LIMITS = {
  /** From spawning a host to its sshd answering with its own key. */
  hostReadyMs: 60_000, // 3-5 s on a quiet machine; 17 s seen at load average 19 on 2 cores
  /** supervisord gets this long after SIGTERM to stop its programs before SIGKILL. */
  gracefulStopMs: 8_000,
  /** After SIGKILL, how long we wait for the PIDs to disappear. */
  killWaitMs: 5_000,
  /** Any single helper command (ip, ssh-keygen, ...). */
  commandMs: 15_000,
  /** Default bound for hostExec. */
  execMs: 60_000,
  pollMs: 50,
} as const;

export function hostAddress(index: number): string {
  return `${SUBNET_PREFIX}.${HOST_OFFSET + index}`;
}

/** Host-side veth name; IFNAMSIZ is 16 including the NUL, so names stay <= 15 chars. */
export function vethName(host: string): string {
  return `hf-${host}`;
}
