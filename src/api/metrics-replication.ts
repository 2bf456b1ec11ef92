// api/metrics-replication.ts — the data path's series (issues 2 and 3): the coordinator, the
// replica client and routes, the hybrid logical clock's refusals, hinted handoff and read repair,
// registered after the store's in the order a scrape has always listed them.

import { Gauge, type Registry } from "prom-client";
import type { CoordinatorStats } from "../replication/coordinator.js";
import type { FallbackCopiesStats } from "../replication/fallback-copies.js";
import type { HintedHandoffStats } from "../replication/hinted-handoff.js";
import type { ReadRepairStats } from "../replication/read-repair.js";
import type { ReplicaClientStats } from "../net/replica-client.js";
import type { ReplicaRouteStats } from "../net/replica-routes.js";
import {
  METRICS_PREFIX,
  observedCounter,
  observedLabeledCounter,
  observedPeerCounter,
} from "./metrics-observed.js";
import { registerStorage, type StoreSources } from "./metrics-storage.js";

/** The data path's counters (issue 2); absent in a node without storage (tests of membership). */
export interface DataPathSources {
  readonly store: StoreSources;
  readonly coordinator: { stats(): CoordinatorStats };
  readonly replicaClient: { stats(): ReplicaClientStats };
  readonly replicaRoutes: ReplicaRouteStats;
  readonly clock: { refusals(): { readonly aheadCount: number; readonly invalidCount: number } };
  /** Hinted handoff and read repair (issue 3); absent in nodes built without them. */
  readonly handoff?: { stats(): HintedHandoffStats };
  readonly readRepair?: { stats(): ReadRepairStats };
  /** The copies this node holds as a fallback for down primaries (issue 16 §4). */
  readonly fallbacks?: { stats(): FallbackCopiesStats };
}

export function registerDataPath(registry: Registry, sources: DataPathSources): void {
  if (sources.handoff !== undefined) registerHandoff(registry, sources.handoff);
  if (sources.readRepair !== undefined) registerReadRepair(registry, sources.readRepair);
  if (sources.fallbacks !== undefined) registerFallbacks(registry, sources.fallbacks);
  registerStorage(registry, sources.store);
  registerCoordinator(registry, sources.coordinator);
  registerReplicaClient(registry, sources.replicaClient);
  registerReplicaRoutes(registry, sources.replicaRoutes);
  registerClockRefusals(registry, sources.clock);
}

function registerFallbacks(registry: Registry, fallbacks: { stats(): FallbackCopiesStats }): void {
  const gauge = (
    name: string,
    help: string,
    read: (stats: FallbackCopiesStats) => number,
  ): void => {
    new Gauge({
      name: `${METRICS_PREFIX}${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(read(fallbacks.stats()));
      },
    });
  };
  gauge(
    "fallback_bytes",
    "Bytes this node holds as fallback copies for down replicas",
    (s) => s.bytes,
  );
  gauge("fallback_copies", "Fallback copies this node holds for down replicas", (s) => s.copies);
  gauge(
    "fallback_bytes_max",
    "The bound on fallback bytes (--fallback-bytes-max)",
    (s) => s.bytesMax,
  );
  observedCounter(
    registry,
    "fallback_stored_total",
    "Writes this node stored as a fallback for a down replica",
    () => fallbacks.stats().stored,
  );
  observedCounter(
    registry,
    "fallback_refused_total",
    "Fallback writes refused because the fallback bytes were at their bound",
    () => fallbacks.stats().refusedFull,
  );
  observedCounter(
    registry,
    "fallback_handed_off_total",
    "Fallback copies their primary acknowledged (then deleted)",
    () => fallbacks.stats().handedOff,
  );
}

function registerHandoff(registry: Registry, handoff: { stats(): HintedHandoffStats }): void {
  observedCounter(
    registry,
    "hints_stored_total",
    "Hints stored for replicas that missed a write",
    () => handoff.stats().stored,
  );
  observedCounter(
    registry,
    "hints_covered_total",
    "Hints committed before acknowledging a write (--hint-before-ack), for replicas that had not answered yet",
    () => handoff.stats().covered,
  );
  observedCounter(
    registry,
    "hints_withdrawn_total",
    "Hints committed before an acknowledgement and withdrawn when their replica answered",
    () => handoff.stats().withdrawn,
  );
  observedCounter(
    registry,
    "hints_replayed_total",
    "Hints a returning replica acknowledged (then deleted)",
    () => handoff.stats().replayed,
  );
  observedLabeledCounter(
    registry,
    "hints_dropped_total",
    "Hints dropped: past the hint window, past the per-target byte bound, too large, or a storage error",
    "reason",
    () => ({ ...handoff.stats().dropped }),
  );
  observedLabeledCounter(
    registry,
    "hint_replays_total",
    "Hint replay runs, by outcome",
    "outcome",
    () => {
      const stats = handoff.stats();
      return { started: stats.replaysStarted, incomplete: stats.replaysFailed };
    },
  );
  new Gauge({
    name: `${METRICS_PREFIX}hints_pending`,
    help: "Hints stored and not yet replayed, per target replica",
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [peer, pending] of handoff.stats().pending) this.set({ peer }, pending.count);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}hints_pending_bytes`,
    help: "Bytes of hints stored and not yet replayed, per target replica",
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [peer, pending] of handoff.stats().pending) this.set({ peer }, pending.bytes);
    },
  });
}

