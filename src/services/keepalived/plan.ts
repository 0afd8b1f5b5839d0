/**
 * keepalived (VRRP) plan step: members with priorities and states, VIP placement, router-id
 * uniqueness, collisions with the VIPs other managers own.
 *
 * VRRP identifies a virtual router by its VRID on a link (RFC 5798 §5.2.3), so two instances
 * with the same routerId on the same interface and subnet take each other's adverts as their
 * own. keepalived's `nopreempt` only works when every member starts in BACKUP
 * (https://keepalived.readthedocs.io/en/latest/configuration_synopsis.html#vrrp-instance-definitions-synopsis).
 */
import { hostListChecker } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import type { z } from "zod";
import type { VrrpInstance } from "../../inventory/schema";
import {
  AddressIndex,
  addressBits,
  hostsWithAddress,
  inSubnet,
  ipFamily,
  parseCidr,
  sameAddress,
  vipPlacementFindings,
  type Cidr,
} from "../../plan/network";
import type { KeepalivedInstancePlan, KeepalivedMember, PlannedHost, RollingGroup } from "../../plan/types";
import { allPacemakerVips, type PacemakerVip } from "../pacemaker/vips";
import type { PlanContext, PlanStep } from "../types";

/** Default priorities: 150 for the first host, then 140, 130, ... (never below 1). */
export const defaultPriority = (index: number): number => Math.max(1, 150 - 10 * index);

type Inst = z.infer<typeof VrrpInstance>;

/**
 * The address a member uses for VRRP (unicast_src_ip / peers): its address on the instance's
 * interface when the inventory lists it, else its internal address.
 */
export function vrrpAddress(host: PlannedHost, iface: string, family?: "ipv4" | "ipv6"): string {
  const i = host.interfaces.find((x) => x.name === iface && (family === undefined || parseCidr(x.address)?.family === family));
  const c = i ? parseCidr(i.address) : undefined;
  return c ? c.address : host.internalAddress;
}

export function plan(ctx: PlanContext): PlanStep {
  const section = ctx.inventory.keepalived;
  if (!section || section.instances.length === 0) return { findings: [], patch: {} };
  const findings: Finding[] = [];
  const planned: KeepalivedInstancePlan[] = [];
  const rolling: RollingGroup[] = [];
  const roles: Record<string, string[]> = {};
  const names = new Map<string, number>();
  const vips: ({ cidr: Cidr; index: number } | undefined)[] = [];
  const pcmkVips = new AddressIndex<PacemakerVip>();
  for (const v of allPacemakerVips(ctx.inventory.pacemaker?.clusters ?? [])) pcmkVips.add(v.address, v);

  section.instances.forEach((inst, i) => {
    const base = `keepalived.instances[${i}]`;
    if (names.has(inst.name))
      findings.push(
        error(
          "keepalived.duplicate-instance",
          `${base}.name`,
          `instance name '${inst.name}' is already used by keepalived.instances[${names.get(inst.name)}]`,
          "Name every vrrp_instance once.",
        ),
      );
    else names.set(inst.name, i);

    const cidr = parseCidr(inst.vip);
    vips.push(cidr ? { cidr, index: i } : undefined);
    if (!cidr)
      findings.push(
        error(
          "keepalived.invalid-vip",
          `${base}.vip`,
          `\`vip\` '${inst.vip}' of instance '${inst.name}' is not a CIDR (ADDRESS/PREFIX)`,
          "Write the VIP with its prefix, e.g. 10.0.0.100/24: keepalived adds it with that mask.",
        ),
      );

    const members = planMembers(inst, base, ctx.hosts, cidr, findings);

    if (cidr) findings.push(...vipRules(inst, base, cidr, members, ctx.hosts, pcmkVips));

    if (inst.authPass && "value" in inst.authPass && inst.authPass.value.length > 8)
      findings.push(
        warning(
          "keepalived.auth-pass-truncated",
          `${base}.authPass`,
          `\`authPass\` of instance '${inst.name}' is longer than 8 characters; VRRP PASS auth uses the first 8`,
          "Use at most 8 characters.",
        ),
      );

    // nopreempt needs every member to start as BACKUP; otherwise the first host is MASTER.
    const withState: KeepalivedMember[] = members.map((m, j) => ({ ...m, state: j === 0 && !inst.nopreempt ? "MASTER" : "BACKUP" }));
    planned.push({
      name: inst.name,
      vip: cidr?.address ?? inst.vip,
      prefix: cidr?.prefix ?? 0,
      interface: inst.interface,
      routerId: inst.routerId,
      advertInt: inst.advertInt,
      unicast: inst.unicast,
      nopreempt: inst.nopreempt,
      members: withState,
      ...(inst.authPass ? { authPass: inst.authPass } : {}),
      track: inst.track.map((t) => ({ ...t })),
    });
    for (const m of withState) if (!(roles[m.host] ??= []).includes("keepalived")) roles[m.host]!.push("keepalived");
    // Backups first (lowest priority first), the preferred master last: the VIP moves once.
    const order = [...withState].sort((a, b) => a.priority - b.priority || b.host.localeCompare(a.host)).map((m) => m.host);
    if (order.length > 0) rolling.push({ id: `keepalived:${inst.name}`, service: "keepalived", hosts: order, maxUnavailable: 1 });
  });

  findings.push(...checkRouterIds(section.instances, vips, planned));
  return { findings, patch: { keepalived: planned, rollingGroups: rolling }, roles };
}

