/**
 * What every component needs, computed once per HaCluster: the validated plan (bad input stops the
 * program here, before any resource exists, so no host is touched), the generated materials, the
 * resolved secrets, the host access map, and the render twice over:
 *  - `structure`: rendered synchronously with placeholder secrets and materials. The set of files,
 *    services and actions (and so the resource graph Pulumi previews) depends only on the plan;
 *  - `rendered`: the real render inside one apply over secrets, materials and deploy-time
 *    addresses. Each file's content is looked up in it by (host, path).
 */
import { createHash } from "node:crypto";
import * as pulumi from "../src/providers/pulumi-sdk";
import { analyzeInventoryFile, analyzeInventoryText, type Analysis } from "../src/pipeline/analyze";
import { hasErrors, type Finding } from "../src/core/findings";
import { scheduleActions } from "../src/core/schedule";
import { materialSources, type MaterialSource, type MaterialSpec, type Materials as MaterialValues } from "../src/core/materials";
import { MASK_SALT_SPEC } from "../src/core/masking";
import { secretKey, type SecretValues } from "../src/core/secrets";
import { Inventory, type InventoryInput } from "../src/inventory/schema";
import { addressRules, planCluster } from "../src/pipeline/plan";
import type { ClusterPlan, PlannedHost } from "../src/plan/types";
import { Materials } from "../src/providers/materials";
import type { KubernetesSecretRef } from "../src/providers/kubernetes-secret";
import { MembershipGuard } from "../src/providers/membership-guard";
import { HostPackages } from "../src/providers/host-packages";
import { Gate } from "../src/providers/gate";
import { packagePlan } from "../src/plan/packages";
import { memberships } from "../src/plan/membership";
import { collectSecretRefs } from "../src/render/output";
import { renderByService, requiredMaterials, secretFindings, type ServiceRender } from "../src/pipeline/render";
import { committedHostKey, hostAccess, type HostAccess } from "./connections";
import { Declaration } from "./declaration";

export interface HaClusterArgs {
  /**
   * The inventory: a path to a Tower INI or haforge YAML file, or an inventory object (YAML
   * schema; addresses may be placeholders when `hostAddresses` provides them).
   */
  readonly inventory: string | InventoryInput;
  /**
   * Values for `secret:` references, by name (from stack config: `config.requireSecret(name)`).
   * @default {}
   */
  readonly secrets?: Readonly<Record<string, pulumi.Input<string>>>;
  /** Environment for `env:` references. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Host addresses known only at deploy time, by inventory host name (e.g. VM IPs created in the
   * same program). They replace the inventory's addresses in connections and rendered configs.
   * @default {}
   */
  readonly hostAddresses?: Readonly<Record<string, pulumi.Input<string>>>;
  /** Overwrite files edited out of band. @default false */
  readonly force?: boolean;
  /**
   * Key and secret files that may be taken over when they exist on a host with other content and
   * the state has none for them: `host:/path` entries, or `*` (stack config `haforge:takeOver`).
   * Without it such a file is refused (generated keys are adopted from the hosts instead).
   * @default []
   */
  readonly takeOver?: readonly string[];
  /**
   * Accept membership changes that would lose quorum (more members removed at once than the
   * cluster tolerates losing, or below the quorum minimum; src/plan/membership.ts): for members
   * that are already lost for good. @default false
   */
  readonly allowUnsafeMembership?: boolean;
  /**
   * known_hosts file that pins the host key of every host the inventory does not pin itself.
   * @default - none: such hosts are refused unless they opt into trust-on-first-use
   */
  readonly knownHostsFile?: string;
  /**
   * One deploy key (private key text, a secret: `haforge:deployKey`) used for every host without
   * credentials of its own in the inventory; else ssh-agent or the inventory's key path.
   * @default - none
   */
  readonly deployKey?: pulumi.Input<string>;
}

