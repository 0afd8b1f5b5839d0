import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";
import { kubernetesPart } from "./kubernetes";

export const activePassiveService: ServiceModule = {
  name: "active-passive",
  plan,
  ...renderPart,
  ...kubernetesPart,
};
