/**
 * Rotating the corosync authkey as a haforge operation: `corosyncKeyGeneration` in the
 * inventory names the key generation the cluster should run; raising it rotates the key, the way
 * corosync-keygen(8) and the pcs/crmsh procedures do it, with the whole cluster stopped. Nodes with
 * different keys cannot talk to each other, and switching keys at runtime (`corosync-cfgtool -R`
 * after a new keyfile) got a node fenced here with Pacemaker running, so the operation is:
 *
 *  1. the new key is staged beside the applied corosync.conf on every node (an ordinary file: it
 *     replaces nothing that runs);
 *  2. on every node at once: Pacemaker stops (its resources stop; `pcs cluster stop --all` does
 *     the same), then, once Pacemaker is down on EVERY node, corosync stops on every node — never
 *     a corosync stopped under a running Pacemaker (that gets a node fenced); a node's Pacemaker
 *     stop is waited for until STOP_PACEMAKER_DEADLINE_S, then the step fails saying what it waits for;
 *  3. the staged key is installed as /etc/corosync/authkey on every node;
 *  4. corosync starts on every node, then (quorate) Pacemaker, and each node reports how long it
 *     was out ("the cluster was down here for N s").
 *
 * Each step is one cluster action per node (ids carry the generation, so a new generation runs
 * them once and re-deploying the same inventory does not), and each step waits for the previous
 * step on every node. Idempotent: a node that holds the staged key already does nothing (a re-run,
 * or the nodes a failed run got to); the others rotate. Nodes on the new key never share a
 * membership with nodes on the old one, so the old-key nodes stopping (Pacemaker on all of them
 * first) fences nobody, and they join the new-key nodes when they start.
 * A node mid-rotation keeps a record (KEY_ROTATION_RECORD: when it went down, which daemons ran,
 * whether it was quorate and "CLUSTER OK"), so a failed run resumes where it stopped, only the
 * daemons that ran are started again (a new cluster or node only gets the key; its daemons' first
 * start follows as usual), and only what held before is waited for afterwards.
 */
import { shellQuote } from "../../core/escape";
import type { ClusterAction, FileSpec, InitSystem } from "../../core/desired-state";
import type { MaterialSpec } from "../../core/materials";
import type { PacemakerClusterPlan } from "../../plan/types";

/** The next key, staged on every node before the cluster stops. */
export const COROSYNC_KEY_NEXT = "/var/lib/haforge/corosync/authkey.next";
/** A node's record while it is mid-rotation (persistent: a rebooted node resumes). */
export const KEY_ROTATION_RECORD = "/var/lib/haforge/corosync/key-rotation";

/** The material of a generation: generation 0 keeps the name keys always had. */
export const corosyncKeyMaterialOf = (cluster: string, generation: number): string =>
  generation > 0 ? `corosync/authkey/${cluster}/generation-${generation}` : `corosync/authkey/${cluster}`;

export const keyGeneration = (cluster: PacemakerClusterPlan): number => cluster.spec.corosyncKeyGeneration ?? 0;

/** The rotation's steps, in order; each waits for the previous one on every node. */
export const ROTATION_STEPS = ["stop-pacemaker", "stop-corosync", "install", "start-corosync", "start-pacemaker", "settled"] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

export const rotationActionId = (cluster: string, generation: number, step: RotationStep, host: string): string =>
  `pacemaker:${cluster}:corosync-key-${generation}:${step}:${host}`;

/** What the steps need from the renderer (render.ts owns these; passed in to keep the import one-way). */
export interface RotationContext {
  readonly authkey: string;
  readonly keyBytes: number;
  readonly init: (host: string) => InitSystem;
  /** The init system's `running`, `start`, `stop` function bodies (`$1`: the unit). */
  readonly unitCommands: (init: InitSystem) => { running: string; start: string; stop: string };
  /** Exit 0 once Pacemaker reports "CLUSTER OK". */
  readonly pacemakerHealth: string;
}

const WAIT_QUORATE_S = 120;
const WAIT_CLUSTER_OK_S = 300;
/**
 * How long the stop-pacemaker step waits for this node's Pacemaker to stop: above the longest stop
 * operation timeout haforge renders (200 s) plus the stops it is ordered after (a VIP's 20 s), and
 * half of what the init system would wait before killing it (supervisor's stopwaitsecs 600; the
 * packaged pacemaker.service's TimeoutStopSec 30 min). A Pacemaker that takes longer waits for
 * something that will not come by itself; the step then fails naming it instead of holding the
 * whole apply for 10 or 30 minutes.
 */
export const STOP_PACEMAKER_DEADLINE_S = 300;
/**
 * The record's probes (quorum, "CLUSTER OK") are bounded: crm_mon asks pacemakerd first and waits
 * for it without end when it does not answer (measured: a frozen pacemakerd held `crm_mon -1 -s`
 * for minutes); a probe that times out records "no" (not waited for afterwards).
 */
export const PROBE_S = 30;

