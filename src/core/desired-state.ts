/**
 * DesiredState: what every host (or Kubernetes target) must look like. Produced by the pure
 * render step, consumed by the thin adapters (CLI render/diff, Pulumi components, tests).
 * See docs/architecture.md, "Data flow".
 */

export type InitSystem = "systemd" | "supervisor";

export interface FileSpec {
  /** Inventory host name the file belongs to. */
  readonly host: string;
  /** Absolute path on the host. */
  readonly path: string;
  /** Full content. For secret files this holds the real value; adapters mask it (maskSecrets in src/core/secrets.ts). */
  readonly content: string;
  /**
   * How `content` encodes the file's bytes. "base64": content is base64 and the adapter writes the
   * DECODED bytes (binary key material such as the corosync authkey, which must be raw random
   * bytes). @default "utf8"
   */
  readonly encoding?: "utf8" | "base64";
  /** Octal mode string, e.g. "0644", "0400". */
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  /** True when the content carries secret material (keys, cookies, passwords). */
  readonly secret: boolean;
  /**
   * Host-side check run against the candidate file before it is activated. `{file}` is replaced by
   * the temp file's path (the check runs on the temp copy, beside the target). Exit 0 = accept.
   */
  readonly validate?: string;
  /**
   * The validate's verdict is taken at preview too: when the live file differs, the provider's
   * Check uploads the candidate beside it and runs `validate` there without replacing anything, so
   * a change the host would refuse (a cluster key under a running cluster, a corosync transport or
   * crypto change under a running corosync) fails `pulumi preview`, not only `pulumi up`. For
   * validates whose verdict depends on what runs on the host. @default false
   */
  readonly validateAtPreview?: boolean;
  /** Service names (ServiceSpec.name on the same host) to reload/restart when this file changes. */
  readonly notify: readonly string[];
  /**
   * Services (on the same host) that read this file only when they start as a NEW member (a
   * cluster-formation seed list: RabbitMQ's classic_config nodes). Their start waits for the
   * file, but a change restarts nothing: the members that run never read it again. @default []
   */
  readonly neededAtStart?: readonly string[];
  /**
   * Paths of other files of the same service on the same host that must be in place before this
   * one is written, because its `validate` reads them (rabbitmq.conf's `load_definitions` must
   * name a readable file). The engine creates independent resources in parallel: without this
   * the check races the write of the file it reads. @default []
   */
  readonly after?: readonly string[];
  /**
   * Ids of cluster actions of the same service on the same host that run BEFORE this file is
   * written (no action waits for such a file). A key the rotation procedure installs itself,
   * with the cluster stopped: the file then only finds its content in place. @default []
   */
  readonly afterActions?: readonly string[];
}

export interface ServiceSpec {
  readonly host: string;
  /** Service name as the manager knows it (systemd unit without .service / supervisor program). */
  readonly name: string;
  readonly manager: InitSystem;
  /** Command that reloads without a restart, when the daemon supports it. */
  readonly reload?: string;
  /** Command that restarts the service. */
  readonly restart: string;
  /** Command that exits 0 once the service is healthy (the gate between hosts in a roll). */
  readonly health?: string;
  /** Rolling group id (ClusterPlan.rollingGroups[].id) this service restarts within. */
  readonly rollGroup?: string;
  /**
   * Run on the host before the service stops for good there (the deprovisioning); when it fails,
   * nothing of the host is stopped and the deprovisioning fails: a member that may not leave now
   * (Pacemaker: the cluster would lose quorum without the node).
   */
  readonly leaveCheck?: string;
  /**
   * Run on the host once the service has stopped for good there (the deprovisioning of a host that
   * leaves the inventory, or destroy), only when the stop succeeded: what a later member of the
   * same name must not find (an etcd member's data directory: a re-added member must start empty).
   */
  readonly retire?: string;
}

export type ActionPhase = "bootstrap" | "post-start" | "converge" | "switchover";

export interface ClusterAction {
  /** Stable id, unique in the DesiredState: used as the Pulumi resource name suffix. */
  readonly id: string;
  /** Host that runs the command. */
  readonly host: string;
  readonly phase: ActionPhase;
  readonly description: string;
  /** Command run on create/update. */
  readonly create: string;
  /** Command run when the resource is deleted (deprovisioning), if any. */
  readonly delete?: string;
  /**
   * Hosts the delete moves on to, in order, when `host` answers it is not the place
   * (DELETE_ELSEWHERE_EXIT: it leaves in the same change, e.g.) or cannot be reached.
   */
  readonly deleteElsewhere?: readonly string[];
  /** Ids of actions that must complete first. */
  readonly dependsOn: readonly string[];
  /** Paths (on `host`) whose content hashes trigger a re-run. */
  readonly triggers: readonly string[];
  /** True when the command line carries secret material. */
  readonly secret: boolean;
}

/** A delete's exit code for "not on this host: the next of `deleteElsewhere`" (EX_TEMPFAIL). */
export const DELETE_ELSEWHERE_EXIT = 75;

export interface HostState {
  readonly host: string;
  readonly files: readonly FileSpec[];
  readonly services: readonly ServiceSpec[];
}

export interface DesiredState {
  readonly hosts: readonly HostState[];
  readonly actions: readonly ClusterAction[];
  /** Kubernetes manifests (target: kubernetes), as plain objects in apply order. */
  readonly manifests: readonly Record<string, unknown>[];
}

/** The bytes a FileSpec puts on disk (decodes `encoding: "base64"` content). */
export function fileBytes(f: Pick<FileSpec, "content" | "encoding">): Buffer {
  return Buffer.from(f.content, f.encoding === "base64" ? "base64" : "utf8");
}
