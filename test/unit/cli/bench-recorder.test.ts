import { describe, expect, it } from "vitest";
import { OTHER_ERROR_KIND, Recorder, RECORDER_LIMITS } from "../../../src/cli/bench/recorder.js";

describe("bench recorder", () => {
  it("reports percentiles of known latencies exactly at microsecond resolution", () => {
    const recorder = new Recorder();
    // 1..1000 µs once each: the k-th percentile is k·10 µs.
    for (let us = 1; us <= 1_000; us++) recorder.recordLatency("read", us);
    const summary = recorder.summary("read");
    expect(summary.count).toBe(1_000);
    expect(summary.errorCount).toBe(0);
    expect(summary.latencyMs).toEqual({
      count: 1_000,
      mean: 0.501,
      p50: 0.5,
      p95: 0.95,
      p99: 0.99,
      p999: 0.999,
      max: 1,
    });
  });

  it("keeps each operation's latencies apart and merges them for the overall p99", () => {
    const recorder = new Recorder();
    for (let i = 0; i < 99; i++) recorder.recordLatency("read", 100);
    recorder.recordLatency("update", 50_000);
    expect(recorder.summary("read").latencyMs.max).toBe(0.1);
    expect(recorder.summary("update").latencyMs.p50).toBeCloseTo(50, 1);
    expect(recorder.overallPercentileMs(99)).toBe(0.1);
    expect(recorder.overallPercentileMs(100)).toBeCloseTo(50, 1);
    expect(recorder.completed).toBe(100);
  });

  it("stays within 0.1% at large latencies and clamps beyond the histogram's range", () => {
    const recorder = new Recorder();
    recorder.recordLatency("update", 1_234_567);
    expect(Math.abs(recorder.summary("update").latencyMs.max - 1_234.567) / 1_234.567).toBeLessThan(
      0.001,
    );
    recorder.recordLatency("read", RECORDER_LIMITS.latencyUsMax * 10);
    expect(
      Math.abs(recorder.summary("read").latencyMs.max - RECORDER_LIMITS.latencyUsMax / 1000) /
        (RECORDER_LIMITS.latencyUsMax / 1000),
    ).toBeLessThan(0.001);
  });

  it("never reports a percentile above the max, though HDR buckets round up", () => {
    const recorder = new Recorder();
    // 610,664 µs lands in a bucket whose highest equivalent value is above it.
    for (let i = 0; i < 999; i++) recorder.recordLatency("read", 1_000);
    recorder.recordLatency("read", 610_664);
    const latency = recorder.summary("read").latencyMs;
    expect(latency.max).toBe(610.664);
    expect(latency.p999).toBeLessThanOrEqual(latency.max);
    expect(recorder.overallPercentileMs(100)).toBe(610.664);
  });

  it("counts errors by kind, most frequent first, and totals them over operations", () => {
    const recorder = new Recorder();
    recorder.recordError("update", "504 timeout");
    recorder.recordError("update", "503 unavailable");
    recorder.recordError("update", "503 unavailable");
    recorder.recordError("read", "404 not_found");
    recorder.recordError("read", "503 unavailable");
    expect(recorder.summary("update").errors).toEqual({ "503 unavailable": 2, "504 timeout": 1 });
    expect(Object.keys(recorder.summary("update").errors)).toEqual([
      "503 unavailable",
      "504 timeout",
    ]);
    expect(recorder.summary("update").errorCount).toBe(3);
    expect(recorder.errorsByKind()).toEqual({
      "503 unavailable": 3,
      "404 not_found": 1,
      "504 timeout": 1,
    });
    expect(recorder.failed).toBe(5);
    expect(recorder.summary("read").latencyMs.p99).toBe(0);
  });

  it("counts kinds past the limit as `other` instead of growing without bound", () => {
    const recorder = new Recorder();
    for (let i = 0; i < RECORDER_LIMITS.errorKindsMax + 10; i++)
      recorder.recordError("read", `5${i} weird`);
    recorder.recordError("read", "50 weird");
    const errors = recorder.summary("read").errors;
    expect(Object.keys(errors)).toHaveLength(RECORDER_LIMITS.errorKindsMax + 1);
    expect(errors[OTHER_ERROR_KIND]).toBe(10);
    expect(errors["50 weird"]).toBe(2);
  });
});
