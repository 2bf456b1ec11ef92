// sim/data-run.ts — one seeded run of the data-path simulator, start to verdict:
//
//   start every machine → wait until each serves → clients run the workload while the fault plan
//   plays → at healAtMs every fault is undone and the clients stop → the cluster settles (hints
//   replay) → every node runs a full repair → each key's replicas' own copies (before any read,
//   whose read repair would mend what the repair missed) → quorum reads of every written key from
//   every node → the history judge (history/checker.ts).
// Invariants of the nodes are watched throughout (run-invariants.ts); a breach fails the run. Power
// losses are recorded for the judge, which excuses what they may take with --sync off.
//
// Everything is drawn from the seed through named child streams (seeds.ts), so the same seed
// replays the same run, event for event. A run returns its verdict; it throws only for a bug in the
// simulator itself (a stuck phase past its bound names the phase).

import { createRandom, randomInt } from "../core/random.js";
import { tokenOf } from "../ring/partitioner.js";
import { sharedReplicasFor } from "../ring/placement.js";
import { DataCluster } from "./data-cluster.js";
import { applyFault, healAll } from "./data-faults.js";
import { FAULT_DRAW_LIMITS } from "./fault-draws.js";
import { FAULT_KINDS, planFaults, type FaultKind } from "./fault-plan.js";
import { ringCheck, settleRing, withRingCheck } from "./ring-convergence.js";
import { checkHistory, type CheckResult } from "./history/checker.js";
import type { ExpiryClocks, History, PowerLoss, ReplicaState } from "./history/types.js";
import { repairCoverageViolation, repairPairsOf } from "./repair-coverage.js";
import { RUN_INVARIANT_LIMITS, RunInvariants } from "./run-invariants.js";
import { ClientHistory, runClientOp, type ClientView } from "./sim-client.js";
import { awaitVirtual, runVirtual } from "./sim-loop.js";
import { childSeed } from "./seeds.js";
import { SIM_DISK_DEFAULTS } from "./sim-disk.js";
import { VirtualClock } from "./virtual-clock.js";
import { WorkloadGenerator, type WorkloadOptions } from "./workload.js";

export interface DataRunOptions {
  readonly seed: number;
  readonly nodes: number;
  /** Machines not started at first, for the "ring" family's bootstraps (default none). */
  readonly spares?: number;
  readonly replicationFactor: number;
  /** Client workers, each with one operation in flight. */
  readonly workers: number;
  /** Virtual ms of workload and faults; then everything heals. */
  readonly faultPhaseMs: number;
  /** Fault families in play; empty for a run without faults. */
  readonly faultKinds: ReadonlySet<FaultKind>;
  readonly meanFaultGapMs: number;
  readonly maxDownAtOnce: number;
  /** Virtual ms a client waits between two operations. */
  readonly thinkMs: number;
  readonly workload?: Partial<WorkloadOptions>;
  /**
   * The nodes' --sync (default on). Off: a power loss may lose acknowledged writes, and the judge
   * holds the run to the promise that then applies (history/power-loss.ts). It wins over nodeFlags.
   */
  readonly sync?: "on" | "off";
  readonly nodeFlags?: Readonly<Record<string, string>>;
}

export const DATA_RUN_DEFAULTS: Omit<DataRunOptions, "seed"> = {
  nodes: 5,
  spares: 2,
  replicationFactor: 3,
  workers: 8,
  faultPhaseMs: 30_000,
  // Every family, ring changes included: the stale quorum reads during ring changes (seed
  // 4089250117; seeds 3, 4 and 5 with --faults ring,crash) pass since writes wait for pending
  // replicas and removal tombstones outlive restarts.
  faultKinds: new Set<FaultKind>(FAULT_KINDS),
  meanFaultGapMs: 3_000,
  maxDownAtOnce: 1,
  thinkMs: 5,
};

/** Bounds of the phases after the faults, virtual ms. */
const PHASE_LIMITS = {
  startMs: 180_000,
  settleMs: 15_000,
  /**
   * Ring changes still running at the heal (a restarted joiner's bootstrap) get this long to
   * finish.
   */
  ringSettleMs: 60_000,
  repairMs: 120_000,
  finalReadMs: 60_000,
  invariantScanMs: 10_000,
} as const;

