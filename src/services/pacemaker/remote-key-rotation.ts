/**
 * Rotating the Pacemaker Remote authkey (/etc/pacemaker/authkey) as a haforge operation:
 * `pacemakerKeyGeneration` names the generation of the key the cluster nodes and the
 * pacemaker_remote nodes share (TLS-PSK on port 3121: every node and remote node must hold the same
 * key, Pacemaker Remote guide). A node and a remote with different keys cannot connect, and a lost
 * connection gets the remote node fenced, so the key is never swapped under a live connection:
 *
 *  1. the new key is staged on every node and remote node (an ordinary file: it replaces nothing);
 *  2. on the first cluster node: the remote connection resources that run are stopped
 *     (`target-role=Stopped`: Pacemaker stops the remote's resources first, then the connection;
 *     nothing is fenced), and it waits until they are stopped;
 *  3. on every remote node: pacemaker_remote stops (once no cluster node is connected to it);
 *  4. the staged key is installed as /etc/pacemaker/authkey on every node and remote node;
 *  5. pacemaker_remote starts again on the remote nodes where it ran;
 *  6. on the first cluster node: once a minute has passed since the connections stopped (the
 *     controllers cache the key they read for one minute: lib/lrmd key cache, Pacemaker 2.1), the
 *     connections get their previous target-role back, and it waits until they run again (and for
 *     "CLUSTER OK" if the cluster had it); it reports the outage ("the remote connections were down
 *     for N s").
 *
 * Each step is one cluster action (ids carry the generation: a new generation runs them once,
 * re-deploying the same inventory does not), each after the previous step everywhere. Idempotent:
 * a host holding the staged key already, without a record, does nothing; the first node and each
 * remote keep a record while mid-rotation (which connections ran and their target-role, whether
 * pacemaker_remote ran), so a failed run resumes and only what ran is started again.
 */
import { shellQuote } from "../../core/escape";
import type { ClusterAction, FileSpec } from "../../core/desired-state";
import type { MaterialSpec } from "../../core/materials";
import type { PacemakerClusterPlan } from "../../plan/types";
import { ROTATION_STEPS as COROSYNC_STEPS, keyGeneration, rotationActionId, stepPrelude, type RotationContext } from "./key-rotation";

/** The next Pacemaker Remote key, staged on every node and remote node. */
export const PACEMAKER_KEY_NEXT = "/var/lib/haforge/pacemaker/authkey.next";
/** A host's record while it is mid-rotation. */
export const PACEMAKER_KEY_ROTATION_RECORD = "/var/lib/haforge/pacemaker/key-rotation";
/** How long a Pacemaker 2.1 process keeps using the key it read (lib/lrmd: "valid for 1 minute"), plus 1 s. */
export const KEY_CACHE_S = 61;

export const pacemakerKeyMaterialOf = (cluster: string, generation: number): string =>
  generation > 0 ? `pacemaker/authkey/${cluster}/generation-${generation}` : `pacemaker/authkey/${cluster}`;

export const remoteKeyGeneration = (cluster: PacemakerClusterPlan): number => cluster.spec.pacemakerKeyGeneration ?? 0;

export const REMOTE_ROTATION_STEPS = ["stop-connections", "stop-remote", "install", "start-remote", "start-connections"] as const;
export type RemoteRotationStep = (typeof REMOTE_ROTATION_STEPS)[number];

export const remoteRotationActionId = (cluster: string, generation: number, step: RemoteRotationStep, host: string): string =>
  `pacemaker:${cluster}:pacemaker-key-${generation}:${step}:${host}`;

/** What the steps need from the renderer: the same as the corosync rotation's (passed in to keep the import one-way). */
export type RemoteRotationContext = RotationContext;

const WAIT_STOPPED_S = 300;
const WAIT_RUNNING_S = 300;

/** The hosts each step runs on: the first cluster node, the remote nodes, or all of them. */
function stepHosts(cluster: PacemakerClusterPlan, step: RemoteRotationStep): string[] {
  const runner = cluster.nodes[0]!.host;
  if (step === "stop-connections" || step === "start-connections") return [runner];
  if (step === "install") return [...cluster.nodes.map((n) => n.host), ...cluster.remoteNodes];
  return [...cluster.remoteNodes];
}

const runningOn = (r: string) => `crm_resource --locate --resource ${shellQuote(r)} 2>/dev/null | grep -q 'is running on'`;

