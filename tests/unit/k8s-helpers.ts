/**
 * Helpers for the Kubernetes target tests: the k8s inventories (every example with `target:
 * kubernetes` plus variants that stress counts, names and options), rendering them, validating
 * objects against the Kubernetes API schema (kubernetes-models), and walking pod templates.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { secretKey, type SecretValues } from "../../src/core/secrets";
import { Inventory, type InventoryInput } from "../../src/inventory/schema";
import { planCluster } from "../../src/pipeline/plan";
import type { ClusterPlan } from "../../src/plan/types";
import { collectSecretRefs } from "../../src/render/output";
import { renderDesiredState, requiredMaterials } from "../../src/pipeline/render";

export const ROOT = join(__dirname, "..", "..");

export type Obj = Record<string, any> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

/** Example inventories whose target is kubernetes. */
export function exampleK8sInventories(): string[] {
  const dir = join(ROOT, "inventories");
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f))
    .filter((p) => analyzeInventoryFile(p).inventory?.target === "kubernetes");
}

export const TOWER_K8S = join(ROOT, "inventories", "tower-k8s.yaml");
export const towerK8sInput = (): InventoryInput => yaml.load(readFileSync(TOWER_K8S, "utf8")) as InventoryInput;

/** Variants of the example that change counts, names and options. */
export function variants(): Record<string, InventoryInput> {
  const base = towerK8sInput();
  return {
    "lb-5-nodes-odd-groups": {
      ...base,
      tower: {
        ...base.tower,
        instanceGroups: [{ name: "tower" }, { name: "east_1" }, { name: "east-1" }, { name: "Web.Tier", policy: { minimum: 4 } }],
      },
      rabbitmq: { ...base.rabbitmq, enableManagement: false, partitionHandling: "autoheal" },
      // Named like the Tower objects: must not collide with them.
      postgres: { ...base.postgres!, clusterName: "tower" },
      kubernetes: {
        namespace: "haforge",
        replicas: { rabbitmq: 5, web: 3, task: 1, keepers: 5, sentinels: 5, proxies: 3 },
        loadBalancer: true,
        images: { rabbitmq: "registry.local/rabbitmq:3.10.8" },
      },
    },
    "single-replicas-external-db": {
      ...base,
      name: "solo",
      tower: {
        ...base.tower,
        database: { host: "db.example.com", port: 5433, name: "awx", username: "awx", password: { secret: "pgPassword" } },
        secretKey: undefined,
      },
      postgres: undefined,
      kubernetes: { namespace: "solo", replicas: { rabbitmq: 1, web: 1, task: 1, keepers: 1, sentinels: 1, proxies: 1 } },
    },
    "broker-only": {
      version: 1,
      name: "broker",
      target: "kubernetes",
      rabbitmq: { password: { secret: "rabbitmqPassword" }, cookie: { secret: "rabbitmqCookie" }, username: "guest", vhost: "/" },
      kubernetes: { namespace: "mq" },
    },
    "long-names": {
      ...base,
      name: "a-very-long-inventory-name-that-goes-on-and-on-and-on-forever",
      tower: { ...base.tower, instanceGroups: [{ name: "tower" }, { name: "an_instance_group_with_a_really_long_name_indeed" }] },
      postgres: { ...base.postgres!, clusterName: "a-postgres-cluster-name-that-is-long-too" },
      kubernetes: { ...base.kubernetes, namespace: "ns" },
    },
  };
}

export function planOf(input: InventoryInput): ClusterPlan {
  const inv = Inventory.parse(input);
  const r = planCluster(inv);
  if (!r.plan) throw new Error(`inventory does not plan: ${r.findings.map((f) => `${f.code} ${f.path}`).join("; ")}`);
  return r.plan;
}

/** A recognisable value per secret reference (and per material), as the CLI would resolve them. */
export function fakeSecrets(plan: ClusterPlan): { secrets: SecretValues; materials: Record<string, string>; values: string[] } {
  const secrets: Record<string, string> = {};
  for (const ref of collectSecretRefs(plan.inventory))
    if (!("value" in ref)) secrets[secretKey(ref)] = `S3CR3T-${secretKey(ref).replace(/\W/g, "")}-v`;
  const materials = Object.fromEntries(requiredMaterials(plan).map((m) => [m.key, `MATERIAL-${m.key.replace(/\W/g, "")}-v`]));
  return { secrets, materials, values: [...Object.values(secrets), ...Object.values(materials)] };
}

export function renderObjects(plan: ClusterPlan): { objects: Obj[]; values: string[] } {
  const { secrets, materials, values } = fakeSecrets(plan);
  return { objects: renderDesiredState(plan, secrets, materials).manifests as Obj[], values };
}

/** Every k8s inventory the tests cover: the examples and the variants, by label. */
export function allK8sCases(): { label: string; plan: ClusterPlan }[] {
  return [
    ...exampleK8sInventories().map((p) => ({ label: p.slice(ROOT.length + 1), plan: analyzeInventoryFile(p).plan! })),
    ...Object.entries(variants()).map(([label, input]) => ({ label: `variant ${label}`, plan: planOf(input) })),
  ];
}

// --- kubernetes-models ---------------------------------------------------------------------------

type ModelClass = new (data: unknown) => { validate(): void };
const modelCache = new Map<string, Record<string, ModelClass>>();

/**
 * The kubernetes-models class for an object's apiVersion and kind. The package is ESM-only, so
 * it is imported dynamically (the specifier in a variable keeps tsc's node10 resolution out).
 */
export async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  const spec = `kubernetes-models/${apiVersion}`;
  let mod = modelCache.get(spec);
  if (!mod) {
    mod = (await import(spec)) as Record<string, ModelClass>;
    modelCache.set(spec, mod);
  }
  const cls = mod[kind];
  if (!cls) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return cls;
}

/** Validates against the Kubernetes OpenAPI schema; returns the error text, or undefined. */
export async function schemaErrors(obj: Obj): Promise<string | undefined> {
  const cls = await modelFor(obj.apiVersion, obj.kind);
  try {
    new cls(structuredClone(obj)).validate();
    return undefined;
  } catch (e) {
    return String((e as Error).message ?? e);
  }
}

// --- walking objects -----------------------------------------------------------------------------

export const WORKLOAD_KINDS = new Set(["StatefulSet", "Deployment", "Job"]);
export const podTemplate = (
  o: Obj,
): { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: any } | undefined =>
  WORKLOAD_KINDS.has(o.kind) ? o.spec.template : undefined;
export const containersOf = (o: Obj): any[] => {
  const t = podTemplate(o);
  return t ? [...(t.spec.initContainers ?? []), ...t.spec.containers] : [];
};
/** True when every label of `selector` is on `labels`. */
export const selects = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
export const find = (objects: readonly Obj[], kind: string, name: string): Obj | undefined =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
export const waveOf = (o: Obj): number => Number(o.metadata.annotations?.["haforge.io/wave"] ?? 0);
