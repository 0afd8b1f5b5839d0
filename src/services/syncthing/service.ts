import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";
import { kubernetesPart } from "./kubernetes";

export const syncthingService: ServiceModule = {
  name: "syncthing",
  plan,
  ...renderPart,
  ...kubernetesPart,
};