/**
 * Final reads one node coordinates at once: well under its requestsInFlightMax (4,096), past which
 * it answers `unavailable`; a long run writes more keys than that (seed 15100, 40 s, no faults).
 */
const FINAL_READS_IN_FLIGHT_MAX = 1_024;

/** The simulated wall clock's epoch: a real-looking date, so generations look like real ones. */
const EPOCH_MS = 1_780_000_000_000;

export interface DataRunResult {
  readonly seed: number;
  readonly check: CheckResult;
  readonly history: History;
  /** Workload operations run (final reads not included). */
  readonly operations: number;
  readonly virtualMs: number;
  readonly eventsRun: number;
}

export async function runDataSimulation(options: DataRunOptions): Promise<DataRunResult> {
  const clock = new VirtualClock({ startMs: EPOCH_MS });
  const invariants = new RunInvariants(clock);
  const sync = options.sync ?? "on";
  const cluster = new DataCluster({
    seed: options.seed,
    clock,
    nodes: options.nodes,
    spares: options.spares ?? 0,
    replicationFactor: options.replicationFactor,
    nodeFlags: { ...options.nodeFlags, sync },
    logger: invariants.logger(),
    hintBytesPerTargetMax: RUN_INVARIANT_LIMITS.hintBytesPerTargetMax,
  });
  const history = new ClientHistory();
  const powerLosses: PowerLoss[] = [];
  await startAll(cluster);
  const startMs = clock.nowMs();
  invariants.begin(cluster, startMs);
  scheduleFaults(cluster, history, options, startMs, powerLosses);
  const done = startWorkers(cluster, history, options, startMs + options.faultPhaseMs);
  await runVirtual(clock, startMs + options.faultPhaseMs);
  healAll(cluster);
  history.note(clock.nowMs() - startMs, "heal: every fault undone");
  await checkPhase(invariants, clock, "the fault phase");
  await awaitVirtual(clock, done, clock.nowMs() + PHASE_LIMITS.settleMs);
  await restartDown(cluster);
  await runVirtual(clock, clock.nowMs() + PHASE_LIMITS.settleMs);
  await checkPhase(invariants, clock, "settle");
  await settleRing(cluster, PHASE_LIMITS.ringSettleMs);
  const ringViolation = ringCheck(cluster);
  await repairAll(cluster, invariants);
  await checkPhase(invariants, clock, "repair");
  invariants.stop();
  // The replicas' copies before the final reads: their read repair would mend what a repair missed.
  const replicas = await replicaCopies(cluster, history);
  const finalReads = await readFinal(cluster, history);
  const record: History = {
    name: `sim seed ${options.seed}`,
    startedAt: new Date(EPOCH_MS).toISOString(),
    ops: history.ops,
    finalReads,
    replicas,
    events: history.events,
    invariants: invariants.breaches(),
    durability: { sync, powerLosses, writebackHorizonMs: SIM_DISK_DEFAULTS.writebackAfterMs },
    clocks: expiryClocksOf(cluster),
  };
  const judged = checkHistory(record, { replicationFactor: options.replicationFactor });
  return {
    seed: options.seed,
    check: withRingCheck(judged, ringViolation),
    history: record,
    operations: history.ops.length,
    virtualMs: clock.nowMs() - EPOCH_MS,
    eventsRun: clock.eventsRun,
  };
}

/**
 * How far the machines' wall clocks may be from the virtual clock the history is timed by: as
 * far as a clock-offset fault reaches (past the guard's limit, so it gets crossed); a stamp runs
 * at most the guard's limit ahead of its coordinator's wall clock.
 */
function expiryClocksOf(cluster: DataCluster): ExpiryClocks {
  const limitMs = cluster.node(cluster.ids()[0] as string)?.config.maxClockOffsetMs ?? 500;
  return {
    wallOffsetMaxMs: FAULT_DRAW_LIMITS.clockOffsetReach * limitMs,
    stampLeadMaxMs: limitMs,
  };
}

