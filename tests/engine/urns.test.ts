/**
 * Resource names do not depend on the stack, and no existing stack loses a resource to a rename.
 *
 * For every example stack (stacks/Pulumi.*.yaml) the program runs under the SDK's mocks twice:
 * under its own stack name and under another one. Then:
 *  - every URN in tests/engine/urns/<stack>.txt — the URNs that stack's state holds or held
 *    (before haforge 0.2 every name embedded the stack name) — is either registered again or is
 *    an alias URN of a registered resource. A rename without an alias fails here: under the real
 *    engine it would create the new URN and then delete the old one, whose delete removes the
 *    file the new one just wrote.
 *  - under another stack name, the same names are registered with the same inputs (serialized
 *    providers included), so `pulumi stack rename` changes nothing.
 * UPDATE_URNS=1 adds the URNs registered now to the files (it never removes one: remove a URN by
 * hand only when no stack can hold it any more).
 * A resource that a release drops on purpose is listed in RETIRED with the proof that its delete
 * is safe on a stack that still holds it (it runs nothing a user would miss): its URNs may go.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { parseRun } from "../program/mock-engine";
import { aliasUrns } from "./engine";
import { urnName } from ".";
import type { UrnRecord } from "./run-urns";

const ROOT = join(__dirname, "..", "..");
const stacks = readdirSync(join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s)
  .sort();

function run(cfg: string, stack: string): Promise<UrnRecord[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "run-urns.ts"), cfg, stack], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) =>
      code === 0 ? resolve(parseRun<UrnRecord[]>(out)) : reject(new Error(`run-urns ${cfg} ${stack} exited ${code}: ${err.slice(-3000)}`)),
    );
  });
}

const nameOf = (urn: string) => urn.split("::").slice(2).join("::");

/** Resources dropped on purpose: the engine deletes them from a stack that holds them. */
const RETIRED: readonly { readonly name: RegExp; readonly why: string }[] = [
  {
    name: /^haforge-tower-tower-managed-by-policy-[^:]+$/,
    why:
      "folded into tower-provision-H (issue 14): it had no delete, so the engine's delete runs nothing on a host " +
      "(tests/engine/tower-fold.test.ts upgrades a state that holds it)",
  },
];
const retirement = (urn: string) => RETIRED.find((r) => r.name.test(urnName(urn)));
const retired = (urn: string) => retirement(urn) !== undefined;

for (const stack of stacks) {
  describe(`stack ${stack}: resource names`, () => {
    let own: UrnRecord[];
    let other: UrnRecord[];
    before(async () => {
      [own, other] = await Promise.all([run(stack, stack), run(stack, `${stack}-renamed`)]);
    });

    it("every URN an existing stack holds is registered again or aliased", (t) => {
      const file = join(__dirname, "urns", `${stack}.txt`);
      const known = existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
      const current = new Set(own.map((r) => r.urn));
      // Match the registrations against a state holding `known`, the way the engine does
      // (registration order; a child inherits the alias its parent was matched through).
      // URNs still registered as they are need no alias; the others are older generations.
      const state = new Set(known.filter((u) => !current.has(u)));
      const matchedFrom = new Map<string, string>();
      const aliased = new Set<string>();
      for (const r of own) {
        const hit = aliasUrns(stack, "haforge", r, matchedFrom.get(r.parent)).find((a) => state.has(a) && !aliased.has(a));
        if (hit) {
          aliased.add(hit);
          matchedFrom.set(r.urn, hit);
        }
      }
      if (process.env["UPDATE_URNS"]) {
        mkdirSync(join(__dirname, "urns"), { recursive: true });
        writeFileSync(file, [...new Set([...known, ...current])].sort().join("\n") + "\n");
        return;
      }
      assert.ok(known.length > 0, `${file} is missing: run UPDATE_URNS=1`);
      const lost = known.filter((u) => !current.has(u) && !aliased.has(u) && !retired(u));
      // A retired name registered again would be a resource of another kind under an old name.
      assert.deepEqual([...current].filter(retired), [], "a retired resource name is registered again");
      assert.deepEqual(lost, [], `${lost.length} URN(s) of existing ${stack} stacks would be deleted (add an alias)`);
      for (const u of known.filter((x) => !current.has(x) && retired(x))) t.diagnostic(`retired: ${urnName(u)}: ${retirement(u)!.why}`);
      // New resources are fine (nothing to alias); they are recorded with UPDATE_URNS=1 so that a
      // later rename of them is caught.
      const added = [...current].filter((u) => !known.includes(u));
      if (added.length) t.diagnostic(`${added.length} URN(s) not in ${file} yet: record them with UPDATE_URNS=1`);
    });

    it("under another stack name: the same names and the same inputs", () => {
      assert.equal(other.length, own.length);
      const byName = new Map(other.map((r) => [nameOf(r.urn), r]));
      const changed: string[] = [];
      for (const r of own) {
        const o = byName.get(nameOf(r.urn));
        assert.ok(o, `${nameOf(r.urn)} is not registered under another stack name`);
        if (JSON.stringify(o.inputs) !== JSON.stringify(r.inputs)) changed.push(nameOf(r.urn));
      }
      assert.deepEqual(changed, [], "inputs that depend on the stack name");
    });
  });
}
