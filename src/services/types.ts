/**
 * The contract of a service folder (docs/architecture.md, "A service"). Each src/services/<svc>/
 * exports one ServiceModule; src/services/registry.ts lists them in plan order.
 */
import type { SummaryPart } from "../plan/summary-part";
import type { ClusterAction, FileSpec, ServiceSpec } from "../core/desired-state";
import type { Finding } from "../core/findings";
import type { MaterialSpec, Materials } from "../core/materials";
import type { SecretValues } from "../core/secrets";
import type { Inventory } from "../inventory/schema";
import type { ClusterPlan, PlannedHost } from "../plan/types";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What a plan step sees: the inventory, the hosts by name, and the plan built so far. */
export interface PlanContext {
  readonly inventory: Inventory;
  readonly hosts: ReadonlyMap<string, PlannedHost>;
  /** Slices contributed by the services before this one in registry order. */
  readonly plan: Readonly<Partial<ClusterPlan>>;
}

export interface PlanStep {
  readonly findings: readonly Finding[];
  /** This service's slice(s) of the plan, merged into the plan in registry order. */
  readonly patch: Partial<Mutable<ClusterPlan>>;
  /** Roles to add to hosts (`{ hostA: ["rabbitmq"] }`). */
  readonly roles?: Readonly<Record<string, readonly string[]>>;
}

export interface RenderContext {
  readonly plan: ClusterPlan;
  /** Resolved secrets by secretKey(ref); use resolveSecret(ref, ctx.secrets). */
  readonly secrets: SecretValues;
  /** Generated materials by MaterialSpec.key. */
  readonly materials: Materials;
  /** Renders templates/<svc>/<name> with handlebars (src/render/templates.ts). */
  readonly template: (svc: string, name: string, data: unknown) => string;
}

export interface RenderResult {
  readonly files: readonly FileSpec[];
  readonly services: readonly ServiceSpec[];
  readonly actions: readonly ClusterAction[];
}

export interface KubernetesRenderResult {
  /** Plain Kubernetes objects (apiVersion, kind, metadata, ...). */
  readonly manifests: readonly Record<string, unknown>[];
}

/**
 * How the Pulumi layer deploys a service (components/service-components.ts builds one component
 * per service from this; nothing in components/ names a service). Pure data and functions over
 * the plan: the service layer loads no Pulumi module.
 */
export interface ServiceComponentSpec {
  /** The component's Pulumi type token (part of every child's URN: never change it). */
  readonly type: string;
  /** The component is named `<cluster>-<suffix>` (part of every child's name: never change it). */
  readonly suffix: string;
  /** Services whose resources must all exist before this one's are created (dependsOn). */
  readonly after?: readonly string[];
  /** Outputs computed from the plan made when the program starts (names, groups, counts). */
  readonly outputs?: (plan: ClusterPlan) => Record<string, unknown>;
  /** Outputs that report an address: computed from the plan with the deploy-time addresses. */
  readonly addressOutputs?: (plan: ClusterPlan) => Record<string, unknown>;
  /**
   * A host's daemons stop BEFORE its members leave the service's clusters (the deprovisioning's
   * delete runs before the membership actions' deletes), instead of after: Pacemaker's order (pcs
   * `cluster node remove`: the node is stopped, then removed from the nodelist and the CIB). By
   * default the members leave first (RabbitMQ forget_cluster_node, etcd member remove), then stop.
   */
  readonly stopsBeforeLeaving?: boolean;
}

export interface ServiceModule {
  readonly name: string;
  /**
   * Its part of the plan summary (`haforge plan`, `plan --json`; src/pipeline/summary.ts composes
   * them in the registry's `summaryOrder`). `noSummary` for a service that shows nothing there.
   */
  readonly summary: SummaryPart<object>;
  /**
   * Finding codes of its plan step whose verdict depends on the hosts' addresses. When addresses
   * are known only at deploy time (Pulumi `hostAddresses`), the program-time plan sees
   * placeholders and skips these; the deploy-time plan judges them (components/cluster-context.ts).
   */
  readonly addressRules?: readonly string[];
  /** Its Pulumi component. Absent: a service with nothing to deploy (it must render nothing). */
  readonly component?: ServiceComponentSpec;
  /** Derived facts and findings. Absent: the service contributes nothing to the plan. */
  plan?(ctx: PlanContext): PlanStep;
  /** Material this service needs generated once (keys, certs). */
  materials?(plan: ClusterPlan): readonly MaterialSpec[];
  /** Files, services and cluster actions for SSH targets. */
  render?(ctx: RenderContext): RenderResult;
  /**
   * Rules that can only be judged once secrets are resolved (e.g. a VRRP password longer than 8
   * characters, a Patroni password containing `$$`). Run by the CLI before rendering and by the
   * Pulumi layer inside the apply, before any file's content exists.
   */
  secretFindings?(plan: ClusterPlan, secrets: SecretValues): readonly Finding[];
  /** Objects for a Kubernetes target. */
  renderKubernetes?(ctx: RenderContext): KubernetesRenderResult;
}
