/**
 * How a host starts a rendered service, read from the rendered service definition itself (the
 * systemd unit or the supervisor program), so the example tests start each daemon exactly as
 * the host's init would: same command line, user, environment and working directory.
 */

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
