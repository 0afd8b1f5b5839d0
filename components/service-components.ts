/**
 * The typed components, one per service (docs/architecture.md, house style: thin class — super(type, name, args, opts),
 * a pure exported create function, registerOutputs). Each can be used alone from another Pulumi
 * program (pass the inventory and secrets, or a ClusterContext shared by an HaCluster).
 */
import * as pulumi from "@pulumi/pulumi";
import { prepareCluster, type ClusterContext, type HaClusterArgs } from "./cluster-context";
import { createServiceResources, type ServiceResources } from "./service-resources";

export interface ServiceComponentArgs extends Partial<HaClusterArgs> {
  /** A context prepared by an HaCluster; when absent, `inventory` (and secrets) are required. */
  readonly context?: ClusterContext;
  /** Resources that must exist first (e.g. the broker and database for the app tier). */
  readonly dependsOn?: readonly pulumi.Resource[];
}

function contextOf(name: string, args: ServiceComponentArgs, self: pulumi.Resource): ClusterContext {
  if (args.context) return args.context;
  if (!args.inventory) throw new Error(`${name}: pass either context (from an HaCluster) or inventory`);
  return prepareCluster(name, args as HaClusterArgs, self);
}

/** Creates one service's resources under `parent`; nothing when the plan has no such service. */
export function createServicePart(
  name: string,
  parent: pulumi.Resource,
  ctx: ClusterContext,
  service: string,
  dependsOn: readonly pulumi.Resource[] = [],
): ServiceResources {
  const part = ctx.structure.find((p) => p.service === service);
  if (!part) return { files: [], restarts: new Map(), actions: [] };
  return createServiceResources(name, parent, ctx, part, dependsOn);
}

abstract class ServiceComponent extends pulumi.ComponentResource {
  readonly resources: ServiceResources;
  protected readonly ctx: ClusterContext;

  protected constructor(type: string, service: string, name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, {}, opts);
    this.ctx = contextOf(name, args, this);
    this.resources = createServicePart(name, this, this.ctx, service, args.dependsOn ?? []);
  }

  /** Every resource of this component, for dependsOn from later components. */
  get all(): pulumi.Resource[] {
    return [...this.resources.files, ...[...this.resources.restarts.values()].flat(), ...this.resources.actions];
  }
}

export class AppTier extends ServiceComponent {
  readonly instanceGroups: pulumi.Output<{ name: string; instances: string[] }[]>;
  readonly isolatedGroups: pulumi.Output<{ name: string; controller: string; instances: string[] }[]>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:tower:AppTier", "tower", name, args, opts);
    this.instanceGroups = pulumi.output(this.ctx.plan.instanceGroups.map((g) => ({ name: g.name, instances: [...g.instances] })));
    this.isolatedGroups = pulumi.output(
      this.ctx.plan.isolatedGroups.map((g) => ({ name: g.name, controller: g.controller, instances: [...g.instances] })),
    );
    this.registerOutputs({ instanceGroups: this.instanceGroups, isolatedGroups: this.isolatedGroups });
  }
}

export class RabbitMqCluster extends ServiceComponent {
  readonly nodeNames: pulumi.Output<string[]>;
  /** amqp://user@host:port/vhost per node, without the password. */
  readonly amqpUrls: pulumi.Output<string[]>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:rabbitmq:RabbitMqCluster", "rabbitmq", name, args, opts);
    const r = this.ctx.plan.rabbitmq;
    this.nodeNames = pulumi.output(r ? r.nodes.map((n) => n.nodeName) : []);
    // Addresses from the plan with the deploy-time host addresses.
    this.amqpUrls = this.ctx.realPlan.apply((p) => {
      const rr = p.rabbitmq;
      return rr
        ? rr.nodes.map((n) => `amqp://${encodeURIComponent(rr.username)}@${n.address}:${rr.port}/${encodeURIComponent(rr.vhost)}`)
        : [];
    });
    this.registerOutputs({ nodeNames: this.nodeNames, amqpUrls: this.amqpUrls });
  }
}

export class PacemakerCluster extends ServiceComponent {
  readonly clusters: pulumi.Output<{ name: string; nodes: string[]; quorum: number; expectedVotes: number }[]>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:pacemaker:PacemakerCluster", "pacemaker", name, args, opts);
    this.clusters = pulumi.output(
      this.ctx.plan.pacemakerClusters.map((c) => ({
        name: c.name,
        nodes: c.nodes.map((n) => n.host),
        quorum: c.quorum.quorum,
        expectedVotes: c.quorum.expectedVotes,
      })),
    );
    this.registerOutputs({ clusters: this.clusters });
  }
}

export class KeepalivedVip extends ServiceComponent {
  readonly vips: pulumi.Output<{ name: string; address: string; prefix: number; interface: string; routerId: number }[]>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:keepalived:KeepalivedVip", "keepalived", name, args, opts);
    this.vips = pulumi.output(
      this.ctx.plan.keepalived.map((k) => ({
        name: k.name,
        address: k.vip,
        prefix: k.prefix,
        interface: k.interface,
        routerId: k.routerId,
      })),
    );
    this.registerOutputs({ vips: this.vips });
  }
}

export class HaproxyBalancer extends ServiceComponent {
  readonly frontends: pulumi.Output<{ name: string; bind: string; backend: string }[]>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:haproxy:HaproxyBalancer", "haproxy", name, args, opts);
    this.frontends = pulumi.output(
      (this.ctx.plan.haproxy?.frontends ?? []).map((f) => ({ name: f.name, bind: f.bind, backend: f.backend })),
    );
    this.registerOutputs({ frontends: this.frontends });
  }
}

export class QuorumStore extends ServiceComponent {
  readonly endpoints: pulumi.Output<string[]>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:quorumstore:QuorumStore", "quorum-store", name, args, opts);
    this.endpoints = this.ctx.realPlan.apply((p) => [...(p.quorumStore?.endpoints ?? [])]);
    this.registerOutputs({ endpoints: this.endpoints });
  }
}

export class PostgresHa extends ServiceComponent {
  /** host:port clients use (the VIP, or the local stolon proxy). */
  readonly endpoint: pulumi.Output<string | undefined>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:postgres:PostgresHa", "postgres", name, args, opts);
    this.endpoint = this.ctx.realPlan.apply((p) => p.postgres?.endpoint);
    this.registerOutputs({ endpoint: this.endpoint });
  }
}

export class SyncthingFolder extends ServiceComponent {
  readonly folders: pulumi.Output<{ id: string; path: string; hosts: string[] }[]>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:syncthing:SyncthingFolder", "syncthing", name, args, opts);
    this.folders = pulumi.output((this.ctx.plan.syncthing?.folders ?? []).map((f) => ({ id: f.id, path: f.path, hosts: [...f.hosts] })));
    this.registerOutputs({ folders: this.folders });
  }
}

export class ActivePassiveApp extends ServiceComponent {
  readonly apps: pulumi.Output<{ name: string; vip: string; active: string; passive: string[] }[]>;
  constructor(name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:activepassive:ActivePassiveApp", "active-passive", name, args, opts);
    // The node asked to be active (`active`), else the one that starts active.
    this.apps = pulumi.output(
      this.ctx.plan.activePassive.map((a) => {
        const active = a.active ?? a.hosts[0]!;
        return { name: a.name, vip: a.vip, active, passive: a.hosts.filter((h) => h !== active) };
      }),
    );
    this.registerOutputs({ apps: this.apps });
  }
}
