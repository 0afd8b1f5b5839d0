import type { ServiceModule } from "../types";

/** haproxy on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
