// bench/ownership.ts — how evenly the ring is shared when nodes join one at a time: balanced token
// allocation (ring/tokens.ts balancedTokens, what nodes use; replication-aware at rf 3) against
// random tokens (randomTokens, the Dynamo "strategy 1" nodes used before), with the default 16
// vnodes.
//
// Run: npx tsx bench/ownership.ts (about half a minute on a shared 2-core machine; writes
// bench/results/ownership.{json,svg})
//
// For each seed, a cluster grows from 1 to 32 nodes; after each join the primary ownership of every
// node is read from the TokenMap, and its replicated ownership (the share of the ring it holds a
// replica of at rf 3, SimpleStrategy: what its disk holds), and for each the max/min ratio and the
// worst deviation from even (1/N, rf/N) recorded. At the reported sizes one random member is then
// removed (decommission or removenode: its ranges go to whoever follows its tokens, nothing is
// re-balanced) and the spread of the N−1 left is recorded too. Figures are medians over the seeds,
// and the worst seed. Target (issue 5): every node within ±15% of even with the default vnodes.
// The time of each balancedTokens call (a join decision) is recorded as well.

import Table from "cli-table3";
import type { TopLevelSpec } from "vega-lite";
import { median, writeBenchReport } from "./lib/report.js";
import type { NodeId } from "../src/core/ids.js";
import { createRandom } from "../src/core/random.js";
import type { Token } from "../src/ring/partitioner.js";
import { TOKEN_SPACE } from "../src/ring/partitioner.js";
import { replicatedRanges } from "../src/ring/placement.js";
import { TokenMap } from "../src/ring/token-map.js";
import { balancedTokens, randomTokens } from "../src/ring/tokens.js";

const VNODES = 16;
const NODES_MAX = 32;
const NODES_REPORTED = [3, 4, 5, 6, 8, 12, 16, 24, 32] as const;
const SEEDS = Array.from({ length: 20 }, (_, index) => index + 1);
const TARGET_DEVIATION = 0.15;
const REPLICATION_FACTOR = 3;

/** Each node's share of the ring it holds a replica of (rf 3): what its disk holds. */
function replicatedShares(ring: TokenMap): number[] {
  const shares = new Map<NodeId, number>();
  for (const range of replicatedRanges(ring, REPLICATION_FACTOR)) {
    const width =
      Number((range.end - range.start + TOKEN_SPACE) % TOKEN_SPACE || TOKEN_SPACE) /
      Number(TOKEN_SPACE);
    for (const replica of range.replicas) shares.set(replica, (shares.get(replica) ?? 0) + width);
  }
  return [...shares.values()];
}

type Allocator = "balanced" | "random";

interface Spread {
  readonly maxOverMin: number;
  /** Largest |share − even| / even over the nodes. */
  readonly worstDeviation: number;
}

function spread(shares: readonly number[], even: number): Spread {
  return {
    maxOverMin: Math.max(...shares) / Math.min(...shares),
    worstDeviation: Math.max(...shares.map((share) => Math.abs(share - even) / even)),
  };
}

interface Row {
  readonly allocator: Allocator;
  readonly nodes: number;
  readonly seed: number;
  readonly primary: Spread;
  /** Replicated ownership at rf 3 (even: rf/N). */
  readonly replicated: Spread;
  /** The same two after removing one random member (N−1 left). */
  readonly primaryAfterRemoval: Spread;
  readonly replicatedAfterRemoval: Spread;
}

function spreads(ring: TokenMap): { primary: Spread; replicated: Spread } {
  const nodes = ring.nodes().length;
  return {
    primary: spread([...ring.ownership().values()], 1 / nodes),
    replicated: spread(replicatedShares(ring), Math.min(REPLICATION_FACTOR, nodes) / nodes),
  };
}