/** The VIP is placed on its members' subnet, is no host's address and no Pacemaker VIP. */
function vipRules(
  inst: Inst,
  base: string,
  cidr: Cidr,
  members: ReturnType<typeof planMembers>,
  hosts: ReadonlyMap<string, PlannedHost>,
  pcmkVips: AddressIndex<PacemakerVip>,
): Finding[] {
  const findings: Finding[] = [];
  findings.push(...checkPlacement(inst, base, cidr, members, hosts));
  for (const h of hostsWithAddress(hosts, cidr.address))
    findings.push(
      error(
        "keepalived.vip-is-host-address",
        `${base}.vip`,
        `VIP '${inst.vip}' of instance '${inst.name}' is the address of host '${h}'`,
        "A VIP must be a free address of the subnet: the holder adds it, the others must not have it.",
      ),
    );
  for (const v of pcmkVips.lookup(cidr.address))
    findings.push(
      error(
        "keepalived.vip-conflicts-pacemaker",
        `${base}.vip`,
        `VIP '${inst.vip}' of instance '${inst.name}' is also managed by Pacemaker ('${v.id}' of cluster '${v.cluster}', ${v.path})`,
        "One address, one manager: keep the VIP either in keepalived or in Pacemaker.",
      ),
    );
  return findings;
}

function planMembers(
  inst: Inst,
  base: string,
  hosts: ReadonlyMap<string, PlannedHost>,
  cidr: Cidr | undefined,
  findings: Finding[],
): Omit<KeepalivedMember, "state">[] {
  const members: Omit<KeepalivedMember, "state">[] = [];
  const byPriority = new Map<number, string>();
  const listed = hostListChecker(
    {
      known: (host) => hosts.has(host),
      unknown: (host, path) =>
        error(
          "keepalived.unknown-host",
          path,
          `host '${host}' of instance '${inst.name}' is not an inventory host`,
          "Add it under `hosts` or fix the name.",
        ),
      duplicate: (host, path) =>
        error("keepalived.duplicate-host", path, `host '${host}' is listed twice in instance '${inst.name}'`, "List each host once."),
    },
    findings,
  );
  inst.hosts.forEach((entry, j) => {
    const host = typeof entry === "string" ? entry : entry.host;
    const explicit = typeof entry === "string" ? undefined : entry.priority;
    const path = `${base}.hosts[${j}]`;
    if (!listed({ host, path, index: j })) return;
    const h = hosts.get(host)!;
    const priority = explicit ?? defaultPriority(j);
    const prev = byPriority.get(priority);
    if (prev !== undefined)
      findings.push(
        error(
          "keepalived.duplicate-priority",
          explicit !== undefined ? `${path}.priority` : path,
          `host '${host}' of instance '${inst.name}' has priority ${priority}, like host '${prev}'`,
          "Give every member its own priority: with equal priorities the election falls to the highest IP address, not to your order.",
        ),
      );
    else byPriority.set(priority, host);
    const address = vrrpAddress(h, inst.interface, cidr?.family);
    if (inst.unicast && ipFamily(address) === undefined)
      findings.push(
        error(
          "keepalived.unicast-peer-not-ip",
          path,
          `host '${host}' of instance '${inst.name}' has address '${address}', not an IP; \`unicast_peer\` needs IP addresses`,
          "Set the host's `internalAddress` (or an `interfaces` entry) to its IP, or use `unicast: false`.",
        ),
      );
    members.push({ host, address, priority });
  });
  if (members.length === 1)
    findings.push(
      warning(
        "keepalived.single-host",
        `${base}.hosts`,
        `instance '${inst.name}' has one host ('${members[0]!.host}'): the VIP never moves${inst.unicast ? "; with no unicast peer its adverts go by multicast" : ""}`,
        "List two or more hosts.",
      ),
    );
  const top = [...members].sort((a, b) => b.priority - a.priority)[0];
  if (members.length > 1 && top && top.host !== members[0]!.host && !inst.nopreempt)
    findings.push(
      warning(
        "keepalived.master-not-highest",
        `${base}.hosts`,
        `instance '${inst.name}' starts '${members[0]!.host}' as MASTER (priority ${members[0]!.priority}) but '${top.host}' has the highest priority (${top.priority}); it takes the VIP over`,
        "List the preferred master first with the highest priority.",
      ),
    );
  return members;
}

