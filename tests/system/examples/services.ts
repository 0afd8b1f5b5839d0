/**
 * How a host starts a rendered service, read from the rendered service definition itself (the
 * systemd unit or the supervisor program), so the example tests start each daemon exactly as
 * the host's init would: same command line, user, environment and working directory.
 */

import { existsSync, readFileSync } from "node:fs";

export interface ServiceCommand {
  readonly argv: readonly string[];
  readonly user?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** Split a command line the way systemd and supervisor (shlex) do for the cases we render. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: '"' | "'" | undefined;
  let any = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (/\s/.test(c)) {
      if (any || cur) out.push(cur);
      cur = "";
      any = false;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
    } else {
      cur += c;
    }
  }
  if (any || cur) out.push(cur);
  return out;
}

/**
 * The [Service] part of a systemd unit: ExecStart (its `-@+!` prefixes dropped), User,
 * WorkingDirectory and every Environment= assignment.
 * https://www.freedesktop.org/software/systemd/man/systemd.service.html#Command%20lines
 */
export function unitCommand(text: string): ServiceCommand | undefined {
  let section = "";
  let exec: string | undefined;
  let user: string | undefined;
  let cwd: string | undefined;
  const env: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    if (section !== "Service") continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === "ExecStart" && value) exec = value.replace(/^[-@+!:]+/, "");
    else if (key === "User") user = value;
    else if (key === "WorkingDirectory") cwd = value.replace(/^-/, "");
    else if (key === "Environment") {
      for (const kv of splitCommand(value)) {
        const i = kv.indexOf("=");
        if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
      }
    }
  }
  if (!exec) return undefined;
  return { argv: splitCommand(exec), ...(user ? { user } : {}), env, ...(cwd ? { cwd } : {}) };
}

/**
 * Python run on the host: supervisord's own config loader (Debian's python3-supervisor) reads
 * /etc/supervisor/supervisord.conf, which includes conf.d/*.conf, exactly as `supervisord` would
 * at start, and prints every program it understood. A file it cannot load makes it exit non-zero.
 * http://supervisord.org/configuration.html
 */
export const SUPERVISOR_LOADER = [
  "import sys, json, pwd, shlex",
  "from supervisor.options import ServerOptions",
  "o = ServerOptions(); o.configfile = sys.argv[1]; o.process_config(do_usage=False)",
  "out = []",
  "for g in o.process_group_configs:",
  "    for p in g.process_configs:",
  "        out.append({'name': p.name, 'argv': shlex.split(p.command), 'user': pwd.getpwuid(p.uid).pw_name if p.uid is not None else None,",
  "                    'env': p.environment or {}, 'cwd': p.directory, 'stopasgroup': bool(p.stopasgroup)})",
  "print(json.dumps(out))",
].join("\n");

export interface SupervisorProgram {
  readonly name: string;
  readonly argv: string[];
  readonly user: string | null;
  readonly env: Record<string, string>;
  readonly cwd: string | null;
  readonly stopasgroup: boolean;
}

export const programCommand = (p: SupervisorProgram): ServiceCommand => ({
  argv: p.argv,
  ...(p.user ? { user: p.user } : {}),
  env: p.env,
  ...(p.cwd ? { cwd: p.cwd } : {}),
});

/**
 * The unit systemd loads for `name` on a host: haforge's own unit when one is rendered, else the
 * packaged one (Debian's /lib/systemd/system), with the rendered drop-ins
 * (`<name>.service.d/*.conf`, in name order) appended the way systemd merges them (a later
 * `ExecStart=` after an empty one replaces the packaged command). `rendered(path)` reads a
 * rendered file of that host, or undefined.
 */
export function effectiveUnit(
  name: string,
  rendered: (path: string) => string | undefined,
  dropInNames: readonly string[],
): { readonly text: string; readonly base: string } {
  const own = `/etc/systemd/system/${name}.service`;
  const packaged = `/lib/systemd/system/${name}.service`;
  const ownText = rendered(own);
  const base = ownText !== undefined ? own : packaged;
  const baseText = ownText ?? (existsSync(packaged) ? readFileSync(packaged, "utf8") : undefined);
  if (baseText === undefined) throw new Error(`${name}: no rendered ${own} and no installed ${packaged}`);
  const dropIns = [...dropInNames]
    .filter((f) => f.endsWith(".conf"))
    .sort()
    .map((f) => rendered(`${own}.d/${f}`) ?? "");
  return { text: [baseText, ...dropIns].join("\n"), base };
}

/** effectiveUnit over an in-memory render: the files of `host`. */
export function renderedUnit(files: readonly { host: string; path: string; content: string }[], host: string, name: string) {
  const mine = files.filter((f) => f.host === host);
  const dir = `/etc/systemd/system/${name}.service.d/`;
  return effectiveUnit(
    name,
    (p) => mine.find((f) => f.path === p)?.content,
    mine.filter((f) => f.path.startsWith(dir)).map((f) => f.path.slice(dir.length)),
  );
}

/**
 * The argv systemd runs for ExecStart: `$VAR` / `${VAR}` words expanded from Environment=
 * (overridden by `env`, as an EnvironmentFile= would), split into words, dropped when empty.
 */
export function expandedArgv(c: ServiceCommand, env: Readonly<Record<string, string>> = {}): string[] {
  const all = { ...c.env, ...env };
  return c.argv.flatMap((a) => {
    const m = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(a);
    return m ? (all[m[1]!] ?? "").split(/\s+/).filter((w) => w !== "") : [a];
  });
}
