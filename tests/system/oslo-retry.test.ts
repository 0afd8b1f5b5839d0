/**
 * The retry settings rendered for the OpenStack services of the lightweight layout, read by the
 * real oslo.config (Debian's python3-oslo.config) the way a service reads them: its own
 * <project>.conf given with --config-file, and haforge's file found in oslo.config's DEFAULT
 * config dir <project>.conf.d — here the first one oslo.config searches, ~/.<project>/
 * <project>.conf.d, under a temporary HOME (the real /etc/<project> is not touched). The options
 * are registered as oslo.db and oslo.messaging register them. Measured here: oslo.config parses
 * the default config dirs BEFORE the --config-file files, so a value the operator wrote in
 * <project>.conf itself still wins (asserted: haforge does not override an explicit choice).
 * Control: without haforge's file the default (10: give up) stays.
 * No daemon, namespace or network: a library verdict.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { renderDesiredState, requiredMaterials } from "../../src/pipeline/render";
import { osloProject } from "../../src/services/pacemaker/lightweight";
import { planExample } from "../fixtures/common";

const PY = "/usr/bin/python3";
const work = mkdtempSync(join(tmpdir(), "haforge-oslo-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** What a service sees: [database] max_retries and the rabbit back-off, as oslo.db/oslo.messaging register them. */
const READ = `
import json, sys
from oslo_config import cfg
conf = cfg.ConfigOpts()
conf.register_opts([cfg.IntOpt("max_retries", default=10), cfg.IntOpt("retry_interval", default=10)], group="database")
conf.register_opts([cfg.FloatOpt("rabbit_retry_interval", default=1), cfg.IntOpt("rabbit_retry_backoff", default=2),
                    cfg.IntOpt("rabbit_interval_max", default=30)], group="oslo_messaging_rabbit")
conf(args=["--config-file", sys.argv[2]], project=sys.argv[1], prog=sys.argv[1] + "-api")
print(json.dumps({"max_retries": conf.database.max_retries, "retry_interval": conf.database.retry_interval,
                  "rabbit": [conf.oslo_messaging_rabbit.rabbit_retry_interval, conf.oslo_messaging_rabbit.rabbit_retry_backoff,
                             conf.oslo_messaging_rabbit.rabbit_interval_max],
                  "dirs": conf.config_dir if isinstance(conf.config_dir, list) else [conf.config_dir]}))
`;

function read(home: string, project: string, ownConf: string) {
  const conf = join(home, `${project}.conf`);
  writeFileSync(conf, ownConf);
  const r = spawnSync(PY, ["-c", READ, project, conf], { encoding: "utf8", env: { HOME: home, PATH: "/usr/bin:/bin" }, timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { max_retries: number; retry_interval: number; rabbit: number[]; dirs: string[] };
}

describe("oslo.config reads haforge's retry settings over the project's own config", () => {
  const plan = planExample("tripleo-lightweight.yaml");
  const materials = Object.fromEntries(requiredMaterials(plan).map((m) => [m.key, Buffer.alloc(32, 1).toString("base64")]));
  const state = renderDesiredState(plan, {}, materials);
  const files = state.hosts.flatMap((h) => h.files).filter((f) => f.path.endsWith("/50-haforge-ha-retry.conf"));

  it("python3-oslo.config is installed (Debian's, what the services use)", () => {
    assert.equal(spawnSync(PY, ["-c", "import oslo_config"]).status, 0, "apt-get install python3-oslo.config");
  });

  it("every rendered file: max_retries -1 replaces oslo.db's default (10); the operator's other settings stay", () => {
    assert.ok(files.length > 0, "the example renders retry files");
    const projects = new Set<string>();
    for (const f of files) {
      const project = /^\/etc\/([a-z]+)\/\1\.conf\.d\//.exec(f.path)?.[1];
      assert.ok(project, f.path);
      projects.add(project);
      const home = join(work, `${f.host}-${project}`);
      const dir = join(home, `.${project}`, `${project}.conf.d`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, basename(f.path)), f.content);
      const got = read(home, project, "[database]\nretry_interval = 3\n");
      assert.ok(got.dirs.includes(dir), `oslo.config found ${dir} by itself: ${JSON.stringify(got.dirs)}`);
      assert.equal(got.max_retries, -1, `${f.host}:${f.path}`);
      assert.equal(got.retry_interval, 3, "an option haforge does not set stays the operator's");
      assert.deepEqual(got.rabbit, [1, 2, 30]);
    }
    const units = plan.pacemakerClusters.flatMap((c) => c.spec.lightweight?.systemdServices ?? []);
    assert.deepEqual(
      [...projects].sort(),
      [...new Set(units.map(osloProject).filter((p): p is string => p !== undefined))].sort(),
      "one per OpenStack project left to systemd",
    );
  });

  it("control: without haforge's file oslo.db gives up after 10 attempts (the check can fail)", () => {
    const home = join(work, "control");
    mkdirSync(home, { recursive: true });
    assert.equal(read(home, "nova", "[database]\nretry_interval = 3\n").max_retries, 10);
  });

  it("a value written in the project's own config file wins over haforge's (oslo.config reads its config dir first)", () => {
    const f = files.find((x) => x.path === "/etc/nova/nova.conf.d/50-haforge-ha-retry.conf")!;
    const home = join(work, "explicit");
    const dir = join(home, ".nova", "nova.conf.d");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, basename(f.path)), f.content);
    assert.equal(read(home, "nova", "[database]\nmax_retries = 7\n").max_retries, 7);
  });
});