function connectionSteps(
  c: RemoteRotationContext,
  cluster: PacemakerClusterPlan,
): Record<"stop-connections" | "start-connections", string> {
  const remotes = cluster.remoteNodes.map(shellQuote).join(" ");
  return {
    "stop-connections": [
      `if [ ! -e "$R" ]; then`,
      `  if cmp -s "$NEXT" "$KEY"; then say "this node holds it already: nothing to do"; exit 0; fi`,
      `  mkdir -p "$(dirname "$R")" || fail "cannot write $R"`,
      `  { echo "since=$(date +%s)"; running pacemaker && echo pacemaker=1; ${c.pacemakerHealth} && echo ok=1`,
      `    if running pacemaker; then for r in ${remotes}; do`,
      `      crm_resource --locate --resource "$r" 2>/dev/null | grep -q 'is running on' || continue`,
      `      echo "conn $r $(crm_resource --resource "$r" --meta --get-parameter target-role 2>/dev/null | grep -v ' ')"`,
      `    done; fi; } > "$R.tmp"`,
      `  mv "$R.tmp" "$R" || fail "cannot write $R"`,
      `fi`,
      `grep '^conn ' "$R" | while read -r _ r role; do`,
      `  say "stopping the remote connection $r (its resources stop first)"`,
      `  crm_resource --resource "$r" --meta --set-parameter target-role --parameter-value Stopped >/dev/null || fail "cannot stop $r"`,
      `done || exit 1`,
      `grep '^conn ' "$R" | while read -r _ r role; do`,
      `  wait_for "! crm_resource --locate --resource '$r' 2>/dev/null | grep -q 'is running on'" ${WAIT_STOPPED_S} "the remote connection $r did not stop"`,
      `done || exit 1`,
      `grep -q '^stopped=' "$R" || echo "stopped=$(date +%s)" >> "$R"`,
      `exit 0`,
    ].join("\n"),
    "start-connections": [
      `[ -e "$R" ] || exit 0`,
      `stopped=$(sed -n 's/^stopped=//p' "$R"); since=$(sed -n 's/^since=//p' "$R")`,
      `if was pacemaker; then left=$((\${stopped:-0} + ${KEY_CACHE_S} - $(date +%s)))`,
      `  if [ "$left" -gt 0 ]; then say "waiting $left s: Pacemaker keeps a key it read for a minute"; sleep "$left"; fi; fi`,
      `grep '^conn ' "$R" | while read -r _ r role; do`,
      `  say "starting the remote connection $r"`,
      `  if [ -n "$role" ]; then crm_resource --resource "$r" --meta --set-parameter target-role --parameter-value "$role" >/dev/null || fail "cannot start $r"`,
      `  else crm_resource --resource "$r" --meta --delete-parameter target-role >/dev/null || fail "cannot start $r"; fi`,
      `done || exit 1`,
      `grep '^conn ' "$R" | while read -r _ r role; do`,
      `  wait_for "crm_resource --locate --resource '$r' 2>/dev/null | grep -q 'is running on'" ${WAIT_RUNNING_S} "the remote connection $r did not start again"`,
      `done || exit 1`,
      `was ok && wait_for ${shellQuote(c.pacemakerHealth)} ${WAIT_RUNNING_S} "no CLUSTER OK ${WAIT_RUNNING_S} s after the remote connections started"`,
      `now=$(date +%s); rm -f "$R"`,
      `say "in place; the remote connections were down for $((now - \${since:-$now})) s"`,
    ].join("\n"),
  };
}

function hostSteps(): Record<"stop-remote" | "install" | "start-remote", string> {
  return {
    // A remote whose connection still runs would lose it: the cluster fences the remote node.
    "stop-remote": [
      `if [ ! -e "$R" ]; then`,
      `  if cmp -s "$NEXT" "$KEY"; then say "this remote node holds it already: nothing to do"; exit 0; fi`,
      `  mkdir -p "$(dirname "$R")" || fail "cannot write $R"`,
      `  { echo "since=$(date +%s)"; running pacemaker_remote && echo remote=1; true; } > "$R.tmp" && mv "$R.tmp" "$R" || fail "cannot write $R"`,
      `fi`,
      `if running pacemaker_remote; then`,
      `  wait_for "! ss -Htn state established '( sport = :3121 )' 2>/dev/null | grep -q ." ${WAIT_STOPPED_S} ` +
        `"a cluster node is still connected: not stopping pacemaker_remote under it"`,
      `  say "stopping pacemaker_remote"; stop_unit pacemaker_remote || fail "pacemaker_remote did not stop"`,
      `fi`,
      `exit 0`,
    ].join("\n"),
    install: [
      `cmp -s "$NEXT" "$KEY" && exit 0`,
      `pidof pacemaker-remoted >/dev/null 2>&1 && fail "pacemaker-remoted runs: not replacing its key"`,
      `test "$(wc -c < "$NEXT")" -eq "$BYTES" || fail "the staged key $NEXT is not $BYTES bytes"`,
      `cp "$NEXT" "$KEY.haforge-new" && chown hacluster:haclient "$KEY.haforge-new" && chmod 0640 "$KEY.haforge-new" && ` +
        `mv "$KEY.haforge-new" "$KEY" || fail "cannot install $KEY"`,
      `say "installed $KEY"`,
    ].join("\n"),
    "start-remote": [
      `[ -e "$R" ] || exit 0`,
      `if was remote && ! running pacemaker_remote; then say "starting pacemaker_remote"; start_unit pacemaker_remote || fail "pacemaker_remote did not start"; fi`,
      `rm -f "$R"`,
    ].join("\n"),
  };
}

