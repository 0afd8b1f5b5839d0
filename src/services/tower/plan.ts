/**
 * Tower plan step: instance groups (AWX policies applied), isolated groups, the database, roles,
 * and the topology rules of the Tower clustering doc
 * (https://github.com/ansible/awx/blob/devel/docs/clustering.md, Tower 3.x; "Recommendations and
 * constraints" and "Security Isolated Rampart Groups").
 */
import { checkHostList, hostEntries, hostListChecker } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import type { Inventory, SecretRef } from "../../inventory/schema";
import type { ClusterPlan, InstanceGroupPlan, IsolatedGroupPlan } from "../../plan/types";
import type { PlanContext, PlanStep } from "../types";
import { MINIMAL_SET_TEXT } from "./isolated";
import { applyMembershipPolicies, type PolicyGroupInput } from "./policy";

const INSTANCE_PREFIX = "instance_group_";
const ISOLATED_PREFIX = "isolated_group_";

/**
 * Tower instances: every existing host listed in `tower` or an instance group, in inventory order.
 * Each runs the full Tower stack and a RabbitMQ node; isolated and database-only hosts do not.
 */
export function towerInstances(inventory: Inventory): string[] {
  const t = inventory.tower;
  if (!t) return [];
  const listed = new Set(t.instanceGroups.flatMap((g) => g.hosts));
  const out = new Set<string>();
  for (const h of inventory.hosts) if (listed.has(h.name)) out.add(h.name);
  return [...out];
}

const isEmptyLiteral = (ref: SecretRef | undefined): boolean => ref === undefined || ("value" in ref && ref.value === "");

/** What every part of the Tower plan step reads, and the findings it adds to (in order). */
interface TowerScope {
  readonly ctx: PlanContext;
  readonly inventory: Inventory;
  readonly t: TowerSection;
  readonly findings: Finding[];
  readonly hostIndex: ReadonlyMap<string, number>;
  readonly exists: (name: string) => boolean;
  readonly instances: string[];
  readonly instanceSet: ReadonlySet<string>;
}
type TowerSection = NonNullable<Inventory["tower"]>;
type PolicyResults = ReturnType<typeof applyMembershipPolicies>;

export function plan(ctx: PlanContext): PlanStep {
  const { inventory } = ctx;
  const t = inventory.tower;
  if (!t) return { findings: [], patch: {} };
  const findings: Finding[] = [];
  const hostIndex = new Map<string, number>();
  inventory.hosts.forEach((h, i) => {
    if (!hostIndex.has(h.name)) hostIndex.set(h.name, i);
  });
  const exists = (name: string) => hostIndex.has(name);
  const instances = towerInstances(inventory);
  const s: TowerScope = { ctx, inventory, t, findings, hostIndex, exists, instances, instanceSet: new Set(instances) };
  groupNameRules(s, towerGroupRules(s));
  hostNamedLikeGroupRule(s);
  const isolatedOf = isolatedMembership(s);
  instanceMembershipRules(s, isolatedOf);
  const { instanceGroups, results } = planPolicies(s, isolatedOf);
  const isolatedGroups = planIsolatedGroups(s, instanceGroups, results);
  databaseHostRules(s, isolatedOf);
  const database = planDatabase(s);
  adminPasswordRule(s);
  // Tower restarts roll one instance at a time behind the API ping (like RabbitMQ): restarting
  // every instance at once takes the whole UI/API and all job capacity down together.
  const rolling = instances.length > 0 ? [{ id: "tower", service: "ansible-tower", hosts: [...instances], maxUnavailable: 1 }] : [];
  return {
    findings,
    patch: { instanceGroups, isolatedGroups, ...(database ? { database } : {}), rollingGroups: rolling },
    roles: towerRoles(instances, instanceGroups, isolatedGroups, database),
  };
}