function registerReadRepair(registry: Registry, readRepair: { stats(): ReadRepairStats }): void {
  observedLabeledCounter(
    registry,
    "read_repairs_total",
    "Reads that wrote the newest version back to stale replicas",
    "kind",
    () => {
      const stats = readRepair.stats();
      return { foreground: stats.foreground, background: stats.background };
    },
  );
  observedCounter(
    registry,
    "read_repair_keys_total",
    "Replica copies of a key made current by read repair",
    () => readRepair.stats().keysRepaired,
  );
  observedCounter(
    registry,
    "read_repair_writes_failed_total",
    "Read repair writes a replica did not acknowledge",
    () => readRepair.stats().repairWritesFailed,
  );
}

function registerCoordinator(
  registry: Registry,
  coordinator: DataPathSources["coordinator"],
): void {
  observedLabeledCounter(
    registry,
    "coordinator_requests_total",
    "Requests this node coordinated",
    "kind",
    () => {
      const stats = coordinator.stats();
      return { write: stats.writes, read: stats.reads };
    },
  );
  observedLabeledCounter(
    registry,
    "coordinator_failures_total",
    "Coordinated requests answered unavailable (503, incl. overloaded) or timeout (504)",
    "code",
    () => {
      const stats = coordinator.stats();
      return {
        unavailable: stats.unavailable,
        timeout: stats.timeouts,
        overloaded: stats.overloaded,
      };
    },
  );
  new Gauge({
    name: `${METRICS_PREFIX}coordinator_in_flight`,
    help: "Requests being coordinated now (until every replica settled or the deadline passed)",
    registers: [registry],
    collect() {
      this.set(coordinator.stats().inFlight);
    },
  });
  observedPeerCounter(
    registry,
    "replica_timeouts_total",
    "Replica operations with no answer by the coordinator's deadline, per replica",
    () => coordinator.stats().replicaTimeouts,
  );
  observedPeerCounter(
    registry,
    "replica_failures_total",
    "Replica operations that failed (refused, unreachable, overloaded, store error), per replica",
    () => coordinator.stats().replicaFailures,
  );
}

/**
 * The replica client (this node as coordinator), the replica routes (as replica), and the clock's
 * refusals.
 */
/** This node as the sender of replica requests. */
function registerReplicaClient(
  registry: Registry,
  replicaClient: DataPathSources["replicaClient"],
): void {
  observedCounter(
    registry,
    "replica_requests_sent_total",
    "Replica requests sent to other nodes",
    () => replicaClient.stats().requestsSent,
  );
  observedCounter(
    registry,
    "replica_ops_sent_total",
    "Replica operations sent to other nodes",
    () => replicaClient.stats().opsSent,
  );
  observedCounter(
    registry,
    "replica_bytes_sent_total",
    "Bytes of replica request bodies sent",
    () => replicaClient.stats().bytesSent,
  );
  observedCounter(
    registry,
    "replica_requests_failed_total",
    "Replica requests that failed whole: unreachable, timed out, refused, malformed reply",
    () => replicaClient.stats().requestsFailed,
  );
  observedCounter(
    registry,
    "replica_ops_dropped_total",
    "Replica operations failed before sending: queue full, unknown address, past the deadline, closed",
    () => replicaClient.stats().opsDropped,
  );
}

/** This node as a replica serving other coordinators' requests. */
function registerReplicaRoutes(
  registry: Registry,
  replicaRoutes: DataPathSources["replicaRoutes"],
): void {
  observedCounter(
    registry,
    "replica_requests_received_total",
    "Valid replica requests served as a replica",
    () => replicaRoutes.requests,
  );
  observedLabeledCounter(
    registry,
    "replica_ops_received_total",
    "Replica operations served",
    "kind",
    () => ({
      write: replicaRoutes.writesApplied,
      read: replicaRoutes.reads,
    }),
  );
  observedLabeledCounter(
    registry,
    "replica_requests_refused_total",
    "Replica requests refused whole",
    "reason",
    () => ({
      malformed: replicaRoutes.refusedMalformed,
      unauthorized: replicaRoutes.refusedUnauthorized,
    }),
  );
  observedLabeledCounter(
    registry,
    "replica_ops_refused_total",
    "Replica operations refused or failed",
    "reason",
    () => ({
      malformed: replicaRoutes.opsRefused,
      store: replicaRoutes.opsFailed,
    }),
  );
}

function registerClockRefusals(registry: Registry, clock: DataPathSources["clock"]): void {
  observedLabeledCounter(
    registry,
    "hlc_refusals_total",
    "Remote timestamps the hybrid logical clock refused to merge",
    "reason",
    () => {
      const refusals = clock.refusals();
      return { ahead: refusals.aheadCount, invalid: refusals.invalidCount };
    },
  );
}
