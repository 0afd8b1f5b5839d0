/**
 * The Pacemaker CIB document haforge renders for one cluster: a small resource/constraint model
 * (built in TypeScript from the plan: inventory resources, fencing devices, remote nodes and the
 * lightweight layout) serialized to XML with xmlbuilder2, which does the escaping.
 *
 * Rules taken from upstream (Pacemaker Explained, "Configuration basics" and "Resources"):
 * https://clusterlabs.org/pacemaker/doc/2.1/Pacemaker_Explained/html/
 * - Every element that carries an `id` needs one unique in the whole CIB, and it must be an XML ID
 *   (starts with a letter or `_`). Ids here are derived from the owning object's id and the
 *   attribute name, the way pcs names them (`<rsc>-instance_attributes-<name>`,
 *   `<rsc>-monitor-interval-10s`), so an unchanged inventory yields unchanged ids and `crm_diff`
 *   shows no spurious delete/create pairs.
 * - A primitive appears once: inside the group that lists it, else inside the clone that wraps it,
 *   else at the top level. A clone wraps one primitive or one group. A promotable clone is
 *   `<clone>` with meta `promotable=true` (schema 3.0+; `<master>` is deprecated).
 * - `crm_feature_set` is NOT written (docs/lab.md: 3.16.2 > the supported 3.16.1 gives rc 76 on a
 *   replace); the cluster stamps its own on the live CIB.
 */
import { createHash } from "node:crypto";
import type { XMLBuilder } from "xmlbuilder2/lib/interfaces";

/**
 * Schema the document validates against. 3.7 is the first with the Promoted/Unpromoted role names
 * (Pacemaker 2.1.0); every Pacemaker >= 2.1 accepts it (Debian 12 ships 2.1.5, schemas up to 3.9).
 * The apply never pushes this attribute: it patches the live CIB, keeping the live validate-with.
 */
export const CIB_VALIDATE_WITH = "pacemaker-3.7";

/** Where the rendered CIB lives on every node (never the live /var/lib/pacemaker/cib/cib.xml). */
export const cibPath = (cluster: string): string => `/var/lib/haforge/pacemaker/${cluster}/cib.xml`;

export type Pairs = readonly (readonly [string, string])[];

export interface CibOp {
  readonly name: string;
  readonly interval: string;
  readonly timeout?: string;
  readonly role?: string;
}

export interface CibPrimitive {
  readonly kind: "primitive";
  readonly id: string;
  /** `ocf`, `stonith`, `systemd`, `lsb`, `service`. */
  readonly class: string;
  readonly provider?: string;
  readonly type: string;
  readonly params: Pairs;
  readonly meta: Pairs;
  readonly ops: readonly CibOp[];
}

export interface CibGroup {
  readonly kind: "group";
  readonly id: string;
  readonly meta: Pairs;
  readonly members: readonly CibPrimitive[];
}

export interface CibClone {
  readonly kind: "clone";
  readonly id: string;
  readonly promotable: boolean;
  readonly meta: Pairs;
  readonly child: CibPrimitive | CibGroup;
}

export type CibResource = CibPrimitive | CibGroup | CibClone;

export interface CibLocation {
  readonly id: string;
  readonly rsc: string;
  readonly node: string;
  readonly score: string;
}
export interface CibColocation {
  readonly id: string;
  readonly rsc: string;
  readonly withRsc: string;
  readonly score: string;
}
export interface CibOrder {
  readonly id: string;
  readonly first: string;
  readonly then: string;
  readonly kind: "Mandatory" | "Optional" | "Serialize";
}

export interface CibModel {
  /** cib-bootstrap-options, in render order. */
  readonly properties: Pairs;
  readonly nodes: readonly { readonly id: string; readonly uname: string }[];
  readonly resources: readonly CibResource[];
  readonly constraints: {
    readonly location: readonly CibLocation[];
    readonly colocation: readonly CibColocation[];
    readonly order: readonly CibOrder[];
  };
  /** rsc_defaults meta attributes (empty: section omitted). */
  readonly rscDefaults: Pairs;
  /** op_defaults meta attributes (empty: section omitted). */
  readonly opDefaults: Pairs;
}

