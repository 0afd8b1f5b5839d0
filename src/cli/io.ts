/** Where CLI commands print: injectable so tests can run the CLI in-process. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (colour only then). @default false */
  readonly isTTY?: boolean;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : t + "\n"),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : t + "\n"),
  get isTTY() {
    return process.stdout.isTTY === true;
  },
};

/** Exit codes (the CLI contract): 0 ok, 1 inventory errors, 2 unusable arguments / unreadable file. */
export const EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

/** Thrown by handlers for usage problems; main maps it to exit 2 with the message. */
export class UsageError extends Error {}
