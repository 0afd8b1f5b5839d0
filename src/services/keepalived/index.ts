/**
 * The keepalived service: keepalived VRRP VIPs. Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import { vipPlacementAddressRules } from "../../plan/network";
import type { ServiceModule } from "../types";
import { keepalivedSummaryPart } from "./summary";
import { plan } from "./plan";
import { renderPart } from "./render";

export const keepalivedService = {
  name: "keepalived",
  summary: keepalivedSummaryPart,
  plan,
  addressRules: ["keepalived.vip-is-host-address", "keepalived.unicast-peer-not-ip", ...vipPlacementAddressRules("keepalived")],
  component: {
    type: "haforge:keepalived:KeepalivedVip",
    suffix: "vip",
    outputs: (p) => ({
      vips: p.keepalived.map((k) => ({ name: k.name, address: k.vip, prefix: k.prefix, interface: k.interface, routerId: k.routerId })),
    }),
  },
  ...renderPart,
} satisfies ServiceModule;
