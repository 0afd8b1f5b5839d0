/**
 * Child process: runs the Pulumi program (index.ts) once under the SDK's mocks with every
 * resource forwarded to the real providers (engine.ts), then writes the new state and a summary.
 * Usage: tsx tests/e2e/harness/run-program.ts JOB.json
 *   JOB = { stateFile, summaryFile, config: {key: value}, secretKeys: [key], commandTimeoutMs }
 * One process per apply, so the SDK's module state never leaks from one apply to the next.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { getDefaultPool, SshPool } from "../../../src/transport";
import { Engine, readState, writeState, type RunSummary } from "./engine";

const ROOT = join(__dirname, "..", "..", "..");

export interface Job {
  readonly stateFile: string;
  readonly summaryFile: string;
  readonly config: Record<string, string>;
  readonly secretKeys: string[];
  readonly commandTimeoutMs: number;
}

async function main(): Promise<void> {
  const job = JSON.parse(fs.readFileSync(process.argv[2]!, "utf8")) as Job;
  const t0 = Date.now();
  const log = (l: string) => process.stderr.write(`[harness +${((Date.now() - t0) / 1000).toFixed(1)}s] ${l}\n`);
  const commandPool = new SshPool({ maxChannelsPerConnection: 8 });
  const engine = new Engine({
    previous: readState(job.stateFile),
    commandPool,
    filePool: getDefaultPool,
    commandTimeoutMs: job.commandTimeoutMs,
    log,
    checkpoint: (s) => writeState(job.stateFile, s),
  });
  const programErrors: string[] = [];
  // A failed resource rejects the outputs of everything that depends on it; the SDK surfaces
  // those as rejections of the program's promises. They are the apply's failure, not a crash.
  process.on("unhandledRejection", (e) => programErrors.push(String((e as Error)?.message ?? e)));

  // Dependencies as the SDK sent them (URNs end with `::name`), for delete ordering.
  const mocks = require("@pulumi/pulumi/runtime/mocks") as {
    MockMonitor: { prototype: { registerResource: (req: any, cb: any) => Promise<void> } };
  };
  const original = mocks.MockMonitor.prototype.registerResource;
  mocks.MockMonitor.prototype.registerResource = async function (this: unknown, req: any, cb: any) {
    engine.dependencies.set(
      req.getName(),
      (req.getDependenciesList() as string[]).map((u) => u.slice(u.lastIndexOf("::") + 2)),
    );
    return original.call(this, req, cb);
  };

  await pulumi.runtime.setMocks(
    {
      newResource: (args) => engine.newResource(args.type, args.name, args.inputs as Record<string, unknown>),
      call: (args) => args.inputs,
    },
    "haforge",
    "lab",
    false,
  );
  pulumi.runtime.setAllConfig(job.config, job.secretKeys);

  try {
    const program = require(join(ROOT, "index.ts")) as Record<string, unknown>;
    for (const v of Object.values(program)) {
      if (pulumi.Output.isInstance(v))
        await (v as pulumi.Output<unknown> & { promise(): Promise<unknown> })
          .promise()
          .catch((e: unknown) => programErrors.push(String((e as Error)?.message ?? e)));
    }
  } catch (e) {
    // e.g. the inventory has errors: the program stops before any resource exists.
    programErrors.push(String((e as Error)?.message ?? e));
  }
  // Wait until the SDK has no RPC outstanding and no resource is being worked on (bounded by
  // the parent's timeout): registrations of dependents follow their dependencies' completion.
  // After a failure the RPC queue never drains (the dependents of a failed resource wait for it
  // forever), so "quiet" is also: nothing in flight and no new registration for 3 s.
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  let drained = false;
  void settings.waitForRPCs().then(
    () => (drained = true),
    () => (drained = true),
  );
  for (let quiet = 0, seen = -1; !drained || engine.inFlight > 0;) {
    await new Promise((r) => setTimeout(r, 250));
    const idle = engine.inFlight === 0 && engine.registered === seen;
    seen = engine.registered;
    quiet = idle ? quiet + 1 : 0;
    if (quiet >= 12) break;
  }
  const anyFailed = engine.errors.length > 0 || programErrors.length > 0;
  // Pulumi does not delete removed resources when the update failed before getting there.
  if (!anyFailed) await engine.deleteRemoved();
  else for (const [name, r] of Object.entries(readState(job.stateFile).resources)) if (!(name in engine.next)) engine.next[name] = r;
  writeState(job.stateFile, engine.state());

  const errors = [...engine.errors, ...programErrors.filter((m) => !engine.errors.some((e) => e.includes(m) || m.includes(e)))];
  const pools = [commandPool.stats(), getDefaultPool().stats()];
  const summary: RunSummary = {
    ok: errors.length === 0,
    errors,
    operations: engine.operations,
    writes: engine.writes,
    commandRuns: engine.commandRuns,
    sshConnections: pools.reduce((a, s) => a + s.opened, 0),
    registered: engine.registered,
    wallMs: Date.now() - t0,
  };
  fs.writeFileSync(job.summaryFile, JSON.stringify(summary, null, 1));
  await Promise.all([commandPool.close(), getDefaultPool().close()]);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`harness crashed: ${String(e?.stack ?? e)}\n`);
  process.exit(2);
});
