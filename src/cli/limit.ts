/**
 * `--limit PATTERN`, as Ansible reads it: comma-separated host names, globs (`tower*`, `node[12]`)
 * and group names; `!pattern` takes hosts out. The groups of a plan: host roles (`rabbitmq`,
 * `pacemaker`…), Tower instance and isolated groups, Pacemaker clusters and keepalived VIPs by
 * name. A pattern that matches nothing is an error finding with a "did you mean".
 */
import picomatch from "picomatch";
import { error, type Finding } from "../core/findings";
import { closest } from "../inventory/suggest";
import type { ClusterPlan } from "../plan/types";
import { findingsJson, formatFindings } from "./format";
import { EXIT, type CliIo } from "./io";

/** Group name → its hosts. A host may be in many groups; roles and named structures share the space. */
export function planGroups(plan: ClusterPlan): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>();
  const add = (group: string, hosts: Iterable<string>) => {
    const g = groups.get(group) ?? new Set<string>();
    for (const h of hosts) g.add(h);
    groups.set(group, g);
  };
  for (const h of plan.hosts) for (const r of h.roles) add(r, [h.name]);
  for (const g of plan.instanceGroups) add(g.name, g.instances);
  for (const g of plan.isolatedGroups) add(g.name, g.instances);
  for (const c of plan.pacemakerClusters) add(c.name, [...c.nodes.map((n) => n.host), ...c.remoteNodes]);
  for (const k of plan.keepalived)
    add(
      k.name,
      k.members.map((m) => m.host),
    );
  return groups;
}

const GLOB = /[*?[\]{}]/;

export interface Limit {
  /** The hosts selected, in the plan's order. */
  readonly hosts: readonly string[];
  readonly findings: readonly Finding[];
}

/** The hosts of a plan `--limit` selects (every host when `patterns` is empty). */
export const resolveLimit = (plan: ClusterPlan, patterns: readonly string[]): Limit =>
  selectHosts(
    plan.hosts.map((h) => h.name),
    planGroups(plan),
    patterns,
  );

/** `patterns` (each comma-separated) over host names `all` and `groups`. */
export function selectHosts(all: readonly string[], groups: ReadonlyMap<string, ReadonlySet<string>>, patterns: readonly string[]): Limit {
  const parts = patterns.flatMap((p) => p.split(",")).map((p) => p.trim());
  if (parts.length === 0) return { hosts: [...all], findings: [] };
  const findings: Finding[] = [];
  const matchOne = (pattern: string): Set<string> => {
    const hit = new Set<string>();
    if (GLOB.test(pattern)) {
      const isMatch = picomatch(pattern, { dot: true, nobrace: false });
      for (const h of all) if (isMatch(h)) hit.add(h);
      for (const [g, members] of groups) if (isMatch(g)) for (const h of members) hit.add(h);
    } else {
      if (all.includes(pattern)) hit.add(pattern);
      for (const h of groups.get(pattern) ?? []) hit.add(h);
    }
    return hit;
  };
  const include = new Set<string>();
  const exclude = new Set<string>();
  let anyInclude = false;
  for (const raw of parts) {
    if (raw === "" || raw === "!") {
      findings.push(error("limit.empty-pattern", "--limit", `empty pattern in --limit ${JSON.stringify(patterns.join(","))}`));
      continue;
    }
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (!negated) anyInclude = true;
    const hit = matchOne(pattern);
    if (hit.size === 0) {
      const guess = GLOB.test(pattern) ? undefined : closest(pattern, [...all, ...groups.keys()]);
      findings.push(
        error(
          "limit.no-match",
          "--limit",
          `${JSON.stringify(pattern)} matches no host or group of this inventory${guess ? `; did you mean ${JSON.stringify(guess)}?` : ""}`,
          `Hosts: ${all.slice(0, 20).join(", ")}${all.length > 20 ? ", …" : ""}. Groups: ${[...groups.keys()].sort().join(", ") || "(none)"}.`,
        ),
      );
      continue;
    }
    for (const h of hit) (negated ? exclude : include).add(h);
  }
  const base = anyInclude ? include : new Set(all);
  return { hosts: all.filter((h) => base.has(h) && !exclude.has(h)), findings };
}

/**
 * What a command does with a limit that has errors: print the findings (JSON or text) and exit 2
 * (unusable arguments); nothing is read or contacted.
 */
export function limitFailed(limit: Limit, opts: { json?: boolean }, io: CliIo): number | undefined {
  if (!limit.findings.length) return undefined;
  if (opts.json) io.out(JSON.stringify({ valid: false, findings: findingsJson(limit.findings) }, null, 2));
  else io.err(formatFindings(limit.findings));
  return EXIT.usage;
}

/** `--limit` is repeatable, and `--host` (older) is the same. */
export const limitPatterns = (opts: { limit?: readonly string[]; host?: readonly string[] }): string[] => [
  ...(opts.limit ?? []),
  ...(opts.host ?? []),
];
