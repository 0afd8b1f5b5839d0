/**
 * The Kubernetes target: every object the services rendered (src/services/<svc>/kubernetes.ts)
 * as a typed @pulumi/kubernetes resource. Like the SSH side (service-resources.ts), the object
 * set, names and metadata come from the structure render (placeholder secrets: the graph depends
 * only on the plan) and every other field from the real render inside an Output:
 *  - a Secret's `stringData`/`data` is a Pulumi secret; every other field is declassified, so
 *    `pulumi preview --diff` shows it (the program tests check that no secret value reaches one);
 *  - apply order is the objects' waves (haforge.io/wave): an object depends on every object of a
 *    lower wave (RBAC and config → `stolonctl init` → data tier → database Job → app tier);
 *  - the provider: stack config `haforge:kubeconfig` (path or content) and `haforge:kubeContext`
 *    when given, else the ambient kubeconfig.
 * Resource names are `${name}-<kind>-<object name>` and stable: renaming one replaces the object.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { homedir } from "node:os";
import { waveOf } from "../src/kubernetes/objects";
import { resolveSecret } from "../src/core/secrets";
import type { ServiceRender } from "../src/pipeline/render";
import { k8sPostgresEndpoint, stolonOnKubernetes } from "../src/services/postgres/k8s-topology";
import { k8sAmqpUrl, rabbitmqOnKubernetes } from "../src/services/rabbitmq/k8s-topology";
import { towerOnKubernetes } from "../src/services/tower/k8s-topology";
import type { ClusterContext } from "./cluster-context";

type K8sResourceClass = new (name: string, args: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** `apiVersion/kind` → the typed resource class. Every kind a service renders must be here. */
export const KIND_CLASSES: Readonly<Record<string, K8sResourceClass>> = {
  "v1/ConfigMap": k8s.core.v1.ConfigMap,
  "v1/Secret": k8s.core.v1.Secret,
  "v1/Service": k8s.core.v1.Service,
  "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
  "apps/v1/StatefulSet": k8s.apps.v1.StatefulSet as unknown as K8sResourceClass,
  "apps/v1/Deployment": k8s.apps.v1.Deployment as unknown as K8sResourceClass,
  "batch/v1/Job": k8s.batch.v1.Job,
  "policy/v1/PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding as unknown as K8sResourceClass,
  "networking.k8s.io/v1/Ingress": k8s.networking.v1.Ingress,
};

/** Fields of a Secret that hold its values. */
const SECRET_FIELDS = new Set(["stringData", "data"]);

interface ObjectRef {
  readonly service: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

const keyOf = (o: { apiVersion: string; kind: string; name: string }) => `${o.apiVersion}/${o.kind}/${o.name}`;

function findObject(rendered: readonly ServiceRender[], ref: ObjectRef): Manifest {
  const part = rendered.find((r) => r.service === ref.service);
  const obj = (part?.manifests as Manifest[] | undefined)?.find(
    (m) => keyOf({ apiVersion: m.apiVersion, kind: m.kind, name: m.metadata.name }) === keyOf(ref),
  );
  if (!obj) throw new Error(`haforge: ${ref.kind} ${ref.name} vanished between the structure and the real render of ${ref.service}`);
  return obj;
}

/** The provider from stack config, or undefined for the ambient kubeconfig. */
export function providerFromConfig(name: string, parent: pulumi.Resource): k8s.Provider | undefined {
  const cfg = new pulumi.Config("haforge");
  // May be a path or the whole file (with credentials): read as a secret either way.
  const kubeconfig = cfg.getSecret("kubeconfig")?.apply((k) => (k.startsWith("~/") ? `${homedir()}${k.slice(1)}` : k));
  const context = cfg.get("kubeContext");
  if (kubeconfig === undefined && context === undefined) return undefined;
  return new k8s.Provider(`${name}-provider`, { ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { context } : {}) }, { parent });
}

/** Non-secret stack outputs of the target, for the same names the SSH target fills. */
export interface KubernetesEndpoints {
  /** amqp://user@service:port/vhost (no password). */
  readonly amqp: string[];
  readonly postgres?: string;
  readonly rabbitmqNodes: string[];
  /** The entry point: the Ingress host, else the web Service. */
  readonly web?: string;
}

