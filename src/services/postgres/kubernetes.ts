/**
 * stolon on a Kubernetes target, with stolon's own kubernetes store (cluster data and the
 * sentinels' leader lock in a ConfigMap, component state in pod annotations): a keeper
 * StatefulSet (one PostgreSQL each, its data on a PVC, its keeper uid from the pod ordinal),
 * sentinel and proxy Deployments, the proxy Service clients use, the RBAC the store needs, a
 * Secret with the superuser and replication passwords, the initial cluster spec in a ConfigMap
 * and a Job that runs `stolonctl init` once (and `stolonctl update` on a spec change), plus PDBs
 * that keep a majority of keepers and sentinels through voluntary evictions.
 *
 * Only stolon: Patroni here elects through etcd, which this target does not run (the plan
 * rejects Patroni with the kubernetes store). Upstream example this follows in spirit:
 * https://github.com/sorintlab/stolon/tree/master/examples/kubernetes
 */
import { resolveSecret } from "../../core/secrets";
import {
  ANNOTATION,
  configHash,
  configMap,
  envField,
  envSecret,
  envValue,
  meta,
  objectLabels,
  pdb,
  role,
  roleBinding,
  secret,
  service,
  serviceAccount,
  spreadOverNodes,
  volumeClaim,
  WAVE,
  type K8sObject,
  type Labels,
} from "../../kubernetes";
import type { KubernetesRenderResult, RenderContext, ServiceModule } from "../types";
import { PG_REPLICATION_USER, PG_SUPERUSER } from "./patroni";
import {
  STOLON_COMPONENT_LABEL,
  STOLON_CLUSTER_LABEL,
  STOLON_SECRET_KEYS,
  stolonOnKubernetes,
  type StolonOnKubernetes,
} from "./k8s-topology";
import { STOLON_SPEC_FILE, stolonClusterSpec, stolonctl } from "./stolon";

/** Environment prefixes: every stolon flag can be given as PREFIX + FLAG_NAME (flagutil.SetFlagsFromEnv). */
export const STOLON_ENV_PREFIX = {
  "stolon-keeper": "STKEEPER_",
  "stolon-sentinel": "STSENTINEL_",
  "stolon-proxy": "STPROXY_",
  stolonctl: "STOLONCTL_",
} as const;
export type StolonCommand = keyof typeof STOLON_ENV_PREFIX;

/** `--flag` of `cmd` as an environment variable (the tests check each flag against stolon's docs). */
export const stolonEnvName = (cmd: StolonCommand, flag: string): string =>
  `${STOLON_ENV_PREFIX[cmd]}${flag.toUpperCase().replace(/-/g, "_")}`;

const METRICS_PORT = 8080;
const DATA_DIR = "/stolon-data";
const DATA_SIZE = "20Gi";

/** Flags every stolon component needs to reach the kubernetes store. */
function storeEnv(cmd: StolonCommand, s: StolonOnKubernetes) {
  return [
    envValue(stolonEnvName(cmd, "cluster-name"), s.clusterName),
    envValue(stolonEnvName(cmd, "store-backend"), "kubernetes"),
    envValue(stolonEnvName(cmd, "kube-resource-kind"), "configmap"),
  ];
}

/** Pod labels: our identity labels plus the two stolon's store selects components by. */
function podLabels(s: StolonOnKubernetes, selector: Labels, component: StolonCommand): Labels {
  return objectLabels(selector, { [STOLON_COMPONENT_LABEL]: component, [STOLON_CLUSTER_LABEL]: s.clusterName });
}

/** The object metadata of one manifest of this cluster: its name, wave and identity labels. */
type MetaOf = (name: string, wave: number, selector: Labels) => ReturnType<typeof meta>;

