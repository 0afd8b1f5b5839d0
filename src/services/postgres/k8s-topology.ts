/**
 * stolon on a Kubernetes target: names, pod labels and member counts. On this target the member
 * counts come from `kubernetes.replicas` (keepers, sentinels, proxies); `postgres.nodes` names no
 * hosts. Shared by the renderer, the Tower app tier (database host) and the Pulumi outputs.
 */
import type { ClusterPlan, PostgresPlan, QuorumMath } from "../../plan/types";
import { joinName, kubernetesTarget, selectorLabels, serviceHost, type KubernetesTarget, type Labels } from "../../kubernetes";
import { majorityQuorum } from "../../plan/quorum";

/** Keys of the stolon Secret. */
export const STOLON_SECRET_KEYS = { superuser: "pg-su-password", replication: "pg-repl-password" } as const;

/**
 * Labels stolon's kubernetes store selects pods by: `component` and `stolon-cluster`
 * (internal/store/k8s.go in https://github.com/sorintlab/stolon). They must be on the pods as
 * written, whatever else we add.
 */
export const STOLON_COMPONENT_LABEL = "component";
export const STOLON_CLUSTER_LABEL = "stolon-cluster";

export interface StolonOnKubernetes {
  readonly target: KubernetesTarget;
  readonly pg: PostgresPlan;
  /**
   * The stolon cluster name on Kubernetes: `<instance>-stolon-<clusterName>`, so two
   * inventories in one namespace never share stolon's state ConfigMap (`stolon-cluster-<name>`)
   * nor see each other's pods. A valid label value by construction.
   */
  readonly clusterName: string;
  readonly names: {
    readonly keepers: string;
    readonly keeperService: string;
    readonly sentinels: string;
    readonly proxies: string;
    readonly proxyService: string;
    readonly secret: string;
    readonly specConfigMap: string;
    readonly serviceAccount: string;
    readonly role: string;
    readonly initJob: string;
  };
  readonly selectors: { readonly keeper: Labels; readonly sentinel: Labels; readonly proxy: Labels };
  readonly replicas: { readonly keepers: number; readonly sentinels: number; readonly proxies: number };
  readonly quorum: { readonly keepers: QuorumMath; readonly sentinels: QuorumMath };
  /** Where clients connect: the proxy Service, on the Postgres port. */
  readonly host: string;
  readonly port: number;
}

export function stolonOnKubernetes(plan: ClusterPlan): StolonOnKubernetes | undefined {
  const pg = plan.postgres;
  if (plan.target !== "kubernetes" || !pg || pg.engine !== "stolon") return undefined;
  const target = kubernetesTarget(plan);
  // "stolon" in every name: a clusterName like "tower" or "rabbitmq" cannot collide with the
  // Tower or RabbitMQ objects of the same instance.
  const base = joinName([target.instance, "stolon", pg.clusterName]);
  const names = {
    keepers: joinName([base, "keeper"]),
    keeperService: joinName([base, "keeper"]),
    sentinels: joinName([base, "sentinel"]),
    proxies: joinName([base, "proxy"]),
    proxyService: joinName([base, "proxy"]),
    secret: base,
    specConfigMap: joinName([base, "spec"]),
    serviceAccount: base,
    role: base,
    initJob: joinName([base, "init"]),
  };
  const sel = (component: string) => selectorLabels(target.instance, "stolon", component, { [STOLON_CLUSTER_LABEL]: base });
  const replicas = { keepers: target.replicas.keepers, sentinels: target.replicas.sentinels, proxies: target.replicas.proxies };
  return {
    target,
    pg,
    clusterName: base,
    names,
    selectors: { keeper: sel("keeper"), sentinel: sel("sentinel"), proxy: sel("proxy") },
    replicas,
    quorum: { keepers: majorityQuorum(replicas.keepers), sentinels: majorityQuorum(replicas.sentinels) },
    host: serviceHost(names.proxyService, target.namespace),
    port: pg.port,
  };
}

/** `host:port` of the database for clients (a stack output). */
export const k8sPostgresEndpoint = (s: StolonOnKubernetes): string => `${s.host}:${s.port}`;
