import type { ServiceModule } from "../types";

/** postgres on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
