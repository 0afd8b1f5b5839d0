/**
 * HaCluster: the whole inventory as one component. Builds the shared ClusterContext (validated
 * plan, secrets, materials, render), then one component per registered service in deploy order
 * (src/services/registry.ts: each after the services it depends on), and the stack outputs.
 */
import * as pulumi from "../src/providers/pulumi-sdk";
import { brokerUrl, clusterOutputs, type ClusterOutputs } from "../src/plan/summary";
import { prepareCluster, type ClusterContext, type HaClusterArgs } from "./cluster-context";
import { createServiceComponents, type ServiceComponent } from "./service-components";
import type { KubernetesTarget } from "./kubernetes-target";
import { afterDeclared } from "./declaration";

export type { HaClusterArgs } from "./cluster-context";

/** The stack outputs (src/plan/summary.ts). */
export type HaClusterOutputs = ClusterOutputs;

export class HaCluster extends pulumi.ComponentResource {
  readonly context: ClusterContext;
  /** Each service's component by the service's registered name. */
  readonly services: ReadonlyMap<string, ServiceComponent>;
  /** Stable, non-secret outputs for StackReference consumers. */
  readonly outputs: pulumi.Output<HaClusterOutputs>;
  /** amqp URL of the first node WITH the password (secret output). */
  readonly brokerUrl: pulumi.Output<string | undefined>;

  constructor(name: string, args: HaClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:index:HaCluster", name, {}, opts);
    const c = createHaCluster(name, this, args);
    this.context = c.context;
    this.services = c.services;
    this.outputs = c.outputs;
    this.brokerUrl = c.brokerUrl;
    // The same values, without the wait for the declaration: a declaration that fails rejects the
    // outputs, and the SDK would report the error once more, renamed, from this registration.
    this.registerOutputs(c.registered);
  }
}

export function createHaCluster(name: string, self: pulumi.Resource, args: HaClusterArgs) {
  const context = prepareCluster(name, args, self);
  const opts = { parent: self };
  const services = createServiceComponents(name, context, opts);
  // --- Kubernetes target: the SSH components above render nothing for it (no hosts);
  // its objects, endpoints and broker URL come from the KubernetesTarget component. ---
  // Loaded only for a Kubernetes target: @pulumi/kubernetes takes ~1.8 s of CPU to load (890
  // modules), more than the rest of a 100-host SSH program's start.
  const kubernetes: KubernetesTarget | undefined =
    context.plan.target === "kubernetes"
      ? new (require("./kubernetes-target") as typeof import("./kubernetes-target")).KubernetesTarget(`${name}-k8s`, { context }, opts)
      : undefined;
  const k8s = kubernetes?.endpoints;

  // Addresses come from the plan with the deploy-time addresses (Outputs of other resources), not
  // from the program-time plan's placeholders. The outputs (the stack's) resolve once the last
  // resource is declared (components/declaration.ts): the program does not end before.
  const outputs = context.realPlan.apply((plan): HaClusterOutputs => clusterOutputs(plan, k8s));
  const broker = context.plan.rabbitmq
    ? pulumi.secret(pulumi.all([context.secrets, context.realPlan]).apply(([s, p]) => brokerUrl(p, s)))
    : (kubernetes?.brokerUrl ?? pulumi.output(undefined));
  const declared = context.declaration.done;
  return {
    kubernetes,
    context,
    services,
    outputs: afterDeclared(declared, outputs),
    brokerUrl: afterDeclared(declared, broker),
    registered: { outputs, brokerUrl: broker },
  };
}
