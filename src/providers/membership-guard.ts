/**
 * MembershipGuard: the quorum-safety rule (src/plan/membership.ts) judged against what the stack's
 * state holds. Its inputs are the plan's memberships; the engine hands its provider's `check` the
 * inputs stored in state (olds) and the program's (news) before any step runs, and a check
 * failure stops the update (and the preview) there. Every host resource depends on the guard
 * (components/cluster-context.ts, components/service-resources.ts), so when it fails nothing is
 * touched. Create/update only record the accepted memberships. Same serialization discipline as
 * RemoteFile: methods capture only strings and require this module at call time.
 */
import * as pulumi from "./pulumi-sdk";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { Membership } from "../plan/membership";
import { providerText, providerTextChanged, SelfLoadedResource, selfLoader } from "./self-loader";

export interface MembershipGuardInputs {
  readonly memberships: readonly Membership[];
  /** Report unsafe changes as warnings (stack config haforge:allowUnsafeMembership). */
  readonly allowUnsafe: boolean;
}

/** Olds are `{}` on the first update (no state yet): nothing to compare, nothing refused. */
export function checkMembershipGuard(
  olds: Partial<MembershipGuardInputs>,
  news: MembershipGuardInputs,
): dynamic.CheckResult<MembershipGuardInputs> {
  const { membershipChangeFindings } = require("../plan/membership") as typeof import("../plan/membership");
  const findings = membershipChangeFindings(olds.memberships ?? [], news.memberships ?? [], { allowUnsafe: news.allowUnsafe === true });
  const failures = findings
    .filter((f) => f.severity === "error")
    .map((f) => ({
      property: "memberships",
      reason: `${f.code} at ${f.path}: ${f.message}${f.hint ? ` (hint: ${f.hint})` : ""}; nothing was changed on any host`,
    }));
  return failures.length ? { inputs: news, failures } : { inputs: news };
}

export function diffMembershipGuard(olds: Partial<MembershipGuardInputs>, news: MembershipGuardInputs): dynamic.DiffResult {
  const same =
    JSON.stringify(olds.memberships ?? []) === JSON.stringify(news.memberships) && (olds.allowUnsafe ?? false) === news.allowUnsafe;
  // a state written by another haforge (another __provider text) is updated so refresh/destroy load the new one
  return { changes: !same || providerTextChanged(olds, news), replaces: [], deleteBeforeReplace: false };
}

const loadImpl = selfLoader<typeof import("./membership-guard")>(__filename);

export const membershipGuardProvider: dynamic.ResourceProvider<MembershipGuardInputs, MembershipGuardInputs> = {
  async check(olds: Partial<MembershipGuardInputs>, news: MembershipGuardInputs) {
    return loadImpl().checkMembershipGuard(olds, news);
  },
  async create(inputs: MembershipGuardInputs) {
    return { id: "membership", outs: inputs };
  },
  async diff(_id: string, olds: MembershipGuardInputs, news: MembershipGuardInputs) {
    return loadImpl().diffMembershipGuard(olds, news);
  },
  async update(_id: string, _olds: MembershipGuardInputs, news: MembershipGuardInputs) {
    return { outs: news };
  },
};

/** The `__provider` text every MembershipGuard stores: loads `membershipGuardProvider` from this module (self-loader.ts). */
export const membershipGuardProviderText = providerText(__filename, "membershipGuardProvider");

export class MembershipGuard extends SelfLoadedResource {
  declare readonly memberships: pulumi.Output<Membership[]>;

  constructor(name: string, args: MembershipGuardInputs, opts: pulumi.CustomResourceOptions = {}) {
    super(membershipGuardProviderText, name, { memberships: args.memberships, allowUnsafe: args.allowUnsafe }, opts);
  }
}
