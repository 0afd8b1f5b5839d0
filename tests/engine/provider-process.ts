/**
 * The SDK's own dynamic-provider host (`@pulumi/pulumi/cmd/dynamic-provider`) as a separate
 * process, driven over gRPC with the SDK's generated ResourceProvider client (proto from
 * `@pulumi/pulumi/proto`), the way the engine drives `pulumi-resource-pulumi-nodejs`.
 *
 * How the real engine starts it: the plugin `pulumi-resource-pulumi-nodejs` is a shell script
 * (pulumi/pulumi sdk/nodejs/dist/pulumi-resource-pulumi-nodejs) that runs
 * `node $(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") ENGINE`
 * with the plugin context's working directory, i.e. the project directory (that `require.resolve`
 * from the cwd only works there). So: plain `node` (no TypeScript loader), cwd = project dir,
 * the operator's environment (HOME, SSH_AUTH_SOCK). The process prints its port on stdout.
 *
 * Values cross as google.protobuf.Struct. Like the engine talking to a provider that answered
 * Configure with `acceptSecrets: false` (the dynamic provider does), secrets are sent unwrapped;
 * the caller re-marks secret outputs (see engine.ts). Unknowns are the SDK's sentinel string.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";

export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type DiffChanges = "none" | "some" | "unknown";

export interface DiffResponse {
  readonly changes: DiffChanges;
  readonly replaces: string[];
  readonly deleteBeforeReplace: boolean;
}

export interface ProviderProcessOptions {
  /** The project directory: the process's cwd, where `@pulumi/pulumi` is resolved from. */
  readonly cwd: string;
  /** The operator's environment. @default process.env without a TypeScript loader in NODE_OPTIONS */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the provider's stderr goes (the engine shows it as diagnostics). @default collected only */
  readonly onStderr?: (text: string) => void;
  /** Told the process's pid as soon as it is spawned (so a test can kill it, as a crash would). */
  readonly onSpawn?: (pid: number) => void;
}

type Obj = Record<string, unknown>;

/** One running dynamic-provider process and a gRPC client to it. */
export class ProviderProcess {
  /** Everything the provider printed on stderr (console.error of the provider code). */
  stderr = "";
  /** RPCs made, by method name. */
  readonly calls: Record<string, number> = {};

  private constructor(
    private readonly child: ChildProcess,
    private readonly client: any,
    private readonly proto: any,
    private readonly struct: any,
  ) {}

