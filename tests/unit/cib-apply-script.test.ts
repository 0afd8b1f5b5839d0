/**
 * templates/pacemaker/cib-apply.sh is a plain script shipped as it is (no template logic): every
 * value comes from its command line, which cibApplyCommand builds with the shell helper of
 * src/core/escape.ts. Checked by shellcheck; its argument handling is run with sh against stub
 * Pacemaker tools (the real apply runs in tests/system/pacemaker.test.ts).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { TEMPLATES_DIR, renderTemplate, staticFile } from "../../src/render/templates";
import {
  CIB_APPLY_ATTEMPTS,
  CIB_APPLY_QUERY_RETRIES,
  CIB_APPLY_SCRIPT,
  PACEMAKER_OWNED_PROPERTIES,
  cibApplyCommand,
  renderPart,
} from "../../src/services/pacemaker/render";
import { cibPath } from "../../src/services/pacemaker/cib";
import { fixtureMaterials, threeNodePlan } from "../fixtures/pacemaker-plan";

const SOURCE = join(TEMPLATES_DIR, "pacemaker", "cib-apply.sh");

function sandbox(): { dir: string; script: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "haforge-cib-apply-"));
  const script = join(dir, "cib-apply.sh");
  writeFileSync(script, readFileSync(SOURCE));
  return { dir, script, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Stub crm_verify/cibadmin/crm_diff on PATH: they log their arguments; crm_diff says "no difference". */
function stubTools(dir: string): { env: NodeJS.ProcessEnv; log: string } {
  const log = join(dir, "calls.log");
  const stub = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${log}'\n${body}\n`);
    chmodSync(p, 0o755);
  };
  stub("crm_verify", "exit 0");
  stub("cibadmin", 'case " $* " in *" --query "*) echo \'<cib epoch="1">\'; echo \'</cib>\' ;; esac\nexit 0');
  stub("crm_diff", "exit 0");
  return { env: { ...process.env, PATH: `${dir}:${process.env["PATH"] ?? ""}` }, log };
}

describe("cib-apply.sh: a real script, values as arguments", () => {
  it("is shipped byte for byte as templates/pacemaker/cib-apply.sh, with no template syntax", () => {
    const rendered = renderPart.render!({ plan: threeNodePlan, secrets: {}, materials: fixtureMaterials, template: renderTemplate });
    const files = rendered.files.filter((f) => f.path === CIB_APPLY_SCRIPT);
    assert.equal(files.length, 3);
    for (const f of files) assert.equal(f.content, readFileSync(SOURCE, "utf8"));
    assert.doesNotMatch(readFileSync(SOURCE, "utf8"), /\{\{|\}\}/);
    assert.equal(staticFile("pacemaker", "cib-apply.sh"), readFileSync(SOURCE, "utf8"));
  });

  it("a template is never shipped as a plain file", () => {
    assert.throws(() => staticFile("pacemaker", "corosync.conf.hbs"), /is a template/);
  });

  it("passes shellcheck (every severity)", () => {
    const r = spawnSync("shellcheck", ["-s", "sh", SOURCE], { encoding: "utf8" });
    assert.equal(r.error, undefined, "shellcheck is installed");
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it("the CIB action runs it with its values as quoted arguments", () => {
    const cmd = cibApplyCommand(cibPath("db"));
    assert.equal(
      cmd,
      `/bin/sh ${CIB_APPLY_SCRIPT} -a ${CIB_APPLY_ATTEMPTS} -r ${CIB_APPLY_QUERY_RETRIES} ` +
        PACEMAKER_OWNED_PROPERTIES.map((p) => `-k ${p}`).join(" ") +
        " /var/lib/haforge/pacemaker/db/cib.xml",
    );
  });

  it("every path reaches the script as one argument, whatever its characters (property)", () => {
    const { dir, cleanup } = sandbox();
    try {
      const echo = join(dir, "echo-args.sh");
      writeFileSync(echo, "printf '%s\\0' \"$@\"\n");
      fc.assert(
        fc.property(
          fc.string({ unit: "binary", minLength: 1 }).filter((s) => !s.includes("\u0000")),
          (cib) => {
            const r = spawnSync("/bin/sh", ["-c", cibApplyCommand(cib, echo)], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
            const argv = r.stdout.split("\u0000").slice(0, -1);
            assert.deepEqual(argv, [
              "-a",
              String(CIB_APPLY_ATTEMPTS),
              "-r",
              String(CIB_APPLY_QUERY_RETRIES),
              ...PACEMAKER_OWNED_PROPERTIES.flatMap((p) => ["-k", p]),
              cib,
            ]);
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      cleanup();
    }
  });

  it("refuses missing or malformed arguments with rc 2 before touching the CIB", () => {
    const { dir, script, cleanup } = sandbox();
    try {
      const { env, log } = stubTools(dir);
      const cib = join(dir, "cib.xml");
      writeFileSync(cib, "<cib/>\n");
      const run = (...args: string[]) => spawnSync("/bin/sh", [script, ...args], { encoding: "utf8", env });
      for (const args of [
        [cib],
        ["-a", "5", "-r", "30", cib],
        ["-a", "x", "-r", "30", "-k", "dc-version", cib],
        ["-a", "0", "-r", "30", "-k", "dc-version", cib],
        ["-a", "5", "-r", "", "-k", "dc-version", cib],
        ["-a", "5", "-r", "30", "-k", "dc-version' or '1'='1", cib],
        ["-a", "5", "-r", "30", "-k", "dc-version"],
        ["-a", "5", "-r", "30", "-k", "dc-version", cib, cib],
        ["-a", "5", "-r", "30", "-k", "dc-version", join(dir, "missing.xml")],
      ]) {
        const r = run(...args);
        assert.equal(r.status, 2, `${JSON.stringify(args)}: ${r.stdout}${r.stderr}`);
      }
      assert.throws(() => readFileSync(log), /ENOENT/, "no Pacemaker tool was called");
    } finally {
      cleanup();
    }
  });

  it("keeps exactly the properties named with -k (the purge XPath built from them)", () => {
    const { dir, script, cleanup } = sandbox();
    try {
      const { env, log } = stubTools(dir);
      const cib = join(dir, "cib.xml");
      writeFileSync(cib, "<cib/>\n");
      const r = spawnSync("/bin/sh", ["-c", cibApplyCommand(cib, script)], { encoding: "utf8", env });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /CIB already up to date/);
      const keep = PACEMAKER_OWNED_PROPERTIES.map((p) => `@name='${p}'`).join(" or ");
      const calls = readFileSync(log, "utf8").split("\n");
      assert.ok(
        calls.includes(
          `cibadmin --delete-all --force --xpath /cib/configuration/crm_config/cluster_property_set[@id='cib-bootstrap-options']/nvpair[not(${keep})]`,
        ),
        calls.join("\n"),
      );
      assert.equal(calls[0], `crm_verify --xml-file ${cib}`);
    } finally {
      cleanup();
    }
  });
});
