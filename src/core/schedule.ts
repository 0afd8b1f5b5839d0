/**
 * The apply schedule, as pure functions: in which order a service's cluster actions are declared
 * (each after the actions it depends on) and in which order its restarts roll (the plan's rolling
 * group order, one host after the other). The Pulumi components follow these orders; nothing here
 * touches a host.
 *
 * A dependency cycle is reported as a finding (`schedule.cycle`, naming the actions of the cycle),
 * and so is an action that waits for a cycle (`schedule.blocked`): neither is silently broken by
 * picking an action anyway. A bootstrap action that depends on a later-phase action of the same
 * service cannot be honoured (bootstraps run before the restarts, the others after them):
 * `schedule.phase-inversion`. Renderers produce none of these; a finding here is a bug in haforge.
 */
import type { ClusterAction, ServiceSpec } from "./desired-state";
import { error, type Finding } from "./findings";

export interface ActionSchedule {
  /** Every action that can run, each after the ones it depends on; otherwise in input order. */
  readonly order: readonly ClusterAction[];
  readonly findings: readonly Finding[];
}

/** A min-heap of indices: the ready action that came first in the input is declared first. */
class IndexHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    a.push(x);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Strongly connected components with a cycle (Tarjan, iterative), among `nodes`. */
function cycles(nodes: readonly number[], edges: readonly (readonly number[])[]): number[][] {
  const inSet = new Set(nodes);
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const out: number[][] = [];
  let next = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: [number, number][] = [[root, 0]];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1]!;
      const [v, i] = frame;
      const succ = edges[v]!.filter((w) => inSet.has(w));
      if (i < succ.length) {
        frame[1] = i + 1;
        const w = succ[i]!;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(v)!));
      if (low.get(v) === index.get(v)) {
        const comp: number[] = [];
        for (;;) {
          const w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
          if (w === v) break;
        }
        if (comp.length > 1 || edges[v]!.includes(v)) out.push(comp.sort((x, y) => x - y));
      }
    }
  }
  return out.sort((x, y) => x[0]! - y[0]!);
}

/**
 * The order to declare `actions` in. A dependency on an id outside `actions` is ordered elsewhere
 * (another service's component waits for it) and does not hold anything back here. `where` names
 * the actions in findings (e.g. `pacemaker actions`).
 */
export function scheduleActions(actions: readonly ClusterAction[], where = "actions"): ActionSchedule {
  const findings: Finding[] = [];
  const position = new Map<string, number>();
  actions.forEach((a, i) => position.has(a.id) || position.set(a.id, i));
  // edges[i]: the actions that depend on action i
  const dependents: number[][] = actions.map(() => []);
  const deps: number[][] = actions.map(() => []);
  const waiting = actions.map(() => 0);
  actions.forEach((a, i) => {
    for (const d of new Set(a.dependsOn)) {
      const j = position.get(d);
      if (j === undefined) continue;
      dependents[j]!.push(i);
      deps[i]!.push(j);
      waiting[i]!++;
      if (a.phase === "bootstrap" && actions[j]!.phase !== "bootstrap")
        findings.push(
          error(
            "schedule.phase-inversion",
            where,
            `bootstrap action ${a.id} depends on ${d}, a ${actions[j]!.phase} action that runs after the restarts`,
            "A bug in the service's renderer: a bootstrap action may only depend on bootstrap actions.",
          ),
        );
    }
  });
  const ready = new IndexHeap();
  waiting.forEach((w, i) => w === 0 && ready.push(i));
  const order: ClusterAction[] = [];
  const done = new Set<number>();
  while (ready.size) {
    const i = ready.pop();
    order.push(actions[i]!);
    done.add(i);
    for (const k of dependents[i]!) if (--waiting[k]! === 0) ready.push(k);
  }
  if (done.size < actions.length) {
    const left = actions.map((_, i) => i).filter((i) => !done.has(i));
    const inCycle = new Set<number>();
    for (const c of cycles(left, deps)) {
      c.forEach((i) => inCycle.add(i));
      const ids = c.map((i) => actions[i]!.id);
      findings.push(
        error(
          "schedule.cycle",
          where,
          `actions ${ids.join(", ")} depend on each other in a cycle: none of them can run first`,
          "A bug in the service's renderer: break the cycle in the actions' dependsOn.",
        ),
      );
    }
    const blocked = left.filter((i) => !inCycle.has(i)).map((i) => actions[i]!.id);
    if (blocked.length)
      findings.push(
        error("schedule.blocked", where, `actions ${blocked.join(", ")} wait for a cycle of actions and can never run`, "Break the cycle."),
      );
  }
  return { order, findings };
}

/** Restarts of one rolling group (or of one `host:service` outside any group), in roll order. */
export interface RestartChain {
  /** The rolling group id, or `host:service` for a service that rolls alone. */
  readonly key: string;
  readonly services: readonly ServiceSpec[];
}

/**
 * Restarts grouped by rolling group and ordered one host after the other: hosts in the order the
 * plan's group lists them (`rollingGroups[].hosts`), hosts it does not list after those in
 * inventory order (`hostOrder`), services of one host by name. Groups in first-seen order.
 */
export function scheduleRestarts(
  services: readonly ServiceSpec[],
  rollingGroups: readonly { readonly id: string; readonly hosts: readonly string[] }[],
  hostOrder: (host: string) => number,
): RestartChain[] {
  const groups = new Map<string, ServiceSpec[]>();
  for (const s of services) {
    const key = s.rollGroup ?? `${s.host}:${s.name}`;
    const list = groups.get(key);
    if (list) list.push(s);
    else groups.set(key, [s]);
  }
  const byId = new Map<string, readonly string[]>();
  for (const g of rollingGroups) if (!byId.has(g.id)) byId.set(g.id, g.hosts);
  return [...groups].map(([key, specs]) => {
    const position = new Map<string, number>();
    (byId.get(key) ?? []).forEach((h, i) => position.has(h) || position.set(h, i));
    const rank = (h: string) => position.get(h) ?? 1e6 + hostOrder(h);
    return { key, services: [...specs].sort((a, b) => rank(a.host) - rank(b.host) || a.name.localeCompare(b.name)) };
  });
}