/**
 * The shell functions every rotation step starts with: $R (the node's record), $NEXT (the staged
 * key), $KEY (the key in use), say/fail, the init system's running/start_unit/stop_unit, stop_within, `was`
 * (a line of the record) and a bounded wait_for. Shared by the Pacemaker remote key's rotation.
 */
export function stepPrelude(
  u: { running: string; start: string; stop: string },
  paths: { record: string; next: string; key: string },
  label: string,
): string {
  return [
    `R=${shellQuote(paths.record)}; NEXT=${shellQuote(paths.next)}; KEY=${shellQuote(paths.key)}`,
    `say() { echo ${shellQuote(label)}": $*"; }`,
    `fail() { say "$*" >&2; exit 1; }`,
    `running() { ${u.running}; }`,
    `start_unit() { ${u.start}; }`,
    `stop_unit() { ${u.stop}; }`,
    `was() { grep -qx "$1=1" "$R"; }`,
    // wait_for CONDITION SECONDS MESSAGE: bounded, 1 s steps.
    `wait_for() { i=0; until eval "$1"; do i=$((i+1)); [ $i -ge "$2" ] && fail "$3"; sleep 1; done; }`,
    // stop_within UNIT SECONDS: the unit's stop and its exit code, waited for until a deadline (the
    // clock's, not a count of polls). Past it, 124: the stop goes on in the background, its output
    // detached (an open stdout would hold the step's ssh session, and a test's pipe, until it ends;
    // in a subshell: dash leaves a backgrounded function call's own redirections off its commands).
    `stop_within() { ( stop_unit "$1" ) </dev/null >/dev/null 2>&1 & sp=$!; end=$(( $(date +%s) + $2 )); ` +
      `while kill -0 "$sp" 2>/dev/null; do [ "$(date +%s)" -ge "$end" ] && return 124; sleep 1; done; wait "$sp"; }`,
  ].join("\n");
}

function prelude(c: RotationContext, host: string, cluster: string, generation: number): string {
  return stepPrelude(
    c.unitCommands(c.init(host)),
    { record: KEY_ROTATION_RECORD, next: COROSYNC_KEY_NEXT, key: c.authkey },
    `corosync key generation ${generation} of cluster ${cluster} on ${host}`,
  );
}

/** The shell body of one step on one node. */
export function rotationStepScript(c: RotationContext, cluster: PacemakerClusterPlan, step: RotationStep, host: string): string {
  const generation = keyGeneration(cluster);
  const body: Record<RotationStep, string> = {
    // The decision (all nodes alike, see above) and the record, then Pacemaker down.
    "stop-pacemaker": [
      `if [ ! -e "$R" ]; then`,
      `  if cmp -s "$NEXT" "$KEY"; then say "this node holds it already: nothing to do"; exit 0; fi`,
      `  mkdir -p "$(dirname "$R")" || fail "cannot write $R"`,
      `  PROBE=${PROBE_S}`,
      `  { echo "since=$(date +%s)"; running pacemaker && echo pacemaker=1; running corosync && echo corosync=1; ` +
        `timeout "$PROBE" corosync-quorumtool -s >/dev/null 2>&1 && echo quorate=1; ` +
        `timeout "$PROBE" sh -c ${shellQuote(c.pacemakerHealth)} && echo ok=1; } > "$R.tmp"`,
      `  mv "$R.tmp" "$R" || fail "cannot write $R"`,
      `fi`,
      `DEADLINE=${STOP_PACEMAKER_DEADLINE_S}`,
      // What this node's Pacemaker waits for, as it sees the cluster.
      `view() { printf '\\n'; corosync-quorumtool -s 2>&1 | grep -E '^(Quorate|Total votes):'; timeout 20 crm_mon -1 -r -n 2>&1 | grep -v '^ *$' | head -n 40; }`,
      `late() { fail "pacemaker has not stopped $DEADLINE s after its stop began (it goes on stopping in the background; ` +
        `once it is down on every node, apply again: the rotation resumes from $R). What it waits for, as this node sees the cluster:$(view)"; }`,
      `if was pacemaker && running pacemaker; then`,
      `  say "stopping pacemaker (every node stops it now)"`,
      `  stop_within pacemaker "$DEADLINE"; rc=$?`,
      `  [ $rc -eq 0 ] && exit 0`,
      `  [ $rc -eq 124 ] || fail "pacemaker did not stop"`,
      `  late`,
      `fi`,
      // A stop still under way (an earlier run's, past its deadline) is not "running" to the init
      // system (supervisor STOPPING, systemd deactivating), but its pacemakerd is: waited for the
      // same way, never left to the corosync stops of the next step.
      `if pidof pacemakerd >/dev/null 2>&1; then`,
      `  say "pacemaker is still stopping here (pacemakerd runs): waiting for it"`,
      `  end=$(( $(date +%s) + DEADLINE )); while pidof pacemakerd >/dev/null 2>&1; do [ "$(date +%s)" -ge "$end" ] && late; sleep 1; done`,
      `fi`,
      `exit 0`,
    ].join("\n"),
    // Only once Pacemaker is down on every node: corosync stopped under a running Pacemaker gets a node fenced.
    "stop-corosync": [
      `[ -e "$R" ] || exit 0`,
      `running pacemaker && fail "pacemaker runs: not stopping corosync under it"`,
      `if running corosync; then say "stopping corosync"; stop_unit corosync || fail "corosync did not stop"; fi`,
      `exit 0`,
    ].join("\n"),
    install: [
      `[ -e "$R" ] || [ ! -e "$KEY" ] || exit 0`,
      `running corosync && fail "corosync runs: not replacing its key"`,
      `test "$(wc -c < "$NEXT")" -eq ${c.keyBytes} || fail "the staged key $NEXT is not ${c.keyBytes} bytes"`,
      `cp "$NEXT" "$KEY.haforge-new" && chown root:root "$KEY.haforge-new" && chmod 0400 "$KEY.haforge-new" && mv "$KEY.haforge-new" "$KEY" || fail "cannot install $KEY"`,
      `say "installed $KEY"`,
    ].join("\n"),
    "start-corosync": [
      `[ -e "$R" ] || exit 0`,
      `if was corosync && ! running corosync; then say "starting corosync"; start_unit corosync || fail "corosync did not start"; fi`,
      `exit 0`,
    ].join("\n"),
    "start-pacemaker": [
      `[ -e "$R" ] || exit 0`,
      // A cluster that was quorate is again once corosync runs on every node; one that was not is not waited for.
      `was quorate && wait_for "corosync-quorumtool -s >/dev/null 2>&1" ${WAIT_QUORATE_S} ` +
        `"not quorate ${WAIT_QUORATE_S} s after corosync started on every node (pacemaker left stopped)"`,
      `if was pacemaker && ! running pacemaker; then say "starting pacemaker"; start_unit pacemaker || fail "pacemaker did not start"; fi`,
      `exit 0`,
    ].join("\n"),
    settled: [
      `[ -e "$R" ] || exit 0`,
      `was ok && wait_for ${shellQuote(c.pacemakerHealth)} ${WAIT_CLUSTER_OK_S} "no CLUSTER OK ${WAIT_CLUSTER_OK_S} s after pacemaker started on every node"`,
      `since=$(sed -n 's/^since=//p' "$R"); now=$(date +%s)`,
      `rm -f "$R"`,
      `say "in place; the cluster was down here for $((now - \${since:-$now})) s"`,
    ].join("\n"),
  };
  return `${prelude(c, host, cluster.name, generation)}\n${body[step]}`;
}

