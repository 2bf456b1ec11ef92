// bench/sim-throughput.ts — how fast the data-path simulator runs (issue 15's figures): simulated
// client operations per second of wall time for a 5-node cluster, and seeds per minute, with the
// default fault plan and without faults. Each seed is a whole run (start, workload and faults,
// heal, repair, final reads and the judge); operations counted are the workload's. The machine
// may be shared, so each run's CPU time (this process's user + system) is kept beside its wall
// time, with the load average when the bench started: ops per CPU-second is the figure that
// other load on the machine disturbs least.
//
// Run: npx tsx bench/sim-throughput.ts [--seeds N] [--fault-phase-ms MS]
// Writes bench/results/sim-throughput.json. Target: ≥ 20,000 simulated operations per second.

import os from "node:os";
import { performance } from "node:perf_hooks";
import { DATA_RUN_DEFAULTS, runDataSimulation } from "../src/sim/data-run.js";
import { intFlag, seedList } from "./lib/sim.js";
import { median, writeBenchReport } from "./lib/report.js";

const TARGET_OPS_PER_S = 20_000;

interface SeedFigure {
  readonly seed: number;
  readonly faults: boolean;
  readonly operations: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly opsPerS: number;
  readonly opsPerCpuS: number;
  readonly ok: boolean;
}

async function measure(seed: number, faults: boolean, faultPhaseMs: number): Promise<SeedFigure> {
  const startedMs = performance.now();
  const cpuBefore = process.cpuUsage();
  const result = await runDataSimulation({
    ...DATA_RUN_DEFAULTS,
    seed,
    faultPhaseMs,
    faultKinds: faults ? DATA_RUN_DEFAULTS.faultKinds : new Set(),
  });
  const wallMs = performance.now() - startedMs;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    seed,
    faults,
    operations: result.operations,
    wallMs: Math.round(wallMs),
    cpuMs: Math.round(cpuMs),
    opsPerS: Math.round(result.operations / (wallMs / 1000)),
    opsPerCpuS: Math.round(result.operations / (cpuMs / 1000)),
    ok: result.check.ok,
  };
}

const seeds = seedList(intFlag("seeds", 5), 15_100);
const faultPhaseMs = intFlag("fault-phase-ms", 20_000);
const loadAverageAtStart = os.loadavg().map((load) => Math.round(load * 100) / 100);
const figures: SeedFigure[] = [];
for (const seed of seeds) {
  for (const faults of [true, false]) {
    const figure = await measure(seed, faults, faultPhaseMs);
    figures.push(figure);
    console.log(
      `seed ${seed} ${faults ? "faults" : "no faults"}: ${figure.operations} ops in ${figure.wallMs} ms (${figure.cpuMs} ms CPU) = ${figure.opsPerS} ops/s, ${figure.opsPerCpuS} ops/CPU-s ${figure.ok ? "ok" : "FAILED"}`,
    );
  }
}
const summary = (
  faults: boolean,
): { opsPerS: number; opsPerCpuS: number; seedsPerMinute: number } => {
  const runs = figures.filter((figure) => figure.faults === faults);
  return {
    opsPerS: median(runs.map((figure) => figure.opsPerS)),
    opsPerCpuS: median(runs.map((figure) => figure.opsPerCpuS)),
    seedsPerMinute: Math.round((60_000 / median(runs.map((figure) => figure.wallMs))) * 10) / 10,
  };
};
const withFaults = summary(true);
const withoutFaults = summary(false);
console.log(`load average at start: ${loadAverageAtStart.join(", ")} (${os.cpus().length} cpus)`);
console.log(
  `median with faults: ${withFaults.opsPerS} ops/s, ${withFaults.opsPerCpuS} ops/CPU-s, ${withFaults.seedsPerMinute} seeds/min`,
);
console.log(
  `median without faults: ${withoutFaults.opsPerS} ops/s, ${withoutFaults.opsPerCpuS} ops/CPU-s, ${withoutFaults.seedsPerMinute} seeds/min`,
);
const written = await writeBenchReport({
  name: "sim-throughput",
  description:
    "Simulated client operations per second of wall time and seeds per minute: whole runs of the data-path simulator (5 nodes, rf 3, 8 workers), with the default fault plan and without faults; medians over the seeds.",
  parameters: {
    seeds,
    faultPhaseMs,
    nodes: DATA_RUN_DEFAULTS.nodes,
    workers: DATA_RUN_DEFAULTS.workers,
    loadAverageAtStart,
  },
  results: { withFaults, withoutFaults, runs: figures },
  targets: [
    {
      name: "simulated operations per second (5 nodes, faults)",
      target: `≥ ${TARGET_OPS_PER_S}`,
      measured: String(withFaults.opsPerS),
      met: withFaults.opsPerS >= TARGET_OPS_PER_S,
    },
  ],
});
console.log(`wrote ${written.join(", ")}`);
