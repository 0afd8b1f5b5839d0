/**
 * Materials: generated key material (corosync authkeys, isolated-group key pairs, syncthing
 * certificates, API keys) created ONCE and kept in Pulumi state as secret outputs. Adding a key
 * generates only that key; existing values are never regenerated (a new authkey would split a
 * running cluster). Same serialization discipline as RemoteFile: methods capture only strings and
 * require this module at call time.
 */
import * as pulumi from "./pulumi-sdk";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { MaterialSource, MaterialSpec } from "../core/materials";
import type { HostConnection } from "../transport";
import type { KubernetesSecretRef } from "./kubernetes-secret";
import { providerText, providerTextChanged, SelfLoadedResource, selfLoader } from "./self-loader";

/** A file that holds a material whole, and how to reach its host. */
export interface MaterialsAdoptSource extends MaterialSource {
  readonly connection: HostConnection;
}

export interface MaterialsInputs {
  readonly specs: readonly Pick<MaterialSpec, "key" | "kind">[];
  /**
   * Where each generated key already lives on the hosts (src/core/materials.ts, materialSources).
   * A key the state does not hold is read back from the first host that has it (adopted) and only
   * generated when no host has one: a second operator's empty state, or a lost one, never
   * replaces the keys a running cluster uses. Not compared by diff.
   */
  readonly adopt?: Readonly<Record<string, readonly MaterialsAdoptSource[]>>;
  /**
   * Where each key lives in a live Kubernetes Secret (MaterialSpec.readBackKubernetes, with the
   * stack's kubeconfig and context): read the same way, through the Kubernetes API. A Secret that
   * cannot be read refuses the create: a new value would replace the live one. Not compared by diff.
   */
  readonly adoptKubernetes?: Readonly<Record<string, KubernetesSecretRef>>;
}
export interface MaterialsOutputs extends MaterialsInputs {
  readonly values: Record<string, string>;
  /**
   * Keys generated (not adopted) in this step although the hosts held files for them, because
   * every host held a different one (package-made, never shared): their files may be replaced.
   * Empty after the step that generated them.
   */
  readonly unshared?: readonly string[];
}

/** Keep every existing value whose key is still wanted; generate the missing ones. */
export function reconcileMaterials(specs: MaterialsInputs["specs"], existing: Record<string, string>): Record<string, string> {
  const { generateMaterial } = require("../core/generate-material") as typeof import("../core/generate-material");
  const out: Record<string, string> = {};
  for (const s of [...specs].sort((a, b) => a.key.localeCompare(b.key))) out[s.key] = existing[s.key] ?? generateMaterial(s.kind);
  return out;
}

