// test/faults/fault-cluster.ts — a cluster of real `grapevine start` processes, each in its own
// network namespace (network.ts), for the fault scenarios; and the steps every scenario shares:
// start and wait for a full view, heal and wait for the cluster to settle, check the history.
//
// useFaultCluster() registers the hooks: a failing test prints every node's log tail; afterAll
// kills every process, then removes the namespaces and links, whatever happened. Settling, after
// the faults heal, is measured, not assumed: every node sees every member live, every node's hints
// are replayed (grapevine_hints_pending is 0 everywhere), the recorder's final quorum reads run on
// every node (read repair fixes what they see), and the replicas' own copies are read until they
// agree. The time from heal to agreement is the convergence time each scenario prints.

import { afterAll, beforeEach, expect } from "vitest";
import type { ClusterStatusBody } from "../../src/api/cluster-routes.js";
import { closeKvPools, kv } from "../support/kv.js";
import { ProcessCluster, type ClusterNode } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";
import { HistoryRecorder, startWorkload, type WorkerSpec } from "../support/history/recorder.js";
import { sleep } from "../support/wait-for.js";
import { faultSeed } from "./seed.js";
import { FaultNetwork, removeLeftovers } from "./network.js";

/** Every node serves on this port inside its own namespace. */
export const NODE_PORT = 7001;
/** Replication factor of every scenario (the node default). */
export const REPLICATION_FACTOR = 3;
/** How long the cluster may take to show every member live on every node. */
export const FULL_VIEW_TIMEOUT_MS = 45_000;
/** The convergence bound: heal to every replica of every key agreeing. */
export const CONVERGENCE_BOUND_MS = 90_000;

export interface FaultCluster {
  readonly network: FaultNetwork;
  readonly processes: ProcessCluster;
  /** node1..nodeN; `node(i)` is in namespace i at network.address(i). */
  readonly ids: readonly string[];
  node(i: number): ClusterNode;
  nodes(): ClusterNode[];
}

export interface FaultClusterHandle {
  /** Creates the network and starts the nodes; resolves when every node sees every member live. */
  start(options: { nodes: number; args?: readonly string[] }): Promise<FaultCluster>;
  /** The cluster started by start(); throws before. */
  readonly current: FaultCluster;
}

export function useFaultCluster(name: string): FaultClusterHandle {
  let cluster: FaultCluster | null = null;
  let processes: ProcessCluster | null = null;
  let network: FaultNetwork | null = null;
  beforeEach((context) => {
    context.onTestFailed(() => {
      if (processes !== null)
        console.error(`\n${context.task.name} failed; node logs:\n${processes.describeLogs()}`);
    });
  });
  afterAll(async () => {
    try {
      await closeKvPools();
      // Processes first: a namespace with a process inside outlives its name.
      await processes?.cleanup();
    } finally {
      await network?.destroy();
    }
  });
  return {
    async start(options) {
      const removed = removeLeftovers();
      if (removed.length > 0)
        console.log(`removed leftovers of an earlier run: ${removed.join(", ")}`);
      network = await FaultNetwork.create(options.nodes);
      processes = new ProcessCluster(`faults-${name}`);
      const net = network;
      const procs = processes;
      const ids = Array.from({ length: options.nodes }, (_, index) => `node${index + 1}`);
      const spec = (i: number) => ({
        id: `node${i}`,
        port: NODE_PORT,
        host: net.address(i),
        commandPrefix: net.commandPrefix(i),
        seeds: i === 1 ? [] : [`${net.address(1)}:${NODE_PORT}`],
        args: options.args ?? [],
      });
      await procs.start(spec(1));
      await procs.startAll(ids.slice(1).map((_, index) => spec(index + 2)));
      cluster = {
        network: net,
        processes: procs,
        ids,
        node: (i: number) => procs.node(`node${i}`),
        nodes: () => ids.map((id) => procs.node(id)),
      };
      await waitFullView(cluster);
      return cluster;
    },
    get current(): FaultCluster {
      if (cluster === null) throw new Error("the fault cluster was not started");
      return cluster;
    },
  };
}

/** Every node sees every member live and normal. */
export async function waitFullView(
  cluster: FaultCluster,
  timeoutMs = FULL_VIEW_TIMEOUT_MS,
): Promise<void> {
  await waitFor(
    async () => {
      const views = await Promise.all(
        cluster.ids.map((id) =>
          cluster.processes.getJson<ClusterStatusBody>(id, "/cluster/status"),
        ),
      );
      return views.every(
        (view) =>
          view.members.length === cluster.ids.length &&
          view.members.every((member) => member.live && member.state === "normal"),
      );
    },
    { timeoutMs, intervalMs: 250, what: `${cluster.ids.length} live normal members on every node` },
  );
}

