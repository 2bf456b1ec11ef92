// bench/partitioner.ts — how fast keys become tokens, and how evenly random vnodes share the ring.
//
// Run: npx tsx bench/partitioner.ts (about ten seconds; writes
// bench/results/partitioner.{json,svg})
//
// 1. tokenOf speed: ns per key for short keys ("user:12345") and for 16–64 byte keys, median of 5
//    runs. Lookups too: ownerOf and replicasFor (rf 3) per call on a 32-node ring, median of 5
//    runs.
// 2. Spread: for N = 3, 6, 12, 32 nodes with 16 random vnodes each and several seeds, the max/min
//    ratio of keys per node over 200k keys, and the max/min ratio of ownership fractions. The ideal
//    is 1.0; random tokens give roughly 1 ± 1/sqrt(vnodes) per node, so the ratio grows with N.

import { performance } from "node:perf_hooks";
import Table from "cli-table3";
import type { TopLevelSpec } from "vega-lite";
import { median, writeBenchReport } from "./lib/report.js";
import type { NodeId } from "../src/core/ids.js";
import { createRandom } from "../src/core/random.js";
import { tokenOf, type Token } from "../src/ring/partitioner.js";
import { replicasFor } from "../src/ring/placement.js";
import { TokenMap } from "../src/ring/token-map.js";
import { randomTokens } from "../src/ring/tokens.js";

const RUNS = 5;
const SPEED_KEY_COUNT = 200_000;
const SPREAD_KEY_COUNT = 200_000;
const NODE_COUNTS = [3, 6, 12, 32] as const;
const VNODES = 16;
const SEEDS = [1, 2, 3, 4, 5] as const;
const LOOKUP_NODE_COUNT = 32;
const LOOKUP_REPLICATION_FACTOR = 3;

/** Keys of 16 to 64 bytes: a prefix, an id and a suffix whose length cycles through the range. */
function mediumKey(index: number): string {
  const base = `user:${index}:profile:`;
  const length = 16 + (index % 49);
  return base.length >= length ? base.slice(0, length) : base.padEnd(length, "x");
}

/** ns per call of `work` over `count` items, median of RUNS runs after one warm-up. */
function measureNs(
  count: number,
  work: () => number,
): { nsPerOp: number; runsNs: number[]; checksum: number } {
  let checksum = work();
  const runsNs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    checksum ^= work();
    runsNs.push(((performance.now() - started) * 1e6) / count);
  }
  return { nsPerOp: median(runsNs), runsNs, checksum };
}

function hashAll(keys: readonly string[]): number {
  let fold = 0n;
  for (const key of keys) fold ^= tokenOf(key);
  return Number(fold & 0xffffn);
}

function ringOf(nodeCount: number, seed: number): TokenMap {
  const owners = new Map<NodeId, Token[]>();
  // Each node draws from its own seeded stream, as each real node does from its own seed.
  for (let node = 0; node < nodeCount; node++)
    owners.set(`node-${node}`, randomTokens(createRandom(seed * 1_000_003 + node), VNODES));
  return TokenMap.build(owners);
}

function ratio(values: readonly number[]): number {
  return Math.max(...values) / Math.min(...values);
}

// 1. Speed.
const shortKeys = Array.from(
  { length: SPEED_KEY_COUNT },
  (_, i) => `user:${10_000 + (i % 90_000)}`,
);
const mediumKeys = Array.from({ length: SPEED_KEY_COUNT }, (_, i) => mediumKey(i));
const shortSpeed = measureNs(SPEED_KEY_COUNT, () => hashAll(shortKeys));
const mediumSpeed = measureNs(SPEED_KEY_COUNT, () => hashAll(mediumKeys));

const lookupRing = ringOf(LOOKUP_NODE_COUNT, 1);
const lookupTokens = mediumKeys.map(tokenOf);
const ownerOfSpeed = measureNs(lookupTokens.length, () => {
  let length = 0;
  for (const token of lookupTokens) length += lookupRing.ownerOf(token).length;
  return length;
});
const replicasForSpeed = measureNs(lookupTokens.length, () => {
  let length = 0;
  for (const token of lookupTokens)
    length += replicasFor(lookupRing, token, LOOKUP_REPLICATION_FACTOR).length;
  return length;
});

// 2. Spread.
const spreadTokens = Array.from({ length: SPREAD_KEY_COUNT }, (_, i) => tokenOf(`user:${i}`));
interface SpreadRow {
  readonly nodes: number;
  readonly seed: number;
  readonly keysMaxOverMin: number;
  readonly ownershipMaxOverMin: number;
}
const spreadRows: SpreadRow[] = [];
for (const nodeCount of NODE_COUNTS) {
  for (const seed of SEEDS) {
    const ring = ringOf(nodeCount, seed);
    const keysPerNode = new Map<NodeId, number>(ring.nodes().map((node) => [node, 0]));
    for (const token of spreadTokens) {
      const owner = ring.ownerOf(token);
      keysPerNode.set(owner, (keysPerNode.get(owner) ?? 0) + 1);
    }
    spreadRows.push({
      nodes: nodeCount,
      seed,
      keysMaxOverMin: ratio([...keysPerNode.values()]),
      ownershipMaxOverMin: ratio([...ring.ownership().values()]),
    });
  }
}
const spreadSummary = NODE_COUNTS.map((nodeCount) => {
  const rows = spreadRows.filter((row) => row.nodes === nodeCount);
  const keys = rows.map((row) => row.keysMaxOverMin);
  const ownership = rows.map((row) => row.ownershipMaxOverMin);
  return {
    nodes: nodeCount,
    keysMaxOverMinMedian: median(keys),
    keysMaxOverMinWorst: Math.max(...keys),
    ownershipMaxOverMinMedian: median(ownership),
    ownershipMaxOverMinWorst: Math.max(...ownership),
  };
});

