/**
 * The lab lock (lab/claim.ts) without root: claims live in a temp CLAIM_DIR and name a fake
 * bridge, so no network resource is touched. Whether a claim is held is a pure function of the
 * recorded processes' liveness (property); acquiring is exclusive even when labs race (child
 * processes started together: exactly one wins).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";

const claims = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-claims-"));
process.env["HAFORGE_LAB_CLAIMS"] = claims;
type ClaimModule = typeof import("../../lab/claim");
let m: ClaimModule;
const BR = "hfclaimtest0"; // never created: deleteLink of an absent link is a no-op

const ref = (pid: number, startTime = "1") => ({ pid, startTime });

describe("lab claim", () => {
  before(async () => {
    m = await import("../../lab/claim");
  });
  after(() => fs.rmSync(claims, { recursive: true, force: true }));

  it("status: free without a claim, ours for the same directory however written, else held iff a recorded process lives", () => {
    const dir = fc.array(fc.constantFrom("a", "b", "lab", "x1"), { minLength: 1, maxLength: 4 }).map((p) => "/" + p.join("/"));
    fc.assert(
      fc.property(dir, dir, fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), (mine, theirs, liveness) => {
        const [ownerAlive, ...hostsAlive] = liveness;
        const claim = {
          version: 1 as const,
          bridge: BR,
          subnet: "x",
          stateDir: theirs,
          owner: ref(1),
          createdAt: "",
          hosts: hostsAlive.map((_, i) => ref(i + 2)),
          netns: [],
          links: [],
        };
        const alive = (r: { pid: number }) => (r.pid === 1 ? ownerAlive! : hostsAlive[r.pid - 2]!);
        assert.equal(m.claimStatus(null, mine, alive), "free");
        assert.equal(m.claimStatus(claim, theirs + "/./", alive), "ours");
        const expected = path.resolve(mine) === path.resolve(theirs) ? "ours" : liveness.some(Boolean) ? "held" : "stale";
        assert.equal(m.claimStatus(claim, mine, alive), expected);
      }),
    );
  });

  it("a live holder refuses another directory (naming itself), keeps it out of the network, and only its own release frees the bridge", async () => {
    assert.equal(await m.acquireClaim({ stateDir: "/lab-a", bridge: BR }), "created");
    assert.equal(await m.acquireClaim({ stateDir: "/lab-a/", bridge: BR }), "ours");
    await assert.rejects(
      m.acquireClaim({ stateDir: "/lab-b", bridge: BR }),
      (e: Error) => e.message.includes(`${BR}`) && e.message.includes("in use by the lab in /lab-a"),
    );
    const t0 = Date.now();
    await assert.rejects(m.acquireClaim({ stateDir: "/lab-b", bridge: BR, waitMs: 600 }));
    assert.ok(Date.now() - t0 >= 550, "waited before refusing");
    const net = m.mayTouchNetwork("/lab-b", BR);
    assert.equal(net.ok, false);
    assert.equal(m.mayTouchNetwork("/lab-a", BR).ok, true);
    assert.throws(() => m.updateClaim("/lab-b", { hosts: [] }, BR), /does not hold/);
    m.releaseClaim("/lab-b", BR); // not the owner: no effect
    assert.equal(m.readClaim(BR)?.stateDir, "/lab-a");
    m.releaseClaim("/lab-a", BR);
    assert.equal(m.readClaim(BR), null);
    assert.equal(m.mayTouchNetwork("/lab-b", BR).ok, true);
  });

  it("a waiting lab gets the bridge when the holder releases it", async () => {
    await m.acquireClaim({ stateDir: "/lab-a", bridge: BR });
    setTimeout(() => m.releaseClaim("/lab-a", BR), 300);
    assert.equal(await m.acquireClaim({ stateDir: "/lab-b", bridge: BR, waitMs: 5000 }), "created");
    assert.equal(m.readClaim(BR)?.stateDir, "/lab-b");
    m.releaseClaim("/lab-b", BR);
  });

  it("a claim whose processes are all gone is taken over", async () => {
    await m.acquireClaim({ stateDir: "/lab-dead", bridge: BR });
    m.updateClaim("/lab-dead", { owner: ref(process.pid, "no-such-start-time"), hosts: [ref(process.pid, "nope")] }, BR);
    const logs: string[] = [];
    assert.equal(await m.acquireClaim({ stateDir: "/lab-new", bridge: BR, log: (l) => logs.push(l) }), "created");
    assert.equal(m.readClaim(BR)?.stateDir, "/lab-new");
    assert.match(logs.join("\n"), /taking over .* \/lab-dead/);
    m.releaseClaim("/lab-new", BR);
  });

  it("labs racing for the bridge: exactly one wins", { timeout: 60_000 }, async () => {
    const n = 4;
    const go = Date.now() + 2500; // all children try at the same moment
    const script = `
      const m = require(${JSON.stringify(path.join(__dirname, "..", "..", "lab", "claim.ts"))});
      setTimeout(() => m.acquireClaim({ stateDir: process.argv[1], bridge: ${JSON.stringify(BR)} })
        .then((r) => { console.log(r); setTimeout(() => {}, 1500); }, (e) => console.log("refused " + e.message)), ${go} - Date.now());`;
    const outs = await Promise.all(
      Array.from(
        { length: n },
        (_, i) =>
          new Promise<string>((resolve) => {
            const c = spawn(process.execPath, ["--import", "tsx", "-e", script, `/race-${i}`], {
              env: process.env,
              stdio: ["ignore", "pipe", "inherit"],
            });
            let out = "";
            c.stdout.on("data", (d: Buffer) => (out += d.toString()));
            c.on("exit", () => resolve(out.trim()));
          }),
      ),
    );
    assert.equal(outs.filter((o) => o === "created").length, 1, outs.join("\n"));
    assert.equal(outs.filter((o) => o.startsWith("refused")).length, n - 1, outs.join("\n"));
    fs.rmSync(m.claimPath(BR), { force: true });
  });
});
