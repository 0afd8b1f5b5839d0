/**
 * One daemon's service definition for the host's init system: a systemd unit, or a supervisor
 * program file (`/etc/supervisor/conf.d/<name>.conf`, the lab's and container hosts' manager),
 * plus the ServiceSpec (restart/reload/health) the adapters use for rolling restarts.
 */
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
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%")}"`)
    .join(",");

export function unitPath(init: InitSystem, name: string): string {
  return init === "systemd" ? `/etc/systemd/system/${name}.service` : `/etc/supervisor/conf.d/${name}.conf`;
}

/**
 * Restart that also picks up a new or changed service definition: systemd needs daemon-reload
 * (and enable, so it survives a reboot); supervisor needs reread + update (which starts a new
 * program) before restart.
 */
export function restartCommand(init: InitSystem, name: string): string {
  return init === "systemd"
    ? `systemctl daemon-reload && systemctl enable ${name} && systemctl restart ${name}`
    : `supervisorctl reread >/dev/null && supervisorctl update ${name} >/dev/null && supervisorctl restart ${name}`;
}

export function daemon(o: DaemonOptions): { file: FileSpec; service: ServiceSpec } {
  const path = unitPath(o.init, o.name);
  const content =
    o.init === "systemd"
      ? renderTemplate("common", "systemd.service.hbs", { ...o, environment: o.environment ?? {}, after: o.after ?? [] })
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
      ? `systemctl reload ${o.name}`
      : `supervisorctl signal ${o.reloadSignal} ${o.name}`
    : undefined;
  const service: ServiceSpec = {
    host: o.host,
    name: o.name,
    manager: o.init,
    restart: restartCommand(o.init, o.name),
    ...(reload ? { reload } : {}),
    ...(o.health ? { health: o.health } : {}),
    ...(o.rollGroup ? { rollGroup: o.rollGroup } : {}),
  };
  return { file, service };
}

/**
 * A systemd drop-in (`/etc/systemd/system/<unit>.d/<name>.conf`), e.g. Restart=always for the
 * lightweight layout or the RS_HA_* environment of an active/passive app.
 */
export function systemdDropIn(host: string, unit: string, name: string, body: string, secret = false): FileSpec {
  return {
    host,
    path: `/etc/systemd/system/${unit}.service.d/${name}.conf`,
    content: `# Managed by haforge\n${body.endsWith("\n") ? body : body + "\n"}`,
    mode: secret ? "0600" : "0644",
    owner: "root",
    group: "root",
    secret,
    notify: [unit],
  };
}