// Print.
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const speedTable = new Table({ head: ["operation", "ns/op (median of 5)", "runs"] });
speedTable.push(
  [
    "tokenOf, short keys (user:NNNNN)",
    round(shortSpeed.nsPerOp, 1),
    shortSpeed.runsNs.map((v) => round(v, 0)).join(" "),
  ],
  [
    "tokenOf, 16-64 byte keys",
    round(mediumSpeed.nsPerOp, 1),
    mediumSpeed.runsNs.map((v) => round(v, 0)).join(" "),
  ],
  [
    `ownerOf, ${LOOKUP_NODE_COUNT}x${VNODES} ring`,
    round(ownerOfSpeed.nsPerOp, 1),
    ownerOfSpeed.runsNs.map((v) => round(v, 0)).join(" "),
  ],
  [
    `replicasFor rf ${LOOKUP_REPLICATION_FACTOR}, same ring`,
    round(replicasForSpeed.nsPerOp, 1),
    replicasForSpeed.runsNs.map((v) => round(v, 0)).join(" "),
  ],
);
console.log(speedTable.toString());
const spreadTable = new Table({
  head: [
    "nodes",
    `keys max/min (median, worst of ${SEEDS.length} seeds)`,
    "ownership max/min (median, worst)",
    "ideal",
  ],
});
for (const row of spreadSummary) {
  spreadTable.push([
    row.nodes,
    `${round(row.keysMaxOverMinMedian)}  ${round(row.keysMaxOverMinWorst)}`,
    `${round(row.ownershipMaxOverMinMedian)}  ${round(row.ownershipMaxOverMinWorst)}`,
    "1.00",
  ]);
}
console.log(spreadTable.toString());

// Report.
const chartValues = spreadRows.flatMap((row) => [
  {
    nodes: row.nodes,
    seed: row.seed,
    measure: "ownership max/min",
    ratio: row.ownershipMaxOverMin,
  },
  {
    nodes: row.nodes,
    seed: row.seed,
    measure: `keys max/min (${SPREAD_KEY_COUNT / 1000}k keys)`,
    ratio: row.keysMaxOverMin,
  },
]);
const chart: TopLevelSpec = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: `Spread of ${VNODES} random vnodes per node: max/min share per node (ideal 1.0)`,
  width: 420,
  height: 260,
  data: { values: chartValues },
  layer: [
    {
      mark: { type: "line", point: true },
      encoding: {
        x: {
          field: "nodes",
          type: "quantitative",
          title: "nodes",
          scale: { type: "log", domain: [2, 40] },
          axis: { values: [...NODE_COUNTS] },
        },
        y: {
          aggregate: "median",
          field: "ratio",
          type: "quantitative",
          title: `max/min (median of ${SEEDS.length} seeds)`,
          scale: { domainMin: 0.9 },
        },
        color: {
          field: "measure",
          type: "nominal",
          title: null,
          legend: { labelLimit: 320, orient: "bottom" },
        },
      },
    },
    {
      mark: { type: "point", opacity: 0.35, filled: true },
      encoding: {
        x: { field: "nodes", type: "quantitative" },
        y: { field: "ratio", type: "quantitative" },
        color: { field: "measure", type: "nominal" },
      },
    },
    {
      mark: { type: "rule", strokeDash: [4, 4], color: "gray" },
      encoding: { y: { datum: 1 } },
    },
  ],
};
const written = await writeBenchReport({
  name: "partitioner",
  description:
    "tokenOf (xxHash64 of UTF-8 key bytes) and ring lookup speed in ns/op, median of 5 runs; and the max/min ratio of keys " +
    `per node (${SPREAD_KEY_COUNT} keys user:0..) and of ownership fractions for rings of N nodes with ${VNODES} random vnodes each, over ${SEEDS.length} seeds.`,
  parameters: {
    runs: RUNS,
    speedKeyCount: SPEED_KEY_COUNT,
    spreadKeyCount: SPREAD_KEY_COUNT,
    nodeCounts: NODE_COUNTS,
    vnodes: VNODES,
    seeds: SEEDS,
    lookupNodeCount: LOOKUP_NODE_COUNT,
    lookupReplicationFactor: LOOKUP_REPLICATION_FACTOR,
  },
  results: {
    speed: {
      tokenOfShortKeysNs: shortSpeed.nsPerOp,
      tokenOfMediumKeysNs: mediumSpeed.nsPerOp,
      ownerOfNs: ownerOfSpeed.nsPerOp,
      replicasForNs: replicasForSpeed.nsPerOp,
      runsNs: {
        tokenOfShortKeys: shortSpeed.runsNs,
        tokenOfMediumKeys: mediumSpeed.runsNs,
        ownerOf: ownerOfSpeed.runsNs,
        replicasFor: replicasForSpeed.runsNs,
      },
    },
    spread: { summary: spreadSummary, rows: spreadRows },
  },
  chart,
});
console.log(`wrote ${written.join(", ")}`);
