// bench/hint-before-ack.ts — what committing a hint before every acknowledgement costs (issue 21
// §4): node CPU per quorum PUT with `--hint-before-ack off` (today's order: a hint only once the
// write's round ends) and `on` (hints for the replicas that have not answered yet, committed before
// the answer, withdrawn when they answer), side by side in one run.
//
// Run: npm run build && npx tsx bench/hint-before-ack.ts [--runs N] [--ops N]
// Writes bench/results/hint-before-ack.json and .svg.
//
// How. Two 3-node local clusters (rf 3, w = quorum, as `grapevine bench --local 3` starts them),
// one per setting, each loaded with KEYS keys of 100 B and warmed up. Then `--runs` times each
// cluster in turn (the order alternating run by run, so drifting load on the shared machine falls
// on both alike; only one is driven at a time) takes exactly `--ops` quorum PUTs of uniformly
// random keys from a closed loop of 64 in flight spread over its three nodes; around each batch the
// CPU time (user + system, /proc/<pid>/stat) of its three node processes is read. The figure is µs
// of node CPU per PUT, summed over the coordinator and its replicas; medians over the runs. The
// rule of the issue: adopt hint-before-ack when it costs at most ADOPTION_BOUND more than `off`.
// Beside it: hints covered and withdrawn per PUT (from /metrics), and throughput.
//
// The cluster figure moves a lot on a machine shared with other work, so the bench also measures
// the added work alone, in this process: CPU per held hint written and withdrawn through one
// LevelDB store's hint batches (HINTS_PER_TURN per event-loop turn, as under load), beside CPU per
// record of the store's own write batches of the same size: the hint path's cost in the unit a PUT
// pays it.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TopLevelSpec } from "vega-lite";
import { median, writeBenchReport } from "./lib/report.js";
import { benchValue, checkNodesServe } from "../src/cli/bench/benchmark.js";
import { KvClient, writePath } from "../src/cli/bench/kv-client.js";
import { startLocalCluster, type LocalCluster } from "../src/cli/bench/local-cluster.js";
import { encodeRecord } from "../src/storage/record.js";
import { openLevelStore } from "../src/storage/store.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NAME = "hint-before-ack";
const KEYS = 10_000;
const VALUE_BYTES = 100;
const CONCURRENCY = 64;
const SEED = 2_126;
const REQUEST_TIMEOUT_MS = 30_000;
/** /proc/<pid>/stat counts in clock ticks; Linux's USER_HZ is 100. */
const TICKS_PER_SECOND = 100;
/** Issue 21 §4: hint-before-ack is adopted if it costs at most this share of quorum PUT CPU. */
const ADOPTION_BOUND = 0.05;
const SETTINGS = ["off", "on"] as const;
type Setting = (typeof SETTINGS)[number];

/** The in-process measure: turns of HINTS_PER_TURN hints (and of as many data writes). */
const MICRO_TURNS = 2_000;
const HINTS_PER_TURN = 16;

/** µs of this process's CPU per held hint written then withdrawn, and per data record written. */
async function microCosts(): Promise<{
  usPerHintWrittenAndWithdrawn: number;
  usPerDataRecord: number;
}> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "grapevine-hba-"));
  const store = await openLevelStore({ dataDir: dir, sync: false });
  try {
    const hints = await store.openHints();
    const value = benchValue(VALUE_BYTES, SEED);
    const record = {
      value,
      contentType: "application/octet-stream",
      timestampUs: 1,
      writer: "node1",
      tombstone: false,
    };
    const encodedRecord = encodeRecord(record);
    const cpuUs = (): number => {
      const usage = process.cpuUsage();
      return usage.user + usage.system;
    };
    let hintUs = 0;
    let dataUs = 0;
    for (let turn = 0; turn < MICRO_TURNS; turn++) {
      const startHints = cpuUs();
      const held = Array.from({ length: HINTS_PER_TURN }, (_, index) =>
        hints.hold({
          target: `node${2 + (index % 2)}`,
          key: `hba-${turn}-${index}`,
          encodedRecord,
          createdMs: turn,
        }),
      );
      await Promise.all(held.map((hint) => hint.stored));
      for (const hint of held) hint.withdraw();
      await hints.flush();
      const startData = cpuUs();
      hintUs += startData - startHints;
      await store.apply(
        Array.from({ length: HINTS_PER_TURN }, (_, index) => ({
          key: `hba-${turn}-${index}`,
          record: { ...record, timestampUs: turn + 1 },
        })),
      );
      dataUs += cpuUs() - startData;
    }
    const count = MICRO_TURNS * HINTS_PER_TURN;
    return {
      usPerHintWrittenAndWithdrawn: Number((hintUs / count).toFixed(2)),
      usPerDataRecord: Number((dataUs / count).toFixed(2)),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function countFlag(args: readonly string[], name: string, fallback: number): number {
  const index = args.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(args[index + 1]);
  if (!Number.isSafeInteger(value) || value <= 0) {
    process.stderr.write(`hint-before-ack: ${name} must be a positive integer\n`);
    process.exit(2);
  }
  return value;
}

function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const nodesCpuSeconds = (pids: readonly number[]): number =>
  pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);

/** mulberry32: every run draws the same keys. */
function randomFrom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A counter summed over the nodes' /metrics. */
async function metricTotal(urls: readonly string[], name: string): Promise<number> {
  let total = 0;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, "gm")))
      total += Number(match[1]);
  }
  return total;
}

