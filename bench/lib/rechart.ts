// bench/lib/rechart.ts — draws bench/results/<name>.svg again from the chart spec kept in
// <name>.json, for when the chart's presentation changes and the figures do not. Usage: npx tsx
// bench/lib/rechart.ts NAME [NAME …]

import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { renderChart, RESULTS_DIR } from "./report.js";

for (const name of process.argv.slice(2)) {
  const body = JSON.parse(await readFile(path.join(RESULTS_DIR, `${name}.json`), "utf8")) as {
    chart?: TopLevelSpec | null;
  };
  if (body.chart === undefined || body.chart === null) {
    process.stderr.write(`${name}: no chart spec kept in its JSON; rerun the bench\n`);
    process.exitCode = 1;
    continue;
  }
  await writeFile(path.join(RESULTS_DIR, `${name}.svg`), await renderChart(body.chart));
  process.stdout.write(`redrew ${name}.svg\n`);
}
