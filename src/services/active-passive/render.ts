import type { ClusterAction, FileSpec, InitSystem, ServiceSpec } from "../../core/desired-state";
import type { ActivePassivePlan, ClusterPlan } from "../../plan/types";
import { daemon, restartCommand, runningTest, systemdDropIn } from "../../render/daemon";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import { pathSegment, shellToken, shellWord } from "../../core/escape";
import { haEnvironment, shellAssignment, systemdAssignment } from "./env";

/**
 * Drop-in name: `/etc/systemd/system/<service>.service.d/20-ha.conf`, the file dr-provision's HA
 * docs create ("Bootstrapping", https://github.com/digitalrebar/provision doc/high-availability.rst),
 * so an operator following the docs edits the file haforge manages instead of adding a second one.
 */
export const DROP_IN_NAME = "20-ha";

/** Env file for supervisor hosts (no drop-ins there). */
export const envFilePath = (service: string): string => `/etc/haforge/${pathSegment(shellToken(service))}-ha.env`;

/**
 * The app's binary on supervisor hosts. dr-provision's installer puts it in /usr/local/bin; the
 * plan carries only the service name.
 */
export const appBinary = (service: string): string => `/usr/local/bin/${pathSegment(shellToken(service))}`;

/** The supervisor program's log (templates/common/supervisor.conf.hbs) and the line each start writes there first. */
export const supervisorLog = (service: string): string => `/var/log/supervisor/${pathSegment(shellToken(service))}.log`;
export const START_MARKER = "haforge-start";

/** What a passive node logs once it has replicated everything and follows the active one live. */
export const CAUGHT_UP_LINE = "Stream switch to realtime streaming";

/** Seconds a switchover waits for the target to catch up before giving up (nothing switched then). */
export const CATCH_UP_WAIT_S = 600;

/** Exit 0 when this node holds the app's VIP. */
export function holdsVip(app: ActivePassivePlan): string {
  // Schema-checked names, inside a double-quoted $(...): tokens only.
  const addr = shellToken(app.vip.split("/")[0] ?? "");
  return `[ -n "$(ip -o addr show dev ${shellToken(app.interface)} to ${addr})" ]`;
}

/**
 * Exit 0 when the node has logged CAUGHT_UP_LINE since its current start (not in an earlier run):
 * systemd: the journal of the unit's current invocation; supervisor: the program's log (with its
 * rotated backups) after the last START_MARKER the program's command prints before exec.
 */
export function caughtUp(init: InitSystem, service: string): string {
  if (init === "systemd")
    return `journalctl -q -o cat _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value ${shellToken(service)})" | grep -qF '${CAUGHT_UP_LINE}'`;
  const log = supervisorLog(service);
  return `cat ${log}.2 ${log}.1 ${log} 2>/dev/null | awk '$0 == "${START_MARKER}" { c = 0 } index($0, "${CAUGHT_UP_LINE}") { c = 1 } END { exit !c }'`;
}

/** Bounded wait for the VIP to leave (`present` false) or reach (true) the interface. */
function waitVip(app: ActivePassivePlan, present: boolean, seconds = 30): string {
  // Interface and address are schema-checked names; shellToken refuses anything that would need
  // quoting, since both also appear inside the double-quoted message.
  const addr = shellToken(app.vip.split("/")[0] ?? "");
  const dev = shellToken(app.interface);
  const test = present ? holdsVip(app) : `! ${holdsVip(app)}`;
  return `i=0; until ${test}; do i=$((i+1)); [ $i -ge ${seconds} ] && { echo "VIP ${addr} ${present ? "did not appear" : "still"} on ${dev} after ${seconds}s" >&2; exit 1; }; sleep 1; done`;
}

/**
 * Signal the app's main process. Under supervisor the program is `sh -c '... exec BINARY'`, so
 * the supervised PID is the app itself once exec'd.
 */
function signal(init: InitSystem, service: string, sig: string): string {
  return init === "systemd"
    ? `systemctl kill --kill-who=main --signal=${sig} ${shellWord(service)}`
    : `supervisorctl signal ${sig} ${shellWord(service)}`;
}

/**
 * The health gate between two nodes of a roll: the app runs AND (it holds the VIP, i.e. it is the
 * active node, OR it has caught up with the active node since it started). So the active node
 * starts first and the passives follow once it is up, each one counted only once it streams in
 * real time. Independent of which node is active now: restarts never move the VIP.
 */
export function haHealth(app: ActivePassivePlan, init: InitSystem): string {
  return `${runningTest(init, app.service)} && { ${holdsVip(app)} || ${caughtUp(init, app.service)}; }`;
}

