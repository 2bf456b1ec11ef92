import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  ClockOffsetTracker,
  isFromTheFuture,
  isOutOfRange,
  sampleOf,
} from "../../../src/time/clock-offset.js";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_261_204;
const PROPERTY_RUNS = 300;

const WALL = 1_767_225_600_000; // 2026-01-01 in ms

/**
 * An exchange with a peer whose clock is `offset` ahead, legs of `out` and `back` ms, `hold` ms
 * inside the peer.
 */
function exchange(offset: number, out: number, back: number, hold = 0, t0 = WALL) {
  const t1 = t0 + out + offset;
  const t2 = t1 + hold;
  const t3 = t0 + out + hold + back;
  return { t0, t1, t2, t3 };
}

describe("clock offset from an NTP exchange", () => {
  it("measures the peer's offset exactly when both legs take the same time", () => {
    const sample = sampleOf(exchange(3_600_000, 2, 2, 1), 0);
    expect(sample).toEqual({ offsetMs: 3_600_000, errorMs: 2, atMs: 0 });
  });

  it("always holds the true offset within half the round trip, however the legs differ", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -86_400_000, max: 86_400_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 100 }),
        (offset, out, back, hold) => {
          const sample = sampleOf(exchange(offset, out, back, hold), 0);
          expect(sample).not.toBeNull();
          expect(Math.abs((sample?.offsetMs ?? 0) - offset)).toBeLessThanOrEqual(
            (sample?.errorMs ?? 0) + 1e-9,
          );
          expect(sample?.errorMs).toBe((out + back) / 2);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("drops an exchange during which our clock stepped back (negative round trip)", () => {
    expect(sampleOf({ t0: 1_000, t1: 1_010, t2: 1_011, t3: 990 }, 0)).toBeNull();
  });

  it("calls a peer out of range only when even the error bound cannot bring it within the limit", () => {
    expect(isOutOfRange({ offsetMs: 600, errorMs: 50 }, 500)).toBe(true);
    expect(isOutOfRange({ offsetMs: -600, errorMs: 50 }, 500)).toBe(true);
    expect(isOutOfRange({ offsetMs: 600, errorMs: 150 }, 500)).toBe(false);
    expect(isOutOfRange({ offsetMs: 400, errorMs: 0 }, 500)).toBe(false);
  });
});

describe("clock offset tracker", () => {
  it("trusts the sample with the smallest round trip within the window", () => {
    const tracker = new ClockOffsetTracker({ maxOffsetMs: 500, sampleWindowMs: 10_000 });
    tracker.record("b", exchange(100, 40, 0), 0); // measured 120 ± 20
    tracker.record("b", exchange(100, 1, 1), 1_000); // exact: 100 ± 1
    tracker.record("b", exchange(100, 0, 30), 2_000); // 85 ± 15
    expect(tracker.best("b", 2_000)).toEqual({ offsetMs: 100, errorMs: 1, atMs: 1_000 });
  });

  it("forgets samples older than the window, so a fixed clock is seen fixed", () => {
    const tracker = new ClockOffsetTracker({ maxOffsetMs: 500, sampleWindowMs: 10_000 });
    tracker.record("b", exchange(3_600_000, 1, 1), 0);
    tracker.record("c", exchange(3_600_000, 1, 1), 0);
    expect(tracker.verdict(5_000).inRange).toBe(false);
    tracker.record("b", exchange(0, 5, 5), 12_000);
    tracker.record("c", exchange(0, 5, 5), 12_000);
    const verdict = tracker.verdict(12_000);
    expect(verdict.inRange).toBe(true);
    expect(verdict.peers.map((peer) => peer.offsetMs)).toEqual([0, 0]);
    // And a peer unheard for a window stops voting.
    expect(tracker.verdict(30_000)).toMatchObject({ inRange: true, measured: 0 });
  });

  it("fences the one bad clock of a three-node cluster and only that one", () => {
    const hour = 3_600_000;
    const bad = new ClockOffsetTracker({ maxOffsetMs: 500 });
    bad.record("good-1", exchange(-hour, 1, 1), 0);
    bad.record("good-2", exchange(-hour, 1, 1), 0);
    expect(bad.verdict(0)).toMatchObject({ inRange: false, measured: 2, outOfRange: 2 });

    const good = new ClockOffsetTracker({ maxOffsetMs: 500 });
    good.record("bad", exchange(hour, 1, 1), 0);
    good.record("good-2", exchange(3, 1, 1), 0);
    expect(good.verdict(0)).toMatchObject({ inRange: true, measured: 2, outOfRange: 1 });
  });

  it("is fenced exactly when more than half of the measured peers are out of range", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 0, maxLength: 9 }), (bad) => {
        const tracker = new ClockOffsetTracker({ maxOffsetMs: 500 });
        bad.forEach((isBad, index) =>
          tracker.record(`n${index}`, exchange(isBad ? 10_000 : 0, 2, 2), 0),
        );
        const outOfRange = bad.filter(Boolean).length;
        const verdict = tracker.verdict(0);
        expect(verdict.outOfRange).toBe(outOfRange);
        expect(verdict.inRange).toBe(!(outOfRange * 2 > bad.length));
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("counts the majority over the peers it expects to measure when it has heard from fewer so far", () => {
    const tracker = new ClockOffsetTracker({ maxOffsetMs: 500 });
    tracker.record("bad", exchange(3_600_000, 1, 1), 0);
    expect(tracker.verdict(0).inRange).toBe(false);
    // Two live monitors, one heard from: 1 of 2 is not a majority.
    expect(tracker.verdict(0, 2)).toMatchObject({ inRange: true, measured: 1, outOfRange: 1 });
  });

  it("is not fenced before it measured anyone", () => {
    expect(new ClockOffsetTracker().verdict(0)).toMatchObject({ inRange: true, measured: 0 });
  });

  it("keeps at most samplesPerPeerMax samples per peer and peersMax peers", () => {
    const tracker = new ClockOffsetTracker({ samplesPerPeerMax: 2, peersMax: 2 });
    tracker.record("a", exchange(0, 1, 1), 0);
    tracker.record("a", exchange(0, 5, 5), 1);
    tracker.record("a", exchange(0, 6, 6), 2); // pushes out the best (oldest) one
    expect(tracker.best("a", 2)?.errorMs).toBe(5);
    expect(tracker.record("b", exchange(0, 1, 1), 2)).toBe(true);
    expect(tracker.record("c", exchange(0, 1, 1), 2)).toBe(false);
    expect(tracker.droppedSamples()).toBe(1);
  });
});

describe("records from the future", () => {
  it("are the ones stamped more than the allowed offset ahead of the wall clock", () => {
    expect(isFromTheFuture(1_500_001, 1_000_000, 500_000)).toBe(true);
    expect(isFromTheFuture(1_500_000, 1_000_000, 500_000)).toBe(false);
    expect(isFromTheFuture(0, 1_000_000, 500_000)).toBe(false);
  });
});
