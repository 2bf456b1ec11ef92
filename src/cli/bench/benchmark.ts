// cli/bench/benchmark.ts — one benchmark from validated options to a result: start the local
// cluster when asked, check every node answers, load the records, run the workload, and always
// stop what was started (nodes, pools, temp dir), whatever happened in between.
//
// This is also the harness's programmatic entry: bench/data-path.ts runs it in its own process so
// the load generator there is exactly the one `grapevine bench` uses.

import { Agent, request } from "undici";
import { tlsConnect } from "../tls-client.js";
import { createRandom } from "../../core/random.js";
import type { Environment } from "../../node/config.js";
import { CliError } from "../shared.js";
import { errorKindOf, KvClient } from "./kv-client.js";
import {
  runLoadPhase,
  runRunPhase,
  type LoadPhaseResult,
  type RunPhaseResult,
} from "./load-generator.js";
import { startLocalCluster, type LocalCluster } from "./local-cluster.js";
import { BENCH_LIMITS, type BenchOptions } from "./options.js";
import { NO_PROGRESS, type ProgressDisplay } from "./progress.js";
import { buildResult, type BenchParameters, type BenchResult } from "./report.js";
import { tokenAwareRoute, type NodeRoute, type TokenRoute } from "./token-route.js";

export const BENCHMARK_LIMITS = {
  /** A node that cannot answer /health this fast before the run is reported unreachable. */
  healthTimeoutMs: 5_000,
} as const;

export interface BenchmarkDeps {
  readonly env: Environment;
  readonly progress?: ProgressDisplay;
  /** Aborting ends the current phase early; the result says it was interrupted. */
  readonly signal?: AbortSignal;
  /** Notes for a person (a warning, a cluster that did not stop cleanly), one line each. */
  readonly note?: (line: string) => void;
}

/** A value of `size` bytes drawn from the seed: the same bytes for the same seed. */
export function benchValue(size: number, seed: number): Buffer {
  const random = createRandom(seed ^ 0x5eed_0001);
  const value = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) value[i] = Math.floor(random.next() * 256);
  return value;
}

/** Fails with one line naming the first node that does not answer /health with 200. */
export async function checkNodesServe(urls: readonly string[]): Promise<void> {
  const agent = new Agent({
    connect: { timeout: BENCHMARK_LIMITS.healthTimeoutMs, ...tlsConnect() },
  });
  try {
    await Promise.all(
      urls.map(async (url) => {
        let status: number;
        try {
          const response = await request(`${url}/health`, {
            dispatcher: agent,
            signal: AbortSignal.timeout(BENCHMARK_LIMITS.healthTimeoutMs),
          });
          status = response.statusCode;
          await response.body.dump();
        } catch (error) {
          throw new CliError(`cannot reach ${url}: ${errorKindOf(error)}`);
        }
        if (status !== 200)
          throw new CliError(`${url}/health answered ${status}; is it a Grapevine node?`);
      }),
    );
  } finally {
    await agent.close().catch(() => undefined);
  }
}

function mostCommonError(errors: Readonly<Record<string, number>>): string {
  const [kind, count] = Object.entries(errors).sort((a, b) => b[1] - a[1])[0] ?? ["unknown", 0];
  return `${kind} ×${count}`;
}

