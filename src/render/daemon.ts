/**
 * One daemon's service definition for the host's init system: a systemd unit, or a supervisor
 * program file (`/etc/supervisor/conf.d/<name>.conf`, the lab's and container hosts' manager),
 * plus the ServiceSpec (restart/reload/health) the adapters use for rolling restarts.
 */
import { iniValue, pathSegment, shellQuote, shellToken, systemdAssignment } from "../core/escape";
import type { FileSpec, InitSystem, ServiceSpec } from "../core/desired-state";
import { renderTemplate } from "./templates";

export interface DaemonOptions {
  readonly host: string;
  readonly init: InitSystem;
  /** Service / program name. */
  readonly name: string;
  readonly description: string;
  /** Foreground command line (both managers supervise a foreground process). */
  readonly command: string;
  readonly user?: string;
  readonly group?: string;
  readonly workingDirectory?: string;
  readonly environment?: Readonly<Record<string, string>>;
  /** systemd only: extra EnvironmentFile= lines. */
  readonly environmentFiles?: readonly string[];
  /** Signal name (HUP, USR2) that makes the daemon reload its config. */
  readonly reloadSignal?: string;
  /**
   * Files holding settings the daemon takes at a start only (a reload does not apply them): when
   * one changed since haforge last applied the service, the change restarts it instead of
   * reloading it (reloadOrRestartCommand). @default []
   */
  readonly restartOn?: readonly string[];
  /** Command that exits 0 when healthy. */
  readonly health?: string;
  readonly rollGroup?: string;
  /** systemd After= units. */
  readonly after?: readonly string[];
  /** supervisor startsecs. @default 2 */
  readonly startsecs?: number;
  /** supervisor stopwaitsecs. @default 30 */
  readonly stopwaitsecs?: number;
  readonly limitNofile?: number;
  /** Whether the daemon's env contains secrets (marks the unit file secret). */
  readonly secret?: boolean;
}

const supervisorEnv = (env: Readonly<Record<string, string>>): string =>
  Object.entries(env)
    .map(([k, v]) => `${k}=${iniValue(v)}`)
    .join(",");

export function unitPath(init: InitSystem, name: string): string {
  const file = pathSegment(name);
  return init === "systemd" ? `/etc/systemd/system/${file}.service` : `/etc/supervisor/conf.d/${file}.conf`;
}

/**
 * Restart that also picks up a new or changed service definition: systemd needs daemon-reload
 * (and enable, so it survives a reboot); supervisor needs reread + update (which starts a new
 * program) before restart.
 */
export function restartCommand(init: InitSystem, unit: string): string {
  // A schema-checked name; it also appears inside the single-quoted `sh -c '...'` below.
  const name = shellToken(unit);
  if (init === "systemd") return `systemctl daemon-reload && systemctl enable ${name} && systemctl restart ${name}`;
  // Stop, then update, then start: `update` itself (re)starts a new or changed program, so an
  // `update` followed by `restart` TERMs a daemon that is still booting (RabbitMQ ignores it
  // until supervisord's SIGKILL, stopwaitsecs later). `start` of an already started program exits
  // 0 without waiting, hence the bounded wait for RUNNING (FATAL: give up at once).
  // http://supervisord.org/running.html#supervisorctl-actions
  const wait =
    `i=0; while [ $i -lt 300 ]; do s=$(supervisorctl status ${name}); case "$s" in *RUNNING*) exit 0;; ` +
    `*FATAL*|*EXITED*) echo "$s" >&2; exit 1;; esac; i=$((i+1)); sleep 1; done; echo "$s" >&2; exit 1`;
  return `supervisorctl reread >/dev/null && { supervisorctl stop ${name} >/dev/null 2>&1; supervisorctl update ${name} >/dev/null; } && supervisorctl start ${name} >/dev/null && sh -c '${wait}'`;
}

/**
 * Stops a service for good on a host that leaves its cluster (the deprovisioning `delete` of the
 * host's services, components/service-resources.ts): systemd stops and disables it (a reboot does
 * not start it again); supervisor stops the program. Idempotent: a service that is already down,
 * crashed (FATAL) or unknown to the manager counts as stopped, so a retried removal converges;
 * it fails only when the service still runs afterwards.
 */
