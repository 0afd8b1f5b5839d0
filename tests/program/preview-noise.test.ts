/**
 * Preview noise: a preview in which Materials changes (a generated key was added) must show as
 * changing only the files that use a generated material and the actions that follow them. The
 * program runs under the SDK's mocks in preview mode with Materials' values unknown (what the
 * engine gives a changing dynamic resource during preview).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseRun, type RecordedResource } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const unwrap = (v: unknown): any =>
  v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_KEY] !== undefined ? unwrap((v as { value: unknown }).value) : v;
const unknownIn = (v: unknown): boolean => JSON.stringify(v ?? null).includes(UNKNOWN);

describe("preview while Materials changes", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "run-stack.ts"), "lab"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, HAFORGE_MOCK_PREVIEW_MATERIALS_CHANGE: "1" },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 180_000,
  });
  it("runs", () => assert.equal(r.status, 0, r.stderr.slice(-2000)));
  const run = r.status === 0 ? parseRun<{ resources: RecordedResource[] }>(r.stdout) : { resources: [] };
  const files = run.resources.filter((x) => x.type === "pulumi-nodejs:dynamic:Resource" && unwrap(unwrap(x.raw).spec)?.path !== undefined);
  const actions = run.resources.filter((x) => x.type === "pulumi-nodejs:dynamic:HostAction");
  const label = (f: RecordedResource) => `${unwrap(unwrap(f.raw).connection).host ?? "?"}:${unwrap(unwrap(f.raw).spec)?.path}`;

  it("only files that use a generated key show as changing", () => {
    const changing = files.filter((f) => unknownIn(unwrap(f.raw).content)).map(label);
    const unchanged = files.filter((f) => !unknownIn(unwrap(f.raw).content)).map(label);
    assert.ok(files.length > 20);
    assert.ok(changing.length > 0, "the corosync/pacemaker authkeys and syncthing files do use materials");
    assert.ok(unchanged.length > changing.length, `changing: ${changing.length} of ${files.length}: ${changing.join(", ")}`);
    for (const p of ["/etc/keepalived/keepalived.conf", "/etc/haproxy/haproxy.cfg", "/etc/rabbitmq/rabbitmq.conf"]) {
      const here = files.filter((f) => unwrap(unwrap(f.raw).spec)?.path === p);
      assert.ok(here.length > 0, p);
      for (const f of here) assert.ok(!unknownIn(unwrap(f.raw).content), `${label(f)} does not use a generated key but shows as changing`);
    }
    for (const f of files.filter((x) => /authkey/.test(String(unwrap(unwrap(x.raw).spec)?.path))))
      assert.ok(unknownIn(unwrap(f.raw).content), `${label(f)} uses a key`);
  });

  it("an action shows a change only when a file it follows or its own command does", () => {
    const fileByUrn = new Map(files.map((f) => [f.urn, f]));
    let quiet = 0;
    for (const a of actions) {
      const raw = unwrap(a.raw);
      const followsChanging = a.dependencies.some((u) => {
        const f = fileByUrn.get(u);
        return f !== undefined && unknownIn(unwrap(f.raw).content);
      });
      if (!unknownIn(raw.triggers) && !unknownIn(raw.create)) quiet++;
      if (unknownIn(raw.triggers)) assert.ok(followsChanging, `${a.name}: unknown triggers without a changing file`);
    }
    assert.ok(quiet > actions.length / 2, `${quiet} of ${actions.length} actions stay quiet`);
    const keepalived = actions.filter((a) => a.name.includes("restart-keepalived"));
    assert.ok(keepalived.length > 0);
    for (const a of keepalived) assert.ok(!unknownIn(unwrap(a.raw).triggers), `${a.name} would show a restart`);
  });
});
