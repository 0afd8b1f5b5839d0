/**
 * The Tower app tier on a Kubernetes target (Tower 3.3's container-based clusters): per instance
 * group a web Deployment and a task Deployment, spread over nodes, each with a memcached sidecar;
 * a Service per group's web pods and one entry Service over every web pod (LoadBalancer when
 * `kubernetes.loadBalancer`), an Ingress when `kubernetes.ingress` is set; the settings ConfigMap
 * pointing at the RabbitMQ and stolon Services; a Secret with SECRET_KEY and the passwords; and,
 * when the database is the stolon cluster on the same target, a Job that creates Tower's role and
 * database once the proxies answer.
 */
import type { MaterialSpec } from "../../core/materials";
import { resolveSecret } from "../../core/secrets";
import type { ClusterPlan } from "../../plan/types";
import {
  ANNOTATION,
  configHash,
  configMap,
  envSecret,
  envValue,
  meta,
  objectLabels,
  pdb,
  secret,
  service,
  spreadOverNodes,
  WAVE,
  type K8sObject,
  type Labels,
} from "../../kubernetes";
import type { KubernetesRenderResult, RenderContext, ServiceModule } from "../types";
import { PG_SUPERUSER } from "../postgres/patroni";
import { STOLON_SECRET_KEYS } from "../postgres/k8s-topology";
import { RABBITMQ_SECRET_KEYS } from "../rabbitmq/k8s-topology";
import { K8S_SECRET_KEY_MATERIAL, TOWER_SECRET_KEYS, WEB_PORT, towerOnKubernetes, type TowerOnKubernetes } from "./k8s-topology";
import { SECRET_KEY_PATH, SETTINGS_PY_KEY, SETTINGS_PY_PATH, dbBootstrapScript, settingsPy, towerEnv } from "./k8s-settings";
import { renderPart } from "./render";

const MEMCACHED_PORT = 11211;

/** Environment of a Tower container: addresses from the ConfigMap, passwords from Secrets. */
function podEnv(t: TowerOnKubernetes, withAdmin: boolean) {
  const fromConfig = Object.keys(towerEnv(t))
    .sort()
    .map((key) => ({ name: key, valueFrom: { configMapKeyRef: { name: t.names.settings, key } } }));
  return [
    ...fromConfig,
    envSecret("DATABASE_PASSWORD", t.names.secret, TOWER_SECRET_KEYS.dbPassword),
    // One copy of the broker password: the RabbitMQ Secret's.
    envSecret("RABBITMQ_PASSWORD", t.broker.names.secret, RABBITMQ_SECRET_KEYS.password),
    ...(withAdmin && t.adminPassword ? [envSecret("AWX_ADMIN_PASSWORD", t.names.secret, TOWER_SECRET_KEYS.adminPassword)] : []),
  ];
}

/** The object metadata of one manifest: its name, wave and identity labels. */
type MetaOf = (name: string, wave: number, selector: Labels) => ReturnType<typeof meta>;
/** A Deployment of Tower pods: its name, selector, replicas and containers (memcached is added). */
type DeploymentOf = (name: string, selector: Labels, replicas: number, containers: Record<string, unknown>[]) => K8sObject;

/** The Secret's data: SECRET_KEY (the inventory's, else the generated material), the database and admin passwords. */
function towerSecretData(t: TowerOnKubernetes, ctx: RenderContext): Record<string, string> {
  const secretKey = t.secretKey ? resolveSecret(t.secretKey, ctx.secrets) : (ctx.materials[K8S_SECRET_KEY_MATERIAL] ?? "");
  return {
    [TOWER_SECRET_KEYS.secretKey]: secretKey,
    [TOWER_SECRET_KEYS.dbPassword]: t.database.password ? resolveSecret(t.database.password, ctx.secrets) : "",
    ...(t.adminPassword ? { [TOWER_SECRET_KEYS.adminPassword]: resolveSecret(t.adminPassword, ctx.secrets) } : {}),
  };
}

/**
 * Tower's Deployments: every pod gets the settings and SECRET_KEY volumes, a memcached sidecar and
 * the settings' hash (a settings change rolls the pods).
 */
