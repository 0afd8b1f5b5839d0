/**
 * Secret values a renderer writes in a form the masking module cannot derive from the value alone
 * (src/core/masking.ts masks escaped and encoded forms itself): today keepalived's auth_pass, which
 * VRRP cuts to its first 8 characters. Masked like the value they come from.
 */
import { secretKey, type SecretValues } from "../core/secrets";
import type { ClusterPlan } from "../plan/types";
import { authPassValue } from "../services/keepalived/config";

export function derivedSecrets(plan: ClusterPlan, secrets: SecretValues): Map<string, string> {
  const m = new Map<string, string>();
  for (const inst of plan.inventory.keepalived?.instances ?? []) {
    if (!inst.authPass) continue;
    const a = authPassValue(inst.authPass, secrets);
    if (a.truncated) m.set(`${secretKey(inst.authPass)}:first8`, a.value);
  }
  return m;
}