/** The invariants' end-of-phase check, which scans the hint stores while time runs. */
function checkPhase(invariants: RunInvariants, clock: VirtualClock, phase: string): Promise<void> {
  return awaitVirtual(
    clock,
    invariants.checkPhase(phase),
    clock.nowMs() + PHASE_LIMITS.invariantScanMs,
  );
}

async function startAll(cluster: DataCluster): Promise<void> {
  const { clock } = cluster;
  // Building a node waits on no timer, only on its disk: no virtual time passes.
  await Promise.all(cluster.ids().map((id) => cluster.start(id)));
  await awaitVirtual(
    clock,
    untilTrue(cluster, () => everyNodeSeesAllNormal(cluster)),
    clock.nowMs() + PHASE_LIMITS.startMs,
  );
}

/** Every node serves and sees every machine as a live, normal member (joins finished). */
function everyNodeSeesAllNormal(cluster: DataCluster): boolean {
  const ids = cluster.ids();
  return ids.every((id) => {
    const node = cluster.node(id);
    if (node?.readiness().ready !== true) return false;
    const members = node.engine.membership();
    return ids.every((other) =>
      members.some(
        (member) => member.id === other && member.status === "normal" && node.engine.isLive(other),
      ),
    );
  });
}

/** Resolves once `condition` holds, checking every 100 ms of virtual time. */
function untilTrue(cluster: DataCluster, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (condition()) resolve();
      else cluster.clock.schedule(100, check);
    };
    check();
  });
}

function scheduleFaults(
  cluster: DataCluster,
  history: ClientHistory,
  options: DataRunOptions,
  startMs: number,
  powerLosses: PowerLoss[],
): void {
  if (options.faultKinds.size === 0) return;
  cluster.onNodeExit = (id, exit) => {
    history.note(cluster.clock.nowMs() - startMs, `${id} exited ${exit.code}: ${exit.reason}`);
  };
  const plan = planFaults(createRandom(childSeed(options.seed, "faults")), {
    nodes: cluster.ids(),
    spareNodes: cluster.spareIds(),
    replicationFactor: options.replicationFactor,
    durationMs: options.faultPhaseMs,
    healAtMs: options.faultPhaseMs,
    meanGapMs: options.meanFaultGapMs,
    maxDownAtOnce: options.maxDownAtOnce,
    maxClockOffsetMs: cluster.node(cluster.ids()[0] as string)?.config.maxClockOffsetMs ?? 500,
    kinds: options.faultKinds,
  });
  for (const { atMs, fault } of plan) {
    cluster.clock.scheduleAt(startMs + atMs, () => {
      const note = (what: string): void => {
        history.note(cluster.clock.nowMs() - startMs, what);
      };
      note(applyFault(cluster, fault, note));
      if (fault.kind === "power-loss")
        powerLosses.push({ node: fault.node, atMs: cluster.clock.nowMs() });
    });
  }
}

/** Every worker runs operations until `untilMs`; resolves when the last one has finished. */
function startWorkers(
  cluster: DataCluster,
  history: ClientHistory,
  options: DataRunOptions,
  untilMs: number,
): Promise<void> {
  const { clock } = cluster;
  const workload = new WorkloadGenerator(
    createRandom(childSeed(options.seed, "workload")),
    { replicationFactor: options.replicationFactor, ...options.workload },
    createRandom(childSeed(options.seed, "workload:ttl")),
  );
  const clientTimeoutMs =
    2 * (cluster.node(cluster.ids()[0] as string)?.config.requestTimeoutMs ?? 2_000);
  const workers = Array.from({ length: options.workers }, async (_, worker) => {
    const routing = createRandom(childSeed(options.seed, `routing:${worker}`));
    while (clock.nowMs() < untilMs) {
      const op = workload.next(worker);
      // Clients go to the members of the moment: a joined spare takes requests, a node that left
      // none.
      const ids = cluster.ids();
      const node = ids[randomInt(routing, ids.length)] as string;
      const clientOp =
        op.kind === "put"
          ? { ...op, kind: "put" as const, value: op.value ?? "" }
          : { ...op, kind: op.kind };
      await runClientOp(cluster, history, clientOp, {
        worker: `w${worker}`,
        node,
        clientTimeoutMs,
      });
      await sleep(clock, options.thinkMs);
    }
  });
  return Promise.all(workers).then(() => undefined);
}

