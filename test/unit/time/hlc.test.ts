import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { HLC_DEFAULTS, HybridClock } from "../../../src/time/hlc.js";
import { InvariantError } from "../../../src/core/assert.js";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_240_611;
const PROPERTY_RUNS = 300;

const T0 = 1_767_225_600_000_000; // 2026-01-01 in microseconds

describe("hybrid logical clock", () => {
  it("follows the wall clock while it moves forward", () => {
    const clock = new HybridClock();
    expect(clock.now(T0)).toBe(T0);
    expect(clock.now(T0 + 10)).toBe(T0 + 10);
    expect(clock.now(T0 + 1_000_000)).toBe(T0 + 1_000_000);
  });

  it("counts up one microsecond per event while the wall clock stalls", () => {
    const clock = new HybridClock();
    expect([clock.now(T0), clock.now(T0), clock.now(T0)]).toEqual([T0, T0 + 1, T0 + 2]);
  });

  it("never goes back when the wall clock does", () => {
    const clock = new HybridClock();
    const first = clock.now(T0);
    const afterJumpBack = clock.now(T0 - 3_600_000_000);
    expect(afterJumpBack).toBe(first + 1);
    // And it rejoins the wall clock once the wall clock passes it again.
    expect(clock.now(T0 + 5)).toBe(T0 + 5);
  });

  it("issues strictly increasing timestamps under any wall clock (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant("now" as const),
              wallUs: fc.integer({ min: 0, max: 10_000 }),
            }),
            fc.record({
              kind: fc.constant("observe" as const),
              wallUs: fc.integer({ min: 0, max: 10_000 }),
              remoteUs: fc.integer({ min: 0, max: 20_000 }),
            }),
          ),
          { maxLength: 60 },
        ),
        (events) => {
          const clock = new HybridClock({ driftUsMax: 1_000 });
          let last = -1;
          let lastIssued = -1;
          for (const event of events) {
            if (event.kind === "now") {
              const issued = clock.now(T0 + event.wallUs);
              expect(issued).toBeGreaterThan(lastIssued);
              expect(issued).toBeGreaterThan(last);
              expect(issued).toBeGreaterThanOrEqual(T0 + event.wallUs);
              lastIssued = issued;
            } else {
              clock.observe(T0 + event.remoteUs, T0 + event.wallUs);
            }
            expect(clock.peekUs()).toBeGreaterThanOrEqual(last);
            last = clock.peekUs();
          }
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("orders its next write after a timestamp merged from a peer that is ahead", () => {
    const clock = new HybridClock();
    clock.now(T0);
    const peerUs = T0 + 2_000_000; // the peer's clock is 2 s ahead
    expect(clock.observe(peerUs, T0 + 1)).toBe("merged");
    expect(clock.now(T0 + 2)).toBe(peerUs + 1);
  });

  it("ignores a timestamp from a peer that is behind", () => {
    const clock = new HybridClock();
    clock.now(T0);
    expect(clock.observe(T0 - 5_000_000, T0 + 1)).toBe("behind");
    expect(clock.now(T0 + 1)).toBe(T0 + 1);
  });

  it("refuses and counts a peer timestamp more than the drift bound ahead of the wall clock", () => {
    const clock = new HybridClock();
    clock.now(T0);
    const tooFar = T0 + HLC_DEFAULTS.driftUsMax + 1;
    expect(clock.observe(tooFar, T0)).toBe("refused-ahead");
    expect(clock.now(T0 + 1)).toBe(T0 + 1);
    expect(clock.refusals()).toEqual({ aheadCount: 1, invalidCount: 0 });
    // Exactly at the bound is still merged.
    expect(clock.observe(T0 + HLC_DEFAULTS.driftUsMax, T0)).toBe("merged");
    expect(clock.refusals().aheadCount).toBe(1);
  });

  it("stays within the drift bound of the wall clock however far ahead peers claim to be (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 10 ** 12 })),
          { maxLength: 40 },
        ),
        (observations) => {
          const driftUsMax = 50_000;
          const clock = new HybridClock({ driftUsMax });
          let wallMax = 0;
          for (const [wallOffset, remoteOffset] of observations) {
            const wallUs = T0 + wallOffset;
            wallMax = Math.max(wallMax, wallUs);
            clock.observe(T0 + remoteOffset, wallUs);
            expect(clock.peekUs()).toBeLessThanOrEqual(wallMax + driftUsMax);
          }
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("refuses and counts remote values that are not timestamps", () => {
    const clock = new HybridClock();
    for (const bad of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 60]) {
      expect(clock.observe(bad, T0)).toBe("refused-invalid");
    }
    expect(clock.refusals()).toEqual({ aheadCount: 0, invalidCount: 5 });
    expect(clock.now(T0)).toBe(T0);
  });

  it("starts above the timestamp a restarted node passes in, even if its wall clock went back", () => {
    const clock = new HybridClock({ initialUs: T0 });
    expect(clock.now(T0 - 1_000_000)).toBe(T0 + 1);
  });

  it("treats a wall clock that is not an integer microsecond count as a bug", () => {
    const clock = new HybridClock();
    expect(() => clock.now(1.5)).toThrow(InvariantError);
    expect(() => clock.now(Number.NaN)).toThrow(InvariantError);
  });

  it("lets two nodes with skewed wall clocks order causally related writes", () => {
    // Node b's wall clock is 30 s behind node a's. a writes, b reads a's version and then
    // overwrites it: b's write must carry a later timestamp so last-write-wins keeps it.
    const a = new HybridClock();
    const b = new HybridClock();
    const skewUs = 30_000_000;
    const written = a.now(T0);
    expect(b.observe(written, T0 - skewUs + 10)).toBe("merged");
    const overwrite = b.now(T0 - skewUs + 20);
    expect(overwrite).toBeGreaterThan(written);
    // And a, hearing of b's write, stays ahead of it too.
    a.observe(overwrite, T0 + 30);
    expect(a.now(T0 + 30)).toBeGreaterThan(overwrite);
  });
});
