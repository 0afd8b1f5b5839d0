/**
 * One service's resources on its hosts (docs/architecture.md, data flow):
 *  - a RemoteFile per rendered file (live diff, atomic write, validation on the host);
 *  - a restart HostAction per (host, service), re-run only when the files that notify it change
 *    (`rerun: "triggers"`); within a rolling group the restarts form a dependsOn chain in the
 *    plan's order, each waiting for the service's health check before the next host goes, so a
 *    change on every node never takes the cluster below quorum;
 *  - a HostAction per cluster action (provisioning, CIB patch, joins), with `delete` commands for
 *    deprovisioning. The actions that have a `delete` (membership) form one dependsOn chain per
 *    cluster, so `pulumi destroy` (which deletes dependents first and everything else in
 *    parallel) removes members one at a time, in the reverse of the order they were added.
 * Resource names are `${name}-...` and stable: renaming one replaces the resource.
 */
import * as pulumi from "../src/providers/pulumi-sdk";
import type { ClusterAction, FileSpec, ServiceSpec } from "../src/core/desired-state";
import { HostAction, type HostActionArgs } from "../src/providers/host-action";
import { RemoteFile } from "../src/providers/remote-file";
import { Gate } from "../src/providers/gate";
import type { ServiceRender } from "../src/pipeline/render";
import { MASK_SALT_KEY } from "../src/core/masking";
import { shellQuote } from "../src/core/escape";
import type { ClusterContext } from "./cluster-context";
import type { HostAccess } from "./connections";
import type { ActionConnection, ActionCredentials } from "../src/providers/host-action";
import { cheapConstruction } from "./sdk-cost";
import type { Steps } from "./declaration";
import { scheduleActions, scheduleRestarts } from "../src/core/schedule";
import { appliedOnce, deprovisionCommand } from "../src/render/daemon";
import { deployOrder } from "../src/services/registry";

/** A deprovisioning action's create: nothing runs while the host is in the inventory (no SSH). */
export const DEPROVISION_CREATE = "";

export interface ServiceResources {
  readonly files: RemoteFile[];
  /** Restart actions by rolling group id (chain order) or `host:service` for unrolled ones. */
  readonly restarts: Map<string, HostAction[]>;
  readonly actions: HostAction[];
  /**
   * The resources no other resource of the service depends on. Every resource of the service is
   * one of them or something one of them waits for, so a later service that waits for these waits
   * for the whole service, with one dependency per sink instead of one per resource (a Tower
   * cluster's ~7,000 resources each listed every RabbitMQ and database resource).
   */
  readonly sinks: pulumi.Resource[];
}

/** Stable, readable resource-name part for a path. */
export const slug = (s: string): string =>
  s
    .replace(/^\/+/, "")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/-+$/, "");

/**
 * What a restart or action follows of a file: its hash AND how often haforge wrote it. The hash
 * alone stays the same when drift is overwritten with the same desired content (force, or after
 * a refresh), and the daemon would keep running the out-of-band config.
 */
export const fileTrigger = (f: RemoteFile): pulumi.Output<string> => f.facts.apply((x) => `${x?.sha256}#${x?.writes ?? 0}`);

/** The host key a trust-on-first-use host showed when its file was written (not a secret, even from a secret file's facts). */
const hostKeys = new WeakMap<RemoteFile, pulumi.Output<string | undefined>>();
function hostKeySeen(f: RemoteFile | undefined): pulumi.Output<string | undefined> | undefined {
  if (!f) return undefined;
  let key = hostKeys.get(f);
  if (!key) hostKeys.set(f, (key = pulumi.unsecret(f.facts.apply((x) => x?.hostKeySeen))));
  return key;
}

/**
 * Restart, then wait (bounded) for the health check: the gate before the next host restarts.
 * With `follows` (the paths of the files that notify the service), skipped when the service runs
 * and none of them changed since haforge's last restart of it (src/render/daemon.ts appliedOnce).
 */
export function restartWithGate(s: ServiceSpec, timeoutS = 180, follows?: readonly string[]): string {
  const gated = s.health ? `${s.restart} && timeout ${timeoutS} sh -c ${shellQuote(`until ${s.health}; do sleep 1; done`)}` : s.restart;
  return follows ? appliedOnce(s, follows, gated) : gated;
}

/** A restart action's create: skipped when the service already runs the files that notify it. */
const followedRestart = (s: ServiceSpec, notifying: readonly { spec: FileSpec }[]): string =>
  restartWithGate(
    s,
    180,
    notifying.map((f) => f.spec.path),
  );

