import { z } from "zod";
import { Inventory } from "./schema";

/** JSON Schema (draft 2020-12) of the YAML inventory, as editors read it (input side: defaults optional). */
export function inventoryJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(Inventory, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, $id: "https://haforge.dev/schema/inventory.schema.json", title: "haforge inventory" };
}
