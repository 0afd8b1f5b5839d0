/**
 * Tower-style app nodes on SSH targets:
 * - every instance (hosts of the instance groups): its cluster identity, broker and database
 *   settings, and the shared SECRET_KEY;
 * - isolated groups (see isolated.ts): one key pair stored in Tower's own isolated-key settings,
 *   its public half added as one marked line to the awx user's authorized_keys on every isolated
 *   host (after checking the minimal set jobs need there), an ssh client config on the
 *   controllers;
 * - the provisioning lifecycle as cluster actions, run on the first `tower` instance: every
 *   instance is provisioned before any queue is registered (a queue's policy picks among the
 *   registered instances), an isolated group's queue after its controller's, and deleting them
 *   deprovisions / unregisters.
 *
 * awx-manage flags as in Tower 3.x: provision_instance/deprovision_instance --hostname,
 * register_queue --queuename --hostnames --instance_percent --instance_minimum [--controller],
 * unregister_queue --queuename (awx/main/management/commands/*.py).
 */
import { shellWord } from "../../core/escape";
import type { ClusterAction, FileSpec, ServiceSpec } from "../../core/desired-state";
import { resolveSecret } from "../../core/secrets";
import type { ClusterPlan, InstanceGroupPlan, IsolatedGroupPlan } from "../../plan/types";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import {
  AWX_SSH_CONFIG,
  ensureIsolatedHostScript,
  isolatedMaterials,
  keyPair,
  removeIsolatedKeyScript,
  storeIsolatedKeyScript,
} from "./isolated";
import { brokerUrl, databaseSettings, py } from "./settings";

export const CONF_D = "/etc/tower/conf.d";
export const CLUSTER_HOST_ID_PY = `${CONF_D}/cluster_host_id.py`;
export const BROKER_PY = `${CONF_D}/broker.py`;
export const POSTGRES_PY = `${CONF_D}/postgres.py`;
export const SECRET_KEY_PATH = "/etc/tower/SECRET_KEY";

export const SERVICE_NAME = "ansible-tower";
/** Tower's own wrapper restarts every Tower process on the node (nginx, dispatcher, callback receiver...). */
export const RESTART = "ansible-tower-service restart";
/** Unauthenticated API ping: answers once the web/task stack is back and reaches the database. */
export const HEALTH = "curl -fsk --max-time 10 -o /dev/null https://127.0.0.1/api/v2/ping/";

/** Checks a settings file parses as Python without running it (Tower's hosts always have python3). */
export const PY_VALIDATE = `python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' {file}`;

/** Single-quote for sh when needed. */
const sh = shellWord;

/** Instance hosts (instance groups' members and hosts with the `instance` role), in host order. */
export function instanceHosts(plan: ClusterPlan): string[] {
  const set = new Set<string>(plan.instanceGroups.flatMap((g) => g.instances));
  for (const h of plan.hosts) if (h.roles.includes("instance")) set.add(h.name);
  return orderHosts(plan, set);
}

function orderHosts(plan: ClusterPlan, names: Iterable<string>): string[] {
  const order = new Map(plan.hosts.map((h) => [h.name, h.order]));
  return [...new Set(names)].sort((a, b) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9) || a.localeCompare(b));
}

/** The group whose first instance runs the cluster actions: `tower`, else the first non-empty group. */
function controlGroup(plan: ClusterPlan): InstanceGroupPlan | undefined {
  return (
    plan.instanceGroups.find((g) => g.name === "tower" && g.instances.length > 0) ?? plan.instanceGroups.find((g) => g.instances.length > 0)
  );
}

/** The plan's rolling group for Tower, if it has one (a ServiceSpec must not name an unknown group). */
function rollGroupFor(plan: ClusterPlan): string | undefined {
  return plan.rollingGroups.find((g) => g.id === "tower" || g.service === SERVICE_NAME || g.service === "tower")?.id;
}

const provisionId = (host: string) => `tower-provision-${host}`;
const queueId = (group: string) => `tower-queue-${group}`;