/** Group names: the built-in "tower" group exists and lists a host; returns its index. */
function towerGroupRules(s: TowerScope): number {
  const { inventory, t, findings } = s;
  const towerIdx = t.instanceGroups.findIndex((g) => g.name === "tower");
  if (towerIdx < 0) {
    findings.push(
      error(
        "tower.no-tower-group",
        "tower.instanceGroups",
        'there is no "tower" instance group',
        'Add a [tower] section (YAML: an instance group named "tower") with at least one host: jobs fall back to it and the installer runs migrations on its first host.',
      ),
    );
  } else if (t.instanceGroups[towerIdx]!.hosts.length === 0 && inventory.target !== "kubernetes") {
    // (On a Kubernetes target instances are pods of the group's Deployments, not listed hosts.)
    findings.push(
      error(
        "tower.tower-group-empty",
        `tower.instanceGroups[${towerIdx}].hosts`,
        'the "tower" group lists no host; at least one instance must be in it',
        "List at least one instance under [tower].",
      ),
    );
  }
  return towerIdx;
}

/** Group names: no second "tower", no name twice across instance and isolated groups, no section prefix. */
function groupNameRules(s: TowerScope, towerIdx: number): void {
  const { t, findings } = s;
  const seenGroup = new Map<string, string>(); // name → path
  t.instanceGroups.forEach((g, i) => {
    const path = `tower.instanceGroups[${i}].name`;
    if (g.name === "tower" && i !== towerIdx) {
      findings.push(
        error(
          "tower.reserved-group-name",
          path,
          'a second group named "tower" (an [instance_group_tower] section): "tower" is the built-in group',
          'Rename it; the Tower doc says "Do not create a group named instance_group_tower".',
        ),
      );
    } else if (seenGroup.has(g.name)) {
      findings.push(
        error(
          "tower.duplicate-group",
          path,
          `instance group ${JSON.stringify(g.name)} is defined twice (also ${seenGroup.get(g.name)})`,
          "Merge the two groups.",
        ),
      );
    }
    if (g.name.startsWith(INSTANCE_PREFIX) || g.name.startsWith(ISOLATED_PREFIX)) {
      findings.push(
        warning(
          "tower.group-name-prefix",
          path,
          `instance group name ${JSON.stringify(g.name)} carries a section prefix`,
          `Names are written without the prefix (${JSON.stringify(g.name.replace(/^(instance|isolated)_group_/, ""))}).`,
        ),
      );
    }
    if (!seenGroup.has(g.name)) seenGroup.set(g.name, path);
  });
  t.isolatedGroups.forEach((g, i) => {
    const path = `tower.isolatedGroups[${i}].name`;
    if (g.name === "tower") {
      findings.push(
        error(
          "tower.reserved-group-name",
          path,
          'an isolated group named "tower" ([isolated_group_tower])',
          'Rename it; the Tower doc says "Do not create a group named isolated_group_tower".',
        ),
      );
    } else if (seenGroup.has(g.name)) {
      // Instance groups and isolated groups share AWX's InstanceGroup name space.
      findings.push(
        error(
          "tower.duplicate-group",
          path,
          `group name ${JSON.stringify(g.name)} is used twice (also ${seenGroup.get(g.name)})`,
          "Instance groups and isolated groups share one name space in AWX; rename one.",
        ),
      );
    }
    if (!seenGroup.has(g.name)) seenGroup.set(g.name, path);
  });
}

/** "Do not name any instance the same as a group name" (with or without the section prefix). */
function hostNamedLikeGroupRule(s: TowerScope): void {
  const { inventory, t, findings } = s;
  const groupNames = new Set<string>(["tower", "database"]);
  for (const g of t.instanceGroups) [g.name, INSTANCE_PREFIX + g.name].forEach((n) => groupNames.add(n));
  for (const g of t.isolatedGroups) [g.name, ISOLATED_PREFIX + g.name].forEach((n) => groupNames.add(n));
  inventory.hosts.forEach((h, i) => {
    if (groupNames.has(h.name)) {
      findings.push(
        error(
          "tower.host-named-like-group",
          `hosts[${i}].name`,
          `host ${JSON.stringify(h.name)} has the name of a group`,
          "Rename the host: Ansible and Tower confuse a host and a group with the same name.",
        ),
      );
    }
  });
}

