/**
 * The order in which the engine deletes resources the program no longer declares, from the
 * dependencies the program registered: pulumi/pulumi step_generator.go ScheduleDeletes orders the
 * deleted ("condemned") resources by their DIRECT dependencies among themselves only (a path
 * through a resource that stays orders nothing), and a resource replaced create-before-delete is
 * deleted with them. Used to check that the removal-order gates (components/service-resources.ts
 * declareRemovals) order deletes exactly as the direct member → deprovisioning dependencies did.
 */
import type { RecordedResource } from "./mock-engine";

export const isRemovalGate = (r: RecordedResource): boolean => r.name.endsWith("-removal-order");

/** The gate's `members` input (the resource names it orders). */
export const gateMembers = (r: RecordedResource): string[] => ((r.raw as { members?: string[] }).members ?? []).slice();

/**
 * Pairs "a b" (URNs): a is deleted before b when `condemned` are deleted in one update. A depends
 * on b directly, or through other condemned resources (transitive over the condemned only).
 */
export function deleteOrder(deps: ReadonlyMap<string, readonly string[]>, condemned: ReadonlySet<string>): Set<string> {
  const pairs = new Set<string>();
  for (const from of condemned) {
    const seen = new Set<string>();
    const todo = (deps.get(from) ?? []).filter((u) => condemned.has(u));
    while (todo.length) {
      const u = todo.pop()!;
      if (seen.has(u)) continue;
      seen.add(u);
      pairs.add(`${from} ${u}`);
      for (const v of deps.get(u) ?? []) if (condemned.has(v)) todo.push(v);
    }
  }
  return pairs;
}

/**
 * The same registrations with every removal-order gate replaced by direct dependencies: each
 * resource that waits for a gate waits for what the gate waits for (the graph before the gates).
 */
export function withoutGates(resources: readonly RecordedResource[]): Map<string, string[]> {
  const gates = new Map(resources.filter(isRemovalGate).map((g) => [g.urn, g.dependencies]));
  return new Map(
    resources
      .filter((r) => !gates.has(r.urn))
      .map((r) => [r.urn, [...new Set(r.dependencies.flatMap((u) => gates.get(u) ?? [u]))]] as [string, string[]]),
  );
}

/**
 * The deletes of an update that removes `removed` (URNs of non-gate resources): with the gates
 * as registered, every gate that lists one of them is replaced (its `members` change) and its old
 * self deleted with them. Returns the order among the removed resources (gates left out) and the
 * order the same removal gets from the graph without gates.
 */
export function removalOrders(resources: readonly RecordedResource[], removed: readonly string[]): { gated: string[]; direct: string[] } {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const names = new Set(removed.map((u) => byUrn.get(u)!.name));
  const replaced = resources.filter((g) => isRemovalGate(g) && gateMembers(g).some((m) => names.has(m))).map((g) => g.urn);
  const deps = new Map(resources.map((r) => [r.urn, r.dependencies]));
  const keep = new Set(removed);
  const gated = [...deleteOrder(deps, new Set([...removed, ...replaced]))].filter((p) => p.split(" ").every((u) => keep.has(u)));
  const direct = [...deleteOrder(withoutGates(resources), new Set(removed))];
  return { gated: gated.sort(), direct: direct.sort() };
}
