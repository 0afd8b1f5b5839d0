/**
 * Pacemaker renderer: per cluster, on every node, Corosync (corosync.conf + authkey), the
 * Pacemaker CIB as an offline document plus the script that applies it, the corosync and
 * pacemaker daemons for the host's init system, and the cluster actions (CIB apply on the first
 * node, one membership action per node whose delete removes the node).
 *
 * Ordering and identity:
 * - Files are validated on the host by the daemons' own checks (`corosync -t -c`, `crm_verify`)
 *   before they replace anything. /etc/corosync/authkey sorts before corosync.conf, so on a fresh
 *   host the key exists when corosync.conf is checked (crypto needs it).
 * - A corosync.conf change is a reload (`corosync-cfgtool -R`, cluster-wide), not a restart:
 *   nodelist changes are applied that way (corosync-cfgtool(8)).
 * - The CIB is never pushed with `cibadmin --replace`: cib-apply.sh diffs against the live CIB
 *   and patches it (templates/pacemaker/cib-apply.sh, a plain script taking its values as
 *   arguments: cibApplyCommand), on ONE node, re-run whenever the
 *   rendered CIB or the script changes (triggers).
 */
import { shellQuote, shellWord } from "../../core/escape";
import { DELETE_ELSEWHERE_EXIT, type ClusterAction, type FileSpec, type InitSystem, type ServiceSpec } from "../../core/desired-state";
import type { MaterialSpec } from "../../core/materials";
import type { ClusterPlan, PacemakerClusterPlan } from "../../plan/types";
import { firstStartAware, packagedDaemon, systemdDropIn } from "../../render/daemon";
import { staticFile } from "../../render/templates";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import { cibPath, cibXml } from "./cib";
import { buildCibModel } from "./cib-model";
import { COROSYNC_AUTHKEY, COROSYNC_CONF, corosyncConfData, usesCrypto } from "./corosync-conf";
import { lightweightSpec, osloProjects, osloRetryPath } from "./lightweight";
import { managedMaterials, renderManaged } from "./managed-config";
import { plannedHost } from "../../plan/lookup";
import { corosyncKeyMaterialOf, corosyncKeyMaterialSpec, corosyncKeyRotation, keyGeneration, rotationActionId } from "./key-rotation";
import {
  pacemakerKeyMaterialOf,
  pacemakerKeyMaterialSpec,
  pacemakerKeyRotation,
  remoteKeyGeneration,
  remoteKeyLastStep,
} from "./remote-key-rotation";

export const CIB_APPLY_SCRIPT = "/usr/local/lib/haforge/cib-apply.sh";
export const COROSYNC_APPLY_SCRIPT = "/usr/local/lib/haforge/corosync-apply.sh";
/** The corosync.conf corosync runs (copied by corosync-apply.sh once applied). */
export const COROSYNC_APPLIED = "/var/lib/haforge/corosync/corosync.conf.applied";

/**
 * corosync.conf keys a `corosync-cfgtool -R` applies at runtime (totem timeouts read by
 * totem_volatile_config_read, logging, votequorum's expected_votes). Everything else takes the
 * node out (corosync-apply.sh). Node additions/removals are handled apart (nodelist.node.*).
 */
export const COROSYNC_RELOADABLE_KEYS = [
  "logging.*",
  "totem.token",
  "totem.token_retransmit",
  "totem.token_retransmits_before_loss_const",
  "totem.token_warning",
  "totem.hold",
  "totem.join",
  "totem.consensus",
  "totem.merge",
  "totem.downcheck",
  "totem.fail_recv_const",
  "totem.seqno_unchanged_const",
  "totem.send_join",
  "totem.max_network_delay",
  "totem.window_size",
  "totem.max_messages",
  "totem.miss_count_const",
  "totem.knet_pmtud_interval",
  "quorum.expected_votes",
] as const;

/** The unit commands corosync-apply.sh uses, per init system (`$1` is the unit / program). */
export function unitCommands(init: InitSystem): { running: string; start: string; stop: string } {
  if (init === "systemd")
    return {
      running: `systemctl is-active --quiet "$1"`,
      start: `systemctl daemon-reload && systemctl enable --quiet "$1" && systemctl start "$1"`,
      stop: `systemctl stop "$1"`,
    };
  return {
    running: `supervisorctl status "$1" 2>/dev/null | grep -q RUNNING`,
    start:
      `supervisorctl reread >/dev/null; supervisorctl update "$1" >/dev/null; supervisorctl start "$1" >/dev/null 2>&1; i=0; ` +
      `while [ "$i" -lt 300 ]; do case "$(supervisorctl status "$1")" in *RUNNING*) return 0;; *FATAL*|*EXITED*) return 1;; esac; i=$((i+1)); sleep 1; done; return 1`,
    stop: `supervisorctl stop "$1" >/dev/null`,
  };
}