  static async start(o: ProviderProcessOptions): Promise<ProviderProcess> {
    // Resolved from the project dir, like the plugin script does.
    const req = createRequire(join(o.cwd, "package.json"));
    const script = req.resolve("@pulumi/pulumi/cmd/dynamic-provider");
    const grpc = req("@grpc/grpc-js");
    const services = req("@pulumi/pulumi/proto/provider_grpc_pb");
    const proto = req("@pulumi/pulumi/proto/provider_pb");
    const struct = req("google-protobuf/google/protobuf/struct_pb");
    const env = { ...(o.env ?? process.env) };
    // The plugin runs under plain node: no loader inherited from a test runner.
    delete env["NODE_OPTIONS"];
    const child = spawn(process.execPath, [script, "127.0.0.1:1"], { cwd: o.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      o.onStderr?.(d.toString());
    });
    // Loading the SDK in a fresh process takes seconds, minutes on a machine at load 25: the
    // engine waits for the plugin too. A process that never printed its port is stopped here.
    const startMs = Number(process.env["HAFORGE_PROVIDER_START_S"] ?? 180) * 1000;
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      const onData = (d: Buffer) => {
        out += d.toString();
        const m = /^(\d+)\s*$/m.exec(out);
        if (m) {
          child.stdout.off("data", onData);
          child.stdout.on("data", () => {});
          resolve(Number(m[1]));
        }
      };
      child.stdout.on("data", onData);
      child.once("exit", (code) => reject(new Error(`dynamic-provider exited ${code} before printing its port: ${stderr.slice(-2000)}`)));
      setTimeout(
        () => reject(new Error(`dynamic-provider did not print its port in ${startMs / 1000} s: ${stderr.slice(-2000)}`)),
        startMs,
      ).unref();
    }).catch((e: unknown) => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      throw e;
    });
    const client = new services.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const p = new ProviderProcess(child, client, proto, struct);
    child.stderr.on("data", (d: Buffer) => (p.stderr += d.toString()));
    p.stderr = stderr;
    await p.configure();
    return p;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private rpc<T>(method: string, req: unknown): Promise<T> {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    return new Promise<T>((resolve, reject) => {
      this.client[method](req, (err: (Error & { details?: string }) | null, resp: T) => {
        if (err) reject(new Error(err.details || err.message));
        else resolve(resp);
      });
    });
  }

  private s(v: Obj): unknown {
    return this.struct.Struct.fromJavaScript(JSON.parse(JSON.stringify(v)));
  }

  /** The engine configures every provider before use (the dynamic provider keeps the config). */
  async configure(args: Obj = {}): Promise<void> {
    const r = new this.proto.ConfigureRequest();
    r.setArgs(this.s(args));
    r.setAcceptsecrets(true);
    r.setAcceptresources(true);
    await this.rpc("configure", r);
  }

  async check(urn: string, olds: Obj, news: Obj): Promise<{ inputs: Obj; failures: { property: string; reason: string }[] }> {
    const r = new this.proto.CheckRequest();
    r.setUrn(urn);
    r.setOlds(this.s(olds));
    r.setNews(this.s(news));
    const resp = await this.rpc<any>("check", r);
    return {
      inputs: resp.getInputs()?.toJavaScript() ?? {},
      failures: resp.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  /** `olds` are the state's outputs, `oldInputs` its inputs (what the engine sends). */
  async diff(urn: string, id: string, olds: Obj, news: Obj, oldInputs: Obj): Promise<DiffResponse> {
    const r = new this.proto.DiffRequest();
    r.setUrn(urn);
    r.setId(id);
    r.setOlds(this.s(olds));
    r.setNews(this.s(news));
    r.setOldInputs(this.s(oldInputs));
    const resp = await this.rpc<any>("diff", r);
    const C = this.proto.DiffResponse.DiffChanges;
    const c = resp.getChanges();
    return {
      changes: c === C.DIFF_SOME ? "some" : c === C.DIFF_NONE ? "none" : "unknown",
      replaces: resp.getReplacesList(),
      deleteBeforeReplace: resp.getDeletebeforereplace(),
    };
  }

  async create(urn: string, props: Obj): Promise<{ id: string; properties: Obj }> {
    const r = new this.proto.CreateRequest();
    r.setUrn(urn);
    r.setProperties(this.s(props));
    const resp = await this.rpc<any>("create", r);
    return { id: resp.getId(), properties: resp.getProperties()?.toJavaScript() ?? {} };
  }

  async update(urn: string, id: string, olds: Obj, news: Obj, oldInputs: Obj): Promise<Obj> {
    const r = new this.proto.UpdateRequest();
    r.setUrn(urn);
    r.setId(id);
    r.setOlds(this.s(olds));
    r.setNews(this.s(news));
    r.setOldInputs(this.s(oldInputs));
    const resp = await this.rpc<any>("update", r);
    return resp.getProperties()?.toJavaScript() ?? {};
  }

  /** Refresh: `props` are the state's outputs (with its `__provider`), `inputs` its inputs. */
  async read(urn: string, id: string, props: Obj, inputs: Obj): Promise<{ id: string; properties: Obj; inputs?: Obj }> {
    const r = new this.proto.ReadRequest();
    r.setUrn(urn);
    r.setId(id);
    r.setProperties(this.s(props));
    r.setInputs(this.s(inputs));
    const resp = await this.rpc<any>("read", r);
    const ins = resp.getInputs()?.toJavaScript();
    return { id: resp.getId(), properties: resp.getProperties()?.toJavaScript() ?? {}, ...(ins ? { inputs: ins } : {}) };
  }

  async delete(urn: string, id: string, props: Obj, oldInputs: Obj): Promise<void> {
    const r = new this.proto.DeleteRequest();
    r.setUrn(urn);
    r.setId(id);
    r.setProperties(this.s(props));
    r.setOldInputs(this.s(oldInputs));
    await this.rpc("delete", r);
  }

  /** Stops the process (by its own pid) and the client. */
  async stop(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(t);
  }
}