function rollGroupFor(plan: ClusterPlan, app: ActivePassivePlan, host: string): string | undefined {
  return plan.rollingGroups.find((g) => (g.id === `active-passive:${app.name}` || g.service === app.service) && g.hosts.includes(host))?.id;
}

/**
 * On-demand switchover to `app.active` (dr-provision's manual failover: USR2 turns the active node
 * passive, USR1 turns a passive node active). Nothing at all unless the inventory names an active
 * node, so a plain deploy never moves the VIP. Every step is idempotent (a no-op when the VIP
 * already is where it should be), and the action ids carry the target, so changing `active` runs
 * them again while re-deploying the same inventory does not:
 *  1. on the target: nothing to do if it holds the VIP; otherwise it must be running and have
 *     caught up ("Stream switch to realtime streaming" since its start; bounded wait) — before any
 *     node is demoted;
 *  2. on every other node: if it holds the VIP, USR2 and wait for the VIP to leave (never two
 *     holders);
 *  3. on the target: if it does not hold the VIP, USR1 and wait for the VIP to arrive.
 * dr-provision keeps its HA state (ha-state.json) across restarts, so the RS_HA_PASSIVE values
 * rendered for bootstrap do not undo a switchover.
 */
export function switchover(app: ActivePassivePlan, init: (h: string) => InitSystem): ClusterAction[] {
  const target = app.active;
  if (target === undefined || !app.hosts.includes(target)) return [];
  const base = `active-passive-${app.name}-active-${target}`;
  const addr = app.vip.split("/")[0];
  const ti = init(target);
  const checkId = `${base}-check`;
  const check: ClusterAction = {
    id: checkId,
    host: target,
    phase: "switchover",
    description: `${app.name}: ${target} should be active — check that it holds the VIP or has caught up ("${CAUGHT_UP_LINE}") before switching`,
    create: [
      `if ${holdsVip(app)}; then echo "${target} already holds ${addr}: no switchover"; exit 0; fi`,
      `${runningTest(ti, app.service)} || { echo "${shellToken(app.service)} is not running on ${shellToken(target)}: not switching" >&2; exit 1; }`,
      `i=0; until ${caughtUp(ti, app.service)}; do i=$((i+1)); [ $i ` +
        `-ge ${CATCH_UP_WAIT_S} ] && { echo "${shellToken(target)} has ` +
        `not caught up (no '${CAUGHT_UP_LINE}' since its start) after ` +
        `${CATCH_UP_WAIT_S}s: not switching" >&2; exit 1; }; sleep 1; done`,
    ].join("\n"),
    dependsOn: [],
    triggers: [],
    secret: false,
  };
  const releases: ClusterAction[] = app.hosts
    .filter((h) => h !== target)
    .map((h) => ({
      id: `${base}-release-${h}`,
      host: h,
      phase: "switchover",
      description: `${app.name}: if ${h} holds the VIP, make it passive (USR2 to ${app.service}) and wait for the VIP to leave it`,
      create: `if ${holdsVip(app)}; then ${signal(init(h), app.service, "USR2")} || exit 1; ${waitVip(app, false)}; fi`,
      dependsOn: [checkId],
      triggers: [],
      secret: false,
    }));
  const promote: ClusterAction = {
    id: `${base}-promote`,
    host: target,
    phase: "switchover",
    description: `${app.name}: make ${target} active (USR1 to ${app.service}) unless it is, and wait for the VIP to arrive`,
    create: `if ${holdsVip(app)}; then exit 0; fi; ${signal(ti, app.service, "USR1")} || exit 1; ${waitVip(app, true)}`,
    dependsOn: [checkId, ...releases.map((r) => r.id)],
    triggers: [],
    secret: false,
  };
  return [check, ...releases, promote];
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
      const env = haEnvironment(
        app,
        host,
        ctx.secrets,
        plan.hosts.find((h) => h.name === host),
      );
      const data = { app: app.name, haId: app.haId, role: index === 0 ? "initially active" : "initially passive" };
      const rollGroup = rollGroupFor(plan, app, host);
      const health = haHealth(app, init(host));
      if (init(host) === "systemd") {
        // The app's own unit (from its installer) stays; the drop-in only adds the environment.
        const body = ctx.template("active-passive", "ha-dropin.conf.hbs", {
          ...data,
          environment: env.map(([k, v]) => systemdAssignment(k, v)),
        });
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
      // The marker line first: caughtUp() reads the log from this start on.
      const d = daemon({
        host,
        init: "supervisor",
        name: app.service,
        description: `${app.name} (${index === 0 ? "initially active" : "initially passive"}, haforge)`,
        command: `/bin/sh -c 'echo ${START_MARKER} && set -a && . ${envFile} && exec ${appBinary(app.service)}'`,
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
