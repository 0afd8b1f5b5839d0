/**
 * Addressing helpers for the plan steps that place virtual IPs (keepalived, Pacemaker IPaddr2 and
 * lightweight VIPs, active/passive apps). Subnet membership compares the addresses' bits (IPv4
 * and IPv6 alike), held to Node's own `net.BlockList` by a property test.
 */
import { BlockList, isIP } from "node:net";
import type { PlannedHost } from "./types";
import { error, warning, type Finding } from "../core/findings";

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

/** `10.0.0.100/24` → { address, prefix, family }; undefined when not an IP/prefix pair. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const address = m[1]!;
  const prefix = Number(m[2]);
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? "ipv4" : "ipv6" };
}

export const ipFamily = (address: string): "ipv4" | "ipv6" | undefined => {
  const v = isIP(address);
  return v === 4 ? "ipv4" : v === 6 ? "ipv6" : undefined;
};

/**
 * Whether `address` is inside the network `network/prefix` (any address of the network): the two
 * agree on the first `prefix` bits. Compared as bit strings, with no object built per check (a
 * BlockList and SocketAddresses per check dominated the plan of large VIP sets); zoned IPv6
 * addresses and out-of-range prefixes go to Node's `net.BlockList`, the verdict the bit
 * comparison is tested against.
 */
export function inSubnet(address: string, network: string, prefix: number): boolean {
  const fa = ipFamily(address);
  const fn = ipFamily(network);
  if (!fa || fa !== fn) return false;
  const a = addressBits(address);
  const n = addressBits(network);
  if (a !== undefined && n !== undefined && Number.isInteger(prefix) && prefix >= 0 && prefix <= a.length)
    return a.slice(0, prefix) === n.slice(0, prefix);
  return subnetList(network, prefix, fn).check(address, fa);
}

/** One BlockList per subnet, for the addresses the bit comparison leaves to Node. */
const subnetLists = new Map<string, BlockList>();
function subnetList(network: string, prefix: number, family: "ipv4" | "ipv6"): BlockList {
  const key = `${family} ${network}/${prefix}`;
  let list = subnetLists.get(key);
  if (!list) {
    if (subnetLists.size >= 4096) subnetLists.clear();
    list = new BlockList();
    list.addSubnet(network, prefix, family);
    subnetLists.set(key, list);
  }
  return list;
}

/** Canonical text of an address (so `10.0.0.1` and `::ffff:...` forms or IPv6 spellings compare). */
export function sameAddress(a: string, b: string): boolean {
  const fa = ipFamily(a);
  if (!fa || fa !== ipFamily(b)) return a === b;
  // Canonical forms decide without a BlockList; zoned IPv6 (no canonical form here) falls back.
  const ka = addressKey(a);
  const kb = addressKey(b);
  if (ka !== undefined && kb !== undefined) return ka === kb;
  return inSubnet(a, b, fa === "ipv4" ? 32 : 128);
}

/** Every address an inventory host is known by (address, internal address, interface IPs). */
export function hostAddresses(host: PlannedHost): string[] {
  const out = new Set<string>([host.address, host.internalAddress]);
  for (const i of host.interfaces) {
    const c = parseCidr(i.address);
    out.add(c ? c.address : i.address);
  }
  return [...out];
}

/** The outcome of placing a VIP on one host. */
export type VipPlacement =
  | { readonly kind: "ok"; readonly via: string }
  /** The VIP is not in the subnet the host has on that interface. */
  | { readonly kind: "outside"; readonly via: string; readonly subnet: string }
  /** The host lists interfaces but none with that name. */
  | { readonly kind: "no-interface"; readonly interfaces: readonly string[] }
  /** Nothing to compare with (DNS name and no interfaces, or a different address family). */
  | { readonly kind: "unchecked"; readonly reason: string };

/**
 * Where a VIP lands on `host`: keepalived and IPaddr2 add the VIP to an interface that must
 * already carry an address of the same subnet, otherwise the address is unreachable from peers
 * (https://keepalived.readthedocs.io/en/latest/configuration_synopsis.html#vrrp-instance-definitions-synopsis).
 * Uses the host's interface of that name when the inventory lists interfaces, else the host's
 * internal address with the VIP's own prefix.
 */