/** The keeper StatefulSet: one PostgreSQL each, its data on a PVC, its keeper uid from the pod ordinal. */
function keeperStatefulSet(s: StolonOnKubernetes, m: MetaOf): K8sObject {
  const pg = s.pg;
  const image = s.target.images.stolon;
  const keeperLabels = podLabels(s, s.selectors.keeper, "stolon-keeper");
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: m(s.names.keepers, WAVE.data, s.selectors.keeper),
    spec: {
      serviceName: s.names.keeperService,
      replicas: s.replicas.keepers,
      // Keepers find the cluster through the store, not through each other: no ordering needed.
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "RollingUpdate" },
      selector: { matchLabels: s.selectors.keeper },
      template: {
        metadata: { labels: keeperLabels },
        spec: {
          serviceAccountName: s.names.serviceAccount,
          terminationGracePeriodSeconds: 60,
          affinity: spreadOverNodes(s.selectors.keeper),
          containers: [
            {
              name: "keeper",
              image,
              command: [
                "/bin/bash",
                "-ec",
                [
                  // The keeper uid is its identity in the cluster data: taken from the pod
                  // ordinal, it survives rescheduling together with the PVC of the same ordinal.
                  `export ${stolonEnvName("stolon-keeper", "uid")}="keeper\${POD_NAME##*-}"`,
                  `chown stolon:stolon ${DATA_DIR}`,
                  `exec gosu stolon stolon-keeper --data-dir ${DATA_DIR}`,
                ].join("\n"),
              ],
              env: [
                envField("POD_NAME", "metadata.name"),
                envField("POD_IP", "status.podIP"),
                ...storeEnv("stolon-keeper", s),
                envValue(stolonEnvName("stolon-keeper", "pg-listen-address"), "$(POD_IP)"),
                envValue(stolonEnvName("stolon-keeper", "pg-port"), String(pg.port)),
                envValue(stolonEnvName("stolon-keeper", "pg-su-username"), PG_SUPERUSER),
                envSecret(stolonEnvName("stolon-keeper", "pg-su-password"), s.names.secret, STOLON_SECRET_KEYS.superuser),
                envValue(stolonEnvName("stolon-keeper", "pg-repl-username"), PG_REPLICATION_USER),
                envSecret(stolonEnvName("stolon-keeper", "pg-repl-password"), s.names.secret, STOLON_SECRET_KEYS.replication),
                envValue(stolonEnvName("stolon-keeper", "metrics-listen-address"), `0.0.0.0:${METRICS_PORT}`),
              ],
              ports: [
                { name: "postgres", containerPort: pg.port },
                { name: "metrics", containerPort: METRICS_PORT },
              ],
              // Ready when its PostgreSQL answers (master or standby).
              readinessProbe: {
                exec: { command: ["sh", "-c", `pg_isready -q -h "$POD_IP" -p ${pg.port}`] },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                timeoutSeconds: 5,
              },
              volumeMounts: [{ name: "data", mountPath: DATA_DIR }],
            },
          ],
        },
      },
      volumeClaimTemplates: [volumeClaim("data", DATA_SIZE, s.target.storageClass)],
    },
  };
}

/** A sentinel or proxy Deployment spread over the nodes, with the store's service account. */
function stolonDeployment(
  s: StolonOnKubernetes,
  m: MetaOf,
  what: { name: string; selector: Labels; component: "stolon-sentinel" | "stolon-proxy"; replicas: number },
  container: Record<string, unknown>,
): K8sObject {
  const { name, selector, component, replicas } = what;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: m(name, WAVE.data, selector),
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: podLabels(s, selector, component) },
        spec: { serviceAccountName: s.names.serviceAccount, affinity: spreadOverNodes(selector), containers: [container] },
      },
    },
  };
}

/** A sentinel's or proxy's container: the store flags and metrics beside its own environment and ports. */
function stolonContainer(
  s: StolonOnKubernetes,
  component: "stolon-sentinel" | "stolon-proxy",
  own: { env: object[]; ports: object[]; readinessProbe: object },
): Record<string, unknown> {
  return {
    name: component.slice("stolon-".length),
    image: s.target.images.stolon,
    command: [component],
    env: [
      envField("POD_NAME", "metadata.name"),
      ...storeEnv(component, s),
      ...own.env,
      envValue(stolonEnvName(component, "metrics-listen-address"), `0.0.0.0:${METRICS_PORT}`),
    ],
    ports: [...own.ports, { name: "metrics", containerPort: METRICS_PORT }],
    readinessProbe: own.readinessProbe,
  };
}

/** The sentinels: they elect the master through the store. */
function sentinelDeployment(s: StolonOnKubernetes, m: MetaOf): K8sObject {
  const what = {
    name: s.names.sentinels,
    selector: s.selectors.sentinel,
    component: "stolon-sentinel",
    replicas: s.replicas.sentinels,
  } as const;
  return stolonDeployment(
    s,
    m,
    what,
    stolonContainer(s, "stolon-sentinel", {
      env: [],
      ports: [],
      readinessProbe: { httpGet: { path: "/metrics", port: "metrics" }, periodSeconds: 10 },
    }),
  );
}

/** The proxies: they forward clients to the current master. */
function proxyDeployment(s: StolonOnKubernetes, m: MetaOf): K8sObject {
  const pg = s.pg;
  const what = { name: s.names.proxies, selector: s.selectors.proxy, component: "stolon-proxy", replicas: s.replicas.proxies } as const;
  return stolonDeployment(
    s,
    m,
    what,
    stolonContainer(s, "stolon-proxy", {
      env: [
        envValue(stolonEnvName("stolon-proxy", "listen-address"), "0.0.0.0"),
        envValue(stolonEnvName("stolon-proxy", "port"), String(pg.proxyPort)),
      ],
      ports: [{ name: "postgres", containerPort: pg.proxyPort }],
      // The proxy stops listening while no master is elected: a closed port is "not ready", so
      // the Service only sends clients to proxies that forward to the current master.
      readinessProbe: { tcpSocket: { port: "postgres" }, periodSeconds: 5 },
    }),
  );
}

