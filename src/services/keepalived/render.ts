import type { FileSpec, ServiceSpec } from "../../core/desired-state";
import type { ClusterPlan } from "../../plan/types";
import { packagedDaemon } from "../../render/daemon";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import { rollingGroupsWithId } from "../../plan/lookup";
import type { KeepalivedInstancePlan } from "./plan-types";
import { KEEPALIVED_CONF, instancesOf, keepalivedConfModel, keepalivedHosts, keepalivedSecretFindings } from "./config";

export { keepalivedSecretFindings } from "./config";

/**
 * `keepalived -t` exits 0 when the file does not exist (docs/lab.md), so the check first insists
 * the candidate is there and non-empty. `-t` also fails on an interface the host lacks and on a
 * track script it cannot find, which is what we want on the target host.
 */
export const KEEPALIVED_VALIDATE = "test -s {file} && keepalived -t -f {file}";

/**
 * Foreground form for both managers (docs/lab.md): supervisor needs it, and under systemd a
 * Type=simple unit with --dont-fork keeps $MAINPID the parent that handles HUP.
 */
export const KEEPALIVED_COMMAND = `/usr/sbin/keepalived --dont-fork --log-console -f ${KEEPALIVED_CONF}`;

/**
 * keepalived's settings taken at a start only, one per line, when the inventory sets any: a
 * reload keeps the running value of `vrrp_startup_delay` (keepalived 2.2.7 vrrp_daemon.c applies
 * it `if (!reload)`), so this file changing restarts keepalived instead of reloading it
 * (restartOn). keepalived never reads it; the same value is in keepalived.conf.
 */
export const KEEPALIVED_START_SETTINGS = "/etc/haforge/keepalived/start-settings";

/**
 * The gate between two hosts of a roll: this keepalived runs and every VIP of its instances is
 * held, here or by a peer. A restarted VIP holder hands the VIP to a backup, so the next host goes
 * only once the VIP is held again. Per VIP, the first answer wins:
 * - this host has the address (`ip addr show to`): no packet needed;
 * - an ICMP echo reply (`ping`);
 * - where a firewall drops ICMP echo: the holder's answer at layer 2. The neighbour entry for the
 *   VIP on the instance's interface is flushed, the echo above resolves it again (ARP for IPv4,
 *   neighbour solicitation for IPv6), and only a solicited reply from the host holding the VIP
 *   makes it `reachable`: a stale entry from an earlier holder cannot pass, nor can an address
 *   nobody holds (the entry stays incomplete, then failed).
 * A VIP that is not on the interface's link (routed to it) needs the echo.
 */
export function keepalivedHealth(instances: readonly Pick<KeepalivedInstancePlan, "vip" | "interface">[]): string {
  const held = ({ vip, interface: dev }: Pick<KeepalivedInstancePlan, "vip" | "interface">) =>
    `{ ip -o addr show to ${vip} | grep -q . || { ip neigh flush to ${vip} dev ${dev} 2>/dev/null; ` +
    `ping -c 1 -W 1 ${vip} >/dev/null 2>&1 || ip neigh show to ${vip} dev ${dev} nud reachable | grep -q .; }; }`;
  return ["pidof keepalived >/dev/null", ...instances.map(held)].join(" && ");
}

/** The rolling group the plan gives this host's keepalived: `keepalived:<instance>` first. */
function rollGroupFor(plan: ClusterPlan, host: string): string | undefined {
  const candidates = [...instancesOf(plan, host).map((i) => `keepalived:${i.name}`), "keepalived"];
  for (const id of candidates) {
    const g = rollingGroupsWithId(plan, id).find((r) => r.hosts.includes(host));
    if (g) return g.id;
  }
  return undefined;
}

function render(ctx: RenderContext): RenderResult {
  const { plan } = ctx;
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const init = new Map(plan.hosts.map((h) => [h.name, h.init]));
  for (const host of keepalivedHosts(plan)) {
    const model = keepalivedConfModel(plan, host, ctx.secrets);
    files.push({
      host,
      path: KEEPALIVED_CONF,
      content: ctx.template("keepalived", "keepalived.conf.hbs", model),
      mode: model.secret ? "0600" : "0644",
      owner: "root",
      group: "root",
      secret: model.secret,
      validate: KEEPALIVED_VALIDATE,
      // SIGHUP re-reads the file without dropping the VIP on the current master.
      notify: ["keepalived"],
    });
    const startOnly = model.startupDelay !== undefined ? [startSettingsFile(host, model.startupDelay)] : [];
    files.push(...startOnly);
    const rollGroup = rollGroupFor(plan, host);
    // systemd: Debian's keepalived.service (Type=notify, the same /etc/keepalived/keepalived.conf,
    // HUP reload) as packaged: nothing to add.
    const d = packagedDaemon(
      {
        host,
        init: init.get(host) ?? "systemd",
        name: "keepalived",
        description: "keepalived VRRP (haforge)",
        command: KEEPALIVED_COMMAND,
        reloadSignal: "HUP",
        restartOn: startOnly.map((f) => f.path),
        // Host-scoped: run on the host itself (each lab host has its own PID namespace).
        health: keepalivedHealth(instancesOf(plan, host)),
        ...(rollGroup ? { rollGroup } : {}),
      },
      { reloadable: true },
    );
    files.push(...d.files);
    services.push(d.service);
  }
  return { files, services, actions: [] };
}

function startSettingsFile(host: string, startupDelay: number): FileSpec {
  return {
    host,
    path: KEEPALIVED_START_SETTINGS,
    content:
      "# Managed by haforge: keepalived's settings taken at a start only (also in keepalived.conf).\n" +
      "# A change here restarts keepalived instead of reloading it.\n" +
      `vrrp_startup_delay ${startupDelay}\n`,
    mode: "0644",
    owner: "root",
    group: "root",
    secret: false,
    notify: ["keepalived"],
  };
}

/** keepalived renderer: files, services, cluster actions (and materials it needs). */
export const renderPart: Pick<ServiceModule, "render" | "materials" | "secretFindings"> = {
  render,
  secretFindings: keepalivedSecretFindings,
};
