import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InventoryInput } from "../../src/inventory/schema";
import { hosts, noErrors, ofService, one, runSteps } from "./plan-helpers";

type StIn = NonNullable<InventoryInput["syncthing"]>;
const st = (syncthing: StIn) => {
  const r = runSteps({ hosts: hosts(3), syncthing });
  return { ...r, findings: ofService(r.findings, "syncthing.") };
};

describe("syncthing plan", () => {
  it("plans folders, hosts in inventory order, roles and a rolling group of n-1", () => {
    const { plan, findings, roles } = st({
      folders: [
        { id: "res", path: "/opt/res", hosts: ["h3", "h1"] },
        { id: "b", path: "/srv/b", hosts: ["h2", "h3"] },
      ],
    });
    assert.deepEqual(findings, []);
    assert.deepEqual(plan.syncthing!.hosts, ["h1", "h2", "h3"]);
    assert.deepEqual(plan.syncthing!.folders[0], {
      id: "res",
      path: "/opt/res",
      hosts: ["h3", "h1"],
      rescanIntervalS: 60,
      fsWatcherDelayS: 1,
    });
    assert.deepEqual(roles.get("h1"), ["syncthing"]);
    assert.deepEqual(plan.rollingGroups, [{ id: "syncthing", service: "syncthing", hosts: ["h1", "h2", "h3"], maxUnavailable: 2 }]);
  });

  it("folder hosts exist, at least 2 distinct", () => {
    const f = st({ folders: [{ id: "a", path: "/a", hosts: ["h1", "h9"] }] }).findings;
    assert.equal(one(f, "syncthing.unknown-host").path, "syncthing.folders[0].hosts[1]");
    const dup = st({ folders: [{ id: "a", path: "/a", hosts: ["h1", "h1"] }] }).findings;
    one(dup, "syncthing.duplicate-host");
    assert.match(one(dup, "syncthing.too-few-hosts").message, /1 distinct host/);
  });

  it("paths are absolute", () => {
    // The schema's `absolute path` kind rejects it before the plan, at the same path.
    const f = one(st({ folders: [{ id: "a", path: "data/a", hosts: ["h1", "h2"] }] }).findings, "schema.invalid");
    assert.equal(f.path, "syncthing.folders[0].path");
    assert.match(f.message, /absolute path/);
    for (const bad of ["/srv/../etc", "/srv/a\nb", "/", "/srv//a", "/srv/$HOME"])
      one(st({ folders: [{ id: "a", path: bad, hosts: ["h1", "h2"] }] }).findings, "schema.invalid");
  });

  it("folder ids are unique; folders on one host do not overlap", () => {
    assert.equal(
      one(
        st({
          folders: [
            { id: "a", path: "/a", hosts: ["h1", "h2"] },
            { id: "a", path: "/b", hosts: ["h1", "h2"] },
          ],
        }).findings,
        "syncthing.duplicate-folder",
      ).path,
      "syncthing.folders[1].id",
    );
    const nested = st({
      folders: [
        { id: "a", path: "/srv/a/", hosts: ["h1", "h2"] },
        { id: "b", path: "/srv/a/sub", hosts: ["h2", "h3"] },
      ],
    }).findings;
    assert.match(one(nested, "syncthing.path-overlap").message, /on host 'h2'/);
    noErrors(
      st({
        folders: [
          { id: "a", path: "/srv/a", hosts: ["h1", "h2"] },
          { id: "b", path: "/srv/ab", hosts: ["h1", "h2"] },
        ],
      }).findings,
    );
  });

  it("GUI and listen ports differ", () => {
    one(st({ folders: [], guiPort: 22000 }).findings, "syncthing.port-collision");
  });
});
