import { analyzeInventoryFile } from "../pipeline/analyze";
import { planSummary } from "../plan/summary";
import { findingsJson, formatFindings } from "./format";
import { EXIT, type CliIo } from "./io";

export function planCommand(file: string, opts: { json?: boolean }, io: CliIo): number {
  const a = analyzeInventoryFile(file);
  if (!a.plan) {
    if (opts.json) io.out(JSON.stringify({ valid: false, findings: findingsJson(a.findings) }, null, 2));
    else io.err(formatFindings(a.findings));
    return EXIT.invalid;
  }
  const s = planSummary(a.plan);
  if (opts.json) {
    io.out(JSON.stringify({ ...s, findings: findingsJson(a.findings) }, null, 2));
    return EXIT.ok;
  }
  const lines: string[] = [`cluster ${s.name} (target ${s.target}, ${s.hosts.length} hosts)`];
  for (const h of s.hosts)
    lines.push(
      `  host ${h.name} ${h.address}${h.internalAddress !== h.address ? ` (internal ${h.internalAddress})` : ""}: ${h.roles.join(", ") || "-"}`,
    );
  for (const g of s.instanceGroups)
    lines.push(
      `  instance group ${g.name}: ${g.instances.join(", ") || "(empty)"}  [percentage ${g.policy.percentage}, minimum ${g.policy.minimum}, list ${g.policy.list.join(",") || "-"}]`,
    );
  for (const g of s.isolatedGroups) lines.push(`  isolated group ${g.name} (controller ${g.controller}): ${g.instances.join(", ")}`);
  if (s.rabbitmq)
    lines.push(
      `  rabbitmq: ${s.rabbitmq.nodes.map((n) => n.nodeName).join(", ")} (long names ${s.rabbitmq.useLongName}${s.rabbitmq.useLongNameDerived ? ", derived" : ""}; port ${s.rabbitmq.port}; vhost ${s.rabbitmq.vhost}; quorum ${s.rabbitmq.quorum.quorum}/${s.rabbitmq.quorum.expectedVotes})`,
    );
  for (const c of s.pacemakerClusters)
    lines.push(
      `  pacemaker ${c.name}: ${c.nodes.join(", ")} (quorum ${c.quorum.quorum}/${c.quorum.expectedVotes}, tolerates ${c.quorum.failuresTolerated} failure(s), stonith ${c.stonithEnabled ? "on" : "off"})`,
    );
  for (const k of s.keepalived)
    lines.push(`  vip ${k.name} ${k.vip} (vrid ${k.routerId}): ${k.members.map((m) => `${m.host}:${m.priority}`).join(", ")}`);
  if (s.quorumStore)
    lines.push(
      `  ${s.quorumStore.kind}: ${s.quorumStore.members.join(", ")} (quorum ${s.quorumStore.quorum.quorum}/${s.quorumStore.quorum.expectedVotes})`,
    );
  if (s.postgres) lines.push(`  postgres (${s.postgres.engine}): ${s.postgres.nodes.join(", ")} via ${s.postgres.endpoint}`);
  for (const r of s.rollingGroups) lines.push(`  roll ${r.id}: ${r.hosts.join(" → ")} (max ${r.maxUnavailable} down)`);
  if (a.findings.length) lines.push(formatFindings(a.findings));
  io.out(lines.join("\n"));
  return EXIT.ok;
}
