/**
 * The one check of a service's host list (Postgres nodes, HAProxy hosts, a keepalived instance's
 * hosts, a Pacemaker cluster's nodes, ...): every name an inventory host, each listed once. The
 * services differ only in their findings' codes, wording, paths and hints, which they pass in;
 * the order of the checks and which entries are kept are the same everywhere.
 */
import type { Finding } from "./findings";

/** One entry of a host list: the name, its inventory path, and its index in the list. */
export interface HostEntry {
  readonly host: string;
  readonly path: string;
  readonly index: number;
}

export interface HostListRules {
  /** Whether the name may be listed (an inventory host; on a Kubernetes target any pod name). */
  readonly known: (host: string) => boolean;
  /** The finding for a name that is not known. */
  readonly unknown: (host: string, path: string) => Finding;
  /** The finding for a name listed again; `first` is the path of its first entry. */
  readonly duplicate: (host: string, path: string, first: string) => Finding;
  /** A finding for a known name the list may not hold (e.g. a Pacemaker member listed as a remote node), checked before repeats. */
  readonly refuse?: (host: string, path: string) => Finding | undefined;
  /**
   * A repeat is reported before an unknown name (a name listed twice is reported once as unknown,
   * then as repeated); by default a name is checked first and only kept names count as listed.
   */
  readonly repeatsFirst?: boolean;
}

/** A list's entries with their paths. */
export const hostEntries = (list: readonly string[], path: (index: number) => string): HostEntry[] =>
  list.map((host, index) => ({ host, path: path(index), index }));

/**
 * The check one entry at a time, for a list whose kept entries get further checks in the same
 * pass (their findings stay in entry order): true when the entry is kept.
 */
export function hostListChecker(rules: HostListRules, findings: Finding[]): (entry: HostEntry) => boolean {
  const first = new Map<string, string>();
  return (e) => {
    const repeated = first.get(e.host);
    if (rules.repeatsFirst && repeated !== undefined) {
      findings.push(rules.duplicate(e.host, e.path, repeated));
      return false;
    }
    if (rules.repeatsFirst) first.set(e.host, e.path);
    if (!rules.known(e.host)) {
      findings.push(rules.unknown(e.host, e.path));
      return false;
    }
    const refused = rules.refuse?.(e.host, e.path);
    if (refused) {
      findings.push(refused);
      return false;
    }
    if (!rules.repeatsFirst && repeated !== undefined) {
      findings.push(rules.duplicate(e.host, e.path, repeated));
      return false;
    }
    first.set(e.host, e.path);
    return true;
  };
}

/** The known entries of a host list, each name once, in order; the others reported into `findings`. */
export function checkHostList(entries: readonly HostEntry[], rules: HostListRules, findings: Finding[]): HostEntry[] {
  return entries.filter(hostListChecker(rules, findings));
}
