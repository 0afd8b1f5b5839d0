import type { ServiceModule } from "../types";

/** pacemaker on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