/** The real render's files and actions by service and key, indexed once per render (one lookup per resource). */
const renderIndexes = new WeakMap<readonly ServiceRender[], { files: Map<string, FileSpec>; actions: Map<string, ClusterAction> }>();
function renderIndex(rendered: readonly ServiceRender[]) {
  let index = renderIndexes.get(rendered);
  if (!index) {
    index = { files: new Map(), actions: new Map() };
    for (const part of rendered) {
      for (const f of part.files) {
        const key = `${part.service}\u0000${f.host}\u0000${f.path}`;
        if (!index.files.has(key)) index.files.set(key, f);
      }
      for (const a of part.actions) {
        const key = `${part.service}\u0000${a.id}`;
        if (!index.actions.has(key)) index.actions.set(key, a);
      }
    }
    renderIndexes.set(rendered, index);
  }
  return index;
}

function findFile(rendered: readonly ServiceRender[], service: string, f: FileSpec): FileSpec {
  const real = renderIndex(rendered).files.get(`${service}\u0000${f.host}\u0000${f.path}`);
  if (!real) throw new Error(`haforge: ${f.host}:${f.path} vanished between the structure and the real render of ${service}`);
  return real;
}

function findAction(rendered: readonly ServiceRender[], service: string, id: string): ClusterAction {
  const a = renderIndex(rendered).actions.get(`${service}\u0000${id}`);
  if (!a) throw new Error(`haforge: action ${id} vanished between the structure and the real render of ${service}`);
  return a;
}

/** The inventory's mask salt as one secret Output per cluster, shared by every file. */
const maskSalts = new WeakMap<ClusterContext, pulumi.Output<string>>();
function maskSaltOf(ctx: ClusterContext): pulumi.Output<string> {
  let salt = maskSalts.get(ctx);
  if (!salt) maskSalts.set(ctx, (salt = pulumi.secret(ctx.materials.values.apply((m) => m?.[MASK_SALT_KEY] ?? ""))));
  return salt;
}

/** A host's action connection when its key is pinned: the same for every action, made once. */
const actionConnections = new WeakMap<HostAccess, pulumi.Output<ActionConnection>>();
function pinnedActionConnection(access: HostAccess): pulumi.Output<ActionConnection> {
  let c = actionConnections.get(access);
  if (!c) actionConnections.set(access, (c = access.action(undefined)));
  return c;
}

const fileKey = (host: string, path: string): string => `${host}\u0000${path}`;

/**
 * The service's files in declaration order, except that a file comes after the files its
 * `FileSpec.after` names (its validate reads them): those become its dependsOn, since the engine
 * writes independent files in parallel. A name the service does not render, or a cycle, is a
 * renderer bug.
 */
export function writeOrder(files: readonly FileSpec[]): FileSpec[] {
  const byKey = new Map(files.map((f) => [fileKey(f.host, f.path), f]));
  const state = new Map<FileSpec, "visiting" | "done">();
  const out: FileSpec[] = [];
  const visit = (f: FileSpec): void => {
    const s = state.get(f);
    if (s === "done") return;
    if (s === "visiting") throw new Error(`haforge: ${f.host}:${f.path}: FileSpec.after forms a cycle`);
    state.set(f, "visiting");
    for (const p of f.after ?? []) {
      const first = byKey.get(fileKey(f.host, p));
      if (!first) throw new Error(`haforge: ${f.host}:${f.path} is written after ${p}, which the service does not render there`);
      visit(first);
    }
    state.set(f, "done");
    out.push(f);
  };
  files.forEach(visit);
  return out;
}

// Deprovisioning: one action per host of the service whose `delete` stops the service's daemons
// there (in reverse start order) when the host leaves the inventory (or on destroy). Nothing
// runs on create (an empty command). It follows the host's restarts, so on removal it runs
// before the host's files are removed, and it joins the membership chain before the service's
// membership actions: deletes run in the reverse of the chain, so on removal the members are
// taken out of the cluster first (forget_cluster_node, etcd member remove), then the removed
// hosts' daemons stop, one host at a time. A service that `stopsBeforeLeaving` (Pacemaker) has
// them the other way round: its deprovisionings join the chain after its membership actions and
// depend on them, so the leaving nodes stop first, one at a time, then leave the cluster.
/** Services whose hosts stop before their members leave (ServiceComponentSpec `stopsBeforeLeaving`). */
export const STOPS_BEFORE_LEAVING: ReadonlySet<string> = new Set(
  deployOrder.filter((s) => s.component?.stopsBeforeLeaving).map((s) => s.name),
);

