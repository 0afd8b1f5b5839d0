/**
 * RemoteFile: a config file on a host, written over SSH (docs/architecture.md, "The Pulumi engine semantics the providers rely on").
 *
 * - `applyFile` (src/transport/remote-files.ts) is the whole behaviour as a plain async function
 *   over the SSH transport; this module only adapts it to Pulumi.
 * - `remoteFileProvider` is the Pulumi dynamic provider. Pulumi serializes its methods with the
 *   closure serializer and runs them in a separate provider process, so the methods capture only
 *   two strings and `require()` this very module at call time; everything else lives in ordinary
 *   module-level functions that are never serialized.
 *   https://www.pulumi.com/docs/iac/concepts/resources/dynamic-providers/
 */
import { isDeepStrictEqual } from "node:util";
import * as pulumi from "./pulumi-sdk";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { fileBytes } from "../core/desired-state";
import { isValidMode, normalizeMode, planFile, sha256Hex, type FileFact, type FilePlan } from "../core/file-ops";
import {
  applyFile,
  cachedFileFact,
  getDefaultPool,
  invalidateFileFacts,
  parsePublicKeyLine,
  readFileFact,
  removeFileIfUnchanged,
  validateFileOnHost,
  pinnedKeyTexts,
  type ApplyFileOptions,
  type FileToApply,
  type HostConnection,
  type SshPool,
} from "../transport";
import { providerText, providerTextChanged, SelfLoadedResource, selfLoader } from "./self-loader";

// ---------------------------------------------------------------------------------------------
// Dynamic provider

/** Inputs as the provider sees them (secrets unwrapped by the engine). */
export interface RemoteFileInputs {
  readonly connection: HostConnection;
  readonly path: string;
  readonly content: string;
  /** `base64`: content is base64 of the bytes to write (binary files such as a corosync authkey). */
  readonly encoding?: "utf8" | "base64";
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly secret?: boolean;
  readonly validate?: string;
  /** Run `validate` on the host at Check when the live file differs (FileSpec.validateAtPreview). */
  readonly validateAtPreview?: boolean;
  readonly activate?: string;
  readonly force?: boolean;
  readonly backup?: boolean;
  /** The inventory's mask salt: secret content in diffs and errors shows as a keyed placeholder. */
  readonly maskSalt?: string;
  /**
   * Opt-in (stack config `haforge:takeOver`): a secret (key) file that exists on the host with
   * other content while state has nothing for it is overwritten; without it, refused.
   */
  readonly takeOver?: boolean;
  /**
   * The file holds generated key material (an authkey, a key pair, a certificate): when it exists
   * on the host with other content and state has none for it, it is refused unless `takeOver`.
   * Other files, secret or not (a packaged haproxy.cfg that will hold a password), are taken over
   * with a note.
   */
  readonly keyFile?: boolean;
}

/**
 * What state keeps besides the inputs: the content is stored ONCE (in the inputs), never a
 * second time in the outputs; the outputs hold what Read, Delete and the next Diff need — the
 * connection and path (Delete and Read get only the outputs), the hash/size/mode/owner we last
 * wrote or refreshed.
 */
export interface RemoteFileOutputs {
  readonly connection: HostConnection;
  readonly path: string;
  readonly encoding?: "utf8" | "base64";
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly secret?: boolean;
  /** sha256 (of the bytes on disk) we last wrote or refreshed: the out-of-band edit baseline. */
  readonly sha256: string;
  readonly size: number;
  readonly hostKeySeen?: string;
  /**
   * How many times haforge wrote the content on the host. Restart triggers follow it with the
   * hash: overwriting drift (force, or after a refresh) writes the same desired content again, and
   * the service must restart onto it.
   */
  readonly writes?: number;
}

/** `diff`'s result plus the plan (the engine ignores the extra field; tests and logs read it). */
export interface RemoteFileDiffResult extends dynamic.DiffResult {
  readonly plan?: FilePlan;
}

// ---------------------------------------------------------------------------------------------
// The wire shape: what the program registers and state stores

