/** Runs tests/program/library-program.ts under the mocks; the stand-in VMs get IPs 192.0.2.11-13. */
import { join } from "node:path";
import { emitRun, runUnderMocks } from "./mock-engine";

const ips: Record<string, string> = { "vm-a": "192.0.2.11", "vm-b": "192.0.2.12", "vm-c": "192.0.2.13" };
runUnderMocks(
  "lib",
  {},
  [],
  () => require(join(__dirname, "library-program.ts")),
  (type, name) => (type === "test:index:Vm" ? { ip: ips[name] } : {}),
)
  .then((run) => emitRun(run))
  .catch((e) => {
    process.stderr.write(String(e?.stack ?? e));
    process.exit(1);
  });
