// cli/bench/report.ts — a finished benchmark as one plain object (what `--json` prints) and as the
// text a person reads: a summary line, a table of throughput and latency percentiles per
// operation (YCSB's report, in milliseconds), and the errors by kind.

import Table from "cli-table3";
import type { KeyDistribution } from "./key-chooser.js";
import type { LoadPhaseResult, RunPhaseResult } from "./load-generator.js";
import type { LatencySummary } from "./recorder.js";
import { operationsOf, type OperationKind, type Workload, type WorkloadName } from "./workload.js";

export interface OperationReport {
  /** Measured operations that succeeded. */
  readonly count: number;
  /** Successes per second over the measured window. */
  readonly throughput: number;
  readonly errorCount: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly latencyMs: Omit<LatencySummary, "count">;
  /**
   * With --target-rate only: latency from each operation's send, without its wait behind schedule.
   */
  readonly serviceLatencyMs?: Omit<LatencySummary, "count">;
}

export interface BenchParameters {
  readonly keys: number;
  readonly valueSize: number;
  readonly distribution: KeyDistribution;
  readonly concurrency: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly w: string;
  readonly r: string;
  readonly seed: number;
  readonly targetRate: number | null;
  readonly load: boolean;
  /** How requests picked their node; absent in results from before `--client`. */
  readonly client?: "token-aware" | "any-node";
}

export interface BenchResult {
  readonly workload: WorkloadName;
  readonly description: string;
  readonly nodes: readonly string[];
  /** How many nodes the bench started itself, or null when it drove a running cluster. */
  readonly local: number | null;
  readonly parameters: BenchParameters;
  readonly load: {
    readonly keys: number;
    readonly seconds: number;
    readonly throughput: number;
    readonly errorCount: number;
    readonly errors: Readonly<Record<string, number>>;
    readonly interrupted: boolean;
  } | null;
  readonly run: {
    readonly seconds: number;
    readonly operations: number;
    readonly throughput: number;
    readonly errorCount: number;
    readonly errors: Readonly<Record<string, number>>;
    readonly latencyFrom: RunPhaseResult["latencyFrom"];
    readonly interrupted: boolean;
    /**
     * CPU the bench process used while measuring, in cores; near 1 the generator may be the
     * bottleneck.
     */
    readonly clientCpuCores: number;
  };
  readonly operations: Readonly<Partial<Record<OperationKind, OperationReport>>>;
}

const withoutCount = ({ count: _count, ...rest }: LatencySummary): Omit<LatencySummary, "count"> =>
  rest;
const rate = (count: number, seconds: number): number =>
  seconds > 0 ? Math.round((count / seconds) * 10) / 10 : 0;
const round3 = (value: number): number => Math.round(value * 1000) / 1000;

export interface BuildResultOptions {
  readonly workload: Workload;
  readonly nodes: readonly string[];
  readonly local: number | null;
  readonly parameters: BenchParameters;
  readonly load: LoadPhaseResult | null;
  readonly run: RunPhaseResult;
}

export function buildResult(options: BuildResultOptions): BenchResult {
  const { run, load } = options;
  const operations: Partial<Record<OperationKind, OperationReport>> = {};
  let count = 0;
  let errorCount = 0;
  for (const kind of operationsOf(options.workload)) {
    const summary = run.recorder.summary(kind);
    const { count: _count, ...latencyMs } = summary.latencyMs;
    const service = run.serviceRecorder?.summary(kind).latencyMs;
    operations[kind] = {
      count: summary.count,
      throughput: rate(summary.count, run.seconds),
      errorCount: summary.errorCount,
      errors: summary.errors,
      latencyMs,
      ...(service === undefined ? {} : { serviceLatencyMs: withoutCount(service) }),
    };
    count += summary.count;
    errorCount += summary.errorCount;
  }
  const loadSummary = load?.recorder.summary("update");
  return {
    workload: options.workload.name,
    description: options.workload.description,
    nodes: options.nodes,
    local: options.local,
    parameters: options.parameters,
    load:
      load === null || loadSummary === undefined
        ? null
        : {
            keys: load.keys,
            seconds: round3(load.seconds),
            throughput: rate(load.keys, load.seconds),
            errorCount: loadSummary.errorCount,
            errors: loadSummary.errors,
            interrupted: load.interrupted,
          },
    run: {
      seconds: round3(run.seconds),
      operations: count,
      throughput: rate(count, run.seconds),
      errorCount,
      errors: run.recorder.errorsByKind(),
      latencyFrom: run.latencyFrom,
      interrupted: run.interrupted,
      clientCpuCores: Math.round(run.clientCpuCores * 100) / 100,
    },
    operations,
  };
}