/**
 * The Pulumi SDK pays per top-level input/output PROPERTY of a resource (an Output and several
 * tracked promises each, while the resource is constructed), and a 1,000-host program declares
 * ~4,000 files: so a RemoteFile registers FIVE properties, not seventeen (docs/architecture.md,
 * "The program's size"). The engine diffs nested objects key by key, so `pulumi preview --diff`
 * still names `spec.mode`, `spec.owner`…:
 *  - `connection` (its own property: it is secret when it carries credentials, and a secret
 *    `spec` would hide the mode and owner of every file in the preview);
 *  - `spec`: every other non-secret field, a plain object;
 *  - `content`: secret only for secret files;
 *  - `maskSalt` (secret, shared by the cluster's files), absent when not given;
 *  - `facts`: the one output the provider reports (sha256, size, hostKeySeen, writes).
 * State written by an older haforge has the flat shape (RemoteFileInputs/RemoteFileOutputs as
 * top-level properties): every provider method accepts both (`remoteFileInputsOf`,
 * `remoteFileOutputsOf`), and Diff reports an update for a flat one, which rewrites nothing on
 * the host but stores the packed shape (a Same step would keep the flat outputs, without `facts`,
 * and every restart trigger would read `undefined`).
 */
export type RemoteFileSpec = Omit<RemoteFileInputs, "connection" | "content" | "maskSalt">;

export interface RemoteFileWireInputs {
  readonly connection: HostConnection;
  readonly spec: RemoteFileSpec;
  readonly content: string;
  readonly maskSalt?: string;
}

/** What the provider reports (the `facts` output). */
export type RemoteFileFacts = Pick<RemoteFileOutputs, "sha256" | "size" | "hostKeySeen" | "writes">;