/** The Job that runs `stolonctl init` once, and `stolonctl update` on a spec change. */
function initJob(s: StolonOnKubernetes, m: MetaOf, clusterSel: Labels, specData: Record<string, string>): K8sObject {
  const image = s.target.images.stolon;
  // stolonctl with the store flags of this cluster (the SSH renderer's helper, our cluster name).
  const ctl = (sub: string) => stolonctl({ ...s.pg, clusterName: s.clusterName }, sub);
  // Once: `init` only on a store that answers "nil cluster data" (init on an existing cluster
  // wipes it); afterwards a full `update` from the spec, like the SSH target's converge action.
  // Any other answer (RBAC, API down) fails the Job rather than guessing.
  const initScript = [
    "set -eu",
    `if out=$(${ctl("clusterdata read")} 2>&1); then`,
    `  echo "stolon cluster ${s.clusterName} already initialised: updating its spec"`,
    `  exec ${ctl(`update -f ${STOLON_SPEC_FILE}`)}`,
    "fi",
    `case "$out" in *"nil cluster data"*) ;; *) printf '%s\\n' "$out" >&2; exit 1;; esac`,
    `exec ${ctl(`init --yes -f ${STOLON_SPEC_FILE}`)}`,
  ].join("\n");
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: m(s.names.initJob, WAVE.init, clusterSel),
    spec: {
      backoffLimit: 4,
      activeDeadlineSeconds: 600,
      template: {
        // The spec's hash in the (immutable) template: a spec change replaces the Job, which
        // then runs the update branch.
        metadata: { labels: objectLabels(clusterSel), annotations: { [ANNOTATION.configHash]: configHash(specData) } },
        spec: {
          serviceAccountName: s.names.serviceAccount,
          restartPolicy: "OnFailure",
          containers: [
            {
              name: "stolonctl",
              image,
              command: ["/bin/bash", "-c", initScript],
              volumeMounts: [{ name: "spec", mountPath: "/etc/stolon", readOnly: true }],
            },
          ],
          volumes: [{ name: "spec", configMap: { name: s.names.specConfigMap } }],
        },
      },
    },
  };
}

function renderKubernetes(ctx: RenderContext): KubernetesRenderResult {
  const s = stolonOnKubernetes(ctx.plan);
  if (!s) return { manifests: [] };
  const { namespace } = s.target;
  const pg = s.pg;
  const m: MetaOf = (name, wave, selector) => meta(namespace, name, objectLabels(selector), wave);
  const clusterSel = { ...s.selectors.keeper };
  delete (clusterSel as Record<string, string>)["app.kubernetes.io/component"];
  const specData = { "cluster-spec.json": `${JSON.stringify(stolonClusterSpec(pg), null, 2)}\n` };

  const cfg = (name: string) => m(name, WAVE.config, clusterSel);
  const manifests: K8sObject[] = [
    serviceAccount(cfg(s.names.serviceAccount)),
    // What stolon's kubernetes store does: components update their own pod's annotations and
    // list each other's pods; the sentinels and stolonctl read and write the cluster data
    // ConfigMap (also the leader lock); the lock records events.
    role(cfg(s.names.role), [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "update", "patch"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "update", "patch"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    ]),
    roleBinding(cfg(s.names.role), s.names.role, s.names.serviceAccount),
    secret(cfg(s.names.secret), {
      [STOLON_SECRET_KEYS.superuser]: resolveSecret(pg.superuserPassword, ctx.secrets),
      [STOLON_SECRET_KEYS.replication]: resolveSecret(pg.replicationPassword, ctx.secrets),
    }),
    configMap(cfg(s.names.specConfigMap), specData),
    initJob(s, m, clusterSel, specData),
    service(m(s.names.keeperService, WAVE.data, s.selectors.keeper), s.selectors.keeper, [{ name: "postgres", port: pg.port }], {
      headless: true,
    }),
    keeperStatefulSet(s, m),
    sentinelDeployment(s, m),
    proxyDeployment(s, m),
    // Clients connect on the usual Postgres port; the proxies listen on proxyPort.
    service(m(s.names.proxyService, WAVE.data, s.selectors.proxy), s.selectors.proxy, [
      { name: "postgres", port: pg.port, targetPort: "postgres" },
    ]),
    pdb(m(s.names.keepers, WAVE.data, s.selectors.keeper), s.selectors.keeper, { minAvailable: s.quorum.keepers.quorum }),
    pdb(m(s.names.sentinels, WAVE.data, s.selectors.sentinel), s.selectors.sentinel, { minAvailable: s.quorum.sentinels.quorum }),
    pdb(m(s.names.proxies, WAVE.data, s.selectors.proxy), s.selectors.proxy, { maxUnavailable: 1 }),
  ];
  return { manifests };
}

/** postgres on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = { renderKubernetes };
