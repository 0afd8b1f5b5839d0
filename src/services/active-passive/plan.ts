import type { PlanContext, PlanStep } from "../types";

/** active-passive plan step: derived facts and findings. */
export function plan(_ctx: PlanContext): PlanStep {
  return { findings: [], patch: {} };
}
