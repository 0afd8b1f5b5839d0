import type { ServiceModule } from "../types";

/** active-passive on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