export interface ClusterContext {
  /** The plan made when the program starts (placeholder addresses where `hostAddresses` has Outputs). */
  readonly plan: ClusterPlan;
  /** The plan with the deploy-time addresses: use it for anything that reports an address. */
  readonly realPlan: pulumi.Output<ClusterPlan>;
  readonly findings: readonly Finding[];
  readonly hosts: ReadonlyMap<string, PlannedHost>;
  readonly access: ReadonlyMap<string, HostAccess>;
  readonly structure: readonly ServiceRender[];
  readonly rendered: pulumi.Output<readonly ServiceRender[]>;
  /**
   * The render to read one file or action from: `rendered`, or, for those that use no generated
   * material, a render that does not wait for Materials (same content, known during a preview
   * in which Materials changes).
   */
  readonly renderedFor: (service: string, what: { host: string; path: string } | { id: string }) => pulumi.Output<readonly ServiceRender[]>;
  /** Whether a file's content depends on a generated material (a key file when it is secret). */
  readonly usesMaterial: (service: string, what: { host: string; path: string }) => boolean;
  readonly secrets: pulumi.Output<SecretValues>;
  readonly materials: Materials;
  readonly force: boolean;
  /**
   * Whether a secret file at host:path may be taken over: named by HaClusterArgs.takeOver (true),
   * or a file of a key that every host held a different value of (package-made, never shared:
   * MaterialsOutputs.unshared), known once Materials ran.
   */
  readonly takeOver: (host: string, path: string) => pulumi.Input<boolean>;
  /** Checks the membership change against the state before anything is touched; every host resource depends on it. */
  readonly membershipGuard: MembershipGuard;
  /** The last membership action declared (the next one waits for it): see service-resources. */
  readonly membershipChain: { last?: pulumi.Resource };
  /** Each host's software (src/plan/packages.ts), installed before any file is written. */
  readonly packages: ReadonlyMap<string, HostPackages>;
  /**
   * Depends on every HostPackages (absent when there are none): every file and command depends on
   * it, so nothing is written on any host before every host's software is in, with one dependency
   * per resource instead of one per host (src/providers/gate.ts).
   */
  readonly packagesReady?: Gate;
  /**
   * Declares the services' resources in chunks, one service after the other (components/declaration.ts);
   * `declaration.done` settles when the last one is declared.
   */
  readonly declaration: Declaration;
}

function analyze(inv: HaClusterArgs["inventory"]): Analysis {
  if (typeof inv === "string") return analyzeInventoryFile(inv);
  const parsed = Inventory.safeParse(inv);
  if (!parsed.success) return analyzeInventoryText(JSON.stringify(inv), "inventory.yaml");
  const planned = planCluster(parsed.data);
  return {
    format: "yaml",
    inventory: parsed.data,
    ...(planned.plan ? { plan: planned.plan } : {}),
    findings: planned.findings,
    valid: !hasErrors(planned.findings),
    sourcePath: (p: string) => p,
  };
}

/** Placeholder values that keep the structure render total (never written anywhere). */
const placeholderSecrets = (plan: ClusterPlan): SecretValues =>
  Object.fromEntries(collectSecretRefs(plan.inventory).map((r) => [secretKey(r), `placeholder-${secretKey(r)}`]));

/**
 * Rules that judge host addresses (the hosts' and each service's `addressRules`). With deploy-time
 * addresses (`hostAddresses`) the program-time plan only sees placeholders, so these are deferred: the apply re-plans with the real addresses
 * and fails on any error before a single file's inputs resolve (so still no host is touched).
 */
function deferAddressRules(a: Analysis, deferred: boolean): Analysis {
  if (!deferred || a.plan || !a.inventory) return a;
  const rules = addressRules();
  const planned = planCluster(a.inventory, { ignore: (code) => rules.has(code) });
  if (!planned.plan) return a;
  void pulumi.log.info("haforge: address rules are checked at deploy time, with the real host addresses");
  return { ...a, plan: planned.plan, findings: planned.findings, valid: true };
}

/**
 * Each host's software (one HostPackages per host, after the quorum-safety check) and the gate
 * that waits for all of them: every file and command depends on the gate, one dependency per
 * resource instead of one per host (src/providers/gate.ts).
 */
