/**
 * Child process: runs a Pulumi program once, the way the language host does (module loaded with
 * cwd = the project directory), with every RegisterResource answered by the engine stand-in
 * (engine.ts) instead of the SDK's mock monitor. The SDK's mock runtime is only used for its
 * plumbing (monitor and engine objects, config, dry-run flag); registrations never reach
 * `newResource`. Usage: node --import tsx program-host.ts JOB.json (see index.ts, runProgram).
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { aliasesFromProto, Deployment, type AliasSpec, type Diagnostic, type RunResult } from "./engine";
import { ProviderProcess } from "./provider-process";
import { lockStack, StackLockedError } from "./stack-lock";

export interface ProgramJob {
  readonly cwd: string;
  /** Program module, relative to cwd. */
  readonly program: string;
  readonly stack: string;
  readonly project: string;
  readonly checkpointFile: string;
  readonly resultFile: string;
  readonly preview: boolean;
  readonly config: Record<string, string>;
  readonly secretKeys: string[];
  /** Where the pids of the provider processes it starts are appended, one a line. */
  readonly pidFile?: string;
}

export interface ProgramResult extends RunResult {
  readonly outputs: Record<string, { value: unknown; secret: boolean }>;
  /** What each registration looked like, by URN (the SDK's raw inputs, secrets wrapped). */
  readonly registrations: { urn: string; type: string; parent: string; aliases: AliasSpec[]; inputs: Record<string, unknown> }[];
}

