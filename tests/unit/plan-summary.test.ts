/**
 * `haforge plan`'s text and `--limit` are composed from each service's summary part
 * (src/services/<svc>/summary.ts, src/plan/summary-part.ts): the CLI holds no service's lines.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { limitPlanSummary, planSummary, planSummaryLines } from "../../src/pipeline/summary";
import { ROOT } from "../helpers/cli";
import { exampleInventories, inventoryPath } from "../golden/examples";

const plain = { kind: (s: string) => s, name: (s: string) => s, warn: (s: string) => s };
const examples = exampleInventories().map(inventoryPath);
const summaries = examples.flatMap((f) => {
  const plan = analyzeInventoryFile(f).plan;
  return plan ? [{ file: f, s: planSummary(plan) }] : [];
});

describe("plan summary parts", () => {
  test("the examples are the inventory files only: the CLI's .haforge/ directory beside them is not read", () => {
    const dir = mkdtempSync(join(tmpdir(), "haforge-inventories-"));
    try {
      copyFileSync(inventoryPath("lab.yaml"), join(dir, "lab.yaml"));
      copyFileSync(inventoryPath("tower-cluster.ini"), join(dir, "tower-cluster.ini"));
      mkdirSync(join(dir, ".haforge"));
      writeFileSync(join(dir, ".haforge", "lab.yaml.materials.json"), "{}");
      writeFileSync(join(dir, "README.md"), "notes");
      assert.deepEqual(exampleInventories(dir), ["lab.yaml", "tower-cluster.ini"]);
      for (const f of exampleInventories(dir)) assert.ok(analyzeInventoryFile(join(dir, f)).plan, f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("src/cli/plan.ts prints no service's structure itself", () => {
    const cli = readFileSync(join(ROOT, "src", "cli", "plan.ts"), "utf8");
    const keys = ["instanceGroups", "isolatedGroups", "rabbitmq", "pacemakerClusters", "keepalived", "quorumStore", "postgres"];
    assert.deepEqual(
      keys.filter((k) => new RegExp(`\\.${k}\\b`).test(cli)),
      [],
    );
  });

  test("one line per host, group, node set, cluster, VIP, store and rolling group, in the summary's order", () => {
    assert.ok(summaries.length >= 8, `${summaries.length} example plans`);
    for (const { file, s } of summaries) {
      const lines = planSummaryLines(s, plain);
      const kinds = lines.slice(1).map((l) => /^ {2}(instance group|isolated group|postgres \(\w+\)|\w+)/.exec(l)?.[1]);
      const expected = [
        ...s.hosts.map(() => "host"),
        ...s.instanceGroups.map(() => "instance group"),
        ...s.isolatedGroups.map(() => "isolated group"),
        ...(s.rabbitmq ? ["rabbitmq"] : []),
        ...s.pacemakerClusters.map(() => "pacemaker"),
        ...s.keepalived.map(() => "vip"),
        ...(s.quorumStore ? [s.quorumStore.kind] : []),
        ...(s.postgres ? [`postgres (${s.postgres.engine})`] : []),
        ...s.rollingGroups.map(() => "roll"),
      ];
      assert.deepEqual(kinds, expected, file);
      assert.equal(lines[0], `cluster ${s.name} (target ${s.target}, ${s.hosts.length} hosts)`);
    }
  });

  test("--limit: every host keeps every service structure with a member, none leaves no structure, a subset keeps what has one of them", () => {
    fc.assert(
      fc.property(fc.constantFrom(...summaries.filter((x) => x.s.hosts.length > 0)), fc.func(fc.boolean()), ({ s }, pick) => {
        assert.deepEqual(limitPlanSummary(s, new Set(s.hosts.map((h) => h.name))), s);
        const none = limitPlanSummary(s, new Set());
        assert.deepEqual(planSummaryLines(none, plain), [`cluster ${s.name} (target ${s.target}, 0 hosts)`]);
        const only = new Set(s.hosts.map((h) => h.name).filter((h) => pick(h)));
        const some = limitPlanSummary(s, only);
        assert.deepEqual(
          some.hosts.map((h) => h.name),
          s.hosts.map((h) => h.name).filter((h) => only.has(h)),
        );
        for (const c of some.pacemakerClusters)
          assert.ok(
            [...c.nodes, ...c.remoteNodes].some((h) => only.has(h)),
            c.name,
          );
        for (const v of some.keepalived)
          assert.ok(
            v.members.some((m) => only.has(m.host)),
            v.name,
          );
        for (const g of some.instanceGroups)
          assert.ok(
            g.instances.some((h) => only.has(h)),
            g.name,
          );
        if (some.rabbitmq) assert.ok(some.rabbitmq.nodes.some((n) => only.has(n.host)));
        assert.equal(
          some.pacemakerClusters.length,
          s.pacemakerClusters.filter((c) => [...c.nodes, ...c.remoteNodes].some((h) => only.has(h))).length,
        );
      }),
      { numRuns: 200 },
    );
  });
});
