/**
 * Active/passive apps with built-in HA (Digital Rebar Provision's RS_HA_* settings): one active
 * node holds the VIP, the passive ones follow it. The nodes find each other by RS_HA_ID and
 * authenticate with RS_HA_TOKEN, so both must be set and shared; the VIP (RS_HA_ADDRESS, a CIDR)
 * is added to RS_HA_INTERFACE and must belong to that interface's subnet
 * (https://docs.rackn.io/stable/arch/provision/ha/).
 */
import { checkHostList, hostEntries } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import { hostAddresses, parseCidr, sameAddress, vipPlacementFindings } from "../../plan/network";
import type { ActivePassivePlan, RollingGroup } from "../../plan/types";
import { staticIp } from "./env";
import { allPacemakerVips } from "../pacemaker/vips";
import type { PlanContext, PlanStep } from "../types";

/** What the apps planned so far have taken: names, HA ids and VIPs (each once), and the findings. */
interface Seen {
  readonly findings: Finding[];
  readonly names: Map<string, number>;
  readonly haIds: Map<string, string>;
  readonly vipsSeen: { address: string; app: string }[];
  /** The VIPs keepalived and Pacemaker manage. */
  readonly otherVips: readonly { address: string; owner: string }[];
}

type App = PlanContext["inventory"]["activePassive"][number];

export function plan(ctx: PlanContext): PlanStep {
  const apps = ctx.inventory.activePassive;
  if (apps.length === 0) return { findings: [], patch: {} };
  const planned: ActivePassivePlan[] = [];
  const rolling: RollingGroup[] = [];
  const roles: Record<string, string[]> = {};
  const seen: Seen = {
    findings: [],
    names: new Map(),
    haIds: new Map(),
    vipsSeen: [],
    otherVips: [
      ...(ctx.plan.keepalived ?? []).map((k) => ({ address: k.vip, owner: `keepalived instance '${k.name}'` })),
      ...allPacemakerVips(ctx.inventory.pacemaker?.clusters ?? []).map((v) => ({
        address: v.address,
        owner: `Pacemaker '${v.id}' of cluster '${v.cluster}'`,
      })),
    ],
  };

  apps.forEach((app, i) => {
    const base = `activePassive[${i}]`;
    checkName(seen, app, i, base);
    const hosts = appHosts(ctx, seen.findings, app, base);
    checkIdentity(seen, app, base);
    checkVip(ctx, seen, app, hosts, base);
    const active = activeHost(seen.findings, app, hosts, base);
    checkStaticIps(ctx, seen.findings, app, hosts, base);

    planned.push({
      name: app.name,
      service: app.service,
      hosts,
      ...(active ? { active } : {}),
      vip: app.vip,
      interface: app.interface,
      haId: app.haId,
      token: app.token,
    });
    for (const h of hosts) (roles[h] ??= []).push(`active-passive:${app.name}`);
    // The initially active node first, then the passives once it is up (dr-provision's
    // bootstrapping order: a passive replicates from the active one). The health gate between
    // them (render.ts) waits for the VIP on the active node and for "Stream switch to realtime
    // streaming" on a passive one. Restarts never move the VIP: only `active` does.
    if (hosts.length > 0) rolling.push({ id: `active-passive:${app.name}`, service: app.service, hosts: [...hosts], maxUnavailable: 1 });
  });
  return { findings: seen.findings, patch: { activePassive: planned, rollingGroups: rolling }, roles };
}

function checkName({ findings, names }: Seen, app: App, i: number, base: string): void {
  if (names.has(app.name))
    findings.push(
      error(
        "active-passive.duplicate-name",
        `${base}.name`,
        `app name '${app.name}' is already used by activePassive[${names.get(app.name)}]`,
        "Name every app once.",
      ),
    );
  else names.set(app.name, i);
}

/** The app's inventory hosts, each once (unknown and repeated ones are findings); at least two. */
function appHosts(ctx: PlanContext, findings: Finding[], app: App, base: string): string[] {
  const hosts = checkHostList(
    hostEntries(app.hosts, (j) => `${base}.hosts[${j}]`),
    {
      known: (h) => ctx.hosts.has(h),
      unknown: (h, path) =>
        error(
          "active-passive.unknown-host",
          path,
          `host '${h}' of app '${app.name}' is not an inventory host`,
          "Add it under `hosts` or fix the name.",
        ),
      duplicate: (h, path) =>
        error("active-passive.duplicate-host", path, `host '${h}' is listed twice in app '${app.name}'`, "List each host once."),
    },
    findings,
  ).map((e) => e.host);
  if (new Set(app.hosts).size < 2)
    findings.push(
      error(
        "active-passive.too-few-hosts",
        `${base}.hosts`,
        `app '${app.name}' has ${new Set(app.hosts).size} distinct host(s); active/passive needs 2 or more`,
        "List an active and at least one passive host.",
      ),
    );
  return hosts;
}