/** The VIP must sit in the subnet every member has on the instance's interface. */
function checkPlacement(
  inst: Inst,
  base: string,
  cidr: Cidr,
  members: readonly { host: string }[],
  hosts: ReadonlyMap<string, PlannedHost>,
): Finding[] {
  return vipPlacementFindings(
    cidr,
    members.map((m) => hosts.get(m.host)!),
    {
      code: "keepalived",
      base,
      vip: inst.vip,
      owner: `instance '${inst.name}'`,
      iface: inst.interface,
      hints: {
        outside: "Pick a VIP in the subnet the members share on `interface`, or fix the interface.",
        noInterface: "Set `interface` to the members' interface name; keepalived refuses to start on a missing interface.",
        unchecked: "List the host's `interfaces` with their CIDR so the subnet can be checked.",
      },
    },
  );
}

/**
 * Router ids: same interface + same routerId is a conflict when the VIPs share a subnet (same
 * link) or a host runs both instances (keepalived cannot bind one VRID twice on an interface).
 * The same VIP twice is a conflict whatever the ids.
 *
 * Each instance is compared with the earlier instances that can conflict with it, found through
 * indexes rather than by comparing it with every instance of its interface and routerId: the same
 * VIP (AddressIndex), a shared member host, or an overlapping subnet. Two subnets overlap when
 * their addresses agree on the shorter prefix's bits, so the VIPs are indexed by their bits
 * (IPv4 and IPv6 alike) at each prefix length in use. Findings, their order and their wording
 * are those of the all-pairs comparison (a property test holds the two together).
 */
export function checkRouterIds(
  insts: readonly Inst[],
  vips: readonly ({ cidr: Cidr; index: number } | undefined)[],
  planned: readonly KeepalivedInstancePlan[],
): Finding[] {
  const findings: Finding[] = [];
  const byVip = new AddressIndex<number>();
  const routers = new Map<string, RouterIndex>();
  const bits = vips.map((v) => (v ? addressBits(v.cidr.address) : undefined));
  for (let k = 0; k < insts.length; k++) {
    const b = insts[k]!;
    const vb = vips[k];
    const bb = bits[k];
    const hostsB = [...new Set((planned[k]?.members ?? []).map((m) => m.host))];
    const routerKey = `${b.interface}\u0000${b.routerId}`;
    let router = routers.get(routerKey);
    if (!router) routers.set(routerKey, (router = new RouterIndex()));
    const candidates = new Set<number>(vb ? byVip.lookup(vb.cidr.address) : []);
    router.candidates(vb?.cidr, bb, hostsB, candidates);
    for (const i of [...candidates].sort((x, y) => x - y)) {
      const a = insts[i]!;
      const va = vips[i];
      if (va && vb && sameAddress(va.cidr.address, vb.cidr.address)) {
        findings.push(
          error(
            "keepalived.duplicate-vip",
            `keepalived.instances[${k}].vip`,
            `VIP '${b.vip}' of instance '${b.name}' is also the VIP of instance '${a.name}'`,
            "Give every instance its own VIP.",
          ),
        );
        continue;
      }
      if (a.interface !== b.interface || a.routerId !== b.routerId) continue;
      const sameSubnet = va !== undefined && vb !== undefined && overlaps(va.cidr, bits[i], vb.cidr, bb);
      const hostsA = new Set(planned[i]?.members.map((m) => m.host) ?? []);
      const shared = (planned[k]?.members ?? []).map((m) => m.host).filter((h) => hostsA.has(h));
      if (sameSubnet || shared.length > 0)
        findings.push(
          error(
            "keepalived.duplicate-router-id",
            `keepalived.instances[${k}].routerId`,
            `instance '${b.name}' uses \`routerId\` ${b.routerId} on \`interface\` '${b.interface}' like instance '${a.name}'` +
              (sameSubnet ? ` in the same subnet (VIPs '${a.vip}', '${b.vip}')` : ` on host(s) ${shared.map((h) => `'${h}'`).join(", ")}`),
            "Use a distinct routerId (virtual_router_id 1-255) per instance on a link.",
          ),
        );
    }
    if (vb) byVip.add(vb.cidr.address, k);
    router.add(k, vb?.cidr, bb, hostsB);
  }
  return findings;
}