/** Inventory values (string | number | boolean) as CIB strings. */
export const cibValue = (v: string | number | boolean): string => (typeof v === "boolean" ? (v ? "true" : "false") : String(v));

export const toPairs = (kv: Readonly<Record<string, string | number | boolean>>): Pairs =>
  Object.entries(kv).map(([k, v]) => [k, cibValue(v)] as const);

/**
 * Id fragment from free text (param names, intervals): XML IDs allow letters, digits, `_ - .`;
 * anything else becomes `-`. Only used for the suffixes haforge derives, never for user ids
 * (constraints reference those verbatim; the plan step reports invalid ones).
 */
export const idPart = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, "-");

/** Split `class:provider:type` / `class:type` (`ocf:heartbeat:IPaddr2`, `systemd:haproxy`). */
export function parseAgent(agent: string): { class: string; provider?: string; type: string } {
  const parts = agent.split(":");
  if (parts.length >= 3) return { class: parts[0]!, provider: parts[1]!, type: parts.slice(2).join(":") };
  if (parts.length === 2) return { class: parts[0]!, type: parts[1]! };
  // A bare name: the OCF heartbeat provider is the common case (the plan warns about it).
  return { class: "ocf", provider: "heartbeat", type: agent };
}

/** Operation id, pcs style: `<rsc>-<op>-interval-<interval>[-<role>]` (unique per rsc/op/interval/role). */
export const opId = (rsc: string, op: CibOp): string =>
  `${rsc}-${idPart(op.name)}-interval-${idPart(op.interval)}${op.role ? `-${idPart(op.role)}` : ""}`;

function nvset(parent: XMLBuilder, tag: string, id: string, pairs: Pairs): void {
  if (pairs.length === 0) return;
  const set = parent.ele(tag, { id });
  // One nvpair per name: a Map keeps the first position and the last value, so defaults listed
  // first are overridden by inventory values listed after them.
  const merged = new Map<string, string>();
  for (const [name, value] of pairs) merged.set(name, value);
  for (const [name, value] of merged) set.ele("nvpair", { id: `${id}-${idPart(name)}`, name, value });
}

function primitiveXml(parent: XMLBuilder, p: CibPrimitive): void {
  const attrs: Record<string, string> = { id: p.id, class: p.class };
  if (p.provider !== undefined) attrs["provider"] = p.provider;
  attrs["type"] = p.type;
  const el = parent.ele("primitive", attrs);
  nvset(el, "instance_attributes", `${p.id}-instance_attributes`, p.params);
  nvset(el, "meta_attributes", `${p.id}-meta_attributes`, p.meta);
  if (p.ops.length) {
    const ops = el.ele("operations");
    const seen = new Set<string>();
    for (const op of p.ops) {
      const id = opId(p.id, op);
      if (seen.has(id)) continue; // the same op twice would be a duplicate id
      seen.add(id);
      const a: Record<string, string> = { id, name: op.name, interval: op.interval };
      if (op.timeout !== undefined) a["timeout"] = op.timeout;
      if (op.role !== undefined) a["role"] = op.role;
      ops.ele("op", a);
    }
  }
}

function resourceXml(parent: XMLBuilder, r: CibResource): void {
  if (r.kind === "primitive") return primitiveXml(parent, r);
  if (r.kind === "group") {
    const g = parent.ele("group", { id: r.id });
    nvset(g, "meta_attributes", `${r.id}-meta_attributes`, r.meta);
    r.members.forEach((m) => primitiveXml(g, m));
    return;
  }
  const c = parent.ele("clone", { id: r.id });
  const meta: Pairs = r.promotable ? [["promotable", "true"], ...r.meta] : r.meta;
  nvset(c, "meta_attributes", `${r.id}-meta_attributes`, meta);
  resourceXml(c, r.child);
}