/** Membership references of the isolated groups; returns host → its first isolated group index. */
function isolatedMembership(s: TowerScope): Map<string, number> {
  const { t, findings, exists, instanceSet } = s;
  const isolatedOf = new Map<string, number>(); // host → first isolated group index
  t.isolatedGroups.forEach((g, i) => {
    const listed = hostListChecker(
      {
        known: exists,
        unknown: (h, path) => unknownHost(path, h),
        duplicate: (h, path) =>
          warning("tower.duplicate-member", path, `host ${JSON.stringify(h)} is listed twice in isolated group ${JSON.stringify(g.name)}`),
      },
      findings,
    );
    g.hosts.forEach((h, j) => {
      const path = `tower.isolatedGroups[${i}].hosts[${j}]`;
      if (!listed({ host: h, path, index: j })) return;
      if (instanceSet.has(h)) {
        findings.push(
          error(
            "tower.isolated-in-instance-group",
            path,
            `isolated host ${JSON.stringify(h)} is also an instance (listed in "tower" or an instance group)`,
            "Isolated hosts run jobs only; remove it from [tower] and every [instance_group_*].",
          ),
        );
      }
      const prev = isolatedOf.get(h);
      if (prev !== undefined) {
        findings.push(
          error(
            "tower.isolated-in-several-groups",
            path,
            `host ${JSON.stringify(h)} is in isolated groups ${JSON.stringify(t.isolatedGroups[prev]!.name)} and ${JSON.stringify(g.name)}`,
            "An isolated host belongs to exactly one isolated group.",
          ),
        );
      } else isolatedOf.set(h, i);
    });
    if (g.hosts.length === 0) {
      findings.push(
        warning(
          "tower.isolated-group-empty",
          `tower.isolatedGroups[${i}].hosts`,
          `isolated group ${JSON.stringify(g.name)} has no hosts`,
          "Jobs sent to it will never run; add hosts or remove the group.",
        ),
      );
    }
  });
  return isolatedOf;
}

/** Membership references of the instance groups and their policy_instance_list. */
function instanceMembershipRules(s: TowerScope, isolatedOf: ReadonlyMap<string, number>): void {
  const { t, findings, exists, instanceSet } = s;
  t.instanceGroups.forEach((g, i) => {
    checkHostList(
      hostEntries(g.hosts, (j) => `tower.instanceGroups[${i}].hosts[${j}]`),
      {
        known: exists,
        unknown: (h, path) => unknownHost(path, h),
        duplicate: (h, path) =>
          warning("tower.duplicate-member", path, `host ${JSON.stringify(h)} is listed twice in group ${JSON.stringify(g.name)}`),
      },
      findings,
    );
    g.policy.list.forEach((h, j) => {
      const path = `tower.instanceGroups[${i}].policy.list[${j}]`;
      if (!exists(h)) findings.push(unknownHost(path, h));
      else if (isolatedOf.has(h)) {
        findings.push(
          error(
            "tower.isolated-in-instance-group",
            path,
            `isolated host ${JSON.stringify(h)} is in the policy_instance_list of ${JSON.stringify(g.name)}`,
            "Isolated hosts take jobs from their controller only.",
          ),
        );
      } else if (!instanceSet.has(h)) {
        findings.push(
          error(
            "tower.policy-list-not-instance",
            path,
            `policy_instance_list of ${JSON.stringify(g.name)} names ${JSON.stringify(h)}, which is not an instance`,
            `List ${JSON.stringify(h)} under [tower] or an [instance_group_*] section so it gets Tower installed.`,
          ),
        );
      }
    });
  });
}