function towerDeployments(
  t: TowerOnKubernetes,
  m: MetaOf,
  settingsData: Record<string, string>,
): { deployment: DeploymentOf; mounts: object[] } {
  const images = t.target.images;
  const volumes = [
    { name: "settings", configMap: { name: t.names.settings, items: [{ key: SETTINGS_PY_KEY, path: SETTINGS_PY_KEY }] } },
    {
      name: "secret-key",
      secret: {
        secretName: t.names.secret,
        items: [{ key: TOWER_SECRET_KEYS.secretKey, path: TOWER_SECRET_KEYS.secretKey }],
        defaultMode: 0o440,
      },
    },
  ];
  const mounts = [
    { name: "settings", mountPath: SETTINGS_PY_PATH, subPath: SETTINGS_PY_KEY, readOnly: true },
    { name: "secret-key", mountPath: SECRET_KEY_PATH, subPath: TOWER_SECRET_KEYS.secretKey, readOnly: true },
  ];
  const memcached = {
    name: "memcached",
    image: images.memcached,
    args: ["-m", "64"],
    ports: [{ name: "memcached", containerPort: MEMCACHED_PORT }],
  };
  const podTemplate = (labels: Labels, containers: Record<string, unknown>[], selector: Labels) => ({
    metadata: { labels, annotations: { [ANNOTATION.configHash]: configHash(settingsData) } },
    spec: {
      // Tower pods never talk to the Kubernetes API.
      automountServiceAccountToken: false,
      affinity: spreadOverNodes(selector),
      containers: [...containers, memcached],
      volumes,
    },
  });
  const deployment = (name: string, selector: Labels, replicas: number, containers: Record<string, unknown>[]): K8sObject => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: m(name, WAVE.app, selector),
    spec: {
      replicas,
      // Never below the wanted count during a roll: one new pod first, then one old pod goes.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      selector: { matchLabels: selector },
      template: podTemplate(objectLabels(selector), containers, selector),
    },
  });
  return { deployment, mounts };
}

/** The Job that creates Tower's database and user on the stolon cluster. */
function dbBootstrapJob(t: TowerOnKubernetes, s: NonNullable<TowerOnKubernetes["stolon"]>, m: MetaOf, tierSel: Labels): K8sObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: m(t.names.dbJob, WAVE.bootstrap, tierSel),
    spec: {
      backoffLimit: 4,
      activeDeadlineSeconds: 900,
      template: {
        metadata: { labels: objectLabels(tierSel) },
        spec: {
          automountServiceAccountToken: false,
          restartPolicy: "OnFailure",
          containers: [
            {
              name: "create-database",
              // The stolon image carries psql and pg_isready of the cluster's version.
              image: s.target.images.stolon,
              command: ["/bin/bash", "-c", dbBootstrapScript()],
              env: [
                envValue("PGHOST", s.host),
                envValue("PGPORT", String(s.port)),
                envValue("PGUSER", PG_SUPERUSER),
                envSecret("PGPASSWORD", s.names.secret, STOLON_SECRET_KEYS.superuser),
                envValue("DB_NAME", t.database.name),
                envValue("DB_USER", t.database.user),
                envSecret("DB_PASSWORD", t.names.secret, TOWER_SECRET_KEYS.dbPassword),
              ],
            },
          ],
        },
      },
    },
  };
}

