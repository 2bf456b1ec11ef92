// cli/bench/load-generator.ts — YCSB's client loop over the KV client: a load phase that writes
// every record once, then a timed run phase of the workload's operation mix.
//
// Closed loop, as YCSB's client threads: `concurrency` workers, each with one request in flight,
// issuing its next operation as soon as the previous one answers; requests go round-robin over the
// nodes so every node coordinates the same share (SPEC §6: "requests spread across them"). Only
// operations that start after the warm-up are measured; the measured window runs from the end of
// the warm-up until the last in-flight operation has answered, so throughput = measured successes
// / window.
//
// With a target rate the run is paced the way YCSB's `-target` and wrk2 pace it: operation k of
// the run is due at start + k/rate, the worker that takes slot k sleeps until then, and a worker
// that is already past its slot (because earlier answers were slow) sends at once and measures
// its latency from the slot's due time, not from when it could finally send. That counts the
// queueing a closed loop would otherwise hide (coordinated omission, Gil Tene). A worker that
// slept measures from its send, so timer slack in this process is not charged to the server.
//
// Progress is polled from counters once per `progressIntervalMs` rather than reported per
// operation, so watching a run costs nothing on the hot path.

import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { assert } from "../../core/assert.js";
import { createRandom, forkSeed, type Random } from "../../core/random.js";
import { createKeyChooser, recordKey, type KeyDistribution } from "./key-chooser.js";
import { type KvClient, type RequestOutcome } from "./kv-client.js";
import { Recorder } from "./recorder.js";
import type { NodeRoute } from "./token-route.js";
import { operationChooser, type Workload } from "./workload.js";

export const LOAD_GENERATOR_LIMITS = {
  /** How often progress callbacks see fresh counters. */
  progressIntervalMs: 1_000,
  loadProgressIntervalMs: 200,
} as const;

/** Consistency levels as SPEC §2 spells them in the query (`quorum`, `2`). */
export interface ConsistencyChoice {
  readonly w: string;
  readonly r: string;
}

export interface LoadPhaseOptions {
  readonly client: KvClient;
  readonly keyCount: number;
  readonly value: Buffer;
  readonly concurrency: number;
  readonly consistency: ConsistencyChoice;
  readonly signal?: AbortSignal;
  /** Which node each request goes to; absent: round-robin. */
  readonly route?: NodeRoute;
  readonly onProgress?: (progress: LoadProgress) => void;
}

export interface LoadProgress {
  readonly written: number;
  readonly failed: number;
  readonly total: number;
}

export interface LoadPhaseResult {
  readonly keys: number;
  readonly seconds: number;
  readonly recorder: Recorder;
  /** True when stopped early by the signal. */
  readonly interrupted: boolean;
}

export interface RunPhaseOptions {
  readonly client: KvClient;
  readonly workload: Workload;
  readonly keyCount: number;
  readonly distribution: KeyDistribution;
  readonly value: Buffer;
  readonly concurrency: number;
  readonly consistency: ConsistencyChoice;
  readonly durationS: number;
  readonly warmupS: number;
  /** Operations per second to pace the run at, or null for a closed loop at full speed. */
  readonly targetRate: number | null;
  readonly seed: number;
  readonly signal?: AbortSignal;
  /** Which node each request goes to; absent: round-robin. */
  readonly route?: NodeRoute;
  readonly onProgress?: (progress: RunProgress) => void;
}

export interface RunProgress {
  readonly phase: "warmup" | "run";
  readonly elapsedS: number;
  readonly totalS: number;
  /** Completed operations per second over the last interval, successes and failures together. */
  readonly intervalRate: number;
  /** Measured so far (after the warm-up). */
  readonly completed: number;
  readonly failed: number;
  readonly p99Ms: number;
}

export interface RunPhaseResult {
  /** The measured window: end of warm-up to the last answer. */
  readonly seconds: number;
  readonly recorder: Recorder;
  readonly interrupted: boolean;
  /** Where latencies are measured from; see the file comment. */
  readonly latencyFrom: "send" | "due-time-when-behind";
  /**
   * With a target rate: the same operations measured from their send (service time), to tell a
   * slow server (both high) from a schedule that fell behind (only `recorder` high). Null
   * otherwise.
   */
  readonly serviceRecorder: Recorder | null;
  /**
   * CPU this process used over the measured window, in cores. Near 1 the generator itself (one
   * event loop) may be what limits the run rather than the cluster.
   */
  readonly clientCpuCores: number;
}