export function corosyncApplyScript(ctx: RenderContext, init: InitSystem): string {
  return ctx.template("pacemaker", "corosync-apply.sh.hbs", {
    init,
    conf: COROSYNC_CONF,
    applied: COROSYNC_APPLIED,
    reloadableCase: COROSYNC_RELOADABLE_KEYS.join("|"),
    wireLines: corosyncWireLines('"$1"'),
    held: COROSYNC_HELD,
    joining: COROSYNC_JOINING,
    leaving: LEAVING_ATTRIBUTE,
    why: shellQuote(COROSYNC_WIRE_WHY),
    ...unitCommands(init),
  });
}

/**
 * The gate between two nodes of a corosync roll: quorate, and when Pacemaker runs here, the whole
 * cluster back ("CLUSTER OK": a DC, every node online) before the next node goes.
 */
export function corosyncRollHealth(init: InitSystem): string {
  const pcmkRunning =
    init === "systemd" ? "systemctl is-active --quiet pacemaker" : "supervisorctl status pacemaker 2>/dev/null | grep -q RUNNING";
  const corosyncRunning =
    init === "systemd" ? "systemctl is-active --quiet corosync" : "supervisorctl status corosync 2>/dev/null | grep -q RUNNING";
  // Held (corosync-apply.sh wrote a transport/crypto change with corosync stopped): the cluster
  // is started on every node at once by the operator, not by this roll.
  return `{ [ -e ${COROSYNC_HELD} ] && ! ${corosyncRunning}; } || { ${COROSYNC_HEALTH} && { ! ${pcmkRunning} || ${PACEMAKER_HEALTH} || ${ONLY_JOINING_OFFLINE}; }; }`;
}

/**
 * corosync-apply.sh's record of the nodes a reload added (one name a line): they are offline in
 * Pacemaker until they start, later in the same roll (pcs `cluster node add`: the nodes reload the
 * nodelist, then the new node starts), so "CLUSTER WARN: offline node: X" for them alone passes
 * the gate. Cleared by the next run.
 */
export const COROSYNC_JOINING = "/run/haforge/corosync-joining";

/** crm_mon's summary is "CLUSTER WARN: offline node: A offline node: B" and each is a node being added (2.1.5's pcmk__output_simple_status). */
export const ONLY_JOINING_OFFLINE =
  `{ [ -s ${COROSYNC_JOINING} ] && crm_mon -1 -s 2>/dev/null | awk -v f=${COROSYNC_JOINING} ` +
  `'BEGIN { while ((getline l < f) > 0) j[l] = 1 } sub(/^CLUSTER WARN: /, "") { n = split($0, w, "offline node: "); ok = n > 1 && w[1] == ""; ` +
  `for (i = 2; i <= n; i++) { x = w[i]; sub(/ +$/, "", x); if (!(x in j)) ok = 0 } } END { exit !ok }'; }`;
export const PACEMAKER_AUTHKEY = "/etc/pacemaker/authkey";

/** Corosync authkey size: corosync-keygen's default (corosync-keygen(8)). */
export const COROSYNC_KEY_BYTES = 256;
/** pacemaker_remote key size: the Pacemaker Remote guide's `dd bs=4096 count=1`. */
export const PACEMAKER_KEY_BYTES = 4096;

/** The material of the cluster's first key (generation 0; a rotated key: corosyncKeyMaterialOf). */
export const corosyncKeyMaterial = (cluster: string): string => corosyncKeyMaterialOf(cluster, 0);
/** The remote key's first generation (a rotated key: pacemakerKeyMaterialOf). */
export const pacemakerKeyMaterial = (cluster: string): string => pacemakerKeyMaterialOf(cluster, 0);
export const rollGroupId = (cluster: string): string => `pacemaker:${cluster}`;

/**
 * Bootstrap properties the controller writes itself; the apply keeps them in the live CIB
 * (linux-system-roles/ha_cluster keeps the same ones) so an unchanged inventory is a no-op.
 */
export const PACEMAKER_OWNED_PROPERTIES = ["cluster-infrastructure", "dc-version", "have-watchdog", "last-lrm-refresh"] as const;

/** Health gate of a Pacemaker node (see the pacemaker daemon below). */
export const PACEMAKER_HEALTH = "crm_mon -1 -s 2>/dev/null | grep -q '^CLUSTER OK'";
/**
 * `corosync -t` with crypto on also opens the keyfile (docs/lab.md), but nothing orders the authkey
 * before corosync.conf on a new host: there the check runs on a copy whose `keyfile:` points at a
 * throwaway random key (the key's bytes are not what the check is about).
 */
export function corosyncValidateWithKey(keyfile: string): string {
  return (
    `if [ -r ${keyfile} ]; then corosync -t -c {file}; else ` +
    `d=$(mktemp -d) && head -c 256 /dev/urandom > "$d/authkey" && ` +
    `sed "s#^\\([[:space:]]*keyfile:\\).*#\\1 $d/authkey#" {file} > "$d/corosync.conf" && ` +
    `corosync -t -c "$d/corosync.conf"; rc=$?; rm -rf "$d"; exit $rc; fi`
  );
}

