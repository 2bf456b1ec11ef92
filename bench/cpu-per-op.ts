// bench/cpu-per-op.ts — CPU the nodes spend per quorum operation: the cost side of issue 2's
// throughput target, in a unit that survives a shared, noisy machine.
//
// Run: npm run build && npx tsx bench/cpu-per-op.ts [--runs N] [--ops N] [--label NAME] [--append]
//      [--baseline DIR [--baseline-label NAME]]
// Writes bench/results/cpu-per-op.json and cpu-per-op.svg.
//
// What it measures. A 3-node local cluster (rf 3, w = r = quorum, started as `grapevine bench
// --local 3` starts it) is loaded with KEYS keys of 100 B. Then, `--runs` times, a closed loop of
// 64 requests in flight (spread over the three nodes as coordinators) issues exactly `--ops` quorum
// PUTs, then `--ops` quorum GETs, of uniformly random keys; around each batch the CPU time (user +
// system, /proc/<pid>/stat) of the three node processes is read, and the difference divided by the
// operations completed is the figure: µs of node CPU per operation, summed over the coordinator and
// its replicas. Throughput on a shared machine moves with everyone else's work; CPU per operation
// moves much less, since a node waiting for the core costs no CPU. The nodes' own background work
// (gossip, failure detection, anti-entropy) is measured on the idle cluster first and reported
// alongside, both raw and subtracted pro rata to each batch's wall time. Medians over the runs.
//
// Figures are kept per `--label` (default "current"): a run replaces the figures of its own label
// and keeps the others, so the JSON and the chart show before and after side by side. With
// `--append` a run adds its samples to its label's earlier ones instead: on a machine shared with
// other work, alternating short runs of two builds (A, B, A, B, ...) spreads the other work over
// both alike, and the medians are taken over all of a label's samples. Better still, `--baseline
// DIR` starts a second cluster from another checkout (DIR/bin, DIR/dist, e.g. a copy of the tree
// before a change, built) and the two clusters take turns batch by batch, so both see the same
// machine; only one of them is ever driven at a time.

import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TopLevelSpec } from "vega-lite";
import { median, RESULTS_DIR, writeBenchReport } from "./lib/report.js";
import { benchValue, checkNodesServe } from "../src/cli/bench/benchmark.js";
import { KvClient, readPath, writePath } from "../src/cli/bench/kv-client.js";
import { startLocalCluster, type LocalCluster } from "../src/cli/bench/local-cluster.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NAME = "cpu-per-op";
const KEYS = 10_000;
const VALUE_BYTES = 100;
const CONCURRENCY = 64;
const SEED = 2_024;
const LEVEL = "quorum";
const REQUEST_TIMEOUT_MS = 30_000;
/** Seconds the idle cluster is watched to measure its background CPU. */
const IDLE_WINDOW_S = 3;
/** /proc/<pid>/stat counts in clock ticks; Linux's USER_HZ is 100. */
const TICKS_PER_SECOND = 100;

type Operation = "put" | "get";

interface Plan {
  readonly runs: number;
  readonly ops: number;
  readonly label: string;
  readonly append: boolean;
  /** Another checkout (its bin/ and dist/ built) to measure beside this one, turn by turn. */
  readonly baseline: string | null;
  readonly baselineLabel: string;
}

function parsePlan(args: readonly string[]): Plan {
  const flag = (name: string): string | undefined => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const count = (name: string, fallback: number): number => {
    const text = flag(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value <= 0) {
      process.stderr.write(
        `cpu-per-op: ${name} must be a positive integer, got ${JSON.stringify(text)}\n`,
      );
      process.exit(2);
    }
    return value;
  };
  const labelOf = (name: string, fallback: string): string => {
    const label = flag(name) ?? fallback;
    if (!/^[\w.-]{1,40}$/.test(label)) {
      process.stderr.write(
        `cpu-per-op: ${name} must be 1 to 40 letters, digits, '.', '-' or '_', got ${JSON.stringify(label)}\n`,
      );
      process.exit(2);
    }
    return label;
  };
  const label = labelOf("--label", "current");
  const baselineLabel = labelOf("--baseline-label", "baseline");
  const baselineFlag = flag("--baseline");
  const baseline = baselineFlag === undefined ? null : path.resolve(baselineFlag);
  if (baseline !== null && !existsSync(path.join(baseline, "dist", "cli", "main.js"))) {
    process.stderr.write(
      `cpu-per-op: --baseline ${baseline} has no dist/cli/main.js: build it first\n`,
    );
    process.exit(2);
  }
  if (baseline !== null && baselineLabel === label) {
    process.stderr.write("cpu-per-op: --baseline-label must differ from --label\n");
    process.exit(2);
  }
  return {
    runs: count("--runs", 5),
    ops: count("--ops", 20_000),
    label,
    append: args.includes("--append"),
    baseline,
    baselineLabel,
  };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function nodesCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
}

