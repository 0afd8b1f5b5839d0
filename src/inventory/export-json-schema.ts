/** Writes schema/inventory.schema.json from the zod schema (`npm run schema`). */
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { inventoryJsonSchema } from "./json-schema";
import { inventoryReference } from "./reference";

const out = join(__dirname, "..", "..", "schema", "inventory.schema.json");
mkdirSync(join(out, ".."), { recursive: true });
const schema = inventoryJsonSchema();
writeFileSync(out, JSON.stringify(schema, null, 2) + "\n");
const ref = join(__dirname, "..", "..", "docs", "inventory-reference.md");
mkdirSync(join(ref, ".."), { recursive: true });
writeFileSync(ref, inventoryReference(schema));
console.log(`wrote ${out} and ${ref}`);
