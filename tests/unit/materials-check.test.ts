/**
 * The Materials resource's Check (issue 9): in a preview with no state it says what `up` will
 * adopt from the hosts; a preview that cannot reach the hosts (HAFORGE_DIFF=state) reads nothing
 * and says so; a source whose connection is still unknown (a deploy-time address) is skipped,
 * never a failed preview. The reads themselves run against sshd in tests/providers and
 * tests/engine/empty-state.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkMaterials, type MaterialsInputs } from "../../src/providers/materials";
import { stderrOf } from "../stderr-of";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const kind = { type: "random-bytes", bytes: 32 } as const;
/** A host nothing listens on: any read attempt fails fast (and would be skipped). */
const nowhere = { host: "127.0.0.1", port: 1, user: "root" } as never;

describe("Materials check (preview notes)", () => {
  it("HAFORGE_DIFF=state: no host contacted, a note names the keys the state lacks", async () => {
    const news: MaterialsInputs = {
      specs: [
        { key: "k/new", kind },
        { key: "k/old", kind },
      ],
      adopt: {
        "k/new": [{ host: "h1", path: "/k", base64: true, connection: nowhere }],
        "k/old": [{ host: "h1", path: "/o", base64: true, connection: nowhere }],
      },
    };
    const prev = process.env["HAFORGE_DIFF"];
    process.env["HAFORGE_DIFF"] = "state";
    try {
      const text = (await stderrOf(() => checkMaterials({ specs: [{ key: "k/old", kind }] }, news))).stderr;
      assert.match(text, /HAFORGE_DIFF=state: 1 key\(s\) the state lacks \(k\/new\) .*hosts not contacted in this preview/);
      assert.equal((await stderrOf(() => checkMaterials({ specs: news.specs }, news))).stderr, "", "nothing new: nothing said");
    } finally {
      if (prev === undefined) delete process.env["HAFORGE_DIFF"];
      else process.env["HAFORGE_DIFF"] = prev;
    }
  });

  it("sources whose connection is unknown during the preview are skipped, never a failed check", async () => {
    const news = {
      specs: [{ key: "k/a", kind }],
      adopt: { "k/a": [UNKNOWN, { host: "h1", path: "/k", base64: true, connection: UNKNOWN }] },
    } as unknown as MaterialsInputs;
    assert.equal((await stderrOf(() => checkMaterials({}, news))).stderr, "");
    const whole = { specs: [{ key: "k/a", kind }], adopt: UNKNOWN } as unknown as MaterialsInputs;
    assert.equal((await stderrOf(() => checkMaterials({}, whole))).stderr, "");
  });
});