/**
 * totem settings every node must share to talk to the others at all: the transport (and knet's
 * own link transport, the port, the address family) and the wire crypto. corosync cannot change
 * them at runtime (exec/totemconfig.c, "Cannot change ... at runtime"), and a node restarted onto
 * other values cannot join the ones that run the old ones: rolled node by node, every restarted
 * node comes up alone. Such a change is made with the whole cluster stopped (pcs cluster stop
 * --all, change, start --all), so haforge refuses it under a running corosync (the corosync.conf
 * validate and corosync-apply.sh) and, with corosync stopped, writes it without starting corosync.
 */
export const COROSYNC_WIRE_KEYS = [
  "transport",
  // Not reloadable (corosync keeps it read-only at runtime; Pacemaker and DLM read it at start) and,
  // with udp, the source of the multicast address: a node restarted onto another name is not the
  // same cluster's any more.
  "cluster_name",
  "crypto_cipher",
  "crypto_hash",
  "crypto_model",
  "secauth",
  "ip_version",
  "knet_transport",
  "mcastport",
] as const;

/** The wire settings of a corosync.conf as sorted `key:value` lines (a shell pipeline over FILE). */
export const corosyncWireLines = (file: string): string =>
  `grep -E '^[[:space:]]*(${COROSYNC_WIRE_KEYS.join("|")})[[:space:]]*:' ${file} | sed 's/#.*//; s/[[:space:]]//g' | LC_ALL=C sort`;

/** Where the README explains how the corosync transport or crypto is changed. */
export const WIRE_CHANGE_DOC = 'README.md, "Changing the corosync transport or crypto"';

/** Why a transport/crypto change is refused, and the procedure (the validate, corosync-apply.sh, findings). */
export const COROSYNC_WIRE_WHY =
  `haforge: refusing to change the corosync transport or crypto settings or the cluster name (${COROSYNC_WIRE_KEYS.slice(0, 4).join(", ")}, ...) ` +
  `while corosync runs: nodes with different settings cannot talk to each other, so restarting the nodes one at a ` +
  `time would leave each restarted node alone. To change them: stop the cluster on every node (crm cluster stop ` +
  `--all, or pcs cluster stop --all), run haforge again (it writes corosync.conf on every node and starts nothing), ` +
  `then start the cluster on every node (crm cluster start --all / pcs cluster start --all). See ${WIRE_CHANGE_DOC}.`;

/**
 * corosync.conf's check on the host, besides `corosync -t`: where corosync runs the configuration
 * haforge applied (corosync-apply.sh's record), the new file keeps its transport and crypto
 * settings (COROSYNC_WIRE_KEYS). Without the record the running corosync is not haforge's cluster
 * yet (Debian starts its packaged single-node default on install): corosync-apply.sh takes the
 * node out and starts it on the new file, as before.
 */
export function corosyncWireValidate(live: string = COROSYNC_APPLIED): string {
  const l = sq(live);
  return (
    `{ [ ! -f ${l} ] || ! pidof corosync >/dev/null 2>&1 || { old=$(${corosyncWireLines(l)}); new=$(${corosyncWireLines("{file}")}); ` +
    `[ "$old" = "$new" ] || { echo ${sq(COROSYNC_WIRE_WHY)} >&2; echo "in place: $(echo $old)" >&2; echo "new: $(echo $new)" >&2; exit 1; }; }; }`
  );
}

/** corosync-apply.sh's mark: a transport/crypto change written with corosync stopped, corosync left stopped. */
export const COROSYNC_HELD = "/run/haforge/corosync-held";

/** rc 0 quorate, 2 not quorate (corosync-quorumtool(8)). */
export const COROSYNC_HEALTH = "corosync-quorumtool -s >/dev/null";

/** POSIX shell single-quoting (src/core/escape.ts). */
const sq = shellQuote;

/** Check that a decoded key file has the expected size: a missing material renders empty and is refused here. */
const keySizeCheck = (bytes: number): string => `test "$(wc -c < {file})" -eq ${bytes}`;

/** Where the README explains how a cluster key is changed (named by the refusals below). */
export const KEY_CHANGE_DOC = 'README.md, "Changing a cluster key"';

/**
 * The corosync authkey's check on the host: besides its size, the file is never REPLACED by
 * another key. Nodes with different keys cannot talk to each other: a new key written under a
 * running cluster is not used until corosync restarts, and the first node restarted (maintenance,
 * a later non-reloadable change) then comes up alone; a cluster-wide `corosync-cfgtool -R` to
 * switch keys got a node fenced here with Pacemaker running. So a different key already in place
 * (on any node, corosync running or not: a node stopped for maintenance would come back alone) is
 * refused, naming the procedure: stop the cluster on every node, remove the old key everywhere,
 * run haforge (it writes the key where none is), start the cluster on every node. A host without
 * a key (a new node, a new cluster) gets it.
 */
