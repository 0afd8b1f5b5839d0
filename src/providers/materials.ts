/**
 * Materials: generated key material (corosync authkeys, isolated-group key pairs, syncthing
 * certificates, API keys) created ONCE and kept in Pulumi state as secret outputs. Adding a key
 * generates only that key; existing values are never regenerated (a new authkey would split a
 * running cluster). Same serialization discipline as RemoteFile: methods capture only strings and
 * require this module at call time.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { MaterialSpec } from "../core/materials";
import { providerText, providerTextChanged, SelfLoadedResource, selfLoader } from "./self-loader";

export interface MaterialsInputs {
  readonly specs: readonly Pick<MaterialSpec, "key" | "kind">[];
}
export interface MaterialsOutputs extends MaterialsInputs {
  readonly values: Record<string, string>;
}

/** Keep every existing value whose key is still wanted; generate the missing ones. */
export function reconcileMaterials(specs: MaterialsInputs["specs"], existing: Record<string, string>): Record<string, string> {
  const { generateMaterial } = require("../core/generate-material") as typeof import("../core/generate-material");
  const out: Record<string, string> = {};
  for (const s of [...specs].sort((a, b) => a.key.localeCompare(b.key))) out[s.key] = existing[s.key] ?? generateMaterial(s.kind);
  return out;
}

export async function diffMaterials(olds: MaterialsOutputs, news: MaterialsInputs): Promise<dynamic.DiffResult> {
  const a = new Set(olds.specs.map((s) => s.key));
  const b = new Set(news.specs.map((s) => s.key));
  // A different `__provider` text (older haforge) is an update that keeps every value.
  const changes = a.size !== b.size || [...b].some((k) => !a.has(k)) || providerTextChanged(olds, news);
  return { changes, replaces: [], deleteBeforeReplace: false };
}

/** Loads this module inside the provider process (plain node: see self-loader.ts). */
const loadImpl = selfLoader<typeof import("./materials")>(__filename);

export const materialsProvider: dynamic.ResourceProvider<MaterialsInputs, MaterialsOutputs> = {
  async create(inputs: MaterialsInputs) {
    const values = loadImpl().reconcileMaterials(inputs.specs, {});
    return { id: "materials", outs: { specs: inputs.specs, values } };
  },
  async diff(_id: string, olds: MaterialsOutputs, news: MaterialsInputs) {
    return loadImpl().diffMaterials(olds, news);
  },
  async update(_id: string, olds: MaterialsOutputs, news: MaterialsInputs) {
    return { outs: { specs: news.specs, values: loadImpl().reconcileMaterials(news.specs, olds.values ?? {}) } };
  },
};

/** The `__provider` text every Materials stores: loads `materialsProvider` from this module (self-loader.ts). */
export const materialsProviderText = providerText(__filename, "materialsProvider");

export class Materials extends SelfLoadedResource {
  /** Generated values by MaterialSpec.key (secret). */
  declare readonly values: pulumi.Output<Record<string, string>>;

  constructor(name: string, specs: readonly MaterialSpec[], opts: pulumi.CustomResourceOptions = {}) {
    super(
      materialsProviderText,
      name,
      { specs: specs.map((s) => ({ key: s.key, kind: s.kind })), values: undefined },
      { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "values"] },
    );
  }
}
