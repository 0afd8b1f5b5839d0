import type { ServiceModule } from "../types";

/** postgres renderer: files, services, cluster actions (and materials it needs). */
export const renderPart: Pick<ServiceModule, "render" | "materials"> = {};
