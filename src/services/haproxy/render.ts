import type { ClusterAction, FileSpec, ServiceSpec } from "../../core/desired-state";
import type { ClusterPlan } from "../../plan/types";
import { packagedDaemon } from "../../render/daemon";
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
    // systemd: Debian's haproxy.service (config check before the graceful USR2 reload, -Ws, the
    // same /etc/haproxy/haproxy.cfg) plus a drop-in for the file limit.
    const d = packagedDaemon(
      {
        host,
        init: hostsByName.get(host)?.init ?? "systemd",
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

/** haproxy renderer: files, services, cluster actions (and materials it needs). */
export const renderPart: Pick<ServiceModule, "render" | "materials"> = { render };
