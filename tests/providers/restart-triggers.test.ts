/**
 * Overwriting drift restarts the daemon onto the right config: a restart follows its files' hash
 * AND haforge's write count (components/service-resources.ts `fileTrigger`), because overwriting
 * drift (force, or after a refresh) writes the same desired content again, with the same hash.
 * RemoteFile runs for real against an sshd; the restart's decision is HostAction's update plan.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { planHostAction, type HostActionInputs } from "../../src/providers/host-action";
import {
  createRemoteFile,
  readRemoteFile,
  updateRemoteFile,
  type RemoteFileInputs,
  type RemoteFileOutputs,
} from "../../src/providers/remote-file";
import { getDefaultPool } from "../../src/transport";
import { startSshd, type Sshd } from "./sshd-fixture";

let s: Sshd;
before(async () => {
  s = await startSshd({ name: "trig" });
});
after(async () => {
  await getDefaultPool().close();
  await s?.stop();
});

/** The trigger value a restart follows for one file (same formula as fileTrigger). */
const trigger = (o: RemoteFileOutputs): string => `${o.sha256}#${o.writes ?? 0}`;

const restart = (triggers: string[]): HostActionInputs => ({
  connection: { host: "trig", address: "127.0.0.1", port: s.port, user: "root", hostKey: s.hostKeyLine },
  create: "supervisorctl restart app",
  triggers,
  rerun: "triggers",
});
const restartRuns = (before: string, after: string): boolean =>
  planHostAction({ ...restart([before]), stdout: "", stderr: "", ran: "create" }, restart([after])).runs === "create";

describe("restart triggers follow writes, not only hashes", () => {
  it("an unchanged apply keeps the trigger; overwriting drift with force or after refresh changes it", async () => {
    const path = join(s.dir, "app.conf");
    const inputs: RemoteFileInputs = { connection: s.conn(), path, content: "port = 1\n", mode: "0644", owner: "root", group: "root" };
    const created = (await createRemoteFile(inputs)).outs!;
    assert.equal(created.writes, 1);

    // Nothing changed: same trigger, no restart.
    const same = (await updateRemoteFile(created, inputs)).outs!;
    assert.equal(trigger(same), trigger(created));
    assert.equal(restartRuns(trigger(created), trigger(same)), false);

    // Drift, overwritten with force: same desired hash, but the file was rewritten → restart.
    writeFileSync(path, "port = 666\n");
    const forced = (await updateRemoteFile(same, { ...inputs, force: true })).outs!;
    assert.equal(forced.sha256, same.sha256, "the hash alone does not move");
    assert.notEqual(trigger(forced), trigger(same));
    assert.equal(restartRuns(trigger(same), trigger(forced)), true);

    // Drift, then refresh (state takes the live hash), then a plain up writes the desired content.
    writeFileSync(path, "port = 777\n");
    const refreshed = (await readRemoteFile(`trig:${path}`, forced)).props!;
    assert.notEqual(refreshed.sha256, forced.sha256, "refresh recorded the drift");
    const rewritten = (await updateRemoteFile(refreshed, inputs)).outs!;
    assert.equal(rewritten.sha256, forced.sha256);
    assert.equal(restartRuns(trigger(forced), trigger(rewritten)), true, "the restart's stored trigger is from before the refresh");
  });
});
