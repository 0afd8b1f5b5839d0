import type { ServiceModule } from "../types";

/** quorum-store: plan step, renderer (stub until implemented). */
export const quorumStoreService: ServiceModule = {
  name: "quorum-store",
};