/**
 * A delete that moves on to other hosts (ClusterAction `deleteElsewhere`): their connections, and
 * the credentials of every host it may run on.
 */
function deleteElsewhereArgs(
  conn: (host: string) => Pick<HostActionArgs, "connection" | "credentials">,
  a: ClusterAction,
): Pick<HostActionArgs, "deleteElsewhere" | "credentials"> {
  const others = a.deleteElsewhere ?? [];
  if (others.length === 0) return {};
  return {
    deleteElsewhere: others.map((h) => conn(h).connection),
    credentials: pulumi
      .all([a.host, ...others].map((h) => conn(h).credentials))
      .apply((list) => (list.some((c) => c) ? (Object.assign({}, ...list.filter((c) => c)) as ActionCredentials) : undefined)),
  };
}

/** A host's deprovisioning action of a service: its name, also listed by the removal-order gate. */
const deprovisionName = (name: string, host: string) => `${name}-deprovision-${host}`;

function* declareDeprovisions(
  name: string,
  parent: pulumi.Resource,
  ctx: ClusterContext,
  part: ServiceRender,
  on: {
    restartsByHost: ReadonlyMap<string, HostAction[]>;
    conn: (host: string) => Pick<HostActionArgs, "connection" | "credentials">;
    dependsOn: readonly pulumi.Resource[];
    waits: (deps: pulumi.Resource[]) => pulumi.Resource[];
  },
): Steps<HostAction[]> {
  const { restartsByHost, conn, dependsOn, waits } = on;
  const deprovisions: HostAction[] = [];
  const servicesByHost = new Map<string, ServiceSpec[]>();
  for (const s of part.services) servicesByHost.set(s.host, [...(servicesByHost.get(s.host) ?? []), s]);
  for (const [host, list] of servicesByHost) {
    const names = list.map((s) => s.name);
    const stop = deprovisionCommand(list);
    deprovisions.push(
      cheapConstruction(
        () =>
          new HostAction(
            deprovisionName(name, host),
            {
              ...conn(host),
              create: DEPROVISION_CREATE,
              delete: stop,
              triggers: [],
              rerun: "change",
              description: `stop ${names.join(", ")} on ${host} when it leaves the inventory`,
            },
            {
              parent,
              dependsOn: waits([
                ...(restartsByHost.get(host) ?? []),
                ...(ctx.membershipChain.last ? [ctx.membershipChain.last] : []),
                ...dependsOn,
              ]),
            },
          ),
      ),
    );
    ctx.membershipChain.last = deprovisions[deprovisions.length - 1];
    yield;
  }
  return deprovisions;
}

/**
 * Files written after some of the service's actions (FileSpec.afterActions): such a file waits for
 * promises of those actions, resolved when they are declared; no action waits for such a file (it
 * would wait for itself). An id the service does not render on the file's host is a renderer bug.
 */
function laterActions(part: ServiceRender): {
  of: (spec: FileSpec) => Promise<HostAction>[];
  declared: (id: string, a: HostAction) => void;
} {
  const slots = new Map<string, { promise: Promise<HostAction>; resolve: (a: HostAction) => void }>();
  const slot = (id: string) => {
    let s = slots.get(id);
    if (!s) {
      let resolve: (a: HostAction) => void = () => undefined;
      const promise = new Promise<HostAction>((r) => (resolve = r));
      slots.set(id, (s = { promise, resolve }));
    }
    return s;
  };
  const of = (spec: FileSpec) =>
    (spec.afterActions ?? []).map((id) => {
      if (!part.actions.some((a) => a.id === id && a.host === spec.host))
        throw new Error(`haforge: ${spec.host}:${spec.path} is written after action ${id}, which ${part.service} does not render there`);
      return slot(id).promise;
    });
  return { of, declared: (id, a) => slot(id).resolve(a) };
}

/**
 * The order of a service's removals: its deprovisionings (the stop) and its membership actions
 * are ordered by one gate per service (`<name>-removal-order`): by default the members wait for
 * the gate and the gate for the deprovisionings (deleted first: they leave, then stop); for a
 * service that stops before leaving, the other way round. Not only through the chain: the engine
 * orders the deletes of an update by the direct dependencies among the resources it deletes
 * (pulumi/pulumi step_generator.go ScheduleDeletes), and the chain may pass through members that
 * stay. The gate lists the deprovisionings (src/providers/gate.ts `members`), so a host that leaves
 * replaces it and the old gate is deleted with the host's resources, between them. Each member listed
 * every deprovisioning directly before: members × hosts links (23,535 at 100 hosts, 254 MB of
 * dependency URNs at 1,000); through the gate, members + hosts.
 */
