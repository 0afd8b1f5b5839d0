/**
 * The building blocks of the inventory schema shared by its slices (src/inventory/schema.ts and
 * each service's src/services/<svc>/schema.ts): ports, secret references, nested defaults.
 */
import { z } from "zod";
import { configKey, envName, freeText, identifier, secretName, secretText } from "./strings";

/**
 * Every string field has a kind from ./strings.ts saying what it may be (unit name, interface
 * name, IP/CIDR, duration, URL, host name, path, identifier, free text without control
 * characters). A plain `z.string()` has no place in this file except for secret literals.
 */
export const name = identifier;

/** A TCP/UDP port (1..65535). */
export const port = () => z.number().int().min(1).max(65535);

/**
 * A nested object that may be left out: absent, it is what `{}` parses to, so its default is
 * written once, on its fields (the JSON Schema still shows the whole default object). Each parse
 * gets its own copy.
 */
export const defaulted = <T extends z.ZodObject>(schema: T) => schema.default(() => schema.parse({}) as z.util.NoUndefined<z.output<T>>);

/**
 * A secret value. Never a literal in example files: reference a Pulumi config secret (`secret:`)
 * or an environment variable (`env:`). `value:` exists because Tower INI files carry literals
 * (`rabbitmq_password=...`); a literal in YAML is accepted with a warning.
 */
export const SecretRef = z.union([
  z.object({ secret: secretName.describe("Pulumi config secret key (stack config `haforge:<key>` or `<ns>:<key>`)") }).strict(),
  z.object({ env: envName.describe("Environment variable holding the value") }).strict(),
  z.object({ value: secretText.describe("Literal value (discouraged: read as-is from Tower INI files)") }).strict(),
]);
export type SecretRef = z.infer<typeof SecretRef>;

/** A secret that may span lines (an SSH private key in PEM/OpenSSH format). */
export const KeySecretRef = z.union([
  z.object({ secret: secretName.describe("Pulumi config secret key (stack config `haforge:<key>` or `<ns>:<key>`)") }).strict(),
  z.object({ env: envName.describe("Environment variable holding the value") }).strict(),
  z.object({ value: z.string().describe("Literal value (discouraged)") }).strict(),
]);

/** Free-form key/value settings (cluster properties, resource parameters). */
export const KeyValues = z.record(configKey, z.union([freeText(), z.number(), z.boolean()])).default({});
