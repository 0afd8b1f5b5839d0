import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";
import { kubernetesPart } from "./kubernetes";

export const towerService: ServiceModule = {
  name: "tower",
  plan,
  ...renderPart,
  ...kubernetesPart,
};
