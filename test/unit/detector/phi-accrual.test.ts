import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { InvariantError } from "../../../src/core/assert.js";
import {
  ArrivalWindow,
  PHI_8_STD_DEVS,
  PHI_ACCRUAL_DEFAULTS,
  PHI_MAX,
  phiOf,
  type PhiAccrualOptions,
} from "../../../src/detector/phi-accrual.js";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_040_606;
const PROPERTY_RUNS = 500;

/** Akka's PhiAccrualFailureDetector.phi, transcribed branch for branch, as the reference. */
function akkaPhi(timeDiff: number, mean: number, stdDeviation: number): number {
  const y = (timeDiff - mean) / stdDeviation;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  if (timeDiff > mean) return -Math.log10(e / (1.0 + e));
  return -Math.log10(1.0 - 1.0 / (1.0 + e));
}

/** Arrivals at the given times into a window created at the first. */
function windowWith(options: PhiAccrualOptions, arrivalsMs: readonly number[]): ArrivalWindow {
  const [first, ...rest] = arrivalsMs;
  const window = new ArrivalWindow(options, first ?? 0);
  for (const t of rest) window.record(t);
  return window;
}

describe("phiOf", () => {
  it("gives -log10(0.5) when the silence equals the mean", () => {
    // mean 1000, std 100, elapsed 1000: y = 0, so e = exp(0) = 1, F = 1/(1+1) = 0.5,
    // phi = -log10(1 - 0.5) = log10(2) ≈ 0.30103.
    expect(phiOf(1000, 1000, 100)).toBeCloseTo(Math.log10(2), 12);
    expect(phiOf(1000, 1000, 100)).toBeCloseTo(0.30103, 5);
  });

  it("matches the value worked by hand two standard deviations past the mean", () => {
    // mean 1000, std 100, elapsed 1200: y = (1200 - 1000) / 100 = 2.
    // x = y (1.5976 + 0.070566 y²) = 2 × (1.5976 + 0.282264) = 2 × 1.879864 = 3.759728.
    // e = exp(-3.759728) ≈ 0.0232901; 1 - F = e / (1 + e) ≈ 0.0232901 / 1.0232901 ≈ 0.0227600.
    // phi = -log10(0.0227600) ≈ 1.642828.
    expect(phiOf(1200, 1000, 100)).toBeCloseTo(1.642828, 5);
  });

  it("matches the value worked by hand one standard deviation before the mean", () => {
    // mean 1000, std 100, elapsed 900: y = -1, x = -1 × (1.5976 + 0.070566) = -1.668166.
    // 1 - F = 1 / (1 + e^x) = 1 / (1 + 0.188592) ≈ 0.841334; phi = -log10(0.841334) ≈ 0.075031.
    expect(phiOf(900, 1000, 100)).toBeCloseTo(0.075031, 5);
  });

  it("agrees with Akka's two-branch formula wherever that formula is finite", () => {
    for (let y = -6; y <= 9; y += 0.125) {
      const elapsed = 5000 + y * 200;
      const expected = akkaPhi(elapsed, 5000, 200);
      expect(Number.isFinite(expected)).toBe(true);
      expect(phiOf(elapsed, 5000, 200)).toBeCloseTo(expected, 9);
    }
  });

  it("is 0 for no silence at all, and for a negative one", () => {
    expect(phiOf(0, 1000, 100)).toBe(0);
    expect(phiOf(0, 0.001, 100)).toBe(0);
    expect(phiOf(-50, 1000, 100)).toBe(0);
    expect(phiOf(Number.NEGATIVE_INFINITY, 1000, 100)).toBe(0);
  });

  it("stays finite, capped at PHI_MAX, for silences where Akka's formula gives Infinity", () => {
    expect(akkaPhi(10_000, 1000, 100)).toBe(Number.POSITIVE_INFINITY);
    const long = phiOf(10_000, 1000, 100);
    expect(Number.isFinite(long)).toBe(true);
    expect(long).toBeGreaterThan(1000); // y = 90: x ≈ 0.070566 × 90³ ≈ 51 445, phi ≈ 22 342
    expect(phiOf(1e12, 1000, 100)).toBe(PHI_MAX);
    expect(phiOf(Number.MAX_VALUE, 1000, 100)).toBe(PHI_MAX);
    expect(phiOf(Number.POSITIVE_INFINITY, 1000, 100)).toBe(PHI_MAX);
  });

  it("reaches phi 8 at PHI_8_STD_DEVS standard deviations past the mean", () => {
    expect(phiOf(5000 + (PHI_8_STD_DEVS - 0.01) * 200, 5000, 200)).toBeLessThan(8);
    expect(phiOf(5000 + (PHI_8_STD_DEVS + 0.01) * 200, 5000, 200)).toBeGreaterThan(8);
  });

  it("never decreases as the silence grows", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        (a, b, mean, std) => {
          const [shorter, longer] = a <= b ? [a, b] : [b, a];
          const low = phiOf(shorter, mean, std);
          const high = phiOf(longer, mean, std);
          expect(Number.isFinite(low) && Number.isFinite(high)).toBe(true);
          expect(low).toBeGreaterThanOrEqual(0);
          // A relative slack of 1e-12 absorbs last-bit rounding in x + log1p(e^-x).
          expect(high).toBeGreaterThanOrEqual(low * (1 - 1e-12));
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("refuses a non-positive standard deviation and a NaN silence as bugs", () => {
    expect(() => phiOf(100, 1000, 0)).toThrow(InvariantError);
    expect(() => phiOf(100, 1000, -1)).toThrow(InvariantError);
    expect(() => phiOf(Number.NaN, 1000, 100)).toThrow(InvariantError);
  });
});

describe("ArrivalWindow", () => {
  const options: PhiAccrualOptions = { ...PHI_ACCRUAL_DEFAULTS, intervalMaxMs: 10_000 };

  it("uses the first-interval estimate, with a quarter of it as deviation, before any interval", () => {
    const window = new ArrivalWindow({ ...options, firstIntervalEstimateMs: 1000 }, 0);
    expect(window.samples).toBe(0);
    expect(window.meanMs).toBe(1000);
    expect(window.stdDevMs).toBe(250);
  });

  it("computes the mean and population deviation of the observed intervals", () => {
    // Intervals 400, 500, 600: mean 500; deviations -100, 0, 100, variance (10⁴ + 0 + 10⁴) / 3.
    const window = windowWith(options, [0, 400, 900, 1500]);
    expect(window.samples).toBe(3);
    expect(window.meanMs).toBeCloseTo(500, 9);
    expect(window.stdDevMs).toBeCloseTo(Math.sqrt(20_000 / 3), 9);
  });

  it("floors the deviation at minStdDevMs when the heartbeats are regular", () => {
    // Intervals all 500: std 0, floored to 200; phi uses mean + pause = 500 + 4500.
    const window = windowWith(options, [0, 500, 1000, 1500, 2000]);
    expect(window.stdDevMs).toBe(0);
    expect(window.effectiveStdDevMs).toBe(200);
    expect(window.phi(2000 + 5600)).toBeCloseTo(phiOf(5600, 5000, 200), 12);
  });

  it("uses the observed deviation when it is above the floor", () => {
    // Intervals 100 and 900: mean 500, std 400 > 200.
    const window = windowWith(options, [0, 100, 1000]);
    expect(window.stdDevMs).toBeCloseTo(400, 9);
    expect(window.phi(1000 + 6000)).toBeCloseTo(phiOf(6000, 5000, 400), 12);
  });

  it("counts phi from the last arrival, with 0 at the arrival itself", () => {
    const window = windowWith(options, [0, 500, 1000]);
    expect(window.phi(1000)).toBe(0);
    expect(window.silenceMs(1700)).toBe(700);
    expect(window.phi(1700)).toBeCloseTo(phiOf(700, 5000, 200), 12);
  });

  it("keeps at most windowSizeMax intervals, forgetting the oldest", () => {
    const window = new ArrivalWindow({ ...options, windowSizeMax: 4 }, 0);
    const intervals = [1000, 1000, 1000, 1000, 100, 200, 300, 400];
    let t = 0;
    for (const interval of intervals) {
      t += interval;
      window.record(t);
    }
    expect(window.samples).toBe(4);
    expect(window.meanMs).toBeCloseTo(250, 9);
    expect(window.stdDevMs).toBeCloseTo(
      Math.sqrt((150 ** 2 + 50 ** 2 + 50 ** 2 + 150 ** 2) / 4),
      9,
    );
  });

  it("keeps exact statistics over many laps of the window", () => {
    const size = 7;
    const window = new ArrivalWindow({ ...options, windowSizeMax: size }, 0);
    const intervals: number[] = [];
    let t = 0;
    for (let i = 0; i < 10_000; i++) {
      const interval = 480 + ((i * 37) % 53) + (i % 3) * 0.1;
      intervals.push(interval);
      t += interval;
      window.record(t);
    }
    const last = intervals.slice(-size);
    const mean = last.reduce((s, x) => s + x, 0) / size;
    const std = Math.sqrt(last.reduce((s, x) => s + (x - mean) ** 2, 0) / size);
    expect(window.samples).toBe(size);
    expect(window.meanMs).toBeCloseTo(mean, 6);
    expect(window.stdDevMs).toBeCloseTo(std, 4);
  });

  it("does not record an interval longer than intervalMaxMs, but restarts the silence there", () => {
    const window = windowWith({ ...options, intervalMaxMs: 2500 }, [0, 500, 1000]);
    window.record(1000 + 4000);
    expect(window.samples).toBe(2);
    expect(window.intervalsIgnored).toBe(1);
    expect(window.meanMs).toBe(500);
    expect(window.lastArrivalMs).toBe(5000);
    window.record(5500);
    expect(window.samples).toBe(3);
  });

  it("records no interval for the first arrival after a restarted silence", () => {
    const window = windowWith(options, [0, 500, 1000]);
    window.restartSilence(9000);
    expect(window.silenceMs(9000)).toBe(0);
    window.record(9300);
    expect(window.samples).toBe(2);
    expect(window.meanMs).toBe(500);
    window.record(9800);
    expect(window.samples).toBe(3);
  });

  it("refuses time that goes back, and options that cannot work", () => {
    const window = windowWith(options, [0, 500]);
    expect(() => window.record(400)).toThrow(InvariantError);
    expect(() => new ArrivalWindow({ ...options, windowSizeMax: 0 }, 0)).toThrow(InvariantError);
    expect(() => new ArrivalWindow({ ...options, minStdDevMs: 0 }, 0)).toThrow(InvariantError);
    expect(() => new ArrivalWindow({ ...options, acceptablePauseMs: -1 }, 0)).toThrow(
      InvariantError,
    );
    expect(() => new ArrivalWindow({ ...options, firstIntervalEstimateMs: 0 }, 0)).toThrow(
      InvariantError,
    );
  });
});

describe("PHI_ACCRUAL_DEFAULTS", () => {
  const { acceptablePauseMs, minStdDevMs } = PHI_ACCRUAL_DEFAULTS;
  /** Silence at which phi reaches 8 for a window of this mean and deviation. */
  const crossingMs = (meanMs: number, stdDevMs: number): number =>
    meanMs + acceptablePauseMs + PHI_8_STD_DEVS * Math.max(stdDevMs, minStdDevMs);

  it("keeps a 4 s pause plus tick phase plus two lost heartbeats below phi 8", () => {
    // The most regular window (mean 500, std 0 → floor) is the least tolerant one.
    expect(crossingMs(500, 0)).toBeGreaterThan(4000 + 500 + 2 * 500);
    expect(phiOf(4000 + 500 + 2 * 500, 500 + acceptablePauseMs, minStdDevMs)).toBeLessThan(8);
  });

  it("crosses phi 8 soon enough at 10 % loss for an 8 s conviction everywhere", () => {
    // Intervals 500 × Geometric(0.9): mean 500 / 0.9, std 500 × √0.1 / 0.9.
    const crossing = crossingMs(500 / 0.9, (500 * Math.sqrt(0.1)) / 0.9);
    // One tick to notice it, about a second of gossip to spread the votes.
    expect(crossing + 500 + 1000).toBeLessThanOrEqual(8000);
  });
});
