import type { ServiceModule } from "../types";

/** postgres: plan step, renderer (stub until implemented). */
export const postgresService: ServiceModule = {
  name: "postgres",
};
