/**
 * An example inventory made to run against the live lab: every host gets the running lab's
 * address, its own pinned host key and the lab's client key. Used by `npm run lab -- inventory`
 * (so `pulumi up` works on the lab) and by the e2e harness.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import yaml from "js-yaml";
import type { LabHost } from "./up";

export function labInventory(
  source: string,
  hosts: readonly Pick<LabHost, "name" | "address" | "hostKey" | "privateKeyPath">[],
  out: string,
  edit?: (inv: Record<string, any>) => void,
): string {
  const inv = yaml.load(fs.readFileSync(source, "utf8")) as Record<string, any>;
  for (const h of inv["hosts"] as Record<string, any>[]) {
    const real = hosts.find((x) => x.name === h["name"]);
    if (!real) throw new Error(`lab has no host ${h["name"]} (bring up enough hosts)`);
    h["address"] = real.address;
    // `~/...` stays as written: each operator's own key, expanded on their machine at connect time.
    const key = real.privateKeyPath.startsWith("~/") ? real.privateKeyPath : path.resolve(real.privateKeyPath);
    h["ssh"] = { ...(h["ssh"] ?? {}), hostKey: real.hostKey, privateKeyPath: key };
  }
  edit?.(inv);
  fs.writeFileSync(out, yaml.dump(inv, { lineWidth: 200 }));
  return out;
}
