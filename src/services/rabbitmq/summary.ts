/**
 * The rabbitmq service's part of the plan summary (`haforge plan --json`: stable, add fields, never
 * rename) and of the stack outputs. In the model layer (docs/architecture.md); the service module
 * registers it (`summary`) and src/pipeline/summary.ts composes the summary from the registered parts.
 */
import { resolveSecret, type SecretValues } from "../../core/secrets";
import type { ClusterPlan } from "../../plan/types";
import type { SummaryPart } from "../../plan/summary-part";

export const rabbitmqSummary = (plan: ClusterPlan) => ({
  rabbitmq: plan.rabbitmq
    ? {
        nodes: plan.rabbitmq.nodes.map((n) => ({ host: n.host, nodeName: n.nodeName })),
        useLongName: plan.rabbitmq.useLongName,
        useLongNameDerived: plan.rabbitmq.useLongNameDerived,
        port: plan.rabbitmq.port,
        vhost: plan.rabbitmq.vhost,
        partitionHandling: plan.rabbitmq.partitionHandling,
        quorum: plan.rabbitmq.quorum,
      }
    : null,
});

/** amqp://user@host:port/vhost per RabbitMQ node, without the password (a stack output). */
export function amqpUrls(plan: ClusterPlan): string[] {
  const r = plan.rabbitmq;
  return r ? r.nodes.map((n) => `amqp://${encodeURIComponent(r.username)}@${n.address}:${r.port}/${encodeURIComponent(r.vhost)}`) : [];
}

/** The first RabbitMQ node's amqp URL with the password (a secret stack output); undefined without RabbitMQ. */
export function brokerUrl(plan: ClusterPlan, secrets: SecretValues): string | undefined {
  const r = plan.rabbitmq;
  if (!r) return undefined;
  return `amqp://${encodeURIComponent(r.username)}:${encodeURIComponent(resolveSecret(r.password, secrets))}@${r.nodes[0]?.address}:${r.port}/${encodeURIComponent(r.vhost)}`;
}

export const rabbitmqSummaryPart: SummaryPart<ReturnType<typeof rabbitmqSummary>> = {
  summary: rabbitmqSummary,
  limit: (s, any) => ({ rabbitmq: s.rabbitmq && any(s.rabbitmq.nodes.map((n) => n.host)) ? s.rabbitmq : null }),
  lines: ({ rabbitmq: r }, { kind: k }) => {
    if (!r) return [];
    const longNames = `long names ${r.useLongName}${r.useLongNameDerived ? ", derived" : ""}`;
    const rest = `port ${r.port}; vhost ${r.vhost}; quorum ${r.quorum.quorum}/${r.quorum.expectedVotes}`;
    return [`  ${k("rabbitmq")}: ${r.nodes.map((x) => x.nodeName).join(", ")} (${longNames}; ${rest})`];
  },
};
