/**
 * RabbitMQ on a Kubernetes target: a StatefulSet of `kubernetes.replicas.rabbitmq` nodes that find
 * each other with the Kubernetes peer discovery plugin, behind a headless Service (pod DNS names,
 * peer discovery) and a client Service; rabbitmq.conf and enabled_plugins in a ConfigMap; the
 * Erlang cookie, the password and the definitions (with the password hash) in a Secret; the RBAC
 * the plugin needs; a PodDisruptionBudget that never lets voluntary evictions take the cluster
 * below a majority.
 *
 * The definitions are the SSH target's (src/services/rabbitmq/definitions.ts): same vhost with
 * quorum queues by default, same user, no guest.
 */
import { resolveSecret } from "../../core/secrets";
import {
  configHash,
  configMap,
  envField,
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
  ANNOTATION,
  type K8sObject,
} from "../../kubernetes";
import type { KubernetesRenderResult, RenderContext, ServiceModule } from "../types";
import { definitionsJson, definitionsModel } from "./definitions";
import { K8S_RABBITMQ_PATHS, k8sPlugins, k8sRabbitmqConf } from "./k8s-conf";
import { RABBITMQ_SECRET_KEYS, rabbitmqOnKubernetes, type RabbitMqOnKubernetes } from "./k8s-topology";

/** uid/gid of the `rabbitmq` user in the official image. */
const RABBITMQ_UID = 999;
/** Erlang distribution port: AMQP port + 20000 (https://www.rabbitmq.com/docs/networking#ports). */
const DIST_OFFSET = 20000;
const EPMD_PORT = 4369;
const DATA_SIZE = "10Gi";
/** How long a stopping node waits for its quorum queues to keep a majority without it. */
const QUORUM_WAIT_S = 300;