function declarePackages(
  name: string,
  plan: ClusterPlan,
  structure: ReturnType<typeof renderByService>,
  access: ReturnType<typeof hostAccess>,
  parent: pulumi.Resource,
  membershipGuard: MembershipGuard,
): { packages: Map<string, HostPackages>; packagesReady?: Gate } {
  // Each host's declared file paths (the structure render has them, without waiting for secrets
  // or materials): HostPackages reads their facts in one command for the files' diffs.
  const pathsOf = new Map<string, string[]>();
  for (const r of structure) for (const f of r.files) (pathsOf.get(f.host) ?? pathsOf.set(f.host, []).get(f.host)!).push(f.path);
  const packages = new Map<string, HostPackages>();
  for (const p of packagePlan(plan)) {
    const a = access.get(p.host);
    if (!a) continue;
    const paths = [...new Set(pathsOf.get(p.host) ?? [])].sort();
    packages.set(
      p.host,
      new HostPackages(
        `${name}-${p.host}-packages`,
        { connection: a.file, host: p.host, ...(p.os ? { os: p.os } : {}), needs: p.needs, ...(paths.length ? { paths } : {}) },
        { parent, dependsOn: [membershipGuard] },
      ),
    );
  }

  if (!packages.size) return { packages };
  const packagesReady = new Gate(
    `${name}-packages`,
    { description: "every host's packages are installed" },
    {
      parent,
      dependsOn: [...packages.values()],
    },
  );
  return { packages, packagesReady };
}

/** The plan, every finding logged on the parent; an inventory with errors stops the program here. */
function checkedPlan(args: HaClusterArgs, parent: pulumi.Resource): { a: Analysis; plan: ClusterPlan } {
  const a = deferAddressRules(analyze(args.inventory), Object.keys(args.hostAddresses ?? {}).length > 0);
  for (const f of a.findings) {
    const line = `${f.code} at ${f.path}: ${f.message}${f.hint ? ` (hint: ${f.hint})` : ""}`;
    if (f.severity === "error") void pulumi.log.error(line, parent);
    else void pulumi.log.warn(line, parent);
  }
  if (!a.plan) {
    const errors = a.findings.filter((f) => f.severity === "error").length;
    throw new pulumi.RunError(`haforge: the inventory has ${errors} error(s); nothing was changed on any host`);
  }
  return { a, plan: a.plan };
}

/**
 * Refuse, before any resource exists, to manage a host whose key is not pinned by the inventory
 * or a committed known_hosts (an explicit trustOnFirstUse opt-in excepted): a known_hosts under
 * ~ differs per operator, so it cannot decide what a shared stack declares.
 */
function refuseUnpinnedHosts(plan: ClusterPlan, knownHostsFile: string | undefined): void {
  const unpinned = plan.hosts.filter((h) => !h.ssh.trustOnFirstUse && !committedHostKey(h, knownHostsFile)).map((h) => h.name);
  if (plan.target === "ssh" && unpinned.length)
    throw new pulumi.RunError(
      `haforge: no pinned host key for ${unpinned.join(", ")}: set hosts[].ssh.hostKey, a committed known_hosts ` +
        `(haforge:knownHostsFile, or hosts[].ssh.knownHostsFile relative to the project) or, explicitly, ssh.trustOnFirstUse`,
    );
}

/** The inventory's secret references resolved from the stack's secrets and the environment; a missing one stops the program. */
function resolveSecrets(plan: ClusterPlan, args: HaClusterArgs): pulumi.Output<SecretValues> {
  const refs = collectSecretRefs(plan.inventory);
  const env = args.env ?? process.env;
  const secretInputs: Record<string, pulumi.Input<string>> = {};
  const missing: string[] = [];
  for (const r of refs) {
    if ("value" in r) continue;
    const v = "secret" in r ? args.secrets?.[r.secret] : env[r.env];
    if (v === undefined) missing.push(secretKey(r));
    else secretInputs[secretKey(r)] = v;
  }
  if (missing.length)
    throw new pulumi.RunError(
      `haforge: unresolved secrets: ${missing.join(", ")} (set them with \`pulumi config set --secret\` or the environment)`,
    );
  return pulumi.secret(pulumi.all(secretInputs));
}