/** Files every instance gets. */
function instanceFiles(ctx: RenderContext, host: string): FileSpec[] {
  const { plan } = ctx;
  const notify = [SERVICE_NAME];
  const settings = (path: string, content: string, secret: boolean): FileSpec => ({
    host,
    path,
    content,
    // Tower's services run as awx and read conf.d through the group.
    mode: "0640",
    owner: "root",
    group: "awx",
    secret,
    validate: PY_VALIDATE,
    notify,
  });
  const url = brokerUrl(plan, host, ctx.secrets);
  const db = databaseSettings(plan, ctx.secrets);
  const files: FileSpec[] = [
    settings(CLUSTER_HOST_ID_PY, ctx.template("tower", "cluster_host_id.py.hbs", { hostId: py(host) }), false),
    settings(BROKER_PY, ctx.template("tower", "broker.py.hbs", { brokerUrl: url === undefined ? undefined : py(url) }), url !== undefined),
    settings(
      POSTGRES_PY,
      ctx.template("tower", "postgres.py.hbs", {
        viaHa: plan.postgres !== undefined,
        name: py(db.name),
        user: py(db.user),
        password: py(db.password),
        host: py(db.host),
        port: py(String(db.port)),
      }),
      true,
    ),
  ];
  const secretKey = plan.inventory.tower?.secretKey;
  if (secretKey) {
    files.push({
      host,
      path: SECRET_KEY_PATH,
      // Identical on every instance: it encrypts credentials stored in the shared database.
      content: resolveSecret(secretKey, ctx.secrets),
      mode: "0640",
      owner: "root",
      group: "awx",
      secret: true,
      notify,
    });
  }
  return files;
}

/**
 * The ssh client config of every controller instance, indexed once per render (per host, a scan
 * of every group's instances would make the render quadratic in the number of instances): for
 * each isolated instance its groups' controllers reach, Tower's hostname → internal address, as
 * the awx user. No key file: Tower hands its stored isolated key to ansible-runner.
 */
function controllerIndex(ctx: RenderContext): (host: string) => FileSpec[] {
  const { plan } = ctx;
  const controlled = new Map<string, IsolatedGroupPlan[]>();
  for (const g of plan.isolatedGroups) controlled.set(g.controller, [...(controlled.get(g.controller) ?? []), g]);
  const groupsOf = new Map<string, IsolatedGroupPlan[]>();
  for (const g of plan.instanceGroups) {
    const isolated = controlled.get(g.name) ?? [];
    if (isolated.length === 0) continue;
    for (const host of new Set(g.instances)) {
      const list = groupsOf.get(host);
      if (list) list.push(...isolated);
      else groupsOf.set(host, [...isolated]);
    }
  }
  const address = new Map(plan.hosts.map((h) => [h.name, h.internalAddress]));
  const sshConfigs = new Map<string, string>();
  return (host) => {
    const groups = groupsOf.get(host) ?? [];
    const unique = [...new Map(groups.map((g) => [g.name, g])).values()].sort((a, b) => a.name.localeCompare(b.name));
    if (unique.length === 0) return [];
    const setKey = JSON.stringify(unique.map((g) => g.name));
    let config = sshConfigs.get(setKey);
    if (config === undefined) {
      const hosts = unique.flatMap((g) => g.instances.map((i) => ({ name: i, address: address.get(i) ?? i, group: g.name })));
      sshConfigs.set(setKey, (config = ctx.template("tower", "ssh_config.hbs", { hosts })));
    }
    return [
      {
        host,
        path: AWX_SSH_CONFIG,
        content: config,
        mode: "0600",
        owner: "awx",
        group: "awx",
        secret: false,
        validate: "ssh -G -F {file} localhost >/dev/null",
        notify: [],
      },
    ];
  };
}

/** Ids of the isolated-key actions. */
export const ISOLATED_KEY_ACTION = "tower-isolated-key";
export const isolatedHostActionId = (host: string): string => `tower-isolated-host-${host}`;

/**
 * The isolated key as Tower's installer leaves it: stored in Tower's settings (on the runner,
 * after every instance is registered), and its public half on every isolated host, one marked
 * line in the awx user's authorized_keys (the rest of the file untouched) once the host has what
 * jobs need.
 */