const rows: Row[] = [];
/** Milliseconds per balancedTokens call, by the size of the cluster after the join. */
const joinMs = new Map<number, number[]>();
for (const allocator of ["balanced", "random"] as const) {
  for (const seed of SEEDS) {
    const random = createRandom(seed);
    const removal = createRandom(seed + 1_000_000);
    const owners = new Map<NodeId, Token[]>();
    let ring = TokenMap.empty;
    for (let nodes = 1; nodes <= NODES_MAX; nodes++) {
      const id = `node-${nodes}`;
      if (allocator === "balanced") {
        const startedMs = performance.now();
        owners.set(id, balancedTokens(ring, VNODES, REPLICATION_FACTOR, random, id));
        joinMs.set(nodes, [...(joinMs.get(nodes) ?? []), performance.now() - startedMs]);
      } else {
        owners.set(id, randomTokens(random, VNODES));
      }
      ring = TokenMap.build(owners);
      if (!(NODES_REPORTED as readonly number[]).includes(nodes)) continue;
      const removed = `node-${1 + Math.floor(removal.next() * nodes)}`;
      const after = spreads(TokenMap.build(new Map([...owners].filter(([id]) => id !== removed))));
      const now = spreads(ring);
      rows.push({
        allocator,
        nodes,
        seed,
        ...now,
        primaryAfterRemoval: after.primary,
        replicatedAfterRemoval: after.replicated,
      });
    }
  }
}

const KINDS = ["primary", "replicated", "primaryAfterRemoval", "replicatedAfterRemoval"] as const;
const summary = NODES_REPORTED.flatMap((nodes) =>
  (["balanced", "random"] as const).map((allocator) => {
    const mine = rows.filter((row) => row.nodes === nodes && row.allocator === allocator);
    const figures = Object.fromEntries(
      KINDS.map((kind) => [
        kind,
        {
          maxOverMinMedian: median(mine.map((row) => row[kind].maxOverMin)),
          maxOverMinWorst: Math.max(...mine.map((row) => row[kind].maxOverMin)),
          worstDeviationMedian: median(mine.map((row) => row[kind].worstDeviation)),
          worstDeviationWorst: Math.max(...mine.map((row) => row[kind].worstDeviation)),
        },
      ]),
    ) as Record<
      (typeof KINDS)[number],
      {
        maxOverMinMedian: number;
        maxOverMinWorst: number;
        worstDeviationMedian: number;
        worstDeviationWorst: number;
      }
    >;
    return { allocator, nodes, ...figures };
  }),
);

const round = (value: number, digits = 3): number => Number(value.toFixed(digits));
const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;
const table = new Table({
  head: [
    "nodes",
    "allocator",
    "primary max/min (median, worst)",
    "primary worst dev. (median, worst)",
    `replicated rf ${REPLICATION_FACTOR} max/min`,
    `replicated worst dev.`,
    "after removing one: primary dev.",
    "replicated dev.",
  ],
});
for (const row of summary) {
  table.push([
    row.nodes,
    row.allocator,
    `${round(row.primary.maxOverMinMedian)}  ${round(row.primary.maxOverMinWorst)}`,
    `${percent(row.primary.worstDeviationMedian)}  ${percent(row.primary.worstDeviationWorst)}`,
    `${round(row.replicated.maxOverMinMedian)}  ${round(row.replicated.maxOverMinWorst)}`,
    `${percent(row.replicated.worstDeviationMedian)}  ${percent(row.replicated.worstDeviationWorst)}`,
    `${percent(row.primaryAfterRemoval.worstDeviationMedian)}  ${percent(row.primaryAfterRemoval.worstDeviationWorst)}`,
    `${percent(row.replicatedAfterRemoval.worstDeviationMedian)}  ${percent(row.replicatedAfterRemoval.worstDeviationWorst)}`,
  ]);
}
console.log(table.toString());

const joinInto32 = joinMs.get(NODES_MAX) ?? [];
const joinMaxMs = Math.max(...[...joinMs.values()].flat());
console.log(
  `balancedTokens, ${VNODES} vnodes, rf ${REPLICATION_FACTOR}: join into ${NODES_MAX} nodes median ${median(joinInto32).toFixed(1)} ms, ` +
    `slowest join of any size ${joinMaxMs.toFixed(1)} ms`,
);

