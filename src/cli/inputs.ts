/**
 * How the CLI resolves what the pure core needs from outside: secret values and generated
 * materials. Pulumi does the same from stack config secrets and a Materials resource.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
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
export function resolveCliSecrets(
  refs: readonly SecretRef[],
  secretsFile: string | undefined,
  env: NodeJS.ProcessEnv,
): { values: SecretValues; missing: string[] } {
  let fileValues: Record<string, unknown> = {};
  if (secretsFile) {
    try {
      // FAILSAFE: every scalar stays the exact text written (a cookie 012345678901234567890 is
      // not a number, `yes` not a boolean); JSON files load the same way.
      const loaded = yaml.load(readFileSync(secretsFile, "utf8"), { schema: yaml.FAILSAFE_SCHEMA });
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
    else if (typeof v !== "string") throw new UsageError(`secrets file ${secretsFile}: ${key} is not a single value (a map or a list)`);
    else values[key] = v;
  }
  return { values, missing };
}

/**
 * The materials file keeps generated keys between runs so rendering is repeatable: missing
 * entries are generated once and saved (0600, written to a temp file and renamed, so a crash never
 * leaves half a file); existing ones are never regenerated. A file that is not a JSON object of
 * strings is an error and is left exactly as it is: rewriting it would rotate every key.
 */
export function loadOrCreateMaterials(file: string, specs: readonly MaterialSpec[]): { materials: Materials; generated: string[] } {
  let existing: Record<string, string> = {};
  const exists = existsSync(file);
  if (exists) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new UsageError(
        `materials file ${file} is not valid JSON (${(e as Error).message.split("\n")[0]}); it was left untouched. Restore it from a backup, or pass another --materials`,
      );
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new UsageError(
        `materials file ${file} is not a JSON object of name: value; it was left untouched. Restore it from a backup, or pass another --materials`,
      );
    }
    const bad = Object.entries(parsed).filter(([, v]) => typeof v !== "string" || v === "");
    if (bad.length) {
      throw new UsageError(
        `materials file ${file}: ${bad.map(([k]) => JSON.stringify(k)).join(", ")} ${bad.length === 1 ? "is" : "are"} not a non-empty string; the file was left untouched`,
      );
    }
    existing = parsed as Record<string, string>;
  }
  const generated: string[] = [];
  const out: Record<string, string> = { ...existing };
  for (const spec of specs) {
    if (out[spec.key] === undefined) {
      out[spec.key] = generateMaterial(spec.kind);
      generated.push(spec.key);
    }
  }
  if (generated.length || !exists) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(out, Object.keys(out).sort(), 2) + "\n", { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  }
  return { materials: out, generated };
}