export function placeVip(vip: Cidr, host: PlannedHost, iface: string | undefined): VipPlacement {
  if (host.interfaces.length > 0) {
    const candidates = iface === undefined ? host.interfaces : host.interfaces.filter((i) => i.name === iface);
    if (candidates.length === 0) return { kind: "no-interface", interfaces: host.interfaces.map((i) => i.name) };
    let outside: VipPlacement | undefined;
    for (const c of candidates) {
      const cidr = parseCidr(c.address);
      if (!cidr) continue;
      if (cidr.family !== vip.family) continue;
      if (inSubnet(vip.address, cidr.address, cidr.prefix)) return { kind: "ok", via: `interface ${c.name} ${c.address}` };
      outside ??= { kind: "outside", via: `interface ${c.name}`, subnet: `${c.address}` };
    }
    if (outside) return outside;
    // Interfaces listed without a usable CIDR of this family: fall through to the address.
  }
  const addr = host.internalAddress;
  const fam = ipFamily(addr);
  if (!fam) return { kind: "unchecked", reason: `address '${addr}' is not an IP` };
  if (fam !== vip.family) return { kind: "unchecked", reason: `address '${addr}' is ${fam}, the VIP ${vip.family}` };
  return inSubnet(vip.address, addr, vip.prefix)
    ? { kind: "ok", via: `address ${addr}` }
    : { kind: "outside", via: "address", subnet: `${addr}/${vip.prefix}` };
}

