/**
 * The tower service: Ansible Tower / AWX. Its plan step (./plan.ts), renderer (./render.ts) and
 * objects on a Kubernetes target (./kubernetes.ts);
 * src/services/registry.ts lists it.
 */
import type { ServiceModule } from "../types";
import { towerSummaryPart } from "./summary";
import { plan } from "./plan";
import { renderPart } from "./render";
import { kubernetesPart } from "./kubernetes";

export const towerService = {
  name: "tower",
  summary: towerSummaryPart,
  plan,
  component: {
    type: "haforge:tower:AppTier",
    suffix: "tower",
    after: ["rabbitmq", "postgres"],
    outputs: (p) => ({
      instanceGroups: p.instanceGroups.map((g) => ({ name: g.name, instances: [...g.instances] })),
      isolatedGroups: p.isolatedGroups.map((g) => ({ name: g.name, controller: g.controller, instances: [...g.instances] })),
    }),
  },
  ...renderPart,
  ...kubernetesPart,
} satisfies ServiceModule;
