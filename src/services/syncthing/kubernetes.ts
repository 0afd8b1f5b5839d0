import type { ServiceModule } from "../types";

/** syncthing on a Kubernetes target. */
export const kubernetesPart: Pick<ServiceModule, "renderKubernetes"> = {};
