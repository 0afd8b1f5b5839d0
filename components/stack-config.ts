/**
 * Stack config → HaCluster args for the inventory-driven program (index.ts):
 *  - `haforge:inventory`: the inventory path, relative to the project root;
 *  - every `secret: NAME` reference in the inventory is read with `config.requireSecret`:
 *    `haforge:NAME`, or `NS:KEY` when NAME is written `NS:KEY`.
 */
import { isAbsolute, resolve } from "node:path";
import * as pulumi from "../src/providers/pulumi-sdk";
import { readFileSync } from "node:fs";
import { parseInventoryText } from "../src/inventory/load";
import { collectSecretRefs } from "../src/render/output";

export function inventoryPathFromConfig(cfg: pulumi.Config, projectRoot: string): string {
  const p = cfg.require("inventory");
  return isAbsolute(p) ? p : resolve(projectRoot, p);
}

export function stackSecrets(inventoryPath: string): Record<string, pulumi.Output<string>> {
  // Only the references are needed: load without planning (HaCluster plans, and reports problems).
  let text: string;
  try {
    text = readFileSync(inventoryPath, "utf8");
  } catch {
    return {};
  }
  const a = parseInventoryText(text, inventoryPath);
  if (!a.inventory) return {};
  const out: Record<string, pulumi.Output<string>> = {};
  for (const ref of collectSecretRefs(a.inventory)) {
    if (!("secret" in ref)) continue;
    const [ns, key] = ref.secret.includes(":") ? (ref.secret.split(":", 2) as [string, string]) : ["haforge", ref.secret];
    out[ref.secret] = new pulumi.Config(ns).requireSecret(key);
  }
  return out;
}

/** `haforge:knownHostsFile`, relative to the project root. */
export function knownHostsFromConfig(cfg: pulumi.Config, projectRoot: string): string | undefined {
  const p = cfg.get("knownHostsFile");
  return p === undefined ? undefined : isAbsolute(p) ? p : resolve(projectRoot, p);
}
