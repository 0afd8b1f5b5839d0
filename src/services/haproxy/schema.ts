/**
 * The haproxy service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { name, port, SecretRef } from "../../inventory/schema-kit";
import { bindAddress, duration, hostName, httpCheck, identifier, userName } from "../../inventory/strings";

export const HaproxyBackend = z
  .object({
    name: name.describe("haproxy.cfg `backend <name>`"),
    mode: z.enum(["tcp", "http"]).default("tcp").describe("haproxy.cfg backend `mode`. @default tcp"),
    balance: z
      .enum(["roundrobin", "leastconn", "source", "first"])
      .default("roundrobin")
      .describe("haproxy.cfg backend `balance`. @default roundrobin"),
    servers: z
      .array(
        z
          .object({
            host: hostName.describe("Inventory host: `server <host> <its internal address>:<port> check`"),
            port: port().describe("The server's traffic port"),
          })
          .strict(),
      )
      .min(1)
      .describe("haproxy.cfg `server` lines, health-checked (`check inter <checkInterval>`)"),
    stickTable: z.boolean().default(false).describe("Single-active backend (e.g. Galera): stick on dst, others backup"),
    httpchk: httpCheck.optional().describe("e.g. `GET /healthz`; http checks against the servers"),
    checkPort: port()
      .optional()
      .describe(
        "Port the health check probes when it is not the traffic port (Galera clustercheck 9200, Patroni REST 8008). @default - the server's port",
      ),
    checkInterval: duration.default("1s").describe("haproxy.cfg `server ... inter`: time between health checks. @default 1s"),
  })
  .strict();
export const HaproxyFrontend = z
  .object({
    name: name.describe("haproxy.cfg `frontend <name>`"),
    bind: bindAddress.describe("`ADDRESS:PORT` or `*:PORT`; the VIP by default"),
    mode: z.enum(["tcp", "http"]).default("tcp").describe("haproxy.cfg frontend `mode` (http adds httplog and forwardfor). @default tcp"),
    backend: identifier.describe("haproxy.cfg `default_backend`: a backend's name"),
  })
  .strict();
export const Haproxy = z
  .object({
    hosts: z.array(hostName).default([]).describe("@default - the hosts of the first keepalived instance"),
    frontends: z.array(HaproxyFrontend).default([]).describe("haproxy.cfg `frontend` sections. @default []"),
    backends: z.array(HaproxyBackend).default([]).describe("haproxy.cfg `backend` sections. @default []"),
    stats: z
      .object({
        bind: bindAddress.describe("haproxy.cfg `listen stats` `bind`: `ADDRESS:PORT`, `*:PORT` or `:PORT`"),
        user: userName.default("admin").describe("User of `stats auth USER:PASSWORD`. @default admin"),
        password: SecretRef.optional().describe("Password of `stats auth`; without it the page is open (a finding). @default - none"),
      })
      .strict()
      .optional()
      .describe("The stats page (haproxy.cfg `listen stats`, `stats uri /`). @default - none"),
  })
  .strict();