/** The shell body of one step on one host. */
export function remoteRotationStepScript(
  c: RemoteRotationContext,
  cluster: PacemakerClusterPlan,
  step: RemoteRotationStep,
  host: string,
): string {
  const generation = remoteKeyGeneration(cluster);
  const prelude = stepPrelude(
    c.unitCommands(c.init(host)),
    { record: PACEMAKER_KEY_ROTATION_RECORD, next: PACEMAKER_KEY_NEXT, key: c.authkey },
    `pacemaker remote key generation ${generation} of cluster ${cluster.name} on ${host}`,
  );
  const body = step === "stop-connections" || step === "start-connections" ? connectionSteps(c, cluster)[step] : hostSteps()[step];
  // A cluster node: never under a remote connection that runs (step 2 stopped them). A node
  // that holds no key at all hosts no connection (TLS-PSK needs one) and cuts none by getting
  // one: a connection still runs there when the runner held the new key already (step 2 then
  // stops nothing), and the hosts that run share one key, so that connection is on the new key.
  const guard =
    step === "install" && !cluster.remoteNodes.includes(host)
      ? cluster.remoteNodes
          .map((r) => `{ ! running pacemaker || ! ${runningOn(r)} || fail "the remote connection ${r} runs: not replacing its key"; }`)
          .join("\n")
      : "";
  return [prelude, `BYTES=${c.keyBytes}`, ...(guard ? [`cmp -s "$NEXT" "$KEY" || [ ! -e "$KEY" ] || {\n${guard}\n}`] : []), body].join(
    "\n",
  );
}

/** The staged key on a host: an ordinary key file (nothing reads it but the rotation). */
function stagedKey(host: string, keyBase64: string, keyBytes: number): FileSpec {
  return {
    host,
    path: PACEMAKER_KEY_NEXT,
    content: keyBase64,
    encoding: "base64",
    mode: "0400",
    owner: "root",
    group: "root",
    secret: true,
    validate: `test "$(wc -c < {file})" -eq ${keyBytes}`,
    notify: [],
  };
}

/** The step after which a host's /etc/pacemaker/authkey is written (it then finds its content in place). */
export function remoteKeyLastStep(cluster: PacemakerClusterPlan, host: string): string {
  const step: RemoteRotationStep = cluster.remoteNodes.includes(host) ? "start-remote" : "install";
  return remoteRotationActionId(cluster.name, remoteKeyGeneration(cluster), step, host);
}

/**
 * The rotation of a cluster with remote nodes whose `pacemakerKeyGeneration` is above 0: the staged
 * key on every node and remote node, and the steps' actions (bootstrap phase). After a corosync key
 * rotation of the same render (it stops Pacemaker everywhere). Nothing for generation 0.
 */
export function pacemakerKeyRotation(
  c: RemoteRotationContext,
  cluster: PacemakerClusterPlan,
  keyBase64: string,
): { files: FileSpec[]; actions: ClusterAction[] } {
  const generation = remoteKeyGeneration(cluster);
  if (generation === 0 || !cluster.nodes.length || !cluster.remoteNodes.length) return { files: [], actions: [] };
  const files = stepHosts(cluster, "install").map((h) => stagedKey(h, keyBase64, c.keyBytes));
  const corosync = keyGeneration(cluster);
  const afterCorosync =
    corosync > 0
      ? cluster.nodes.map((n) => rotationActionId(cluster.name, corosync, COROSYNC_STEPS[COROSYNC_STEPS.length - 1]!, n.host))
      : [];
  const actions: ClusterAction[] = [];
  REMOTE_ROTATION_STEPS.forEach((step, i) => {
    const previous =
      i > 0
        ? stepHosts(cluster, REMOTE_ROTATION_STEPS[i - 1]!).map((h) =>
            remoteRotationActionId(cluster.name, generation, REMOTE_ROTATION_STEPS[i - 1]!, h),
          )
        : afterCorosync;
    for (const host of stepHosts(cluster, step)) {
      actions.push({
        id: remoteRotationActionId(cluster.name, generation, step, host),
        host,
        phase: "bootstrap",
        description: `rotate the Pacemaker Remote key of cluster ${cluster.name} to generation ${generation}: ${step} on ${host}`,
        create: remoteRotationStepScript(c, cluster, step, host),
        dependsOn: previous,
        triggers: [PACEMAKER_KEY_NEXT],
        secret: false,
      });
    }
  });
  return { files, actions };
}

/** The material spec of the remote key's current generation. */
export function pacemakerKeyMaterialSpec(cluster: PacemakerClusterPlan, keyBytes: number): MaterialSpec {
  const generation = remoteKeyGeneration(cluster);
  return {
    key: pacemakerKeyMaterialOf(cluster.name, generation),
    kind: { type: "random-bytes", bytes: keyBytes },
    description: `Pacemaker remote authkey of cluster ${cluster.name}${generation ? `, generation ${generation}` : ""}`,
    // A rotated key is new: the key in place is the previous generation's, never adopted as it.
    ...(generation > 0 ? { adoptOnlyFrom: [PACEMAKER_KEY_NEXT] } : {}),
  };
}
