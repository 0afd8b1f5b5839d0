/**
 * haforge as a library: hosts whose addresses are Outputs of other resources created in the same
 * program (here a stand-in "VM" resource whose IP only the engine knows).
 */
import * as pulumi from "@pulumi/pulumi";
import { HaCluster } from "../../components/ha-cluster";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq3f8Ff2m3Vbq7cH8f2J5Jm7zq6n0c4Uu4Cq6ZcL3ab";

class Vm extends pulumi.CustomResource {
  declare readonly ip: pulumi.Output<string>;
  constructor(name: string) {
    super("test:index:Vm", name, { ip: undefined });
  }
}

const vms = ["a", "b", "c"].map((n) => new Vm(`vm-${n}`));
const cluster = new HaCluster("lib", {
  inventory: {
    name: "lib",
    hosts: ["a", "b", "c"].map((n) => ({ name: n, address: "203.0.113.250", ssh: { hostKey: KEY, privateKeyPath: "/nonexistent/key" } })),
    keepalived: { instances: [{ name: "vip", vip: "192.0.2.100/24", interface: "eth0", routerId: 60, hosts: ["a", "b", "c"] }] },
    haproxy: {
      frontends: [{ name: "web", bind: "192.0.2.100:80", backend: "web" }],
      backends: [
        {
          name: "web",
          servers: [
            { host: "a", port: 8080 },
            { host: "b", port: 8080 },
            { host: "c", port: 8080 },
          ],
        },
      ],
    },
    rabbitmq: { nodes: ["a", "b", "c"], password: { secret: "rabbitmqPassword" }, cookie: { secret: "rabbitmqCookie" } },
  },
  secrets: { rabbitmqPassword: pulumi.secret("lib-rabbit-pass"), rabbitmqCookie: pulumi.secret("LIBCOOKIELIBCOOKIE") },
  hostAddresses: { a: vms[0]!.ip, b: vms[1]!.ip, c: vms[2]!.ip },
});

export const hosts = cluster.outputs.apply((o) => o.hosts);
export const endpoints = cluster.outputs.apply((o) => o.endpoints);
export const brokerUrl = cluster.brokerUrl;
