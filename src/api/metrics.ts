// api/metrics.ts — `GET /metrics` in Prometheus text (SPEC §3), from a registry of the node's own
// (never prom-client's global one, so two nodes in one process or a test do not share series).
//
// The membership core, the transports, the coordinator and the store keep plain counters; they are
// read when Prometheus scrapes, so nothing on the hot paths pays for metrics. Only what must be a
// distribution is observed as it happens: the client requests' latency (per route, consistency and
// status) and the operations per replica request (the batch sizes that show coalescing at work),
// through HotHistogram (hot-histogram.ts), which costs a map lookup per observation, not prom-client's
// label validation and hashing.

import type { FastifyPluginAsync } from "fastify";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import type { CoordinatorStats } from "../replication/coordinator.js";
import type { HintedHandoffStats } from "../replication/hinted-handoff.js";
import type { ReadRepairStats } from "../replication/read-repair.js";
import type { StoreCounters, StoreLoad } from "../storage/store.js";
import type { PeerClientStats } from "../net/peer-client.js";
import type { PeerRouteStats } from "../net/peer-routes.js";
import type { ReplicaClientStats } from "../net/replica-client.js";
import type { ReplicaRouteStats } from "../net/replica-routes.js";
import type { KvRequestObserver, KvRoute } from "./kv-routes.js";
import { HotHistogram } from "./hot-histogram.js";
import type { AntiEntropyStats } from "../antientropy/anti-entropy-service.js";
import type { RepairRouteStats } from "../net/repair-routes.js";

/** Merkle anti-entropy (issue 4): this node's sessions, and the repair route other replicas call. */
export interface RepairSources {
  readonly service: { stats(): AntiEntropyStats };
  readonly routes: RepairRouteStats;
}

/** The data path's counters (issue 2); absent in a node without storage (tests of membership). */
export interface DataPathSources {
  readonly store: { load(): StoreLoad; counters(): StoreCounters };
  readonly coordinator: { stats(): CoordinatorStats };
  readonly replicaClient: { stats(): ReplicaClientStats };
  readonly replicaRoutes: ReplicaRouteStats;
  readonly clock: { refusals(): { readonly aheadCount: number; readonly invalidCount: number } };
  /** Hinted handoff and read repair (issue 3); absent in nodes built without them. */
  readonly handoff?: { stats(): HintedHandoffStats };
  readonly readRepair?: { stats(): ReadRepairStats };
}

/** Ring changes (issue 5): this node's range streams, the stream route, and cleanup. */
export interface TopologySources {
  readonly streams: {
    totals(): { readonly streamsDone: number; readonly streamsFailed: number; readonly streamsStalled: number; readonly keys: number; readonly bytes: number; readonly sourceChanges: number };
  };
  readonly routes: { readonly recordsSent: number; readonly bytesSent: number; readonly recordsReceived: number; readonly bytesReceived: number };
  readonly cleanup: { readonly runs: number; readonly rangesDeleted: number; readonly recordsDeleted: number };
}

/** The clock guard (issue 14 §2): offsets to peers, the fence, records from the future by path. */
export interface ClockSources {
  futureRecords(): Readonly<Record<string, number>>;
  verdict(): { readonly inRange: boolean; readonly peers: readonly { readonly peer: string; readonly offsetMs: number; readonly errorMs: number }[] };
  fencedCount(): number;
}

export interface MetricsSources {
  readonly engine: Pick<ClusterEngine, "stats" | "members">;
  readonly peerClient: { stats(): PeerClientStats };
  readonly peerRoutes: PeerRouteStats;
  readonly nowMs: () => number;
  readonly dataPath?: DataPathSources;
  readonly repair?: RepairSources;
  readonly topology?: TopologySources;
  readonly clock?: ClockSources;
}

/**
 * Client request latency buckets, seconds: 100 µs to 10 s, denser where a healthy store answers
 * (sub-millisecond to tens of milliseconds) so p50/p99 can be read off them.
 */
export const KV_LATENCY_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Operations per replica request: powers of two up to the protocol's 256. */
export const REPLICA_BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** Distinct label sets of kv observations; beyond it (never, with bounded labels) they are dropped. */
const KV_LABEL_SETS_MAX = 1_024;

