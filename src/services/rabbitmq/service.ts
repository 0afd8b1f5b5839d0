import type { ServiceModule } from "../types";
import { plan } from "./plan";
import { renderPart } from "./render";
import { kubernetesPart } from "./kubernetes";

export const rabbitmqService: ServiceModule = {
  name: "rabbitmq",
  plan,
  ...renderPart,
  ...kubernetesPart,
};
