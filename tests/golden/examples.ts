/**
 * The fixed inputs of the golden, determinism and example system tests: which inventories are
 * examples, the committed throwaway materials file of each, and the fake secret values given to
 * the CLI through HAFORGE_SECRET_<name> (or the variable an `env:` reference names).
 *
 * Every value here is FAKE and public: it exists so renders are repeatable, never to protect
 * anything. See tests/golden/README.md.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTwoFilesPatch } from "diff";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { secretKey } from "../../src/core/secrets";
import type { SecretRef } from "../../src/inventory/schema";
import { collectSecretRefs } from "../../src/render/output";
import { runCli } from "../helpers/cli";

export const ROOT = join(__dirname, "..", "..");
export const INVENTORIES_DIR = join(ROOT, "inventories");
export const GOLDEN_DIR = __dirname;

/**
 * Every example inventory (file name with its extension: tower-cluster.ini and .yaml both exist):
 * inventory files only, never the `.haforge/` directory the CLI keeps materials in beside them.
 */
export function exampleInventories(dir: string = INVENTORIES_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ya?ml|ini)$/.test(e.name))
    .map((e) => e.name)
    .sort();
}

export const inventoryPath = (name: string): string => join(INVENTORIES_DIR, name);
export const goldenDir = (name: string): string => join(GOLDEN_DIR, name);
export const goldenTree = (name: string): string => join(GOLDEN_DIR, name, "tree");
export const goldenMaterials = (name: string): string => join(GOLDEN_DIR, name, "materials.json");
export const hasGoldenMaterials = (name: string): boolean => existsSync(goldenMaterials(name));

/**
 * Secrets whose daemon limits the length: keepalived keeps 8 characters of auth_pass (and
 * `keepalived -t` fails on a longer one), so its fake value is exactly 8.
 */
const SHORT_FAKES: Readonly<Record<string, string>> = { keepalivedAuthPass: "fakeKA08" };

/** The fake value of a named secret: obviously fake, unique per name, long enough to be masked. */
export function fakeSecretValue(name: string): string {
  return SHORT_FAKES[name] ?? `FAKE-${name}-not-a-real-secret`;
}

export interface FakeSecrets {
  /** Environment for the CLI: HAFORGE_SECRET_<name> per `secret:` ref, the named var per `env:` ref. */
  readonly env: Record<string, string>;
  /** Resolved values by canonical key (secretKey), literals included: what must never leak when masked. */
  readonly values: Record<string, string>;
  readonly refs: readonly SecretRef[];
}

/** Fake values for every secret reference of an inventory (an inventory that does not load has none). */
export function fakeSecrets(name: string): FakeSecrets {
  const a = analyzeInventoryFile(inventoryPath(name));
  const refs = a.inventory ? collectSecretRefs(a.plan?.inventory ?? a.inventory) : [];
  const env: Record<string, string> = {};
  const values: Record<string, string> = {};
  for (const ref of refs) {
    if ("secret" in ref) {
      env[`HAFORGE_SECRET_${ref.secret}`] = values[secretKey(ref)] = fakeSecretValue(ref.secret);
    } else if ("env" in ref) {
      env[ref.env] = values[secretKey(ref)] = fakeSecretValue(ref.env);
    } else {
      values[secretKey(ref)] = ref.value;
    }
  }
  return { env, values, refs };
}

/** Every file of a render tree (manifest.json, DIR/<host>/<path>, DIR/k8s/*), relative, sorted. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  if (existsSync(dir)) walk("");
  return out;
}

export interface TreeMismatch {
  readonly file: string;
  readonly kind: "only-expected" | "only-actual" | "differs";
  /** Unified diff (text files) or a size note (binary). */
  readonly diff: string;
}

/** Byte-for-byte comparison of two trees; each mismatch carries a unified diff. */
export function compareTrees(expectedDir: string, actualDir: string): TreeMismatch[] {
  const exp = new Set(listTree(expectedDir));
  const act = new Set(listTree(actualDir));
  const out: TreeMismatch[] = [];
  for (const f of [...new Set([...exp, ...act])].sort()) {
    const a = exp.has(f) ? readFileSync(join(expectedDir, f)) : undefined;
    const b = act.has(f) ? readFileSync(join(actualDir, f)) : undefined;
    if (a && b && a.equals(b)) continue;
    const text = (x: Buffer | undefined) =>
      x === undefined
        ? ""
        : x.includes(0)
          ? `<binary ${x.length} bytes sha256 ${createHash("sha256").update(x).digest("hex")}>\n`
          : x.toString("utf8");
    out.push({
      file: f,
      kind: !a ? "only-actual" : !b ? "only-expected" : "differs",
      diff: createTwoFilesPatch(a ? `expected/${f}` : "/dev/null", b ? `actual/${f}` : "/dev/null", text(a), text(b), "", "", {
        context: 3,
      }),
    });
  }
  return out;
}

/** A readable failure message: the first `n` mismatches with their diffs (long diffs cut). */
export function describeMismatches(mismatches: readonly TreeMismatch[], n = 3, maxLines = 60): string {
  const shown = mismatches.slice(0, n).map((m) => {
    const lines = m.diff.split("\n");
    return `--- ${m.kind}: ${m.file}\n${lines.slice(0, maxLines).join("\n")}${lines.length > maxLines ? `\n... (${lines.length - maxLines} more lines)` : ""}`;
  });
  const rest =
    mismatches.length > n
      ? `\n... and ${mismatches.length - n} more: ${mismatches
          .slice(n)
          .map((m) => m.file)
          .join(", ")}`
      : "";
  return `${mismatches.length} file(s) differ\n${shown.join("\n")}${rest}`;
}

/**
 * Render one example through the CLI code path (`haforge render`, in-process) with its fake
 * secrets and the given materials file; masked unless `reveal`.
 */
export async function renderExample(
  name: string,
  outDir: string,
  opts: { materials: string; reveal?: boolean },
): Promise<{ code: number; out: string; err: string }> {
  const { env } = fakeSecrets(name);
  const args = [
    "render",
    inventoryPath(name),
    "--out",
    outDir,
    "--materials",
    opts.materials,
    ...(opts.reveal ? ["--reveal-secrets"] : []),
  ];
  return runCli(args, env);
}