/** RS_HA_ID (set, and one app's) and RS_HA_TOKEN (set). */
function checkIdentity({ findings, haIds }: Seen, app: App, base: string): void {
  if (app.haId.trim() === "")
    findings.push(
      error(
        "active-passive.empty-ha-id",
        `${base}.haId`,
        `\`haId\` of app '${app.name}' is blank`,
        "Set `haId` to a name shared by all nodes of the app (RS_HA_ID).",
      ),
    );
  else if (haIds.has(app.haId))
    findings.push(
      error(
        "active-passive.duplicate-ha-id",
        `${base}.haId`,
        `\`haId\` '${app.haId}' of app '${app.name}' is also the haId of app '${haIds.get(app.haId)}'`,
        "Nodes join the HA group by id: two apps with one id would take each other's nodes.",
      ),
    );
  else haIds.set(app.haId, app.name);

  if ("value" in app.token && app.token.value.trim() === "")
    findings.push(
      error(
        "active-passive.token-missing",
        `${base}.token`,
        `\`token\` of app '${app.name}' is empty`,
        "Reference a secret shared by all nodes, e.g. `token: { secret: drpHaToken }` (RS_HA_TOKEN).",
      ),
    );
}

/** RS_HA_ADDRESS: a CIDR in the hosts' subnet on the interface, no host's address, no other manager's VIP. */
function checkVip(ctx: PlanContext, seen: Seen, app: App, hosts: readonly string[], base: string): void {
  const { findings } = seen;
  const cidr = parseCidr(app.vip);
  if (!cidr) {
    findings.push(
      error(
        "active-passive.invalid-vip",
        `${base}.vip`,
        `\`vip\` '${app.vip}' of app '${app.name}' is not a CIDR (ADDRESS/PREFIX)`,
        "Write the VIP with its prefix, e.g. 10.0.0.50/24.",
      ),
    );
    return;
  }
  findings.push(
    ...vipPlacementFindings(
      cidr,
      hosts.map((h) => ctx.hosts.get(h)!),
      {
        code: "active-passive",
        base,
        vip: app.vip,
        owner: `app '${app.name}'`,
        iface: app.interface,
        hints: {
          outside: "Pick a VIP in the subnet the hosts share on `interface`.",
          noInterface: "Set `interface` to the hosts' interface name.",
          unchecked: "List the host's `interfaces` with their CIDR.",
        },
      },
    ),
  );
  for (const h of ctx.hosts.values())
    if (hostAddresses(h).some((a) => sameAddress(a, cidr.address)))
      findings.push(
        error(
          "active-passive.vip-is-host-address",
          `${base}.vip`,
          `VIP '${app.vip}' of app '${app.name}' is the address of host '${h.name}'`,
          "Use a free address of the subnet.",
        ),
      );
  const clash = [...seen.otherVips, ...seen.vipsSeen.map((v) => ({ address: v.address, owner: `app '${v.app}'` }))].find((v) =>
    sameAddress(v.address, cidr.address),
  );
  if (clash)
    findings.push(
      error(
        "active-passive.vip-conflict",
        `${base}.vip`,
        `VIP '${app.vip}' of app '${app.name}' is also managed by ${clash.owner}`,
        "One address, one manager: give the app its own VIP.",
      ),
    );
  seen.vipsSeen.push({ address: cidr.address, app: app.name });
}

/** `active`, when it names one of the app's hosts. */
function activeHost(findings: Finding[], app: App, hosts: readonly string[], base: string): string | undefined {
  if (app.active === undefined) return undefined;
  if (hosts.includes(app.active)) return app.active;
  findings.push(
    error(
      "active-passive.unknown-active",
      `${base}.active`,
      `\`active\` '${app.active}' of app '${app.name}' is not one of its hosts (${hosts.map((h) => `'${h}'`).join(", ")})`,
      "Name one of the app's `hosts`, or remove `active` to leave the active node as it is.",
    ),
  );
  return undefined;
}

// RS_STATIC_IP / RS_DRP_ID must differ per server (dr-provision HA docs, "High Availability
// Startup Options"); RS_DRP_ID is the host name (unique), RS_STATIC_IP its address on the app's
// interface.
function checkStaticIps(ctx: PlanContext, findings: Finding[], app: App, hosts: readonly string[], base: string): void {
  const ips = new Map<string, string>();
  for (const h of hosts) {
    const ip = staticIp(ctx.hosts.get(h)!, app.interface);
    if (ip === undefined)
      findings.push(
        warning(
          "active-passive.no-static-ip",
          `${base}.hosts[${app.hosts.indexOf(h)}]`,
          `host '${h}' of app '${app.name}' has no IP address on '${app.interface}' (nor an IP \`address\`): RS_STATIC_IP is not rendered for it`,
          "List the host's `interfaces` with their CIDR, or give it an IP `address`.",
        ),
      );
    else if (ips.has(ip))
      findings.push(
        error(
          "active-passive.duplicate-static-ip",
          `${base}.hosts[${app.hosts.indexOf(h)}]`,
          `hosts '${ips.get(ip)}' and '${h}' of app '${app.name}' would both get RS_STATIC_IP ${ip}; it must differ on each server`,
          "Give each host its own address on the app's interface.",
        ),
      );
    else ips.set(ip, h);
  }
}