function* declareRemovals(
  stopFirst: boolean,
  o: {
    deprovisionOn: (after: readonly pulumi.Resource[]) => Steps<HostAction[]>;
    membersOn: (after: readonly pulumi.Resource[]) => Steps<void>;
    /** the service's membership actions (those with a delete), once declared */
    members: () => HostAction[];
    /** the gate that waits for `first`; none when the service has no members or no hosts */
    gate: (first: readonly pulumi.Resource[]) => Gate | undefined;
  },
): Steps<HostAction[]> {
  if (!stopFirst) {
    const deprovisions = yield* o.deprovisionOn([]);
    const gate = o.gate(deprovisions);
    yield* o.membersOn(gate ? [gate] : []);
    return deprovisions;
  }
  yield* o.membersOn([]);
  const gate = o.gate(o.members());
  return yield* o.deprovisionOn(gate ? [gate] : []);
}

/**
 * The removal-order gate of a service (declareRemovals): waits for `first`. It lists the service's
 * deprovisionings: a path member → gate → deprovisioning (or the reverse) orders two deletes only
 * when both are deleted, and then a deprovisioning is, so the gate is replaced and deleted with them.
 */
function removalGate(d: Declaring, stopFirst: boolean, first: readonly pulumi.Resource[]): Gate | undefined {
  const { name, parent, part, waits } = d;
  const hosts = [...new Set(part.services.map((s) => s.host))];
  // the members it orders: every membership action when they go last (it waits for them), the
  // non-bootstrap ones when they go first (they wait for it; bootstrap ones never waited for the stops)
  if (!hosts.length || !part.actions.some((a) => a.delete && (stopFirst || a.phase !== "bootstrap"))) return undefined;
  return new Gate(
    `${name}-removal-order`,
    {
      description: stopFirst
        ? `${part.service}: a leaving host stops before it leaves the cluster`
        : `${part.service}: a leaving host leaves the cluster before it stops`,
      members: hosts.map((h) => deprovisionName(name, h)),
    },
    { parent, dependsOn: waits([...first]) },
  );
}

/** What the declaration of one service's resources shares between its phases (files, actions, restarts). */
interface Declaring {
  readonly name: string;
  readonly parent: pulumi.Resource;
  readonly ctx: ClusterContext;
  readonly part: ServiceRender;
  /** What every resource of the service waits for (the quorum guard, the packages gate, the caller's). */
  readonly dependsOn: readonly pulumi.Resource[];
  /** Records what the service's resources wait for (for `sinks`) and returns it. */
  readonly waits: (deps: pulumi.Resource[]) => pulumi.Resource[];
  readonly later: ReturnType<typeof laterActions>;
  /** The files declared, per host, in write order. */
  readonly byHost: Map<string, { spec: FileSpec; res: RemoteFile }[]>;
  readonly actions: HostAction[];
  readonly actionById: Map<string, HostAction>;
  readonly conn: (host: string) => Pick<HostActionArgs, "connection" | "credentials">;
}

