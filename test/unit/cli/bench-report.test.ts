import { describe, expect, it } from "vitest";
import type { RunPhaseResult } from "../../../src/cli/bench/load-generator.js";
import { Recorder } from "../../../src/cli/bench/recorder.js";
import {
  buildResult,
  formatJson,
  formatText,
  type BenchParameters,
} from "../../../src/cli/bench/report.js";
import { WORKLOADS } from "../../../src/cli/bench/workload.js";

const PARAMETERS: BenchParameters = {
  keys: 500,
  valueSize: 100,
  distribution: "zipfian",
  concurrency: 16,
  durationS: 2,
  warmupS: 1,
  w: "quorum",
  r: "quorum",
  seed: 42,
  targetRate: null,
  load: true,
};

function runOf(
  recorder: Recorder,
  seconds: number,
  serviceRecorder: Recorder | null = null,
  clientCpuCores = 0.25,
): RunPhaseResult {
  return {
    seconds,
    recorder,
    interrupted: false,
    latencyFrom: serviceRecorder === null ? "send" : "due-time-when-behind",
    serviceRecorder,
    clientCpuCores,
  };
}

function sampleResult() {
  const run = new Recorder();
  for (let us = 1; us <= 1_000; us++) {
    run.recordLatency("read", us);
    run.recordLatency("update", us * 2);
  }
  run.recordError("update", "504 timeout");
  const load = new Recorder();
  for (let i = 0; i < 500; i++) load.recordLatency("update", 300);
  return buildResult({
    workload: WORKLOADS.a,
    nodes: ["http://127.0.0.1:7001", "http://127.0.0.1:7002"],
    local: null,
    parameters: PARAMETERS,
    load: { keys: 500, seconds: 0.25, recorder: load, interrupted: false },
    run: runOf(run, 2),
  });
}

describe("bench report", () => {
  it("--json prints one JSON object: parameters, load, run totals, and per operation throughput, percentiles and errors", () => {
    const text = formatJson(sampleResult());
    expect(text.endsWith("\n")).toBe(true);
    expect(text.trimEnd().split("\n")).toHaveLength(1);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(parsed).toEqual({
      workload: "a",
      description: WORKLOADS.a.description,
      nodes: ["http://127.0.0.1:7001", "http://127.0.0.1:7002"],
      local: null,
      parameters: PARAMETERS,
      load: {
        keys: 500,
        seconds: 0.25,
        throughput: 2_000,
        errorCount: 0,
        errors: {},
        interrupted: false,
      },
      run: {
        seconds: 2,
        operations: 2_000,
        throughput: 1_000,
        errorCount: 1,
        errors: { "504 timeout": 1 },
        latencyFrom: "send",
        interrupted: false,
        clientCpuCores: 0.25,
      },
      operations: {
        read: {
          count: 1_000,
          throughput: 500,
          errorCount: 0,
          errors: {},
          latencyMs: { mean: 0.501, p50: 0.5, p95: 0.95, p99: 0.99, p999: 0.999, max: 1 },
        },
        update: {
          count: 1_000,
          throughput: 500,
          errorCount: 1,
          errors: { "504 timeout": 1 },
          latencyMs: { mean: 1.001, p50: 1, p95: 1.9, p99: 1.98, p999: 1.998, max: 2 },
        },
      },
    });
  });

  it("reports only the operations a workload issues", () => {
    const run = new Recorder();
    run.recordLatency("read", 10);
    const result = buildResult({
      workload: WORKLOADS.c,
      nodes: ["http://a:1"],
      local: 1,
      parameters: PARAMETERS,
      load: null,
      run: runOf(run, 1),
    });
    expect(Object.keys(result.operations)).toEqual(["read"]);
    expect(result.load).toBeNull();
  });

  it("prints a table with throughput and p50/p95/p99/p99.9/max per operation, and the errors by kind", () => {
    const text = formatText(sampleResult());
    expect(text).toContain("1,000 ops/s");
    for (const column of ["ops/s", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms", "errors"])
      expect(text).toContain(column);
    expect(text).toMatch(
      /│ read +│ +1,000 │ +500 │ +0\.500 │ +0\.950 │ +0\.990 │ +0\.999 │ +1\.000 │ +0 │/,
    );
    expect(text).toMatch(/│ update +│ 504 timeout +│ +1 │/);
    // No terminal colours: the report is read by scripts too.
    expect(text).not.toContain("\u001b[");
    expect(text).not.toContain("may be what limits");
  });

  it("warns when the generator's own CPU was near one core", () => {
    const run = new Recorder();
    run.recordLatency("read", 10);
    const result = buildResult({
      workload: WORKLOADS.c,
      nodes: ["http://a:1"],
      local: null,
      parameters: PARAMETERS,
      load: null,
      run: runOf(run, 1, null, 0.97),
    });
    expect(result.run.clientCpuCores).toBe(0.97);
    expect(formatText(result)).toContain(
      "the load generator used 0.97 cores of its one event loop: it may be what limits this run",
    );
  });

  it("says when latencies count from the due time of a paced run, and gives the service time beside them", () => {
    const fromDue = new Recorder();
    const fromSend = new Recorder();
    fromDue.recordLatency("update", 9_000);
    fromSend.recordLatency("update", 1_000);
    const result = buildResult({
      workload: WORKLOADS.w,
      nodes: ["http://a:1"],
      local: null,
      parameters: { ...PARAMETERS, targetRate: 100 },
      load: null,
      run: runOf(fromDue, 1, fromSend),
    });
    expect(result.operations.update?.latencyMs.p99).toBe(9);
    expect(result.operations.update?.serviceLatencyMs?.p99).toBe(1);
    const text = formatText(result);
    expect(text).toContain("coordinated omission");
    expect(text).toContain("update p50 1.000 ms, p99 1.000 ms");
    expect(text).toContain("target 100 ops/s");
    // A closed-loop run has no second set.
    expect(sampleResult().operations.read).not.toHaveProperty("serviceLatencyMs");
  });
});