/** Policies: AWX's membership policy over the instance and isolated groups; the instance groups' plans. */
function planPolicies(
  s: TowerScope,
  isolatedOf: ReadonlyMap<string, number>,
): { instanceGroups: InstanceGroupPlan[]; results: PolicyResults } {
  const { inventory, t, findings, instances, instanceSet } = s;
  const policyGroups: PolicyGroupInput[] = [
    ...t.instanceGroups.map((g) => ({
      name: g.name,
      list: dedupe([...g.hosts, ...g.policy.list]),
      percentage: g.policy.percentage,
      minimum: g.policy.minimum,
    })),
    ...t.isolatedGroups.map((g) => ({ name: g.name, list: dedupe(g.hosts), percentage: 0, minimum: 0, isolated: true })),
  ];
  const byName = new Map(inventory.hosts.map((h) => [h.name, h] as const));
  const policyInstances = [...instances, ...inventory.hosts.map((h) => h.name).filter((n) => isolatedOf.has(n) && !instanceSet.has(n))].map(
    (name) => ({
      name,
      managedByPolicy: byName.get(name)?.managedByPolicy ?? true,
    }),
  );
  const results = applyMembershipPolicies(policyGroups, policyInstances);
  const poolSize = instances.filter((n) => byName.get(n)?.managedByPolicy !== false && !isolatedOf.has(n)).length;

  const instanceGroups: InstanceGroupPlan[] = t.instanceGroups.map((g, i) => {
    const r = results[i]!;
    // (On a Kubernetes target the group's task Deployment runs at least `minimum` pods.)
    if (g.policy.minimum > poolSize && g.policy.minimum > r.instances.length && inventory.target !== "kubernetes") {
      findings.push(
        warning(
          "tower.policy-minimum-unreachable",
          `tower.instanceGroups[${i}].policy.minimum`,
          `policy_instance_minimum of ${JSON.stringify(g.name)} is ${g.policy.minimum} but only ${poolSize} instance(s) are managed by policy; it gets ${r.instances.length}`,
          "Lower the minimum or add instances.",
        ),
      );
    }
    if (r.instances.length === 0 && g.name !== "tower" && inventory.target !== "kubernetes") {
      findings.push(
        warning(
          "tower.instance-group-empty",
          `tower.instanceGroups[${i}]`,
          `instance group ${JSON.stringify(g.name)} ends up with no instances`,
          "Jobs assigned to it will wait forever: list hosts, or set policy_instance_minimum / policy_instance_percentage.",
        ),
      );
    }
    return {
      name: g.name,
      instances: r.instances,
      policy: { percentage: g.policy.percentage, minimum: g.policy.minimum, list: dedupe([...g.hosts, ...g.policy.list]) },
    };
  });
  return { instanceGroups, results };
}

/** Isolated groups and their controllers. */
function planIsolatedGroups(s: TowerScope, instanceGroups: readonly InstanceGroupPlan[], results: PolicyResults): IsolatedGroupPlan[] {
  const { inventory, t, findings } = s;
  const isolatedGroups: IsolatedGroupPlan[] = [];
  t.isolatedGroups.forEach((g, i) => {
    const base = `tower.isolatedGroups[${i}]`;
    const controller = isolatedController(s, g, i, instanceGroups);
    if (g.hosts.length > 0 && !inventory.packages.manage && inventory.target !== "kubernetes") {
      findings.push(
        warning(
          "tower.isolated-minimal-set",
          base,
          `the hosts of isolated group ${JSON.stringify(g.name)} must have what Tower jobs need there: ` +
            `${MINIMAL_SET_TEXT}; packages are not managed (packages.manage: false), so haforge installs none of it`,
          "Install it on the isolated hosts (Debian: ansible bubblewrap python3-ansible-runner " +
            "python3-psutil rsync; RHEL: ansible ansible-runner bubblewrap python3-psutil " +
            "rsync; the awx user as Tower's installer creates it), or set packages.manage: " +
            "true. The apply checks it on each isolated host before writing anything there.",
        ),
      );
    }
    isolatedGroups.push({ name: g.name, controller, instances: results[t.instanceGroups.length + i]!.instances });
  });
  return isolatedGroups;
}