export function corosyncKeyValidate(live: string = COROSYNC_AUTHKEY): string {
  const l = sq(live);
  const why =
    `haforge: refusing to replace ${live}: it holds another key. Nodes with different corosync keys cannot talk ` +
    `to each other (the next node restarted would come up alone). To change the key: stop the cluster on every node ` +
    `(crm cluster stop --all, or pcs cluster stop --all), remove ${live} on every node, run haforge again (it writes ` +
    `the key on every node), then start the cluster on every node (crm cluster start --all / pcs cluster start --all). ` +
    `See ${KEY_CHANGE_DOC}.`;
  return `${keySizeCheck(COROSYNC_KEY_BYTES)} && { [ ! -e ${l} ] || cmp -s {file} ${l} || { echo ${sq(why)} >&2; exit 1; }; }`;
}

/** The CIB a cluster node keeps on disk (written by pacemaker-based, also while Pacemaker is stopped). */
export const PACEMAKER_CIB_ON_DISK = "/var/lib/pacemaker/cib/cib.xml";

/**
 * The Pacemaker remote authkey's check on the host: besides its size, a key in use is never
 * replaced. Debian's pacemaker-common writes a random /etc/pacemaker/authkey on every host it is
 * installed on, so a different key in place is normal on a new host and haforge replaces it there.
 * It is in use, and then refused: on a remote node while pacemaker-remoted runs (a connection made
 * with the old key on the cluster side fails: the remote node is fenced); on a cluster node whose
 * CIB (the one it keeps on disk) has a remote or guest node or a bundle — the controller hosting a
 * connection reads the key when it connects, and Pacemaker 3 keeps the first key it read for the
 * life of the process, so the nodes and remotes would not switch together.
 */
export function pacemakerKeyValidate(
  role: "node" | "remote",
  live: string = PACEMAKER_AUTHKEY,
  cib: string = PACEMAKER_CIB_ON_DISK,
): string {
  const l = sq(live);
  const inUse =
    role === "remote"
      ? "pidof pacemaker-remoted >/dev/null 2>&1"
      : `grep -Eq '<primitive[^>]*type="remote"|name="remote-node"|<bundle[ >]' ${sq(cib)} 2>/dev/null`;
  const why =
    `haforge: refusing to replace ${live}: the cluster uses it for its Pacemaker Remote connections` +
    (role === "remote" ? " (pacemaker-remoted runs here)" : " (the CIB has remote or guest nodes)") +
    `, and a node and a remote with different keys cannot connect (the remote node would be fenced). To change ` +
    `the key, raise the cluster's pacemakerKeyGeneration (haforge then rotates it with the connections stopped), ` +
    `or by hand: stop the remote connection resources (crm resource stop <remote>), stop pacemaker_remote on the ` +
    `remote nodes, remove ${live} on every node and remote node, run haforge again (it writes the key everywhere), ` +
    `restart Pacemaker on the cluster nodes one at a time, then start the connection resources. See ${KEY_CHANGE_DOC}.`;
  return `${keySizeCheck(PACEMAKER_KEY_BYTES)} && { [ ! -e ${l} ] || cmp -s {file} ${l} || ! ${inUse} || { echo ${sq(why)} >&2; exit 1; }; }`;
}

/** Fence device parameters that usually carry credentials: the CIB then counts as a secret file. */
const CREDENTIAL_PARAM = /pass|secret|key|token|community/i;

/** Patch attempts against a CIB that moved on, and live-CIB queries (2 s apart) at start. */
export const CIB_APPLY_ATTEMPTS = 5;
export const CIB_APPLY_QUERY_RETRIES = 30;

/**
 * The command that applies a rendered CIB: templates/pacemaker/cib-apply.sh with its values as
 * arguments, every word quoted. `script` is the installed path (tests run a copy elsewhere).
 */
export function cibApplyCommand(cibFile: string, script: string = CIB_APPLY_SCRIPT): string {
  const args = [
    "-a",
    String(CIB_APPLY_ATTEMPTS),
    "-r",
    String(CIB_APPLY_QUERY_RETRIES),
    ...PACEMAKER_OWNED_PROPERTIES.flatMap((p) => ["-k", p]),
    cibFile,
  ];
  return ["/bin/sh", script, ...args].map(shellWord).join(" ");
}

function membershipAction(cluster: PacemakerClusterPlan, host: string): ClusterAction {
  const names = cluster.nodes.map((n) => n.host);
  // Run on another member: the delete must work after `host` itself is gone. When the runner
  // leaves in the same change (it is stopped by then: DELETE_ELSEWHERE_EXIT), the others in order.
  const runner = names.find((n) => n !== host) ?? host;
  const elsewhere = names.filter((n) => n !== host && n !== runner);
  const q = sq(host);
  const nodeid = cluster.nodes.find((n) => n.host === host)?.nodeid ?? 0;
  return {
    id: `pacemaker:${cluster.name}:member:${host}`,
    host: runner,
    phase: "post-start",
    description: `wait until ${host} is a member of Pacemaker cluster ${cluster.name}; on delete (once it stopped), remove it from the cluster`,
    // `crm_node -l` prints "<id> <name> <state>" per known node. Bounded: 60 x 2 s.
    create:
      `i=0; while [ "$i" -lt 60 ]; do ` +
      `crm_node -l 2>/dev/null | awk '{print $2" "$3}' | grep -qxF ${sq(`${host} member`)} && exit 0; ` +
      `i=$((i+1)); sleep 2; done; echo "node "${q}" did not join cluster "${sq(cluster.name)} >&2; exit 1`,
    delete: memberRemoveCommand(host, nodeid, cluster.name),
    ...(elsewhere.length ? { deleteElsewhere: elsewhere } : {}),
    dependsOn: [],
    triggers: [],
    secret: false,
  };
}

