/**
 * HAFORGE_DIFF=state: a preview that cannot reach the hosts diffs RemoteFiles against state
 * (content hash, mode, owner) without opening a connection. Property: the state recorded for the
 * desired file is "no change"; changing the content, the mode or the owner is a change; the
 * connection goes nowhere (an address in TEST-NET-1 with no key would fail or hang otherwise).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { diffRemoteFile, type RemoteFileInputs, type RemoteFileOutputs } from "../../src/providers/remote-file";

const conn = {
  host: "h1",
  address: "192.0.2.1",
  user: "root",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEzZx8iYbHcH9aCz0mQ3hS6yxa2aY8nqu8CDhJY8lJ6N",
};
const recorded = (i: RemoteFileInputs): RemoteFileOutputs => ({
  connection: i.connection,
  path: i.path,
  ...(i.encoding ? { encoding: i.encoding } : {}),
  mode: i.mode.padStart(4, "0"),
  owner: i.owner,
  group: i.group,
  sha256: createHash("sha256")
    .update(i.encoding === "base64" ? Buffer.from(i.content, "base64") : Buffer.from(i.content))
    .digest("hex"),
  size: 0,
});

const arbInputs = fc.record({
  content: fc.string({ maxLength: 200 }),
  base64: fc.boolean(),
  mode: fc.constantFrom("0644", "0600", "0400", "0755"),
  owner: fc.constantFrom("root", "rabbitmq", "999"),
});

describe("RemoteFile diff against state (HAFORGE_DIFF=state)", () => {
  it("no change for what state recorded, a change for other content/mode/owner, no connection opened", async () => {
    process.env["HAFORGE_DIFF"] = "state";
    try {
      await fc.assert(
        fc.asyncProperty(arbInputs, arbInputs, async (a, b) => {
          const mk = (x: typeof a): RemoteFileInputs => ({
            connection: conn,
            path: "/etc/app.conf",
            content: x.base64 ? Buffer.from(x.content).toString("base64") : x.content,
            ...(x.base64 ? { encoding: "base64" as const } : {}),
            mode: x.mode,
            owner: x.owner,
            group: "root",
          });
          const ia = mk(a);
          const ib = mk(b);
          assert.equal((await diffRemoteFile(recorded(ia), ia)).changes, false);
          const same = a.content === b.content && a.mode === b.mode && a.owner === b.owner;
          assert.equal((await diffRemoteFile(recorded(ia), ib)).changes, !same);
        }),
        { numRuns: 200 },
      );
    } finally {
      delete process.env["HAFORGE_DIFF"];
    }
  });
});