function sleep(clock: ClientView["clock"], ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(ms, resolve));
}

async function restartDown(cluster: DataCluster): Promise<void> {
  const down = cluster.ids().filter((id) => cluster.stateOf(id) === "down");
  if (down.length === 0) return;
  await Promise.all(down.map((id) => cluster.start(id)));
}

/** A full repair on every node, one after another, each waited for and held to the ring's pairs. */
async function repairAll(cluster: DataCluster, invariants: RunInvariants): Promise<void> {
  const { clock } = cluster;
  for (const id of cluster.ids()) {
    const node = cluster.node(id);
    if (node === null) continue;
    const pairs = repairPairsOf(node.engine.ring(), id, node.config.replicationFactor);
    const job = node.antiEntropy.startRepair({ dryRun: false });
    await awaitVirtual(
      clock,
      untilTrue(cluster, () => node.antiEntropy.job(job)?.state !== "running"),
      clock.nowMs() + PHASE_LIMITS.repairMs,
    );
    const view = node.antiEntropy.job(job);
    const violation = view === undefined ? null : repairCoverageViolation(view, id, pairs);
    if (violation !== null) invariants.report("repair-coverage", id, violation);
  }
}

function writtenKeys(history: ClientHistory): string[] {
  const keys = new Set<string>();
  for (const op of history.ops) if (op.kind === "write") keys.add(op.key);
  return [...keys].sort();
}

async function readFinal(
  cluster: DataCluster,
  history: ClientHistory,
): Promise<History["finalReads"]> {
  const { clock } = cluster;
  const keys = writtenKeys(history);
  // The final reads take ids from the same sequence, and leave the workload's list as it was.
  const workloadOps = history.ops.length;
  const readsOn = async (node: string): Promise<void> => {
    for (let at = 0; at < keys.length; at += FINAL_READS_IN_FLIGHT_MAX) {
      const slice = keys.slice(at, at + FINAL_READS_IN_FLIGHT_MAX);
      const options = { worker: "final", node, clientTimeoutMs: 10_000 };
      const read = (key: string): Promise<unknown> =>
        runClientOp(cluster, history, { kind: "get", key, level: "quorum" }, options);
      await Promise.all(slice.map(read));
    }
  };
  const reads = cluster.ids().map(readsOn);
  await awaitVirtual(clock, Promise.all(reads), clock.nowMs() + PHASE_LIMITS.finalReadMs);
  const finals = history.ops.splice(workloadOps);
  return finals.filter((op) => op.kind === "read").sort((a, b) => a.id - b.id);
}

async function replicaCopies(
  cluster: DataCluster,
  history: ClientHistory,
): Promise<ReplicaState[]> {
  // The final ring, as a member up at the end sees it (the first machines may have left).
  const firstUp = cluster.ids().find((id) => cluster.stateOf(id) === "up");
  const first = firstUp === undefined ? null : cluster.node(firstUp);
  if (first === null) throw new Error("no member is up after heal");
  const ring = first.engine.ring();
  const states = writtenKeys(history).map(async (key): Promise<ReplicaState> => {
    const replicas = sharedReplicasFor(ring, tokenOf(key), first.config.replicationFactor);
    const copies = await Promise.all(
      replicas.map(async (replica) => {
        const record = await cluster.node(replica)?.store.get(key);
        return {
          node: replica,
          version:
            record === undefined
              ? null
              : {
                  timestampUs: record.timestampUs,
                  writer: record.writer,
                  value: Buffer.from(record.value).toString("latin1"),
                  tombstone: record.tombstone,
                  ...(record.expiresAtUs === undefined ? {} : { expiresAtUs: record.expiresAtUs }),
                },
        };
      }),
    );
    return { key, copies };
  });
  return awaitVirtual(cluster.clock, Promise.all(states), cluster.clock.nowMs() + 1_000);
}
