import type { ClusterAction, FileSpec, ServiceSpec, InitSystem } from "../../core/desired-state";
import type { ClusterPlan } from "../../plan/types";
import { packagedDaemon } from "../../render/daemon";
import { pacemakerRunUnits, runByPacemaker } from "../pacemaker/owned";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import { HAPROXY_CFG, HAPROXY_SOCKET, NONLOCAL_BIND_CONF, haproxyCfgModel, haproxyHosts, nonlocalFamilies } from "./config";

export const HAPROXY_VALIDATE = "haproxy -c -f {file}";

/** Master-worker in the foreground (docs/lab.md); USR2 to the master reloads. */
export const HAPROXY_COMMAND = `/usr/sbin/haproxy -W -db -f ${HAPROXY_CFG}`;

/**
 * Health gate: the running worker answers on the admin socket. A TCP probe of a frontend would
 * be wrong here: the frontends bind VIPs, and connecting to a VIP held by another host tests
 * that host. The socket is host-local whatever keepalived does.
 */
export const HAPROXY_HEALTH = `echo 'show info' | socat -T 2 stdio UNIX-CONNECT:${HAPROXY_SOCKET} | grep -q '^Pid:'`;

/** The pid file of an `ocf:heartbeat:anything` HAProxy (pacemaker/lightweight.ts daemonPrimitive). */
export const PACEMAKER_HAPROXY_PIDFILE = "/run/haforge-haproxy.pid";

/**
 * A graceful reload of a Pacemaker-run HAProxy, only where it runs: systemd's reload (config check,
 * then USR2 to the master), or USR2 to the master recorded in the OCF agent's pid file.
 */
export function pacemakerRunReload(via: "systemd" | "supervisor", pidfile = PACEMAKER_HAPROXY_PIDFILE): string {
  return via === "systemd"
    ? `if systemctl is-active --quiet haproxy; then systemctl reload haproxy; else echo "haproxy is not running here (Pacemaker places it): config in place"; fi`
    : `p=$(cat ${pidfile} 2>/dev/null); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then haproxy -c -q -f ${HAPROXY_CFG} ` +
        `&& kill -USR2 "$p"; else echo "haproxy is not running here (Pacemaker places it): config in place"; fi`;
}

function rollGroupFor(plan: ClusterPlan, host: string): string | undefined {
  return plan.rollingGroups.find((g) => (g.id === "haproxy" || g.service === "haproxy") && g.hosts.includes(host))?.id;
}

/**
 * Binding a VIP the host does not hold: we set net.ipv4.ip_nonlocal_bind=1 (a sysctl.d file
 * applied by a bootstrap action) rather than `bind ... transparent`. `transparent` is TPROXY's
 * IP_TRANSPARENT and needs CAP_NET_ADMIN at bind time, so it ties a working config to
 * haproxy's privileges and reload path; the sysctl is the setting keepalived+HAProxy guides and
 * RHEL's Load Balancer Administration prescribe, survives reboots from /etc/sysctl.d, and is
 * per network namespace (lab hosts each get their own). The system test shows haproxy failing
 * to bind a foreign VIP without it and starting with it.
 */
function nonlocalBind(ctx: RenderContext, host: string, families: (4 | 6)[]): { file: FileSpec; action: ClusterAction } {
  const file: FileSpec = {
    host,
    path: NONLOCAL_BIND_CONF,
    content: ctx.template("haproxy", "nonlocal-bind.conf.hbs", { host, families }),
    mode: "0644",
    owner: "root",
    group: "root",
    secret: false,
    // The action below applies it; haproxy itself reads nothing from it.
    notify: [],
  };
  const action: ClusterAction = {
    id: `haproxy-nonlocal-bind-${host}`,
    host,
    // Before haproxy starts: it cannot bind the VIP on a BACKUP node otherwise.
    phase: "bootstrap",
    description: `Allow HAProxy on ${host} to bind VIPs it does not hold (ip_nonlocal_bind)`,
    create: `sysctl -p ${NONLOCAL_BIND_CONF}`,
    dependsOn: [],
    triggers: [NONLOCAL_BIND_CONF],
    secret: false,
  };
  return { file, action };
}

