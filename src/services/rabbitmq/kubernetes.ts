import type { ServiceModule } from "../types";

/** rabbitmq on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
