/**
 * The core's front door for every adapter: inventory text → Inventory → ClusterPlan, with every
 * finding (parse, schema, plan) in the inventory's own notation. No I/O beyond reading the file.
 */
import { readFileSync } from "node:fs";
import { sortFindings, hasErrors, type Finding } from "../core/findings";
import { parseInventoryText, type InventoryFormat } from "../inventory/load";
import { sourceLocator, type Locator } from "../inventory/locate";
import type { Inventory } from "../inventory/schema";
import { planCluster } from "./plan";
import type { ClusterPlan } from "../plan/types";

export interface Analysis {
  readonly format: InventoryFormat;
  readonly inventory?: Inventory;
  /** Present only when there is no error. */
  readonly plan?: ClusterPlan;
  readonly findings: readonly Finding[];
  readonly valid: boolean;
  /** Translates a YAML-style finding path into the inventory's own notation. */
  readonly sourcePath: (path: string) => string;
  /** The file analyzed (as given). */
  readonly file?: string;
  /** Line and column of a finding's path in the file (parsed on first use). */
  readonly locate?: Locator;
}

export function analyzeInventoryText(text: string, filename: string): Analysis {
  const loaded = parseInventoryText(text, filename);
  const findings: Finding[] = [...loaded.findings];
  let plan: ClusterPlan | undefined;
  if (loaded.inventory && !hasErrors(loaded.findings)) {
    const planned = planCluster(loaded.inventory);
    findings.push(...planned.findings.map((f) => ({ ...f, path: loaded.sourcePath(f.path) })));
    plan = planned.plan;
  }
  const sorted = sortFindings(findings);
  const valid = !hasErrors(sorted);
  return {
    format: loaded.format,
    ...(loaded.inventory ? { inventory: loaded.inventory } : {}),
    ...(valid && plan ? { plan } : {}),
    findings: sorted,
    valid,
    sourcePath: (path) => loaded.sourcePath(path),
    file: filename,
    locate: sourceLocator(text, loaded.format),
  };
}

export class UnreadableInventory extends Error {}

/** Reads and analyzes a file; an unreadable file is the caller's usage problem (exit 2). */
export function analyzeInventoryFile(path: string): Analysis {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UnreadableInventory(`cannot read inventory ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return analyzeInventoryText(text, path);
}