export interface RemoteFileWireOutputs {
  readonly connection: HostConnection;
  readonly spec: Pick<RemoteFileOutputs, "path" | "encoding" | "mode" | "owner" | "group" | "secret">;
  readonly facts: RemoteFileFacts;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The packed (current) shape: `spec` (an object, or unknown in a preview). */
export const isPackedRemoteFile = (raw: unknown): boolean => isRecord(raw) && raw["spec"] !== undefined && raw["spec"] !== null;

/** Inputs in either shape (packed from the program, flat from an older state) as the flat model. */
export function remoteFileInputsOf(raw: RemoteFileWireInputs | RemoteFileInputs): RemoteFileInputs {
  if (!isPackedRemoteFile(raw)) return raw as RemoteFileInputs;
  const { spec, ...rest } = raw as RemoteFileWireInputs & { facts?: unknown };
  delete rest.facts;
  // A spec that is unknown as a whole (never sent by this program): its path is unknown.
  if (isUnknown(spec)) return { ...rest, path: spec } as unknown as RemoteFileInputs;
  return { ...rest, ...spec };
}

/** Outputs in either shape (packed, or flat from an older haforge) as the flat model. */
export function remoteFileOutputsOf(raw: RemoteFileWireOutputs | RemoteFileOutputs): RemoteFileOutputs {
  if (!isPackedRemoteFile(raw)) return raw as RemoteFileOutputs;
  const { spec, facts, ...rest } = raw as RemoteFileWireOutputs;
  return { ...rest, ...(isRecord(spec) ? spec : {}), ...(isRecord(facts) ? facts : {}) } as RemoteFileOutputs;
}

/** The flat model's outputs in the packed shape state stores. */
export function packRemoteFileOutputs(o: RemoteFileOutputs): RemoteFileWireOutputs {
  const { connection, path, encoding, mode, owner, group, secret, sha256, size, hostKeySeen, writes, ...rest } = o;
  delete (rest as { content?: unknown }).content;
  return {
    ...rest,
    connection,
    spec: { path, ...(encoding === undefined ? {} : { encoding }), mode, owner, group, ...(secret === undefined ? {} : { secret }) },
    facts: { sha256, size, ...(hostKeySeen === undefined ? {} : { hostKeySeen }), ...(writes === undefined ? {} : { writes }) },
  };
}

/** The flat model's inputs in the packed shape the program registers (tests, the e2e harness). */
export function packRemoteFileInputs(i: RemoteFileInputs): RemoteFileWireInputs {
  const { connection, content, maskSalt, ...spec } = i;
  return { connection, spec, content, ...(maskSalt === undefined ? {} : { maskSalt }) };
}

type AnyInputs = RemoteFileWireInputs | RemoteFileInputs;
type AnyOutputs = RemoteFileWireOutputs | RemoteFileOutputs;

/** The provider's methods on the wire shape (the dynamic provider below only forwards here). */
export const remoteFileWire = {
  async check(olds: unknown, news: AnyInputs) {
    const r = await checkRemoteFile(
      remoteFileInputsOf(news),
      isRecord(olds) ? remoteFileInputsOf(olds as unknown as RemoteFileWireInputs) : undefined,
    );
    return r.failures ? { inputs: news, failures: r.failures } : { inputs: news };
  },
  async diff(olds: AnyOutputs, news: AnyInputs): Promise<RemoteFileDiffResult> {
    const d = await diffRemoteFile(remoteFileOutputsOf(olds), remoteFileInputsOf(news));
    const replaces = d.replaces?.map((k) => (k === "path" ? "spec" : k));
    const migrated = { ...d, ...(replaces ? { replaces } : {}) };
    // State in the flat shape of an older haforge: an update that stores the packed shape.
    return !d.changes && !isPackedRemoteFile(olds) ? { ...migrated, changes: true } : migrated;
  },
  async create(inputs: AnyInputs) {
    const r = await createRemoteFile(remoteFileInputsOf(inputs));
    return { id: r.id, outs: packRemoteFileOutputs(r.outs!) };
  },
  async update(olds: AnyOutputs, news: AnyInputs) {
    const r = await updateRemoteFile(remoteFileOutputsOf(olds), remoteFileInputsOf(news));
    return { outs: packRemoteFileOutputs(r.outs!) };
  },
  async read(id: string, props?: AnyOutputs): Promise<dynamic.ReadResult<RemoteFileWireOutputs>> {
    const r = await readRemoteFile(id, props === undefined ? undefined : remoteFileOutputsOf(props));
    return r.props === undefined
      ? (r as dynamic.ReadResult<never>)
      : { ...(r.id === undefined ? {} : { id: r.id }), props: packRemoteFileOutputs(r.props) };
  },
  async delete(props: AnyOutputs) {
    return deleteRemoteFile(remoteFileOutputsOf(props));
  },
};

const isUnknown = (v: unknown): boolean => v === pulumi.unknownValue;
const hasUnknown = (v: unknown): boolean =>
  isUnknown(v) || (typeof v === "object" && v !== null && Object.values(v).some((x) => hasUnknown(x)));

const specOf = (i: RemoteFileInputs): FileToApply => ({
  path: i.path,
  content: i.content,
  mode: i.mode,
  owner: i.owner,
  group: i.group,
  secret: i.secret ?? false,
  ...(i.validate === undefined ? {} : { validate: i.validate }),
  ...(i.encoding === undefined ? {} : { encoding: i.encoding }),
});

/**
 * The hash haforge last wrote, as the baseline of the out-of-band check: a fact about the machine
 * that held the pinned key then. When the pin changed to keys it shares none with (a host replaced
 * under its name: a fresh disk, a new host key, which the operator pinned), the file there is not
 * one haforge wrote and has no baseline: it is taken over as on a first apply (shown at preview as
 * a take-over with its diff; a key file is still refused). A pin added, widened or unchanged keeps
 * the baseline, and so does a host whose key is not pinned.
 */
export function baselineSha256(
  olds: Pick<RemoteFileOutputs, "connection" | "sha256">,
  news: Pick<RemoteFileInputs, "connection">,
): string | undefined {
  const was = pinnedKeyTexts(olds.connection?.hostKey);
  const now = pinnedKeyTexts(news.connection?.hostKey);
  if (was === undefined || now === undefined || was.some((k) => now.includes(k))) return olds.sha256;
  return undefined;
}

const applyOptsOf = (i: RemoteFileInputs, lastSha?: string): ApplyFileOptions => ({
  force: i.force ?? false,
  backup: i.backup ?? true,
  ...(i.activate === undefined ? {} : { activate: i.activate }),
  ...(lastSha === undefined ? {} : { lastSha }),
  ...(i.maskSalt ? { maskSalt: i.maskSalt } : {}),
  ...(i.keyFile && !i.takeOver ? { refuseSecretTakeOver: true } : {}),
});

const idOf = (i: RemoteFileInputs): string => `${i.connection.host}:${i.path}`;

const outputsOf = (
  i: RemoteFileInputs,
  r: { sha256: string; size: number; hostKeySeen?: string; written?: boolean },
  previousWrites = 0,
): RemoteFileOutputs => ({
  connection: i.connection,
  path: i.path,
  ...(i.encoding === undefined ? {} : { encoding: i.encoding }),
  mode: normalizeMode(i.mode),
  owner: i.owner,
  group: i.group,
  ...(i.secret === undefined ? {} : { secret: i.secret }),
  sha256: r.sha256,
  size: r.size,
  ...(r.hostKeySeen === undefined ? {} : { hostKeySeen: r.hostKeySeen }),
  writes: previousWrites + (r.written ? 1 : 0),
});

const NAME = /^(?:[A-Za-z_][A-Za-z0-9_.-]*\$?|\d+)$/;

/**
 * Files the program being deployed declares, by address/port/path: the engine calls Check for
 * every registered resource in this provider process before it runs any delete (deletes come
 * after the program, with the stored provider text, which loads this same module).
 */
const declaredHere = new Set<string>();
const declarationKey = (c: HostConnection, path: string): string =>
  `${c.user}@${c.address}:${c.port ?? 22}${c.bastion ? ` via ${c.bastion.address}` : ""}:${path}`;

/** `inputs` is always returned (as given): callers can chain create/update on it. */
export async function checkRemoteFile(
  news: RemoteFileInputs,
  olds?: Partial<RemoteFileInputs>,
): Promise<{ readonly inputs: RemoteFileInputs; readonly failures?: dynamic.CheckFailure[] }> {
  const failures: dynamic.CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  const known = (v: unknown) => v !== undefined && !hasUnknown(v);
  const c = news.connection;
  if (c === undefined || c === null) fail("connection", "connection is required");
  else if (known(c)) {
    if (!c.host) fail("connection", "connection.host is required (the inventory host name)");
    if (!c.address) fail("connection", `connection.address is required for host ${JSON.stringify(c.host)}`);
    if (!c.user) fail("connection", `connection.user is required for host ${JSON.stringify(c.host)}`);
    if (c.port !== undefined && (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535))
      fail("connection", `connection.port ${JSON.stringify(c.port)} is not a TCP port`);
    for (const line of c.hostKey === undefined ? [] : typeof c.hostKey === "string" ? [c.hostKey] : c.hostKey) {
      try {
        parsePublicKeyLine(line);
      } catch (e) {
        fail("connection", `connection.hostKey ${JSON.stringify(line.slice(0, 40))}…: ${(e as Error).message}`);
      }
    }
    if (c.hostKey === undefined && !c.knownHostsFile && !c.trustOnFirstUse) {
      fail(
        "connection",
        `host ${JSON.stringify(c.host)}: set connection.hostKey, connection.knownHostsFile or connection.trustOnFirstUse: true (host keys are always verified)`,
      );
    }
  }
  for (const k of ["path", "content", "mode", "owner", "group"] as const) {
    if (news[k] === undefined || news[k] === null) fail(k, `${k} is required`);
  }
  if (known(news.path)) {
    const p = news.path;
    if (typeof p !== "string" || !p.startsWith("/") || p.endsWith("/") || /[\0\n]/.test(p) || p.split("/").includes("..")) {
      fail("path", `path ${JSON.stringify(p)} must be an absolute file path without ".." segments`);
    }
  }
  if (known(news.content) && typeof news.content !== "string") fail("content", "content must be a string");
  if (known(news.mode) && (typeof news.mode !== "string" || !isValidMode(news.mode)))
    fail("mode", `mode ${JSON.stringify(news.mode)} must be an octal string like "0644"`);
  for (const k of ["owner", "group"] as const) {
    if (known(news[k]) && (typeof news[k] !== "string" || !NAME.test(news[k])))
      fail(k, `${k} ${JSON.stringify(news[k])} must be a user/group name or a numeric id`);
  }
  if (!failures.length && known(c) && known(news.path)) declaredHere.add(declarationKey(c, news.path));
  if (!failures.length && olds?.connection === undefined && !hasUnknown(news)) {
    // No state for this file (a first deploy, a second operator's empty state): the engine calls
    // no Diff before a Create, so a take-over is shown here, and a key file's is refused here —
    // in the preview already.
    const refusal = await takeOverCheck(news);
    if (refusal) fail("content", refusal);
  }
  if (!failures.length && news.validateAtPreview && news.validate && !hasUnknown(news)) {
    const refusal = await previewValidate(news);
    if (refusal) fail("content", refusal);
  }
  return failures.length > 0 ? { inputs: news, failures } : { inputs: news };
}

/**
 * What creating `news` would do to a file that already exists: a take-over prints a note (with
 * the content diff; secrets masked); a secret file's take-over without the opt-in is refused
 * (the reason is returned). Best effort: a host that cannot be reached is left to the create.
 */
async function takeOverCheck(news: RemoteFileInputs): Promise<string | undefined> {
  if (stateDiffMode()) return undefined;
  let live: FileFact | null | false | undefined = cachedFileFact(news.connection, news.path);
  try {
    if (live === undefined || (live && live.content === undefined && live.sha256 !== sha256Hex(fileBytes(news))))
      live = await readFileFact(getDefaultPool(), news.connection, news.path);
  } catch {
    return undefined;
  }
  const plan = planFile({ ...specOf(news), host: news.connection.host }, live, undefined, {
    ...(news.maskSalt ? { maskSalt: news.maskSalt } : {}),
    ...(news.keyFile && !news.takeOver ? { refuseSecretTakeOver: true } : {}),
  });
  const refusal = plan.changes.find((c) => c.kind === "refuse");
  if (refusal) return `${news.connection.host}: ${refusal.reason}`;
  const takeOver = plan.changes.find((c) => c.kind === "write" && c.reason.startsWith("take over"));
  if (takeOver) console.error(`note: ${news.connection.host}: ${takeOver.reason}\n${takeOver.diff ?? ""}`);
  return undefined;
}

/**
 * FileSpec.validateAtPreview: when the live file exists and differs from the desired one, the
 * host's verdict on the candidate (validateFileOnHost: uploaded beside it, validated, removed);
 * the reason when it refuses. Best effort like takeOverCheck: an unreachable host is left to the
 * write, which runs the same validate.
 */
async function previewValidate(news: RemoteFileInputs): Promise<string | undefined> {
  if (stateDiffMode()) return undefined;
  const desired = sha256Hex(fileBytes(news));
  let live: FileFact | null | false | undefined = cachedFileFact(news.connection, news.path);
  try {
    if (live === undefined) live = await readFileFact(getDefaultPool(), news.connection, news.path, 0);
    if (!live || live.sha256 === desired) return undefined;
    const r = await validateFileOnHost(news.connection, specOf(news), news.maskSalt ? { maskSalt: news.maskSalt } : {});
    return r.ok
      ? undefined
      : `${news.connection.host}: ${news.path}: the host refuses this change (its validate, run at preview on the candidate; nothing was written):\n${r.output}`;
  } catch {
    return undefined;
  }
}

export async function diffRemoteFile(olds: RemoteFileOutputs, news: RemoteFileInputs): Promise<RemoteFileDiffResult> {
  // State written by an older haforge (a `__provider` text that differs, e.g. one holding the
  // absolute paths of someone's checkout): an update that rewrites nothing on the host but
  // stores the new text, so that refresh and destroy (which load the stored text) work anywhere.
  const providerChanged = providerTextChanged(olds, news);
  // Replacement only when the file's identity changes; every other difference is an update.
  const replaces: string[] = [];
  if (isUnknown(news.connection) || olds.connection?.host !== news.connection?.host) replaces.push("connection");
  if (isUnknown(news.path) || olds.path !== news.path) replaces.push("path");
  if (replaces.length > 0) return { changes: true, replaces, deleteBeforeReplace: false };
  // A host created in the same program has no address yet during preview: cannot read it.
  if (hasUnknown(news)) return { changes: true };
  if (stateDiffMode()) return diffAgainstState(olds, news, providerChanged);
  // The host's facts prefetched in one command (src/transport/fact-cache.ts): enough when the
  // file is absent or already holds the desired bytes; otherwise read it again, with its content
  // for the unified diff.
  const cached = cachedFileFact(news.connection, news.path);
  const live = cached === undefined || (cached && cached.sha256 !== sha256Hex(fileBytes(news))) ? undefined : cached;
  const r = await applyFile(news.connection, specOf(news), {
    ...applyOptsOf(news, baselineSha256(olds, news)),
    dryRun: true,
    ...(live === undefined ? {} : { live }),
  });
  // Also report a change when the host already matches but our recorded hash is stale (someone
  // put the desired content there by hand): the update re-records the baseline. A changed
  // connection (address, port, user, key path, pinned key…) is an update that rewrites nothing:
  // a Same step would keep the old connection in state, and Read/Delete dial with that one.
  const changes =
    r.plan.changes.length > 0 ||
    olds.sha256 !== r.plan.desiredSha256 ||
    providerChanged ||
    !isDeepStrictEqual(olds.connection, news.connection);
  return { changes, plan: r.plan };
}

/**
 * `HAFORGE_DIFF=state`: previews that cannot reach the hosts (a CI runner without a route, keys
 * or known_hosts) diff against state instead of the live files: the desired content's hash, mode
 * and owner against what state recorded. No SSH at all; a note says that live drift was not
 * checked. Anything else (unset) keeps the live diff.
 */
export const stateDiffMode = (): boolean => process.env["HAFORGE_DIFF"] === "state";

let noted = false;
export function diffAgainstState(olds: RemoteFileOutputs, news: RemoteFileInputs, providerChanged = false): RemoteFileDiffResult {
  if (!noted) {
    noted = true;
    console.error(
      "note: haforge: HAFORGE_DIFF=state: files are compared with the state (content hash, mode, owner), not read from the hosts; out-of-band edits on the hosts are not shown",
    );
  }
  const desiredSha256 = sha256Hex(fileBytes(news));
  const changes =
    desiredSha256 !== olds.sha256 ||
    normalizeMode(news.mode) !== olds.mode ||
    news.owner !== olds.owner ||
    news.group !== olds.group ||
    providerChanged ||
    !isDeepStrictEqual(olds.connection, news.connection);
  return { changes };
}

/** Run a step that may change files on the host, then forget the host's prefetched facts. */
async function writing<T>(conn: HostConnection, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } finally {
    invalidateFileFacts(conn);
  }
}