function isolatedActions(ctx: RenderContext, runner: string, after: readonly string[]): ClusterAction[] {
  const { plan } = ctx;
  if (plan.isolatedGroups.length === 0) return [];
  const pair = keyPair(ctx.materials);
  const hosts = orderHosts(
    plan,
    plan.isolatedGroups.flatMap((g) => g.instances),
  );
  return [
    {
      id: ISOLATED_KEY_ACTION,
      host: runner,
      phase: "post-start",
      description: "Tower: store the isolated-instance SSH key in Tower's settings (AWX_ISOLATED_PRIVATE_KEY / AWX_ISOLATED_PUBLIC_KEY)",
      create: storeIsolatedKeyScript(pair),
      dependsOn: [...after],
      triggers: [],
      secret: true,
    },
    ...hosts.map((h): ClusterAction => ({
      id: isolatedHostActionId(h),
      host: h,
      phase: "post-start",
      description: `Tower: isolated host ${h} has what jobs need, and the controllers' key in the awx user's authorized_keys (one marked line; removed on delete)`,
      create: ensureIsolatedHostScript(h, pair.publicKey),
      delete: removeIsolatedKeyScript(),
      dependsOn: [],
      triggers: [],
      secret: false,
    })),
  ];
}

/** unregister_queue exits 1 for a group that no longer exists: a retried destroy must converge. */
const unregister = (g: string): string =>
  `out=$(awx-manage unregister_queue --queuename=${sh(g)} 2>&1) || { echo "$out" | grep -q "doesn't exist" || { echo "$out" >&2; exit 1; }; }`;

/**
 * Each instance registered (deprovisioned from another instance on removal); a non-isolated one's
 * services stop before it is deprovisioned, and its managed_by_policy is set as the plan has it,
 * by the same action as its registration (one resource per instance: docs/architecture.md, "The
 * program's size"). A changed managed_by_policy changes the action's create, which re-runs it
 * (HostAction `rerun: "change"`): provision_instance of a registered instance changes nothing.
 */
function provisionActions(plan: RenderContext["plan"], runner: string, controls: readonly string[]): ClusterAction[] {
  const all = orderHosts(plan, [...instanceHosts(plan), ...plan.isolatedGroups.flatMap((g) => g.instances)]);
  const isolatedHosts = new Set(plan.isolatedGroups.flatMap((g) => g.instances));
  const byName = new Map(plan.hosts.map((h) => [h.name, h]));
  const provisions: ClusterAction[] = [];
  for (const h of all) {
    // Deprovisioning runs on ANOTHER instance (Tower's procedure: never on the removed host).
    const other = controls.find((c) => c !== h) ?? runner;
    const provision = `awx-manage provision_instance --hostname=${sh(h)}`;
    // managed_by_policy as the plan has it, so live membership equals what haforge reports
    // (AWX: Instance.managed_by_policy; the policy then only places instances that have it).
    const managed = isolatedHosts.has(h) ? undefined : byName.get(h)?.managedByPolicy !== false;
    const setManaged =
      `from awx.main.models import Instance; n = Instance.objects.filter(hostname=${JSON.stringify(h)})` +
      `.update(managed_by_policy=${managed ? "True" : "False"}); assert n == 1, "instance not registered"`;
    provisions.push({
      id: provisionId(h),
      host: other,
      phase: "post-start",
      description: managed === undefined ? `Tower: register instance ${h}` : `Tower: register instance ${h}, managed_by_policy=${managed}`,
      create: managed === undefined ? provision : `${provision} && awx-manage shell -c ${sh(setManaged)}`,
      // Prints "No instance found" and exits 0 when it is already gone.
      delete: `awx-manage deprovision_instance --hostname=${sh(h)}`,
      dependsOn: [],
      triggers: [],
      secret: false,
    });
    if (!isolatedHosts.has(h)) {
      // The instance's own services stop BEFORE it is deprovisioned: this action depends on the
      // provision, so a destroy deletes it (runs its delete on the host) first.
      provisions.push({
        id: `tower-services-${h}`,
        host: h,
        phase: "post-start",
        description: `Tower: ${h}'s services run while it is an instance; on removal they stop before it is deprovisioned`,
        create: "true",
        delete: "ansible-tower-service stop",
        dependsOn: [provisionId(h)],
        triggers: [],
        secret: false,
      });
    }
  }
  return provisions;
}

