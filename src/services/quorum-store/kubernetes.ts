import type { ServiceModule } from "../types";

/** quorum-store on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