/**
 * The apply schedule (src/core/schedule.ts): a dependency cycle among actions is refused here,
 * before any resource of a host is declared, never broken silently.
 */
function refuseActionCycles(structure: readonly ServiceRender[]): void {
  const scheduleFindings = structure.flatMap((p) => scheduleActions(p.actions, `${p.service} actions`).findings);
  if (scheduleFindings.length)
    throw new pulumi.RunError(
      `haforge: ${scheduleFindings.map((f) => `${f.code} at ${f.path}: ${f.message}`).join("; ")}; nothing was changed on any host`,
    );
}

/**
 * Where each generated key can be adopted from when the state has none: where it lands whole on
 * a host (placeholders are distinct per key), plus what the services say they keep elsewhere
 * (certificate pairs, tokens inside a config, a key pair in an application's settings:
 * MaterialSpec.readBack). `sourceKey`: which key a host's file holds (a file holds one at most),
 * for the take-over of unshared keys.
 */
function materialAdoption(
  structure: readonly ServiceRender[],
  specs: readonly MaterialSpec[],
  placeholderMaterials: MaterialValues,
  access: ReadonlyMap<string, HostAccess>,
) {
  const wholeFiles = materialSources(
    structure.flatMap((r) => r.files),
    specs,
    placeholderMaterials,
  );
  const sourceKey = new Map(
    Object.entries(wholeFiles).flatMap(([key, list]) => list.map((src) => [`${src.host}\u0000${src.path}`, key] as const)),
  );
  const sources: Record<string, MaterialSource[]> = { ...wholeFiles };
  for (const s of specs) if (s.readBack?.length) sources[s.key] = [...(sources[s.key] ?? []), ...s.readBack];
  const adopt = Object.fromEntries(
    Object.entries(sources).map(([key, list]) => [
      key,
      list.flatMap((src) => {
        const a = access.get(src.host);
        return a ? [a.file.apply((connection) => ({ ...src, connection }))] : [];
      }),
    ]),
  );
  return { adopt, sourceKey };
}

/**
 * The plan with the deploy-time addresses: what configs are rendered from and what the stack
 * outputs report (never the inventory's placeholders).
 */
function deployTimePlan(plan: ClusterPlan, addresses: Readonly<Record<string, pulumi.Input<string>>>): pulumi.Output<ClusterPlan> {
  if (!Object.keys(addresses).length) return pulumi.output(plan);
  return pulumi.all(addresses as Record<string, pulumi.Input<string>>).apply((addr) => {
    const inv = { ...plan.inventory, hosts: plan.inventory.hosts.map((h) => (addr[h.name] ? { ...h, address: addr[h.name]! } : h)) };
    const re = planCluster(inv);
    if (!re.plan)
      throw new Error(
        `haforge: with deploy-time addresses the inventory has errors: ${re.findings
          .filter((f) => f.severity === "error")
          .map((f) => `${f.code} at ${f.path}`)
          .join("; ")}`,
      );
    return re.plan;
  });
}

/**
 * The real render over secrets, materials and the deploy-time plan, and, when some files and
 * actions use no generated material, a second one that does not wait for Materials: when
 * Materials changes (a key is added), its values are unknown during preview, and only what
 * really uses a material may show as changing.
 */