/** A RemoteFile per rendered file, in write order (a file waits for the files it is written after). */
function* declareFiles(d: Omit<Declaring, "conn">): Steps<{ files: RemoteFile[]; firstFile: Map<string, RemoteFile> }> {
  const { name, parent, ctx, part, dependsOn, waits, later, byHost } = d;
  const files: RemoteFile[] = [];
  const firstFile = new Map<string, RemoteFile>();
  const created = new Map<string, RemoteFile>();
  for (const spec of writeOrder(part.files)) {
    const access = ctx.access.get(spec.host);
    if (!access) throw new Error(`haforge: ${part.service} rendered a file for unknown host ${spec.host}`);
    // Only files the renderer classifies as secret stay secret; the others are declassified so
    // `pulumi preview --diff` shows their content changes (their content never carries a secret:
    // the program tests check every secret value against every non-secret input).
    // One apply per file (each Output costs the SDK several tracked promises).
    const text = ctx.renderedFor(part.service, spec).apply((r) => findFile(r, part.service, spec).content);
    const content = spec.secret ? pulumi.secret(text) : pulumi.unsecret(text);
    const fileDeps = waits([...dependsOn, ...(spec.after ?? []).map((p) => created.get(fileKey(spec.host, p))!)]);
    const res = cheapConstruction(
      () =>
        new RemoteFile(
          `${name}-${spec.host}-${slug(spec.path)}`,
          {
            connection: access.file,
            path: spec.path,
            content,
            mode: spec.mode,
            owner: spec.owner,
            group: spec.group,
            secret: spec.secret,
            ...(spec.validate ? { validate: spec.validate, ...(spec.validateAtPreview ? { validateAtPreview: true } : {}) } : {}),
            ...(spec.encoding ? { encoding: spec.encoding } : {}),
            force: ctx.force,
            maskSalt: maskSaltOf(ctx),
            ...(spec.secret && ctx.usesMaterial(part.service, spec) ? { keyFile: true } : {}),
            ...(spec.secret && ctx.usesMaterial(part.service, spec) ? { takeOver: ctx.takeOver(spec.host, spec.path) } : {}),
          },
          { parent, dependsOn: [...fileDeps, ...later.of(spec)] },
        ),
    );
    created.set(fileKey(spec.host, spec.path), res);
    files.push(res);
    if (!firstFile.has(spec.host)) firstFile.set(spec.host, res);
    const list = byHost.get(spec.host) ?? [];
    list.push({ spec, res });
    byHost.set(spec.host, list);
    yield;
  }
  return { files, firstFile };
}

/**
 * A HostAction per cluster action of `subset`, dependencies first (src/core/schedule.ts; cycles
 * were refused by prepareCluster before any resource of a host was declared; they are never broken
 * here). Each waits for its host's files, `after(host)`, and, when it has a delete (membership),
 * for the previous member of the cluster and `membersAfter`.
 */
function* declareActions(
  d: Declaring,
  subset: readonly ClusterAction[],
  after: (host: string) => pulumi.Resource[],
  membersAfter: readonly pulumi.Resource[] = [],
): Steps<void> {
  const { name, parent, ctx, part, dependsOn, waits, later, byHost, actions, actionById, conn } = d;
  for (const a of scheduleActions(subset, `${part.service} actions`).order) {
    const real = ctx.renderedFor(part.service, a).apply((r) => findAction(r, part.service, a.id));
    const text = (f: (x: ClusterAction) => string | undefined) => {
      const o = real.apply((x) => f(x) ?? "");
      return a.secret ? pulumi.secret(o) : pulumi.unsecret(o);
    };
    const hostFiles = (byHost.get(a.host) ?? []).filter((f) => !f.spec.afterActions?.length);
    const triggerFiles = hostFiles.filter((f) => a.triggers.includes(f.spec.path));
    // Membership actions (with a delete) wait for the previous one of the cluster: creates go
    // one at a time, and destroy deletes them one at a time in reverse.
    const previousMember = a.delete ? ctx.membershipChain.last : undefined;
    const cmd = cheapConstruction(
      () =>
        new HostAction(
          `${name}-${slug(a.id)}`,
          {
            ...conn(a.host),
            create: text((x) => x.create),
            ...(a.delete ? { delete: text((x) => x.delete), ...deleteElsewhereArgs(conn, a) } : {}),
            triggers: triggerFiles.map((f) => fileTrigger(f.res)),
            rerun: "change",
            secret: a.secret,
            description: a.description,
          },
          {
            parent,
            dependsOn: waits([
              ...a.dependsOn.map((dep) => actionById.get(dep)).filter((x): x is HostAction => !!x),
              ...hostFiles.map((f) => f.res),
              ...after(a.host),
              ...(previousMember ? [previousMember] : []),
              ...(a.delete ? membersAfter : []),
              ...dependsOn,
            ]),
          },
        ),
    );
    actions.push(cmd);
    actionById.set(a.id, cmd);
    later.declared(a.id, cmd);
    if (a.delete) ctx.membershipChain.last = cmd;
    yield;
  }
}

