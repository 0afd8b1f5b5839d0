import type { ClusterAction, FileSpec, InitSystem, ServiceSpec } from "../../core/desired-state";
import type { ActivePassivePlan, ClusterPlan } from "../../plan/types";
import { daemon, restartCommand, systemdDropIn } from "../../render/daemon";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import { haEnvironment, shellAssignment, systemdAssignment } from "./env";

/** Drop-in name: `/etc/systemd/system/<service>.service.d/haforge-ha.conf`. */
export const DROP_IN_NAME = "haforge-ha";

/** Env file for supervisor hosts (no drop-ins there). */
export const envFilePath = (service: string): string => `/etc/haforge/${service}-ha.env`;

/**
 * The app's binary on supervisor hosts. dr-provision's installer puts it in /usr/local/bin; the
 * plan carries only the service name.
 */
export const appBinary = (service: string): string => `/usr/local/bin/${service}`;

/** Bounded wait for the VIP to leave (`present` false) or reach (true) the interface. */
function waitVip(app: ActivePassivePlan, present: boolean, seconds = 30): string {
  const addr = app.vip.split("/")[0];
  const test = `[ -${present ? "n" : "z"} "$(ip -o addr show dev ${app.interface} to ${addr})" ]`;
  return `i=0; until ${test}; do i=$((i+1)); [ $i -ge ${seconds} ] && { echo "VIP ${addr} ${present ? "did not appear" : "still"} on ${app.interface} after ${seconds}s" >&2; exit 1; }; sleep 1; done`;
}

/**
 * Signal the app's main process. Under supervisor the program is `sh -c '... exec BINARY'`, so
 * the supervised PID is the app itself once exec'd.
 */
function signal(init: InitSystem, service: string, sig: string): string {
  return init === "systemd" ? `systemctl kill --kill-who=main --signal=${sig} ${service}` : `supervisorctl signal ${sig} ${service}`;
}

function rollGroupFor(plan: ClusterPlan, app: ActivePassivePlan, host: string): string | undefined {
  return plan.rollingGroups.find((g) => (g.id === `active-passive:${app.name}` || g.service === app.service) && g.hosts.includes(host))?.id;
}

/**
 * Manual switchover as documented by dr-provision: USR2 turns the active node passive, USR1
 * turns a passive node active. Demote first and wait for the VIP to leave, so two nodes never
 * hold it at once; then promote the next node and wait for the VIP to arrive there.
 * dr-provision keeps its HA state (ha-state.json) across restarts, so the RS_HA_PASSIVE values
 * rendered for bootstrap do not undo a switchover.
 */
function switchover(app: ActivePassivePlan, init: (h: string) => InitSystem): ClusterAction[] {
  const [active, next] = app.hosts;
  if (!active || !next) return [];
  const demoteId = `active-passive-${app.name}-demote-${active}`;
  return [
    {
      id: demoteId,
      host: active,
      phase: "switchover",
      description: `${app.name}: make ${active} passive (USR2 to ${app.service}) and wait for the VIP to leave it`,
      create: `${signal(init(active), app.service, "USR2")} || exit 1; ${waitVip(app, false)}`,
      dependsOn: [],
      triggers: [],
      secret: false,
    },
    {
      id: `active-passive-${app.name}-promote-${next}`,
      host: next,
      phase: "switchover",
      description: `${app.name}: make ${next} active (USR1 to ${app.service}) and wait for the VIP to arrive`,
      create: `${signal(init(next), app.service, "USR1")} || exit 1; ${waitVip(app, true)}`,
      dependsOn: [demoteId],
      triggers: [],
      secret: false,
    },
  ];
}

function render(ctx: RenderContext): RenderResult {
  const { plan } = ctx;
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const actions: ClusterAction[] = [];
  const inits = new Map(plan.hosts.map((h) => [h.name, h.init]));
  const init = (h: string): InitSystem => inits.get(h) ?? "systemd";
  for (const app of plan.activePassive) {
    app.hosts.forEach((host, index) => {
      const env = haEnvironment(app, host, ctx.secrets);
      const data = { app: app.name, haId: app.haId, role: index === 0 ? "initially active" : "initially passive" };
      const rollGroup = rollGroupFor(plan, app, host);
      const health = init(host) === "systemd" ? `systemctl is-active --quiet ${app.service}` : `supervisorctl status ${app.service} | grep -q RUNNING`;
      if (init(host) === "systemd") {
        // The app's own unit (from its installer) stays; the drop-in only adds the environment.
        const body = ctx.template("active-passive", "ha-dropin.conf.hbs", { ...data, environment: env.map(([k, v]) => systemdAssignment(k, v)) });
        files.push(systemdDropIn(host, app.service, DROP_IN_NAME, body, true));
        services.push({
          host,
          name: app.service,
          manager: "systemd",
          restart: restartCommand("systemd", app.service),
          health,
          ...(rollGroup ? { rollGroup } : {}),
        });
        return;
      }
      const envFile = envFilePath(app.service);
      files.push({
        host,
        path: envFile,
        content: ctx.template("active-passive", "ha.env.hbs", { ...data, environment: env.map(([k, v]) => shellAssignment(k, v)) }),
        mode: "0600",
        owner: "root",
        group: "root",
        secret: true,
        validate: "sh -n {file}",
        notify: [app.service],
      });
      // `exec` so the supervised PID is the app itself: supervisorctl signal USR1/USR2 reaches it.
      const d = daemon({
        host,
        init: "supervisor",
        name: app.service,
        description: `${app.name} (${index === 0 ? "initially active" : "initially passive"}, haforge)`,
        command: `/bin/sh -c 'set -a && . ${envFile} && exec ${appBinary(app.service)}'`,
        health,
        startsecs: 5,
        ...(rollGroup ? { rollGroup } : {}),
      });
      files.push(d.file);
      services.push(d.service);
    });
    actions.push(...switchover(app, init));
  }
  return { files, services, actions };
}

/** active-passive renderer: files, services, cluster actions (and materials it needs). */
export const renderPart: Pick<ServiceModule, "render" | "materials"> = { render };