/** An isolated group's controller: one value over the group and its hosts, an instance group with instances ("" when unset). */
function isolatedController(
  s: TowerScope,
  g: TowerSection["isolatedGroups"][number],
  i: number,
  instanceGroups: readonly InstanceGroupPlan[],
): string {
  const { inventory, t, findings, hostIndex, exists } = s;
  const base = `tower.isolatedGroups[${i}]`;
  const instanceGroupNames = new Set(t.instanceGroups.map((g) => g.name));
  const isolatedNames = new Set(t.isolatedGroups.map((g) => g.name));
  // The doc: controller may be a group var or a host var on every host, never different values.
  const perHost = dedupe(g.hosts.filter(exists)).map((h) => {
    const idx = hostIndex.get(h)!;
    const own = inventory.hosts[idx]!.vars.controller;
    return { host: h, idx, own, effective: own ?? g.controller };
  });
  let controller = g.controller ?? perHost.find((p) => p.effective !== undefined)?.effective;
  if (new Set(perHost.map((p) => p.effective ?? "\u0000")).size > 1) {
    const odd = perHost.find((p) => p.effective !== controller)!;
    findings.push(
      error(
        "tower.isolated-controller-mismatch",
        odd.own !== undefined ? `hosts[${odd.idx}].vars.controller` : `hosts[${odd.idx}]`,
        `the hosts of isolated group ${JSON.stringify(g.name)} do not agree on "controller": ${perHost.map((p) => `${p.host}=${p.effective ?? "(unset)"}`).join(", ")}`,
        'Set controller once, as a group var ([isolated_group_<name>:vars] controller=<group>); the doc warns the behaviour with different values "can not be predicted".',
      ),
    );
  }
  if (controller === undefined) {
    findings.push(
      error(
        "tower.isolated-no-controller",
        `${base}.controller`,
        `isolated group ${JSON.stringify(g.name)} has no controller`,
        `Set controller=<instance group or "tower"> in [isolated_group_${g.name}:vars].`,
      ),
    );
    controller = "";
  } else if (!instanceGroupNames.has(controller)) {
    const bare = controller.replace(/^instance_group_/, "");
    findings.push(
      error(
        "tower.isolated-unknown-controller",
        `${base}.controller`,
        isolatedNames.has(controller)
          ? `controller ${JSON.stringify(controller)} of isolated group ${JSON.stringify(g.name)} is itself an isolated group`
          : `controller ${JSON.stringify(controller)} of isolated group ${JSON.stringify(g.name)} is not an instance group`,
        bare !== controller && instanceGroupNames.has(bare)
          ? `Write the group name without its prefix: controller=${bare}.`
          : `Use "tower" or one of: ${[...instanceGroupNames].join(", ")}.`,
      ),
    );
  } else {
    const cg = instanceGroups.find((x) => x.name === controller)!;
    if (cg.instances.length === 0) {
      findings.push(
        error(
          "tower.controller-empty",
          `${base}.controller`,
          `controller group ${JSON.stringify(controller)} of isolated group ${JSON.stringify(g.name)} has no instances`,
          "Isolated jobs are driven over SSH by the controller's instances: give it at least one.",
        ),
      );
    }
  }
  return controller;
}

/** Database: the [database] hosts exist, are not isolated, and are one. */
function databaseHostRules(s: TowerScope, isolatedOf: ReadonlyMap<string, number>): void {
  const { t, findings, exists } = s;
  const db = t.database;
  db.hosts.forEach((h, j) => {
    const path = `tower.database.hosts[${j}]`;
    if (!exists(h)) findings.push(unknownHost(path, h));
    else if (isolatedOf.has(h)) {
      findings.push(
        warning(
          "tower.database-on-isolated",
          path,
          `database host ${JSON.stringify(h)} is an isolated host`,
          "Isolated hosts sit in restricted networks that instances may not reach; put the database where every instance can reach it.",
        ),
      );
    }
  });
  const dbHosts = dedupe(db.hosts.filter(exists));
  if (dbHosts.length > 1) {
    findings.push(
      error(
        "tower.database-multiple",
        "tower.database.hosts",
        `[database] lists ${dbHosts.length} hosts (${dbHosts.join(", ")}); Tower uses one PostgreSQL and would silently ignore the others`,
        "Keep one host; for a replicated PostgreSQL use the `postgres:` section (Patroni) and point pg_host at its endpoint.",
      ),
    );
  }
}

