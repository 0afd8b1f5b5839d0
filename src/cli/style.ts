/**
 * Colour on a terminal, and only there: stdout must be a TTY, `NO_COLOR` unset or empty
 * (https://no-color.org), and no `--no-color`. picocolors does the escapes; the decision is ours
 * (its own detection reads process state the in-process tests cannot set).
 */
import pc from "picocolors";
import type { Severity } from "../core/findings";
import type { CliIo } from "./io";

export interface Style {
  readonly enabled: boolean;
  readonly red: (s: string) => string;
  readonly green: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly cyan: (s: string) => string;
  readonly bold: (s: string) => string;
  readonly dim: (s: string) => string;
}

export const colourEnabled = (io: Pick<CliIo, "isTTY">, env: NodeJS.ProcessEnv, flag: boolean | undefined): boolean =>
  io.isTTY === true && !env["NO_COLOR"] && flag !== false;

export function makeStyle(enabled: boolean): Style {
  const c = pc.createColors(enabled);
  return { enabled, red: c.red, green: c.green, yellow: c.yellow, cyan: c.cyan, bold: c.bold, dim: c.dim };
}

export const PLAIN: Style = makeStyle(false);

/** `--color`/`--no-color` as commander gives it (`color: false` after `--no-color`). */
export const styleFor = (io: Pick<CliIo, "isTTY">, env: NodeJS.ProcessEnv, opts: { color?: boolean }): Style =>
  makeStyle(colourEnabled(io, env, opts.color));

export const severityText = (s: Severity, style: Style): string =>
  s === "error" ? style.red(style.bold("error")) : style.yellow("warning");

/** A unified diff with its `-`/`+` lines red/green and hunk headers cyan (file headers bold). */
export function colourDiff(diff: string, style: Style): string {
  if (!style.enabled) return diff;
  return diff
    .split("\n")
    .map((l) =>
      l.startsWith("+++") || l.startsWith("---")
        ? style.bold(l)
        : l.startsWith("@@")
          ? style.cyan(l)
          : l.startsWith("+")
            ? style.green(l)
            : l.startsWith("-")
              ? style.red(l)
              : l,
    )
    .join("\n");
}