function renderKubernetes(ctx: RenderContext): KubernetesRenderResult {
  const { plan } = ctx;
  const r = rabbitmqOnKubernetes(plan);
  if (!r) return { manifests: [] };
  const { namespace } = r.target;
  const rmq = r.rabbitmq;
  const labels = objectLabels(r.selector);
  const m = (name: string, wave: number) => meta(namespace, name, labels, wave);

  const password = resolveSecret(rmq.password, ctx.secrets);
  const cookie = resolveSecret(rmq.cookie, ctx.secrets);
  const configData = {
    "rabbitmq.conf": k8sRabbitmqConf(plan, r),
    enabled_plugins: ctx.template("rabbitmq", "enabled_plugins.hbs", { plugins: k8sPlugins(r) }),
  };
  const distPort = rmq.port + DIST_OFFSET;
  const statefulSet = rabbitmqStatefulSet(r, m(r.names.statefulSet, WAVE.data), labels, configData);

  const manifests: K8sObject[] = [
    serviceAccount(m(r.names.serviceAccount, WAVE.config)),
    // The k8s peer discovery plugin reads the endpoints of the headless Service and records
    // events. https://www.rabbitmq.com/docs/cluster-formation#peer-discovery-k8s
    role(m(r.names.role, WAVE.config), [
      { apiGroups: [""], resources: ["endpoints"], verbs: ["get"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ]),
    roleBinding(m(r.names.role, WAVE.config), r.names.role, r.names.serviceAccount),
    secret(m(r.names.secret, WAVE.config), {
      [RABBITMQ_SECRET_KEYS.cookie]: cookie,
      [RABBITMQ_SECRET_KEYS.password]: password,
      [RABBITMQ_SECRET_KEYS.definitions]: definitionsJson(definitionsModel(plan.name, rmq, password)),
    }),
    configMap(m(r.names.configMap, WAVE.config), configData),
    service(
      m(r.names.headless, WAVE.data),
      r.selector,
      [
        { name: "epmd", port: EPMD_PORT },
        { name: "cluster", port: distPort },
        { name: "amqp", port: rmq.port },
      ],
      { headless: true, publishNotReadyAddresses: true },
    ),
    service(m(r.names.service, WAVE.data), r.selector, [
      { name: "amqp", port: rmq.port },
      ...(rmq.enableManagement ? [{ name: "management", port: rmq.managementPort }] : []),
    ]),
    statefulSet,
    // Voluntary evictions (drains, upgrades) keep a majority: pause_minority would otherwise stop
    // the survivors too, and quorum queues need a majority of their members.
    pdb(m(r.names.pdb, WAVE.data), r.selector, { minAvailable: r.quorum.quorum }),
  ];
  return { manifests };
}

/** The nodes: a StatefulSet whose init container puts the config, definitions and cookie in place. */
function rabbitmqStatefulSet(
  r: RabbitMqOnKubernetes,
  metadata: ReturnType<typeof meta>,
  labels: Record<string, string>,
  configData: Record<string, string>,
): K8sObject {
  const multi = r.replicas > 1;

  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata,
    spec: {
      serviceName: r.names.headless,
      replicas: r.replicas,
      // Parallel: after a full stop every node waits for the peer that stopped last; with
      // OrderedReady pod-1 would never start while pod-0 waits for it.
      // https://www.rabbitmq.com/docs/cluster-formation#peer-discovery-k8s
      podManagementPolicy: "Parallel",
      // One pod at a time, highest ordinal first, each waiting for the previous to be Ready.
      updateStrategy: { type: "RollingUpdate" },
      selector: { matchLabels: r.selector },
      template: {
        metadata: { labels, annotations: { [ANNOTATION.configHash]: configHash(configData) } },
        spec: {
          serviceAccountName: r.names.serviceAccount,
          securityContext: { runAsUser: RABBITMQ_UID, runAsGroup: RABBITMQ_UID, fsGroup: RABBITMQ_UID, runAsNonRoot: true },
          terminationGracePeriodSeconds: multi ? QUORUM_WAIT_S + 60 : 120,
          affinity: spreadOverNodes(r.selector),
          initContainers: [setupContainer(r)],
          containers: [rabbitmqContainer(r, multi)],
          volumes: [
            { name: "config", configMap: { name: r.names.configMap } },
            { name: "secret", secret: { secretName: r.names.secret, defaultMode: 0o440 } },
            { name: "etc", emptyDir: {} },
          ],
        },
      },
      volumeClaimTemplates: [volumeClaim("data", DATA_SIZE, r.target.storageClass)],
    },
  };
}

/** The RabbitMQ container: its node name, ports, readiness and (with peers) a preStop that keeps quorum queues' majority. */
function rabbitmqContainer(r: RabbitMqOnKubernetes, multi: boolean): object {
  const rmq = r.rabbitmq;
  const { namespace } = r.target;
  const P = K8S_RABBITMQ_PATHS;
  const distPort = rmq.port + DIST_OFFSET;
  const ports = [
    { name: "amqp", containerPort: rmq.port },
    { name: "epmd", containerPort: EPMD_PORT },
    { name: "cluster", containerPort: distPort },
    ...(rmq.enableManagement ? [{ name: "management", containerPort: rmq.managementPort }] : []),
  ];
  return {
    name: "rabbitmq",
    image: r.target.images.rabbitmq,
    env: [
      envField("MY_POD_NAME", "metadata.name"),
      // The node name every peer and CLI tool uses; must match peer discovery's
      // hostname + hostname_suffix in rabbitmq.conf.
      envValue("RABBITMQ_NODENAME", `rabbit@$(MY_POD_NAME).${r.names.headless}.${namespace}`),
      envValue("RABBITMQ_USE_LONGNAME", "true"),
    ],
    ports,
    // Ready once AMQP accepts connections. No liveness probe: a node waiting for its
    // peers at boot looks dead, and killing it would only restart the wait.
    readinessProbe: {
      tcpSocket: { port: "amqp" },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    ...(multi
      ? {
          // Stop only once every quorum queue keeps a majority without this node.
          // https://www.rabbitmq.com/docs/upgrade#maintenance-mode
          lifecycle: {
            preStop: { exec: { command: ["rabbitmq-upgrade", "await_online_quorum_plus_one", "-t", String(QUORUM_WAIT_S)] } },
          },
        }
      : {}),
    securityContext: { allowPrivilegeEscalation: false },
    volumeMounts: [
      { name: "etc", mountPath: P.etc },
      { name: "data", mountPath: P.data },
    ],
  };
}

/** The init container: copies the files where RabbitMQ wants them, with the modes it insists on. */
function setupContainer(r: RabbitMqOnKubernetes): object {
  const P = K8S_RABBITMQ_PATHS;
  // The init container puts the files where RabbitMQ wants them with the modes it insists on:
  // Erlang refuses a cookie readable by anyone but its owner, which a Secret volume cannot give
  // to a non-root user. rm first: an existing 0400 cookie cannot be overwritten in place.
  const setup = [
    "set -eu",
    `cp /haforge/config/rabbitmq.conf /haforge/config/enabled_plugins ${P.etc}/`,
    `cp /haforge/secret/${RABBITMQ_SECRET_KEYS.definitions} ${P.definitions}`,
    `chmod 0600 ${P.definitions}`,
    `rm -f ${P.cookie}`,
    `cp /haforge/secret/${RABBITMQ_SECRET_KEYS.cookie} ${P.cookie}`,
    `chmod 0400 ${P.cookie}`,
  ].join("\n");
  return {
    name: "setup",
    image: r.target.images.rabbitmq,
    command: ["sh", "-c", setup],
    securityContext: { allowPrivilegeEscalation: false },
    volumeMounts: [
      { name: "config", mountPath: "/haforge/config", readOnly: true },
      { name: "secret", mountPath: "/haforge/secret", readOnly: true },
      { name: "etc", mountPath: P.etc },
      { name: "data", mountPath: P.data },
    ],
  };
}

/** rabbitmq on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = { renderKubernetes };
