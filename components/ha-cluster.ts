/**
 * HaCluster: the whole inventory as one component. Builds the shared ClusterContext (validated
 * plan, secrets, materials, render), then one typed component per service, in dependency order:
 * quorum store → Pacemaker → VIPs → HAProxy → Postgres → RabbitMQ → syncthing → active/passive →
 * the app tier (which needs broker and database).
 */
import * as pulumi from "@pulumi/pulumi";
import { resolveSecret } from "../src/core/secrets";
import { prepareCluster, type ClusterContext, type HaClusterArgs } from "./cluster-context";
import {
  ActivePassiveApp,
  AppTier,
  HaproxyBalancer,
  KeepalivedVip,
  PacemakerCluster,
  PostgresHa,
  QuorumStore,
  RabbitMqCluster,
  SyncthingFolder,
} from "./service-components";
import { KubernetesTarget } from "./kubernetes-target";

export type { HaClusterArgs } from "./cluster-context";

export interface HaClusterOutputs {
  readonly hosts: { name: string; address: string; roles: string[] }[];
  readonly vips: { name: string; address: string; prefix: number }[];
  readonly endpoints: { amqp: string[]; postgres?: string; haproxy: { name: string; bind: string }[]; etcd: string[] };
  readonly instanceGroups: { name: string; instances: string[] }[];
  readonly isolatedGroups: { name: string; controller: string; instances: string[] }[];
  readonly rabbitmqNodes: string[];
  readonly pacemakerClusters: { name: string; nodes: string[] }[];
}

export class HaCluster extends pulumi.ComponentResource {
  readonly context: ClusterContext;
  readonly quorumStore: QuorumStore;
  readonly pacemaker: PacemakerCluster;
  readonly keepalived: KeepalivedVip;
  readonly haproxy: HaproxyBalancer;
  readonly postgres: PostgresHa;
  readonly rabbitmq: RabbitMqCluster;
  readonly syncthing: SyncthingFolder;
  readonly activePassive: ActivePassiveApp;
  readonly appTier: AppTier;
  /** Stable, non-secret outputs for StackReference consumers. */
  readonly outputs: pulumi.Output<HaClusterOutputs>;
  /** amqp URL of the first node WITH the password (secret output). */
  readonly brokerUrl: pulumi.Output<string | undefined>;

  constructor(name: string, args: HaClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:index:HaCluster", name, {}, opts);
    const c = createHaCluster(name, this, args);
    this.context = c.context;
    this.quorumStore = c.quorumStore;
    this.pacemaker = c.pacemaker;
    this.keepalived = c.keepalived;
    this.haproxy = c.haproxy;
    this.postgres = c.postgres;
    this.rabbitmq = c.rabbitmq;
    this.syncthing = c.syncthing;
    this.activePassive = c.activePassive;
    this.appTier = c.appTier;
    this.outputs = c.outputs;
    this.brokerUrl = c.brokerUrl;
    this.registerOutputs({ outputs: this.outputs, brokerUrl: this.brokerUrl });
  }
}

export function createHaCluster(name: string, self: pulumi.Resource, args: HaClusterArgs) {
  const context = prepareCluster(name, args, self);
  const opts = { parent: self };
  const base = { context };
  const quorumStore = new QuorumStore(`${name}-store`, base, opts);
  const pacemaker = new PacemakerCluster(`${name}-pacemaker`, base, opts);
  const keepalived = new KeepalivedVip(`${name}-vip`, base, opts);
  const haproxy = new HaproxyBalancer(`${name}-haproxy`, base, opts);
  const postgres = new PostgresHa(`${name}-postgres`, { ...base, dependsOn: quorumStore.all }, opts);
  const rabbitmq = new RabbitMqCluster(`${name}-rabbitmq`, base, opts);
  const syncthing = new SyncthingFolder(`${name}-syncthing`, base, opts);
  const activePassive = new ActivePassiveApp(`${name}-app`, base, opts);
  const appTier = new AppTier(`${name}-tower`, { ...base, dependsOn: [...rabbitmq.all, ...postgres.all] }, opts);
  // --- Kubernetes target: the SSH components above render nothing for it (no hosts);
  // its objects, endpoints and broker URL come from the KubernetesTarget component. ---
  const kubernetes = context.plan.target === "kubernetes" ? new KubernetesTarget(`${name}-k8s`, { context }, opts) : undefined;
  const k8s = kubernetes?.endpoints;

  // Addresses come from the plan with the deploy-time addresses (Outputs of other resources), not
  // from the program-time plan's placeholders.
  const outputs = pulumi.all([rabbitmq.amqpUrls, postgres.endpoint, context.realPlan]).apply(([amqp, pg, plan]): HaClusterOutputs => ({
    hosts: plan.hosts.map((h) => ({ name: h.name, address: h.address, roles: [...h.roles] })),
    vips: plan.keepalived.map((k) => ({ name: k.name, address: k.vip, prefix: k.prefix })),
    endpoints: {
      amqp: k8s ? k8s.amqp : amqp,
      ...((k8s ? k8s.postgres : pg) ? { postgres: (k8s ? k8s.postgres : pg)! } : {}),
      haproxy: (plan.haproxy?.frontends ?? []).map((f) => ({ name: f.name, bind: f.bind })),
      etcd: [...(plan.quorumStore?.endpoints ?? [])],
    },
    instanceGroups: plan.instanceGroups.map((g) => ({ name: g.name, instances: [...g.instances] })),
    isolatedGroups: plan.isolatedGroups.map((g) => ({ name: g.name, controller: g.controller, instances: [...g.instances] })),
    rabbitmqNodes: k8s ? k8s.rabbitmqNodes : (plan.rabbitmq?.nodes ?? []).map((n) => n.nodeName),
    pacemakerClusters: plan.pacemakerClusters.map((p) => ({ name: p.name, nodes: p.nodes.map((n) => n.host) })),
  }));
  const brokerUrl = context.plan.rabbitmq
    ? pulumi.secret(
        pulumi.all([context.secrets, context.realPlan]).apply(([s, p]) => {
          const r = p.rabbitmq!;
          return `amqp://${encodeURIComponent(r.username)}:${encodeURIComponent(resolveSecret(r.password, s))}@${r.nodes[0]?.address}:${r.port}/${encodeURIComponent(r.vhost)}`;
        }),
      )
    : (kubernetes?.brokerUrl ?? pulumi.output(undefined));
  return {
    kubernetes,
    context,
    quorumStore,
    pacemaker,
    keepalived,
    haproxy,
    postgres,
    rabbitmq,
    syncthing,
    activePassive,
    appTier,
    outputs,
    brokerUrl,
  };
}