/**
 * Whether the subnets of two VIPs overlap: either address lies in the other's network, i.e. they
 * agree on the bits of the shorter prefix. Addresses without bits here (a zoned IPv6) are
 * compared the way the plan's other subnet checks do.
 */
function overlaps(a: Cidr, aBits: string | undefined, b: Cidr, bBits: string | undefined): boolean {
  if (a.family !== b.family) return false;
  if (aBits === undefined || bBits === undefined)
    return inSubnet(b.address, a.address, a.prefix) || inSubnet(a.address, b.address, b.prefix);
  const p = Math.min(a.prefix, b.prefix);
  return aBits.slice(0, p) === bBits.slice(0, p);
}

/** The earlier instances of one interface and routerId, by member host and by VIP subnet. */
class RouterIndex {
  private readonly byHost = new Map<string, number[]>();
  /** Per family, per prefix length: the instances whose VIP has that prefix. */
  private readonly levels = new Map<string, Map<number, PrefixLevel>>();
  /** Instances whose VIP has no bits here: a candidate for every later instance with a VIP of that family. */
  private readonly loose: { index: number; family: string }[] = [];
  /** Every instance with a VIP, for a later VIP without bits. */
  private readonly withVip: { index: number; family: string }[] = [];

  /** Adds to `out` every earlier instance sharing a host with these or whose VIP subnet may overlap `cidr`. */
  candidates(cidr: Cidr | undefined, bits: string | undefined, hosts: readonly string[], out: Set<number>): void {
    for (const h of hosts) for (const i of this.byHost.get(h) ?? []) out.add(i);
    if (!cidr) return;
    if (bits === undefined) {
      for (const e of this.withVip) if (e.family === cidr.family) out.add(e.index);
      return;
    }
    for (const e of this.loose) if (e.family === cidr.family) out.add(e.index);
    for (const [prefix, level] of this.levels.get(cidr.family) ?? []) {
      for (const i of level.lookup(Math.min(prefix, cidr.prefix), bits)) out.add(i);
    }
  }

  add(index: number, cidr: Cidr | undefined, bits: string | undefined, hosts: readonly string[]): void {
    for (const h of hosts) {
      const list = this.byHost.get(h);
      if (list) list.push(index);
      else this.byHost.set(h, [index]);
    }
    if (!cidr) return;
    this.withVip.push({ index, family: cidr.family });
    if (bits === undefined) return void this.loose.push({ index, family: cidr.family });
    let family = this.levels.get(cidr.family);
    if (!family) this.levels.set(cidr.family, (family = new Map<number, PrefixLevel>()));
    let level = family.get(cidr.prefix);
    if (!level) family.set(cidr.prefix, (level = new PrefixLevel()));
    level.add(index, bits);
  }
}

/**
 * The VIPs of one prefix length, looked up by their first `length` bits for any `length` up to
 * that prefix: one map per length asked for, built on first use and kept up to date afterwards.
 */
class PrefixLevel {
  private readonly entries: { index: number; bits: string }[] = [];
  private readonly byLength = new Map<number, Map<string, number[]>>();

  add(index: number, bits: string): void {
    this.entries.push({ index, bits });
    for (const [length, map] of this.byLength) push(map, bits.slice(0, length), index);
  }

  lookup(length: number, bits: string): readonly number[] {
    let map = this.byLength.get(length);
    if (!map) {
      map = new Map();
      for (const e of this.entries) push(map, e.bits.slice(0, length), e.index);
      this.byLength.set(length, map);
    }
    return map.get(bits.slice(0, length)) ?? [];
  }
}

function push(map: Map<string, number[]>, key: string, index: number): void {
  const list = map.get(key);
  if (list) list.push(index);
  else map.set(key, [index]);
}