export async function runBenchmark(
  options: BenchOptions,
  deps: BenchmarkDeps,
): Promise<BenchResult> {
  const progress = deps.progress ?? NO_PROGRESS;
  let cluster: LocalCluster | null = null;
  let client: KvClient | null = null;
  let tokens: TokenRoute | null = null;
  try {
    let urls: readonly string[];
    if (options.target.kind === "local") {
      cluster = await startLocalCluster({
        nodeCount: options.target.nodeCount,
        basePort: options.target.basePort,
        nodeValues: options.target.nodeValues,
        env: deps.env,
        ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      });
      urls = cluster.urls;
    } else {
      urls = options.target.urls;
    }
    await checkNodesServe(urls);
    if (options.client === "token-aware") {
      tokens = await tokenAwareRoute(urls);
      urls = tokens.urls;
    }
    client = new KvClient({
      urls,
      // Pools open connections as they need them, so this only bounds them: whichever node (or
      // replica of a hot key) a request goes to, a connection is free and no request queues here.
      connectionsPerNode: options.concurrency,
      requestTimeoutMs: BENCH_LIMITS.requestTimeoutMs,
    });
    const value = benchValue(options.valueSize, options.seed);
    const route = tokens?.route;
    const load = options.load ? await loadRecords(options, deps, client, value, route) : null;
    const run = await runWorkload(options, deps, client, value, route);
    progress.finish();
    return buildResult({
      workload: options.workload,
      nodes: urls,
      local: options.target.kind === "local" ? options.target.nodeCount : null,
      parameters: resultParameters(options),
      load,
      run,
    });
  } finally {
    progress.finish();
    await client?.close();
    await tokens?.close();
    if (cluster !== null) {
      const clean = await cluster.stop();
      if (!clean)
        deps.note?.(
          "not every local node stopped cleanly (a node exited non-zero or needed SIGKILL)",
        );
    }
  }
}

/** The load phase: fails the benchmark when every write failed, notes it when some did. */
async function loadRecords(
  options: BenchOptions,
  deps: BenchmarkDeps,
  client: KvClient,
  value: Buffer,
  route: NodeRoute | undefined,
): Promise<LoadPhaseResult> {
  const progress = deps.progress ?? NO_PROGRESS;
  const load = await runLoadPhase({
    client,
    keyCount: options.keys,
    value,
    concurrency: options.concurrency,
    consistency: { w: options.w, r: options.r },
    ...(route === undefined ? {} : { route }),
    onProgress: (p) => progress.onLoadProgress(p),
    ...(deps.signal === undefined ? {} : { signal: deps.signal }),
  });
  const loadErrors = load.recorder.summary("update");
  if (load.keys > 0 && loadErrors.errorCount === load.keys) {
    progress.finish();
    throw new CliError(
      `the load phase failed: every write failed (${mostCommonError(loadErrors.errors)})`,
    );
  }
  if (loadErrors.errorCount > 0) {
    deps.note?.(
      `the load phase had ${loadErrors.errorCount} failed writes (${mostCommonError(loadErrors.errors)})`,
    );
  }
  return load;
}

/** The timed run phase of the workload. */
async function runWorkload(
  options: BenchOptions,
  deps: BenchmarkDeps,
  client: KvClient,
  value: Buffer,
  route: NodeRoute | undefined,
): Promise<RunPhaseResult> {
  const progress = deps.progress ?? NO_PROGRESS;
  const interruptedEarly = deps.signal?.aborted === true;
  return runRunPhase({
    client,
    workload: options.workload,
    keyCount: options.keys,
    distribution: options.distribution,
    value,
    concurrency: options.concurrency,
    consistency: { w: options.w, r: options.r },
    // An interrupted load skips the run: there is nothing left to measure.
    durationS: interruptedEarly ? Number.MIN_VALUE : options.durationS,
    warmupS: interruptedEarly ? 0 : options.warmupS,
    targetRate: options.targetRate,
    seed: options.seed,
    ...(route === undefined ? {} : { route }),
    onProgress: (p) => progress.onRunProgress(p),
    ...(deps.signal === undefined ? {} : { signal: deps.signal }),
  });
}

/** The options a result records, so a run can be repeated. */
function resultParameters(options: BenchOptions): BenchParameters {
  return {
    keys: options.keys,
    valueSize: options.valueSize,
    distribution: options.distribution,
    concurrency: options.concurrency,
    durationS: options.durationS,
    warmupS: options.warmupS,
    w: options.w,
    r: options.r,
    seed: options.seed,
    targetRate: options.targetRate,
    load: options.load,
    client: options.client,
  };
}
