/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return -- the SDK mocks' untyped arguments */
/**
 * The SDK's floor: what the Pulumi SDK itself costs per dynamic resource under the same mocks as
 * bench/program.ts, with nothing of haforge in the process. N trivial dynamic resources, each with
 * the inputs of a RemoteFile (17 properties: strings, a boolean, a connection object and a ~220 B
 * content) and a trivial provider (serialized once: the SDK caches it per provider object).
 * `--cheap` constructs them as the program does (components/sdk-cost.ts, one-line leak-report stacks).
 * `--packed` registers the same data as RemoteFile does now (src/providers/remote-file.ts, the wire
 * shape): five properties — connection, spec (the other fields in one plain object), content,
 * maskSalt and the one output, facts — instead of seventeen.
 * `--outputs` passes the content and the connection as Outputs (as the program does) instead of
 * plain values; `--parent` registers them under one component.
 * `--chunk N` yields to the event loop after every N constructions (0, the default: never), as the
 * program declares its resources (components/declaration.ts): the registrations of a chunk complete
 * before the next chunk is constructed, instead of every resource's pending registration being
 * alive at once.
 *
 *   npx tsx bench/sdk-floor.ts --resources 9700 [--outputs] [--parent] [--cheap] [--packed] [--chunk N]
 *
 * Prints one JSON line: resources, CPU seconds of the whole process, peak RSS. Time it from outside
 * (several runs) for wall figures; the program bench (bench/program.ts) reports the same columns.
 */
import * as pulumi from "@pulumi/pulumi";

const opt = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const flag = (name: string) => process.argv.includes(`--${name}`);

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: any) {
    return { id: "x", outs: inputs };
  },
};

class Trivial extends pulumi.dynamic.Resource {
  constructor(name: string, props: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, props, opts);
  }
}

async function main() {
  const n = Number(opt("resources") ?? 9700);
  const asOutputs = flag("outputs");
  const cheap = flag("cheap");
  const packedShape = flag("packed");
  const chunk = Number(opt("chunk") ?? 0);
  const c0 = process.cpuUsage();
  let registered = 0;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered++;
        return { id: `${args.name}-id`, state: { ...args.inputs, sha256: `sha-${args.name}`, size: 1 } };
      },
      call: (args) => args.inputs,
    },
    "haforge",
    "bench",
    false,
  );
  const parent = flag("parent") ? new pulumi.ComponentResource("bench:index:Parent", "floor") : undefined;
  const content = "# a rendered config file\n".repeat(9);
  const last: pulumi.Output<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const host = `host${Math.floor(i / 10)}`;
    const connection = {
      host,
      address: `10.0.${i >> 8}.${i & 255}`,
      port: 22,
      user: "root",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI",
    };
    const packed = () => ({
      connection: asOutputs ? pulumi.output(connection) : connection,
      spec: {
        path: `/etc/app/file-${i}.conf`,
        encoding: "utf8",
        mode: "0644",
        owner: "root",
        group: "root",
        secret: false,
        force: false,
        backup: true,
      },
      content: asOutputs ? pulumi.output(content) : content,
      maskSalt: "salt",
      facts: undefined,
    });
    const construct = () =>
      new Trivial(
        `floor-${host}-etc-file-${i}`,
        packedShape
          ? packed()
          : {
              connection: asOutputs ? pulumi.output(connection) : connection,
              path: `/etc/app/file-${i}.conf`,
              content: asOutputs ? pulumi.output(content) : content,
              encoding: "utf8",
              mode: "0644",
              owner: "root",
              group: "root",
              secret: false,
              validate: undefined,
              activate: undefined,
              force: false,
              backup: true,
              maskSalt: "salt",
              sha256: undefined,
              size: undefined,
              hostKeySeen: undefined,
              writes: undefined,
            },
        parent ? { parent } : {},
      );
    // --cheap: the program's cheapConstruction (components/sdk-cost.ts): one-line leak-report stacks.
    const limit = Error.stackTraceLimit;
    if (cheap) Error.stackTraceLimit = 0;
    const r = construct();
    Error.stackTraceLimit = limit;
    if (i % 1000 === 0) last.push(r.urn);
    if (chunk > 0 && (i + 1) % chunk === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(last.map((o) => (o as unknown as { promise(): Promise<unknown> }).promise()));
  await new Promise((r) => setTimeout(r, 200));
  const cpu = process.cpuUsage(c0);
  process.stdout.write(
    JSON.stringify({
      resources: n,
      shape: packedShape ? "packed (5 properties)" : "flat (17 properties)",
      chunk,
      registered,
      cpuS: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    }) + "\n",
  );
}

main().catch((e) => {
  process.stderr.write(String((e as Error)?.stack ?? e));
  process.exit(1);
});