function realRenders(
  plan: ClusterPlan,
  structure: readonly ServiceRender[],
  specs: readonly MaterialSpec[],
  placeholderMaterials: MaterialValues,
  inputs: { secrets: pulumi.Output<SecretValues>; materials: Materials; realPlan: pulumi.Output<ClusterPlan>; parent: pulumi.Resource },
) {
  const { secrets, materials, realPlan, parent } = inputs;
  const materialFree = specs.length
    ? materialFreeParts(
        structure,
        renderByService(
          plan,
          placeholderSecrets(plan),
          Object.fromEntries(specs.map((s) => [s.key, placeholderMaterial(s.kind.type, 1, s.key)])),
        ),
      )
    : undefined;
  const renderWith = (p: ClusterPlan, s: SecretValues, m: MaterialValues, report: boolean) => {
    const late = secretFindings(p, s);
    if (report)
      for (const f of late.filter((x) => x.severity === "warning")) void pulumi.log.warn(`${f.code} at ${f.path}: ${f.message}`, parent);
    const errs = late.filter((x) => x.severity === "error");
    if (errs.length)
      throw new Error(`haforge: ${errs.map((f) => `${f.code} at ${f.path}: ${f.message}`).join("; ")}; nothing was changed on any host`);
    return renderByService(p, s, m);
  };
  const rendered = pulumi.all([secrets, materials.values, realPlan]).apply(([s, m, p]) => renderWith(p, s, m ?? {}, true));
  const renderedWithoutMaterials = materialFree
    ? pulumi.all([secrets, realPlan]).apply(([s, p]) => renderWith(p, s, placeholderMaterials, false))
    : rendered;
  const renderedFor = (service: string, what: { host: string; path: string } | { id: string }) =>
    !materialFree || materialFree.has(renderKey(service, what)) ? renderedWithoutMaterials : rendered;
  return { materialFree, rendered, renderedFor };
}

export function prepareCluster(name: string, args: HaClusterArgs, parent: pulumi.Resource): ClusterContext {
  const { a, plan } = checkedPlan(args, parent);
  const hosts = new Map(plan.hosts.map((h) => [h.name, h]));
  refuseUnpinnedHosts(plan, args.knownHostsFile);
  const secrets = resolveSecrets(plan, args);
  const addresses = args.hostAddresses ?? {};

  // Quorum safety against the state: the engine checks it before any step; everything waits on it.
  const membershipGuard = new MembershipGuard(
    `${name}-membership`,
    { memberships: memberships(plan), allowUnsafe: args.allowUnsafeMembership ?? false },
    { parent },
  );
  const specs = requiredMaterials(plan);
  const placeholderMaterials: MaterialValues = Object.fromEntries(specs.map((s) => [s.key, placeholderMaterial(s.kind.type, 0, s.key)]));
  const structure = renderByService(plan, placeholderSecrets(plan), placeholderMaterials);
  refuseActionCycles(structure);
  const access = hostAccess(hosts, {
    addresses,
    secrets,
    ...(args.knownHostsFile ? { knownHostsFile: args.knownHostsFile } : {}),
    ...(args.deployKey !== undefined ? { deployKey: args.deployKey } : {}),
  });
  const { adopt, sourceKey } = materialAdoption(structure, specs, placeholderMaterials, access);
  // The mask salt rides with the other material: the providers' diffs mask secrets with it.
  const materials = new Materials(
    `${name}-materials`,
    [...specs, MASK_SALT_SPEC],
    { parent, dependsOn: [membershipGuard] },
    Object.keys(adopt).length ? adopt : undefined,
    kubernetesSources(specs),
  );
  const realPlan = deployTimePlan(plan, addresses);
  const { materialFree, rendered, renderedFor } = realRenders(plan, structure, specs, placeholderMaterials, {
    secrets,
    materials,
    realPlan,
    parent,
  });

  const { packages, packagesReady } = declarePackages(name, plan, structure, access, parent, membershipGuard);

  return {
    plan,
    realPlan,
    findings: a.findings,
    hosts,
    access,
    structure,
    rendered,
    renderedFor,
    usesMaterial: (service, what) => !!materialFree && !materialFree.has(renderKey(service, what)),
    secrets,
    materials,
    force: args.force ?? false,
    takeOver: (host, path) => {
      if ((args.takeOver ?? []).some((t) => t === "*" || t === `${host}:${path}`)) return true;
      const key = sourceKey.get(`${host}\u0000${path}`);
      return key === undefined ? false : materials.unshared.apply((u) => !!u?.includes(key));
    },
    membershipGuard,
    membershipChain: {},
    declaration: new Declaration(),
    packages,
    ...(packagesReady ? { packagesReady } : {}),
  };
}

