import type { ServiceModule } from "../types";

/** syncthing: plan step, renderer (stub until implemented). */
export const syncthingService: ServiceModule = {
  name: "syncthing",
};