/** A small deterministic generator (mulberry32), so every run draws the same keys. */
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

const keyOf = (index: number): string => `cpu-op-${index}`;

/**
 * Replica requests sent and the operations they carried, summed over the nodes (their /metrics).
 */
async function replicaRequestTotals(
  urls: readonly string[],
): Promise<{ requests: number; ops: number } | null> {
  try {
    let requests = 0;
    let ops = 0;
    for (const url of urls) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const sum = /^grapevine_replica_request_ops_sum(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
      const count = /^grapevine_replica_request_ops_count(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
      if (sum?.[1] === undefined || count?.[1] === undefined) return null;
      ops += Number(sum[1]);
      requests += Number(count[1]);
    }
    return { requests, ops };
  } catch {
    return null;
  }
}

/**
 * Issues exactly `count` operations, CONCURRENCY in flight; returns completed and failed counts.
 */
async function issue(
  client: KvClient,
  operation: Operation,
  count: number,
  value: Buffer,
  pickKey: () => number,
): Promise<{ completed: number; failed: number; errors: Record<string, number> }> {
  let next = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const worker = async (workerIndex: number): Promise<void> => {
    const node = workerIndex % client.nodeCount;
    while (next < count) {
      next += 1;
      const key = keyOf(pickKey());
      const outcome =
        operation === "put"
          ? await client.put(node, writePath(key, LEVEL), value)
          : await client.get(node, readPath(key, LEVEL));
      if (outcome !== null) {
        failed += 1;
        errors[outcome] = (errors[outcome] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, index) => worker(index)));
  return { completed: count - failed, failed, errors };
}

interface Sample {
  readonly operation: Operation;
  readonly run: number;
  readonly ops: number;
  readonly failed: number;
  readonly wallS: number;
  readonly cpuS: number;
  /** µs of node CPU per completed operation, background included. */
  readonly usPerOp: number;
  /** The same with the idle cluster's background CPU over the batch's wall time taken out. */
  readonly usPerOpNetOfIdle: number;
  readonly opsPerS: number;
  readonly loadAverage: number;
  /**
   * Replica operations per node-to-node replica request during the batch (coalescing), from
   * /metrics.
   */
  readonly opsPerReplicaRequest: number | null;
}

interface LabelFigures {
  readonly label: string;
  readonly measuredAt: string;
  readonly commit: string | null;
  readonly idleCores: number;
  readonly median: Readonly<
    Record<Operation, { usPerOp: number; usPerOpNetOfIdle: number; opsPerS: number }>
  >;
  readonly samples: readonly Sample[];
}

function gitCommit(): string | null {
  try {
    const head = readFileSync(path.join(REPO_ROOT, ".git", "HEAD"), "utf8").trim();
    if (!head.startsWith("ref: ")) return head;
    return readFileSync(path.join(REPO_ROOT, ".git", head.slice(5)), "utf8").trim();
  } catch {
    return null;
  }
}

/** Figures of earlier runs, by label. */
function earlierFigures(): LabelFigures[] {
  const file = path.join(RESULTS_DIR, `${NAME}.json`);
  if (!existsSync(file)) return [];
  try {
    const body = JSON.parse(readFileSync(file, "utf8")) as {
      results?: { labels?: LabelFigures[] };
    };
    return body.results?.labels ?? [];
  } catch {
    return [];
  }
}

// ---- main ----

const plan = parsePlan(process.argv.slice(2));
if (!existsSync(path.join(REPO_ROOT, "dist", "cli", "main.js"))) {
  process.stderr.write("cpu-per-op: run `npm run build` first: the nodes run from dist/\n");
  process.exit(2);
}
console.log(
  `cpu-per-op: ${JSON.stringify(plan)}; load average ${os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(" ")}`,
);

interface Target {
  readonly label: string;
  readonly cluster: LocalCluster;
  readonly client: KvClient;
  idleCores: number;
  readonly samples: Sample[];
}

const clusters: LocalCluster[] = [];
process.once("SIGINT", () => {
  void Promise.all(clusters.map((cluster) => cluster.stop())).then(() => process.exit(130));
});

/** Starts a cluster from this checkout, or from another one's bin/ and dist/ (--baseline DIR). */
async function startTarget(label: string, checkout: string | null): Promise<Target> {
  const start: typeof startLocalCluster =
    checkout === null
      ? startLocalCluster
      : (
          (await import(path.join(checkout, "src", "cli", "bench", "local-cluster.ts"))) as {
            startLocalCluster: typeof startLocalCluster;
          }
        ).startLocalCluster;
  const cluster = await start({
    nodeCount: 3,
    basePort: null,
    nodeValues: { rf: "3", logLevel: "warn" },
    env: process.env,
  });
  clusters.push(cluster);
  await checkNodesServe(cluster.urls);
  const client = new KvClient({
    urls: cluster.urls,
    connectionsPerNode: Math.ceil(CONCURRENCY / cluster.urls.length),
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  return { label, cluster, client, idleCores: 0, samples: [] };
}

const targets: Target[] = [];
try {
  targets.push(await startTarget(plan.label, null));
  if (plan.baseline !== null) targets.push(await startTarget(plan.baselineLabel, plan.baseline));
  const value = benchValue(VALUE_BYTES, SEED);
  for (const target of targets) {
    // Load every key once (so GETs find values), which also warms the JIT of every node.
    let loadIndex = 0;
    const loaded = await issue(target.client, "put", KEYS, value, () => loadIndex++);
    if (loaded.failed > 0)
      throw new Error(
        `${target.label}: loading failed ${loaded.failed} times: ${JSON.stringify(loaded.errors)}`,
      );
    const random = randomFrom(SEED);
    const pickKey = (): number => Math.floor(random() * KEYS);
    // A warm-up of each operation, unmeasured.
    await issue(target.client, "put", Math.min(plan.ops, 5_000), value, pickKey);
    await issue(target.client, "get", Math.min(plan.ops, 5_000), value, pickKey);
    const pids = target.cluster.pids;
    const idleBefore = nodesCpuSeconds(pids);
    const idleStarted = performance.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_S * 1000));
    target.idleCores =
      (nodesCpuSeconds(pids) - idleBefore) / ((performance.now() - idleStarted) / 1000);
    console.log(
      `${target.label}: idle cluster uses ${target.idleCores.toFixed(3)} cores of background work`,
    );
  }

  const random = randomFrom(SEED + 1);
  const pickKey = (): number => Math.floor(random() * KEYS);
  for (let run = 1; run <= plan.runs; run++) {
    for (const operation of ["put", "get"] as const) {
      // With a baseline the two clusters take turns, in alternating order, so drifting load on the
      // machine falls on both alike.
      const order = run % 2 === 1 ? targets : [...targets].reverse();
      for (const target of order) {
        const pids = target.cluster.pids;
        const loadAverage = os.loadavg()[0] ?? 0;
        const replicaBefore = await replicaRequestTotals(target.cluster.urls);
        const cpuBefore = nodesCpuSeconds(pids);
        const started = performance.now();
        const result = await issue(target.client, operation, plan.ops, value, pickKey);
        const wallS = (performance.now() - started) / 1000;
        const cpuS = nodesCpuSeconds(pids) - cpuBefore;
        const replicaAfter = await replicaRequestTotals(target.cluster.urls);
        const replicaRequests =
          replicaBefore === null || replicaAfter === null
            ? 0
            : replicaAfter.requests - replicaBefore.requests;
        if (result.failed > 0)
          console.log(
            `  ${target.label} ${operation} run ${run}: ${result.failed} failed ${JSON.stringify(result.errors)}`,
          );
        const completed = Math.max(1, result.completed);
        const sample: Sample = {
          operation,
          run,
          ops: result.completed,
          failed: result.failed,
          wallS: Number(wallS.toFixed(3)),
          cpuS: Number(cpuS.toFixed(2)),
          usPerOp: Number(((cpuS * 1e6) / completed).toFixed(1)),
          usPerOpNetOfIdle: Number(
            (((cpuS - target.idleCores * wallS) * 1e6) / completed).toFixed(1),
          ),
          opsPerS: Math.round(result.completed / wallS),
          loadAverage: Number(loadAverage.toFixed(2)),
          opsPerReplicaRequest:
            replicaBefore === null || replicaAfter === null || replicaRequests <= 0
              ? null
              : Number(((replicaAfter.ops - replicaBefore.ops) / replicaRequests).toFixed(2)),
        };
        target.samples.push(sample);
        console.log(
          `${target.label} ${operation} #${run}: ${sample.usPerOp} µs node CPU/op (${sample.usPerOpNetOfIdle} net of idle), ` +
            `${sample.opsPerS} ops/s, ${sample.opsPerReplicaRequest ?? "?"} ops per replica request, load ${sample.loadAverage}`,
        );
      }
    }
  }
} finally {
  await Promise.all(targets.map((target) => target.client.close()));
  await Promise.all(clusters.map((cluster) => cluster.stop()));
}

const earlier = earlierFigures();
// The baseline first, so charts read before → after.
const measured: LabelFigures[] = [...targets].reverse().map((target) => {
  const ownEarlier = plan.append
    ? (earlier.find((figures) => figures.label === target.label)?.samples ?? [])
    : [];
  const allSamples = [...ownEarlier, ...target.samples];
  const medianOf = (operation: Operation): LabelFigures["median"][Operation] => {
    const of = allSamples.filter((sample) => sample.operation === operation);
    return {
      usPerOp: Number(median(of.map((s) => s.usPerOp)).toFixed(1)),
      usPerOpNetOfIdle: Number(median(of.map((s) => s.usPerOpNetOfIdle)).toFixed(1)),
      opsPerS: Math.round(median(of.map((s) => s.opsPerS))),
    };
  };
  return {
    label: target.label,
    measuredAt: new Date().toISOString(),
    commit: target.label === plan.label ? gitCommit() : null,
    idleCores: Number(target.idleCores.toFixed(3)),
    median: { put: medianOf("put"), get: medianOf("get") },
    samples: allSamples,
  };
});
const measuredLabels = new Set(measured.map((figures) => figures.label));
const labels = [
  ...earlier.filter((figures) => !measuredLabels.has(figures.label)),
  ...measured,
].sort((a, b) => a.measuredAt.localeCompare(b.measuredAt));

for (const figures of labels) {
  console.log(
    `${figures.label.padEnd(12)} PUT ${figures.median.put.usPerOp} µs/op (${figures.median.put.usPerOpNetOfIdle} net)  ` +
      `GET ${figures.median.get.usPerOp} µs/op (${figures.median.get.usPerOpNetOfIdle} net)  [${figures.measuredAt}]`,
  );
}

const labelOrder = labels.map((figures) => figures.label);
const chart: TopLevelSpec = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: `Node CPU per quorum operation (3 nodes, rf 3, ${VALUE_BYTES} B, ${CONCURRENCY} in flight; bars: median, dots: runs)`,
  data: {
    values: labels.flatMap((figures) =>
      figures.samples.map((sample) => ({
        label: figures.label,
        operation: sample.operation.toUpperCase(),
        usPerOp: sample.usPerOp,
      })),
    ),
  },
  facet: { column: { field: "operation", type: "nominal", title: null } },
  spec: {
    width: 220,
    height: 260,
    layer: [
      {
        mark: "bar",
        encoding: {
          x: { field: "label", type: "nominal", sort: labelOrder, title: null },
          y: {
            aggregate: "median",
            field: "usPerOp",
            type: "quantitative",
            title: "µs of node CPU per operation (sum of 3 nodes)",
          },
          color: { field: "label", type: "nominal", sort: labelOrder, legend: null },
        },
      },
      {
        mark: { type: "point", filled: true, color: "black", size: 20 },
        encoding: {
          x: { field: "label", type: "nominal", sort: labelOrder },
          y: { field: "usPerOp", type: "quantitative" },
        },
      },
    ],
  },
};

const written = await writeBenchReport({
  name: NAME,
  description:
    "µs of CPU (user + system, summed over the 3 node processes) per completed quorum PUT and GET of 100 B values, " +
    "64 in flight, fixed operation counts; median over runs, per label (before/after a change).",
  parameters: {
    runs: plan.runs,
    append: plan.append,
    baseline: plan.baseline === null ? null : plan.baselineLabel,
    opsPerRun: plan.ops,
    keys: KEYS,
    valueBytes: VALUE_BYTES,
    concurrency: CONCURRENCY,
    level: LEVEL,
    rf: 3,
    nodes: 3,
    seed: SEED,
  },
  results: { labels },
  chart,
});
console.log(`wrote ${written.join(", ")}`);