/** The bytes of `paths` on one host, in one command (undefined: absent or not a regular file). */
async function readWhole(conn: HostConnection, paths: readonly string[]): Promise<Map<string, Buffer | undefined>> {
  const { getDefaultPool } = require("../transport") as typeof import("../transport");
  const { shQuote } = require("../core/file-ops") as typeof import("../core/file-ops");
  const script = paths
    .map((p) => `p=${shQuote(p)}; if [ -f "$p" ] && [ ! -L "$p" ]; then echo F; base64 -w0 -- "$p" || exit 1; echo; else echo A; echo; fi`)
    .join("\n");
  const r = await getDefaultPool().exec(conn, "sh -s", { step: `read ${paths.length} key files`, stdin: script, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${conn.host}: reading key files failed (exit ${r.code})`);
  const lines = r.stdout.split("\n");
  const out = new Map<string, Buffer | undefined>();
  paths.forEach((p, i) => out.set(p, lines[2 * i] === "F" ? Buffer.from(lines[2 * i + 1] ?? "", "base64") : undefined));
  return out;
}

/**
 * Values for the keys `existing` lacks, read back from the hosts (`adopt`); best effort per host
 * (one that cannot be reached is skipped). Every source is read and the value is chosen by
 * `chooseAdopted` (src/core/materials.ts): a key every host holds a different value of was never
 * shared (package-made) and is reported `unshared` instead.
 */
export async function adoptMaterials(
  specs: MaterialsInputs["specs"],
  existing: Record<string, string>,
  adopt: MaterialsInputs["adopt"],
  /** Only say what `up` will do (Check, in a preview): the notes' wording. */
  preview = false,
): Promise<{ adopted: Record<string, string>; unshared: string[] }> {
  const { adoptedValue, chooseAdopted, MATERIAL_LINE_PREFIX } = require("../core/materials") as typeof import("../core/materials");
  const { machineKey } = require("../transport") as typeof import("../transport");
  const wanted = specs.filter((s) => existing[s.key] === undefined && adopt?.[s.key]?.length);
  if (wanted.length === 0) return { adopted: {}, unshared: [] };
  const hostKey = (c: HostConnection) => `${c.user}@${machineKey(c)}`;
  // One read per host, of every candidate file on it; a read-back script runs on its own.
  const byHost = new Map<string, { conn: HostConnection; paths: Set<string> }>();
  const scripts: { key: string; src: MaterialsAdoptSource }[] = [];
  for (const s of wanted)
    for (const src of adopt![s.key]!) {
      if (src.script !== undefined) {
        scripts.push({ key: s.key, src });
        continue;
      }
      const k = hostKey(src.connection);
      const e = byHost.get(k) ?? byHost.set(k, { conn: src.connection, paths: new Set() }).get(k)!;
      e.paths.add(src.path);
      if (src.keyPath !== undefined) e.paths.add(src.keyPath);
    }
  const read = new Map<string, Map<string, Buffer | undefined> | undefined>();
  const ran = new Map<MaterialsAdoptSource, Buffer | undefined>();
  await Promise.all([
    ...[...byHost].map(async ([k, e]) => {
      read.set(k, await readWhole(e.conn, [...e.paths]).catch(() => undefined));
    }),
    ...scripts.map(async ({ src }) => {
      ran.set(src, await runReadBack(src).catch(() => undefined));
    }),
  ]);
  const adopted: Record<string, string> = {};
  const unshared: string[] = [];
  for (const s of wanted) {
    const held: string[] = [];
    const found = adopt![s.key]!.flatMap((src) => {
      const files = read.get(hostKey(src.connection));
      const bytes = src.script !== undefined ? ran.get(src) : files?.get(src.path);
      const keyBytes = src.keyPath !== undefined ? files?.get(src.keyPath) : undefined;
      const value = bytes && adoptedValue(s.kind, src, bytes, keyBytes);
      // Something is there but not a value of this kind (a script that printed no value holds none).
      const holds = src.script !== undefined ? bytes?.includes(MATERIAL_LINE_PREFIX) : bytes && (src.keyPath === undefined || keyBytes);
      if (value === undefined && holds) held.push(`${src.host}:${src.path}`);
      return value === undefined ? [] : [{ host: src.host, path: src.path, value }];
    });
    const choice = chooseAdopted(found);
    if (choice.value !== undefined) {
      adopted[s.key] = choice.value;
      const from = found.filter((f) => f.value === choice.value).map((f) => `${f.host}:${f.path}`);
      console.error(
        preview
          ? `note: haforge: ${s.key}: the state has none: up adopts the key found on ${from.join(", ")} (nothing regenerated)`
          : `note: haforge: ${s.key}: adopted the key found on ${from.join(", ")} (the state had none; nothing regenerated)`,
      );
    } else if (choice.unshared) {
      unshared.push(s.key);
      console.error(
        `note: haforge: ${s.key}: every host holds a key of its own (${found.map((f) => f.host).join(", ")}), never a shared one: ` +
          `${preview ? "up generates a new key that replaces" : "a new key is generated and replaces"} them`,
      );
    } else if (found.length) {
      console.error(
        `warning: haforge: ${s.key}: the hosts hold different shared keys (${found.map((f) => f.host).join(", ")}): none adopted; their files are refused unless haforge:takeOver names them`,
      );
    } else if (held.length && (s.kind.type === "syncthing-cert" || s.kind.type === "rsa-keypair")) {
      console.error(
        `warning: haforge: ${s.key}: ${held.join(", ")} holds a ` +
          `${s.kind.type === "syncthing-cert" ? "certificate and key that do not belong together (or do not parse)" : "key pair that does not parse or whose halves do not match"}: ` +
          `not adopted; ${preview ? "up generates a new one" : "a new one is generated"}, and its key files are refused unless haforge:takeOver names them`,
      );
    }
  }
  return { adopted, unshared };
}

/** Runs a read-back script (MaterialSource.script) on its host: its stdout, undefined when it fails. */
async function runReadBack(src: MaterialsAdoptSource): Promise<Buffer | undefined> {
  const { getDefaultPool } = require("../transport") as typeof import("../transport");
  const r = await getDefaultPool().exec(src.connection, "sh -s", { step: `read back ${src.path}`, stdin: src.script!, timeoutMs: 120_000 });
  return r.code === 0 ? Buffer.from(r.stdout, "utf8") : undefined;
}

/**
 * Values for the keys `existing` lacks, read from live Kubernetes Secrets (`refs`). A Secret (or
 * key) that does not exist adopts nothing: a first install generates the value. A Secret that
 * cannot be read throws at `up` (generating would replace the live value once the cluster
 * answers again) and is a warning in a preview.
 */
export async function adoptFromKubernetes(
  specs: MaterialsInputs["specs"],
  existing: Record<string, string>,
  refs: MaterialsInputs["adoptKubernetes"],
  preview = false,
): Promise<Record<string, string>> {
  const adopted: Record<string, string> = {};
  if (!refs || Object.keys(refs).length === 0) return adopted;
  const { readKubernetesSecret } = require("./kubernetes-secret") as typeof import("./kubernetes-secret");
  for (const s of specs) {
    const ref = refs?.[s.key];
    if (existing[s.key] !== undefined || !ref || typeof ref !== "object" || typeof ref.name !== "string") continue;
    const where = `Secret ${ref.namespace}/${ref.name} (key ${ref.key})`;
    let r: Awaited<ReturnType<typeof readKubernetesSecret>>;
    try {
      r = await readKubernetesSecret(ref);
    } catch (e) {
      const why = `${s.key}: the state has none and the live ${where} could not be read (${(e as Error).message})`;
      if (preview) {
        console.error(`warning: haforge: ${why}: up refuses to generate one until it can be read`);
        continue;
      }
      throw new Error(
        `haforge: ${why}: refusing to generate a new value that would replace it; make the cluster reachable, or set the value in the inventory`,
        { cause: e },
      );
    }
    if (!r.found) {
      if (r.noKubeconfig)
        console.error(
          `warning: haforge: ${s.key}: the state has none and there is no kubeconfig (${r.noKubeconfig}) to read the live ${where} with: ` +
            `${preview ? "up generates" : "generated"} a new one; if Tower already runs there, set tower.secretKey to its value`,
        );
      continue;
    }
    adopted[s.key] = r.value;
    console.error(
      preview
        ? `note: haforge: ${s.key}: the state has none: up adopts the value of the live ${where} (nothing regenerated)`
        : `note: haforge: ${s.key}: adopted the value of the live ${where} (the state had none; nothing regenerated)`,
    );
  }
  return adopted;
}

/** reconcileMaterials after adopting what the hosts and the Kubernetes target already have. */
export async function materialsFor(
  inputs: MaterialsInputs,
  existing: Record<string, string>,
): Promise<{ values: Record<string, string>; unshared: string[] }> {
  const { adopted, unshared } = await adoptMaterials(inputs.specs, existing, inputs.adopt);
  const live = await adoptFromKubernetes(inputs.specs, { ...adopted, ...existing }, inputs.adoptKubernetes);
  return { values: reconcileMaterials(inputs.specs, { ...live, ...adopted, ...existing }), unshared };
}

export async function diffMaterials(olds: MaterialsOutputs, news: MaterialsInputs): Promise<dynamic.DiffResult> {
  const a = new Set(olds.specs.map((s) => s.key));
  const b = new Set(news.specs.map((s) => s.key));
  // A different `__provider` text (older haforge) is an update that keeps every value.
  const changes = a.size !== b.size || [...b].some((k) => !a.has(k)) || providerTextChanged(olds, news);
  return { changes, replaces: [], deleteBeforeReplace: false };
}

/** Loads this module inside the provider process (plain node: see self-loader.ts). */
const loadImpl = selfLoader<typeof import("./materials")>(__filename);

/**
 * Check: for the keys new to the resource (all of them with no state), say in the preview what
 * `up` will adopt from the hosts, read the same way (best effort: an unreachable host is skipped).
 * With HAFORGE_DIFF=state (a preview that cannot reach the hosts) nothing is read: a note says so.
 */
export async function checkMaterials(olds: Partial<MaterialsInputs>, news: MaterialsInputs): Promise<void> {
  const had = new Set((olds.specs ?? []).map((s) => s.key));
  // In a preview a source's connection may be unknown yet (a deploy-time address): skipped.
  const known = (src: unknown): src is MaterialsAdoptSource =>
    !!src && typeof src === "object" && typeof (src as { connection?: { host?: unknown } }).connection?.host === "string";
  const adopt: Record<string, MaterialsAdoptSource[]> = {};
  if (news.adopt && typeof news.adopt === "object")
    for (const [key, list] of Object.entries(news.adopt)) if (Array.isArray(list)) adopt[key] = list.filter(known);
  const inKubernetes = news.specs.filter((s) => !had.has(s.key) && isKnownRef(news.adoptKubernetes?.[s.key]));
  const added = news.specs.filter((s) => !had.has(s.key) && adopt[s.key]?.length);
  if (added.length === 0 && inKubernetes.length === 0) return;
  if (process.env["HAFORGE_DIFF"] === "state") {
    console.error(
      `note: haforge: HAFORGE_DIFF=state: ${added.length + inKubernetes.length} key(s) the state lacks (${[...added, ...inKubernetes].map((s) => s.key).join(", ")}) ` +
        "are looked for on the hosts and the Kubernetes target at up (adopted when found); hosts not contacted in this preview",
    );
    return;
  }
  if (added.length) await adoptMaterials(added, {}, adopt, true);
  if (inKubernetes.length) await adoptFromKubernetes(inKubernetes, {}, news.adoptKubernetes, true);
}

/** A Kubernetes source whose fields are known (in a preview, the kubeconfig may be unknown). */
const isKnownRef = (v: unknown): boolean =>
  !!v && typeof v === "object" && ["namespace", "name", "key"].every((k) => typeof (v as Record<string, unknown>)[k] === "string");

export const materialsProvider: dynamic.ResourceProvider<MaterialsInputs, MaterialsOutputs> = {
  async check(olds: MaterialsInputs, news: MaterialsInputs) {
    await loadImpl().checkMaterials(olds ?? {}, news);
    return { inputs: news };
  },
  async create(inputs: MaterialsInputs) {
    const { values, unshared } = await loadImpl().materialsFor(inputs, {});
    return { id: "materials", outs: { specs: inputs.specs, values, unshared } };
  },
  async diff(_id: string, olds: MaterialsOutputs, news: MaterialsInputs) {
    return loadImpl().diffMaterials(olds, news);
  },
  async update(_id: string, olds: MaterialsOutputs, news: MaterialsInputs) {
    const { values, unshared } = await loadImpl().materialsFor(news, olds.values ?? {});
    return { outs: { specs: news.specs, values, unshared } };
  },
};

/** The `__provider` text every Materials stores: loads `materialsProvider` from this module (self-loader.ts). */
export const materialsProviderText = providerText(__filename, "materialsProvider");

export class Materials extends SelfLoadedResource {
  /** Generated values by MaterialSpec.key (secret). */
  declare readonly values: pulumi.Output<Record<string, string>>;
  /** Keys whose hosts each held a key of their own (MaterialsOutputs.unshared). */
  declare readonly unshared: pulumi.Output<readonly string[] | undefined>;

  constructor(
    name: string,
    specs: readonly MaterialSpec[],
    opts: pulumi.CustomResourceOptions = {},
    adopt?: pulumi.Input<Record<string, pulumi.Input<MaterialsAdoptSource>[]>>,
    adoptKubernetes?: pulumi.Input<Record<string, pulumi.Input<KubernetesSecretRef>>>,
  ) {
    super(
      materialsProviderText,
      name,
      {
        specs: specs.map((s) => ({ key: s.key, kind: s.kind })),
        ...(adopt === undefined ? {} : { adopt }),
        ...(adoptKubernetes === undefined ? {} : { adoptKubernetes }),
        values: undefined,
        unshared: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "values"] },
    );
  }
}
