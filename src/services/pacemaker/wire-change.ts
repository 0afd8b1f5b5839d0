/**
 * A corosync transport or crypto change judged at plan time from the previous and the next plan
 * (`haforge validate --previous/--rev`). Nodes on other transport/crypto values cannot talk to
 * each other, so the change is made with the whole cluster stopped (pcs cluster stop --all,
 * change, start --all); haforge refuses it on a host where corosync runs (render.ts,
 * corosyncWireValidate). The finding names the procedure before anyone runs an apply. A warning:
 * with the cluster stopped the same inventory is exactly what the procedure applies.
 */
import { warning, type Finding } from "../../core/findings";
import type { ClusterPlan, PacemakerClusterPlan } from "../../plan/types";
import { usesCrypto } from "./corosync-conf";
import { WIRE_CHANGE_DOC } from "./render";

/** What the nodes must share on the wire: the transport and the crypto corosync.conf gets. */
function wire(c: PacemakerClusterPlan): { transport: string; crypto: string } {
  return {
    transport: c.spec.transport,
    crypto: usesCrypto(c) ? `${c.spec.crypto.cipher}/${c.spec.crypto.hash}` : "none",
  };
}

export function corosyncWireChangeFindings(before: ClusterPlan, after: ClusterPlan): Finding[] {
  const out: Finding[] = [];
  after.pacemakerClusters.forEach((c, i) => {
    const old = before.pacemakerClusters.find((x) => x.name === c.name);
    if (!old || !old.nodes.length || !c.nodes.length) return;
    const [a, b] = [wire(old), wire(c)];
    const changed = (["transport", "crypto"] as const).filter((k) => a[k] !== b[k]);
    if (!changed.length) return;
    out.push(
      warning(
        "pacemaker.corosync-wire-change",
        `pacemaker.clusters[${i}].${changed[0]}`,
        `cluster '${c.name}' changes its corosync ${changed.map((k) => `${k} (${a[k]} -> ${b[k]})`).join(" and ")}: ` +
          "nodes on the old and the new values cannot talk to each other, so haforge refuses it on every host where corosync runs",
        "Stop the cluster on every node (crm cluster stop --all, or pcs cluster stop --all), apply (haforge writes " +
          `corosync.conf and starts nothing), then start the cluster on every node (crm/pcs cluster start --all). See ${WIRE_CHANGE_DOC}.`,
      ),
    );
  });
  return out;
}
