/**
 * AWX instance-group membership policies, computed at plan time exactly as AWX computes them at
 * run time (`apply_cluster_membership_policies`, awx/main/tasks/system.py in ansible/awx, Tower
 * 3.x; policy fields documented in docs/clustering.md "Instance Group Policies"). Our own
 * implementation of the same algorithm; the ordering rules are what make results match AWX:
 *
 * 1. Every group starts from its policy_instance_list. List membership is "manual": it does NOT
 *    count toward an instance's load (AWX: "policy-list-group is not added to instance's group
 *    count"). Isolated groups (a controller is set) get their list and nothing else.
 * 2. The pool is every non-isolated instance with managed_by_policy (an instance is isolated when
 *    it is listed by an isolated group).
 * 3. Minimum pass: groups sorted by current size (stable, so ties keep inventory order); for each,
 *    pool instances sorted by how many groups policy already gave them (stable: ties by inventory
 *    order) are added until the group has `minimum` members.
 * 4. Percentage pass: the same sorts, recomputed; instances are added while
 *    `100 * size / poolSize < percentage`. AWX compares floats; `100*n < p*N` on integers is the
 *    same test without rounding, i.e. a group ends with ceil(p% of the pool) members (50% of 3 → 2).
 *
 * Sizes include list members, even pinned (managed_by_policy=false) ones, so a list can satisfy a
 * minimum or a percentage on its own. Both passes sort once per pass (groups) and once per group
 * (instances), as AWX does.
 */

export interface PolicyGroupInput {
  readonly name: string;
  /** policy_instance_list, in order (listed hosts first, then explicit entries). */
  readonly list: readonly string[];
  readonly percentage: number;
  readonly minimum: number;
  /** Isolated groups only get their list. */
  readonly isolated?: boolean;
}

export interface PolicyInstanceInput {
  readonly name: string;
  readonly managedByPolicy: boolean;
}

export interface PolicyGroupResult {
  readonly name: string;
  /** Members in instance (inventory) order. */
  readonly instances: readonly string[];
  /** List entries that name no instance (AWX logs and skips them). */
  readonly unknown: readonly string[];
}

/**
 * @param groups   instance groups and isolated groups, in AWX's group order (creation order:
 *                 `tower` first, then the inventory's order).
 * @param instances every instance in inventory order (AWX orders by id, i.e. registration order).
 */
export function applyMembershipPolicies(
  groups: readonly PolicyGroupInput[],
  instances: readonly PolicyInstanceInput[],
): PolicyGroupResult[] {
  const order = new Map<string, number>();
  instances.forEach((inst, i) => {
    if (!order.has(inst.name)) order.set(inst.name, i);
  });
  const isolatedNames = new Set<string>();
  for (const g of groups) if (g.isolated) for (const h of g.list) isolatedNames.add(h);

  interface Work {
    readonly input: PolicyGroupInput;
    readonly members: string[];
    /** The same names as `members`, for O(1) membership tests (a group can hold every instance). */
    readonly memberSet: Set<string>;
    readonly unknown: string[];
  }
  const work: Work[] = groups.map((input) => {
    const members: string[] = [];
    const memberSet = new Set<string>();
    const unknown = new Set<string>();
    for (const h of input.list) {
      if (!order.has(h)) unknown.add(h);
      else if (!memberSet.has(h)) {
        memberSet.add(h);
        members.push(h);
      }
    }
    return { input, members, memberSet, unknown: [...unknown] };
  });

  const seen = new Set<string>();
  const pool = instances.filter((i) => {
    if (seen.has(i.name)) return false;
    seen.add(i.name);
    return i.managedByPolicy && !isolatedNames.has(i.name);
  });
  const load = new Map<string, number>(pool.map((i) => [i.name, 0]));
  const add = (g: Work, name: string) => {
    g.members.push(name);
    g.memberSet.add(name);
    load.set(name, load.get(name)! + 1);
  };
  const active = work.filter((w) => !w.input.isolated);
  const bySize = () => [...active].sort((a, b) => a.members.length - b.members.length);
  const byLoad = () => [...pool].sort((a, b) => load.get(a.name)! - load.get(b.name)!);

  for (const g of bySize()) {
    for (const inst of byLoad()) {
      if (g.members.length >= g.input.minimum) break;
      if (g.memberSet.has(inst.name)) continue;
      add(g, inst.name);
    }
  }
  for (const g of bySize()) {
    for (const inst of byLoad()) {
      if (g.memberSet.has(inst.name)) continue;
      if (100 * g.members.length >= g.input.percentage * pool.length) break;
      add(g, inst.name);
    }
  }

  return work.map((w) => ({
    name: w.input.name,
    instances: [...w.members].sort((a, b) => order.get(a)! - order.get(b)!),
    unknown: w.unknown,
  }));
}
