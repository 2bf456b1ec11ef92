// bench/lib/report.ts — how every bench keeps its figures: bench/results/<name>.json (the numbers,
// with when and where they were measured) and bench/results/<name>.svg (a chart of them, rendered
// from a Vega-Lite spec without a browser). Benches print their own summary; this only writes
// files.

import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import type { TopLevelSpec } from "vega-lite";

export const RESULTS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "results",
);

export interface BenchReport {
  /** File stem under bench/results/, e.g. `gossip-convergence`. */
  readonly name: string;
  /** What was measured and how, in a sentence or two; kept in the JSON. */
  readonly description: string;
  /** The parameters of the run (seeds, sizes, durations), so a reader can repeat it. */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** The figures themselves. */
  readonly results: unknown;
  /** Targets and whether they were met, when the issue names any. */
  readonly targets?: readonly {
    readonly name: string;
    readonly target: string;
    readonly measured: string;
    readonly met: boolean;
  }[];
  /** A Vega-Lite spec with its data inline; rendered to <name>.svg. */
  readonly chart?: TopLevelSpec;
}

/** Renders a Vega-Lite spec to SVG text. */
export async function renderChart(spec: TopLevelSpec): Promise<string> {
  // Legends show whole series names: a truncated name on a chart is a name nobody can read.
  const withDefaults = {
    ...spec,
    config: { legend: { labelLimit: 0 }, ...spec.config },
  } as TopLevelSpec;
  const compiled = vegaLite.compile(withDefaults).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Writes `<name>.json` (and `<name>.svg` when there is a chart); returns the paths written. */
export async function writeBenchReport(report: BenchReport): Promise<string[]> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const jsonPath = path.join(RESULTS_DIR, `${report.name}.json`);
  const body = {
    name: report.name,
    description: report.description,
    measuredAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    parameters: report.parameters,
    targets: report.targets ?? [],
    results: report.results,
    // Kept so the chart can be drawn again (`npx tsx bench/lib/rechart.ts NAME`) without rerunning
    // the bench.
    chart: report.chart ?? null,
  };
  await writeFile(
    jsonPath,
    `${JSON.stringify(body, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value), 2)}\n`,
  );
  const written = [jsonPath];
  if (report.chart !== undefined) {
    const svgPath = path.join(RESULTS_DIR, `${report.name}.svg`);
    await writeFile(svgPath, await renderChart(report.chart));
    written.push(svgPath);
  }
  return written;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The q-quantile (0..1) by linear interpolation between closest ranks. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error("quantile of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
}
