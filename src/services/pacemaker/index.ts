/**
 * The pacemaker service: Corosync/Pacemaker clusters. Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import type { ServiceModule } from "../types";
import { pacemakerSummaryPart } from "./summary";
import { plan } from "./plan";
import { renderPart } from "./render";

export const pacemakerService = {
  name: "pacemaker",
  summary: pacemakerSummaryPart,
  plan,
  addressRules: ["pacemaker.vip-is-host-address", "pacemaker.vip-outside-subnet", "pacemaker.duplicate-link-address"],
  component: {
    type: "haforge:pacemaker:PacemakerCluster",
    suffix: "pacemaker",
    // Its member delete (crm_node --force -R) runs while the node's Pacemaker runs; a Pacemaker
    // stopped after its node left the CIB waited past the delete's timeout (the lab's destroy).
    // Until the removal stops the node first, its daemons are left running.
    daemonsLeftRunning: true,
    outputs: (p) => ({
      clusters: p.pacemakerClusters.map((c) => ({
        name: c.name,
        nodes: c.nodes.map((n) => n.host),
        quorum: c.quorum.quorum,
        expectedVotes: c.quorum.expectedVotes,
      })),
    }),
  },
  ...renderPart,
} satisfies ServiceModule;
