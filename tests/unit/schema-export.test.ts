/** The committed JSON Schema and inventory reference are what `npm run schema` generates now. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { inventoryJsonSchema } from "../../src/inventory/json-schema";
import { inventoryReference } from "../../src/inventory/reference";

const ROOT = join(__dirname, "..", "..");

describe("generated schema files", () => {
  it("schema/inventory.schema.json is current (run `npm run schema`)", () => {
    assert.equal(
      readFileSync(join(ROOT, "schema", "inventory.schema.json"), "utf8"),
      JSON.stringify(inventoryJsonSchema(), null, 2) + "\n",
    );
  });
  it("docs/inventory-reference.md is current and documents every top-level section", () => {
    const text = inventoryReference(inventoryJsonSchema());
    assert.equal(readFileSync(join(ROOT, "docs", "inventory-reference.md"), "utf8"), text);
    for (const k of [
      "hosts",
      "tower",
      "rabbitmq",
      "pacemaker",
      "keepalived",
      "haproxy",
      "quorumStore",
      "postgres",
      "syncthing",
      "activePassive",
      "kubernetes",
    ])
      assert.match(text, new RegExp(`^## \`${k}\``, "m"), k);
    assert.match(text, /## `pacemaker\.clusters`/);
  });
});