function levelQuery(name: "w" | "r", level: string): string {
  return `?${name}=${encodeURIComponent(level)}`;
}

/** Writes records 0..keyCount-1 once each, `concurrency` at a time, in order. */
export async function runLoadPhase(options: LoadPhaseOptions): Promise<LoadPhaseResult> {
  const { client, keyCount, value, concurrency } = options;
  assert(concurrency >= 1 && keyCount >= 1, "load needs keys and workers");
  const recorder = new Recorder();
  const query = levelQuery("w", options.consistency.w);
  const nodes = client.nodeCount;
  let next = 0;
  let written = 0;
  const started = performance.now();
  const report = (): void =>
    options.onProgress?.({ written, failed: recorder.failed, total: keyCount });
  const timer = setInterval(report, LOAD_GENERATOR_LIMITS.loadProgressIntervalMs);
  timer.unref();
  const worker = async (): Promise<void> => {
    while (next < keyCount && options.signal?.aborted !== true) {
      const index = next++;
      const path = `/kv/${encodeURIComponent(recordKey(index))}${query}`;
      const sent = performance.now();
      const node = options.route?.(index, index) ?? index % nodes;
      const outcome = await client.put(node, path, value);
      written++;
      if (outcome === null) recorder.recordLatency("update", (performance.now() - sent) * 1000);
      else recorder.recordError("update", outcome);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, keyCount) }, worker));
  } finally {
    clearInterval(timer);
  }
  report();
  return {
    keys: written,
    seconds: (performance.now() - started) / 1000,
    recorder,
    interrupted: options.signal?.aborted === true && written < keyCount,
  };
}

/** The timed run of a workload; see the file comment for what is measured. */
export async function runRunPhase(options: RunPhaseOptions): Promise<RunPhaseResult> {
  const { concurrency, targetRate } = options;
  assert(concurrency >= 1, "a run needs workers");
  assert(targetRate === null || targetRate > 0, "a target rate is positive");
  const recorders: RunRecorders = {
    recorder: new Recorder(),
    serviceRecorder: targetRate === null ? null : new Recorder(),
  };
  const worker = runWorker(options, recorders);
  const { window, counters } = worker;
  const cpu = measureCpuAfterWarmup(window, options.warmupS);
  const progressTimer = reportRunProgress(options, window, counters, recorders.recorder);
  try {
    await Promise.all(Array.from({ length: concurrency }, worker.run));
  } finally {
    clearInterval(progressTimer);
    cpu.stopWaiting();
  }
  const clientCpuCores = cpu.cores();
  const interrupted = options.signal?.aborted === true && performance.now() < window.end;
  return {
    seconds: Math.max(0, counters.lastAnswer - window.warmupEnd) / 1000,
    recorder: recorders.recorder,
    interrupted,
    latencyFrom: targetRate === null ? "send" : "due-time-when-behind",
    serviceRecorder: recorders.serviceRecorder,
    clientCpuCores,
  };
}

/**
 * The run's clock: when it started, when the warm-up ends, when the run ends (performance.now()
 * ms).
 */
interface RunWindow {
  readonly start: number;
  readonly warmupEnd: number;
  readonly end: number;
}

/** What the workers share: the next pacing slot and node, the last answer, operations done. */
interface RunCounters {
  slot: number;
  nodeTurn: number;
  lastAnswer: number;
  completedAll: number;
}

interface RunRecorders {
  readonly recorder: Recorder;
  readonly serviceRecorder: Recorder | null;
}

