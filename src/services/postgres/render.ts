/**
 * Postgres HA renderer: Patroni (default) or stolon, per plan.postgres.engine. The store it elects
 * through (etcd/consul) is rendered by the quorum-store service; the endpoints come from the plan.
 */
import type { ServiceModule, RenderContext, RenderResult } from "../types";
import { renderPatroni } from "./patroni";
import { renderStolon } from "./stolon";

function render(ctx: RenderContext): RenderResult {
  const pg = ctx.plan.postgres;
  if (!pg) return { files: [], services: [], actions: [] };
  if (pg.engine === "patroni") return { ...renderPatroni(ctx, pg), actions: [] };
  return renderStolon(ctx, pg);
}

/** postgres renderer: files, services, cluster actions. Passwords come from secrets, so no materials. */
export const renderPart: Pick<ServiceModule, "render" | "materials"> = { render };
