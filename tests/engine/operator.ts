/**
 * Another operator's machine for the engine stand-in: a clone of this checkout at another path
 * (with its uncommitted changes, node_modules hard-linked) and a HOME of their own (their own SSH
 * key pair and known_hosts). Used by tests/engine/two-operators.test.ts and the lab e2e.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { dirname, join } from "node:path";

const ROOT = join(__dirname, "..", "..");

export function keygen(path: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path], { stdio: "ignore" });
}

/** A clone at `dest` of this checkout, with its uncommitted changes, and node_modules hard-linked. */
export function cloneTo(dest: string): void {
  fs.mkdirSync(dirname(dest), { recursive: true });
  execFileSync("git", ["clone", "--quiet", ROOT, dest]);
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", ROOT, ...args], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
  for (const f of [...git("diff", "--name-only", "HEAD"), ...git("ls-files", "--others", "--exclude-standard")]) {
    if (fs.existsSync(join(ROOT, f))) {
      fs.mkdirSync(dirname(join(dest, f)), { recursive: true });
      fs.copyFileSync(join(ROOT, f), join(dest, f));
    } else fs.rmSync(join(dest, f), { force: true });
  }
  execFileSync("cp", ["-al", join(ROOT, "node_modules"), join(dest, "node_modules")]);
}

/**
 * The operator's HOME: `~/.ssh/id_ed25519` (a new key pair, or a copy of `privateKey`) and
 * `~/.ssh/known_hosts`. Returns the public key line.
 */
export function makeHome(dir: string, knownHosts: string, privateKey?: string): string {
  fs.mkdirSync(join(dir, ".ssh"), { recursive: true, mode: 0o700 });
  const key = join(dir, ".ssh", "id_ed25519");
  if (privateKey) {
    fs.copyFileSync(privateKey, key);
    fs.chmodSync(key, 0o600);
    fs.writeFileSync(`${key}.pub`, execFileSync("ssh-keygen", ["-y", "-f", key], { encoding: "utf8" }));
  } else keygen(key);
  fs.writeFileSync(join(dir, ".ssh", "known_hosts"), knownHosts, { mode: 0o600 });
  return fs.readFileSync(`${key}.pub`, "utf8").trim();
}