/** The closed-loop (or paced) worker of the run, with the window and counters its copies share. */
function runWorker(
  options: RunPhaseOptions,
  { recorder, serviceRecorder }: RunRecorders,
): { run: () => Promise<void>; window: RunWindow; counters: RunCounters } {
  const { client, workload, keyCount, value, targetRate, route } = options;
  const random: Random = createRandom(options.seed);
  // Separate streams: the key sequence does not change when the operation mix does.
  const operations = operationChooser(workload, createRandom(forkSeed(random)));
  const keys = createKeyChooser(options.distribution, keyCount, createRandom(forkSeed(random)));
  const readQuery = levelQuery("r", options.consistency.r);
  const writeQuery = levelQuery("w", options.consistency.w);
  const nodes = client.nodeCount;
  const start = performance.now();
  const warmupEnd = start + options.warmupS * 1000;
  const window: RunWindow = { start, warmupEnd, end: warmupEnd + options.durationS * 1000 };
  const { end } = window;
  const slotMs = targetRate === null ? 0 : 1000 / targetRate;
  const counters: RunCounters = { slot: 0, nodeTurn: 0, lastAnswer: warmupEnd, completedAll: 0 };

  const run = async (): Promise<void> => {
    for (;;) {
      let now = performance.now();
      let measureFrom = now;
      if (targetRate !== null) {
        const due = start + counters.slot++ * slotMs;
        if (due > now) {
          if (due >= end) return;
          await sleep(due - now);
          now = performance.now();
          measureFrom = now;
        } else {
          measureFrom = due;
        }
      }
      if (now >= end || options.signal?.aborted === true) return;
      const sent = now;
      const operation = operations.next();
      const keyIndex = keys.next();
      const key = encodeURIComponent(recordKey(keyIndex));
      const turn = counters.nodeTurn++;
      const node = route === undefined ? turn % nodes : route(keyIndex, turn);
      let outcome: RequestOutcome;
      if (operation === "read") outcome = await client.get(node, `/kv/${key}${readQuery}`);
      else outcome = await client.put(node, `/kv/${key}${writeQuery}`, value);
      counters.completedAll++;
      if (measureFrom < warmupEnd) continue;
      const answered = performance.now();
      if (answered > counters.lastAnswer) counters.lastAnswer = answered;
      if (outcome === null) {
        recorder.recordLatency(operation, (answered - measureFrom) * 1000);
        serviceRecorder?.recordLatency(operation, (answered - sent) * 1000);
      } else {
        recorder.recordError(operation, outcome);
      }
    }
  };
  return { run, window, counters };
}

/** The generator's own CPU over the measured window, read when the warm-up ends. */
function measureCpuAfterWarmup(
  window: RunWindow,
  warmupS: number,
): { cores: () => number; stopWaiting: () => void } {
  let cpuAtWarmupEnd = process.cpuUsage();
  let wallAtWarmupEnd = window.start;
  const warmupTimer = setTimeout(() => {
    cpuAtWarmupEnd = process.cpuUsage();
    wallAtWarmupEnd = performance.now();
  }, warmupS * 1000);
  warmupTimer.unref();
  return {
    cores: () => {
      const cpu = process.cpuUsage(cpuAtWarmupEnd);
      const cpuWindowMs = performance.now() - wallAtWarmupEnd;
      return cpuWindowMs > 0 ? (cpu.user + cpu.system) / 1000 / cpuWindowMs : 0;
    },
    stopWaiting: () => {
      clearTimeout(warmupTimer);
    },
  };
}

/**
 * Polls the counters once per progressIntervalMs for options.onProgress; clear the returned timer.
 */
function reportRunProgress(
  options: RunPhaseOptions,
  window: RunWindow,
  counters: RunCounters,
  recorder: Recorder,
): NodeJS.Timeout {
  const { start, warmupEnd, end } = window;
  let previousCompleted = 0;
  let previousAt = start;
  const timer = setInterval(() => {
    const now = performance.now();
    const intervalRate =
      ((counters.completedAll - previousCompleted) * 1000) / Math.max(1, now - previousAt);
    previousCompleted = counters.completedAll;
    previousAt = now;
    options.onProgress?.({
      phase: now < warmupEnd ? "warmup" : "run",
      elapsedS: Math.min(end, now) / 1000 - start / 1000,
      totalS: (end - start) / 1000,
      intervalRate,
      completed: recorder.completed,
      failed: recorder.failed,
      p99Ms: recorder.overallPercentileMs(99),
    });
  }, LOAD_GENERATOR_LIMITS.progressIntervalMs);
  timer.unref();
  return timer;
}
