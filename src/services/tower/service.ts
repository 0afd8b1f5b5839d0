import type { ServiceModule } from "../types";

/** tower: plan step, renderer (stub until implemented). */
export const towerService: ServiceModule = {
  name: "tower",
};
