import type { ServiceModule } from "../types";

/** pacemaker: plan step, renderer (stub until implemented). */
export const pacemakerService: ServiceModule = {
  name: "pacemaker",
};
