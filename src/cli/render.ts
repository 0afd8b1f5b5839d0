import { resolve } from "node:path";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../analyze";
import { MASK_SALT_KEY, collectSecretRefs, secretsToMask, writeRenderTree } from "../render/output";
import { hasErrors, sortFindings } from "../core/findings";
import { renderDesiredState, requiredMaterials, secretFindings } from "../render/render";
import { formatFindings } from "./format";
import { loadOrCreateMaterials, resolveCliSecrets } from "./inputs";
import { EXIT, UsageError, type CliIo } from "./io";

export interface RenderOptions {
  out?: string;
  revealSecrets?: boolean;
  secrets?: string;
  materials?: string;
  quiet?: boolean;
}

export function defaultMaterialsFile(inventoryName: string): string {
  return resolve(".haforge", `${inventoryName}.materials.json`);
}

export function renderCommand(file: string, opts: RenderOptions, io: CliIo, env: NodeJS.ProcessEnv = process.env): number {
  if (!opts.out) throw new UsageError("render needs --out DIR");
  const a = analyzeInventoryFile(file);
  if (!a.plan) {
    io.err(formatFindings(a.findings));
    return EXIT.invalid;
  }
  const refs = collectSecretRefs(a.plan.inventory);
  const { values, missing } = resolveCliSecrets(refs, opts.secrets, env);
  const late = sortFindings(secretFindings(a.plan, values).map((f) => ({ ...f, path: a.sourcePath(f.path) })));
  if (hasErrors(late)) {
    io.err(formatFindings(late));
    return EXIT.invalid;
  }
  const specs = [...requiredMaterials(a.plan), { key: MASK_SALT_KEY, kind: { type: "token", length: 32 } as const, description: "salt of the masked-secret hashes" }];
  const { materials, generated } = loadOrCreateMaterials(opts.materials ?? defaultMaterialsFile(a.plan.name), specs);
  const state = renderDesiredState(a.plan, values, materials);
  const manifest = writeRenderTree(
    state,
    opts.out,
    { reveal: opts.revealSecrets ?? false, toMask: secretsToMask(refs, values, materials), ...(materials[MASK_SALT_KEY] ? { salt: materials[MASK_SALT_KEY] } : {}) },
    (o) => yaml.dump(o, { sortKeys: true, lineWidth: -1, noRefs: true }),
  );
  if (!opts.quiet) {
    if (missing.length) io.err(`warning: unresolved secrets (rendered as markers): ${missing.join(", ")}`);
    if (generated.length) io.err(`generated materials: ${generated.join(", ")}`);
    io.out(`rendered ${manifest.files.length} files for ${state.hosts.length} hosts, ${manifest.actions.length} actions${state.manifests.length ? `, ${state.manifests.length} Kubernetes objects` : ""} into ${opts.out}${opts.revealSecrets ? " (secrets REVEALED)" : " (secrets masked)"}`);
    if (a.findings.length || late.length) io.err(formatFindings(sortFindings([...a.findings, ...late])));
  }
  return EXIT.ok;
}