const balanced = summary.filter((row) => row.allocator === "balanced" && row.nodes >= 3);
const balancedWorst = Math.max(...balanced.map((row) => row.primary.worstDeviationWorst));
const balancedReplicatedWorst = Math.max(
  ...balanced.map((row) => row.replicated.worstDeviationWorst),
);
const chart: TopLevelSpec = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: `Ownership max/min, nodes joining one at a time, ${VNODES} vnodes, rf ${REPLICATION_FACTOR} (median of ${SEEDS.length} seeds; ideal 1.0)`,
  width: 460,
  height: 280,
  data: {
    values: rows.flatMap((row) => [
      {
        nodes: row.nodes,
        series: `${row.allocator} tokens, primary`,
        ratio: row.primary.maxOverMin,
      },
      {
        nodes: row.nodes,
        series: `${row.allocator} tokens, replicated`,
        ratio: row.replicated.maxOverMin,
      },
    ]),
  },
  layer: [
    {
      mark: { type: "line", point: true },
      encoding: {
        x: {
          field: "nodes",
          type: "quantitative",
          title: "nodes",
          scale: { type: "log", domain: [2.5, 40] },
          axis: { values: [...NODES_REPORTED] },
        },
        y: {
          aggregate: "median",
          field: "ratio",
          type: "quantitative",
          title: "max/min ownership",
          scale: { domainMin: 0.9 },
        },
        color: {
          field: "series",
          type: "nominal",
          title: null,
          legend: { orient: "bottom", columns: 2 },
        },
      },
    },
    { mark: { type: "rule", strokeDash: [4, 4], color: "gray" }, encoding: { y: { datum: 1 } } },
  ],
};

const written = await writeBenchReport({
  name: "ownership",
  description:
    `Primary and replicated (rf ${REPLICATION_FACTOR}) ownership per node as a cluster grows from 1 to ${NODES_MAX} nodes, one join at a time, ` +
    `${VNODES} vnodes each: replication-aware balanced allocation (balancedTokens) against random tokens, over ${SEEDS.length} seeds, ` +
    `and the spread left after removing one random member. Pure computation on TokenMap; join-decision time measured with performance.now().`,
  parameters: {
    vnodes: VNODES,
    replicationFactor: REPLICATION_FACTOR,
    nodesMax: NODES_MAX,
    nodesReported: NODES_REPORTED,
    seeds: SEEDS,
  },
  targets: [
    {
      name: `every node within ±${TARGET_DEVIATION * 100}% of even primary ownership, 3..${NODES_MAX} nodes, default vnodes (balanced allocation, worst seed)`,
      target: `≤ ${TARGET_DEVIATION * 100}%`,
      measured: percent(balancedWorst),
      met: balancedWorst <= TARGET_DEVIATION,
    },
    {
      name: `every node within ±${TARGET_DEVIATION * 100}% of even replicated ownership (rf ${REPLICATION_FACTOR}), 3..${NODES_MAX} nodes (balanced allocation, worst seed)`,
      target: `≤ ${TARGET_DEVIATION * 100}%`,
      measured: percent(balancedReplicatedWorst),
      met: balancedReplicatedWorst <= TARGET_DEVIATION,
    },
    {
      name: `a join decision (balancedTokens) into ${NODES_MAX} nodes × ${VNODES} vnodes, median`,
      target: "well under 1 s",
      measured: `${median(joinInto32).toFixed(1)} ms (slowest join ${joinMaxMs.toFixed(1)} ms)`,
      met: joinMaxMs < 1000,
    },
  ],
  results: {
    summary,
    joinMsMedianByNodes: Object.fromEntries(
      [...joinMs].map(([nodes, times]) => [nodes, round(median(times), 2)]),
    ),
    rows,
  },
  chart,
});
console.log(`wrote ${written.join(", ")}`);
