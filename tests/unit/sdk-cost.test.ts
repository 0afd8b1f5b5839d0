/** cheapConstruction: one-line stacks while resources are constructed, the limit restored after. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
// @internal in the SDK (no typings): the wrapper every resource input promise goes through.
const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable") as {
  debuggablePromise: <T>(p: Promise<T>, ctx: string) => Promise<T>;
};
import { cheapConstruction } from "../../components/sdk-cost";

describe("cheapConstruction", () => {
  it("the SDK's leak-report stack of a promise made during construction is one line", () => {
    // debuggablePromise returns a .then() chain; the stack sits on the promise it was given.
    const inner = Promise.resolve(1) as Promise<number> & { _debugStackTrace?: string };
    cheapConstruction(() => void debuggablePromise(inner, "inner"));
    assert.equal(inner._debugStackTrace?.split("\n").length, 1, inner._debugStackTrace);
    const normal = Promise.resolve(1) as Promise<number> & { _debugStackTrace?: string };
    void debuggablePromise(normal, "normal");
    assert.ok((normal._debugStackTrace?.split("\n").length ?? 0) > 1, "outside cheapConstruction stacks are whole");
  });

  it("restores Error.stackTraceLimit whatever it was, also when construction throws", () => {
    const before = Error.stackTraceLimit;
    try {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 200 }), fc.boolean(), (limit, fail) => {
          Error.stackTraceLimit = limit;
          try {
            cheapConstruction(() => {
              assert.equal(Error.stackTraceLimit, 0);
              if (fail) throw new Error("boom");
            });
          } catch (e) {
            assert.ok(fail, String(e));
          }
          assert.equal(Error.stackTraceLimit, limit);
        }),
      );
    } finally {
      Error.stackTraceLimit = before;
    }
  });
});
