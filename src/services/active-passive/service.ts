import type { ServiceModule } from "../types";

/** active-passive: plan step, renderer (stub until implemented). */
export const activePassiveService: ServiceModule = {
  name: "active-passive",
};
