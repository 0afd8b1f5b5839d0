/**
 * A very small stand-in for the Pulumi engine, for the lab e2e: the program runs under the SDK's
 * mocks (`pulumi.runtime.setMocks`) and every `newResource` really creates the resource:
 *  - RemoteFile (`pulumi-nodejs:dynamic:Resource` with a `path`) → remoteFileProvider's module
 *    functions (check, diff, create, update; delete for resources gone from the program);
 *  - Materials (`pulumi-nodejs:dynamic:Resource` with `specs`) → materialsProvider;
 *  - HostAction (`pulumi-nodejs:dynamic:HostAction`) → hostActionProvider's module functions
 *    (check, diff, create, update; delete with the state's outputs for resources gone from the
 *    program, dependents first), over the harness's own command pool. A non-zero exit fails the
 *    resource.
 * State between runs is a JSON file keyed by resource name (inputs, outputs, dependencies), like
 * a Pulumi checkpoint. The SDK sends a RegisterResource only once its dependsOn resources'
 * registrations returned, so awaiting the real work inside newResource keeps dependency order.
 */
import * as fs from "node:fs";
import type { HostActionInputs, HostActionOutputs } from "../../../src/providers/host-action";
import type { HostConnection, SshPool } from "../../../src/transport";

export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const SIG_KEY = "4dabf18193072939515e22adb298388d";

export type Kind = "file" | "materials" | "guard" | "packages" | "command" | "other";

export interface StateEntry {
  readonly name: string;
  readonly type: string;
  readonly kind: Kind;
  readonly inputs: Record<string, unknown>;
  readonly outputs: Record<string, unknown>;
  /** Names of the resources this one depends on (dependsOn + parent-free input dependencies). */
  readonly dependencies: string[];
}

export interface StateFile {
  readonly resources: Record<string, StateEntry>;
}

/** One thing the harness did to a host (or decided not to), in order. */
export interface Operation {
  readonly name: string;
  readonly kind: Kind;
  readonly op: "create" | "update" | "replace" | "same" | "delete" | "failed";
  /** For files: the host path; for commands: which command ran (create/update/delete). */
  readonly detail?: string;
  readonly host?: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly stdout?: string;
  readonly error?: string;
}

export interface RunSummary {
  readonly ok: boolean;
  readonly errors: string[];
  readonly operations: Operation[];
  /** Files written (content or metadata) on hosts. */
  readonly writes: number;
  /** Remote commands executed (create/update/delete). */
  readonly commandRuns: number;
  /** SSH connections the harness opened (files and commands). */
  readonly sshConnections: number;
  readonly registered: number;
  readonly wallMs: number;
}

/** Secrets arrive as `{ [SIG_KEY]: SECRET_SIG, value }`: state and providers want plain values. */
export function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return unwrapSecrets(o["value"]);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

export function kindOf(type: string, inputs: Record<string, unknown>): Kind {
  if (type === "pulumi-nodejs:dynamic:HostAction") return "command";
  if (type === "pulumi-nodejs:dynamic:Resource" && "path" in inputs && "connection" in inputs) return "file";
  if (type === "pulumi-nodejs:dynamic:Resource" && "specs" in inputs) return "materials";
  if (type === "pulumi-nodejs:dynamic:Resource" && "memberships" in inputs) return "guard";
  if (type === "pulumi-nodejs:dynamic:Resource" && "needs" in inputs && "connection" in inputs) return "packages";
  return "other";
}

/** Inputs compared between runs: everything but the serialized provider closure. */
function comparable(inputs: Record<string, unknown>): Record<string, unknown> {
  const { __provider: _p, ...rest } = inputs;
  return rest;
}

export interface EngineOptions {
  readonly previous: StateFile;
  /** Pool for RemoteFile work is the provider's default pool; commands get their own. */
  readonly commandPool: SshPool;
  readonly filePool: () => SshPool;
  /** Bound on any one remote command. */
  readonly commandTimeoutMs: number;
  readonly log: (line: string) => void;
  /** Called after every resource operation (the runner checkpoints the state). */
  readonly checkpoint?: (s: StateFile) => void;
}