/** The port of `ADDRESS:PORT`, `*:PORT`, `[v6]:PORT`, `:PORT` or `PORT`; undefined when none. */
export function splitHostPort(bind: string): { host: string; port: number } | undefined {
  const t = bind.trim();
  let host = "";
  let portText = t;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(t);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (t.includes(":")) {
    const i = t.lastIndexOf(":");
    host = t.slice(0, i);
    portText = t.slice(i + 1);
    // A bare IPv6 address without brackets is ambiguous: refuse rather than guess.
    if (host.includes(":")) return undefined;
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}

/**
 * The key two addresses share exactly when `sameAddress` holds for them: IPv4 as written (Node's
 * isIP accepts one spelling per address), IPv6 in its canonical (RFC 5952) form, anything else
 * as written. Undefined for what cannot be canonicalised here (a zoned IPv6 such as fe80::1%eth0).
 */
export function addressKey(a: string): string | undefined {
  const fam = ipFamily(a);
  if (fam === "ipv4") return `4 ${a}`;
  if (fam === undefined) return `- ${a}`;
  try {
    return `6 ${new URL(`http://[${a}]/`).hostname}`;
  } catch {
    return undefined;
  }
}

/**
 * Values by address, looked up with `sameAddress` semantics in O(1) per address instead of a scan
 * of every value: VIP checks against every host's addresses would otherwise be quadratic.
 */
export class AddressIndex<T> {
  private readonly byKey = new Map<string, { seq: number; value: T; address: string }[]>();
  /** Entries without a key (zoned IPv6): compared one by one. */
  private readonly loose: { seq: number; value: T; address: string }[] = [];
  private seq = 0;

  add(address: string, value: T): void {
    const key = addressKey(address);
    const entry = { seq: this.seq++, value, address };
    if (key === undefined) return void this.loose.push(entry);
    const list = this.byKey.get(key);
    if (list) list.push(entry);
    else this.byKey.set(key, [entry]);
  }

  /** Every value added under an address equal to `address`, in the order added (duplicates kept). */
  lookup(address: string): T[] {
    const key = addressKey(address);
    // A key-less (zoned) address is compared with every entry one by one.
    const keyed =
      key === undefined ? [...this.byKey.values()].flat().filter((e) => sameAddress(e.address, address)) : (this.byKey.get(key) ?? []);
    const hits = [...keyed, ...this.loose.filter((e) => sameAddress(e.address, address))];
    return hits.sort((a, b) => a.seq - b.seq).map((e) => e.value);
  }
}

const hostIndexes = new WeakMap<ReadonlyMap<string, PlannedHost>, AddressIndex<string>>();

/**
 * The hosts known by `address` (address, internal address or an interface IP), each once, in host
 * order: built once per hosts map and shared by every plan step that checks VIPs.
 */
export function hostsWithAddress(hosts: ReadonlyMap<string, PlannedHost>, address: string): string[] {
  let index = hostIndexes.get(hosts);
  if (!index) {
    index = new AddressIndex<string>();
    for (const h of hosts.values()) for (const a of hostAddresses(h)) index.add(a, h.name);
    hostIndexes.set(hosts, index);
  }
  return [...new Set(index.lookup(address))];
}

/** How a service names a VIP and its owner in the placement findings. */
export interface VipPlacementCheck {
  /** Finding code prefix (`keepalived`, `active-passive`): `<code>.vip-outside-subnet`, ... */
  readonly code: string;
  /** Inventory path of the VIP's entry (`keepalived.instances[0]`): `.vip` and `.interface` follow. */
  readonly base: string;
  /** The VIP as written. */
  readonly vip: string;
  /** The entry the VIP belongs to, e.g. `instance 'web'`. */
  readonly owner: string;
  readonly iface: string;
  readonly hints: { readonly outside: string; readonly noInterface: string; readonly unchecked: string };
}

/** The codes of vipPlacementFindings that judge addresses (for ServiceModule.addressRules). */
export const vipPlacementAddressRules = (code: string): string[] => [`${code}.vip-outside-subnet`, `${code}.vip-subnet-unchecked`];

/**
 * The VIP must sit in the subnet every host that may hold it has on the interface (placeVip):
 * the same three findings for every service that moves a VIP between hosts on its own
 * (keepalived, active/passive apps). Pacemaker's IPaddr2 VIPs have their own rule (`nic` is
 * optional there), in src/services/pacemaker/resources.ts.
 */
export function vipPlacementFindings(cidr: Cidr, hosts: readonly PlannedHost[], c: VipPlacementCheck): Finding[] {
  const findings: Finding[] = [];
  for (const h of hosts) {
    const placed = placeVip(cidr, h, c.iface);
    if (placed.kind === "outside")
      findings.push(
        error(
          `${c.code}.vip-outside-subnet`,
          `${c.base}.vip`,
          `VIP '${c.vip}' of ${c.owner} is outside host '${h.name}''s subnet ${placed.subnet} (${placed.via})`,
          c.hints.outside,
        ),
      );
    else if (placed.kind === "no-interface")
      findings.push(
        error(
          `${c.code}.interface-missing`,
          `${c.base}.interface`,
          `\`interface\` '${c.iface}' of ${c.owner} is not an interface of host '${h.name}' (it has ${placed.interfaces.map((x) => `'${x}'`).join(", ")})`,
          c.hints.noInterface,
        ),
      );
    else if (placed.kind === "unchecked")
      findings.push(
        warning(
          `${c.code}.vip-subnet-unchecked`,
          `${c.base}.vip`,
          `cannot check VIP '${c.vip}' of ${c.owner} against host '${h.name}': ${placed.reason}`,
          c.hints.unchecked,
        ),
      );
  }
  return findings;
}

/** An IPv6 address in brackets for a URL or `host:port` (an address already in brackets, a name or an IPv4 address as is). */
export const bracketIPv6 = (address: string): string => (address.includes(":") && !address.startsWith("[") ? `[${address}]` : address);

/** `host:port`, `[v6]:port` for an IPv6 address: the one way every service writes an endpoint. */
export const joinHostPort = (host: string, port: number | string): string => `${bracketIPv6(host)}:${port}`;

/**
 * An address as its bits, "0"/"1" characters (32 for IPv4, 128 for IPv6, an embedded dotted quad
 * included); undefined for what is not an IP address and for a zoned IPv6 address, which callers
 * compare the slow way.
 */
export function addressBits(address: string): string | undefined {
  const family = ipFamily(address);
  if (family === "ipv4") return quadBits(address);
  if (family === undefined || address.includes("%")) return undefined;
  let text = address;
  let tail = "";
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) > 0) {
    const quad = quadBits(text.slice(lastColon + 1));
    if (quad === undefined) return undefined;
    tail = quad;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let out = "";
  for (const g of [...head, ...Array<string>(missing).fill("0"), ...rest]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out += parseInt(g, 16).toString(2).padStart(16, "0");
  }
  return tail ? out.slice(0, 96) + tail : out;
}

function quadBits(address: string): string | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  let out = "";
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out += Number(p).toString(2).padStart(8, "0");
  }
  return out;
}
