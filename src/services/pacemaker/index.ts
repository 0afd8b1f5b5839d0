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
    // A node leaves stopped: Pacemaker then corosync stop on it (its deprovisioning), then the
    // nodes that stay reload the nodelist without it and Pacemaker forgets it (its member
    // action's delete). A Pacemaker stopped after its node left the CIB hung (the lab's destroy).
    stopsBeforeLeaving: true,
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
