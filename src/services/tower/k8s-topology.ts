/**
 * The Tower app tier on a Kubernetes target: per instance group a web and a task Deployment,
 * the settings every pod reads (pointing at the RabbitMQ and stolon Services), the entry point.
 * Replicas: `kubernetes.replicas.web` web pods per group; task pods `kubernetes.replicas.task`, or
 * the group's policy_instance_minimum when larger (AWX keeps at least that many instances in it).
 */
import { createHash } from "node:crypto";
import type { ClusterPlan, InstanceGroupPlan } from "../../plan/types";
import type { SecretRef } from "../../inventory/schema";
import { dnsLabel, joinName, kubernetesTarget, LABEL, selectorLabels, type KubernetesTarget, type Labels } from "../../kubernetes";
import { rabbitmqOnKubernetes, type RabbitMqOnKubernetes } from "../rabbitmq/k8s-topology";
import { stolonOnKubernetes, type StolonOnKubernetes } from "../postgres/k8s-topology";

/** Keys of the Tower Secret. */
export const TOWER_SECRET_KEYS = { secretKey: "SECRET_KEY", dbPassword: "DATABASE_PASSWORD", adminPassword: "AWX_ADMIN_PASSWORD" } as const;
/** Generated when the inventory gives no `tower.secretKey`: one value for every pod, kept. */
export const K8S_SECRET_KEY_MATERIAL = "tower/k8s/secret-key";
/** nginx in the awx_web image. */
export const WEB_PORT = 8052;

export interface TowerGroupOnKubernetes {
  /** AWX instance group name (`tower`, `east`). */
  readonly name: string;
  readonly web: { readonly name: string; readonly service: string; readonly selector: Labels; readonly replicas: number };
  readonly task: { readonly name: string; readonly selector: Labels; readonly replicas: number };
}

export interface TowerOnKubernetes {
  readonly target: KubernetesTarget;
  readonly names: {
    readonly settings: string;
    readonly secret: string;
    readonly entry: string;
    readonly ingress: string;
    readonly dbJob: string;
  };
  readonly groups: readonly TowerGroupOnKubernetes[];
  /** Every web pod of every group: what the entry Service selects. */
  readonly webSelector: Labels;
  readonly broker: RabbitMqOnKubernetes;
  /** The stolon cluster Tower's database lives in, when it runs on this target. */
  readonly stolon?: StolonOnKubernetes;
  readonly database: {
    readonly host: string;
    readonly port: number;
    readonly name: string;
    readonly user: string;
    readonly password?: SecretRef;
  };
  readonly adminPassword?: SecretRef;
  readonly secretKey?: SecretRef;
}

/** Group names as DNS labels, made unique when two names sanitise alike (`east_1`, `east-1`). */
function groupLabels(groups: readonly InstanceGroupPlan[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const g of groups) {
    let label = dnsLabel(g.name, 20);
    if (used.has(label)) label = dnsLabel(`${label}-${createHash("sha256").update(g.name).digest("hex").slice(0, 6)}`, 20);
    used.add(label);
    out.set(g.name, label);
  }
  return out;
}

export function towerOnKubernetes(plan: ClusterPlan): TowerOnKubernetes | undefined {
  const tower = plan.inventory.tower;
  const broker = rabbitmqOnKubernetes(plan);
  if (plan.target !== "kubernetes" || !tower || !broker) return undefined;
  const target = kubernetesTarget(plan);
  const { instance } = target;
  const labels = groupLabels(plan.instanceGroups);
  const groups = plan.instanceGroups.map((g): TowerGroupOnKubernetes => {
    const label = labels.get(g.name)!;
    const sel = (component: string) => selectorLabels(instance, "tower", component, { [LABEL.instanceGroup]: g.name });
    return {
      name: g.name,
      web: {
        name: joinName([instance, label, "web"]),
        service: joinName([instance, label, "web"]),
        selector: sel("web"),
        replicas: target.replicas.web,
      },
      task: {
        name: joinName([instance, label, "task"]),
        selector: sel("task"),
        replicas: Math.max(target.replicas.task, g.policy.minimum),
      },
    };
  });
  const stolon = stolonOnKubernetes(plan);
  const db = tower.database;
  const database = stolon
    ? { host: stolon.host, port: stolon.port, name: db.name, user: db.username, ...(db.password ? { password: db.password } : {}) }
    : {
        host: plan.database?.host ?? db.host ?? "",
        port: plan.database?.port ?? db.port,
        name: db.name,
        user: db.username,
        ...(db.password ? { password: db.password } : {}),
      };
  return {
    target,
    names: {
      settings: joinName([instance, "tower-settings"]),
      secret: joinName([instance, "tower"]),
      entry: joinName([instance, "web"]),
      ingress: joinName([instance, "web"]),
      dbJob: joinName([instance, "tower-db"]),
    },
    groups,
    webSelector: selectorLabels(instance, "tower", "web"),
    broker,
    ...(stolon ? { stolon } : {}),
    database,
    ...(tower.adminPassword ? { adminPassword: tower.adminPassword } : {}),
    ...(tower.secretKey ? { secretKey: tower.secretKey } : {}),
  };
}