async function main(): Promise<void> {
  const job = JSON.parse(fs.readFileSync(process.argv[2]!, "utf8")) as ProgramJob;
  const log = (l: string) => process.stderr.write(`[engine] ${l}\n`);
  // The SDK as the program resolves it (from the project directory).
  const req = createRequire(join(job.cwd, "package.json"));
  const pulumi = req("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
  const pdir = resolve(req.resolve("@pulumi/pulumi/package.json"), "..");
  const preq = createRequire(join(pdir, "package.json"));
  const mocks = preq("./runtime/mocks");
  const state = preq("./runtime/state");
  const settings = preq("./runtime/settings");
  const resproto = preq("./proto/resource_pb");
  const gstruct = preq("google-protobuf/google/protobuf/struct_pb");

  // `pulumi up` locks the stack before it runs the program (diy backend.go Update); preview does not.
  let unlock: (() => void) | undefined;
  if (!job.preview) {
    try {
      unlock = lockStack(job);
    } catch (e) {
      if (!(e instanceof StackLockedError)) throw e;
      const refused: ProgramResult = {
        ok: false,
        errors: [e.message],
        steps: [],
        rpcs: {},
        wallMs: 0,
        diagnostics: [],
        outputs: {},
        registrations: [],
      };
      fs.writeFileSync(job.resultFile, JSON.stringify(refused));
      process.exit(0);
    }
  }
  process.on("exit", () => unlock?.());
  const deployment = new Deployment({
    stack: job.stack,
    project: job.project,
    checkpointFile: job.checkpointFile,
    preview: job.preview,
    provider: () =>
      ProviderProcess.start({
        cwd: job.cwd,
        env: process.env,
        onStderr: (t) => process.stderr.write(`[provider] ${t}`),
        ...(job.pidFile ? { onSpawn: (pid: number) => fs.appendFileSync(job.pidFile!, `${pid}\n`) } : {}),
      }),
    log,
  });
  const registrations: ProgramResult["registrations"] = [];
  // The program's log messages: under the real engine they go to its Log service (shown by the
  // CLI, warnings and errors always); the SDK's mocks have no engine, so they are taken here.
  const programDiagnostics: Diagnostic[] = [];
  for (const severity of ["debug", "info", "warning", "error"] as const) {
    const fn = severity === "warning" ? "warn" : severity;
    (pulumi.log as Record<string, unknown>)[fn] = (message: string) => {
      programDiagnostics.push({ from: "program", severity, message });
      return Promise.resolve();
    };
  }

  mocks.MockMonitor.prototype.registerResource = async function (
    this: { resources: Map<string, unknown> },
    r: any,
    cb: (e: unknown, resp?: unknown) => void,
  ) {
    const inputs = (r.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
    const aliases = aliasesFromProto(r.getAliasesList());
    try {
      const out = await deployment.register({
        type: r.getType(),
        name: r.getName(),
        parent: r.getParent(),
        custom: r.getCustom(),
        inputs,
        dependencies: r.getDependenciesList(),
        aliases,
        additionalSecretOutputs: r.getAdditionalsecretoutputsList(),
        deleteBeforeReplace: r.getDeletebeforereplace(),
      });
      registrations.push({ urn: out.urn, type: r.getType(), parent: r.getParent(), aliases, inputs });
      // The mock monitor's registerResourceOutputs looks the resource up here.
      this.resources.set(out.urn, { urn: out.urn, id: out.id || null, state: out.outputs });
      const resp = new resproto.RegisterResourceResponse();
      resp.setUrn(out.urn);
      resp.setId(out.id);
      resp.setObject(gstruct.Struct.fromJavaScript(out.outputs));
      cb(null, resp);
    } catch (e) {
      cb(e);
    }
  };

  await pulumi.runtime.setMocks(
    {
      newResource: () => {
        throw new Error("unreachable: registrations go to the stand-in");
      },
      call: (a) => a.inputs,
    },
    job.project,
    job.stack,
    job.preview,
  );
  // Like the real engine, the stand-in takes alias specs and expands them itself (aliasUrns).
  state.getStore().supportsAliasSpecs = true;
  pulumi.runtime.setAllConfig(job.config, job.secretKeys);

  // The program's errors. Like the language host (@pulumi/pulumi cmd/run/run.js), an error thrown
  // from the event loop (a later chunk of the declaration, components/declaration.ts) or a
  // rejection nobody handles fails the program instead of ending the process, and one error is
  // reported once however many promises carry it.
  const programErrors: string[] = [];
  const reported = new WeakSet<object>();
  const uncaught = (e: unknown) => {
    if (typeof e === "object" && e !== null) {
      if (reported.has(e)) return;
      reported.add(e);
    }
    programErrors.push(String((e as Error)?.message ?? e));
  };
  process.on("uncaughtException", uncaught);
  process.on("unhandledRejection", uncaught);
  const outputs: ProgramResult["outputs"] = {};
  const prevCwd = process.cwd();
  process.chdir(job.cwd);
  try {
    const program = req(resolve(job.cwd, job.program)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(program)) {
      if (!pulumi.Output.isInstance(v)) continue;
      const o = v as any;
      try {
        outputs[k] = { value: await o.promise(), secret: await o.isSecret };
      } catch (e) {
        programErrors.push(String((e as Error)?.message ?? e));
      }
    }
  } catch (e) {
    programErrors.push(String((e as Error)?.message ?? e));
  } finally {
    process.chdir(prevCwd);
  }
  // All registrations done: the RPC queue drains (a failed step leaves its dependents waiting
  // forever, so also stop when nothing moved for 3 s).
  let drained = false;
  void settings.waitForRPCs().then(
    () => (drained = true),
    (e: unknown) => {
      programErrors.push(String((e as Error)?.message ?? e));
      drained = true;
    },
  );
  for (let quiet = 0, seen = -1; !drained || deployment.inFlight > 0;) {
    await new Promise((r) => setTimeout(r, 100));
    const idle = deployment.inFlight === 0 && deployment.registered === seen;
    seen = deployment.registered;
    quiet = idle ? quiet + 1 : 0;
    if (quiet >= 30) break;
  }
  // An error the outputs also carry (a failed declaration rejects them) is one error.
  const errs = [...new Set(programErrors)].filter((m) => !deployment.errors.some((e) => e.includes(m) || m.includes(e)));
  const result = await deployment.finish(errs.length ? errs.join("\n") : undefined);
  const full: ProgramResult = { ...result, diagnostics: [...programDiagnostics, ...result.diagnostics], outputs, registrations };
  fs.writeFileSync(job.resultFile, JSON.stringify(full));
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`program host crashed: ${String(e?.stack ?? e)}\n`);
  process.exit(2);
});
