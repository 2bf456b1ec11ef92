// bench/gossip-convergence.ts — how many gossip rounds one new fact takes to reach every node, in
// the simulator, against ideal push-pull rumor spreading (issue: "within 1.5× of the ideal at N =
// 1,000, also with 5% message loss").
//
// The fact is a node's load (a non-urgent state, so it travels by the ordinary push-pull exchange
// and not by the eager rumors that carry votes): one node publishes a new load, and the bench polls
// every node's view of it every 50 ms of virtual time. Rounds = elapsed virtual time / gossip
// interval, counted from the moment the source itself holds the new value. The ideal is the
// textbook model: synchronous rounds, every node contacts one uniformly random other node, and both
// end up knowing when either did; with loss, the push half succeeds with probability (1-p) and the
// pull half, which needs a request and an answer, with (1-p)^2.
//
// Usage: npx tsx bench/gossip-convergence.ts [--sizes 16,64,256,1000] [--seeds 5] [--facts 3]

import type { ClusterView } from "../src/cluster/cluster-view.js";
import { createRandom, randomInt, type Random } from "../src/core/random.js";
import type { SimCluster } from "../src/sim/sim-cluster.js";
import { median, quantile, writeBenchReport } from "./lib/report.js";
import { intFlag, listFlag, seedList, settledCluster } from "./lib/sim.js";

const GOSSIP_INTERVAL_MS = 1_000;
const POLL_MS = 50;
const SIZES = listFlag("sizes", [16, 64, 256, 1_000]);
const SEEDS = intFlag("seeds", 3);
const FACTS = intFlag("facts", 3);
const LOSSES = [0, 0.05];
const IDEAL_RUNS = 400;

/** Rounds for one fact to reach all N nodes under ideal push-pull, one run. */
function idealRun(n: number, loss: number, random: Random): number {
  let knows = new Uint8Array(n);
  knows[0] = 1;
  let informed = 1;
  let rounds = 0;
  while (informed < n) {
    rounds++;
    const next = knows.slice();
    for (let caller = 0; caller < n; caller++) {
      let callee = randomInt(random, n - 1);
      if (callee >= caller) callee++;
      if (knows[caller] === 1 && random.next() >= loss) next[callee] = 1;
      if (knows[callee] === 1 && random.next() >= loss && random.next() >= loss) next[caller] = 1;
    }
    knows = next;
    informed = knows.reduce((sum, bit) => sum + bit, 0);
  }
  return rounds;
}

function idealMean(n: number, loss: number): number {
  const random = createRandom(n * 7919 + Math.round(loss * 1000));
  let total = 0;
  for (let run = 0; run < IDEAL_RUNS; run++) total += idealRun(n, loss, random);
  return total / IDEAL_RUNS;
}

/** Publishes a new load at `source` and returns the rounds until every up node has seen it. */
function spreadOneFact(cluster: SimCluster, source: string, value: number): number {
  const view = (id: string): ClusterView => cluster.engine(id) as ClusterView;
  view(source).setLoad({ keys: value, bytes: value });
  const heldAt = cluster.waitFor(
    () => view(source).member(source, cluster.nowMs())?.keys === value,
    {
      withinMs: 60_000,
      checkEveryMs: POLL_MS,
    },
  );
  if (heldAt === null) throw new Error(`seed=${cluster.seed}: the source never published its load`);
  const everyone = cluster.liveIds();
  const tookMs = cluster.waitFor(
    () => everyone.every((id) => view(id).member(source, cluster.nowMs())?.keys === value),
    {
      withinMs: 120_000,
      checkEveryMs: POLL_MS,
    },
  );
  if (tookMs === null)
    throw new Error(`seed=${cluster.seed}: the fact did not reach every node within 120 s`);
  return tookMs / GOSSIP_INTERVAL_MS;
}

interface Row {
  n: number;
  loss: number;
  samples: number;
  medianRounds: number;
  p99Rounds: number;
  idealMeanRounds: number;
  ratioToIdeal: number;
}

