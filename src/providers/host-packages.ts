/**
 * HostPackages: one host's software (src/core/packages.ts, src/plan/packages.ts). One read-only
 * query per host (OS family + installed set) in diff, create and update; installs only what is
 * missing or at the wrong version, with daemon starts forbidden during the install on Debian; then
 * queries again and fails unless every package is there. An OS family the inventory did not
 * expect, or none haforge supports, fails before anything is installed. Every file of the cluster
 * depends on these resources, so packages come before files (components/service-resources.ts).
 * Delete removes nothing: software outlives haforge's management. Same serialization discipline
 * as RemoteFile: methods capture only strings and require this module at call time.
 */
import * as pulumi from "./pulumi-sdk";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { OsFamily, PackageNeed } from "../core/packages";
import type { HostConnection, SshPool } from "../transport";
import { providerText, providerTextChanged, SelfLoadedResource, selfLoader } from "./self-loader";

export interface HostPackagesInputs {
  readonly connection: HostConnection;
  readonly host: string;
  /** The family the inventory names (hosts[].os); absent: whatever the host runs, if supported. */
  readonly os?: OsFamily;
  /** What the host needs, per family (the host's own family is used). */
  readonly needs: Readonly<Record<OsFamily, readonly PackageNeed[]>>;
  /**
   * Every file path the program declares on this host. Not compared by diff: the provider reads
   * their facts (hash, mode, owner, existence) in one command with the package query, and the
   * files' diffs, which all run after this resource's, answer from that (src/transport/fact-cache.ts).
   */
  readonly paths?: readonly string[];
}

export interface HostPackagesOutputs extends HostPackagesInputs {
  readonly family: OsFamily;
  /** Installed versions of the needed packages after the last apply. */
  readonly installed: Record<string, string>;
  /** What the last apply installed. */
  readonly installedNow: string[];
}

export interface HostPackagesState {
  readonly family: OsFamily;
  readonly missing: PackageNeed[];
  readonly installed: Record<string, string>;
}

async function query(pool: SshPool, inputs: HostPackagesInputs): Promise<HostPackagesState> {
  const core = require("../core/packages") as typeof import("../core/packages");
  const r = await pool.exec(inputs.connection, "sh -s", {
    step: `${inputs.host}: read installed packages`,
    stdin: core.packageQueryScript(),
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`${inputs.host}: reading the installed packages failed (exit ${r.code}): ${r.stderr.trim()}`);
  const facts = core.parsePackageQuery(r.stdout);
  const ids = facts.osIds.join(" ") || "unknown";
  if (!facts.family)
    throw new Error(
      `${inputs.host}: the host runs ${ids}, which is not a supported OS family (${core.OS_FAMILIES.join(", ")}); nothing was installed (set packages.manage: false to install the software yourself)`,
    );
  if (inputs.os && inputs.os !== facts.family)
    throw new Error(`${inputs.host}: the inventory says os ${inputs.os} but the host runs ${ids} (${facts.family}); nothing was installed`);
  const needs = inputs.needs[facts.family] ?? [];
  const installed: Record<string, string> = {};
  for (const n of needs) {
    const v = facts.installed.get(n.name);
    if (v !== undefined) installed[n.name] = v;
  }
  return { family: facts.family, missing: core.missingPackages(facts.family, needs, facts.installed), installed };
}

/**
 * The facts of the host's declared files, in one command, for the files' diffs; skipped when
 * previews diff against state (HAFORGE_DIFF=state: no SSH for files).
 */
async function prefetch(pool: SshPool, inputs: HostPackagesInputs): Promise<void> {
  if (!inputs.paths?.length || process.env["HAFORGE_DIFF"] === "state") return;
  const { prefetchFileFacts } = require("../transport") as typeof import("../transport");
  await prefetchFileFacts(pool, inputs.connection, inputs.paths);
}

/** Read, install what is missing, read again. Exported for the e2e harness and tests. */
export async function applyHostPackages(inputs: HostPackagesInputs, pool?: SshPool): Promise<HostPackagesOutputs> {
  const { getDefaultPool } = require("../transport") as typeof import("../transport");
  const core = require("../core/packages") as typeof import("../core/packages");
  const p = pool ?? getDefaultPool();
  const before = await query(p, inputs);
  if (before.missing.length) {
    const script = core.packageInstallScript(before.family, before.missing);
    const r = await p.exec(inputs.connection, "sh -s", {
      step: `${inputs.host}: install ${before.missing.map((m) => m.name).join(" ")}`,
      stdin: script,
      timeoutMs: 1_200_000,
    });
    if (r.code !== 0)
      throw new Error(
        `${inputs.host}: installing ${before.missing.map((m) => core.packageSpec(before.family, m)).join(" ")} failed (exit ${r.code}):\n${(r.stderr || r.stdout).trim().slice(-3000)}`,
      );
  }
  const { invalidateFileFacts } = require("../transport") as typeof import("../transport");
  // An install drops the packages' default config files: the files' facts are read again.
  if (before.missing.length) invalidateFileFacts(inputs.connection);
  const [after] = await Promise.all([before.missing.length ? query(p, inputs) : before, prefetch(p, inputs)]);
  if (after.missing.length)
    throw new Error(
      `${inputs.host}: still missing after the install: ${after.missing.map((m) => core.packageSpec(after.family, m)).join(" ")}`,
    );
  return { ...inputs, family: after.family, installed: after.installed, installedNow: before.missing.map((m) => m.name) };
}

export async function diffHostPackages(olds: HostPackagesOutputs, news: HostPackagesInputs, pool?: SshPool): Promise<dynamic.DiffResult> {
  const { getDefaultPool } = require("../transport") as typeof import("../transport");
  const p = pool ?? getDefaultPool();
  // Started first, in parallel with the package query: the files' diffs come after this one.
  const facts = prefetch(p, news);
  if (
    JSON.stringify(olds.needs) !== JSON.stringify(news.needs) ||
    olds.os !== news.os ||
    olds.connection?.host !== news.connection?.host ||
    providerTextChanged(olds, news)
  ) {
    await facts;
    return { changes: true };
  }
  // drift: a package removed or changed out of band is installed again by the next up
  const [live] = await Promise.all([query(p, news), facts]);
  return { changes: live.missing.length > 0 };
}

const loadImpl = selfLoader<typeof import("./host-packages")>(__filename);

export const hostPackagesProvider: dynamic.ResourceProvider<HostPackagesInputs, HostPackagesOutputs> = {
  async create(inputs: HostPackagesInputs) {
    return { id: `${inputs.host}-packages`, outs: await loadImpl().applyHostPackages(inputs) };
  },
  async diff(_id: string, olds: HostPackagesOutputs, news: HostPackagesInputs) {
    return loadImpl().diffHostPackages(olds, news);
  },
  async update(_id: string, _olds: HostPackagesOutputs, news: HostPackagesInputs) {
    return { outs: await loadImpl().applyHostPackages(news) };
  },
  async delete() {
    // never uninstall
  },
};

/** The `__provider` text every HostPackages stores: loads `hostPackagesProvider` from this module (self-loader.ts). */
export const hostPackagesProviderText = providerText(__filename, "hostPackagesProvider");

export class HostPackages extends SelfLoadedResource {
  declare readonly installed: pulumi.Output<Record<string, string>>;

  constructor(
    name: string,
    args: { [K in keyof HostPackagesInputs]: pulumi.Input<HostPackagesInputs[K]> },
    opts: pulumi.CustomResourceOptions = {},
  ) {
    super(hostPackagesProviderText, name, { ...args, family: undefined, installed: undefined, installedNow: undefined }, opts);
  }
}
