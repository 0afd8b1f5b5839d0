/**
 * The quorum-store service: the etcd or consul quorum store. Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";

export const quorumStoreService: ServiceModule = {
  name: "quorum-store",
  plan,
  ...renderPart,
};
