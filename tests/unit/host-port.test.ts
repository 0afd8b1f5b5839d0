/** joinHostPort (src/plan/network.ts), the one way services write `host:port`: splitHostPort reads it back. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bracketIPv6, joinHostPort, splitHostPort } from "../../src/plan/network";

describe("joinHostPort", () => {
  it("round-trips through splitHostPort for IPv4, IPv6 and names (property)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        const joined = joinHostPort(host, port);
        assert.deepEqual(splitHostPort(joined), { host, port });
        assert.equal(joinHostPort(bracketIPv6(host), port), joined, "an address already in brackets is not bracketed twice");
      }),
      { numRuns: 500 },
    );
  });

  it("writes the forms the daemons read", () => {
    assert.equal(joinHostPort("10.0.0.1", 5432), "10.0.0.1:5432");
    assert.equal(joinHostPort("fd00::1", 2379), "[fd00::1]:2379");
    assert.equal(joinHostPort("[fd00::1]", 2379), "[fd00::1]:2379");
    assert.equal(joinHostPort("db.example", "8008"), "db.example:8008");
  });
});
