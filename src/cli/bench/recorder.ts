// cli/bench/recorder.ts — what a benchmark run measured: per operation, an HDR histogram of the
// latencies of the operations that succeeded, and a count of the ones that failed, by kind.
//
// Latencies are recorded in whole microseconds into histograms with 3 significant digits (Gil
// Tene's HdrHistogram, as YCSB's `hdrhistogram` measurement type keeps them): every percentile is
// within 0.1% of the true value at any magnitude, in a fixed few tens of KB, and recording is a
// few array writes, which matters because it runs once per operation on the generator's hot path.
// A latency above `latencyUsMax` is recorded as `latencyUsMax` (and shows as the max): nothing a
// benchmark should keep waiting for is that slow. Error kinds are short strings (`504 timeout`,
// `timeout`, `connection ECONNREFUSED`); past `errorKindsMax` distinct kinds, new ones count as
// `other` so a server returning random text cannot grow the map without bound.

import * as hdr from "hdr-histogram-js";
import { assert } from "../../core/assert.js";
import type { OperationKind } from "./workload.js";

export const RECORDER_LIMITS = {
  /** One minute: longer than any client timeout the bench uses. */
  latencyUsMax: 60_000_000,
  /** 3 significant digits: ±0.1% on every percentile (HdrHistogram's usual setting). */
  significantDigits: 3,
  /** Distinct error kinds kept per operation; further kinds are counted as `other`. */
  errorKindsMax: 32,
} as const;

export const OTHER_ERROR_KIND = "other";

/** Percentiles a report shows, in milliseconds with microsecond resolution. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface OperationSummary {
  /** Operations that succeeded (their latencies are in `latencyMs`). */
  readonly count: number;
  readonly errorCount: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly latencyMs: LatencySummary;
}

function newHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: RECORDER_LIMITS.latencyUsMax,
    numberOfSignificantValueDigits: RECORDER_LIMITS.significantDigits,
  });
}

const toMs = (us: number): number => Math.round(us) / 1000;

class OperationStats {
  readonly histogram = newHistogram();
  readonly errors = new Map<string, number>();
  errorCount = 0;

  summary(): OperationSummary {
    const h = this.histogram;
    const count = h.totalCount;
    // A percentile is its bucket's highest equivalent value, which can pass the exact max by up to
    // 0.1%; capping keeps p99.9 ≤ max as a reader expects.
    const at = (percentile: number): number =>
      count === 0 ? 0 : toMs(Math.min(h.getValueAtPercentile(percentile), h.maxValue));
    return {
      count,
      errorCount: this.errorCount,
      errors: Object.fromEntries(
        [...this.errors].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
      ),
      latencyMs: {
        count,
        mean: count === 0 ? 0 : Math.round(h.mean) / 1000,
        p50: at(50),
        p95: at(95),
        p99: at(99),
        p999: at(99.9),
        max: count === 0 ? 0 : toMs(h.maxValue),
      },
    };
  }
}

export class Recorder {
  readonly #stats = new Map<OperationKind, OperationStats>();
  /** Successes and failures of every operation, for progress lines. */
  #completed = 0;
  #failed = 0;

  #statsOf(operation: OperationKind): OperationStats {
    let stats = this.#stats.get(operation);
    if (stats === undefined) {
      stats = new OperationStats();
      this.#stats.set(operation, stats);
    }
    return stats;
  }

  /** One successful operation that took `latencyUs` microseconds. */
  recordLatency(operation: OperationKind, latencyUs: number): void {
    assert(
      latencyUs >= 0 && Number.isFinite(latencyUs),
      () => `a latency must be finite and non-negative, got ${latencyUs}`,
    );
    const value = Math.min(RECORDER_LIMITS.latencyUsMax, Math.max(1, Math.round(latencyUs)));
    this.#statsOf(operation).histogram.recordValue(value);
    this.#completed++;
  }

  /** One failed operation of the given kind (`503 unavailable`, `timeout`, …). */
  recordError(operation: OperationKind, kind: string): void {
    const stats = this.#statsOf(operation);
    const key =
      stats.errors.has(kind) || stats.errors.size < RECORDER_LIMITS.errorKindsMax
        ? kind
        : OTHER_ERROR_KIND;
    stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1);
    stats.errorCount++;
    this.#failed++;
  }

  get completed(): number {
    return this.#completed;
  }

  get failed(): number {
    return this.#failed;
  }

  /** The latency at `percentile` (0..100) over all operations so far, in ms; 0 before any. */
  overallPercentileMs(percentile: number): number {
    const merged = newHistogram();
    for (const stats of this.#stats.values()) merged.add(stats.histogram);
    const value =
      merged.totalCount === 0
        ? 0
        : toMs(Math.min(merged.getValueAtPercentile(percentile), merged.maxValue));
    merged.destroy();
    return value;
  }

  summary(operation: OperationKind): OperationSummary {
    return this.#statsOf(operation).summary();
  }

  /** Every error kind over all operations, summed. */
  errorsByKind(): Record<string, number> {
    const total = new Map<string, number>();
    for (const stats of this.#stats.values()) {
      for (const [kind, count] of stats.errors) total.set(kind, (total.get(kind) ?? 0) + count);
    }
    return Object.fromEntries([...total].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  }
}
