/**
 * The lab setup an e2e suite shares (cluster.test.ts, membership.test.ts): called inside a
 * `describe`, it registers the hooks that bring up a lab of `hosts` hosts (after tearing down one
 * left over by a killed run), make a scratch folder with an empty state folder, delete the Erlang
 * cookie every host inherits from the real machine (RabbitMQ must form its cluster from the
 * inventory's cookie), and always tear the lab down: at the end, on exit, on SIGINT/SIGTERM. The
 * suite's `e2e-figure` lines go through `figure`; the suite's total and all its figures are
 * printed at the end.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before } from "node:test";
import { labDownSync } from "../../../lab/down";
import { hostExecOk, labUp, type LabInfo } from "../../../lab/exec";
import { LAB_WAIT_MS } from "./index";

export interface LabSuiteOptions {
  readonly hosts: number;
  /** Scratch folder prefix under the OS temp folder. */
  readonly tmpPrefix: string;
  /** The figure name of the suite's total duration (`e2e-figure NAME Ns`). */
  readonly totalFigure: string;
  /** The label of the closing JSON line of every figure (`LABEL: {...}`). */
  readonly figuresLabel: string;
}

export interface LabSuite {
  /** The running lab (set once the suite's first hook ran). */
  readonly lab: LabInfo;
  /** The scratch folder (removed at the end). */
  readonly tmp: string;
  /** `<tmp>/state/lab.json`, the stack's checkpoint (its folder exists). */
  readonly stateFile: string;
  /** The figures printed so far, by name. */
  readonly figures: Readonly<Record<string, string>>;
  /** Prints `e2e-figure NAME VALUE` (numbers rounded) and reports it as the test's diagnostic. */
  figure(t: { diagnostic(m: string): void }, name: string, value: number | string, unit?: string): void;
}

export function labSuite(o: LabSuiteOptions): LabSuite {
  let lab: LabInfo | undefined;
  let tmp: string | undefined;
  const figures: Record<string, string> = {};
  const suiteStart = Date.now();
  const teardown = () => {
    try {
      labDownSync({});
    } catch (e) {
      process.stderr.write(`lab teardown failed: ${(e as Error).message}\n`);
    }
  };
  const onSignal = (sig: NodeJS.Signals) => {
    teardown();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };

  before(async () => {
    process.on("exit", teardown);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    teardown(); // a lab left over by a killed run
    lab = await labUp({ hosts: o.hosts, waitMs: LAB_WAIT_MS });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), o.tmpPrefix));
    fs.mkdirSync(path.join(tmp, "state"));
    for (const h of lab.hosts) await hostExecOk(h.name, "rm -f /var/lib/rabbitmq/.erlang.cookie");
  });

  after(() => {
    teardown();
    process.off("exit", teardown);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    process.stderr.write(`e2e-figure ${o.totalFigure} ${Math.round((Date.now() - suiteStart) / 1000)}s\n`);
    process.stderr.write(`${o.figuresLabel}: ${JSON.stringify(figures)}\n`);
    // What would keep this file's process alive after its last test (test:e2e runs with
    // --test-force-exit, so it no longer waits for them; printed so that a leak stays visible).
    const open = process.getActiveResourcesInfo().filter((r) => !/^(PipeWrap|TTYWrap)$/.test(r));
    if (open.length > 0) process.stderr.write(`${o.figuresLabel}: still open after the suite: ${open.join(", ")}\n`);
  });

  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`the lab suite's ${what} is used before its setup ran`);
    return v;
  };
  return {
    get lab() {
      return need(lab, "lab");
    },
    get tmp() {
      return need(tmp, "scratch folder");
    },
    get stateFile() {
      return path.join(need(tmp, "scratch folder"), "state", "lab.json");
    },
    figures,
    figure(t, name, value, unit = "") {
      const v = `${typeof value === "number" ? Math.round(value) : value}${unit}`;
      figures[name] = v;
      t.diagnostic(`${name}: ${v}`);
      process.stderr.write(`e2e-figure ${name} ${v}\n`);
    },
  };
}
