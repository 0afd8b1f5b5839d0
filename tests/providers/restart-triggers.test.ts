/**
 * Overwriting drift restarts the daemon onto the right config: a restart follows its files' hash
 * AND haforge's write count (components/service-resources.ts `fileTrigger`), because overwriting
 * drift (force, or after a refresh) writes the same desired content again, with the same hash.
 * RemoteFile runs for real against an sshd; the restart's decision is HostAction's update plan.
 */
import assert from "node:assert/strict";
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  createHostAction,
  hostActionProvider,
  hostActionProviderText,
  isPackedHostAction,
  packHostAction,
  planHostAction,
  type HostActionDiffResult,
  type HostActionInputs,
  type HostActionWireOutputs,
} from "../../src/providers/host-action";
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
  connection: { host: "trig", address: "127.0.0.1", port: s.port, user: "root", hostKey: s.hostKeyLine, privateKeyPath: s.clientKeyPath },
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

describe("host actions in the flat shape of an older haforge", () => {
  const withText = <T extends object>(o: T): T & { __provider: string } => ({ ...o, __provider: hostActionProviderText });
  it("the first up reports an update that runs nothing (restart and cluster action); destroy runs the stored delete", async () => {
    const ran = join(s.dir, "migrate-ran");
    const restartInputs: HostActionInputs = { ...restart(["abc#1", "def#2"]), create: `touch ${ran}` };
    // What an older haforge stored: the flat inputs plus stdout/stderr/ran, with the same __provider.
    const flat = { ...(await createHostAction(restartInputs)).outs, __provider: hostActionProviderText };
    rmSync(ran, { force: true });
    assert.equal(isPackedHostAction(flat), false);
    const news = { ...packHostAction(restartInputs), __provider: hostActionProviderText };
    const d = (await hostActionProvider.diff!("id", flat, news)) as HostActionDiffResult;
    assert.equal(d.changes, true, "the packed shape must reach the state");
    assert.deepEqual(d.replaces, []);
    assert.equal(d.plan?.runs, "none", "same triggers: the restart does not run");
    const u = await hostActionProvider.update!("id", flat, news);
    assert.equal(existsSync(ran), false, "the update ran the restart");
    const packed = u.outs as HostActionWireOutputs;
    assert.equal(isPackedHostAction(packed), true);
    assert.equal(packed.result.ran, "none");
    assert.deepEqual(packed.triggers, ["abc#1", "def#2"]);
    // Migrated: unchanged next time.
    assert.equal((await hostActionProvider.diff!("id", withText(packed), news)).changes, false);

    // A cluster action (rerun: "change") whose command is the same: runs nothing either.
    const action: HostActionInputs = { ...restart([]), create: `touch ${ran}`, rerun: "change", delete: `touch ${ran}.deleted` };
    const flatAction = { ...(await createHostAction(action)).outs, __provider: hostActionProviderText };
    rmSync(ran, { force: true });
    const a = (await hostActionProvider.diff!("id", flatAction, withText(packHostAction(action)))) as HostActionDiffResult;
    assert.equal(a.changes, true);
    assert.equal(a.plan?.runs, "none");
    await hostActionProvider.update!("id", flatAction, withText(packHostAction(action)));
    assert.equal(existsSync(ran), false, "the update ran the action");
    // Destroy with the flat state runs the stored delete command.
    await hostActionProvider.delete!("id", flatAction);
    assert.equal(existsSync(`${ran}.deleted`), true);
  });
});
