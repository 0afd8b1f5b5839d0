/**
 * One stack, many operators: the program run under the SDK's mocks from two checkouts at
 * different paths, by two operators with different HOMEs (different SSH keys, known_hosts and
 * agent sockets), and once more under another stack name, registers exactly the same resources:
 * same names, same types, same inputs, same serialized providers. Nothing registered holds a path
 * of either checkout or home, and every host action verifies a pinned host key.
 *
 * Otherwise every operator (and CI) would change every resource's inputs: state churn, previews
 * full of noise, updates (and, with the wrong semantics, restarts) on every run.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { parseRun, type RecordedResource } from "./mock-engine";

const ROOT = join(__dirname, "..", "..");
const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const unwrap = (v: unknown): any =>
  v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_KEY] !== undefined ? unwrap((v as { value: unknown }).value) : v;

/** The SSH-target example stacks (the Kubernetes one has no hosts). */
const stacks = readdirSync(join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s)
  .filter((s) => {
    const inv = (yaml.load(readFileSync(join(ROOT, "stacks", `Pulumi.${s}.yaml`), "utf8")) as { config?: Record<string, string> }).config?.[
      "haforge:inventory"
    ];
    return !!inv && analyzeInventoryFile(join(ROOT, inv)).inventory?.target !== "kubernetes";
  });

/** A checkout of the working tree (tracked and new files) at `dst`, sharing node_modules. */
function checkout(dst: string): void {
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  for (const f of files) {
    mkdirSync(dirname(join(dst, f)), { recursive: true });
    try {
      copyFileSync(join(ROOT, f), join(dst, f));
    } catch {
      /* deleted in the working tree */
    }
  }
  symlinkSync(join(ROOT, "node_modules"), join(dst, "node_modules"));
}

/** An operator's home: their own key pair, known_hosts (pinning other keys) and agent socket path. */
function home(dir: string, who: string): NodeJS.ProcessEnv {
  mkdirSync(join(dir, ".ssh"), { recursive: true, mode: 0o700 });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", who, "-f", join(dir, ".ssh", "id_ed25519")]);
  execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", who, "-f", join(dir, ".ssh", "id_rsa")]);
  const pub = readFileSync(join(dir, ".ssh", "id_ed25519.pub"), "utf8")
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .join(" ");
  // This operator's known_hosts "knows" every example host with a key of its own.
  const names = [
    "lb1",
    "lb2",
    "lb3",
    "db1",
    "db2",
    "db3",
    "mq1",
    "mq2",
    "mq3",
    "ctl1",
    "ctl2",
    "ctl3",
    "towerA",
    "towerB",
    "towerC",
    "isoA",
    "isoB",
    "dbA",
  ];
  writeFileSync(join(dir, ".ssh", "known_hosts"), names.map((n) => `${n} ${pub}\n`).join(""));
  return { HOME: dir, USER: who, LOGNAME: who, SSH_AUTH_SOCK: join(dir, "agent.sock") };
}

interface Run {
  resources: RecordedResource[];
}

function runStack(cwd: string, stack: string, env: NodeJS.ProcessEnv): Run {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(cwd, "tests", "program", "run-stack.ts"), stack], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env, HAFORGE_RECORD_PROVIDERS: "1" },
    maxBuffer: 512 * 1024 * 1024,
    timeout: 180_000,
  });
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  return parseRun<Run>(r.stdout);
}

/** What must be identical between operators: name → type, inputs, serialized provider. */
function registered(run: Run): Map<string, { type: string; inputs: string; provider?: string }> {
  return new Map(
    run.resources.map((r) => [
      r.name,
      { type: r.type, inputs: JSON.stringify(r.raw), ...(r.provider !== undefined ? { provider: r.provider } : {}) },
    ]),
  );
}

function* strings(v: unknown, path = ""): Generator<[string, string]> {
  if (typeof v === "string") yield [path, v];
  else if (Array.isArray(v)) for (const [i, x] of v.entries()) yield* strings(x, `${path}[${i}]`);
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) yield* strings(x, `${path}.${k}`);
}

describe("one stack, two operators, two checkouts, a renamed stack", { timeout: 1_200_000 }, () => {
  let tmp: string;
  let cloneA: string;
  let cloneB: string;
  let envA: NodeJS.ProcessEnv;
  let envB: NodeJS.ProcessEnv;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "hf-operators-"));
    cloneA = join(tmp, "alice", "src", "haforge");
    cloneB = join(tmp, "ci-runner", "work", "haforge-checkout");
    checkout(cloneA);
    checkout(cloneB);
    envA = home(join(tmp, "home-alice"), "alice");
    envB = home(join(tmp, "home-bob"), "bob");
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const stack of stacks) {
    it(`stack ${stack}: the same resources and inputs for both operators and under another stack name`, () => {
      const a = runStack(cloneA, stack, envA);
      const b = runStack(cloneB, stack, envB);
      // `pulumi stack rename`: the same stack config under a new stack name.
      const renamed = `${stack}-renamed`;
      copyFileSync(join(cloneB, "stacks", `Pulumi.${stack}.yaml`), join(cloneB, "stacks", `Pulumi.${renamed}.yaml`));
      const c = runStack(cloneB, renamed, envB);

      const ra = registered(a);
      assert.ok(ra.size > 10, `${stack}: ${ra.size} resources`);
      for (const [label, other] of [
        ["another operator and checkout", registered(b)],
        ["another stack name", registered(c)],
      ] as const) {
        assert.deepEqual([...other.keys()].sort(), [...ra.keys()].sort(), `${label}: resource names differ`);
        const differing = [...ra.keys()].filter((n) => JSON.stringify(ra.get(n)) !== JSON.stringify(other.get(n)));
        const first = differing[0];
        const firstDiff = (x?: string, y?: string) => {
          if (!x || !y) return "";
          let i = 0;
          while (i < x.length && x[i] === y[i]) i++;
          return `${JSON.stringify(x.slice(Math.max(0, i - 60), i + 60))} vs ${JSON.stringify(y.slice(Math.max(0, i - 60), i + 60))}`;
        };
        const detail = first
          ? ` (${[...new Set(differing.map((n) => ra.get(n)!.type))].join(", ")}; first: ${first}: ${firstDiff(ra.get(first)!.inputs, other.get(first)!.inputs) || firstDiff(ra.get(first)!.provider, other.get(first)!.provider)})`
          : "";
        assert.deepEqual(differing.slice(0, 10), [], `${label}: ${differing.length} resources get different inputs or providers${detail}`);
      }

      // No path of either checkout or home anywhere in what was registered.
      const machine = [cloneA, cloneB, envA.HOME!, envB.HOME!, ROOT, tmp];
      for (const run of [a, b, c]) {
        for (const r of run.resources) {
          for (const [path, s] of strings({ inputs: r.raw, provider: r.provider ?? "" })) {
            const hit = machine.find((m) => s.includes(m));
            assert.equal(hit, undefined, `${r.name}${path} holds the machine path ${hit}`);
          }
        }
      }

      // Every host action (and bastion hop) verifies a pinned host key.
      const actions = a.resources.filter((r) => r.type === "pulumi-nodejs:dynamic:HostAction");
      assert.ok(actions.length > 0);
      for (const r of actions) {
        for (let conn = unwrap(unwrap(r.raw).connection); conn; conn = conn.bastion && unwrap(conn.bastion)) {
          assert.match(
            String(unwrap(conn.hostKey)),
            /^(ssh-ed25519|ecdsa-sha2-\S+|ssh-rsa) AAAA/,
            `${r.name}: ${conn.host} has no pinned host key`,
          );
        }
      }
    });
  }
});
