/**
 * The haproxy service: HAProxy load balancers. Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";

export const haproxyService: ServiceModule = {
  name: "haproxy",
  plan,
  ...renderPart,
};
