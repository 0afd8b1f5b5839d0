/**
 * A service's part of the plan summary (src/services/<svc>/summary.ts): its projection of the plan
 * (`haforge plan --json`), that projection narrowed to some hosts (`--limit`), and its lines of
 * `haforge plan`'s text. Each service module registers its part (`ServiceModule.summary`);
 * src/pipeline/summary.ts composes them in the registry's `summaryOrder`; the CLI prints what they return.
 */
import type { ClusterPlan } from "./types";

/** How a line marks its parts (the CLI's colours on a terminal; identity otherwise). */
export interface SummaryStyle {
  /** What a line is about: "host", "vip", "rabbitmq", … */
  readonly kind: (s: string) => string;
  /** A name: a host, a group, a cluster. */
  readonly name: (s: string) => string;
  /** Something to look at: an empty group, stonith off. */
  readonly warn: (s: string) => string;
}

/** True when one of these hosts is among those `--limit` selected. */
export type AnySelected = (hosts: readonly string[]) => boolean;

export interface SummaryPart<S extends object> {
  summary(plan: ClusterPlan): S;
  /** The part restricted to the selected hosts: the structures that have one of them (members listed in full). */
  limit(part: S, any: AnySelected): S;
  /** Its lines of `haforge plan` (indented by two spaces). */
  lines(part: S, style: SummaryStyle): string[];
}

/** The part of a service that shows nothing in the plan summary. */
export const noSummary: SummaryPart<Record<never, never>> = {
  summary: () => ({}),
  limit: () => ({}),
  lines: () => [],
};