/** Waits until `observer` sees `subject` down (or live). */
export async function waitLiveness(
  cluster: FaultCluster,
  observer: number,
  subject: number,
  live: boolean,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    async () => {
      const view = await cluster.processes.getJson<ClusterStatusBody>(
        `node${observer}`,
        "/cluster/status",
      );
      return view.members.find((member) => member.id === `node${subject}`)?.live === live;
    },
    {
      timeoutMs,
      intervalMs: 200,
      what: `node${observer} to see node${subject} ${live ? "live" : "down"}`,
    },
  );
}

/** The sum over a node's series of one metric (every label set), e.g. grapevine_hints_pending. */
export async function metricSum(node: ClusterNode, name: string): Promise<number> {
  const text = (
    await kv(node.url, "GET", "", { rawPath: "/metrics", timeoutMs: 3_000 })
  ).body.toString();
  let sum = 0;
  for (const match of text.matchAll(
    new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, "gm"),
  ))
    sum += Number(match[1]);
  return sum;
}

/** The sum of a node's grapevine_hints_pending gauges (hints it holds for every target). */
export function hintsPending(node: ClusterNode): Promise<number> {
  return metricSum(node, "grapevine_hints_pending");
}

/** A metric summed over every node of the cluster. */
export async function clusterMetricSum(cluster: FaultCluster, name: string): Promise<number> {
  const sums = await Promise.all(cluster.nodes().map((node) => metricSum(node, name)));
  return sums.reduce((total, value) => total + value, 0);
}

export interface SettleReport {
  /** Heal to every node seeing every member live; null: not within the bound. */
  readonly fullViewMs: number | null;
  /**
   * Heal to the first moment after the full view with no hint pending on any node; null: not within
   * the bound.
   */
  readonly hintsReplayedMs: number | null;
  /**
   * Heal to every replica of every key agreeing (after the final quorum reads); null: not within
   * the bound.
   */
  readonly convergedMs: number | null;
}

/** Watches the recovery from the moment of the heal, while the load may still run. */
export interface RecoveryWatch {
  readonly healedAtMs: number;
  /** Heal to every node seeing every member live, or null past the bound. */
  readonly fullViewMs: Promise<number | null>;
  /** Heal to no hint pending anywhere (first seen after the full view), or null past the bound. */
  readonly hintsReplayedMs: Promise<number | null>;
}

/** Call right after healing the fault: measures, in the background, how long recovery takes. */
export function watchRecovery(cluster: FaultCluster, recorder: HistoryRecorder): RecoveryWatch {
  const healedAtMs = recorder.nowMs();
  const remaining = (): number =>
    Math.max(1_000, healedAtMs + CONVERGENCE_BOUND_MS - recorder.nowMs());
  const since = (): number => Math.round(recorder.nowMs() - healedAtMs);
  const fullViewMs = waitFullView(cluster, remaining()).then(since, () => null);
  const hintsReplayedMs = fullViewMs.then((seen) =>
    seen === null
      ? null
      : waitFor(
          async () => {
            const pending = await Promise.all(cluster.nodes().map(hintsPending));
            return pending.every((count) => count === 0);
          },
          { timeoutMs: remaining(), intervalMs: 250, what: "no hint pending on any node" },
        ).then(since, () => null),
  );
  recorder.note("healed");
  return { healedAtMs, fullViewMs, hintsReplayedMs };
}

/**
 * After the load stopped: waits for the recovery watch (full view, hints replayed), checks again
 * that no hint is pending (the load after the heal may have made new ones), runs the recorder's
 * final quorum reads on every node, then re-reads the replicas' copies until they agree or the
 * bound passes, and prints the measured times (all from the heal).
 */
