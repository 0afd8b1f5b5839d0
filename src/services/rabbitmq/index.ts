/**
 * The rabbitmq service: the RabbitMQ cluster. Its plan step (./plan.ts), renderer (./render.ts) and
 * objects on a Kubernetes target (./kubernetes.ts);
 * src/services/registry.ts lists it.
 */
import type { ServiceModule } from "../types";
import { amqpUrls, rabbitmqSummaryPart } from "./summary";
import { plan } from "./plan";
import { renderPart } from "./render";
import { kubernetesPart } from "./kubernetes";

export const rabbitmqService = {
  name: "rabbitmq",
  summary: rabbitmqSummaryPart,
  plan,
  component: {
    type: "haforge:rabbitmq:RabbitMqCluster",
    suffix: "rabbitmq",
    outputs: (p) => ({ nodeNames: p.rabbitmq ? p.rabbitmq.nodes.map((n) => n.nodeName) : [] }),
    /** amqp://user@host:port/vhost per node, without the password. */
    addressOutputs: (p) => ({ amqpUrls: amqpUrls(p) }),
  },
  ...renderPart,
  ...kubernetesPart,
} satisfies ServiceModule;
