/**
 * `npm ci` on Node 20 prints no engine warnings (EBADENGINE): every package in the lockfile
 * accepts the oldest Node of each range our own `engines.node` allows (20.19 and 22.13), and the
 * Node running the tests. kubernetes-models 5.x (and its @kubernetes-models/* 3.x-6.x) asks for
 * node >= 22; it is pinned to 4.5.x. `.ci/run` also fails on an EBADENGINE line from `npm ci`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import semver from "semver";

const ROOT = join(__dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version?: string; engines?: Record<string, string> | string[] }>;
};

/** The lowest version of each `||` alternative of a range. */
function floors(range: string): string[] {
  return new semver.Range(range).set.map((comparators) => semver.minVersion(comparators.map((c) => c.value).join(" "))!.version);
}

it("every locked package accepts the Node versions package.json allows (no EBADENGINE on npm ci)", () => {
  const ours = pkg.engines.node;
  assert.equal(lock.packages[""]?.engines && !Array.isArray(lock.packages[""].engines) ? lock.packages[""].engines.node : undefined, ours);
  const nodes = [...floors(ours), process.versions.node];
  assert.ok(
    floors(ours).every((v) => semver.major(v) === 20 || semver.major(v) >= 22),
    floors(ours).join(", "),
  );
  assert.ok(
    floors(ours).some((v) => semver.major(v) === 20),
    "Node 20 is supported",
  );
  const bad: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || !entry.engines || Array.isArray(entry.engines)) continue;
    const want = entry.engines["node"];
    if (!want) continue;
    for (const v of nodes)
      if (!semver.satisfies(v, want, { includePrerelease: true })) bad.push(`${path}@${entry.version}: node ${want} (not ${v})`);
  }
  assert.deepEqual(bad, []);
});
