import type { ServiceModule } from "../types";

/** tower on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
