import type { ServiceModule } from "../types";

/** rabbitmq: plan step, renderer (stub until implemented). */
export const rabbitmqService: ServiceModule = {
  name: "rabbitmq",
};
