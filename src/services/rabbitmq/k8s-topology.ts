/**
 * RabbitMQ on a Kubernetes target: what the plan step derives from hosts on SSH targets, derived
 * here from `kubernetes.replicas.rabbitmq` (the plan step finds no hosts on this target and plans
 * no nodes). Shared by the renderer, the Tower settings (broker host) and the Pulumi outputs.
 *
 * Node identity: pods of a StatefulSet are `<sts>-0..n-1`; behind the headless Service each has
 * the DNS name `<pod>.<headless>.<namespace>`, stable across reschedules, so the node names are
 * long names `rabbit@<pod>.<headless>.<namespace>` (without the cluster domain, which the pod's
 * resolv.conf search list completes: the objects work whatever the cluster domain is).
 * https://www.rabbitmq.com/docs/cluster-formation#peer-discovery-k8s
 */
import { RabbitMq } from "../../inventory/schema";
import type { ClusterPlan, QuorumMath, RabbitMqPlan } from "../../plan/types";
import { joinName, kubernetesTarget, selectorLabels, serviceHost, type KubernetesTarget, type Labels } from "../../kubernetes";
import { majorityQuorum } from "../../plan/quorum";
import { rabbitMqSlice } from "./plan";

/** Keys of the RabbitMQ Secret. */
export const RABBITMQ_SECRET_KEYS = { cookie: "erlang-cookie", definitions: "definitions.json", password: "password" } as const;

export interface RabbitMqOnKubernetes {
  readonly target: KubernetesTarget;
  readonly names: {
    readonly statefulSet: string;
    /** Headless Service: per-pod DNS names and the endpoints peer discovery lists. */
    readonly headless: string;
    /** Client Service (AMQP, management). */
    readonly service: string;
    readonly secret: string;
    readonly configMap: string;
    readonly serviceAccount: string;
    readonly role: string;
    readonly pdb: string;
  };
  readonly selector: Labels;
  readonly replicas: number;
  readonly quorum: QuorumMath;
  /** The plan slice the SSH renderer would get, with the pods as nodes (definitions, URLs). */
  readonly rabbitmq: RabbitMqPlan;
  /** Where clients connect: the client Service. */
  readonly host: string;
}

export function rabbitmqOnKubernetes(plan: ClusterPlan): RabbitMqOnKubernetes | undefined {
  const inv = plan.inventory;
  // As on SSH targets: a Tower cluster always has a broker; `rabbitmq:` tunes it.
  if (plan.target !== "kubernetes" || (!inv.rabbitmq && !inv.tower)) return undefined;
  const rmq = inv.rabbitmq ?? RabbitMq.parse({});
  const target = kubernetesTarget(plan);
  const base = joinName([target.instance, "rabbitmq"]);
  const names = {
    statefulSet: base,
    headless: joinName([base, "nodes"]),
    service: base,
    secret: base,
    configMap: joinName([base, "config"]),
    serviceAccount: base,
    role: joinName([base, "peer-discovery"]),
    pdb: base,
  };
  const replicas = target.replicas.rabbitmq;
  const quorum = majorityQuorum(replicas);
  const nodes = Array.from({ length: replicas }, (_, i) => {
    const pod = `${names.statefulSet}-${i}`;
    const address = `${pod}.${names.headless}.${target.namespace}`;
    return { host: pod, nodeName: `rabbit@${address}`, address };
  });
  // Pod DNS names have dots: long names on every node (an FQDN host part needs -name).
  const rabbitmq = rabbitMqSlice(rmq, { nodes, useLongName: true, useLongNameDerived: true, quorum });
  return {
    target,
    names,
    selector: selectorLabels(target.instance, "rabbitmq", "broker"),
    replicas,
    quorum,
    rabbitmq,
    host: serviceHost(names.service, target.namespace),
  };
}

/** amqp://user@service:port/vhost, without the password (a stack output). */
export function k8sAmqpUrl(r: RabbitMqOnKubernetes, password?: string): string {
  const enc = encodeURIComponent;
  const auth = password === undefined ? enc(r.rabbitmq.username) : `${enc(r.rabbitmq.username)}:${enc(password)}`;
  return `amqp://${auth}@${r.host}:${r.rabbitmq.port}/${enc(r.rabbitmq.vhost)}`;
}
