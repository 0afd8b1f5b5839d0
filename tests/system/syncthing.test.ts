/**
 * syncthing system test: three real syncthing 1.19 instances, one network namespace each holding
 * the host's fixture address, started from the RENDERED home (config.xml + cert.pem + key.pem;
 * only the home directory and the folder paths move to temp dirs — the listen/device addresses and
 * the GUI address are used as rendered). Checks that syncthing accepts the config as written:
 * its own `myID` equals the device ID computed in TypeScript, the folders are the rendered ones,
 * nothing that reaches the internet is on, config.xml is not rewritten; that the rendered health
 * command and the rendered "in sync" action pass verbatim; and that files really replicate. A
 * replaced host (its home, index and folders gone; the same rendered home written again) keeps its
 * device ID, pulls every folder back and deletes nothing on the others.
 *
 * Run: node --import tsx --test --test-concurrency=1 tests/system/syncthing.test.ts   (root: netns)
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { renderDesiredState } from "../../src/pipeline/render";
import type { DesiredState } from "../../src/core/desired-state";
import { SYNCTHING_HOME, deviceIdOf } from "../../src/services/syncthing/render";
import { FS_HOSTS, generateMaterials, syncthingPlan } from "../fixtures/syncthing-plan";
import { NetnsHosts, waitFor, type Started } from "./netns-hosts";

const plan = syncthingPlan();
const st = plan.syncthing!;
const materials = generateMaterials(plan);

describe("syncthing: real daemons accept the rendered homes", { timeout: 240_000 }, () => {
  const lab = new NetnsHosts(
    "hfs",
    FS_HOSTS.map((h) => ({ name: h.name, address: h.internal })),
  );
  const dir = mkdtempSync(join(tmpdir(), "haforge-syncthing-"));
  const homeOf = (h: string) => join(dir, h, "home");
  const dataOf = (h: string) => join(dir, h, "sync");
  /** Rendered text with the host paths moved into the test dir. */
  const relocate = (h: string, text: string) =>
    text
      .split(SYNCTHING_HOME)
      .join(homeOf(h))
      .split("/srv/sync/")
      .join(`${dataOf(h)}/`);
  const procs: Started[] = [];
  let state: DesiredState;
  let startedAt = 0;

  const filesOf = (h: string) => state.hosts.find((x) => x.host === h)!.files;
  const serviceOf = (h: string) => state.hosts.find((x) => x.host === h)!.services.find((s) => s.name === "syncthing")!;
  const apiKeyOf = (h: string) => materials[`syncthing/apikey/${h}`]!;
  const api = (h: string, path: string): unknown => {
    const r = lab.exec(h, ["curl", "-fsS", "--max-time", "5", "-H", `X-API-Key: ${apiKeyOf(h)}`, `http://127.0.0.1:${st.guiPort}${path}`]);
    if (r.status !== 0) throw new Error(`${h} GET ${path}: rc ${r.status} ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  };

  /** The rendered home (config.xml, cert.pem, key.pem), as haforge writes it. */
  const writeHome = (h: string) => {
    mkdirSync(homeOf(h), { recursive: true, mode: 0o700 });
    for (const f of filesOf(h).filter((x) => x.path.startsWith(`${SYNCTHING_HOME}/`))) {
      const target = relocate(h, f.path);
      writeFileSync(target, f.path.endsWith("config.xml") ? relocate(h, f.content) : f.content, { mode: parseInt(f.mode, 8) });
    }
  };
  /** The unit's command line, with only --home moved. */
  const startHost = (h: string) => {
    const unit = filesOf(h).find((f) => f.path.includes("syncthing.service") || f.path.includes("conf.d/syncthing.conf"))!;
    const command = /(?:ExecStart=|command=)(.*)/.exec(unit.content)![1]!;
    return lab.start(h, relocate(h, command).split(" "), join(dir, `${h}.log`), { env: { ...process.env, HOME: homeOf(h) } });
  };

  before(() => {
    state = renderDesiredState(plan, {}, materials);
    lab.up();
    for (const h of FS_HOSTS) writeHome(h.name);
    startedAt = Date.now();
    for (const h of FS_HOSTS) procs.push(startHost(h.name));
  });

  after(async () => {
    const problems = await lab.down();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(problems, []);
  });

  test("the rendered health command passes on every host", async () => {
    const ok = await waitFor(
      () => FS_HOSTS.every((h) => lab.sh(h.name, relocate(h.name, serviceOf(h.name).health!), 10_000).status === 0),
      60_000,
    );
    if (!ok) assert.fail(`not healthy in 60 s\n${execFileSync("sh", ["-c", `tail -n 20 ${dir}/*.log`], { encoding: "utf8" })}`);
    console.log(`syncthing: 3 instances healthy ${Date.now() - startedAt} ms after start`);
  });

  test("myID reported by syncthing equals the device ID computed in TypeScript", () => {
    for (const h of FS_HOSTS) {
      const status = api(h.name, "/rest/system/status") as { myID: string };
      const ours = deviceIdOf(h.name, materials);
      console.log(`syncthing ${h.name}: myID ${status.myID} (computed ${ours})`);
      assert.equal(status.myID, ours);
    }
  });

  test("the configured folders, devices and switched-off internet features are as rendered", () => {
    for (const h of FS_HOSTS) {
      const folders = api(h.name, "/rest/config/folders") as {
        id: string;
        path: string;
        fsWatcherEnabled: boolean;
        fsWatcherDelayS: number;
        devices: { deviceID: string }[];
      }[];
      const expected = st.folders.filter((f) => f.hosts.includes(h.name)).sort((a, b) => a.id.localeCompare(b.id));
      folders.sort((a, b) => a.id.localeCompare(b.id));
      assert.deepEqual(
        folders.map((f) => ({
          id: f.id,
          path: f.path,
          watch: f.fsWatcherEnabled,
          delay: f.fsWatcherDelayS,
          devices: f.devices.map((d) => d.deviceID).sort(),
        })),
        expected.map((f) => ({
          id: f.id,
          path: relocate(h.name, f.path),
          watch: true,
          delay: f.fsWatcherDelayS,
          devices: f.hosts.map((x) => deviceIdOf(x, materials)).sort(),
        })),
      );
      const options = api(h.name, "/rest/config/options") as Record<string, unknown>;
      assert.equal(options["globalAnnounceEnabled"], false);
      assert.equal(options["localAnnounceEnabled"], false);
      assert.equal(options["relaysEnabled"], false);
      assert.equal(options["natEnabled"], false);
      assert.equal(options["urAccepted"], -1);
      assert.equal(options["autoUpgradeIntervalH"], 0);
      assert.deepEqual(options["listenAddresses"], [`tcp://${h.internal}:${st.listenPort}`]);
    }
  });

  test("the rendered in-sync action passes verbatim on every host (peers connected, 100 %)", () => {
    for (const a of state.actions.filter((x) => x.id.startsWith("syncthing-in-sync-"))) {
      const t0 = Date.now();
      const r = lab.sh(a.host, relocate(a.host, a.create), 200_000);
      assert.equal(r.status, 0, `${a.id}: ${r.stdout}${r.stderr}`);
      console.log(`${a.id}: "${r.stdout.trim()}" after ${Date.now() - t0} ms`);
    }
  });

  test("files replicate: shared reaches all three, pair reaches fs2 and never fs3", async () => {
    const t0 = Date.now();
    writeFileSync(join(dataOf("fs1"), "shared", "hello.txt"), "from fs1\n");
    const shared = await waitFor(() => ["fs2", "fs3"].every((h) => existsSync(join(dataOf(h), "shared", "hello.txt"))), 60_000, 100);
    assert.ok(shared, "shared/hello.txt on fs2 and fs3 within 60 s");
    console.log(
      `syncthing: shared (fsWatcherDelayS ${st.folders[0]!.fsWatcherDelayS}) file on both peers ${Date.now() - t0} ms after the write`,
    );
    const t1 = Date.now();
    writeFileSync(join(dataOf("fs1"), "pair", "pair.txt"), "pair only\n");
    assert.ok(await waitFor(() => existsSync(join(dataOf("fs2"), "pair", "pair.txt")), 60_000, 100), "pair/pair.txt on fs2");
    console.log(`syncthing: pair (fsWatcherDelayS ${st.folders[1]!.fsWatcherDelayS}) file on fs2 ${Date.now() - t1} ms after the write`);
    assert.equal(readFileSync(join(dataOf("fs3"), "shared", "hello.txt"), "utf8"), "from fs1\n");
    assert.equal(existsSync(join(dataOf("fs3"), "pair")), false, "fs3 does not have the pair folder");
  });

  test("syncthing did not rewrite the rendered config.xml (no false out-of-band drift)", () => {
    for (const h of FS_HOSTS) {
      const rendered = relocate(h.name, filesOf(h.name).find((f) => f.path === `${SYNCTHING_HOME}/config.xml`)!.content);
      assert.equal(readFileSync(join(homeOf(h.name), "config.xml"), "utf8"), rendered, `${h.name}: config.xml unchanged`);
    }
  });

  test("a replaced host (fs2 wiped: no home, no index, no folders) rejoins from the same rendered home: same device ID, pulls both folders, nobody loses a file", async () => {
    const t0 = Date.now();
    writeFileSync(join(dataOf("fs3"), "shared", "while-fs2-away.txt"), "from fs3\n");
    await lab.stop(procs[1]!);
    rmSync(join(dir, "fs2"), { recursive: true, force: true });
    // What haforge writes on the replaced host: the same files, from the same materials (state keeps
    // the certificate: its device ID is what fs1's and fs3's config.xml list).
    writeHome("fs2");
    procs[1] = startHost("fs2");
    const healthy = await waitFor(() => lab.sh("fs2", relocate("fs2", serviceOf("fs2").health!), 10_000).status === 0, 60_000);
    assert.ok(healthy, `fs2 not healthy in 60 s\n${execFileSync("sh", ["-c", `tail -n 20 ${dir}/fs2.log`], { encoding: "utf8" })}`);
    assert.equal((api("fs2", "/rest/system/status") as { myID: string }).myID, deviceIdOf("fs2", materials));
    const back = await waitFor(
      () => ["shared/hello.txt", "shared/while-fs2-away.txt", "pair/pair.txt"].every((f) => existsSync(join(dataOf("fs2"), f))),
      90_000,
      250,
    );
    assert.ok(back, "fs2 pulled shared/hello.txt, shared/while-fs2-away.txt and pair/pair.txt within 90 s");
    // the fresh index deleted nothing on the members that kept their data
    assert.equal(readFileSync(join(dataOf("fs1"), "shared", "hello.txt"), "utf8"), "from fs1\n");
    assert.equal(readFileSync(join(dataOf("fs1"), "pair", "pair.txt"), "utf8"), "pair only\n");
    assert.equal(readFileSync(join(dataOf("fs1"), "shared", "while-fs2-away.txt"), "utf8"), "from fs3\n");
    assert.equal(readFileSync(join(dataOf("fs3"), "shared", "hello.txt"), "utf8"), "from fs1\n");
    for (const a of state.actions.filter((x) => x.id === "syncthing-in-sync-fs1" || x.id === "syncthing-in-sync-fs2")) {
      const r = lab.sh(a.host, relocate(a.host, a.create), 200_000);
      assert.equal(r.status, 0, `${a.id}: ${r.stdout}${r.stderr}`);
    }
    console.log(`syncthing: fs2 replaced, healthy and holding both folders ${Date.now() - t0} ms after its stop`);
  });

  test("negative: with a peer down the in-sync action fails (bounded)", async () => {
    await lab.stop(procs[2]!); // fs3
    const action = state.actions.find((a) => a.id === "syncthing-in-sync-fs1")!;
    // Same command, fewer attempts, so the test does not wait out the production bound.
    const bounded = relocate("fs1", action.create).replace(/-lt \d+ \]/, "-lt 3 ]");
    assert.notEqual(bounded, relocate("fs1", action.create));
    const r = lab.sh("fs1", bounded, 60_000);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /not in sync/);
  });
});