/** Past this share of a core, the bench's own event loop is close to saturated. */
const CLIENT_BUSY_CORES = 0.9;

// No colors: the output is read by people and by scripts alike (as `grapevine status`).
const NO_COLORS = { head: [], border: [] };

const number = (value: number): string =>
  value.toLocaleString("en-US", { maximumFractionDigits: 1 });
const ms = (value: number): string => value.toFixed(value >= 100 ? 1 : value >= 10 ? 2 : 3);

/** The human report: a few lines and two tables, ending in a newline. */
export function formatText(result: BenchResult): string {
  const lines = [...summaryLines(result), ...latencyTables(result), ...notes(result)];
  return `${lines.join("\n")}\n`;
}

/** What ran against what, the load phase and the run's totals. */
function summaryLines(result: BenchResult): string[] {
  const p = result.parameters;
  const lines: string[] = [];
  const where =
    result.local !== null
      ? `${result.local} local nodes`
      : `${result.nodes.length} node${result.nodes.length === 1 ? "" : "s"}`;
  lines.push(
    `workload ${result.workload} (${result.description}) against ${where}: ${result.nodes.join(", ")}`,
  );
  lines.push(
    `${number(p.keys)} keys, ${number(p.valueSize)}-byte values, ${p.distribution}, concurrency ${p.concurrency}, ` +
      `w=${p.w} r=${p.r}, seed ${p.seed}` +
      (p.client === undefined ? "" : `, client ${p.client}`) +
      (p.targetRate === null ? "" : `, target ${number(p.targetRate)} ops/s`),
  );
  if (result.load !== null) {
    lines.push(
      `load: ${number(result.load.keys)} keys in ${result.load.seconds.toFixed(1)} s (${number(result.load.throughput)} ops/s)` +
        (result.load.errorCount > 0 ? `, ${number(result.load.errorCount)} errors` : "") +
        (result.load.interrupted ? ", interrupted" : ""),
    );
  } else {
    lines.push("load: skipped (--no-load)");
  }
  lines.push(
    `run: ${number(result.run.operations)} operations in ${result.run.seconds.toFixed(1)} s after a ${p.warmupS} s warm-up: ` +
      `${number(result.run.throughput)} ops/s, ${number(result.run.errorCount)} errors` +
      (result.run.interrupted ? " (interrupted)" : ""),
  );
  return lines;
}

/** Latency by operation, and errors by kind when there were any. */
function latencyTables(result: BenchResult): string[] {
  const lines: string[] = [];
  const table = new Table({
    head: [
      "operation",
      "ops",
      "ops/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "p99.9 ms",
      "max ms",
      "errors",
    ],
    colAligns: ["left", "right", "right", "right", "right", "right", "right", "right", "right"],
    style: NO_COLORS,
  });
  for (const [kind, report] of Object.entries(result.operations)) {
    const l = report.latencyMs;
    table.push([
      kind,
      number(report.count),
      number(report.throughput),
      ms(l.p50),
      ms(l.p95),
      ms(l.p99),
      ms(l.p999),
      ms(l.max),
      number(report.errorCount),
    ]);
  }
  lines.push(table.toString());
  const errorRows = Object.entries(result.operations).flatMap(([kind, report]) =>
    Object.entries(report.errors).map(([errorKind, count]) => [kind, errorKind, number(count)]),
  );
  if (errorRows.length > 0) {
    const errors = new Table({
      head: ["operation", "error", "count"],
      colAligns: ["left", "left", "right"],
      style: NO_COLORS,
    });
    errors.push(...errorRows);
    lines.push("errors by kind:", errors.toString());
  }
  return lines;
}

/** Warnings on how to read the figures: a busy load generator, coordinated omission. */
function notes(result: BenchResult): string[] {
  const lines: string[] = [];
  if (result.run.clientCpuCores >= CLIENT_BUSY_CORES) {
    lines.push(
      `note: the load generator used ${result.run.clientCpuCores.toFixed(2)} cores of its one event loop: it may be what limits this run`,
    );
  }
  if (result.run.latencyFrom !== "send") {
    lines.push(
      "latency of an operation sent behind schedule is counted from when it was due (coordinated omission);",
    );
    const service = Object.entries(result.operations)
      .map(([kind, report]) =>
        report.serviceLatencyMs === undefined
          ? null
          : `${kind} p50 ${ms(report.serviceLatencyMs.p50)} ms, p99 ${ms(report.serviceLatencyMs.p99)} ms`,
      )
      .filter((text) => text !== null);
    lines.push(`measured from the send instead (service time): ${service.join("; ")}`);
  }
  return lines;
}

/** `--json`: the result as one JSON object on one line. */
export function formatJson(result: BenchResult): string {
  return `${JSON.stringify(result)}\n`;
}