const rows: Row[] = [];
for (const n of SIZES) {
  for (const loss of LOSSES) {
    const rounds: number[] = [];
    const seeds = seedList(n >= 1_000 ? Math.max(1, Math.min(SEEDS, 2)) : SEEDS, 100 + n);
    for (const seed of seeds) {
      const wallStart = performance.now();
      const { cluster } = settledCluster({
        seed,
        nodeCount: n,
        network: { lossProbability: loss },
      });
      const random = createRandom(seed);
      for (let fact = 0; fact < FACTS; fact++) {
        const source = cluster.ids()[randomInt(random, n)] as string;
        // loads are gossiped only on a change of 5% or more
        rounds.push(spreadOneFact(cluster, source, 1_000 * 2 ** fact));
        // The load is published at most every 10 s (cluster-view): wait that out between facts.
        cluster.runFor(11_000);
      }
      process.stderr.write(
        `N=${n} loss=${loss} seed=${seed}: ${rounds
          .slice(-FACTS)
          .map((r) => r.toFixed(2))
          .join(", ")} rounds (${((performance.now() - wallStart) / 1000).toFixed(1)} s wall)\n`,
      );
    }
    const ideal = idealMean(n, loss);
    const medianRounds = median(rounds);
    rows.push({
      n,
      loss,
      samples: rounds.length,
      medianRounds,
      p99Rounds: quantile(rounds, 0.99),
      idealMeanRounds: ideal,
      ratioToIdeal: medianRounds / ideal,
    });
  }
}

console.log("\nRounds for one fact to reach every node (simulator) vs ideal push-pull");
console.log("     N  loss  samples  median    p99   ideal  ratio");
for (const row of rows) {
  console.log(
    `${String(row.n).padStart(6)}  ${(row.loss * 100).toFixed(0).padStart(3)}%  ${String(row.samples).padStart(7)}  ${row.medianRounds.toFixed(2).padStart(6)}  ${row.p99Rounds.toFixed(2).padStart(5)}  ${row.idealMeanRounds.toFixed(2).padStart(6)}  ${row.ratioToIdeal.toFixed(2).padStart(5)}`,
  );
}

const at1000 = rows.filter((row) => row.n === 1_000);
const targets = at1000.map((row) => ({
  name: `convergence at N=1000, ${row.loss * 100}% loss`,
  target: "median rounds within 1.5x of ideal push-pull",
  measured: `${row.medianRounds.toFixed(2)} rounds vs ideal ${row.idealMeanRounds.toFixed(2)} (${row.ratioToIdeal.toFixed(2)}x)`,
  met: row.ratioToIdeal <= 1.5,
}));

const chartValues = rows.flatMap((row) => [
  { n: row.n, series: `Grapevine, ${row.loss * 100}% loss (median)`, rounds: row.medianRounds },
  { n: row.n, series: `Grapevine, ${row.loss * 100}% loss (p99)`, rounds: row.p99Rounds },
  { n: row.n, series: `ideal push-pull, ${row.loss * 100}% loss`, rounds: row.idealMeanRounds },
]);
const written = await writeBenchReport({
  name: "gossip-convergence",
  description:
    "Gossip rounds (1 s each) for one new non-urgent fact (a node's load) to reach every node in the simulator, from when the source holds it; against ideal synchronous push-pull spreading (mean of 400 runs).",
  parameters: {
    sizes: SIZES,
    seedsPerSize: SEEDS,
    factsPerSeed: FACTS,
    losses: LOSSES,
    gossipIntervalMs: GOSSIP_INTERVAL_MS,
    pollMs: POLL_MS,
  },
  results: rows,
  targets,
  chart: {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Rounds for one fact to reach every node",
    width: 520,
    height: 320,
    data: { values: chartValues },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "n", type: "quantitative", scale: { type: "log" }, title: "nodes (N)" },
      y: { field: "rounds", type: "quantitative", title: "gossip rounds" },
      color: { field: "series", type: "nominal", title: null },
    },
  },
});
console.log(`\nwrote ${written.join(", ")}`);