export function kubernetesEndpoints(ctx: ClusterContext): KubernetesEndpoints {
  const r = rabbitmqOnKubernetes(ctx.plan);
  const s = stolonOnKubernetes(ctx.plan);
  const t = towerOnKubernetes(ctx.plan);
  const web = t
    ? t.target.ingress
      ? `http://${t.target.ingress.host}/`
      : `http://${t.names.entry}.${t.target.namespace}.svc/`
    : undefined;
  return {
    amqp: r ? [k8sAmqpUrl(r)] : [],
    ...(s ? { postgres: k8sPostgresEndpoint(s) } : {}),
    rabbitmqNodes: r ? r.rabbitmq.nodes.map((n) => n.nodeName) : [],
    ...(web ? { web } : {}),
  };
}

export interface KubernetesTargetResult {
  readonly resources: pulumi.Resource[];
  readonly provider?: k8s.Provider;
  readonly endpoints: KubernetesEndpoints;
  /** amqp URL of the broker Service WITH the password (secret output). */
  readonly brokerUrl: pulumi.Output<string | undefined>;
}

export function createKubernetesTarget(
  name: string,
  parent: pulumi.Resource,
  ctx: ClusterContext,
  opts?: { provider?: k8s.Provider },
): KubernetesTargetResult {
  const provider = opts?.provider ?? providerFromConfig(name, parent);
  const objects = ctx.structure.flatMap((part) => (part.manifests as Manifest[]).map((m) => ({ service: part.service, m })));
  const byWave = new Map<number, pulumi.Resource[]>();
  const resources: pulumi.Resource[] = [];
  // Lower waves first, so their resources exist when a later wave lists them in dependsOn.
  const ordered = objects.map((o, i) => ({ ...o, i, wave: waveOf(o.m) })).sort((a, b) => a.wave - b.wave || a.i - b.i);
  for (const { service, m, wave } of ordered) {
    const cls = KIND_CLASSES[`${m.apiVersion}/${m.kind}`];
    if (!cls) throw new Error(`haforge: ${service} rendered a ${m.apiVersion} ${m.kind}, which the Kubernetes target does not map`);
    const ref: ObjectRef = { service, apiVersion: m.apiVersion, kind: m.kind, name: m.metadata.name };
    const real = ctx.rendered.apply((r) => findObject(r, ref));
    const args: Record<string, unknown> = { metadata: m.metadata };
    for (const field of Object.keys(m)) {
      if (field === "apiVersion" || field === "kind" || field === "metadata") continue;
      const value = real.apply((o) => o[field]);
      args[field] = m.kind === "Secret" && SECRET_FIELDS.has(field) ? pulumi.secret(value) : pulumi.unsecret(value);
    }
    const earlier = [...byWave.entries()].filter(([w]) => w < wave).flatMap(([, rs]) => rs);
    const res = new cls(`${name}-${m.kind.toLowerCase()}-${m.metadata.name}`, args, {
      parent,
      dependsOn: earlier,
      ...(provider ? { provider } : {}),
    });
    resources.push(res);
    byWave.set(wave, [...(byWave.get(wave) ?? []), res]);
  }

  const r = rabbitmqOnKubernetes(ctx.plan);
  const brokerUrl = r
    ? pulumi.secret(ctx.secrets.apply((s) => k8sAmqpUrl(r, resolveSecret(r.rabbitmq.password, s))))
    : pulumi.output(undefined);
  return { resources, ...(provider ? { provider } : {}), endpoints: kubernetesEndpoints(ctx), brokerUrl };
}

export interface KubernetesTargetArgs {
  /** The context prepared by an HaCluster (plan, render, secrets). */
  readonly context: ClusterContext;
  /** A provider of your own. @default - from stack config `haforge:kubeconfig` / `haforge:kubeContext`, else the ambient kubeconfig */
  readonly provider?: k8s.Provider;
}

/** The Kubernetes objects of a `target: kubernetes` inventory, as one component. */
export class KubernetesTarget extends pulumi.ComponentResource {
  readonly resources: pulumi.Resource[];
  readonly endpoints: KubernetesEndpoints;
  readonly brokerUrl: pulumi.Output<string | undefined>;
  constructor(name: string, args: KubernetesTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haforge:kubernetes:KubernetesTarget", name, {}, opts);
    const t = createKubernetesTarget(name, this, args.context, args.provider ? { provider: args.provider } : {});
    this.resources = t.resources;
    this.endpoints = t.endpoints;
    this.brokerUrl = t.brokerUrl;
    this.registerOutputs({ endpoints: this.endpoints, brokerUrl: this.brokerUrl });
  }
}