/** Each instance group registered with its policy, once every instance is. */
function queueActions(plan: RenderContext["plan"], runner: string, allProvisions: string[]): ClusterAction[] {
  // The `tower` group first: isolated groups may name it as their controller.
  const groups = [...plan.instanceGroups].sort((a, b) => (a.name === "tower" ? -1 : b.name === "tower" ? 1 : 0));
  return groups.map((g) => {
    const args = [`--queuename=${sh(g.name)}`];
    // policy_instance_list: the group's listed hosts; percentage/minimum let Tower's own policy
    // add the rest among the registered instances.
    if (g.policy.list.length > 0) args.push(`--hostnames=${sh(g.policy.list.join(","))}`);
    args.push(`--instance_percent=${g.policy.percentage}`, `--instance_minimum=${g.policy.minimum}`);
    return {
      id: queueId(g.name),
      host: runner,
      phase: "post-start",
      description: `Tower: register instance group ${g.name}`,
      create: `awx-manage register_queue ${args.join(" ")}`,
      delete: unregister(g.name),
      dependsOn: allProvisions,
      triggers: [],
      secret: false,
    };
  });
}

/** Each isolated group registered with its controller, once Tower holds the key and its hosts trust it. */
function isolatedGroupActions(
  plan: RenderContext["plan"],
  runner: string,
  allProvisions: string[],
  queueIds: ReadonlySet<string>,
): ClusterAction[] {
  return plan.isolatedGroups.map((g) => {
    const args = [`--queuename=${sh(g.name)}`];
    if (g.instances.length > 0) args.push(`--hostnames=${sh(g.instances.join(","))}`);
    args.push(`--controller=${sh(g.controller)}`);
    const controllerQueue = queueId(g.controller);
    return {
      id: queueId(g.name),
      host: runner,
      phase: "post-start",
      description: `Tower: register isolated group ${g.name} (controller ${g.controller})`,
      create: `awx-manage register_queue ${args.join(" ")}`,
      delete: unregister(g.name),
      // Jobs go to the group once Tower holds the key and its hosts trust it.
      dependsOn: [
        ...allProvisions,
        ...(queueIds.has(controllerQueue) ? [controllerQueue] : []),
        ISOLATED_KEY_ACTION,
        ...g.instances.map(isolatedHostActionId),
      ],
      triggers: [],
      secret: false,
    };
  });
}

function lifecycleActions(ctx: RenderContext): ClusterAction[] {
  const { plan } = ctx;
  const control = controlGroup(plan);
  const runner = control?.instances[0];
  if (!runner) return [];
  const controls = control?.instances ?? [];
  const provisions = provisionActions(plan, runner, controls);
  const allProvisions = provisions.filter((a) => !a.id.startsWith("tower-services-")).map((a) => a.id);
  const queues = queueActions(plan, runner, allProvisions);
  const queueIds = new Set(queues.map((q) => q.id));
  const keyActions = isolatedActions(ctx, runner, allProvisions);
  const isolated = isolatedGroupActions(plan, runner, allProvisions, queueIds);
  return [...provisions, ...queues, ...keyActions, ...isolated];
}

function render(ctx: RenderContext): RenderResult {
  const { plan } = ctx;
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const init = new Map(plan.hosts.map((h) => [h.name, h.init]));
  const rollGroup = rollGroupFor(plan);
  const controllerFiles = controllerIndex(ctx);
  for (const host of instanceHosts(plan)) {
    files.push(...instanceFiles(ctx, host), ...controllerFiles(host));
    // Tower ships its own units; haforge only needs to know how to restart and gate on it.
    services.push({
      host,
      name: SERVICE_NAME,
      manager: init.get(host) ?? "systemd",
      restart: RESTART,
      health: HEALTH,
      ...(rollGroup ? { rollGroup } : {}),
    });
  }
  return { files, services, actions: lifecycleActions(ctx) };
}

/** tower renderer: files, services, cluster actions (and materials it needs). */
export const renderPart: Pick<ServiceModule, "render" | "materials"> = {
  render,
  materials: (plan) => isolatedMaterials(plan, controlGroup(plan)?.instances[0]),
};