export async function createRemoteFile(inputs: RemoteFileInputs): Promise<dynamic.CreateResult<RemoteFileOutputs>> {
  const r = await writing(inputs.connection, () => applyFile(inputs.connection, specOf(inputs), applyOptsOf(inputs)));
  return { id: idOf(inputs), outs: outputsOf(inputs, r) };
}

export async function updateRemoteFile(olds: RemoteFileOutputs, news: RemoteFileInputs): Promise<dynamic.UpdateResult<RemoteFileOutputs>> {
  const r = await writing(news.connection, () => applyFile(news.connection, specOf(news), applyOptsOf(news, baselineSha256(olds, news))));
  return { outs: outputsOf(news, r, olds.writes ?? 0) };
}

/**
 * Live state for `pulumi refresh`: hash, size, mode and owner as on the host, so drift shows as a
 * changed sha256/mode/owner. Never the content: refresh must not pull files (megabytes) into
 * state, and the hash is of the bytes on disk, the same hash create/update recorded (a base64
 * file such as an authkey refreshes without false drift).
 */
export async function readRemoteFile(id: string, props: RemoteFileOutputs | undefined): Promise<dynamic.ReadResult<RemoteFileOutputs>> {
  if (!props?.connection) {
    throw new Error(
      `${id}: read: a RemoteFile cannot be imported by id alone (the connection is not in the id); declare it and run pulumi up`,
    );
  }
  const live = await readFileFact(getDefaultPool(), props.connection, props.path, 0);
  if (live === null) return {}; // gone: refresh drops it from state and the next up recreates it
  if (live === false) return { id, props: { ...props, sha256: "", size: 0 } }; // the next update refuses with the reason
  const sameUser = props.owner === live.owner || props.owner === String(live.uid);
  const sameGroup = props.group === live.group || props.group === String(live.gid);
  const { content: _dropped, ...kept } = props as RemoteFileOutputs & { content?: unknown };
  return {
    id,
    props: {
      ...kept,
      sha256: live.sha256,
      size: live.size,
      mode: live.mode,
      owner: sameUser ? props.owner : live.owner,
      group: sameGroup ? props.group : live.group,
    },
  };
}

