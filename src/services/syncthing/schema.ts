/**
 * The syncthing service's slice of the inventory schema (zod): its section's fields, kinds and
 * defaults. In the inventory layer (docs/architecture.md); src/inventory/schema.ts composes the
 * Inventory from every service's slice.
 */
import { z } from "zod";
import { name, port } from "../../inventory/schema-kit";
import { hostName, hostPath } from "../../inventory/strings";

export const SyncthingFolder = z
  .object({
    id: name.describe("config.xml `<folder id label>`: identical on every device sharing it"),
    path: hostPath.describe("config.xml `<folder path>`: the folder on each host"),
    hosts: z.array(hostName).min(2).describe("Hosts sharing the folder: its `<device>` entries (each host's syncthing device id)"),
    rescanIntervalS: z
      .number()
      .int()
      .min(0)
      .max(86400)
      .default(60)
      .describe("config.xml `<folder rescanIntervalS>`: full rescan period, seconds (0: never). @default 60"),
    fsWatcherDelayS: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(1)
      .describe("config.xml `<folder fsWatcherDelayS>`: seconds changes are gathered before a sync. @default 1"),
  })
  .strict();
export const Syncthing = z
  .object({
    folders: z
      .array(SyncthingFolder)
      .default([])
      .describe("Shared folders (config.xml `<folder>`); their hosts run syncthing. @default []"),
    guiPort: port()
      .default(8384)
      .describe("config.xml `<gui><address>127.0.0.1:<port>`: the REST API haforge checks sync through, loopback only. @default 8384"),
    listenPort: port()
      .default(22000)
      .describe("config.xml `<options><listenAddress>tcp://<internal address>:<port>` and peers' `<device><address>`. @default 22000"),
  })
  .strict();
