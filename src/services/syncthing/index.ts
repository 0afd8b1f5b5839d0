/**
 * The syncthing service: folders kept in sync by syncthing. Its plan step (./plan.ts) and renderer (./render.ts);
 * src/services/registry.ts lists it.
 */
import { noSummary } from "../../plan/summary-part";
import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";

export const syncthingService = {
  name: "syncthing",
  // Nothing of it in `haforge plan`'s summary.
  summary: noSummary,
  plan,
  component: {
    type: "haforge:syncthing:SyncthingFolder",
    suffix: "syncthing",
    outputs: (p) => ({ folders: (p.syncthing?.folders ?? []).map((f) => ({ id: f.id, path: f.path, hosts: [...f.hosts] })) }),
  },
  ...renderPart,
} satisfies ServiceModule;