/** Restarts: rolling groups in the plan's order, one host at a time behind a health gate. */
function* declareRestarts(
  d: Declaring,
  bootstrapOn: (host: string) => HostAction[],
): Steps<{ restarts: Map<string, HostAction[]>; restartsByHost: Map<string, HostAction[]> }> {
  const { name, parent, ctx, part, dependsOn, waits, byHost, conn } = d;
  const restarts = new Map<string, HostAction[]>();
  const restartsByHost = new Map<string, HostAction[]>();
  for (const { key, services: sorted } of scheduleRestarts(part.services, ctx.plan.rollingGroups, (h) => ctx.hosts.get(h)?.order ?? 0)) {
    const chain: HostAction[] = [];
    for (const s of sorted) {
      const notifying = (byHost.get(s.host) ?? []).filter((f) => f.spec.notify.includes(s.name));
      // read at a new member's first start only: waited for, never a trigger
      const seeds = (byHost.get(s.host) ?? []).filter((f) => f.spec.neededAtStart?.includes(s.name) && !f.spec.notify.includes(s.name));
      const prev = chain[chain.length - 1];
      const cmd = cheapConstruction(
        () =>
          new HostAction(
            `${name}-restart-${s.name}-${s.host}`,
            {
              ...conn(s.host),
              create: followedRestart(s, notifying),
              triggers: notifying.map((f) => fileTrigger(f.res)),
              // A restart re-runs only when a file it follows changed: never because the command,
              // the connection or the operator changed.
              rerun: "triggers",
              description: `restart ${s.name}`,
            },
            {
              parent,
              dependsOn: waits([
                ...notifying.map((f) => f.res),
                ...seeds.map((f) => f.res),
                ...bootstrapOn(s.host),
                ...(prev ? [prev] : []),
                ...dependsOn,
              ]),
            },
          ),
      );
      chain.push(cmd);
      restartsByHost.set(s.host, [...(restartsByHost.get(s.host) ?? []), cmd]);
      yield;
    }
    restarts.set(key, chain);
  }
  return { restarts, restartsByHost };
}

/**
 * The service's resources, one step per resource (components/declaration.ts): files, bootstrap
 * actions, restarts, then the removal order with the other actions.
 */
export function* declareServiceResources(
  name: string,
  parent: pulumi.Resource,
  ctx: ClusterContext,
  part: ServiceRender,
  dependsOn: readonly pulumi.Resource[] = [],
): Steps<ServiceResources> {
  // nothing touches a host before the quorum-safety check, and no file before every host's
  // software is in (one gate resource that waits for every HostPackages: src/providers/gate.ts)
  dependsOn = [ctx.membershipGuard, ...(ctx.packagesReady ? [ctx.packagesReady] : []), ...dependsOn];
  // What the resources of this service wait for (for `sinks`).
  const dependedOn = new Set<pulumi.Resource>();
  const waits = (deps: pulumi.Resource[]): pulumi.Resource[] => {
    for (const dep of deps) dependedOn.add(dep);
    return deps;
  };
  const base = {
    name,
    parent,
    ctx,
    part,
    dependsOn,
    waits,
    later: laterActions(part),
    byHost: new Map(),
    actions: [],
    actionById: new Map(),
  };
  const { files, firstFile } = yield* declareFiles(base);
  const conn = (host: string) => {
    const access = ctx.access.get(host)!;
    return {
      connection: access.pinnedKey ? pinnedActionConnection(access) : access.action(hostKeySeen(firstFile.get(host))),
      credentials: access.credentials,
    };
  };
  const d: Declaring = { ...base, conn };

  // Cluster actions. "bootstrap" ones (host preparation: sysctls, store initialisation) run after
  // their host's files and BEFORE its restarts; every other phase runs after the restarts.
  const bootstrap = part.actions.filter((a) => a.phase === "bootstrap");
  yield* declareActions(d, bootstrap, () => []);
  const bootstrapOn = (host: string) => bootstrap.filter((a) => a.host === host).map((a) => d.actionById.get(a.id)!);
  const { restarts, restartsByHost } = yield* declareRestarts(d, bootstrapOn);

  const postStart = part.actions.filter((a) => a.phase !== "bootstrap");
  const deprovisions = yield* declareRemovals(STOPS_BEFORE_LEAVING.has(part.service), {
    deprovisionOn: (after) =>
      declareDeprovisions(name, parent, ctx, part, { restartsByHost, conn, dependsOn: [...dependsOn, ...after], waits }),
    membersOn: (after) => declareActions(d, postStart, (host) => restartsByHost.get(host) ?? [], after),
    members: () => part.actions.filter((a) => a.delete).map((a) => d.actionById.get(a.id)!),
    gate: (first) => removalGate(d, STOPS_BEFORE_LEAVING.has(part.service), first),
  });
  const all = [...d.actions, ...deprovisions];
  const sinks = [...files, ...[...restarts.values()].flat(), ...all].filter((r) => !dependedOn.has(r));
  return { files, restarts, actions: all, sinks };
}