/** The staged key on a node: an ordinary key file (nothing reads it but the rotation). */
function stagedKey(host: string, keyBase64: string, keyBytes: number): FileSpec {
  return {
    host,
    path: COROSYNC_KEY_NEXT,
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

/**
 * The rotation of a cluster whose `corosyncKeyGeneration` is above 0: the staged key on every
 * node and the steps' actions (bootstrap phase: after the node's files, before its restarts).
 * Nothing for generation 0.
 */
export function corosyncKeyRotation(
  c: RotationContext,
  cluster: PacemakerClusterPlan,
  keyBase64: string,
): { files: FileSpec[]; actions: ClusterAction[] } {
  const generation = keyGeneration(cluster);
  if (generation === 0 || !cluster.nodes.length) return { files: [], actions: [] };
  const hosts = cluster.nodes.map((n) => n.host);
  const files = hosts.map((h) => stagedKey(h, keyBase64, c.keyBytes));
  const actions: ClusterAction[] = [];
  ROTATION_STEPS.forEach((step, i) => {
    const previous = i > 0 ? hosts.map((h) => rotationActionId(cluster.name, generation, ROTATION_STEPS[i - 1]!, h)) : [];
    for (const host of hosts) {
      actions.push({
        id: rotationActionId(cluster.name, generation, step, host),
        host,
        phase: "bootstrap",
        description: `rotate the corosync key of cluster ${cluster.name} to generation ${generation}: ${step} on ${host}`,
        create: rotationStepScript(c, cluster, step, host),
        dependsOn: previous,
        triggers: [COROSYNC_KEY_NEXT],
        secret: false,
      });
    }
  });
  return { files, actions };
}

/** The material spec of the cluster's current key generation. */
export function corosyncKeyMaterialSpec(cluster: PacemakerClusterPlan, keyBytes: number): MaterialSpec {
  const generation = keyGeneration(cluster);
  return {
    key: corosyncKeyMaterialOf(cluster.name, generation),
    kind: { type: "random-bytes", bytes: keyBytes },
    description: `Corosync authkey of cluster ${cluster.name} (totem crypto)${generation ? `, generation ${generation}` : ""}`,
    // A rotated key is new: the key in place is the previous generation's, never adopted as it.
    ...(generation > 0 ? { adoptOnlyFrom: [COROSYNC_KEY_NEXT] } : {}),
  };
}
