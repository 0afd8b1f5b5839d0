/**
 * The haforge Pulumi program: stack config → inventory → HaCluster → stack outputs.
 *   pulumi config set haforge:inventory inventories/lab.yaml
 *   pulumi config set --secret haforge:rabbitmqPassword ...
 *   pulumi up
 * Outputs have stable names for StackReference consumers (see examples/consumer).
 */
import * as pulumi from "./src/providers/pulumi-sdk";
import { HaCluster } from "./components/ha-cluster";
import { inventoryPathFromConfig, knownHostsFromConfig, stackSecrets } from "./components/stack-config";
import { PACKAGE_ROOT } from "./src/core/package-root";

// Paths in the stack config are relative to the project directory (this package's root), also
// when this module runs compiled from dist/program/ (scripts/build.js).
const cfg = new pulumi.Config("haforge");
const inventory = inventoryPathFromConfig(cfg, PACKAGE_ROOT);

// Resource names do not depend on the stack: the cluster component is "haforge" and every child
// is named from it (`haforge-<service>`, `haforge-<service>-<host>-<path>`, ...), so `pulumi stack
// rename` and a second stack of the same cluster change no URN. Stacks created before this name
// held `<stack>`, `<stack>-<service>`...: the alias maps them (Pulumi derives each child's alias
// from its parent's, by name prefix), so no resource is deleted and re-created.
// `haforge:legacyName` names the old prefix when the stack was renamed before migrating.
const cluster = new HaCluster(
  "haforge",
  {
    inventory,
    secrets: stackSecrets(inventory),
    force: cfg.getBoolean("force") ?? false,
    // Key/secret files that may be overwritten when state has none for them ("host:/path" or "*").
    ...(cfg.getObject<string[]>("takeOver") ? { takeOver: cfg.getObject<string[]>("takeOver")! } : {}),
    allowUnsafeMembership: cfg.getBoolean("allowUnsafeMembership") ?? false,
    ...(knownHostsFromConfig(cfg, PACKAGE_ROOT) ? { knownHostsFile: knownHostsFromConfig(cfg, PACKAGE_ROOT)! } : {}),
    // One deploy key for every host without credentials of its own (else ssh-agent / key paths).
    ...(cfg.getSecret("deployKey") ? { deployKey: cfg.getSecret("deployKey")! } : {}),
  },
  { aliases: [{ name: cfg.get("legacyName") ?? pulumi.getStack() }] },
);

export const hosts = cluster.outputs.apply((o) => o.hosts);
export const vips = cluster.outputs.apply((o) => o.vips);
export const endpoints = cluster.outputs.apply((o) => o.endpoints);
export const instanceGroups = cluster.outputs.apply((o) => o.instanceGroups);
export const isolatedGroups = cluster.outputs.apply((o) => o.isolatedGroups);
export const rabbitmqNodes = cluster.outputs.apply((o) => o.rabbitmqNodes);
export const pacemakerClusters = cluster.outputs.apply((o) => o.pacemakerClusters);
/** Secret output: the broker URL with its password. */
export const brokerUrl = cluster.brokerUrl;