export class Engine {
  readonly next: Record<string, StateEntry> = {};
  readonly operations: Operation[] = [];
  readonly errors: string[] = [];
  readonly dependencies = new Map<string, string[]>();
  writes = 0;
  commandRuns = 0;
  registered = 0;
  inFlight = 0;
  private readonly t0 = Date.now();

  constructor(private readonly o: EngineOptions) {}

  private rel(): number {
    return Date.now() - this.t0;
  }

  /** The mocks' newResource: does the real work, returns the outputs the program sees. */
  async newResource(
    type: string,
    name: string,
    rawInputs: Record<string, unknown>,
  ): Promise<{ id: string; state: Record<string, unknown> }> {
    this.registered++;
    this.inFlight++;
    const inputs = unwrapSecrets(rawInputs) as Record<string, unknown>;
    const kind = kindOf(type, inputs);
    const prev = this.o.previous.resources[name];
    const startMs = this.rel();
    const dependencies = this.dependencies.get(name) ?? [];
    try {
      let outputs: Record<string, unknown>;
      let op: Operation["op"];
      let detail: string | undefined;
      let host: string | undefined;
      let stdout: string | undefined;
      if (kind === "file") {
        ({ outputs, op } = await this.file(inputs, prev));
        detail = String(inputs["path"]);
        host = (inputs["connection"] as HostConnection).host;
      } else if (kind === "materials") {
        ({ outputs, op } = await this.materials(inputs, prev));
      } else if (kind === "guard") {
        ({ outputs, op } = await this.guard(inputs, prev));
      } else if (kind === "packages") {
        ({ outputs, op } = await this.packages(inputs, prev));
        host = String(inputs["host"]);
        detail = ((outputs["installedNow"] as string[] | undefined) ?? []).join(" ") || undefined;
      } else if (kind === "command") {
        ({ outputs, op, detail } = await this.command(name, inputs, prev));
        host = String((inputs["connection"] as Record<string, unknown>)["host"]);
        stdout = typeof outputs["stdout"] === "string" ? outputs["stdout"] : undefined;
      } else {
        outputs = { ...inputs };
        op = prev ? "same" : "create";
      }
      this.next[name] = { name, type, kind, inputs: comparable(inputs), outputs, dependencies };
      this.operations.push({
        name,
        kind,
        op,
        startMs,
        endMs: this.rel(),
        ...(detail ? { detail } : {}),
        ...(host ? { host } : {}),
        ...(stdout !== undefined ? { stdout } : {}),
      });
      if (op !== "same") this.o.log(`${op} ${name}${detail ? ` (${detail})` : ""} ${this.rel() - startMs} ms`);
      // Like the engine's checkpoints: a killed run still leaves what it created in the state.
      this.o.checkpoint?.({ resources: { ...this.o.previous.resources, ...this.next } });
      return { id: String((outputs["__id"] as string | undefined) ?? `${name}-id`), state: outputs };
    } catch (e) {
      const msg = `${name}: ${(e as Error)?.message ?? String(e)}`;
      this.errors.push(msg);
      this.operations.push({ name, kind, op: "failed", startMs, endMs: this.rel(), error: msg });
      this.o.log(`FAILED ${msg}`);
      // A failed update keeps the old state (Pulumi keeps the last good checkpoint entry).
      if (prev) this.next[name] = prev;
      throw e;
    } finally {
      this.inFlight--;
    }
  }

