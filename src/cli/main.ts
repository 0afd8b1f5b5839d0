/**
 * The haforge command. Options resolve flag → inventory → constant; handlers call the core and
 * print what it returns. Exit codes: 0 ok, 1 inventory errors, 2 unusable arguments or an
 * unreadable/unparseable file (a clear message, never a stack trace); bin/haforge.js turns an
 * exception escaping here (a bug) into exit 3 (README, "CLI").
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { UnreadableInventory } from "../pipeline/analyze";
import type { DiffOptions } from "./diff";
import { EXIT, UsageError, processIo, type CliIo } from "./io";
import type { PlanOptions } from "./plan";
import type { RenderOptions } from "./render";
import type { ValidateOptions } from "./validate";

// Each command's module is loaded when the command runs: `haforge validate` does not pay for
// the SSH client, the diff library or the renderers (the cold start is measured by
// bench/cli-start.ts).
const commands = {
  validate: () => require("./validate") as typeof import("./validate"),
  plan: () => require("./plan") as typeof import("./plan"),
  render: () => require("./render") as typeof import("./render"),
  diff: () => require("./diff") as typeof import("./diff"),
  secrets: () => require("./secrets") as typeof import("./secrets"),
};

/** The version in package.json (read at run time: no build step). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** Records a command's exit code (its action returns it). */
type Done = (code: number) => void;

// Every command: --json, -q/--quiet, --no-color (README, "CLI").
const common = (c: Command, json: string, quiet: string): Command =>
  c.option("--json", json).option("-q, --quiet", quiet).option("--no-color", "no colour (also: NO_COLOR set, or stdout not a terminal)");
const limitOption = (c: Command, what: string): Command =>
  c.option(
    "--limit <pattern>",
    `${what}: host names, globs (tower*), groups (roles, instance groups, Pacemaker clusters, VIPs), !pattern to leave out; comma separated, repeatable`,
    (v: string, prev: string[] = []) => [...prev, v],
  );

function addValidateAndPlan(program: Command, io: CliIo, env: NodeJS.ProcessEnv, done: Done): void {
  common(program.command("validate"), "machine-readable findings (with file, line, col)", "errors only: no header, warnings or summary")
    .argument("<inventory>", "Tower INI or haforge YAML inventory")
    .option("--previous <inventory>", "the inventory as last applied: refuse membership changes that would lose quorum")
    .option("--rev <rev>", "like --previous, with the inventory as committed at this git revision")
    .option("--allow-unsafe-membership", "report unsafe membership changes as warnings (members already lost for good)")
    .description("check an inventory; exit 0 without errors (warnings allowed), 1 with errors")
    .action((file: string, o: ValidateOptions) => {
      done(commands.validate().validateCommand(file, o, io, env));
    });
  limitOption(common(program.command("plan"), "machine-readable plan", "the topology without warnings"), "only these hosts")
    .argument("<inventory>")
    .description("show the computed topology: roles, instance groups, RabbitMQ nodes, quorum, rolling order")
    .action((file: string, o: PlanOptions) => {
      done(commands.plan().planCommand(file, o, io, env));
    });
}

function addRender(program: Command, io: CliIo, env: NodeJS.ProcessEnv, done: Done): void {
  limitOption(
    common(
      program.command("render"),
      "a summary of what was written (counts per host, findings) on stdout",
      "nothing but errors: no progress, notes or warnings",
    ),
    "only these hosts' files and actions",
  )
    .argument("<inventory>")
    .requiredOption("--out <dir>", "write DIR/<host>/<path> and DIR/manifest.json")
    .option("--reveal-secrets", "write secret values instead of masked placeholders")
    .option("--secrets <file>", "YAML/JSON map of secret name → value for `secret:` references (else HAFORGE_SECRET_<name>)")
    .option(
      "--materials <file>",
      "generated keys kept between runs (default .haforge/<inventory file>.materials.json beside the inventory; pass the same FILE to share keys on purpose)",
    )
    .option("--force", "write into a non-empty DIR that is not a previous render (nothing in it is removed)")
    .description("render every host's files, services and cluster actions")
    .action((file: string, o: RenderOptions) => {
      done(commands.render().renderCommand(file, o, io, env));
    });
}

function addSecrets(program: Command, io: CliIo, env: NodeJS.ProcessEnv, done: Done): void {
  common(program.command("secrets"), "machine-readable list", "the commands only, no comment lines")
    .argument("<inventory>")
    .option("--stack <name>", "add --stack NAME to every line")
    .description("print the `pulumi config set --secret` lines the inventory needs (Pulumi prompts for each value)")
    .action((file: string, o: { json?: boolean; stack?: string; quiet?: boolean; color?: boolean }) => {
      done(commands.secrets().secretsCommand(file, o, io, env));
    });
}

function addDiff(program: Command, io: CliIo, env: NodeJS.ProcessEnv, done: Done): void {
  limitOption(
    common(
      program.command("diff"),
      "per host: files (change, unified diff, masked), actions that would run, unreachable hosts",
      "one line per changed file and action (no diffs, no progress); exit codes unchanged",
    ),
    "only these hosts",
  )
    .argument("<old>", "old render tree, or the inventory with --rev or --live")
    .argument("[new]", "new render tree")
    .option("--rev <rev>", "diff the inventory's render at this git revision against the working copy")
    .option("--secrets <file>", "with --rev or --live: secret values, as for render")
    .option("--materials <file>", "with --rev or --live: generated keys, as for render")
    .option("--exit-code", "exit 1 when something differs")
    .option("--live", "diff the inventory's render against the files on the hosts (read-only, over SSH)")
    .option("--host <name>", "same as --limit NAME (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--concurrency <n>", "with --live: hosts read at once (default 8)")
    .option("--timeout <duration>", "with --live: a host that has not answered within this (30s, 2m, 500ms) is unreachable")
    .description(
      "unified diffs per host and file, and the actions a change would run, between two renders or against " +
        "the live hosts (--live: each host printed on stderr as it answers; exit 2 if a host cannot be read)",
    )
    .action(async (a: string, b: string | undefined, o: DiffOptions) => {
      done(await commands.diff().diffCommand(a, b, o, io, env));
    });
}

export async function main(argv: readonly string[], io: CliIo = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command()
    .name("haforge")
    .description("Declarative HA cluster provisioner: validate, plan, render and diff inventories (Tower INI or haforge YAML)")
    .version(packageVersion(), "-V, --version", "print the haforge version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError(false);

  const done: Done = (c) => {
    code = c;
  };
  addValidateAndPlan(program, io, env, done);
  addRender(program, io, env, done);
  addSecrets(program, io, env, done);
  addDiff(program, io, env, done);

  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT.ok;
      if (e.code === "commander.executeSubCommandAsync") return EXIT.usage;
      return EXIT.usage;
    }
    if (e instanceof UsageError || e instanceof UnreadableInventory) {
      io.err(`haforge: ${e.message}`);
      // A script reading --json output gets JSON whatever happened (the exit code says what).
      if (argv.includes("--json")) io.out(JSON.stringify({ error: e.message }, null, 2));
      return EXIT.usage;
    }
    throw e;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((c) => (process.exitCode = c));
}