/** Removes the file only if it is still what we wrote; an edited file is left in place (and said so). */
export async function deleteRemoteFile(props: RemoteFileOutputs, pool: SshPool = getDefaultPool()): Promise<"removed" | "absent" | "kept"> {
  if (declaredHere.has(declarationKey(props.connection, props.path))) {
    // A rename (host, resource, stack) or a replacement: the engine creates the new resource,
    // then deletes the old one. The file is the new one's now.
    console.error(`warning: ${props.connection.host}: delete ${props.path}: left in place because the current program still declares it`);
    return "kept";
  }
  const result = await writing(props.connection, () => removeFileIfUnchanged(pool, props.connection, props.path, props.sha256));
  if (result === "kept") {
    // Not an error: failing would block `pulumi destroy` forever; the engine log gets a warning.
    console.error(`warning: ${props.connection.host}: delete ${props.path}: left in place because it changed since haforge wrote it`);
  }
  return result;
}

/**
 * Loads this module inside the provider process (plain node: see self-loader.ts). The methods
 * below capture only this loader, which captures only strings.
 */
const loadImpl = selfLoader<typeof import("./remote-file")>(__filename);

/**
 * The dynamic provider, on the wire shape (`remoteFileWire`: packed from the program, packed or
 * flat from state). Its methods only forward to the module-level functions above.
 */