/** Database: pg_host against [database], a cluster without one, the local database of a single instance, its password. */
function planDatabase(s: TowerScope): ClusterPlan["database"] {
  const { ctx, inventory, t, findings, hostIndex, exists, instances } = s;
  const db = t.database;
  const dbHosts = dedupe(db.hosts.filter(exists));
  let database: ClusterPlan["database"];
  const dbHost = dbHosts[0];
  if (db.host !== undefined && dbHost !== undefined) {
    const h = inventory.hosts[hostIndex.get(dbHost)!]!;
    if (![h.name, h.address, h.internalAddress].includes(db.host)) {
      findings.push(
        warning(
          "tower.database-host-conflict",
          "tower.database.host",
          `pg_host is ${JSON.stringify(db.host)} but [database] lists ${JSON.stringify(dbHost)} (${h.internalAddress ?? h.address})`,
          "Instances connect to pg_host; make it the [database] host's address, or empty [database] for an external database.",
        ),
      );
    }
  }
  if (db.host === undefined && dbHost === undefined && instances.length > 1) {
    findings.push(
      error(
        "tower.database-missing",
        "tower.database",
        `a cluster of ${instances.length} instances needs a database every instance can reach, and none is given`,
        "List the database host under [database] or set pg_host in [all:vars] (external PostgreSQL).",
      ),
    );
  }
  const firstInstance = instances[0];
  const localDbHost = dbHost ?? (db.host === undefined && instances.length === 1 ? firstInstance : undefined);
  const resolvedHost = db.host ?? (localDbHost !== undefined ? (ctx.hosts.get(localDbHost)?.internalAddress ?? localDbHost) : undefined);
  if (resolvedHost !== undefined) {
    database = {
      hosts: localDbHost !== undefined ? [localDbHost] : [],
      host: resolvedHost,
      port: db.port,
      name: db.name,
      username: db.username,
      ...(db.password ? { password: db.password } : {}),
    };
    if (isEmptyLiteral(db.password)) {
      findings.push(
        warning(
          "tower.database-password-empty",
          "tower.database.password",
          "the Tower database password (pg_password) is empty",
          "Set pg_password (YAML: tower.database.password: { secret: pgPassword }).",
        ),
      );
    }
  }
  return database;
}

/** The admin password is set. */
function adminPasswordRule(s: TowerScope): void {
  const { t, findings } = s;
  if (isEmptyLiteral(t.adminPassword)) {
    findings.push(
      warning(
        "tower.admin-password-empty",
        "tower.adminPassword",
        "admin_password is not set",
        "The installer needs it for the initial admin user; set admin_password (YAML: tower.adminPassword: { secret: towerAdminPassword }).",
      ),
    );
  }
}

/** Roles: instances, their groups, isolated hosts and their controllers' instances, the database host. */
function towerRoles(
  instances: readonly string[],
  instanceGroups: readonly InstanceGroupPlan[],
  isolatedGroups: readonly IsolatedGroupPlan[],
  database: ClusterPlan["database"],
): Record<string, string[]> {
  const roles: Record<string, string[]> = {};
  const add = (h: string, r: string) => {
    const list = (roles[h] ??= []);
    if (!list.includes(r)) list.push(r);
  };
  for (const h of instances) {
    add(h, "tower");
    add(h, "instance");
  }
  for (const g of instanceGroups) for (const h of g.instances) add(h, `instance_group:${g.name}`);
  for (const g of isolatedGroups) {
    for (const h of g.instances) add(h, "isolated");
    const cg = instanceGroups.find((x) => x.name === g.controller);
    for (const h of cg?.instances ?? []) add(h, "controller");
  }
  for (const h of database?.hosts ?? []) add(h, "database");
  return roles;
}

function unknownHost(path: string, name: string): Finding {
  return error(
    "tower.unknown-host",
    path,
    `host ${JSON.stringify(name)} is not defined in hosts`,
    `Add ${JSON.stringify(name)} to hosts (with its address), or fix the spelling.`,
  );
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}
