/**
 * Isolated instance groups (Tower 3.x): the controller group's instances drive jobs on the
 * isolated hosts over SSH as AWX_ISOLATED_USERNAME, which Tower's production settings set to
 * `awx`. Each isolated group gets its own key pair (material `tower/isolated/<group>/keypair`),
 * so revoking one group's access does not touch another's.
 *
 * - Controller instances get the private key and an SSH client config for the awx user that maps
 *   each isolated instance's hostname (what Tower passes to ansible, the `--hostname` it was
 *   provisioned with) to its internal address and to that group's key.
 * - Isolated hosts get the public keys in the awx user's authorized_keys. sshd reads only
 *   ~/.ssh/authorized_keys(2) unless its config is changed, and the awx account on an isolated
 *   node exists only to be driven by the controller, so haforge owns that file whole (an
 *   operator's own keys belong on their own account).
 */
import type { MaterialSpec } from "../../core/materials";
import type { ClusterPlan, IsolatedGroupPlan } from "../../plan/types";

export const AWX_HOME = "/var/lib/awx";
export const AWX_SSH_DIR = `${AWX_HOME}/.ssh`;
export const AWX_SSH_CONFIG = `${AWX_SSH_DIR}/config`;
export const AWX_AUTHORIZED_KEYS = `${AWX_SSH_DIR}/authorized_keys`;

export const keypairKey = (group: string): string => `tower/isolated/${group}/keypair`;
export const privateKeyPath = (group: string): string => `${AWX_SSH_DIR}/awx_isolated_${group}`;

/** The key only runs ansible and rsync: no agent, port or X11 forwarding. */
export const AUTHORIZED_KEY_OPTIONS = "no-agent-forwarding,no-port-forwarding,no-X11-forwarding";

export function isolatedMaterials(plan: ClusterPlan): MaterialSpec[] {
  return plan.isolatedGroups.map((g) => ({
    key: keypairKey(g.name),
    // 4096 bits as AWX's own generate_isolated_key.
    kind: { type: "rsa-keypair", bits: 4096, comment: `haforge-isolated-${g.name}` },
    description: `SSH key pair the "${g.controller}" instances use to reach isolated group "${g.name}"`,
  }));
}

export interface KeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

/**
 * The generated pair, or deterministic markers when the material is missing or malformed (render
 * never throws; the file's validate command and `haforge validate` catch the marker).
 */
export function keyPair(materials: Readonly<Record<string, string>>, group: string): KeyPair {
  const key = keypairKey(group);
  const raw = materials[key];
  const missing = `__HAFORGE_MISSING_MATERIAL_${key.replace(/[^A-Za-z0-9]/g, "_")}__`;
  if (raw !== undefined) {
    try {
      const v = JSON.parse(raw) as Partial<KeyPair>;
      if (typeof v.privateKey === "string" && typeof v.publicKey === "string") {
        return { privateKey: v.privateKey, publicKey: v.publicKey.trim() };
      }
    } catch {
      // fall through to the marker
    }
  }
  return { privateKey: missing + "\n", publicKey: missing };
}

/** Isolated groups controlled by `controllerGroup` (by instance group name). */
export function groupsControlledBy(plan: ClusterPlan, controllerGroup: string): IsolatedGroupPlan[] {
  return plan.isolatedGroups.filter((g) => g.controller === controllerGroup);
}