/** Whether `crm_node -l` ("<id> <name> <state>" lines) has a line whose fields `fields` are `value`. */
const listed = (value: string, fields = '$2" "$3'): string => `crm_node -l 2>/dev/null | awk '{print ${fields}}' | grep -qxF ${sq(value)}`;

/** Whether a corosync.conf lists node `host` (a `name:` line). */
const listsNode = (host: string, conf: string = COROSYNC_CONF): string =>
  `grep -Eq ${sq(`^[[:space:]]*name:[[:space:]]*${host.replace(/[.]/g, "\\.")}[[:space:]]*$`)} ${conf}`;

/**
 * The removal of node `host` from its cluster, on a node that stays, once the node stopped (its
 * deprovisioning ran first: Pacemaker, then corosync, stopped on it). pcs `cluster node remove`'s
 * order: the nodes that stay reload a nodelist without it (`corosync-cfgtool -R`, cluster-wide;
 * their corosync.conf no longer lists it: corosync-apply.sh deferred that reload while the node
 * ran), then Pacemaker forgets it (`crm_node --force -R`, crm_node(8): "after it has been
 * stopped"). Where this node's corosync does not run or its corosync.conf still lists the node
 * (this node leaves in the same change, or destroy tears the whole cluster down), it is not the
 * place: DELETE_ELSEWHERE_EXIT, and the delete moves on to the action's `deleteElsewhere` nodes
 * (none of them can: the cluster is gone, nothing to remove it from).
 */
export function memberRemoveCommand(host: string, nodeid: number, cluster: string): string {
  const q = sq(host);
  const joined = `corosync-cmapctl -b runtime.members.${nodeid}.status 2>/dev/null | grep -q joined`;
  return [
    `if ! corosync-cmapctl -g totem.cluster_name >/dev/null 2>&1; then`,
    `echo "corosync does not run on $(hostname) (it leaves too, or cluster "${sq(cluster)}" is torn down): not the node to remove "${q}" from it";`,
    `exit ${DELETE_ELSEWHERE_EXIT}; fi;`,
    `i=0; while ${joined}; do i=$((i+1)); if [ "$i" -ge 120 ]; then`,
    `echo "node "${q}" still runs corosync: it is stopped before it is removed (its deprovisioning)" >&2; exit 1; fi; sleep 1; done;`,
    `if ${listsNode(host)}; then echo "this node's corosync.conf still lists "${q}": not the node to remove it"; exit ${DELETE_ELSEWHERE_EXIT}; fi;`,
    `corosync-cfgtool -R >/dev/null || exit 1;`,
    // Pacemaker first sees it lost (the DC records the node's departure: a purge before that
    // record is undone by it), then forgets it, until `crm_node -l` no longer lists it.
    `i=0; while ${listed(`${host} member`)}; do i=$((i+1)); [ "$i" -lt 60 ] || break; sleep 1; done;`,
    `i=0; while :; do crm_node --force -R ${q} >/dev/null 2>&1; sleep 2;`,
    `${listed(host, "$2")} || { sleep 2; ${listed(host, "$2")} || exit 0; };`,
    `i=$((i+1)); if [ "$i" -ge 15 ]; then echo "crm_node -l still lists "${q}" after 15 removals" >&2; exit 1; fi; done`,
  ].join(" ");
}

/** The node attribute the nodes that stay set on a node that leaves while it runs (corosync-apply.sh). */
export const LEAVING_ATTRIBUTE = "haforge-leaving";

/**
 * Before node `host` stops for good (its deprovisioning): when the nodes that stay marked it as
 * leaving (a shrink; not a destroy, where every node goes), the cluster must keep quorum without
 * it — quorate now, and one vote less still reaches the quorum (corosync-quorumtool -s) —, so a
 * removal never takes a cluster below quorum when another node is down. A node whose corosync
 * does not run has nothing to check.
 */
export function leaveQuorumCheck(host: string): string {
  const q = sq(host);
  return (
    `if crm_attribute --type nodes --node ${q} --name ${LEAVING_ATTRIBUTE} --query --quiet 2>/dev/null | grep -qx true; then ` +
    `q=$(corosync-quorumtool -s 2>&1); ` +
    `printf '%s\\n' "$q" | grep -q '^Quorate: *Yes' || { echo "the cluster is not quorate: "${q}" does not leave now" >&2; exit 1; }; ` +
    `total=$(printf '%s\\n' "$q" | awk -F: '/^Total votes:/ { gsub(/ /, "", $2); print $2 }'); ` +
    `need=$(printf '%s\\n' "$q" | awk -F: '/^Quorum:/ { gsub(/ /, "", $2); sub(/[^0-9].*/, "", $2); print $2 }'); ` +
    `[ -n "$total" ] && [ -n "$need" ] && [ $((total - 1)) -ge "$need" ] || ` +
    `{ echo "without "${q}" the cluster would have $((total - 1)) of the $need votes it needs: it does not leave now" >&2; exit 1; }; fi`
  );
}

