import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";
import { kubernetesPart } from "./kubernetes";

export const quorumStoreService: ServiceModule = {
  name: "quorum-store",
  plan,
  ...renderPart,
  ...kubernetesPart,
};