/** Exactly `count` quorum PUTs, CONCURRENCY in flight; returns the failures. */
async function puts(
  client: KvClient,
  count: number,
  value: Buffer,
  pickKey: () => number,
): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async (workerIndex: number): Promise<void> => {
    while (next < count) {
      next += 1;
      if (
        (await client.put(
          workerIndex % client.nodeCount,
          writePath(`hba-${pickKey()}`, "quorum"),
          value,
        )) !== null
      )
        failed += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, index) => worker(index)));
  return failed;
}

interface Sample {
  readonly setting: Setting;
  readonly run: number;
  readonly ops: number;
  readonly failed: number;
  readonly usPerPut: number;
  readonly putsPerS: number;
  /** Hints committed before an answer, and withdrawn when the replica answered, per PUT. */
  readonly coveredPerPut: number;
  readonly withdrawnPerPut: number;
  readonly loadAverage: number;
}

interface Target {
  readonly setting: Setting;
  readonly cluster: LocalCluster;
  readonly client: KvClient;
  readonly samples: Sample[];
}

async function startTarget(setting: Setting): Promise<Target> {
  const cluster = await startLocalCluster({
    nodeCount: 3,
    basePort: null,
    nodeValues: { rf: "3", logLevel: "warn", hintBeforeAck: setting },
    env: process.env,
  });
  clusters.push(cluster);
  await checkNodesServe(cluster.urls);
  const client = new KvClient({
    urls: cluster.urls,
    connectionsPerNode: Math.ceil(CONCURRENCY / cluster.urls.length),
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  return { setting, cluster, client, samples: [] };
}

async function measure(
  target: Target,
  run: number,
  ops: number,
  value: Buffer,
  pickKey: () => number,
): Promise<Sample> {
  const { pids, urls } = target.cluster;
  const loadAverage = os.loadavg()[0] ?? 0;
  const coveredBefore = await metricTotal(urls, "grapevine_hints_covered_total");
  const withdrawnBefore = await metricTotal(urls, "grapevine_hints_withdrawn_total");
  const cpuBefore = nodesCpuSeconds(pids);
  const started = performance.now();
  const failed = await puts(target.client, ops, value, pickKey);
  const wallS = (performance.now() - started) / 1000;
  const cpuS = nodesCpuSeconds(pids) - cpuBefore;
  const completed = Math.max(1, ops - failed);
  const covered = (await metricTotal(urls, "grapevine_hints_covered_total")) - coveredBefore;
  const withdrawn = (await metricTotal(urls, "grapevine_hints_withdrawn_total")) - withdrawnBefore;
  return {
    setting: target.setting,
    run,
    ops: completed,
    failed,
    usPerPut: Number(((cpuS * 1e6) / completed).toFixed(1)),
    putsPerS: Math.round(completed / wallS),
    coveredPerPut: Number((covered / completed).toFixed(3)),
    withdrawnPerPut: Number((withdrawn / completed).toFixed(3)),
    loadAverage: Number(loadAverage.toFixed(2)),
  };
}

// ---- main ----

const args = process.argv.slice(2);
const runs = countFlag(args, "--runs", 5);
const ops = countFlag(args, "--ops", 10_000);
if (!existsSync(path.join(REPO_ROOT, "dist", "cli", "main.js"))) {
  process.stderr.write("hint-before-ack: run `npm run build` first: the nodes run from dist/\n");
  process.exit(2);
}
console.log(
  `hint-before-ack: ${runs} runs of ${ops} quorum PUTs per setting; load average ${os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(" ")}`,
);
const clusters: LocalCluster[] = [];
process.once("SIGINT", () => {
  void Promise.all(clusters.map((cluster) => cluster.stop())).then(() => process.exit(130));
});

const targets: Target[] = [];
try {
  for (const setting of SETTINGS) targets.push(await startTarget(setting));
  const value = benchValue(VALUE_BYTES, SEED);
  for (const target of targets) {
    let loadIndex = 0;
    const loadFailed = await puts(target.client, KEYS, value, () => loadIndex++);
    if (loadFailed > 0) throw new Error(`${target.setting}: loading failed ${loadFailed} times`);
    const warm = randomFrom(SEED);
    await puts(target.client, Math.min(ops, 5_000), value, () => Math.floor(warm() * KEYS));
  }
  const random = randomFrom(SEED + 1);
  const pickKey = (): number => Math.floor(random() * KEYS);
  for (let run = 1; run <= runs; run++) {
    const order = run % 2 === 1 ? targets : [...targets].reverse();
    for (const target of order) {
      const sample = await measure(target, run, ops, value, pickKey);
      target.samples.push(sample);
      console.log(
        `${sample.setting} #${run}: ${sample.usPerPut} µs node CPU/PUT, ${sample.putsPerS} PUT/s, ` +
          `${sample.coveredPerPut} hints covered and ${sample.withdrawnPerPut} withdrawn per PUT, ${sample.failed} failed, load ${sample.loadAverage}`,
      );
    }
  }
} finally {
  await Promise.all(targets.map((target) => target.client.close()));
  await Promise.all(clusters.map((cluster) => cluster.stop()));
}

const medians = Object.fromEntries(
  targets.map((target) => [
    target.setting,
    {
      usPerPut: Number(median(target.samples.map((s) => s.usPerPut)).toFixed(1)),
      putsPerS: Math.round(median(target.samples.map((s) => s.putsPerS))),
      coveredPerPut: Number(median(target.samples.map((s) => s.coveredPerPut)).toFixed(3)),
      withdrawnPerPut: Number(median(target.samples.map((s) => s.withdrawnPerPut)).toFixed(3)),
    },
  ]),
) as Record<
  Setting,
  { usPerPut: number; putsPerS: number; coveredPerPut: number; withdrawnPerPut: number }
>;
const extra = (medians.on.usPerPut - medians.off.usPerPut) / medians.off.usPerPut;
const adopted = extra <= ADOPTION_BOUND;
console.log(
  `median: off ${medians.off.usPerPut} µs/PUT, on ${medians.on.usPerPut} µs/PUT: ${(extra * 100).toFixed(1)}% more ` +
    `(bound ${ADOPTION_BOUND * 100}%): ${adopted ? "adopt" : "keep today's order"}`,
);

const micro = await microCosts();
console.log(
  `in process: ${micro.usPerHintWrittenAndWithdrawn} µs CPU per held hint written and withdrawn, ` +
    `${micro.usPerDataRecord} µs per data record written (${HINTS_PER_TURN} per turn); ` +
    `at ${medians.on.coveredPerPut} hints per PUT that is ${((micro.usPerHintWrittenAndWithdrawn * medians.on.coveredPerPut * 100) / medians.off.usPerPut).toFixed(1)}% of the off median PUT`,
);

const chart: TopLevelSpec = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: `Node CPU per quorum PUT, --hint-before-ack off / on (3 nodes, rf 3, ${VALUE_BYTES} B, ${CONCURRENCY} in flight; bars: median, dots: runs)`,
  data: {
    values: targets.flatMap((target) =>
      target.samples.map((s) => ({ setting: s.setting, usPerPut: s.usPerPut })),
    ),
  },
  layer: [
    {
      mark: "bar",
      encoding: {
        x: { field: "setting", type: "nominal", sort: [...SETTINGS], title: "--hint-before-ack" },
        y: {
          aggregate: "median",
          field: "usPerPut",
          type: "quantitative",
          title: "µs of node CPU per PUT (sum of 3 nodes)",
        },
        color: { field: "setting", type: "nominal", legend: null },
      },
    },
    {
      mark: { type: "point", filled: true, color: "black", size: 20 },
      encoding: {
        x: { field: "setting", type: "nominal", sort: [...SETTINGS] },
        y: { field: "usPerPut", type: "quantitative" },
      },
    },
  ],
};

const written = await writeBenchReport({
  name: NAME,
  description:
    "µs of CPU (user + system, summed over the 3 node processes) per completed quorum PUT of 100 B values, 64 in flight, " +
    "with hints committed before the acknowledgement (on) and after the write's round (off); two clusters measured in turn, median over runs.",
  parameters: {
    runs,
    opsPerRun: ops,
    keys: KEYS,
    valueBytes: VALUE_BYTES,
    concurrency: CONCURRENCY,
    level: "quorum",
    rf: 3,
    nodes: 3,
    seed: SEED,
  },
  targets: [
    {
      name: "extra node CPU per quorum PUT with hint-before-ack",
      target: `≤ ${ADOPTION_BOUND * 100}%`,
      measured: `${(extra * 100).toFixed(1)}% (${medians.off.usPerPut} → ${medians.on.usPerPut} µs)`,
      met: adopted,
    },
  ],
  results: {
    medians,
    extraShare: Number(extra.toFixed(4)),
    adopted,
    inProcess: { ...micro, hintsPerTurn: HINTS_PER_TURN, turns: MICRO_TURNS },
    samples: targets.flatMap((target) => target.samples),
  },
  chart,
});
console.log(`wrote ${written.join(", ")}`);
