/**
 * Builders for the plain Kubernetes objects the services render. Plain data only (the CLI dumps it
 * as YAML, the Pulumi target maps it to @pulumi/kubernetes resources, the tests validate it with
 * kubernetes-models): no classes, no Outputs. Keys are written in a fixed order and maps sorted,
 * so the same plan renders identical objects.
 */
import { createHash } from "node:crypto";
import { ANNOTATION, type Labels } from "./labels";

export type K8sObject = Record<string, unknown> & {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
};

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Labels;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * Apply waves. Services sit in the wave of the pods they select: the Pulumi provider waits for a
 * Service's endpoints, so a Service created before its pods could never become ready.
 */
export const WAVE = {
  /** Identity, RBAC, configuration: everything pods mount or run as. */
  config: 0,
  /** One-shot initialisation that needs no running pod (`stolonctl init`). */
  init: 1,
  /** The data tier: RabbitMQ and stolon, with their Services and PDBs. */
  data: 2,
  /** Jobs that need the data tier up (the Tower database and role). */
  bootstrap: 3,
  /** The app tier and its entry point. */
  app: 4,
} as const;

const sorted = <T>(o: Readonly<Record<string, T>>): Record<string, T> =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function meta(
  namespace: string,
  name: string,
  labels: Labels,
  wave: number,
  annotations: Readonly<Record<string, string>> = {},
): ObjectMeta {
  return { name, namespace, labels: sorted(labels), annotations: sorted({ ...annotations, [ANNOTATION.wave]: String(wave) }) };
}

/** The wave of an object (0 when it carries none). */
export function waveOf(obj: { metadata?: unknown }): number {
  const a = (obj.metadata as ObjectMeta | undefined)?.annotations?.[ANNOTATION.wave];
  return a === undefined ? 0 : Number(a);
}

export function serviceAccount(m: ObjectMeta): K8sObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: m };
}

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

export function role(m: ObjectMeta, rules: readonly PolicyRule[]): K8sObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: m,
    rules: rules.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
  };
}

export function roleBinding(m: ObjectMeta, roleName: string, serviceAccountName: string): K8sObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: m,
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
    subjects: [{ kind: "ServiceAccount", name: serviceAccountName, namespace: m.namespace }],
  };
}

/**
 * Secret values go in `stringData` as plain strings: `haforge render` masks secret values
 * textually and would not recognise them base64-encoded in `data`; the Pulumi target wraps the
 * whole map as a Pulumi secret.
 */
export function secret(m: ObjectMeta, stringData: Readonly<Record<string, string>>): K8sObject {
  return { apiVersion: "v1", kind: "Secret", metadata: m, type: "Opaque", stringData: sorted(stringData) };
}

export function configMap(m: ObjectMeta, data: Readonly<Record<string, string>>): K8sObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: m, data: sorted(data) };
}

export interface ServicePort {
  readonly name: string;
  readonly port: number;
  readonly targetPort?: number | string;
}

export function service(
  m: ObjectMeta,
  selector: Labels,
  ports: readonly ServicePort[],
  opts: { readonly headless?: boolean; readonly publishNotReadyAddresses?: boolean; readonly type?: "ClusterIP" | "LoadBalancer" } = {},
): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: m,
    spec: {
      type: opts.type ?? "ClusterIP",
      ...(opts.headless ? { clusterIP: "None" } : {}),
      ...(opts.publishNotReadyAddresses ? { publishNotReadyAddresses: true } : {}),
      selector: sorted(selector),
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort ?? p.port, protocol: "TCP" })),
    },
  };
}

/** A PodDisruptionBudget: `minAvailable` for quorum members, `maxUnavailable` for stateless pods. */
export function pdb(
  m: ObjectMeta,
  selector: Labels,
  budget: { readonly minAvailable: number } | { readonly maxUnavailable: number },
): K8sObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: m,
    spec: { ...budget, selector: { matchLabels: sorted(selector) } },
  };
}

/**
 * Spread pods matching `selector` over nodes. Preferred, not required: a required rule leaves
 * pods Pending on clusters with fewer nodes than replicas (a one-node test cluster), while the
 * PDBs still keep voluntary evictions from taking a quorum down.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
 */
export function spreadOverNodes(selector: Labels): Record<string, unknown> {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: sorted(selector) } } },
      ],
    },
  };
}

export const envValue = (name: string, value: string) => ({ name, value });
export const envField = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
export const envSecret = (name: string, secretName: string, key: string) => ({
  name,
  valueFrom: { secretKeyRef: { name: secretName, key } },
});

/** sha256 of a config map's data: the pod template annotation that rolls pods on a change. */
export function configHash(data: Readonly<Record<string, string>>): string {
  return createHash("sha256")
    .update(JSON.stringify(sorted(data)))
    .digest("hex");
}

/** The PVC template of a StatefulSet. */
export function volumeClaim(name: string, size: string, storageClass: string | undefined): Record<string, unknown> {
  return {
    metadata: { name },
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(storageClass ? { storageClassName: storageClass } : {}),
      resources: { requests: { storage: size } },
    },
  };
}