/** Serialize the model with a given epoch. */
function serialize(model: CibModel, epoch: number): string {
  // Loaded here, not at the top: planning (`haforge validate`) never serializes a CIB.
  const { create } = require("xmlbuilder2") as typeof import("xmlbuilder2");
  const doc = create();
  const cib = doc.ele("cib", {
    "validate-with": CIB_VALIDATE_WITH,
    epoch: String(epoch),
    admin_epoch: "0",
    num_updates: "0",
  });
  const conf = cib.ele("configuration");
  const crm = conf.ele("crm_config");
  // Pacemaker's own id for the bootstrap set: the controller writes dc-version etc. into it, and
  // the apply keeps those while replacing ours (see templates/pacemaker/cib-apply.sh).
  nvset(crm, "cluster_property_set", "cib-bootstrap-options", model.properties);
  const nodes = conf.ele("nodes");
  model.nodes.forEach((n) => nodes.ele("node", { id: n.id, uname: n.uname }));
  const resources = conf.ele("resources");
  model.resources.forEach((r) => resourceXml(resources, r));
  const cons = conf.ele("constraints");
  model.constraints.location.forEach((l) => cons.ele("rsc_location", { id: l.id, rsc: l.rsc, node: l.node, score: l.score }));
  model.constraints.colocation.forEach((c) => cons.ele("rsc_colocation", { id: c.id, rsc: c.rsc, "with-rsc": c.withRsc, score: c.score }));
  model.constraints.order.forEach((o) => cons.ele("rsc_order", { id: o.id, first: o.first, then: o.then, kind: o.kind }));
  if (model.rscDefaults.length) nvset(conf.ele("rsc_defaults"), "meta_attributes", "rsc-options", model.rscDefaults);
  if (model.opDefaults.length) nvset(conf.ele("op_defaults"), "meta_attributes", "op-options", model.opDefaults);
  // Every node "cleanly down": the state of a cluster that has not started. crm_verify runs the
  // scheduler over the document; with an empty <status/> every configured node is "unseen" and,
  // with stonith-enabled (startup-fencing defaults to true), scheduled for fencing, which
  // crm_verify reports as rc 78 ("Scheduling node X for fencing ... node is unclean") although
  // the configuration is fine. The apply never pushes this section (it keeps the live status).
  const status = cib.ele("status");
  model.nodes.forEach((n) =>
    status.ele("node_state", { id: n.id, uname: n.uname, in_ccm: "false", crmd: "offline", join: "down", expected: "down" }),
  );
  return doc.end({ headless: true, prettyPrint: true, indent: "  " }) + "\n";
}

/**
 * The epoch is derived from the content: sha256 of the document serialized with epoch 0, first
 * 24 bits, plus 1000. Same configuration, same epoch; any change gives another one.
 *
 * Why not a counter: render is pure and keeps no state. Why that is enough: the file is never
 * pushed with `cibadmin --replace` (which needs an epoch above the live one). cib-apply.sh builds
 * the new CIB from a copy of the LIVE one (so it starts at the live epoch, and every offline edit
 * bumps it) and applies a versioned `crm_diff` patch: the cluster moves to that higher epoch, and
 * a later apply starts again from the live epoch. The epoch written here never competes with the
 * live one; the 1000 floor only keeps it above the CIB a fresh Pacemaker creates by itself (epoch
 * 0 plus a few bumps), should anyone ever seed a new cluster with this document.
 */
export function cibEpoch(model: CibModel): number {
  const digest = createHash("sha256").update(serialize(model, 0)).digest();
  return 1000 + digest.readUIntBE(0, 3);
}

/** The full CIB document for a model (deterministic). */
export function cibXml(model: CibModel): string {
  return serialize(model, cibEpoch(model));
}
