import { analyzeInventoryFile } from "../pipeline/analyze";
import { planSummary } from "../plan/summary";
import { findingsJson, formatFindings, formatFindingsFor } from "./format";
import { EXIT, type CliIo } from "./io";
import { limitFailed, resolveLimit } from "./limit";
import { styleFor } from "./style";

export interface PlanOptions {
  json?: boolean;
  /** The topology without warnings. */
  quiet?: boolean;
  color?: boolean;
  /** Only these hosts (and the groups, clusters and VIPs they are in). */
  limit?: string[];
}

export function planCommand(file: string, opts: PlanOptions, io: CliIo, env: NodeJS.ProcessEnv = process.env): number {
  const a = analyzeInventoryFile(file);
  const style = styleFor(io, env, opts);
  if (!a.plan) {
    if (opts.json) io.out(JSON.stringify({ valid: false, findings: findingsJson(a.findings, a) }, null, 2));
    else io.err(formatFindingsFor(opts.quiet, a.findings, a, style));
    return EXIT.invalid;
  }
  const limit = resolveLimit(a.plan, opts.limit ?? []);
  const failed = limitFailed(limit, opts, io);
  if (failed !== undefined) return failed;
  const s = limitSummary(planSummary(a.plan), new Set(limit.hosts), (opts.limit ?? []).length > 0);
  if (opts.json) {
    io.out(JSON.stringify({ ...s, findings: findingsJson(a.findings, a) }, null, 2));
    return EXIT.ok;
  }
  // On a terminal: the cluster line bold, each line's kind cyan, names bold, empty groups yellow.
  const k = style.cyan;
  const n = style.bold;
  const lines: string[] = [n(`cluster ${s.name}`) + ` (target ${s.target}, ${s.hosts.length} hosts)`];
  for (const h of s.hosts)
    lines.push(
      `  ${k("host")} ${n(h.name)} ${h.address}${h.internalAddress !== h.address ? ` (internal ${h.internalAddress})` : ""}: ${h.roles.join(", ") || "-"}`,
    );
  for (const g of s.instanceGroups)
    lines.push(
      `  ${k("instance group")} ${n(g.name)}: ${g.instances.join(", ") || style.yellow("(empty)")}  [percentage ${g.policy.percentage}, minimum ${g.policy.minimum}, list ${g.policy.list.join(",") || "-"}]`,
    );
  for (const g of s.isolatedGroups)
    lines.push(`  ${k("isolated group")} ${n(g.name)} (controller ${g.controller}): ${g.instances.join(", ")}`);
  if (s.rabbitmq)
    lines.push(
      `  ${k("rabbitmq")}: ${s.rabbitmq.nodes.map((x) => x.nodeName).join(", ")} (long names ${s.rabbitmq.useLongName}${s.rabbitmq.useLongNameDerived ? ", derived" : ""}; port ${s.rabbitmq.port}; vhost ${s.rabbitmq.vhost}; quorum ${s.rabbitmq.quorum.quorum}/${s.rabbitmq.quorum.expectedVotes})`,
    );
  for (const c of s.pacemakerClusters)
    lines.push(
      `  ${k("pacemaker")} ${n(c.name)}: ${c.nodes.join(", ")} (quorum ${c.quorum.quorum}/${c.quorum.expectedVotes}, tolerates ${c.quorum.failuresTolerated} failure(s), stonith ${c.stonithEnabled ? "on" : style.yellow("off")})`,
    );
  for (const v of s.keepalived)
    lines.push(`  ${k("vip")} ${n(v.name)} ${v.vip} (vrid ${v.routerId}): ${v.members.map((m) => `${m.host}:${m.priority}`).join(", ")}`);
  if (s.quorumStore)
    lines.push(
      `  ${k(s.quorumStore.kind)}: ${s.quorumStore.members.join(", ")} (quorum ${s.quorumStore.quorum.quorum}/${s.quorumStore.quorum.expectedVotes})`,
    );
  if (s.postgres) lines.push(`  ${k(`postgres (${s.postgres.engine})`)}: ${s.postgres.nodes.join(", ")} via ${s.postgres.endpoint}`);
  for (const r of s.rollingGroups) lines.push(`  ${k("roll")} ${n(r.id)}: ${r.hosts.join(" → ")} (max ${r.maxUnavailable} down)`);
  if (a.findings.length && !opts.quiet) lines.push(formatFindings(a.findings, a, style));
  io.out(lines.join("\n"));
  return EXIT.ok;
}

type Summary = ReturnType<typeof planSummary>;

/** The summary restricted to `only`: its hosts, and the structures that have one of them (members listed in full). */
function limitSummary(s: Summary, only: ReadonlySet<string>, limited: boolean): Summary {
  if (!limited) return s;
  const any = (hosts: readonly string[]) => hosts.some((h) => only.has(h));
  return {
    ...s,
    hosts: s.hosts.filter((h) => only.has(h.name)),
    instanceGroups: s.instanceGroups.filter((g) => any(g.instances)),
    isolatedGroups: s.isolatedGroups.filter((g) => any(g.instances) || only.has(g.controller)),
    pacemakerClusters: s.pacemakerClusters.filter((c) => any([...c.nodes, ...c.remoteNodes])),
    keepalived: s.keepalived.filter((k) => any(k.members.map((m) => m.host))),
    rollingGroups: s.rollingGroups.filter((r) => any(r.hosts)),
    rabbitmq: s.rabbitmq && any(s.rabbitmq.nodes.map((n) => n.host)) ? s.rabbitmq : null,
    quorumStore: s.quorumStore && any(s.quorumStore.members) ? s.quorumStore : null,
    postgres: s.postgres && any(s.postgres.nodes) ? s.postgres : null,
  };
}
