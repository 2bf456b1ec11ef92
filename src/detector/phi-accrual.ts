// detector/phi-accrual.ts — one subject's arrival window and the phi it implies.
//
// Theory of operation. The phi-accrual failure detector (Hayashibara, Défago, Yared, Katayama,
// "The φ Accrual Failure Detector", SRDS 2004) does not answer "up or down"; it answers how
// surprised we should be by the current silence: phi = -log10(P(a heartbeat arrives later than
// now)), where the inter-arrival times are modelled from the recent past. phi 1 means a 10 % chance
// that the silence is ordinary, phi 8 one in 10^8.
//
// State: a bounded ring buffer of the last `windowSizeMax` inter-arrival intervals with their
// running sum and sum of squares (O(1) per arrival, recomputed exactly each time the buffer wraps
// so floating-point drift cannot accumulate), the time of the last arrival, and a flag that says
// the next interval is not a real one (after a restart of the silence).
//
// Rules, as Akka's PhiAccrualFailureDetector applies them:
// - The intervals are modelled as a normal distribution, and the tail is computed with the
//   logistic approximation of the normal CDF (Bowling et al. 2009) that Akka uses:
//   F(y) ≈ 1 / (1 + e^(-y (1.5976 + 0.070566 y²))). So phi = -log10(1 - F) = softplus(x) / ln 10
//   with x = y (1.5976 + 0.070566 y²); written as a softplus it neither underflows to Infinity for
//   long silences nor loses precision near zero. It is capped at PHI_MAX so that a vote carrying it
//   stays a finite, JSON-serialisable number.
// - `acceptablePauseMs` is added to the mean: a pause of that length (a GC, a SIGSTOP, a 4 s stall)
//   is taken as ordinary, however regular the heartbeats were before it.
// - The standard deviation is floored at `minStdDevMs`: a perfectly regular sender (std ≈ 0) must
//   not be convicted a few milliseconds after its mean interval.
// - Until the first real interval is seen, the mean is `firstIntervalEstimateMs` and the deviation
//   a quarter of it (Akka's first-heartbeat estimate). Unlike Akka we do not seed the window with
//   pseudo-intervals: once an interval is observed, the statistics are exactly those of what was
//   observed.
// - From Cassandra's ArrivalWindow: an interval longer than `intervalMaxMs` is not recorded. Such a
//   gap is a pause or an outage, not the jitter-and-loss distribution the window models; counting
//   it would inflate the deviation for the next `windowSizeMax` arrivals and slow the next
//   detection. Pauses are what `acceptablePauseMs` is for.
//
// Guarantees: memory is bounded by `windowSizeMax`; phi is finite, >= 0, 0 at zero silence and
// non-decreasing in the silence.

import { assert } from "../core/assert.js";

export interface PhiAccrualOptions {
  /** Intervals kept; the oldest is dropped when full. */
  windowSizeMax: number;
  /** Floor of the standard deviation used for phi. */
  minStdDevMs: number;
  /** Added to the mean: a silence this much longer than usual is still ordinary. */
  acceptablePauseMs: number;
  /** The mean assumed before any interval was observed (the std dev is a quarter of it). */
  firstIntervalEstimateMs: number;
  /** Intervals longer than this are not recorded (Cassandra's MAX_INTERVAL); absent: all are. */
  intervalMaxMs?: number;
}

/**
 * The largest phi reported; the formula's own limit is Infinity, which JSON and votes cannot carry.
 */
export const PHI_MAX = 1_000_000;

/**
 * Standard deviations past mean + pause at which the logistic approximation reaches phi 8 (≈
 * 5.226).
 */
export const PHI_8_STD_DEVS = 5.226;