/**
 * "The cluster's keys are in place on this node": a bootstrap action, so it runs after the node's
 * files and before its corosync and pacemaker restarts — the order a key's `notify` used to give,
 * without the restart a written key would cause.
 */
function keysInPlaceAction(cluster: PacemakerClusterPlan, host: string, corosync: boolean, pacemaker: boolean): ClusterAction {
  const paths = [...(corosync ? [COROSYNC_AUTHKEY] : []), ...(pacemaker ? [PACEMAKER_AUTHKEY] : [])];
  return {
    id: `pacemaker:${cluster.name}:keys:${host}`,
    host,
    phase: "bootstrap",
    description: `the keys of cluster ${cluster.name} are in place on ${host} before its daemons start (${paths.join(", ")})`,
    create: paths.map((p) => `test -s ${p}`).join(" && "),
    // A rotated key is installed by its rotation (key-rotation.ts, remote-key-rotation.ts), not written as a file.
    dependsOn: [
      ...(corosync && keyGeneration(cluster) > 0 ? [rotationActionId(cluster.name, keyGeneration(cluster), "settled", host)] : []),
      ...(pacemaker && remoteKeyGeneration(cluster) > 0 ? [remoteKeyLastStep(cluster, host)] : []),
    ],
    triggers: paths,
    secret: false,
  };
}

/** corosync.conf on a node: `corosync -t`, and no transport/crypto change under a running corosync. */
function corosyncConfFile(host: string, content: string, crypto: boolean): FileSpec {
  return {
    host,
    path: COROSYNC_CONF,
    content,
    mode: "0644",
    owner: "root",
    group: "root",
    secret: false,
    validate: `( ${crypto ? corosyncValidateWithKey(COROSYNC_AUTHKEY) : "corosync -t -c {file}"} ) && ${corosyncWireValidate()}`,
    // Its refusal of a transport/crypto change depends on what runs: shown at preview too.
    validateAtPreview: true,
    notify: ["corosync"],
  };
}

/**
 * /etc/corosync/authkey on a node. Never replaces another key (corosyncKeyValidate), so writing it
 * restarts nothing: a new node's corosync reads it at its first start, which waits for it (the keys
 * action). A rotated key (corosyncKeyGeneration above 0) is installed by the rotation with the
 * cluster stopped (key-rotation.ts): the file is written after it and only finds its content there.
 */
function corosyncAuthkey(host: string, cluster: PacemakerClusterPlan, materials: RenderContext["materials"]): FileSpec {
  const generation = keyGeneration(cluster);
  return {
    host,
    path: COROSYNC_AUTHKEY,
    content: materials[corosyncKeyMaterialOf(cluster.name, generation)] ?? "",
    encoding: "base64",
    mode: "0400",
    owner: "root",
    group: "root",
    secret: true,
    validate: corosyncKeyValidate(),
    // At preview the key in place is still the previous generation's: the rotation replaces it.
    ...(generation > 0 ? { afterActions: [rotationActionId(cluster.name, generation, "settled", host)] } : { validateAtPreview: true }),
    notify: [],
  };
}

function rotationContext(plan: ClusterPlan, authkey = COROSYNC_AUTHKEY, keyBytes = COROSYNC_KEY_BYTES) {
  return {
    authkey,
    keyBytes,
    init: (h: string) => initOf(plan, h),
    unitCommands,
    pacemakerHealth: PACEMAKER_HEALTH,
  };
}

function initOf(plan: ClusterPlan, host: string): InitSystem {
  return plannedHost(plan, host)?.init ?? "systemd";
}

