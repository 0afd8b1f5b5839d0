/**
 * The active-passive service: apps with built-in active/passive HA (dr-provision style). Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";

export const activePassiveService: ServiceModule = {
  name: "active-passive",
  plan,
  ...renderPart,
};
