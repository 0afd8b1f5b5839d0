/**
 * What one inventory may expand to. Beyond these an inventory is a typo or an attack (a 1 KB
 * YAML of nested aliases expands to gigabytes, `web[0:9999]` on a few lines to a fleet, a 43 MB
 * INI exhausts memory): a finding with the limit, before anything is planned.
 */

/** Bytes of inventory text read at all. */
export const MAX_INVENTORY_BYTES = 8 * 1024 * 1024;

/** Hosts one inventory may define (INI ranges included). bench/growth plans 10,000. */
export const MAX_INVENTORY_HOSTS = 20_000;

/** Nodes of a YAML document with every alias expanded (a 10,000-host inventory has ~300,000). */
export const MAX_YAML_NODES = 2_000_000;

/** Characters of all strings of a YAML document with every alias expanded. */
export const MAX_YAML_CHARS = 64 * 1024 * 1024;