/** Placeholders shaped like the real material, so renderers that parse it stay total. */
function placeholderMaterial(type: string, variant: 0 | 1 = 0, key = ""): string {
  const { generateMaterial } = require("../src/core/generate-material") as typeof import("../src/core/generate-material");
  // Deterministic, cheap shapes: real generation (RSA, X.509) happens once in the Materials resource.
  // Variant 1 differs from variant 0 in every value: rendering with both tells which files use none.
  // Whole-file kinds are distinct per key, so a file is attributed to its one material (adoption).
  const digest = createHash("sha256").update(`${variant}\0${key}`).digest();
  if (type === "random-bytes") return Buffer.concat(Array.from({ length: 8 }, () => digest)).toString("base64");
  if (type === "token") return (variant ? "placeholdez" : "placeholder") + digest.toString("hex").slice(0, 21);
  return cachedShape(`${type}#${variant}`, () =>
    generateMaterial(
      type === "rsa-keypair"
        ? // 1,024 bits: a placeholder only has to parse like a key; 2,048-bit generation took
          // 0.1-0.6 s of CPU per variant (prime search), a tenth of a 100-host program run.
          { type, bits: 1024, comment: `placeholder${variant || ""}` }
        : { type: "syncthing-cert", commonName: variant ? "placeholder-b" : "placeholder" },
    ),
  );
}
const shapes = new Map<string, string>();
function cachedShape(type: string, make: () => string): string {
  let v = shapes.get(type);
  if (v === undefined) shapes.set(type, (v = make()));
  return v;
}

/** Key of a file or an action in `materialFree`. */
export const renderKey = (service: string, what: { host: string; path: string } | { id: string }): string =>
  "id" in what ? `${service}\0action\0${what.id}` : `${service}\0file\0${what.host}\0${what.path}`;

/**
 * The files and actions whose content does not depend on any generated material: rendered with
 * two different placeholder sets, they come out the same.
 */
function materialFreeParts(a: readonly ServiceRender[], b: readonly ServiceRender[]): Set<string> {
  const out = new Set<string>();
  for (const pa of a) {
    const pb = b.find((x) => x.service === pa.service);
    if (!pb) continue;
    for (const f of pa.files) {
      const g = pb.files.find((x) => x.host === f.host && x.path === f.path);
      if (g && g.content === f.content) out.add(renderKey(pa.service, f));
    }
    for (const x of pa.actions) {
      const y = pb.actions.find((z) => z.id === x.id);
      if (y && y.create === x.create && y.delete === x.delete) out.add(renderKey(pa.service, x));
    }
  }
  return out;
}

/**
 * Where materials live in the Kubernetes target's Secrets (MaterialSpec.readBackKubernetes), with
 * the kubeconfig and context the Kubernetes provider gets from stack config
 * (kubernetes-target.ts providerFromConfig; the path as written: the provider process expands it).
 */
function kubernetesSources(specs: readonly MaterialSpec[]): pulumi.Output<Record<string, KubernetesSecretRef>> | undefined {
  const refs = specs.filter((s) => s.readBackKubernetes);
  if (refs.length === 0) return undefined;
  const cfg = new pulumi.Config("haforge");
  const context = cfg.get("kubeContext");
  const kubeconfig: pulumi.Output<string | undefined> = cfg.getSecret("kubeconfig") ?? pulumi.output(undefined);
  return pulumi.secret(
    kubeconfig.apply((k) =>
      Object.fromEntries(
        refs.map((s) => [
          s.key,
          { ...s.readBackKubernetes!, ...(k === undefined ? {} : { kubeconfig: k }), ...(context ? { context } : {}) },
        ]),
      ),
    ),
  );
}
