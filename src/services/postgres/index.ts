/**
 * The postgres service: replicated PostgreSQL (Patroni or stolon). Its plan step (./plan.ts), renderer (./render.ts) and
 * objects on a Kubernetes target (./kubernetes.ts);
 * src/services/registry.ts lists it.
 */
import type { ServiceModule } from "../types";
import { postgresSummaryPart } from "./summary";
import { plan } from "./plan";
import { renderPart } from "./render";
import { kubernetesPart } from "./kubernetes";

export const postgresService = {
  name: "postgres",
  summary: postgresSummaryPart,
  plan,
  component: {
    type: "haforge:postgres:PostgresHa",
    suffix: "postgres",
    after: ["quorum-store"],
    /** host:port clients use (the VIP, or the local stolon proxy). */
    addressOutputs: (p) => ({ endpoint: p.postgres?.endpoint }),
  },
  ...renderPart,
  ...kubernetesPart,
} satisfies ServiceModule;