/**
 * Defaults for a 500 ms heartbeat (two per 1 s gossip round). Why these numbers, at phi 8 (crossed
 * 5.226 std devs past mean + pause — not the 5.61 of the exact normal tail, the logistic
 * approximation's tail is heavier):
 *
 * - Steady sender, no loss: mean 500, std floored to 200 → phi 8 at 500 + 4500 + 5.226 × 200
 *   ≈ 6045 ms of silence.
 * - 10 % loss: intervals are 500 × Geometric(0.9): mean 500 / 0.9 ≈ 556, std 500 × √0.1 / 0.9 ≈
 *   176, floored to 200 → phi 8 at ≈ 6101 ms.
 * - Detection: a crashed node's monitors cross phi 8 at most ≈ 6.1 s after its last heartbeat and
 *   see it at their next tick (≤ 0.5 s later), so the votes exist ≤ 6.6 s after the crash; gossip
 *   spreads them in about a second: every survivor convicts within ≈ 7.6 s < 8 s.
 * - No false conviction: a 4 s pause, plus up to one tick of phase (0.5 s), plus two lost
 *   heartbeats (1 s) is 5.5 s of silence: y = (5500 − 5000) / 200 = 2.5, phi ≈ 2.2. Even three lost
 *   heartbeats (6.0 s, y = 5, phi ≈ 7.3) stay below 8 on the most regular window; it takes four in
 *   a row at 10 % loss (p = 10⁻⁴ per monitor and pause, and two monitors must agree) to convict.
 * - The window holds 200 intervals (100 s at 500 ms): enough for a stable mean and deviation, a
 *   fifth of Akka's 1000, and it still forgets a changed network within two minutes.
 * - Intervals over 2.5 s (five heartbeats) are pauses, not jitter: at 10 % loss, four losses in a
 *   row (p = 10⁻⁴) are the only ordinary gaps that long.
 */
export const PHI_ACCRUAL_DEFAULTS: Readonly<Required<PhiAccrualOptions>> = Object.freeze({
  windowSizeMax: 200,
  minStdDevMs: 200,
  acceptablePauseMs: 4_500,
  firstIntervalEstimateMs: 500,
  intervalMaxMs: 2_500,
});

/** Akka's coefficients of the logistic approximation of the normal CDF. */
const LOGISTIC_LINEAR = 1.5976;
const LOGISTIC_CUBIC = 0.070566;

/**
 * phi = -log10(1 - F(elapsed)) for F the normal CDF of (mean, stdDev), by Akka's logistic
 * approximation. 0 for no silence, finite (at most PHI_MAX) for every silence, non-decreasing in
 * it.
 */
export function phiOf(elapsedMs: number, meanMs: number, stdDevMs: number): number {
  assert(!Number.isNaN(elapsedMs), "phiOf: elapsed is NaN");
  assert(Number.isFinite(meanMs), () => `phiOf: mean must be finite, got ${meanMs}`);
  assert(
    Number.isFinite(stdDevMs) && stdDevMs > 0,
    () => `phiOf: std dev must be positive, got ${stdDevMs}`,
  );
  if (elapsedMs <= 0) return 0;
  const y = (elapsedMs - meanMs) / stdDevMs;
  const x = y * (LOGISTIC_LINEAR + LOGISTIC_CUBIC * y * y);
  // softplus(x) = ln(1 + e^x), computed so that neither branch overflows or cancels.
  const softplus = Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  const phi = softplus / Math.LN10;
  // Infinity (an infinite silence, or x³ overflowing) becomes the cap; so does anything above it.
  return phi < PHI_MAX ? phi : PHI_MAX;
}

/**
 * Checks a set of phi-accrual options; a bad knob is a configuration bug, caught at construction.
 */
export function assertPhiAccrualOptions(options: PhiAccrualOptions): void {
  assert(
    Number.isSafeInteger(options.windowSizeMax) && options.windowSizeMax >= 1,
    () => `windowSizeMax must be a positive integer, got ${options.windowSizeMax}`,
  );
  assert(
    Number.isFinite(options.minStdDevMs) && options.minStdDevMs > 0,
    () => `minStdDevMs must be positive, got ${options.minStdDevMs}`,
  );
  assert(
    Number.isFinite(options.acceptablePauseMs) && options.acceptablePauseMs >= 0,
    () => `acceptablePauseMs must be >= 0, got ${options.acceptablePauseMs}`,
  );
  assert(
    Number.isFinite(options.firstIntervalEstimateMs) && options.firstIntervalEstimateMs > 0,
    () => `firstIntervalEstimateMs must be positive, got ${options.firstIntervalEstimateMs}`,
  );
  const intervalMaxMs = options.intervalMaxMs;
  assert(
    intervalMaxMs === undefined || intervalMaxMs > 0,
    () => `intervalMaxMs must be positive, got ${String(intervalMaxMs)}`,
  );
}

/** One subject's recent inter-arrival intervals, as seen by one monitor. */
export class ArrivalWindow {
  private readonly options: PhiAccrualOptions;
  private readonly intervalMaxMs: number;
  /** Ring buffer of intervals; `count` are valid, the oldest at `(next - count) mod size`. */
  private readonly intervals: Float64Array;
  private next = 0;
  private count = 0;
  private sumMs = 0;
  private sumOfSquaresMs2 = 0;
  private lastArrival: number;
  /**
   * The next arrival closes an interval that did not start with an arrival (a restarted silence).
   */
  private skipNextInterval = false;
  private ignoredIntervals = 0;

