/** Writes schema/inventory.schema.json from the zod schema (`npm run schema`). */
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { inventoryJsonSchema } from "./json-schema";

const out = join(__dirname, "..", "..", "schema", "inventory.schema.json");
mkdirSync(join(out, ".."), { recursive: true });
writeFileSync(out, JSON.stringify(inventoryJsonSchema(), null, 2) + "\n");
console.log(`wrote ${out}`);
