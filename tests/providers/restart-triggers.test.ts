/**
 * Overwriting drift restarts the daemon onto the right config: a restart follows its files' hash
 * AND haforge's write count (components/service-resources.ts `fileTrigger`), because overwriting
 * drift (force, or after a refresh) writes the same desired content again, with the same hash.
 * RemoteFile runs for real against an sshd; the restart's decision is HostAction's update plan.
 */
import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { planHostAction, type HostActionInputs } from "../../src/providers/host-action";
import {
  createRemoteFile,
  isPackedRemoteFile,
  packRemoteFileInputs,
  readRemoteFile,
  remoteFileOutputsOf,
  remoteFileProvider,
  remoteFileProviderText,
  updateRemoteFile,
  type RemoteFileInputs,
  type RemoteFileOutputs,
  type RemoteFileWireOutputs,
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

describe("state in the flat shape of an older haforge (one property per field)", () => {
  /**
   * What an older haforge stored for a file: its provider returned the flat outputs that
   * createRemoteFile still computes (connection, path, mode, owner, group, sha256, size, writes),
   * with the same `__provider` text (the module path and export did not change).
   */
  const flatState = async (inputs: RemoteFileInputs): Promise<RemoteFileOutputs & { __provider: string }> => ({
    ...(await createRemoteFile(inputs)).outs!,
    __provider: remoteFileProviderText,
  });

  it("the first up reports an update that writes nothing and keeps the restart trigger; the next one is unchanged", async () => {
    const path = join(s.dir, "migrate.conf");
    const inputs: RemoteFileInputs = { connection: s.conn(), path, content: "port = 2\n", mode: "0640", owner: "root", group: "root" };
    const flat = await flatState(inputs);
    assert.equal(isPackedRemoteFile(flat), false);
    const st0 = statSync(path);
    const news = { ...packRemoteFileInputs(inputs), __provider: remoteFileProviderText };

    // The program's packed inputs against the flat state: an update, never a replacement (a
    // Same step would keep the flat outputs, and the program would read no `facts`).
    const d = await remoteFileProvider.diff!("id", flat, news);
    assert.equal(d.changes, true, "the packed shape must reach the state");
    assert.deepEqual(d.replaces ?? [], []);
    const u = await remoteFileProvider.update!("id", flat, news);
    const packed = u.outs as RemoteFileWireOutputs;
    assert.equal(isPackedRemoteFile(packed), true);
    assert.deepEqual(Object.keys(packed).sort(), ["connection", "facts", "spec"]);
    const st1 = statSync(path);
    assert.deepEqual([st1.ino, st1.mtimeMs, st1.ctimeMs], [st0.ino, st0.mtimeMs, st0.ctimeMs], "the file was not rewritten");
    // The restart's trigger (fileTrigger: facts.sha256#facts.writes) has the value the flat
    // state gave it (sha256#writes): the migration re-runs no restart.
    assert.equal(`${packed.facts.sha256}#${packed.facts.writes ?? 0}`, trigger(flat));
    assert.equal(restartRuns(trigger(flat), `${packed.facts.sha256}#${packed.facts.writes ?? 0}`), false);
    assert.equal(packed.spec.mode, "0640");

    // Migrated: the next diff is unchanged.
    assert.equal((await remoteFileProvider.diff!("id", { ...packed, __provider: remoteFileProviderText } as never, news)).changes, false);
  });

  it("refresh and destroy with the flat state (Read and Delete get the stored outputs)", async () => {
    const path = join(s.dir, "migrate-gone.conf");
    const inputs: RemoteFileInputs = { connection: s.conn(), path, content: "x = 1\n", mode: "0644", owner: "root", group: "root" };
    const flat = await flatState(inputs);
    writeFileSync(path, "x = 2\n");
    const r = await remoteFileProvider.read!(`trig:${path}`, flat);
    const refreshed = remoteFileOutputsOf(r.props as RemoteFileWireOutputs);
    assert.equal(isPackedRemoteFile(r.props), true);
    assert.notEqual(refreshed.sha256, flat.sha256, "refresh read the drift through the flat state");
    assert.equal(refreshed.path, path);
    writeFileSync(path, "x = 1\n");
    await remoteFileProvider.delete!("id", flat);
    assert.equal(existsSync(path), false, "deleted with the connection and hash of the flat state");
  });
});
