/**
 * Two labs on one machine never fight over the bridge: a second `npm run lab -- up` from another
 * state directory (another checkout, another CI job) is refused while the first lab is alive, its
 * `down` leaves the first lab alone, and `--wait` gets the bridge once the first lab is down.
 * Root only (netns); run one such file at a time (docs/lab.md). Fast: one host per lab.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { BRIDGE } from "../../lab/config";
import { sshBanner } from "../../lab/exec";
import { run } from "../../lab/proc";

const SKIP = process.getuid?.() !== 0 ? "the lab needs root" : false;
const CLI = path.join(__dirname, "..", "..", "lab", "cli.ts");

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run lab -- ARGS` with its own state directory, as another checkout would run it. */
function lab(stateDir: string, args: string[], timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
      cwd: path.join(__dirname, "..", ".."),
      env: { ...process.env, HAFORGE_LAB_STATE: stateDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("lab lock: a second lab is refused while the first is up, and cannot tear it down", { skip: SKIP, timeout: 300_000 }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "haforge-lab-lock-"));
  const a = path.join(tmp, "a");
  const b = path.join(tmp, "b");
  try {
    // a lab left over by an earlier killed run in either directory
    await lab(a, ["down"]);
    await lab(b, ["down"]);
    const upA = await lab(a, ["up", "--hosts", "1", "--prefix", "lka"]);
    assert.equal(upA.code, 0, `lab A up: ${upA.stderr}`);
    const addr = upA.stdout.split("\t")[1] ?? "";
    assert.ok(await sshBanner(addr, 5000), "lab A's host answers");

    await t.test("up from another state directory is refused and names the holder", async () => {
      const upB = await lab(b, ["up", "--hosts", "1", "--prefix", "lkb"]);
      assert.equal(upB.code, 1, `lab B must be refused:\n${upB.stdout}\n${upB.stderr}`);
      assert.match(upB.stderr, new RegExp(`${BRIDGE}.*in use`));
      assert.ok(upB.stderr.includes(a), `the refusal names the holder's state directory:\n${upB.stderr}`);
      assert.ok(await sshBanner(addr, 5000), "lab A's host still answers after B's attempt");
    });

    await t.test("down from another state directory leaves the first lab alone", async () => {
      const downB = await lab(b, ["down"]);
      assert.equal(downB.code, 0, downB.stderr);
      assert.equal((await run("ip", ["link", "show", "dev", BRIDGE])).code, 0, `${BRIDGE} was removed by B`);
      assert.ok(await sshBanner(addr, 5000), "lab A's host still answers after B's down");
    });

    await t.test("status names the lab that holds the bridge", async () => {
      const st = await lab(a, ["status"]);
      assert.equal(st.code, 0, st.stderr);
      assert.ok(st.stdout.includes(`${BRIDGE} held by ${a}`), st.stdout);
    });

    await t.test("up --wait gets the bridge once the first lab is down", async () => {
      const waiting = lab(b, ["up", "--hosts", "1", "--prefix", "lkb", "--wait", "90"]);
      await new Promise((r) => setTimeout(r, 2000));
      const downA = await lab(a, ["down"]);
      assert.equal(downA.code, 0, downA.stderr);
      const upB = await waiting;
      assert.equal(upB.code, 0, `lab B up --wait: ${upB.stderr}`);
      assert.match(upB.stderr, /waiting for the bridge/);
      const downB = await lab(b, ["down"]);
      assert.equal(downB.code, 0, downB.stderr);
      assert.notEqual((await run("ip", ["link", "show", "dev", BRIDGE])).code, 0, `${BRIDGE} left behind`);
    });
  } finally {
    await lab(a, ["down"]);
    await lab(b, ["down"]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
