/**
 * Postgres HA renderer: Patroni (default) or stolon, per plan.postgres.engine. The store it elects
 * through (etcd/consul) is rendered by the quorum-store service; the endpoints come from the plan.
 */
import { error, type Finding } from "../../core/findings";
import { resolveSecret, secretKey, type SecretValues } from "../../core/secrets";
import type { ClusterPlan } from "../../plan/types";
import type { ServiceModule, RenderContext, RenderResult } from "../types";
import { patroniDynamicConfigAction, patroniPasswordIssue, patroniPendingRestartsAction, renderPatroni } from "./patroni";
import { renderStolon } from "./stolon";

function render(ctx: RenderContext): RenderResult {
  const pg = ctx.plan.postgres;
  if (!pg) return { files: [], services: [], actions: [] };
  if (pg.engine === "patroni") {
    const actions = [patroniDynamicConfigAction(pg), patroniPendingRestartsAction(pg)].filter((a) => a !== undefined);
    return { ...renderPatroni(ctx, pg), actions };
  }
  return renderStolon(ctx, pg);
}

/** Patroni builds its role SQL inside a `DO $$` block: some passwords break bootstrap. */
function secretFindings(plan: ClusterPlan, secrets: SecretValues): Finding[] {
  const pg = plan.postgres;
  if (!pg || pg.engine !== "patroni") return [];
  const out: Finding[] = [];
  for (const [field, ref] of [
    ["superuserPassword", pg.superuserPassword],
    ["replicationPassword", pg.replicationPassword],
  ] as const) {
    if ("value" in ref || secrets[secretKey(ref)] !== undefined) {
      const issue = patroniPasswordIssue(resolveSecret(ref, secrets));
      if (issue)
        out.push(
          error("postgres.password-unusable", `postgres.${field}`, `"${field}" ${issue}`, "Choose another password (no `$$`, not empty)."),
        );
    }
  }
  return out;
}

export const renderPart: Pick<ServiceModule, "render" | "materials" | "secretFindings"> = { render, secretFindings };
