/** INI inventories: a password on a malformed line is never echoed; the default cookie is a finding even on one node. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { analyzeInventoryText } from "../../src/pipeline/analyze";

const base = "[tower]\ntower1\n\n[database]\ndb1\n\n[all:vars]\nrabbitmq_vhost=tower\n";

describe("INI findings never echo a password", () => {
  it("malformed lines holding a secret-named variable: the value is not in any finding", () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{10,20}$/).map((s) => `Zq${s}`);
    const broken = (v: string) =>
      fc.constantFrom(
        `[all:vars]\nrabbitmq_password ${v}\n`, // no '='
        `[all:vars]\nrabbitmq password=${v}\n`, // a space in the name
        `[all:vars\nrabbitmq_password=${v}\n`, // an unclosed section header on the line before
        `[tower]\ntower2 rabbitmq_password ${v}\n`, // a bare word on a host line
        `[tower:vars]\nadmin_password ${v}\n`,
        `[rabbitmq_password=${v}\n`,
        `[tower:children]\nrabbitmq_password=${v}\n`,
      );
    fc.assert(
      fc.property(
        secret.chain((v) => broken(v).map((extra) => ({ v, extra }))),
        ({ v, extra }) => {
          const a = analyzeInventoryText(base + extra, "inv.ini");
          const text = JSON.stringify(a.findings);
          assert.ok(!text.includes(v), `echoed in ${text}`);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("the default Erlang cookie", () => {
  it("is a finding on a single-node Tower too", () => {
    const a = analyzeInventoryText(
      "[tower]\ntower1\n\n[database]\ndb1\n\n[all:vars]\nrabbitmq_cookie=cookiemonster\nrabbitmq_password=abcdefgh\n",
      "one.ini",
    );
    assert.ok(
      a.findings.some((f) => f.code === "rabbitmq.cookie-default"),
      JSON.stringify(a.findings),
    );
    const b = analyzeInventoryText(
      "[tower]\ntower1\n\n[database]\ndb1\n\n[all:vars]\nrabbitmq_cookie=Xy7fP0q2LmN8rT5w\nrabbitmq_password=abcdefgh\n",
      "one.ini",
    );
    assert.ok(!b.findings.some((f) => f.code === "rabbitmq.cookie-default"));
  });
});
