/**
 * How the CLI resolves what the pure core needs from outside: secret values and generated
 * materials. Pulumi does the same from stack config secrets and a Materials resource.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import yaml from "js-yaml";
import { generateMaterial } from "../core/generate-material";
import type { MaterialSpec, Materials } from "../core/materials";
import { secretKey, type SecretValues } from "../core/secrets";
import type { SecretRef } from "../inventory/schema";
import { UsageError } from "./io";

/**
 * `secret:` refs from the --secrets file (YAML/JSON map name → value) or HAFORGE_SECRET_<name>;
 * `env:` refs from the environment. Returns the values and the keys left unresolved.
 */
export function resolveCliSecrets(refs: readonly SecretRef[], secretsFile: string | undefined, env: NodeJS.ProcessEnv): { values: SecretValues; missing: string[] } {
  let fileValues: Record<string, unknown> = {};
  if (secretsFile) {
    try {
      const loaded = yaml.load(readFileSync(secretsFile, "utf8"));
      if (loaded && typeof loaded === "object" && !Array.isArray(loaded)) fileValues = loaded as Record<string, unknown>;
      else throw new Error("not a map of name: value");
    } catch (e) {
      throw new UsageError(`cannot read secrets file ${secretsFile}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const ref of refs) {
    if ("value" in ref) continue;
    const key = secretKey(ref);
    const v = "secret" in ref ? (fileValues[ref.secret] ?? env[`HAFORGE_SECRET_${ref.secret}`]) : env[ref.env];
    if (v === undefined || v === null) missing.push(key);
    else values[key] = String(v);
  }
  return { values, missing };
}

/**
 * The materials file keeps generated keys between runs so rendering is repeatable: missing
 * entries are generated once and saved (0600); existing ones are never regenerated.
 */
export function loadOrCreateMaterials(file: string, specs: readonly MaterialSpec[]): { materials: Materials; generated: string[] } {
  let existing: Record<string, string> = {};
  if (existsSync(file)) {
    try {
      existing = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
    } catch (e) {
      throw new UsageError(`cannot read materials file ${file}: ${(e as Error).message}`);
    }
  }
  const generated: string[] = [];
  const out: Record<string, string> = { ...existing };
  for (const spec of specs) {
    if (out[spec.key] === undefined) {
      out[spec.key] = generateMaterial(spec.kind);
      generated.push(spec.key);
    }
  }
  if (generated.length || !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(out, Object.keys(out).sort(), 2) + "\n", { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return { materials: out, generated };
}
