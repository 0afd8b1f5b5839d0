/**
 * The quorum-store service: the etcd or consul quorum store. Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import type { ServiceModule } from "../types";
import { quorumStoreSummaryPart } from "./summary";
import { plan } from "./plan";
import { renderPart } from "./render";

export const quorumStoreService = {
  name: "quorum-store",
  summary: quorumStoreSummaryPart,
  plan,
  component: {
    type: "haforge:quorumstore:QuorumStore",
    suffix: "store",
    addressOutputs: (p) => ({ endpoints: [...(p.quorumStore?.endpoints ?? [])] }),
  },
  ...renderPart,
} satisfies ServiceModule;