export const remoteFileProvider: dynamic.ResourceProvider<AnyInputs, AnyOutputs> = {
  async check(olds: AnyInputs, news: AnyInputs) {
    return loadImpl().remoteFileWire.check(olds, news);
  },
  async diff(_id: string, olds: AnyOutputs, news: AnyInputs) {
    return loadImpl().remoteFileWire.diff(olds, news);
  },
  async create(inputs: AnyInputs) {
    return loadImpl().remoteFileWire.create(inputs);
  },
  async read(id: string, props?: AnyOutputs) {
    return loadImpl().remoteFileWire.read(id, props);
  },
  async update(_id: string, olds: AnyOutputs, news: AnyInputs) {
    return loadImpl().remoteFileWire.update(olds, news);
  },
  async delete(_id: string, props: AnyOutputs) {
    await loadImpl().remoteFileWire.delete(props);
  },
};

// ---------------------------------------------------------------------------------------------
// Resource

export interface RemoteFileArgs {
  /** How to reach the host. Keep credentials out of state: prefer `privateKeyPath` or an agent. */
  readonly connection: pulumi.Input<HostConnection>;
  /** Absolute path on the host. Changing it replaces the resource. */
  readonly path: pulumi.Input<string>;
  /** Full content. Pass a `pulumi.secret` (or set `secret`) for keys, cookies, passwords. */
  readonly content: pulumi.Input<string>;
  /** `base64` when content is base64 of the bytes to write. @default "utf8" */
  readonly encoding?: "utf8" | "base64";
  /** Octal mode. @default "0644" */
  readonly mode?: pulumi.Input<string>;
  /** @default "root" */
  readonly owner?: pulumi.Input<string>;
  /** @default "root" */
  readonly group?: pulumi.Input<string>;
  /**
   * The content is secret: stored as a secret output and masked in diffs and errors.
   * A plain boolean because it decides which outputs are secret when the resource is declared.
   * @default false
   */
  readonly secret?: boolean;
  /** Host-side check run on the temp file before activation; `{file}` = its path. */
  readonly validate?: pulumi.Input<string>;
  /** Command run after the rename; on failure the previous file is restored. */
  readonly activate?: pulumi.Input<string>;
  /** Overwrite an out-of-band edit. @default false */
  readonly force?: pulumi.Input<boolean>;
  /** Keep the replaced file as `<path>.haforge-prev`. @default true */
  readonly backup?: pulumi.Input<boolean>;
  /** Key of the masked hashes of secret content in diffs and errors (kept secret). @default - random per process */
  readonly maskSalt?: pulumi.Input<string>;
  /**
   * Overwrite a secret file that exists with other content when state has none for it (an Output
   * when it is known only once Materials ran). @default false
   */
  readonly takeOver?: pulumi.Input<boolean>;
  /** The file holds generated key material (see RemoteFileInputs.keyFile). @default false */
  readonly keyFile?: boolean;
}