export async function settleAndCollect(
  cluster: FaultCluster,
  recorder: HistoryRecorder,
  recovery: RecoveryWatch,
): Promise<SettleReport> {
  const { healedAtMs } = recovery;
  const since = (): number => Math.round(recorder.nowMs() - healedAtMs);
  const deadline = healedAtMs + CONVERGENCE_BOUND_MS;
  const remaining = (): number => Math.max(1_000, deadline - recorder.nowMs());
  const fullViewMs = await recovery.fullViewMs;
  const hintsReplayedMs = await recovery.hintsReplayedMs;
  await waitFullView(cluster, remaining());
  await waitFor(
    async () => {
      const pending = await Promise.all(cluster.nodes().map(hintsPending));
      return pending.every((count) => count === 0);
    },
    { timeoutMs: remaining(), intervalMs: 250, what: "no hint pending on any node" },
  );
  await recorder.finalReads({ nodes: cluster.nodes() });
  let divergent: string[] = [];
  await waitFor(
    async () => {
      divergent = await recorder.collectReplicas({ nodes: cluster.nodes() });
      return divergent.length === 0;
    },
    { timeoutMs: remaining(), intervalMs: 500, what: "every replica of every key to agree" },
  ).catch(() => {
    // The last copies read stay in the history: the checker reports the divergent keys.
    console.log(`[${recorder.name}] ${divergent.length} keys still divergent at the bound`);
  });
  const convergedMs = divergent.length === 0 ? since() : null;
  const seconds = (ms: number | null): string =>
    ms === null ? `NOT within the bound` : `in ${(ms / 1000).toFixed(1)} s`;
  recorder.note(
    `settled: full view ${fullViewMs ?? "never"} ms, hints replayed ${hintsReplayedMs ?? "never"} ms, converged ${convergedMs ?? "never"} ms after heal`,
  );
  console.log(
    `[${recorder.name}] after the heal: full view ${seconds(fullViewMs)}, every hint replayed ${seconds(hintsReplayedMs)}, ` +
      `every replica of every key converged ${seconds(convergedMs)} (bound ${CONVERGENCE_BOUND_MS / 1000} s; the load ran on for a few seconds after the heal)`,
  );
  const [stored, replayed, dropped, repairs] = await Promise.all(
    [
      "grapevine_hints_stored_total",
      "grapevine_hints_replayed_total",
      "grapevine_hints_dropped_total",
      "grapevine_read_repair_keys_total",
    ].map((name) => clusterMetricSum(cluster, name)),
  );
  console.log(
    `[${recorder.name}] across the cluster (since each node's last start): hints stored ${stored}, replayed ${replayed}, dropped ${dropped}; replica copies fixed by read repair ${repairs}`,
  );
  return { fullViewMs, hintsReplayedMs, convergedMs };
}

/**
 * Checks the history (prints the summary; keeps the file on failure) and fails the test on any
 * violation.
 */
export function expectNoViolations(recorder: HistoryRecorder): void {
  const result = recorder.check({ replicationFactor: REPLICATION_FACTOR });
  expect(
    result.summary.quorumAckedWrites,
    "the load acknowledged some quorum writes",
  ).toBeGreaterThan(0);
  expect(
    result.violations.map((violation) => violation.message),
    result.file === null ? "" : `history: ${result.file}`,
  ).toEqual([]);
}

/** Keys every scenario's load writes and reads: few, so faults hit keys many operations share. */
export const SCENARIO_KEYS = 40;
/**
 * Load before the fault and after the heal, so both the fault and the recovery happen under load.
 */
export const LOAD_BEFORE_FAULT_MS = 3_000;
export const LOAD_AFTER_HEAL_MS = 5_000;

export interface FaultScenario {
  /** Names the recorder, the seed and the log lines. */
  readonly name: string;
  /** The client load's workers; see workersAround(). */
  readonly workers: (cluster: FaultCluster) => readonly WorkerSpec[];
  /** Injects the fault and heals it (notes each step in the recorder); resolves once healed. */
  readonly fault: (cluster: FaultCluster, recorder: HistoryRecorder) => Promise<void>;
  readonly loadBeforeMs?: number;
  readonly loadAfterMs?: number;
}

/**
 * Five workers on the nodes other than `subject`, one on `subject` alone: a worker stuck on a node
 * that does not answer (5 s client deadline) would otherwise starve the load the fault is about.
 */
export function workersAround(cluster: FaultCluster, subject: number): WorkerSpec[] {
  const others = cluster.nodes().filter((node) => node.id !== cluster.node(subject).id);
  return [
    ...Array.from({ length: 5 }, (_, index) => ({ name: `w${index + 1}`, nodes: others })),
    { name: `w-node${subject}`, nodes: [cluster.node(subject)] },
  ];
}

/**
 * The shape every scenario shares: start a load, inject and heal the fault under it, keep the load
 * running a little after the heal, then settle, print the convergence times and check the history.
 */
export async function runFaultScenario(
  cluster: FaultCluster,
  scenario: FaultScenario,
): Promise<SettleReport> {
  const recorder = new HistoryRecorder(scenario.name);
  const load = startWorkload(recorder, {
    seed: faultSeed(scenario.name),
    keys: SCENARIO_KEYS,
    workers: scenario.workers(cluster),
  });
  let recovery: RecoveryWatch | null = null;
  try {
    await sleep(scenario.loadBeforeMs ?? LOAD_BEFORE_FAULT_MS);
    await scenario.fault(cluster, recorder);
    recovery = watchRecovery(cluster, recorder);
    await sleep(scenario.loadAfterMs ?? LOAD_AFTER_HEAL_MS);
  } finally {
    await load.stop();
  }
  const settled = await settleAndCollect(cluster, recorder, recovery);
  expectNoViolations(recorder);
  expect(
    settled.convergedMs,
    "every replica of every key converged within the bound",
  ).not.toBeNull();
  return settled;
}
