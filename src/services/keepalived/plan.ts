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
 */
function checkRouterIds(
  insts: readonly Inst[],
  vips: readonly ({ cidr: Cidr; index: number } | undefined)[],
  planned: readonly KeepalivedInstancePlan[],
): Finding[] {
  const findings: Finding[] = [];
  // Only pairs that can conflict are compared: the same VIP, or the same interface and routerId
  // (comparing every pair is quadratic in the number of instances).
  const byVip = new AddressIndex<number>();
  const byRouter = new Map<string, number[]>();
  for (let k = 0; k < insts.length; k++) {
    const b = insts[k]!;
    const vb = vips[k];
    const routerKey = `${b.interface}\u0000${b.routerId}`;
    const sameRouter = byRouter.get(routerKey) ?? [];
    const candidates = [...new Set([...(vb ? byVip.lookup(vb.cidr.address) : []), ...sameRouter])].sort((x, y) => x - y);
    for (const i of candidates) {
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
      const sameSubnet =
        va !== undefined &&
        vb !== undefined &&
        va.cidr.family === vb.cidr.family &&
        (inSubnet(vb.cidr.address, va.cidr.address, va.cidr.prefix) || inSubnet(va.cidr.address, vb.cidr.address, vb.cidr.prefix));
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
    sameRouter.push(k);
    byRouter.set(routerKey, sameRouter);
  }
  return findings;
}
