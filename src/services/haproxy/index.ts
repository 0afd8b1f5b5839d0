/**
 * The haproxy service: HAProxy load balancers. Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import { noSummary } from "../../plan/summary-part";
import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";

export const haproxyService = {
  name: "haproxy",
  // Nothing of it in `haforge plan`'s summary.
  summary: noSummary,
  plan,
  component: {
    type: "haforge:haproxy:HaproxyBalancer",
    suffix: "haproxy",
    outputs: (p) => ({ frontends: (p.haproxy?.frontends ?? []).map((f) => ({ name: f.name, bind: f.bind, backend: f.backend })) }),
  },
  ...renderPart,
} satisfies ServiceModule;