  private async file(
    inputs: Record<string, unknown>,
    prev: StateEntry | undefined,
  ): Promise<{ outputs: Record<string, unknown>; op: Operation["op"] }> {
    const rf = require("../../../src/providers/remote-file") as typeof import("../../../src/providers/remote-file");
    const news = comparable(inputs) as unknown as import("../../../src/providers/remote-file").RemoteFileInputs;
    const checked = await rf.checkRemoteFile(news);
    if (checked.failures?.length) throw new Error(`check: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    if (!prev) {
      const r = await rf.createRemoteFile(checked.inputs);
      this.writes++;
      return { outputs: r.outs as unknown as Record<string, unknown>, op: "create" };
    }
    const olds = prev.outputs as unknown as import("../../../src/providers/remote-file").RemoteFileOutputs;
    const d = await rf.diffRemoteFile(olds, checked.inputs);
    if (d.replaces && d.replaces.length) {
      const r = await rf.createRemoteFile(checked.inputs);
      this.writes++;
      await rf.deleteRemoteFile(olds);
      return { outputs: r.outs as unknown as Record<string, unknown>, op: "replace" };
    }
    if (!d.changes) {
      // Unchanged: the engine keeps the old outputs with the new inputs.
      return { outputs: { ...prev.outputs, ...comparable(inputs), sha256: olds.sha256, size: olds.size }, op: "same" };
    }
    const r = await rf.updateRemoteFile(olds, checked.inputs);
    this.writes++;
    return { outputs: r.outs as unknown as Record<string, unknown>, op: "update" };
  }

  private async materials(
    inputs: Record<string, unknown>,
    prev: StateEntry | undefined,
  ): Promise<{ outputs: Record<string, unknown>; op: Operation["op"] }> {
    const m = require("../../../src/providers/materials") as typeof import("../../../src/providers/materials");
    const news = comparable(inputs) as unknown as import("../../../src/providers/materials").MaterialsInputs;
    if (!prev) {
      const r = await m.materialsProvider.create(news);
      return { outputs: r.outs as unknown as Record<string, unknown>, op: "create" };
    }
    const olds = prev.outputs as unknown as import("../../../src/providers/materials").MaterialsOutputs;
    const d = await m.materialsProvider.diff!("materials", olds, news);
    if (!d.changes) return { outputs: prev.outputs, op: "same" };
    const r = await m.materialsProvider.update!("materials", olds, news);
    return { outputs: r.outs as unknown as Record<string, unknown>, op: "update" };
  }

  /** HostPackages: diff reads the host (drift), create/update install what is missing. */
  private async packages(
    inputs: Record<string, unknown>,
    prev: StateEntry | undefined,
  ): Promise<{ outputs: Record<string, unknown>; op: Operation["op"] }> {
    const hp = require("../../../src/providers/host-packages") as typeof import("../../../src/providers/host-packages");
    const news = comparable(inputs) as unknown as import("../../../src/providers/host-packages").HostPackagesInputs;
    if (!prev)
      return { outputs: (await hp.applyHostPackages(news, this.o.filePool())) as unknown as Record<string, unknown>, op: "create" };
    const d = await hp.diffHostPackages(
      prev.outputs as unknown as import("../../../src/providers/host-packages").HostPackagesOutputs,
      news,
      this.o.filePool(),
    );
    if (!d.changes) return { outputs: { ...prev.outputs, ...comparable(inputs) }, op: "same" };
    return { outputs: (await hp.applyHostPackages(news, this.o.filePool())) as unknown as Record<string, unknown>, op: "update" };
  }

  /** MembershipGuard: like the engine, Check with the inputs in state (olds) before anything else. */
  private async guard(
    inputs: Record<string, unknown>,
    prev: StateEntry | undefined,
  ): Promise<{ outputs: Record<string, unknown>; op: Operation["op"] }> {
    const g = require("../../../src/providers/membership-guard") as typeof import("../../../src/providers/membership-guard");
    const news = comparable(inputs) as unknown as import("../../../src/providers/membership-guard").MembershipGuardInputs;
    const olds = (prev?.inputs ?? {}) as Partial<import("../../../src/providers/membership-guard").MembershipGuardInputs>;
    const checked = await g.membershipGuardProvider.check!(olds as never, news);
    if (checked.failures?.length) throw new Error(`check: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    if (!prev) return { outputs: (await g.membershipGuardProvider.create(news)).outs as unknown as Record<string, unknown>, op: "create" };
    const d = await g.membershipGuardProvider.diff!("membership", olds as never, news);
    if (!d.changes) return { outputs: prev.outputs, op: "same" };
    return {
      outputs: (await g.membershipGuardProvider.update!("membership", olds as never, news)).outs as unknown as Record<string, unknown>,
      op: "update",
    };
  }

  private hostAction(): typeof import("../../../src/providers/host-action") {
    return require("../../../src/providers/host-action") as typeof import("../../../src/providers/host-action");
  }

  private async command(
    name: string,
    inputs: Record<string, unknown>,
    prev: StateEntry | undefined,
  ): Promise<{ outputs: Record<string, unknown>; op: Operation["op"]; detail?: string }> {
    const ha = this.hostAction();
    const news = comparable(inputs) as unknown as HostActionInputs;
    const checked = await ha.checkHostAction(news);
    if (checked.failures?.length) throw new Error(`check: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    const pool = { pool: this.o.commandPool };
    if (!prev) {
      if (news.create.trim()) this.commandRuns++;
      const r = await ha.createHostAction(news, pool);
      return { outputs: r.outs as unknown as Record<string, unknown>, op: "create", detail: "create" };
    }
    const olds = prev.outputs as unknown as HostActionOutputs;
    const d = await ha.diffHostAction(olds, news);
    if (!d.changes) return { outputs: { ...prev.outputs }, op: "same" };
    if (d.plan?.runs === "create") this.commandRuns++;
    const r = await ha.updateHostAction(olds, news, pool);
    return { outputs: r.outs as unknown as Record<string, unknown>, op: "update", detail: d.plan?.runs === "create" ? "create" : "no-op" };
  }

  /** Resources of the previous state the program no longer declares: delete, dependents first. */
  async deleteRemoved(): Promise<void> {
    const gone = Object.values(this.o.previous.resources).filter((r) => !(r.name in this.next));
    const remaining = new Map(gone.map((r) => [r.name, r]));
    for (let guard = 0; remaining.size && guard < 10_000; guard++) {
      // A resource can go once nothing still remaining depends on it.
      const ready = [...remaining.values()].filter((r) => ![...remaining.values()].some((o) => o.dependencies.includes(r.name)));
      const batch = ready.length ? ready : [remaining.values().next().value!];
      for (const r of batch) {
        remaining.delete(r.name);
        const startMs = this.rel();
        try {
          if (r.kind === "file") {
            const rf = require("../../../src/providers/remote-file") as typeof import("../../../src/providers/remote-file");
            await rf.deleteRemoteFile(
              r.outputs as unknown as import("../../../src/providers/remote-file").RemoteFileOutputs,
              this.o.filePool(),
            );
            this.writes++;
          } else if (r.kind === "command") {
            // Like the engine: delete with the outputs stored in state.
            if (
              (await this.hostAction().deleteHostAction(r.outputs as unknown as HostActionOutputs, { pool: this.o.commandPool })) === "ran"
            )
              this.commandRuns++;
          }
          this.operations.push({ name: r.name, kind: r.kind, op: "delete", startMs, endMs: this.rel() });
          this.o.log(`delete ${r.name}`);
        } catch (e) {
          const msg = `${r.name}: delete: ${(e as Error).message}`;
          this.errors.push(msg);
          this.operations.push({ name: r.name, kind: r.kind, op: "failed", startMs, endMs: this.rel(), error: msg });
          this.next[r.name] = r; // still exists
        }
      }
    }
  }

  /** The checkpoint to write: every resource that exists now. */
  state(): StateFile {
    return { resources: this.next };
  }
}

export function readState(file: string): StateFile {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as StateFile;
  } catch {
    return { resources: {} };
  }
}

export function writeState(file: string, s: StateFile): void {
  // It holds secrets (cookies, keys): owner-only, replaced atomically.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 1), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}
