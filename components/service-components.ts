/**
 * The service components, one per registered service with a `component` spec (docs/architecture.md,
 * "A service"). Each can be used alone from another Pulumi program (pass the inventory and
 * secrets, or a ClusterContext shared by an HaCluster).
 */
import * as pulumi from "../src/providers/pulumi-sdk";
import { prepareCluster, type ClusterContext, type HaClusterArgs } from "./cluster-context";
import { declareServiceResources, type ServiceResources } from "./service-resources";
import { afterDeclared, type Steps } from "./declaration";
import { deployOrder } from "../src/services/registry";
import type { ServiceModule } from "../src/services/types";

export interface ServiceComponentArgs extends Partial<HaClusterArgs> {
  /** A context prepared by an HaCluster; when absent, `inventory` (and secrets) are required. */
  readonly context?: ClusterContext;
  /**
   * Resources that must exist first (e.g. the broker and database for the app tier), or a function
   * that returns them, called when the component starts declaring its resources: after every
   * component queued before it on the same context has declared its own (createServiceComponents).
   */
  readonly dependsOn?: readonly pulumi.Resource[] | (() => readonly pulumi.Resource[]);
}

function contextOf(name: string, args: ServiceComponentArgs, self: pulumi.Resource): ClusterContext {
  if (args.context) return args.context;
  if (!args.inventory) throw new Error(`${name}: pass either context (from an HaCluster) or inventory`);
  return prepareCluster(name, args as HaClusterArgs, self);
}

/** One service's resources from the cluster's structure, one step per resource (components/declaration.ts). */
export function* declareServicePart(
  name: string,
  parent: pulumi.Resource,
  ctx: ClusterContext,
  service: string,
  dependsOn: readonly pulumi.Resource[] = [],
): Steps<ServiceResources> {
  const part = ctx.structure.find((p) => p.service === service);
  if (!part) return { files: [], restarts: new Map(), actions: [], sinks: [] };
  return yield* declareServiceResources(name, parent, ctx, part, dependsOn);
}

/**
 * One service's component, built from its `component` spec (src/services/types.ts): type token,
 * name and outputs come from the service folder, so adding a service needs nothing here.
 * `new ServiceComponent(rabbitmqService, "mq", { inventory })` deploys one service alone.
 */
export class ServiceComponent extends pulumi.ComponentResource {
  readonly service: string;
  /** Filled as the resources are declared (in chunks: components/declaration.ts); complete once `declared` resolves. */
  readonly resources: ServiceResources;
  /** Resolves when every resource of the component is declared. */
  readonly declared: Promise<void>;
  /** The service's outputs (ServiceComponentSpec.outputs and addressOutputs), by name. */
  readonly outputs: Readonly<Record<string, pulumi.Output<unknown>>>;
  protected readonly ctx: ClusterContext;

  constructor(service: ServiceModule, name: string, args: ServiceComponentArgs, opts?: pulumi.ComponentResourceOptions) {
    const spec = service.component;
    if (!spec) throw new Error(`${name}: the ${service.name} service has no component`);
    super(spec.type, name, {}, opts);
    this.service = service.name;
    this.ctx = contextOf(name, args, this);
    this.resources = { files: [], restarts: new Map(), actions: [], sinks: [] };
    const dependsOn = args.dependsOn ?? [];
    this.declared = this.ctx.declaration.run(() =>
      this.declare(name, service.name, typeof dependsOn === "function" ? dependsOn : () => dependsOn),
    );
    const outputs: Record<string, pulumi.Output<unknown>> = {};
    for (const [k, v] of Object.entries(spec.outputs?.(this.ctx.plan) ?? {})) outputs[k] = pulumi.output(v);
    // Addresses from the plan with the deploy-time host addresses.
    const address = spec.addressOutputs;
    if (address) for (const k of Object.keys(address(this.ctx.plan))) outputs[k] = this.ctx.realPlan.apply((p) => address(p)[k]);
    // Read by others once every resource is declared; registered as they are (see HaCluster).
    this.outputs = Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, afterDeclared(this.declared, o)]));
    this.registerOutputs(outputs);
  }

  private *declare(name: string, service: string, dependsOn: () => readonly pulumi.Resource[]): Steps<void> {
    const r = yield* declareServicePart(name, this, this.ctx, service, dependsOn());
    const into = this.resources;
    into.files.push(...r.files);
    for (const [k, v] of r.restarts) into.restarts.set(k, v);
    into.actions.push(...r.actions);
    into.sinks.push(...r.sinks);
  }

  /** Every resource of this component, for dependsOn from later components. */
  get all(): pulumi.Resource[] {
    return [...this.resources.files, ...[...this.resources.restarts.values()].flat(), ...this.resources.actions];
  }

  /** The resources of this component that nothing else in it waits for: waiting for them is waiting for `all`. */
  get sinks(): pulumi.Resource[] {
    return this.resources.sinks;
  }
}

/**
 * Every service's component, in deploy order (src/services/registry.ts), each depending on the
 * resources of the services its spec names in `after`.
 */
export function createServiceComponents(
  name: string,
  context: ClusterContext,
  opts: pulumi.ComponentResourceOptions,
): ReadonlyMap<string, ServiceComponent> {
  const created = new Map<string, ServiceComponent>();
  for (const service of deployOrder) {
    const spec = service.component;
    if (!spec) continue;
    // The earlier services' sinks: the same wait as every resource of theirs (ServiceResources.sinks),
    // read when this service starts declaring (the earlier ones are declared by then).
    const dependsOn = () => (spec.after ?? []).flatMap((s) => created.get(s)?.sinks ?? []);
    created.set(
      service.name,
      new ServiceComponent(service, `${name}-${spec.suffix}`, { context, ...(spec.after ? { dependsOn } : {}) }, opts),
    );
  }
  return created;
}
