/**
 * A consumer stack: reads a haforge stack's outputs by their stable names. Its own project and
 * package (Pulumi.yaml `main`, package.json), so the language host runs this file:
 *   cd examples/consumer && npm install && pulumi stack init dev
 *   pulumi config set haforgeStack organization/haforge/dev   # file backend: "organization" is literal
 *   pulumi up
 * With a passphrase secrets provider, reading ANY output of the haforge stack (secret or not)
 * needs that stack's passphrase: run with the same PULUMI_CONFIG_PASSPHRASE (or give both stacks
 * the same KMS secrets provider). A different passphrase fails with "incorrect passphrase".
 */
import * as pulumi from "@pulumi/pulumi";

const cfg = new pulumi.Config();
const ha = new pulumi.StackReference(cfg.require("haforgeStack"));

/** VIPs as `address/prefix`. */
export const vips = ha.getOutput("vips").apply((v: { address: string; prefix: number }[]) => v.map((x) => `${x.address}/${x.prefix}`));
/** Where apps connect: AMQP nodes (no password), Postgres endpoint, HAProxy frontends. */
export const amqp = ha.getOutput("endpoints").apply((e: { amqp: string[] }) => e.amqp);
export const postgres = ha.getOutput("endpoints").apply((e: { postgres?: string }) => e.postgres);
/** Instance-group membership, e.g. to place workloads. */
export const towerGroup = ha
  .getOutput("instanceGroups")
  .apply((gs: { name: string; instances: string[] }[]) => gs.find((g) => g.name === "tower")?.instances ?? []);
/** A secret output stays secret across the reference. */
export const brokerUrl = ha.getOutput("brokerUrl");
