/**
 * The haforge Pulumi program: stack config → inventory → HaCluster → stack outputs.
 *   pulumi config set haforge:inventory inventories/lab.yaml
 *   pulumi config set --secret haforge:rabbitmqPassword ...
 *   pulumi up
 * Outputs have stable names for StackReference consumers (see examples/consumer).
 */
import * as pulumi from "@pulumi/pulumi";
import { HaCluster } from "./components/ha-cluster";
import { inventoryPathFromConfig, knownHostsFromConfig, stackSecrets } from "./components/stack-config";

const cfg = new pulumi.Config("haforge");
const inventory = inventoryPathFromConfig(cfg, __dirname);

const cluster = new HaCluster(pulumi.getStack(), {
  inventory,
  secrets: stackSecrets(inventory),
  force: cfg.getBoolean("force") ?? false,
  allowUnsafeMembership: cfg.getBoolean("allowUnsafeMembership") ?? false,
  ...(knownHostsFromConfig(cfg, __dirname) ? { knownHostsFile: knownHostsFromConfig(cfg, __dirname)! } : {}),
  // One deploy key for every host without credentials of its own (else ssh-agent / key paths).
  ...(cfg.getSecret("deployKey") ? { deployKey: cfg.getSecret("deployKey")! } : {}),
});

export const hosts = cluster.outputs.apply((o) => o.hosts);
export const vips = cluster.outputs.apply((o) => o.vips);
export const endpoints = cluster.outputs.apply((o) => o.endpoints);
export const instanceGroups = cluster.outputs.apply((o) => o.instanceGroups);
export const isolatedGroups = cluster.outputs.apply((o) => o.isolatedGroups);
export const rabbitmqNodes = cluster.outputs.apply((o) => o.rabbitmqNodes);
export const pacemakerClusters = cluster.outputs.apply((o) => o.pacemakerClusters);
/** Secret output: the broker URL with its password. */
export const brokerUrl = cluster.brokerUrl;
