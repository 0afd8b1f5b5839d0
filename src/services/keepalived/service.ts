import type { ServiceModule } from "../types";

/** keepalived: plan step, renderer (stub until implemented). */
export const keepalivedService: ServiceModule = {
  name: "keepalived",
};
