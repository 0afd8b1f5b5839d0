/**
 * Gate: a resource that touches no host and holds nothing but its description. It stands for a
 * set of resources in `dependsOn` lists: the gate depends on the set, and each resource that must
 * wait for the whole set depends on the gate alone. The engine orders steps transitively, so the
 * waiting is the same, but every waiting resource records one dependency instead of the whole set
 * (in the program, in every RegisterResource request and in the state file).
 *
 * Used for "every host's software is installed" (components/cluster-context.ts): every file and
 * command of every host waits for every HostPackages resource, so a host whose packages fail
 * (an unsupported OS family) stops the update before any file on any host is written. Listing the
 * HostPackages of N hosts on every resource was O(hosts × resources): at 1,000 hosts ~1,000
 * dependency URNs on each of ~7,800 resources (bench/program.ts).
 *
 * A gate with `members` orders deletes (components/service-resources.ts declareRemovals): the
 * engine orders the deletes of an update by the DIRECT dependencies among the resources it deletes
 * (pulumi/pulumi step_generator.go ScheduleDeletes: DependenciesOf(res) ∩ condemned), so a gate
 * that stays would not order what depends on it before what it depends on. `members` names the
 * resources on one side of the gate (what it waits for, or what waits for it); a change of that
 * list replaces the gate (create the new one, delete the old one with the update's other deletes),
 * so whenever one of them is deleted, the old gate, which still depends on them, or is depended on
 * by them, in the state, is deleted with it and orders the deletes as direct dependencies would: a
 * path through the gate orders two deletes only when both ends are deleted, one of them listed.
 *
 * Same serialization discipline as RemoteFile: methods capture only strings and require this
 * module at call time (self-loader.ts).
 */
import * as pulumi from "./pulumi-sdk";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { providerText, providerTextChanged, SelfLoadedResource, selfLoader } from "./self-loader";

export interface GateInputs {
  /** What the gate waits for (shown in previews). */
  readonly description: string;
  /** Names of the resources on one side of the gate (sorted); a change replaces the gate. */
  readonly members?: readonly string[];
}

/**
 * A replacement when `members` changed; an update (that does nothing) when the description or the
 * serialized provider changed.
 */
export function diffGate(olds: Partial<GateInputs>, news: GateInputs): dynamic.DiffResult {
  const replaces = JSON.stringify(olds.members ?? []) !== JSON.stringify(news.members ?? []) ? ["members"] : [];
  return {
    changes: replaces.length > 0 || olds.description !== news.description || providerTextChanged(olds, news),
    replaces,
    deleteBeforeReplace: false,
  };
}

const loadImpl = selfLoader<typeof import("./gate")>(__filename);

export const gateProvider: dynamic.ResourceProvider<GateInputs, GateInputs> = {
  async create(inputs: GateInputs) {
    return { id: "gate", outs: inputs };
  },
  async diff(_id: string, olds: GateInputs, news: GateInputs) {
    return loadImpl().diffGate(olds, news);
  },
  async update(_id: string, _olds: GateInputs, news: GateInputs) {
    return { outs: news };
  },
};

/** The `__provider` text every Gate stores: loads `gateProvider` from this module (self-loader.ts). */
export const gateProviderText = providerText(__filename, "gateProvider");

export class Gate extends SelfLoadedResource {
  declare readonly description: pulumi.Output<string>;

  constructor(name: string, args: GateInputs, opts: pulumi.CustomResourceOptions = {}) {
    super(gateProviderText, name, { description: args.description, ...(args.members ? { members: [...args.members].sort() } : {}) }, opts);
  }
}
