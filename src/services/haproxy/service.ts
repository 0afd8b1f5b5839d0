import type { ServiceModule } from "../types";

/** haproxy: plan step, renderer (stub until implemented). */
export const haproxyService: ServiceModule = {
  name: "haproxy",
};