/**
 * Per-resource Outputs derived from inputs that many files share (one host's connection, the
 * cluster's mask salt) are made once per shared input: every Output costs the SDK several
 * tracked promises, and a 1,000-host program declares ~10,000 files.
 */
const connectionOutputs = new WeakMap<object, pulumi.Output<HostConnection>>();
function secretIfCredentials(input: pulumi.Input<HostConnection>): pulumi.Output<HostConnection> {
  const make = () =>
    pulumi
      .output(input)
      .apply((c) =>
        c.password !== undefined || c.privateKey !== undefined || c.passphrase !== undefined ? pulumi.secret(c) : pulumi.output(c),
      );
  if (!pulumi.Output.isInstance(input)) return make();
  let out = connectionOutputs.get(input);
  if (!out) connectionOutputs.set(input, (out = make()));
  return out;
}
const secretOutputs = new WeakMap<object, pulumi.Output<string>>();
function secretOnce(input: pulumi.Input<string>): pulumi.Output<string> {
  if (!pulumi.Output.isInstance(input)) return pulumi.secret(input);
  let out = secretOutputs.get(input);
  if (!out) secretOutputs.set(input, (out = pulumi.secret(input)));
  return out;
}

/**
 * A file on a host. Dynamic resources have the type token `pulumi-nodejs:dynamic:Resource`
 * (the SDK's, not ours); the class name is what our code and components see.
 */
