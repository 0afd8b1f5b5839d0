import type { ServiceModule } from "../types";

/** keepalived on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
