/**
 * The active-passive service: apps with built-in active/passive HA (dr-provision style). Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import { vipPlacementAddressRules } from "../../plan/network";
import { noSummary } from "../../plan/summary-part";
import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";

export const activePassiveService = {
  name: "active-passive",
  // Nothing of it in `haforge plan`'s summary.
  summary: noSummary,
  plan,
  addressRules: ["active-passive.vip-is-host-address", ...vipPlacementAddressRules("active-passive")],
  component: {
    type: "haforge:activepassive:ActivePassiveApp",
    suffix: "app",
    // The node asked to be active (`active`), else the one that starts active.
    outputs: (p) => ({
      apps: p.activePassive.map((a) => {
        const active = a.active ?? a.hosts[0]!;
        return { name: a.name, vip: a.vip, active, passive: a.hosts.filter((h) => h !== active) };
      }),
    }),
  },
  ...renderPart,
} satisfies ServiceModule;