/** The `__provider` text every RemoteFile stores: loads `remoteFileProvider` from this module (self-loader.ts). */
export const remoteFileProviderText = providerText(__filename, "remoteFileProvider");

export class RemoteFile extends SelfLoadedResource {
  declare readonly connection: pulumi.Output<HostConnection>;
  declare readonly spec: pulumi.Output<RemoteFileWireOutputs["spec"]>;
  /** What the provider last reported: sha256 (secret for a secret file), size, hostKeySeen, writes. */
  declare readonly facts: pulumi.Output<RemoteFileFacts>;

  constructor(name: string, args: RemoteFileArgs, opts: pulumi.CustomResourceOptions = {}) {
    const secret = args.secret ?? false;
    // A connection carrying a password or key text is stored as a secret (the engine keeps
    // secret inputs secret in this resource's outputs too).
    const connection = secretIfCredentials(args.connection);
    // Plain values only (Outputs in it are awaited in place by the SDK, no Output per field).
    const spec = {
      path: args.path,
      encoding: args.encoding ?? "utf8",
      mode: args.mode ?? "0644",
      owner: args.owner ?? "root",
      group: args.group ?? "root",
      secret,
      ...(args.validate === undefined ? {} : { validate: args.validate }),
      ...(args.activate === undefined ? {} : { activate: args.activate }),
      force: args.force ?? false,
      backup: args.backup ?? true,
      ...(args.keyFile ? { keyFile: true } : {}),
    };
    // takeOver is in spec only when true (state written without it stays the same).
    const withTakeOver = (t: boolean | undefined) => (t ? { ...spec, takeOver: true } : spec);
    const takeOver = args.takeOver;
    const props = {
      connection,
      spec: pulumi.Output.isInstance(takeOver) ? takeOver.apply(withTakeOver) : withTakeOver(takeOver as boolean | undefined),
      content: secret ? pulumi.secret(args.content) : args.content,
      ...(args.maskSalt === undefined ? {} : { maskSalt: secretOnce(args.maskSalt) }),
      facts: undefined,
    };
    // The full hash would confirm a guessed secret: a secret file's facts are secret in state.
    // (The content is an input only — stored once, secret as an input.)
    const secretOutputs = secret ? ["facts"] : [];
    super(remoteFileProviderText, name, props, {
      ...opts,
      additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), ...secretOutputs],
    });
  }
}