/** A node's corosync and pacemaker daemons and corosync-apply.sh, the procedure that is corosync's restart. */
function nodeDaemons(
  ctx: RenderContext,
  cluster: PacemakerClusterPlan,
  host: string,
  init: InitSystem,
  out: { files: FileSpec[]; services: ServiceSpec[] },
): void {
  const { files, services } = out;
  const rollGroup = rollGroupId(cluster.name);
  // systemd: the packaged corosync.service and pacemaker.service, untouched (pacemaker's
  // Requires=corosync, KillMode=process, SendSIGKILL=no "sending -KILL will just get the node
  // fenced", TimeoutStopSec=30min; corosync's Type=notify and `corosync-cfgtool -H` stop).
  // Supervisor hosts (no systemd): program files.
  const corosync = packagedDaemon({
    host,
    init,
    name: "corosync",
    description: `Corosync cluster engine (cluster ${cluster.name})`,
    command: "/usr/sbin/corosync -f",
    health: corosyncRollHealth(init),
    rollGroup,
    startsecs: 3,
    stopwaitsecs: 60,
  });
  const pacemaker = packagedDaemon({
    host,
    init,
    name: "pacemaker",
    description: `Pacemaker cluster resource manager (cluster ${cluster.name})`,
    command: "/usr/sbin/pacemakerd",
    // crm_mon's one-line nagios summary is "CLUSTER OK: ..." only with a DC and every node
    // online; its exit code is 0 even for "CLUSTER WARN: No DC, offline node: X" (measured on
    // 2.1.5), so the text is what gates the roll.
    health: PACEMAKER_HEALTH,
    rollGroup,
    after: ["corosync.service"],
    startsecs: 5,
    // Stopping Pacemaker first moves or stops every resource on the node.
    stopwaitsecs: 600,
  });
  files.push(...corosync.files, ...pacemaker.files, {
    host,
    path: COROSYNC_APPLY_SCRIPT,
    content: corosyncApplyScript(ctx, init),
    mode: "0755",
    owner: "root",
    group: "root",
    secret: false,
    validate: "sh -n {file}",
    // The procedure IS corosync's restart: a new version is in place before it runs.
    notify: ["corosync"],
  });
  // A corosync.conf change is never a plain restart under a running Pacemaker: corosync-apply.sh
  // reloads it, or takes the node out cleanly (Pacemaker first). Quorum gates: a new member only
  // waits for its own process (see firstStartAware).
  services.push(
    firstStartAware({ ...corosync.service, restart: `/bin/sh ${COROSYNC_APPLY_SCRIPT}`, reload: "corosync-cfgtool -R" }),
    // stopped first when the node leaves (Pacemaker, then corosync), quorum checked before
    { ...firstStartAware(pacemaker.service), leaveCheck: leaveQuorumCheck(host) },
  );
}

/** The lightweight layout on a systemd node: restart drop-ins and oslo retry settings for what Pacemaker no longer manages. */
function lightweightNodeFiles(
  ctx: RenderContext,
  host: string,
  lw: NonNullable<ReturnType<typeof lightweightSpec>>,
  files: FileSpec[],
): void {
  // Lightweight layout: what Pacemaker no longer manages is restarted by systemd. Supervisor
  // hosts need nothing: supervisor programs already restart (autorestart=true).
  for (const svc of lw.systemdServices) {
    const unit = svc.replace(/\.service$/, "");
    // Retry forever (the lightweight design relies on it: a service whose database or broker
    // is away keeps coming back): systemd's default start limit (5 starts in 10 s) would
    // otherwise give up on it for good.
    files.push(
      systemdDropIn(host, unit, "haforge-restart", "[Unit]\nStartLimitIntervalSec=0\n\n[Service]\nRestart=always\nRestartSec=5s\n"),
    );
  }
  // ...and they keep retrying their database and broker themselves (oslo.db / oslo.messaging),
  // in a file of oslo.config's default config dir: the project's own config stays the operator's.
  for (const [project, units] of osloProjects(lw.systemdServices)) {
    files.push({
      host,
      path: osloRetryPath(project),
      content: ctx.template("pacemaker", "oslo-ha-retry.conf.hbs", { project }),
      mode: "0644",
      owner: "root",
      group: "root",
      secret: false,
      notify: units,
    });
  }
}

/** Each remote node's authkey and pacemaker_remote daemon. */
function remoteNodes(ctx: RenderContext, cluster: PacemakerClusterPlan, out: { files: FileSpec[]; services: ServiceSpec[] }): void {
  const { plan, materials } = ctx;
  const { files, services } = out;
  for (const remote of cluster.remoteNodes) {
    files.push(pacemakerAuthkey(remote, cluster, materials, "remote"));
    const d = packagedDaemon({
      host: remote,
      init: initOf(plan, remote),
      name: "pacemaker_remote",
      description: `Pacemaker remote executor (cluster ${cluster.name})`,
      command: "/usr/sbin/pacemaker-remoted",
      startsecs: 3,
      stopwaitsecs: 600,
    });
    files.push(...d.files);
    services.push(d.service);
  }
}

/** The CIB applied once from the first node, after every membership action. */
function cibApplyAction(cluster: PacemakerClusterPlan, actions: ClusterAction[]): void {
  const first = cluster.nodes[0];
  if (first) {
    const members = actions.filter((a) => a.phase !== "bootstrap").map((a) => a.id);
    actions.push({
      id: `pacemaker:${cluster.name}:cib`,
      host: first.host,
      phase: "post-start",
      description: `apply the rendered CIB of Pacemaker cluster ${cluster.name} (diff + patch against the live CIB)`,
      create: cibApplyCommand(cibPath(cluster.name)),
      // Resources are placed once every node has joined, not piled onto the first one.
      dependsOn: members,
      triggers: [cibPath(cluster.name), CIB_APPLY_SCRIPT],
      secret: false,
    });
  }
}

