/**
 * `haforge secrets INVENTORY`: the `pulumi config set --secret` lines the inventory needs (one per
 * `secret: NAME` reference; the value is prompted for by Pulumi, so it never lands in a shell
 * history), and the environment variables its `env:` references read.
 */
import { readFileSync } from "node:fs";
import { UnreadableInventory } from "../pipeline/analyze";
import { hasErrors } from "../core/findings";
import { detectFormat, parseInventoryText } from "../inventory/load";
import { sourceLocator } from "../inventory/locate";
import { collectSecretRefs } from "../render/output";
import { findingsJson, formatFindings } from "./format";
import { EXIT, type CliIo } from "./io";
import { styleFor } from "./style";

export interface StackSecret {
  /** The name in the inventory (`rabbitmqPassword`, or `ns:key`). */
  readonly name: string;
  /** The Pulumi config key: `haforge:NAME`, or NAME itself when it is written `ns:key`. */
  readonly configKey: string;
  readonly command: string;
}

/** The config key the Pulumi program reads a `secret:` reference from (components/stack-config.ts). */
export const secretConfigKey = (name: string): string => (name.includes(":") ? name : `haforge:${name}`);

const SET_SECRET = "pulumi config set --secret ";

export function stackSecretsOf(
  text: string,
  filename: string,
  stack?: string,
): { secrets: StackSecret[]; env: string[]; findings: ReturnType<typeof parseInventoryText>["findings"] } {
  const loaded = parseInventoryText(text, filename);
  const refs = loaded.inventory ? collectSecretRefs(loaded.inventory) : [];
  const secrets = refs.flatMap((r) =>
    "secret" in r
      ? [
          {
            name: r.secret,
            configKey: secretConfigKey(r.secret),
            command: `${SET_SECRET}${secretConfigKey(r.secret)}${stack ? ` --stack ${stack}` : ""}`,
          },
        ]
      : [],
  );
  const env = refs.flatMap((r) => ("env" in r ? [r.env] : []));
  return { secrets, env, findings: loaded.findings };
}

export function secretsCommand(
  file: string,
  opts: { json?: boolean; stack?: string; quiet?: boolean; color?: boolean },
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const style = styleFor(io, env, opts);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UnreadableInventory(`cannot read inventory ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { secrets, env: envVars, findings } = stackSecretsOf(text, file, opts.stack);
  if (hasErrors(findings)) {
    const src = { file, locate: sourceLocator(text, detectFormat(text, file)) };
    if (opts.json) io.out(JSON.stringify({ valid: false, findings: findingsJson(findings, src) }, null, 2));
    else io.err(formatFindings(findings, src, style));
    return EXIT.invalid;
  }
  if (opts.json) {
    io.out(JSON.stringify({ secrets, env: envVars }, null, 2));
    return EXIT.ok;
  }
  // On a terminal: the config key bold, comment lines dim (the text is the same without colour).
  const lines = secrets.map((s) => `${SET_SECRET}${style.bold(s.configKey)}${s.command.slice(SET_SECRET.length + s.configKey.length)}`);
  // -q: the commands only (ready to paste or pipe), no comment lines.
  if (!opts.quiet) {
    for (const v of envVars) lines.push(style.dim(`# and in the environment of \`pulumi up\`: export ${v}=...`));
    if (lines.length === 0) lines.push(style.dim("# this inventory references no secrets"));
  }
  if (lines.length === 0) return EXIT.ok;
  io.out(lines.join("\n"));
  return EXIT.ok;
}