function render(ctx: RenderContext): RenderResult {
  const { plan } = ctx;
  const hp = plan.haproxy;
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const actions: ClusterAction[] = [];
  if (!hp) return { files, services, actions };
  const hostsByName = new Map(plan.hosts.map((h) => [h.name, h]));
  const owned = pacemakerRunUnits(plan.inventory);
  for (const host of haproxyHosts(plan)) {
    const model = haproxyCfgModel(hp, host, ctx.secrets);
    files.push({
      host,
      path: HAPROXY_CFG,
      content: ctx.template("haproxy", "haproxy.cfg.hbs", model),
      mode: model.secret ? "0600" : "0644",
      owner: "root",
      group: "root",
      secret: model.secret,
      validate: HAPROXY_VALIDATE,
      notify: ["haproxy"],
    });
    const families = nonlocalFamilies(hp, hostsByName.get(host));
    if (families.length) {
      const nb = nonlocalBind(ctx, host, families);
      files.push(nb.file);
      actions.push(nb.action);
    }
    const rollGroup = rollGroupFor(plan, host);
    const init = hostsByName.get(host)?.init ?? "systemd";
    const owner = runByPacemaker(owned, host, "haproxy");
    if (owner) {
      pacemakerOwned(host, init, owner, families.length > 0, rollGroup, services, actions);
      continue;
    }
    // systemd: Debian's haproxy.service (config check before the graceful USR2 reload, -Ws, the
    // same /etc/haproxy/haproxy.cfg) plus a drop-in for the file limit.
    const d = packagedDaemon(
      {
        host,
        init,
        name: "haproxy",
        description: "HAProxy load balancer (haforge)",
        command: HAPROXY_COMMAND,
        reloadSignal: "USR2",
        health: HAPROXY_HEALTH,
        limitNofile: 65536,
        ...(rollGroup ? { rollGroup } : {}),
      },
      { dropIn: "[Service]\nLimitNOFILE=65536\n", reloadable: true },
    );
    files.push(...d.files);
    // The bootstrap action applies the sysctl too, but adapters run a host's actions after its
    // restarts (a new haproxy then dies binding the VIP: "spawn error"); applying it as part of
    // the restart makes the first start independent of that order. Idempotent, per netns.
    services.push(families.length ? { ...d.service, restart: `sysctl -q -p ${NONLOCAL_BIND_CONF} && ${d.service.restart}` } : d.service);
  }
  return { files, services, actions };
}

/**
 * Pacemaker runs HAProxy on this host: its service (restart and reload through HAProxy's own
 * graceful reload) and, on systemd without a pid file, the action that disables the packaged unit.
 */
function pacemakerOwned(
  host: string,
  init: InitSystem,
  owner: NonNullable<ReturnType<typeof runByPacemaker>>,
  nonlocal: boolean,
  rollGroup: string | undefined,
  services: ServiceSpec[],
  actions: ClusterAction[],
): void {
  // Pacemaker runs HAProxy here (systemd:haproxy, ocf:heartbeat:anything, the lightweight
  // haproxy-clone): haforge never enables, starts or restarts it, and writes no program or
  // unit for it. A new config is applied by HAProxy's own graceful reload, only where
  // Pacemaker has it running; Pacemaker's monitor sees the same process.
  // ocf:heartbeat:anything keeps a pid file; systemd:haproxy (and the lightweight clone on
  // systemd nodes) is a systemd unit.
  const viaPidfile = owner.pidfile !== undefined && !(owner.resource.endsWith("(lightweight)") && init === "systemd");
  const reload = viaPidfile ? pacemakerRunReload("supervisor", owner.pidfile) : pacemakerRunReload("systemd");
  services.push({
    host,
    name: "haproxy",
    manager: init,
    restart: nonlocal ? `sysctl -q -p ${NONLOCAL_BIND_CONF} && { ${reload}; }` : reload,
    reload,
    ...(rollGroup ? { rollGroup } : {}),
  });
  if (init === "systemd" && !viaPidfile)
    actions.push({
      id: `haproxy-pacemaker-owned-${host}`,
      host,
      phase: "bootstrap",
      description: `HAProxy on ${host} is run by Pacemaker (${owner.cluster}/${owner.resource}): the packaged unit must not start at boot`,
      create: "systemctl disable --quiet haproxy",
      dependsOn: [],
      triggers: [],
      secret: false,
    });
}

/** haproxy renderer: files, services, cluster actions (and materials it needs). */
export const renderPart: Pick<ServiceModule, "render" | "materials"> = { render };