export function stopCommand(init: InitSystem, unit: string): string {
  const name = shellToken(unit);
  if (init === "systemd") return `systemctl disable --now ${name} >/dev/null 2>&1; ! systemctl is-active --quiet ${name}`;
  return `supervisorctl stop ${name} >/dev/null 2>&1; ! supervisorctl status ${name} 2>/dev/null | grep -qE 'RUNNING|STARTING|BACKOFF|STOPPING'`;
}

/**
 * The deprovisioning `delete` of a host's services (components/service-resources.ts): each stopped
 * for good in reverse start order, each service's `leaveCheck` right before its stop (a failed
 * check stops nothing more), its `retire` right after its own stop succeeded. Stops the chain at
 * the first service that is still running.
 */
export function deprovisionCommand(services: readonly ServiceSpec[]): string {
  return [...services]
    .reverse()
    .map(
      (s) =>
        `{ ${s.leaveCheck ? `{ ${s.leaveCheck}; } && { ` : ""}${stopCommand(s.manager, s.name)}${s.retire ? ` && { ${s.retire}; }` : ""}${s.leaveCheck ? "; }" : ""}; }`,
    )
    .join(" && ");
}

/**
 * The command that applies a changed file to a daemon that can reload (HAProxy USR2, keepalived
 * and Patroni HUP, consul HUP): the daemon's own reload when it runs and its service definition
 * (supervisor program file, systemd unit or drop-in) is unchanged; a restart otherwise (first
 * start, a stopped daemon, a changed definition the manager must load). A membership change or a
 * new backend then reloads the members that stay instead of restarting them (a restarted HAProxy
 * or keepalived drops the VIP while it is down). supervisorctl `reread` only reports (the
 * restart's own `update` applies), systemd flags a changed unit or drop-in as NeedDaemonReload.
 * http://supervisord.org/running.html#supervisorctl-actions, systemctl(1) show.
 */
export function reloadOrRestartCommand(
  init: InitSystem,
  unit: string,
  reload: string,
  restart: string,
  restartOn: readonly string[] = [],
): string {
  const name = shellToken(unit);
  const unchanged =
    init === "systemd"
      ? `systemctl is-active --quiet ${name} && [ "$(systemctl show -p NeedDaemonReload --value ${name})" != yes ]`
      : `supervisorctl status ${name} 2>/dev/null | grep -q RUNNING && ! supervisorctl reread 2>/dev/null | grep -q '^${name}: '`;
  // A start-only setting changed (its file is newer than the mark of haforge's last restart or
  // reload, appliedOnce): only a restart applies it. No mark yet: nothing to compare, reload.
  const mark = shellQuote(`${APPLIED_DIR}/${pathSegment(unit)}`);
  const startOnly = restartOn.length
    ? ` && [ -z "$(find ${restartOn.map(shellQuote).join(" ")} -maxdepth 0 -cnewer ${mark} -print 2>/dev/null)" ]`
    : "";
  return `if ${unchanged}${startOnly}; then ${reload} && echo 'reloaded ${name} (running, definition unchanged)'; else ${restart}; fi`;
}

/** Exits 0 when the manager runs the service. */
export function runningTest(manager: InitSystem, unit: string): string {
  const name = shellToken(pathSegment(unit));
  return manager === "systemd" ? `systemctl is-active --quiet ${name}` : `supervisorctl status ${name} | grep -q RUNNING`;
}

/** Where haforge's restarts record, per service, that the service took its files (persistent, per host). */
export const APPLIED_DIR = "/var/lib/haforge/applied";

/**
 * A restart action's create, run only when the service does not already run its files. A restart
 * (or reload) that succeeds, health gate included, touches `APPLIED_DIR/<service>`; the next run
 * skips the restart when the service runs and no file it follows was changed (content, mode,
 * owner: the inode's ctime, `find -cnewer`, nanoseconds) after that mark. It prints
 * `haforge: skipped: ...` then.
 *
 * Why on the host and not from Pulumi's state: with an empty state (a second operator's own
 * backend, a lost state) every restart action is a new resource and the engine runs its create,
 * although nothing changed; state cannot tell whether the running daemon took the files, the
 * host can. A daemon that is stopped, a file written by this apply (or after the last restart by
 * anyone), a first install (no mark) or a host that lost its mark all restart as before; a restart
 * that fails leaves the old mark, so the next run restarts again. A reboot keeps the mark and the
 * daemon starts from the same files.
 */
export function appliedOnce(
  s: Pick<ServiceSpec, "manager" | "name">,
  follows: readonly string[],
  command: string,
  dir = APPLIED_DIR,
): string {
  const name = pathSegment(s.name);
  const mark = shellQuote(`${dir}/${name}`);
  const unchanged = follows.length
    ? ` && changed=$(find ${follows.map(shellQuote).join(" ")} -maxdepth 0 -cnewer ${mark} -print 2>/dev/null) && [ -z "$changed" ]`
    : "";
  const settled = `${runningTest(s.manager, s.name)} && [ -f ${mark} ]${unchanged}`;
  const note = shellQuote(`haforge: skipped: ${name} runs and none of its files changed since haforge last restarted or reloaded it`);
  // The command's output goes to files on the host, printed once the mark is set: a command whose
  // SSH client died (a killed `pulumi up`; the command outlives it) still runs to its end and sets
  // the mark, so the next up does not restart the service again. Written to the dead session's
  // pipes, the output would end it first (SIGPIPE: a health gate's own output while it waits).
  const run =
    `o=$(mktemp) && e=$(mktemp) && { { ${command}; } >"$o" 2>"$e" && mkdir -p ${shellQuote(dir)} && touch ${mark}; ` +
    `rc=$?; cat "$o"; cat "$e" >&2; rm -f "$o" "$e"; [ $rc -eq 0 ]; }`;
  return `if ${settled}; then echo ${note}; else ${run}; fi`;
}

/** Where a restart notes that it started a service the manager did not know yet. */
export const FIRST_START_DIR = "/run/haforge/first-start";

/**
 * A quorum member's health (etcd endpoint health, corosync quorate, Pacemaker "CLUSTER OK") can
 * not pass on the cluster's very first start: the rolling chain starts one member at a time and
 * waits for the gate, so member 1 would wait forever for peers that start after it. The restart
 * therefore notes when the manager did not know the service yet (a new member: supervisorctl
 * status rc 4 "no such process", systemd: not enabled) and, until the next restart, the gate only
 * waits for the local process. A restart of a known, running member clears the note, so a roll
 * of a formed cluster is always gated on quorum.
 */
export function firstStartAware(s: ServiceSpec): ServiceSpec {
  if (!s.health) return s;
  const name = shellToken(pathSegment(s.name));
  const mark = `${FIRST_START_DIR}/${name}`;
  const isNew =
    s.manager === "systemd"
      ? `! systemctl is-enabled --quiet ${name} 2>/dev/null`
      : `{ supervisorctl status ${name} >/dev/null 2>&1; [ $? -eq 4 ]; }`;
  const running = runningTest(s.manager, s.name);
  return {
    ...s,
    restart: `mkdir -p ${FIRST_START_DIR} && rm -f ${mark} && { if ${isNew}; then touch ${mark}; fi; } && ${s.restart}`,
    health: `if [ -e ${mark} ]; then ${running}; else ${s.health}; fi`,
  };
}

export function daemon(o: DaemonOptions): { file: FileSpec; service: ServiceSpec } {
  const path = unitPath(o.init, o.name);
  const content =
    o.init === "systemd"
      ? renderTemplate("common", "systemd.service.hbs", {
          ...o,
          environmentLines: Object.entries(o.environment ?? {}).map(([k, v]) => systemdAssignment(k, v)),
          after: o.after ?? [],
        })
      : renderTemplate("common", "supervisor.conf.hbs", {
          ...o,
          environmentLine: o.environment && Object.keys(o.environment).length ? supervisorEnv(o.environment) : "",
          startsecs: o.startsecs ?? 2,
          stopwaitsecs: o.stopwaitsecs ?? 30,
        });
  const file: FileSpec = {
    host: o.host,
    path,
    content,
    mode: o.secret ? "0600" : "0644",
    owner: "root",
    group: "root",
    secret: o.secret ?? false,
    notify: [o.name],
  };
  const reload = o.reloadSignal
    ? o.init === "systemd"
      ? `systemctl reload ${shellToken(o.name)}`
      : `supervisorctl signal ${shellToken(o.reloadSignal)} ${shellToken(o.name)}`
    : undefined;
  const restart = restartCommand(o.init, o.name);
  const service: ServiceSpec = {
    host: o.host,
    name: o.name,
    manager: o.init,
    restart: reload ? reloadOrRestartCommand(o.init, o.name, reload, restart, o.restartOn) : restart,
    ...(reload ? { reload } : {}),
    ...(o.health ? { health: o.health } : {}),
    ...(o.rollGroup ? { rollGroup: o.rollGroup } : {}),
  };
  return { file, service };
}

/**
 * A daemon whose systemd unit comes with its Debian package (corosync, pacemaker, haproxy,
 * keepalived, rabbitmq-server, etcd, patroni, ...). On systemd hosts the packaged unit is never
 * replaced — it carries what the package knows (pacemaker's `Requires=corosync`, `KillMode=process`,
 * `SendSIGKILL=no`, 30 min stop timeout; haproxy's config check before a graceful reload; Type=notify):
 * haforge adds a drop-in (`/etc/systemd/system/<unit>.service.d/50-haforge.conf`) only when it needs
 * something on top (`dropIn`, e.g. `ExecStart=` + `ExecStart=...` for another config path, or an
 * `After=`), and reloads through the unit's own ExecReload (`systemctl reload`). Supervisor hosts
 * have no packaged unit: they get the program file from `daemon`.
 */
export interface PackagedOptions {
  /** [Unit]/[Service] sections haforge needs on top of the packaged unit; absent: no drop-in at all. */
  readonly dropIn?: string;
  /** The packaged unit has a graceful ExecReload: use `systemctl reload`. */
  readonly reloadable?: boolean;
}

export const PACKAGED_DROP_IN = "50-haforge";

export function packagedDaemon(o: DaemonOptions, pkg: PackagedOptions = {}): { files: FileSpec[]; service: ServiceSpec } {
  if (o.init !== "systemd") {
    const d = daemon(o);
    return { files: [d.file], service: d.service };
  }
  const files = pkg.dropIn ? [systemdDropIn(o.host, o.name, PACKAGED_DROP_IN, pkg.dropIn, o.secret ?? false)] : [];
  const restart = restartCommand("systemd", o.name);
  const reload = pkg.reloadable ? `systemctl reload ${shellToken(o.name)}` : undefined;
  const service: ServiceSpec = {
    host: o.host,
    name: o.name,
    manager: "systemd",
    restart: reload ? reloadOrRestartCommand("systemd", o.name, reload, restart, o.restartOn) : restart,
    ...(reload ? { reload } : {}),
    ...(o.health ? { health: o.health } : {}),
    ...(o.rollGroup ? { rollGroup: o.rollGroup } : {}),
  };
  return { files, service };
}

/**
 * A systemd drop-in (`/etc/systemd/system/<unit>.d/<name>.conf`), e.g. Restart=always for the
 * lightweight layout or the RS_HA_* environment of an active/passive app.
 */
export function systemdDropIn(host: string, unit: string, name: string, body: string, secret = false): FileSpec {
  return {
    host,
    path: `/etc/systemd/system/${pathSegment(unit)}.service.d/${pathSegment(name)}.conf`,
    content: `# Managed by haforge\n${body.endsWith("\n") ? body : body + "\n"}`,
    mode: secret ? "0600" : "0644",
    owner: "root",
    group: "root",
    secret,
    notify: [unit],
  };
}