export const METRICS_PREFIX = "grapevine_";

/** A counter whose value is read from a monotonic source at scrape time. */
function observedCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name: METRICS_PREFIX + name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** The same, split by one label. */
function observedLabeledCounter(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  read: () => Record<string, number>,
): void {
  new Counter({
    name: METRICS_PREFIX + name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of Object.entries(read())) this.inc({ [label]: value }, count);
    },
  });
}

/** Per-peer counts read at scrape time: one series per peer. */
function observedPeerCounter(
  registry: Registry,
  name: string,
  help: string,
  read: () => ReadonlyMap<NodeId, number>,
): void {
  new Counter({
    name: METRICS_PREFIX + name,
    help,
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [peer, count] of read()) this.inc({ peer }, count);
    },
  });
}

export class NodeMetrics implements KvRequestObserver {
  readonly registry = new Registry();
  readonly #kvRequests: HotHistogram;
  readonly #replicaBatchOps: HotHistogram;

  constructor(sources: MetricsSources) {
    const { registry } = this;
    collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });

    this.#kvRequests = new HotHistogram({
      name: `${METRICS_PREFIX}kv_request_duration_seconds`,
      help: "Latency of client requests to /kv, by route, consistency level and HTTP status",
      labelNames: ["route", "consistency", "status"],
      buckets: KV_LATENCY_BUCKETS_S,
      seriesMax: KV_LABEL_SETS_MAX,
      counter: {
        name: `${METRICS_PREFIX}kv_requests_total`,
        help: "Client requests to /kv, by route, consistency level and HTTP status",
      },
    });
    this.#kvRequests.register(registry);
    this.#replicaBatchOps = new HotHistogram({
      name: `${METRICS_PREFIX}replica_request_ops`,
      help: "Replica operations per node-to-node replica request (coalescing puts many in one)",
      labelNames: [],
      buckets: REPLICA_BATCH_BUCKETS,
      seriesMax: 1,
    });
    this.#replicaBatchOps.register(registry);
    if (sources.dataPath !== undefined) registerDataPath(registry, sources.dataPath);
    if (sources.clock !== undefined) registerClock(registry, sources.clock);
    if (sources.repair !== undefined) registerRepair(registry, sources.repair);
    if (sources.topology !== undefined) registerTopology(registry, sources.topology);

    observedCounter(registry, "gossip_rounds_total", "Gossip rounds this node started", () =>
      sources.engine.stats().gossipRounds,
    );
    observedCounter(registry, "membership_messages_sent_total", "Gossip and heartbeat messages the engine sent", () =>
      sources.engine.stats().messagesSent,
    );
    observedCounter(
      registry,
      "membership_messages_received_total",
      "Gossip and heartbeat messages the engine accepted",
      () => sources.engine.stats().messagesReceived,
    );
    observedCounter(
      registry,
      "membership_messages_refused_total",
      "Messages or member states the engine refused as malformed",
      () => sources.engine.stats().messagesRefused,
    );
    observedCounter(registry, "peer_messages_sent_total", "Peer messages handed to the transport", () =>
      sources.peerClient.stats().sent,
    );
    observedCounter(registry, "peer_bytes_sent_total", "Bytes of peer message bodies sent", () =>
      sources.peerClient.stats().bytesSent,
    );
    observedCounter(
      registry,
      "peer_send_failures_total",
      "Peer messages that failed: refused connection, timeout or non-2xx answer",
      () => sources.peerClient.stats().failed,
    );
    observedCounter(
      registry,
      "peer_send_dropped_total",
      "Peer messages dropped before sending: too many in flight to the peer, oversized, bad address",
      () => sources.peerClient.stats().dropped,
    );
    observedCounter(registry, "peer_messages_received_total", "Valid peer messages received", () =>
      sources.peerRoutes.received,
    );
    observedCounter(registry, "peer_bytes_received_total", "Bytes of valid peer message bodies received", () =>
      sources.peerRoutes.bytesReceived,
    );
    observedLabeledCounter(registry, "peer_messages_refused_total", "Peer messages refused", "reason", () => ({
      malformed: sources.peerRoutes.refusedMalformed,
      unauthorized: sources.peerRoutes.refusedUnauthorized,
    }));

    new Gauge({
      name: `${METRICS_PREFIX}phi`,
      help: "This node's phi for each member it monitors (no series for members it does not monitor)",
      labelNames: ["peer"],
      registers: [registry],
      collect() {
        this.reset();
        for (const member of sources.engine.members(sources.nowMs())) {
          if (member.phi !== null && Number.isFinite(member.phi)) this.set({ peer: member.id }, member.phi);
        }
      },
    });
    new Gauge({
      name: `${METRICS_PREFIX}members`,
      help: "Members this node knows, by ring status and liveness",
      labelNames: ["status", "live"],
      registers: [registry],
      collect() {
        this.reset();
        const counts = new Map<string, { status: string; live: string; count: number }>();
        for (const member of sources.engine.members(sources.nowMs())) {
          const key = `${member.status}/${member.live}`;
          const entry = counts.get(key) ?? { status: member.status, live: String(member.live), count: 0 };
          entry.count++;
          counts.set(key, entry);
        }
        for (const { status, live, count } of counts.values()) this.set({ status, live }, count);
      },
    });
  }

  observeKvRequest(route: KvRoute, consistency: string, status: number, seconds: number): void {
    const histogram = this.#kvRequests;
    const series = histogram.series(`${route} ${consistency} ${status}`, () => ({ route, consistency, status: String(status) }));
    histogram.observe(series, seconds);
  }

  /** One replica request sent with `ops` operations (net/replica-client.ts onRequestSent). */
  observeReplicaRequest(ops: number): void {
    const histogram = this.#replicaBatchOps;
    histogram.observe(histogram.series("", () => ({})), ops);
  }
}

