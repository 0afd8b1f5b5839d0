/**
 * The commands a change would run, from two renders' manifests: what `pulumi up` does with the
 * HostAction resources (src/providers/host-action.ts), without Pulumi.
 *
 * - an action only in the new render runs its `create` (register an instance, add a member);
 * - an action only in the old render runs its `delete`, if it has one (deprovision_instance,
 *   forget_cluster_node, unregister a queue): the membership changes a review must not miss;
 * - an action whose `create` changed runs the new one (cluster actions re-run on change);
 * - an action whose `triggers` name a file that changed on its host runs again;
 * - a changed file that notifies a service restarts it (components/service-resources.ts: one
 *   restart per host and service, re-run when a file it follows changes).
 *
 * Commands are shown as the manifests hold them: actions flagged secret are masked there.
 */
import type { ClusterAction, ServiceSpec } from "../core/desired-state";

export interface ActionManifest {
  readonly actions?: readonly ClusterAction[];
  readonly services?: readonly ServiceSpec[];
  readonly files?: readonly { readonly host: string; readonly path: string; readonly notify?: readonly string[] }[];
}

export type ActionRun = "create" | "delete" | "rerun" | "restart";

export interface PlannedRun {
  readonly host: string;
  /** The action id, or `service:<name>` for a restart. */
  readonly id: string;
  readonly run: ActionRun;
  readonly description: string;
  readonly command: string;
  /** Why it runs: "added", "removed", "command changed", or the changed files. */
  readonly because: string;
}

/**
 * `changed` holds `host:path` of every file whose content differs between the two renders (added
 * and removed files included). Runs come per host in the order hosts and actions appear.
 */
export function actionsThatWouldRun(oldM: ActionManifest, newM: ActionManifest, changed: ReadonlySet<string>): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const oldActions = new Map((oldM.actions ?? []).map((a) => [a.id, a]));
  const newActions = new Map((newM.actions ?? []).map((a) => [a.id, a]));
  for (const a of newM.actions ?? []) {
    const before = oldActions.get(a.id);
    if (!before) {
      runs.push({ host: a.host, id: a.id, run: "create", description: a.description, command: a.create, because: "added" });
      continue;
    }
    if (before.create !== a.create || before.host !== a.host) {
      runs.push({ host: a.host, id: a.id, run: "create", description: a.description, command: a.create, because: "command changed" });
      continue;
    }
    const hit = a.triggers.filter((p) => changed.has(`${a.host}:${p}`));
    if (hit.length)
      runs.push({ host: a.host, id: a.id, run: "rerun", description: a.description, command: a.create, because: hit.join(", ") });
  }
  for (const a of oldM.actions ?? []) {
    if (newActions.has(a.id) || !a.delete) continue;
    runs.push({ host: a.host, id: a.id, run: "delete", description: a.description, command: a.delete, because: "removed" });
  }
  const services = new Map((newM.services ?? []).map((s) => [`${s.host}:${s.name}`, s]));
  const notified = new Map<string, string[]>();
  for (const f of newM.files ?? []) {
    if (!changed.has(`${f.host}:${f.path}`)) continue;
    for (const n of f.notify ?? []) notified.set(`${f.host}:${n}`, [...(notified.get(`${f.host}:${n}`) ?? []), f.path]);
  }
  for (const [key, paths] of notified) {
    const s = services.get(key);
    if (!s) continue;
    runs.push({
      host: s.host,
      id: `service:${s.name}`,
      run: "restart",
      description: `restart ${s.name}${s.rollGroup ? ` (rolling group ${s.rollGroup}: one host at a time${s.health ? ", gated on its health check" : ""})` : ""}`,
      command: s.restart,
      because: paths.join(", "),
    });
  }
  const hostOrder = new Map<string, number>();
  for (const r of runs) if (!hostOrder.has(r.host)) hostOrder.set(r.host, hostOrder.size);
  return runs
    .map((r, i) => ({ r, i }))
    .sort((x, y) => hostOrder.get(x.r.host)! - hostOrder.get(y.r.host)! || x.i - y.i)
    .map((x) => x.r);
}

/** `restart service:haproxy: systemctl restart haproxy  (/etc/haproxy/haproxy.cfg)` */
export const formatRun = (r: PlannedRun): string => `${r.run} ${r.id}: ${r.command}  (${r.because})`;