/** One instance group's web and task Deployments, the web Service and their PDBs. */
function groupManifests(
  t: TowerOnKubernetes,
  g: TowerOnKubernetes["groups"][number],
  m: MetaOf,
  tower: ReturnType<typeof towerDeployments>,
): K8sObject[] {
  const images = t.target.images;
  const { deployment, mounts } = tower;
  const web = {
    name: "web",
    image: images.web,
    env: podEnv(t, false),
    ports: [{ name: "http", containerPort: WEB_PORT }],
    // The unauthenticated ping answers once uwsgi reaches the database.
    readinessProbe: { httpGet: { path: "/api/v2/ping/", port: "http" }, initialDelaySeconds: 20, periodSeconds: 10, timeoutSeconds: 5 },
    volumeMounts: mounts,
  };
  const task = { name: "task", image: images.task, env: podEnv(t, true), volumeMounts: mounts };
  return [
    deployment(g.web.name, g.web.selector, g.web.replicas, [web]),
    service(m(g.web.service, WAVE.app, g.web.selector), g.web.selector, [{ name: "http", port: 80, targetPort: "http" }]),
    pdb(m(g.web.name, WAVE.app, g.web.selector), g.web.selector, { maxUnavailable: 1 }),
    deployment(g.task.name, g.task.selector, g.task.replicas, [task]),
    pdb(m(g.task.name, WAVE.app, g.task.selector), g.task.selector, { maxUnavailable: 1 }),
  ];
}

/** The Ingress to the entry Service. */
function towerIngress(t: TowerOnKubernetes, ing: NonNullable<TowerOnKubernetes["target"]["ingress"]>, m: MetaOf): K8sObject {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: m(t.names.ingress, WAVE.app, t.webSelector),
    spec: {
      ...(ing.className ? { ingressClassName: ing.className } : {}),
      rules: [
        {
          host: ing.host,
          http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: t.names.entry, port: { name: "http" } } } }] },
        },
      ],
    },
  };
}

function renderKubernetes(ctx: RenderContext): KubernetesRenderResult {
  const t = towerOnKubernetes(ctx.plan);
  if (!t) return { manifests: [] };
  const { namespace } = t.target;
  const tierSel = { ...t.webSelector };
  delete (tierSel as Record<string, string>)["app.kubernetes.io/component"];
  const m: MetaOf = (name, wave, selector) => meta(namespace, name, objectLabels(selector), wave);

  const settingsData = { ...towerEnv(t), [SETTINGS_PY_KEY]: settingsPy(t) };
  const secretData = towerSecretData(t, ctx);

  const tower = towerDeployments(t, m, settingsData);

  const manifests: K8sObject[] = [
    configMap(m(t.names.settings, WAVE.config, tierSel), settingsData),
    secret(m(t.names.secret, WAVE.config, tierSel), secretData),
  ];

  if (t.stolon) {
    const s = t.stolon;
    manifests.push(dbBootstrapJob(t, s, m, tierSel));
  }

  for (const g of t.groups) {
    manifests.push(...groupManifests(t, g, m, tower));
  }

  // The entry point: every web pod of every group.
  manifests.push(
    service(m(t.names.entry, WAVE.app, t.webSelector), t.webSelector, [{ name: "http", port: 80, targetPort: "http" }], {
      type: t.target.loadBalancer ? "LoadBalancer" : "ClusterIP",
    }),
  );
  const ing = t.target.ingress;
  if (ing) {
    manifests.push(towerIngress(t, ing, m));
  }
  return { manifests };
}

/**
 * SECRET_KEY encrypts the credentials Tower stores in its database: every pod needs the same one,
 * for good. Without `tower.secretKey` it is generated once as a material (kept in the materials
 * file by the CLI, as a secret output by Pulumi); with no state, Pulumi's Materials adopts the live
 * Secret's value (readBackKubernetes). The SSH materials are kept as they are.
 */
function materials(plan: ClusterPlan): readonly MaterialSpec[] {
  const ssh = renderPart.materials?.(plan) ?? [];
  const t = plan.target === "kubernetes" && plan.inventory.tower && !plan.inventory.tower.secretKey ? towerOnKubernetes(plan) : undefined;
  return t
    ? [
        ...ssh,
        {
          key: K8S_SECRET_KEY_MATERIAL,
          kind: { type: "token", length: 64 },
          description: "Tower SECRET_KEY of the Kubernetes target",
          // with no state: the live Secret's value is adopted, never replaced by a new one
          readBackKubernetes: { namespace: t.target.namespace, name: t.names.secret, key: TOWER_SECRET_KEYS.secretKey },
        },
      ]
    : ssh;
}

/** tower on a Kubernetes target (and the material it needs there). */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes" | "materials"> = { renderKubernetes, materials };