  constructor(options: PhiAccrualOptions, firstArrivalMs: number) {
    assertPhiAccrualOptions(options);
    assert(Number.isFinite(firstArrivalMs), "firstArrivalMs must be finite");
    this.options = options;
    this.intervalMaxMs = options.intervalMaxMs ?? Number.POSITIVE_INFINITY;
    this.intervals = new Float64Array(options.windowSizeMax);
    this.lastArrival = firstArrivalMs;
  }

  /** Intervals in the window (real observations only, at most `windowSizeMax`). */
  get samples(): number {
    return this.count;
  }

  /** When the current silence began: the last arrival, or the last restart. */
  get lastArrivalMs(): number {
    return this.lastArrival;
  }

  /** Intervals longer than `intervalMaxMs` that were seen and not recorded. */
  get intervalsIgnored(): number {
    return this.ignoredIntervals;
  }

  /** Mean interval of the window; the first-interval estimate while it is empty. */
  get meanMs(): number {
    if (this.count === 0) return this.options.firstIntervalEstimateMs;
    return this.sumMs / this.count;
  }

  /**
   * Population standard deviation of the window, before the floor; a quarter of the estimate while
   * empty.
   */
  get stdDevMs(): number {
    if (this.count === 0) return this.options.firstIntervalEstimateMs / 4;
    const mean = this.sumMs / this.count;
    // Rounding can make E[x²] − mean² slightly negative for near-constant intervals.
    const variance = Math.max(0, this.sumOfSquaresMs2 / this.count - mean * mean);
    return Math.sqrt(variance);
  }

  /** The deviation phi uses: the window's, floored at `minStdDevMs`. */
  get effectiveStdDevMs(): number {
    return Math.max(this.stdDevMs, this.options.minStdDevMs);
  }

  /**
   * A heartbeat arrived at `nowMs`: record the interval since the last one (if it is a real one).
   */
  record(nowMs: number): void {
    assert(Number.isFinite(nowMs), "record: nowMs must be finite");
    assert(
      nowMs >= this.lastArrival,
      () => `record: time went back from ${this.lastArrival} to ${nowMs}`,
    );
    const intervalMs = nowMs - this.lastArrival;
    this.lastArrival = nowMs;
    if (this.skipNextInterval) {
      this.skipNextInterval = false;
      return;
    }
    if (intervalMs > this.intervalMaxMs) {
      this.ignoredIntervals += 1;
      return;
    }
    this.push(intervalMs);
  }

  /**
   * Start the silence over at `nowMs` without recording an interval: the monitor itself was
   * stalled, or fresh evidence of life came another way. The next arrival closes no interval.
   */
  restartSilence(nowMs: number): void {
    assert(Number.isFinite(nowMs), "restartSilence: nowMs must be finite");
    this.lastArrival = Math.max(this.lastArrival, nowMs);
    this.skipNextInterval = true;
  }

  /** Milliseconds of silence at `nowMs` (0 if `nowMs` is before the last arrival). */
  silenceMs(nowMs: number): number {
    return Math.max(0, nowMs - this.lastArrival);
  }

  /** How surprising the silence at `nowMs` is; see the theory of operation. */
  phi(nowMs: number): number {
    return phiOf(
      this.silenceMs(nowMs),
      this.meanMs + this.options.acceptablePauseMs,
      this.effectiveStdDevMs,
    );
  }

  private push(intervalMs: number): void {
    const size = this.intervals.length;
    if (this.count === size) {
      const oldest = this.intervals[this.next] ?? 0;
      this.sumMs -= oldest;
      this.sumOfSquaresMs2 -= oldest * oldest;
    } else {
      this.count += 1;
    }
    this.intervals[this.next] = intervalMs;
    this.sumMs += intervalMs;
    this.sumOfSquaresMs2 += intervalMs * intervalMs;
    this.next = (this.next + 1) % size;
    // Once per lap, recompute the sums from scratch so that add/subtract rounding cannot drift.
    if (this.next === 0) this.resum();
  }

  private resum(): void {
    let sum = 0;
    let sumOfSquares = 0;
    for (let i = 0; i < this.count; i++) {
      const value = this.intervals[i] ?? 0;
      sum += value;
      sumOfSquares += value * value;
    }
    this.sumMs = sum;
    this.sumOfSquaresMs2 = sumOfSquares;
  }
}