function renderCluster(ctx: RenderContext, cluster: PacemakerClusterPlan): RenderResult {
  const { plan, materials } = ctx;
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const actions: ClusterAction[] = [];

  const corosyncConf = ctx.template("pacemaker", "corosync.conf.hbs", corosyncConfData(cluster, plan));
  const crypto = usesCrypto(cluster);
  const model = buildCibModel(cluster, plan);
  const cib = cibXml(model);
  const cibSecret = cluster.spec.fencing.some((f) => Object.keys(f.params).some((k) => CREDENTIAL_PARAM.test(k)));
  const script = staticFile("pacemaker", "cib-apply.sh");
  const remotes = cluster.remoteNodes;
  const lw = lightweightSpec(cluster, plan);

  for (const node of cluster.nodes) {
    const host = node.host;
    const init = initOf(plan, host);
    files.push(corosyncConfFile(host, corosyncConf, crypto));
    if (crypto) files.push(corosyncAuthkey(host, cluster, materials));
    if (remotes.length) {
      files.push(pacemakerAuthkey(host, cluster, materials, "node"));
    }
    if (crypto || remotes.length) actions.push(keysInPlaceAction(cluster, host, crypto, remotes.length > 0));
    files.push(
      {
        host,
        path: cibPath(cluster.name),
        content: cib,
        mode: "0600",
        owner: "root",
        group: "root",
        secret: cibSecret,
        validate: "crm_verify --xml-file {file}",
        // Applied by the CIB action (triggered by this file's hash), never by a restart.
        notify: [],
      },
      { host, path: CIB_APPLY_SCRIPT, content: script, mode: "0755", owner: "root", group: "root", secret: false, notify: [] },
    );

    nodeDaemons(ctx, cluster, host, init, { files, services });

    // Lightweight layout: what Pacemaker no longer manages is restarted by systemd. Supervisor
    // hosts need nothing: supervisor programs already restart (autorestart=true).
    if (lw && init === "systemd") lightweightNodeFiles(ctx, host, lw, files);
    actions.push(membershipAction(cluster, host));
  }
  if (crypto) {
    const rotation = corosyncKeyRotation(
      rotationContext(plan),
      cluster,
      materials[corosyncKeyMaterialOf(cluster.name, keyGeneration(cluster))] ?? "",
    );
    files.push(...rotation.files);
    actions.push(...rotation.actions);
  }
  const remoteRotation = pacemakerKeyRotation(
    rotationContext(plan, PACEMAKER_AUTHKEY, PACEMAKER_KEY_BYTES),
    cluster,
    materials[pacemakerKeyMaterialOf(cluster.name, remoteKeyGeneration(cluster))] ?? "",
  );
  files.push(...remoteRotation.files);
  actions.push(...remoteRotation.actions);

  remoteNodes(ctx, cluster, { files, services });

  // What the daemons Pacemaker runs need (cookie, wsrep, clustercheck, redis.conf).
  const managed = renderManaged(plan, cluster, materials, (h) => initOf(plan, h));
  files.push(...managed.files);
  services.push(...managed.services);

  cibApplyAction(cluster, actions);
  return { files, services, actions };
}

export const renderPart: Pick<ServiceModule, "render" | "materials"> = {
  materials(plan: ClusterPlan): readonly MaterialSpec[] {
    const out: MaterialSpec[] = [...managedMaterials(plan)];
    for (const c of plan.pacemakerClusters) {
      if (usesCrypto(c)) out.push(corosyncKeyMaterialSpec(c, COROSYNC_KEY_BYTES));
      if (c.remoteNodes.length) out.push(pacemakerKeyMaterialSpec(c, PACEMAKER_KEY_BYTES));
    }
    return out;
  },

  render(ctx: RenderContext): RenderResult {
    const files: FileSpec[] = [];
    const services: ServiceSpec[] = [];
    const actions: ClusterAction[] = [];
    for (const cluster of ctx.plan.pacemakerClusters) {
      const r = renderCluster(ctx, cluster);
      files.push(...r.files);
      services.push(...r.services);
      actions.push(...r.actions);
    }
    return { files, services, actions };
  },
};

/**
 * /etc/pacemaker/authkey: shared by cluster nodes and pacemaker_remote nodes (same material).
 * It is only written where it is not in use (pacemakerKeyValidate): a changed key used to restart
 * pacemaker_remote on every remote node at once (no gate) and roll Pacemaker over the nodes, with
 * nodes and remotes on different keys in between.
 */
function pacemakerAuthkey(
  host: string,
  cluster: PacemakerClusterPlan,
  materials: RenderContext["materials"],
  role: "node" | "remote",
): FileSpec {
  const generation = remoteKeyGeneration(cluster);
  return {
    host,
    path: PACEMAKER_AUTHKEY,
    content: materials[pacemakerKeyMaterialOf(cluster.name, generation)] ?? "",
    encoding: "base64",
    mode: "0640",
    owner: "hacluster",
    group: "haclient",
    secret: true,
    validate: pacemakerKeyValidate(role),
    // A rotated key (pacemakerKeyGeneration above 0) is installed by the rotation
    // (remote-key-rotation.ts): the file is written after it and only finds its content there.
    ...(generation > 0 ? { afterActions: [remoteKeyLastStep(cluster, host)] } : { validateAtPreview: true }),
    // A remote node: only written where pacemaker-remoted does not run, so its "restart" is the
    // start that follows the key. A cluster node: the keys action orders it before Pacemaker.
    notify: role === "remote" ? ["pacemaker_remote"] : [],
  };
}