function registerClock(registry: Registry, clock: ClockSources): void {
  observedLabeledCounter(
    registry,
    "future_records_refused_total",
    "Records stamped further ahead of this node's clock than --max-clock-offset-ms, refused or skipped, by path",
    "path",
    () => ({ ...clock.futureRecords() }),
  );
  observedCounter(registry, "clock_fences_total", "Times this node's clock went out of range of most peers (writes fenced)", () =>
    clock.fencedCount(),
  );
  new Gauge({
    name: `${METRICS_PREFIX}clock_in_range`,
    help: "1 while this node's clock is within --max-clock-offset-ms of most peers it measured, 0 while it refuses writes",
    registers: [registry],
    collect() {
      this.set(clock.verdict().inRange ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}clock_offset_ms`,
    help: "Each measured peer's clock minus this node's (ms), from the best recent heartbeat exchange",
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const peer of clock.verdict().peers) this.set({ peer: peer.peer }, peer.offsetMs);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}clock_offset_error_ms`,
    help: "The error bound (half the round trip, ms) of each peer's clock offset",
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const peer of clock.verdict().peers) this.set({ peer: peer.peer }, peer.errorMs);
    },
  });
}

function registerHandoff(registry: Registry, handoff: { stats(): HintedHandoffStats }): void {
  observedCounter(registry, "hints_stored_total", "Hints stored for replicas that missed a write", () =>
    handoff.stats().stored,
  );
  observedCounter(registry, "hints_replayed_total", "Hints a returning replica acknowledged (then deleted)", () =>
    handoff.stats().replayed,
  );
  observedLabeledCounter(
    registry,
    "hints_dropped_total",
    "Hints dropped: past the hint window, past the per-target byte bound, too large, or a storage error",
    "reason",
    () => ({ ...handoff.stats().dropped }),
  );
  observedLabeledCounter(registry, "hint_replays_total", "Hint replay runs, by outcome", "outcome", () => {
    const stats = handoff.stats();
    return { started: stats.replaysStarted, incomplete: stats.replaysFailed };
  });
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

function registerTopology(registry: Registry, sources: TopologySources): void {
  const { streams, routes, cleanup } = sources;
  observedLabeledCounter(registry, "streams_total", "Range streams this node ran for ring changes, by outcome", "outcome", () => {
    const totals = streams.totals();
    return { done: totals.streamsDone, failed: totals.streamsFailed };
  });
  observedCounter(registry, "stream_stalls_total", "Range streams failed because their cursor did not move for the stall limit (also in streams_total{outcome=\"failed\"})", () =>
    streams.totals().streamsStalled,
  );
  observedCounter(registry, "stream_source_changes_total", "Times a range stream resumed from another replica after its source failed", () =>
    streams.totals().sourceChanges,
  );
  observedLabeledCounter(registry, "stream_keys_total", "Records streamed: received by this node's streams, and served to others' by the stream route", "direction", () => ({
    streamed: streams.totals().keys,
    served: routes.recordsSent,
    pushed_in: routes.recordsReceived,
  }));
  observedLabeledCounter(registry, "stream_bytes_total", "Bytes streamed, same directions as stream_keys_total", "direction", () => ({
    streamed: streams.totals().bytes,
    served: routes.bytesSent,
    pushed_in: routes.bytesReceived,
  }));
  observedCounter(registry, "cleanup_runs_total", "Cleanups after a ring change (ranges this node no longer replicates deleted)", () => cleanup.runs);
  observedCounter(registry, "cleanup_records_deleted_total", "Records deleted by cleanup", () => cleanup.recordsDeleted);
}

function registerRepair(registry: Registry, sources: RepairSources): void {
  const { service, routes } = sources;
  observedLabeledCounter(registry, "repair_sessions_total", "Repair sessions this node started, by trigger", "trigger", () => {
    const stats = service.stats();
    return { background: stats.sessionsStarted.background, operator: stats.sessionsStarted.operator };
  });
  observedCounter(registry, "repair_sessions_failed_total", "Repair sessions that failed (peer unreachable, refused, stopping)", () =>
    service.stats().sessionsFailed,
  );
  new Gauge({
    name: `${METRICS_PREFIX}repair_sessions_running`,
    help: "Repair sessions running now",
    registers: [registry],
    collect() {
      this.set(service.stats().sessionsRunning);
    },
  });
  observedLabeledCounter(registry, "repair_ranges_total", "Ranges compared by this node's repair sessions, and those that differed", "outcome", () => {
    const totals = service.stats().totals;
    return { compared: totals.rangesCompared, differing: totals.rangesDiffering };
  });
  observedLabeledCounter(registry, "repair_keys_total", "Records streamed by repair, by direction (this node's sessions and the route)", "direction", () => {
    const totals = service.stats().totals;
    return { sent: totals.keysSent + routes.recordsSent, received: totals.keysReceived + routes.recordsReceived };
  });
  observedLabeledCounter(registry, "repair_bytes_total", "Repair message body bytes, by direction (this node's sessions and the route)", "direction", () => {
    const totals = service.stats().totals;
    return { sent: totals.bytesSent + routes.bytesSent, received: totals.bytesReceived + routes.bytesReceived };
  });
  observedLabeledCounter(registry, "repair_requests_refused_total", "Repair requests refused, by reason", "reason", () => ({
    malformed: routes.refusedMalformed,
    unauthorized: routes.refusedUnauthorized,
  }));
}

function registerReadRepair(registry: Registry, readRepair: { stats(): ReadRepairStats }): void {
  observedLabeledCounter(registry, "read_repairs_total", "Reads that wrote the newest version back to stale replicas", "kind", () => {
    const stats = readRepair.stats();
    return { foreground: stats.foreground, background: stats.background };
  });
  observedCounter(registry, "read_repair_keys_total", "Replica copies of a key made current by read repair", () =>
    readRepair.stats().keysRepaired,
  );
  observedCounter(registry, "read_repair_writes_failed_total", "Read repair writes a replica did not acknowledge", () =>
    readRepair.stats().repairWritesFailed,
  );
}

function registerDataPath(registry: Registry, sources: DataPathSources): void {
  const { store, coordinator, replicaClient, replicaRoutes, clock } = sources;
  if (sources.handoff !== undefined) registerHandoff(registry, sources.handoff);
  if (sources.readRepair !== undefined) registerReadRepair(registry, sources.readRepair);
  new Gauge({
    name: `${METRICS_PREFIX}storage_keys`,
    help: "Live keys (not tombstones) in this node's LevelDB",
    registers: [registry],
    collect() {
      this.set(store.load().keys);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_tombstones`,
    help: "Tombstones kept in this node's LevelDB until their grace period ends",
    registers: [registry],
    collect() {
      this.set(store.load().tombstones);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_bytes`,
    help: "Bytes of data records (keys and encoded records, before compression) in this node's LevelDB",
    registers: [registry],
    collect() {
      this.set(store.load().bytes);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_queued_writes`,
    help: "Writes waiting for the store's next batch",
    registers: [registry],
    collect() {
      this.set(store.counters().queuedWrites);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_row_cache_bytes`,
    help: "Bytes of stored records the store keeps in memory (its row cache), entry overhead included",
    registers: [registry],
    collect() {
      this.set(store.counters().rowCache.bytes);
    },
  });
  observedCounter(registry, "storage_row_cache_hits_total", "Store reads (client reads and a write's read of the stored version) answered from the row cache", () =>
    store.counters().rowCache.hits,
  );
  observedCounter(registry, "storage_row_cache_misses_total", "Store reads that went to LevelDB", () =>
    store.counters().rowCache.misses,
  );
  observedCounter(registry, "storage_row_cache_evictions_total", "Records dropped from the row cache to stay within its size", () =>
    store.counters().rowCache.evictions,
  );
  observedCounter(registry, "storage_batches_total", "LevelDB batches committed by the store", () =>
    store.counters().batchesCommitted,
  );
  observedCounter(registry, "storage_writes_applied_total", "Writes that became the stored version", () =>
    store.counters().writesApplied,
  );
  observedCounter(
    registry,
    "storage_writes_superseded_total",
    "Writes that lost last-write-wins to a stored or batched version",
    () => store.counters().writesSuperseded,
  );
  observedCounter(registry, "storage_overload_refusals_total", "Writes refused because the store's queue was full", () =>
    store.counters().overloadRefusals,
  );
  observedCounter(registry, "storage_tombstones_purged_total", "Tombstones purged after their grace period", () =>
    store.counters().tombstonesPurged,
  );

  observedLabeledCounter(registry, "coordinator_requests_total", "Requests this node coordinated", "kind", () => {
    const stats = coordinator.stats();
    return { write: stats.writes, read: stats.reads };
  });
  observedLabeledCounter(
    registry,
    "coordinator_failures_total",
    "Coordinated requests answered unavailable (503, incl. overloaded) or timeout (504)",
    "code",
    () => {
      const stats = coordinator.stats();
      return { unavailable: stats.unavailable, timeout: stats.timeouts, overloaded: stats.overloaded };
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

  observedCounter(registry, "replica_requests_sent_total", "Replica requests sent to other nodes", () =>
    replicaClient.stats().requestsSent,
  );
  observedCounter(registry, "replica_ops_sent_total", "Replica operations sent to other nodes", () =>
    replicaClient.stats().opsSent,
  );
  observedCounter(registry, "replica_bytes_sent_total", "Bytes of replica request bodies sent", () =>
    replicaClient.stats().bytesSent,
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

  observedCounter(registry, "replica_requests_received_total", "Valid replica requests served as a replica", () =>
    replicaRoutes.requests,
  );
  observedLabeledCounter(registry, "replica_ops_received_total", "Replica operations served", "kind", () => ({
    write: replicaRoutes.writesApplied,
    read: replicaRoutes.reads,
  }));
  observedLabeledCounter(registry, "replica_requests_refused_total", "Replica requests refused whole", "reason", () => ({
    malformed: replicaRoutes.refusedMalformed,
    unauthorized: replicaRoutes.refusedUnauthorized,
  }));
  observedLabeledCounter(registry, "replica_ops_refused_total", "Replica operations refused or failed", "reason", () => ({
    malformed: replicaRoutes.opsRefused,
    store: replicaRoutes.opsFailed,
  }));
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

export interface MetricsRoutesOptions {
  readonly metrics: NodeMetrics;
}

export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, { metrics }) => {
  app.get("/metrics", async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
