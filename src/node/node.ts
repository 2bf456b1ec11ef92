// node/node.ts — one Grapevine node: builds every part from one validated config, starts it, stops it.
//
// This is the IO shell around the pure membership core (cluster/) and the data path. It owns the
// only periodic timer (one tick every engine.tickIntervalMs, on a monotonic clock), the HTTP server
// (fastify: the client API /kv, the peer and replica routes, the cluster and metrics routes), the
// peer client for membership datagrams and the replica client for replica requests (undici), the
// store (LevelDB), and the hybrid logical clock. It is the only place that turns the core's Outbound
// lists into network sends and its events into log lines. The core never waits on IO: a tick or a
// receive returns what to send, and sends are fire-and-forget datagrams.
//
// Housekeeping rides on the tick rather than on timers of its own: every loadReportIntervalMs the
// store's load is handed to the engine (gossiped when it changed), and every tombstonePurgeIntervalMs
// tombstones past their grace period (10 days, storage/store.ts) are purged, one purge at a time.
// Hinted handoff (replication/hinted-handoff.ts) rides on the tick too (window purge, replay check for
// live targets holding hints) and replays at once on a member-up event; client reads go through read
// repair (replication/read-repair.ts), which wraps the coordinator's read.
// The replica client resolves member ids to addresses through an address book rebuilt from the
// engine's members whenever the engine reports a membership event.
//
// Start-up order keeps a failed start from leaving anything behind: identity (which also takes the
// new generation) → store → engine → clients → HTTP server → listen → first tick. A failure at any
// step closes what was opened and surfaces as a NodeStartError whose message is one readable line
// (port in use, unusable data dir, identity mismatch, a database another process holds). Shutdown
// (SPEC §1) is the reverse: stop ticking, stop accepting and finish in-flight requests (fastify
// close), let hint replays and read repairs settle, close the clients, and close the store last,
// once every acknowledged write and hint is committed.
//
// Readiness (GET /ready, api/ready-routes.ts) is composed here: `starting` until the ring is learned,
// `draining` from the first moment of shutdown (new requests then get 503 `draining`, see
// api/http-server.ts), `clock_offset` while the clock guard (node/clock-guard.ts) fences this node
// because its wall clock is out of range of most of its peers'.

import { randomBytes, randomInt } from "node:crypto";
import { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Clock, Cancel } from "../core/clock.js";
import type { Address, NodeId } from "../core/ids.js";
import { createRandom, type Random } from "../core/random.js";
import type { ClusterEngine, ClusterEngineFactory, ClusterEvent, Outbound } from "../cluster/engine.js";
import { CLUSTER_VIEW_DEFAULTS, createClusterEngine } from "../cluster/cluster-view.js";
import type { PeerMessage } from "../cluster/peer-messages.js";
import { Coordinator } from "../replication/coordinator.js";
import { HintedHandoff } from "../replication/hinted-handoff.js";
import { ReadRepair } from "../replication/read-repair.js";
import type { HintStore } from "../storage/hints.js";
import { openLevelStore, type LevelStore } from "../storage/store.js";
import { HybridClock } from "../time/hlc.js";
import { PeerClient } from "../net/peer-client.js";
import { PeerRouteStats, peerRoutes } from "../net/peer-routes.js";
import { ReplicaClient, type ReplicaClientOptions } from "../net/replica-client.js";
import { ReplicaRouteStats, replicaRoutes } from "../net/replica-routes.js";
import { RepairClient } from "../net/repair-client.js";
import { RepairRouteStats, repairRoutes } from "../net/repair-routes.js";
import { AntiEntropyService } from "../antientropy/anti-entropy-service.js";
import { adminRepairRoutes } from "../api/repair-routes.js";
import { futureRecordsRoutes } from "../api/future-records-routes.js";
import { clusterRoutes } from "../api/cluster-routes.js";
import { createHttpServer, type HttpServerLimits } from "../api/http-server.js";
import { kvRoutes } from "../api/kv-routes.js";
import { readinessOf, readyRoutes, type Readiness } from "../api/ready-routes.js";
import { metricsRoutes, NodeMetrics } from "../api/metrics.js";
import type { NodeConfig } from "./config.js";
import { IdentityError, openIdentity, type NodeIdentity } from "./identity.js";
import { createLogger, httpLogLevel, type Logger } from "./logger.js";
import { RingSettle } from "../cluster/ring-settle.js";
import { KNOWN_PEERS_FILE, KnownPeersWriter, readKnownPeers, writeKnownPeers, type KnownPeers } from "../topology/known-peers.js";
import { createNodeTopology, planRingStart, type NodeTopology, type RingStart } from "./node-topology.js";
import { createSystemClock } from "./system-clock.js";
import { ClockGuard } from "./clock-guard.js";
import type { ClockVerdict } from "../time/clock-offset.js";

/** Bounds of the HTTP server; each is what a healthy client or peer never comes near. */
export const NODE_LIMITS = {
  /** A request (headers and body) must arrive within this, else 408; a stalled client cannot hold a socket forever. */
  httpRequestTimeoutMs: 30_000,
  /** How often the request deadlines are checked: a stalled request is answered at most this late. */
  httpTimeoutCheckIntervalMs: 1_000,
  /** Request line and headers past this are refused with 431 (Node's default; our clients send well under 1 KiB). */
  httpHeaderBytesMax: 16_384,
  /** Idle keep-alive connections are closed after this; peers reconnect on their next message. */
  httpKeepAliveTimeoutMs: 15_000,
  /** Open sockets past this are refused at once (Node closes them), so a flood cannot exhaust fds. */
  httpConnectionsMax: 4_096,
  /** A plugin that takes longer than this to register fails the start instead of hanging it. */
  pluginTimeoutMs: 10_000,
} as const;

/** How often the node does its housekeeping (on the tick, not on timers of its own). */
export const NODE_MAINTENANCE = {
  /** The store's load goes to the engine this often; the engine gossips it only when it changed. */
  loadReportIntervalMs: 5_000,
  /** Tombstones past their grace period are purged this often: hourly, as a background scan. */
  tombstonePurgeIntervalMs: 3_600_000,
  /** An address lookup for an unknown member rebuilds the address book at most this often. */
  addressRefreshIntervalMs: 1_000,
} as const;

/** Replica client settings a measurement may change (coalescing on or off, pool sizes). */
export type ReplicaClientTuning = Partial<
  Pick<ReplicaClientOptions, "coalesce" | "connectionsPerPeer" | "requestsInFlightPerPeerMax" | "queuedOpsPerPeerMax">
>;

/** Ports the node can be given instead of the real ones (tests, and one day the simulator). */
export interface NodeDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Chance for the engine (peer choice); by default seeded from the OS's entropy. */
  readonly random?: Random;
  readonly createEngine?: ClusterEngineFactory;
  /** The wall clock in microseconds, for the hybrid logical clock and tombstone purges. */
  readonly wallUs?: () => number;
  readonly replicaClientTuning?: ReplicaClientTuning;
  /** The HTTP server's bounds where a test needs them short (a request timeout of 1 s); NODE_LIMITS otherwise. */
  readonly httpLimits?: Partial<HttpServerLimits>;
  /**
   * Stands in for the clock guard's verdict in /ready (a test that needs a fenced node without a
   * shifted clock). Absent: the clock guard's own verdict.
   */
  readonly clockInRange?: () => boolean;
}

export interface GrapevineNode {
  readonly id: NodeId;
  readonly identity: NodeIdentity;
  readonly config: NodeConfig;
  /** Where the node serves, e.g. `http://127.0.0.1:7001`. */
  readonly url: string;
  readonly engine: ClusterEngine;
  readonly store: LevelStore;
  readonly coordinator: Coordinator;
  readonly logger: Logger;
  /**
   * True while this node's clock is within --max-clock-offset-ms of most peers it measured; false
   * while it is fenced and refuses to coordinate writes (503 unavailable, reason clock_offset). For
   * /ready: a fenced node is not ready for writes.
   */
  clockInRange(): boolean;
  /** The clock verdict behind clockInRange, with each measured peer's offset and error bound. */
  clockVerdict(): ClockVerdict;
  /** Resolves when the node asks to end its process: 0 after a decommission, 1 after a failed bootstrap. */
  readonly exitRequested: Promise<{ readonly code: number; readonly reason: string }>;
  /** What /ready answers: ready, or why not (starting, draining, clock_offset). */
  readiness(): Readiness;
  /** Stops ticking, stops accepting, finishes in-flight requests, closes the clients, then the store. Idempotent. */
  stop(): Promise<void>;
}

/** The node could not start; `message` is one line a person can act on. */
export class NodeStartError extends Error {
  override readonly name = "NodeStartError";
}

/** Peer messages are datagrams: a late one is worth nothing after the next round has gone out. */
export function peerRequestTimeoutMs(config: Pick<NodeConfig, "requestTimeoutMs" | "gossipIntervalMs">): number {
  return Math.min(config.requestTimeoutMs, config.gossipIntervalMs);
}

/** fastify's listen() wants `::1`, not the `[::1]` of a HOST:PORT address. */
function bareHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function describeListenError(listen: string, error: unknown): string {
  const code = errorCode(error);
  if (code === "EADDRINUSE") return `cannot listen on ${listen}: the address is already in use`;
  if (code === "EADDRNOTAVAIL") return `cannot listen on ${listen}: no such local address`;
  if (code === "EACCES") return `cannot listen on ${listen}: permission denied`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `cannot listen on ${listen}: unknown host`;
  return `cannot listen on ${listen}: ${error instanceof Error ? error.message : String(error)}`;
}

function describeDataDirError(dataDir: string, error: unknown): string {
  const code = errorCode(error);
  if (code === "EACCES" || code === "EPERM") return `cannot use data dir ${dataDir}: permission denied`;
  if (code === "ENOTDIR" || code === "EEXIST") return `cannot use data dir ${dataDir}: a file is in the way`;
  if (code === "EROFS") return `cannot use data dir ${dataDir}: read-only file system`;
  if (code === "ENOSPC") return `cannot use data dir ${dataDir}: no space left on device`;
  return `cannot use data dir ${dataDir}: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * fastify's per-request lines go to debug: at info a node logs membership, not traffic. Unless the
 * HTTP logger logs debug, nothing per request is built: no child logger (a pino child per request
 * was ~2 µs of every request's CPU), no log details; a failed request is still logged at warn.
 */
class QuietLogController extends LogController {
  constructor(private readonly debugRequests: boolean) {
    super();
  }
  override incomingRequest(request: Parameters<LogController["incomingRequest"]>[0]): void {
    if (this.debugRequests) request.log.debug({ method: request.method, url: request.url }, "incoming request");
  }
  override requestCompleted(...[error, request, reply]: Parameters<LogController["requestCompleted"]>): void {
    if (!error && !this.debugRequests) return;
    const details = { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime };
    if (error) request.log.warn({ ...details, err: error }, "request failed");
    else request.log.debug(details, "request completed");
  }
  override routeNotFound(request: Parameters<LogController["routeNotFound"]>[0]): void {
    if (this.debugRequests) request.log.debug({ method: request.method, url: request.url }, "route not found");
  }
}

export async function startNode(config: NodeConfig, deps: NodeDeps = {}): Promise<GrapevineNode> {
  const clock = deps.clock ?? createSystemClock();
  const rootLogger = deps.logger ?? createLogger({ level: config.logLevel });

  let identity: NodeIdentity;
  try {
    identity = await openIdentity({
      dataDir: config.dataDir,
      id: config.id,
      idExplicit: config.idExplicit,
      vnodes: config.vnodes,
    });
  } catch (error) {
    if (error instanceof IdentityError) throw new NodeStartError(error.message);
    throw new NodeStartError(describeDataDirError(config.dataDir, error));
  }

  const log = rootLogger.child({ node: identity.id });
  const wallUs = deps.wallUs ?? ((): number => Date.now() * 1000);

  let store: LevelStore;
  let hints: HintStore;
  try {
    store = await openLevelStore({ dataDir: config.dataDir, sync: config.sync });
  } catch (error) {
    throw new NodeStartError(error instanceof Error ? error.message : describeDataDirError(config.dataDir, error));
  }
  try {
    hints = await store.openHints();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw new NodeStartError(`cannot read the hints in ${config.dataDir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  // The generation is this start's time in ms and grows across restarts (identity.ts), so seeding
  // the clock with it keeps timestamps from going back when the wall clock did across a restart.
  // CockroachDB's max-offset governs both: how far ahead a remote timestamp may be before it is
  // refused, and how far off from its peers this node's clock may be before it stops stamping writes.
  // The seed is capped at the wall clock plus that offset: a node that once ran with its clock far
  // ahead (its generation is from then) would otherwise keep stamping from the future after its clock
  // was fixed, and refuse every write as stamped ahead until the wall clock caught up. Its old
  // records from the future are the operator's to fix (grapevine future-records).
  const maxClockOffsetUs = config.maxClockOffsetMs * 1000;
  const hlcSeedUs = Math.min(identity.generation * 1000, wallUs() + maxClockOffsetUs);
  if (hlcSeedUs < identity.generation * 1000) {
    log.warn(
      { generation: identity.generation, aheadMs: Math.round(identity.generation - wallUs() / 1000) },
      "this node's last start was stamped ahead of its clock by more than --max-clock-offset-ms: its clock went back, or ran ahead then; records it wrote then may be from the future (grapevine future-records list)",
    );
  }
  const hlc = new HybridClock({ initialUs: hlcSeedUs, driftUsMax: maxClockOffsetUs });
  const clockGuard = new ClockGuard(
    { self: identity.id, maxClockOffsetMs: config.maxClockOffsetMs },
    { wallUs, nowMs: () => clock.nowMs(), log: log.child({ component: "clock" }) },
  );

  const randomSeed = randomInt(0, 2 ** 32);
  const random = deps.random ?? createRandom(randomSeed);
  const createEngine: ClusterEngineFactory = deps.createEngine ?? createClusterEngine;
  // How this start enters the ring (topology/, issue 5): normal at once (a restart, a node without
  // seeds) or joining, to bootstrap once it serves. An injected engine (a test double) is always normal.
  let ringStart: RingStart | null = null;
  if (deps.createEngine === undefined) {
    try {
      ringStart = await planRingStart({
        dataDir: config.dataDir,
        advertise: config.advertise,
        seeds: config.seeds,
        identityCreated: identity.created,
        identityTokens: identity.tokens,
      });
    } catch (error) {
      await store.close().catch(() => undefined);
      throw new NodeStartError(error instanceof Error ? error.message : String(error));
    }
  }
  const startedMs = clock.nowMs();
  const engine: ClusterEngine = createEngine(
    {
      id: identity.id,
      address: config.advertise,
      generation: identity.generation,
      tokens: ringStart?.tokens ?? identity.tokens,
      status: ringStart?.status ?? "normal",
      seeds: config.seeds,
      replicationFactor: config.replicationFactor,
      gossipIntervalMs: config.gossipIntervalMs,
      phiThreshold: config.phiThreshold,
    },
    random,
  );
  // Client requests wait until the ring is learned (cluster/ring-settle.ts), including every peer this
  // node knew before (topology/known-peers.ts); a new cluster's first node, or one with an injected
  // engine (a test double), has nothing to wait for.
  const injectedEngine = deps.createEngine !== undefined;
  const knownPeers: KnownPeers = injectedEngine ? [] : await readKnownPeers(config.dataDir);
  if (knownPeers === "unreadable") log.warn({ file: KNOWN_PEERS_FILE }, "known peers file unreadable: waiting for a peer before serving");
  const ringSettle = new RingSettle({
    startedMs,
    quietMs: 2 * config.gossipIntervalMs,
    alone: injectedEngine || (knownPeers !== "unreadable" && config.seeds.every((seed) => seed === config.advertise)),
    expectedPeers: knownPeers === "unreadable" ? [] : knownPeers.filter((id) => id !== identity.id),
  });
  const knownPeersWriter = injectedEngine
    ? null
    : new KnownPeersWriter({
        initial: knownPeers,
        write: (peers) => writeKnownPeers(config.dataDir, peers),
        onError: (error) => log.warn({ err: error, file: KNOWN_PEERS_FILE }, "could not save the known peers"),
      });
  // Only a settled view is saved: a half-learned one must not replace the list a restart waits for.
  const saveKnownPeers = (): void => {
    if (knownPeersWriter === null || !ringSettle.settled) return;
    const peers = engine.membership().filter((member) => member.id !== identity.id && member.status !== "left");
    knownPeersWriter.update(peers.map((member) => member.id));
  };

  const peerClient = new PeerClient(
    { clusterSecret: config.clusterSecret, requestTimeoutMs: peerRequestTimeoutMs(config) },
    log.child({ component: "peer-client" }),
    // Heartbeat replies carry the monitor's receive and reply times: the offset measurement.
    { wallMs: () => clockGuard.wallMs(), onHeartbeatReply: (reply, t3) => clockGuard.onHeartbeatReply(reply, t3) },
  );

  // Member id → address, for the replica client; rebuilt from the engine on membership events.
  const addresses = new Map<NodeId, Address>();
  let addressesRefreshedMs = Number.NEGATIVE_INFINITY;
  const refreshAddresses = (): void => {
    const nowMs = clock.nowMs();
    addresses.clear();
    for (const member of engine.members(nowMs)) addresses.set(member.id, member.address);
    addressesRefreshedMs = nowMs;
  };
  const addressOf = (id: NodeId): Address | undefined => {
    const known = addresses.get(id);
    if (known !== undefined) return known;
    if (clock.nowMs() - addressesRefreshedMs < NODE_MAINTENANCE.addressRefreshIntervalMs) return undefined;
    refreshAddresses();
    return addresses.get(id);
  };
  refreshAddresses();

  const replicaClient = new ReplicaClient(
    {
      self: identity.id,
      clusterSecret: config.clusterSecret,
      requestTimeoutMs: config.requestTimeoutMs,
      maxValueBytes: config.maxValueBytes,
      ...deps.replicaClientTuning,
    },
    {
      nowMs: () => clock.nowMs(),
      addressOf,
      log: log.child({ component: "replica-client" }),
      onRequestSent: (ops) => metrics.observeReplicaRequest(ops),
    },
  );
  const handoff = new HintedHandoff(
    { self: identity.id, enabled: config.hintedHandoff, hintWindowMs: config.hintWindowS * 1000 },
    {
      hints,
      transport: replicaClient,
      cluster: engine,
      clock,
      wallMs: () => Math.floor(wallUs() / 1000),
      onError: (error, what) => {
        if (!stopping) log.warn({ err: error }, `hinted handoff failed ${what}`);
      },
      // The origin is this node's hint for `target`, which refused the record as from the future.
      onFutureDropped: (target, key) => clockGuard.refused("hint", { origin: `hint for ${target}`, key }),
    },
  );
  const coordinator = new Coordinator(
    { self: identity.id, replicationFactor: config.replicationFactor, requestTimeoutMs: config.requestTimeoutMs },
    {
      cluster: engine,
      store,
      transport: replicaClient,
      clock,
      hlc,
      wallUs,
      onReplicaMiss: (miss) => handoff.onReplicaMiss(miss),
      ringSettled: () => ringSettle.settled,
      clockInRange: () => clockGuard.clockInRange(),
      maxClockOffsetUs: clockGuard.maxOffsetUs,
      onClockRefusal: ({ key, timestampUs, reason }) => {
        // A fenced node refuses every write: the fence itself was logged once, at warn, by the guard.
        if (reason !== "fenced") clockGuard.refused("coordinator", { origin: `${identity.id} (${reason})`, key, timestampUs });
      },
    },
  );
  const readRepair = new ReadRepair(
    { self: identity.id, replicationFactor: config.replicationFactor, requestTimeoutMs: config.requestTimeoutMs },
    {
      coordinator,
      cluster: engine,
      store,
      transport: replicaClient,
      clock,
      // Its own stream of chance, so read repair's draws do not shift the engine's peer choices.
      random: createRandom(randomInt(0, 2 ** 32)),
      onRepairMiss: (miss) => handoff.onReplicaMiss(miss),
      // A version from the future (stored before issue 14's fix) is not written back to other replicas.
      isFromTheFuture: (timestampUs) => clockGuard.isFromTheFuture(timestampUs),
      onFutureSkipped: (key, record) => clockGuard.refused("read-repair", { origin: record.writer, key, timestampUs: record.timestampUs }),
    },
  );
  const replicaStats = new ReplicaRouteStats();
  // Merkle anti-entropy (issue 4): its own client (repair traffic never queues behind client writes),
  // the background loop (--anti-entropy-interval-s) and the operator's repairs.
  const repairStats = new RepairRouteStats();
  const repairClient = new RepairClient({ self: identity.id, clusterSecret: config.clusterSecret }, { addressOf });
  const antiEntropy = new AntiEntropyService(
    {
      self: identity.id,
      replicationFactor: config.replicationFactor,
      intervalMs: config.antiEntropyIntervalS === null ? null : config.antiEntropyIntervalS * 1000,
    },
    {
      // Pulled records from the future are skipped one by one (node/clock-guard.ts), not the exchange.
      store: clockGuard.guardStore(store, "repair"),
      transport: repairClient,
      clock,
      ring: () => engine.ring(),
      isLive: (id) => engine.isLive(id),
      log: log.child({ component: "anti-entropy" }),
      newJobId: () => randomBytes(8).toString("hex"),
    },
  );

  let stopping = false;
  let cancelTick: Cancel = () => undefined;
  // Bootstrap, decommission, removenode, cleanup and range streaming (issue 5); null with a test engine.
  const topology: NodeTopology | null =
    ringStart === null
      ? null
      : createNodeTopology({
          self: identity.id,
          dataDir: config.dataDir,
          replicationFactor: config.replicationFactor,
          vnodes: config.vnodes,
          gossipIntervalMs: config.gossipIntervalMs,
          clusterSecret: config.clusterSecret,
          engine,
          // Streamed records from the future are skipped one by one; the page still applies and the stream advances.
          store: clockGuard.guardStore(store, "stream"),
          clock,
          random: createRandom(randomInt(0, 2 ** 32)),
          log: log.child({ component: "topology" }),
          addressOf,
          stopping: () => stopping,
          ringStart,
          streamOptions: { bytesPerSecondMax: config.streamBytesPerS, concurrentStreamsMax: config.streamsMax },
        });
  const debug = (): boolean => log.isLevelEnabled("debug");

  const send = (outbounds: readonly Outbound[]): void => {
    for (const outbound of outbounds) {
      if (debug()) {
        log.debug({ to: outbound.to, address: outbound.address, kind: outbound.message.kind }, "peer message sent");
      }
      // A heartbeat leaves with this node's wall time: t0 of the offset measurement (time/clock-offset.ts).
      const message = outbound.message.kind === "heartbeat" ? { ...outbound.message, sentWallMs: clockGuard.wallMs() } : outbound.message;
      peerClient.send(outbound.address, message);
    }
  };

  const logEvent = (event: ClusterEvent): void => {
    switch (event.kind) {
      case "member-joined": {
        const member = engine.members(clock.nowMs()).find((candidate) => candidate.id === event.id);
        log.info({ member: event.id, address: member?.address, tokens: member?.tokens }, "member joined");
        return;
      }
      case "member-up":
        log.info({ member: event.id }, "member up");
        return;
      case "member-down":
        log.info({ member: event.id }, "member down");
        return;
      case "member-restarted":
        log.info({ member: event.id, generation: event.generation }, "member restarted");
        return;
      case "status-changed":
        log.info({ member: event.id, status: event.status }, "member status changed");
        return;
      case "member-removed":
        log.info({ member: event.id }, "member removed");
        return;
      case "tokens-changed":
        log.debug({ members: engine.ring().size }, "ring changed");
        return;
    }
  };

  const drainEvents = (): void => {
    const events = engine.takeEvents();
    if (events.length === 0) return;
    refreshAddresses();
    if (events.some((event) => event.kind === "member-joined" || event.kind === "member-removed" || event.kind === "status-changed")) {
      saveKnownPeers();
    }
    for (const event of events) {
      logEvent(event);
      if (event.kind === "member-up") handoff.onMemberUp(event.id);
      if (event.kind === "tokens-changed") antiEntropy.onTokensChanged();
    }
  };

  const receive = (message: PeerMessage, nowMs: number): readonly Outbound[] => {
    if (stopping) return [];
    if (debug()) log.debug({ kind: message.kind }, "peer message received");
    try {
      return engine.receive(message, nowMs);
    } catch (error) {
      // A validated message that still breaks the engine is a bug; keep serving and say so loudly.
      log.error({ err: error, kind: message.kind }, "engine failed on a peer message");
      return [];
    } finally {
      drainEvents();
    }
  };

  const tickOnce = (): void => {
    try {
      send(engine.tick(clock.nowMs()));
    } catch (error) {
      log.error({ err: error }, "engine tick failed");
    }
    drainEvents();
  };

  let nextLoadReportMs = 0;
  let nextPurgeMs = clock.nowMs() + NODE_MAINTENANCE.tombstonePurgeIntervalMs;
  let purging = false;
  const maintain = (nowMs: number): void => {
    // The peers this node measures are its monitors: min(k, live peers).
    let livePeers = 0;
    for (const member of engine.members(nowMs)) if (member.id !== identity.id && member.live && member.status !== "left") livePeers++;
    clockGuard.tick(nowMs, Math.min(livePeers, CLUSTER_VIEW_DEFAULTS.monitorsPerMember));
    handoff.tick(nowMs);
    topology?.service.tick(nowMs);
    antiEntropy.tick(nowMs);
    if (nowMs >= nextLoadReportMs) {
      nextLoadReportMs = nowMs + NODE_MAINTENANCE.loadReportIntervalMs;
      const load = store.load();
      engine.setLoad({ keys: load.keys, bytes: load.bytes });
    }
    if (nowMs >= nextPurgeMs && !purging) {
      nextPurgeMs = nowMs + NODE_MAINTENANCE.tombstonePurgeIntervalMs;
      purging = true;
      store
        .purgeTombstones(wallUs())
        .then(
          (purged) => {
            if (purged > 0) log.info({ purged }, "tombstones purged");
          },
          (error: unknown) => {
            if (!stopping) log.warn({ err: error }, "tombstone purge failed");
          },
        )
        .finally(() => {
          purging = false;
        });
    }
  };

  // Ticks are due on a fixed grid. After a stall (a GC pause, SIGSTOP) the node ticks once and goes
  // back to the grid from now: a burst of catch-up ticks would send a burst of stale heartbeats, and
  // the detector is the one that must notice the gap.
  const interval = engine.tickIntervalMs;
  let nextDueMs = 0;
  // One membership scan per tick, and only when a known peer is still missing (a big cluster's restart).
  const memberLookup = (): ((id: string) => boolean) => {
    let ids: Set<string> | null = null;
    return (id) => (ids ??= new Set(engine.membership().map((member) => member.id))).has(id);
  };
  const runTick = (): void => {
    if (stopping) return;
    tickOnce();
    const now = clock.nowMs();
    if (!ringSettle.settled && ringSettle.observe(now, engine.ringFingerprint(), engine.stats().messagesReceived, memberLookup())) {
      const missing = ringSettle.missingPeers;
      if (missing.length === 0) log.info({ afterMs: Math.round(now - startedMs) }, "ring learned: serving client requests");
      else log.warn({ afterMs: Math.round(now - startedMs), missing }, "ring not fully learned in time: serving client requests anyway");
      saveKnownPeers();
    }
    try {
      maintain(now);
    } catch (error) {
      log.error({ err: error }, "housekeeping failed");
    }
    nextDueMs += interval;
    if (nextDueMs <= now) nextDueMs = now + interval;
    cancelTick = clock.schedule(nextDueMs - now, runTick);
  };

  const peerStats = new PeerRouteStats();
  const metrics = new NodeMetrics({
    engine,
    peerClient,
    peerRoutes: peerStats,
    nowMs: () => clock.nowMs(),
    dataPath: { store, coordinator, replicaClient, replicaRoutes: replicaStats, clock: hlc, handoff, readRepair },
    repair: { service: antiEntropy, routes: repairStats },
    clock: clockGuard,
    ...(topology === null
      ? {}
      : { topology: { streams: topology.service.streams, routes: topology.routeStats, cleanup: topology.service.cleanup } }),
  });
  const httpLogger = log.child({ component: "http" }, { level: httpLogLevel(config.logLevel) });
  const debugRequests = httpLogger.isLevelEnabled("debug");
  const clockInRange = deps.clockInRange ?? ((): boolean => clockGuard.clockInRange());
  // Draining is `stopping`: set the moment shutdown begins, before the server stops accepting.
  const readiness = (): Readiness =>
    readinessOf({ draining: stopping, ringSettled: ringSettle.settled, clockInRange: clockInRange() });
  const app: FastifyInstance = createHttpServer(
    {
      requestTimeoutMs: NODE_LIMITS.httpRequestTimeoutMs,
      timeoutCheckIntervalMs: NODE_LIMITS.httpTimeoutCheckIntervalMs,
      keepAliveTimeoutMs: NODE_LIMITS.httpKeepAliveTimeoutMs,
      headerBytesMax: NODE_LIMITS.httpHeaderBytesMax,
      pluginTimeoutMs: NODE_LIMITS.pluginTimeoutMs,
      ...deps.httpLimits,
    },
    {
      logger: httpLogger as FastifyBaseLogger,
      logController: new QuietLogController(debugRequests),
      childLoggerFactory: (logger, bindings, options) => (debugRequests ? logger.child(bindings, options) : logger),
      draining: () => stopping,
    },
  );

  const closeAll = async (): Promise<void> => {
    stopping = true;
    cancelTick();
    await app.close().catch((error: unknown) => log.warn({ err: error }, "http server did not close cleanly"));
    // Replays and repairs still use the replica client; they end (or fail) before it closes.
    await handoff.close();
    await readRepair.settled();
    await antiEntropy.close();
    await repairClient.close();
    await topology?.close();
    await replicaClient.close();
    await peerClient.close();
    await knownPeersWriter?.flushed();
    // Last: queued writes commit before the database closes (store.close drains its queue).
    await store.close().catch((error: unknown) => log.warn({ err: error }, "store did not close cleanly"));
  };

  const url = `http://${config.listenHost}:${config.listenPort}`;
  try {
    await app.register(readyRoutes, { readiness });
    await app.register(peerRoutes, {
      clusterSecret: config.clusterSecret,
      stats: peerStats,
      deps: { receive, send, nowMs: () => clock.nowMs(), wallMs: () => clockGuard.wallMs(), self: identity.id },
    });
    await app.register(clusterRoutes, {
      nodeId: identity.id,
      replicationFactor: config.replicationFactor,
      engine,
      nowMs: () => clock.nowMs(),
      serving: () => ringSettle.settled,
      clock: () => clockGuard.verdict(),
      ...(topology === null ? {} : { topology: topology.service }),
    });
    await topology?.register(app);
    await app.register(replicaRoutes, {
      clusterSecret: config.clusterSecret,
      stats: replicaStats,
      deps: {
        store,
        observeTimestamp: (timestampUs) => {
          const outcome = hlc.observe(timestampUs, wallUs());
          return outcome === "merged" || outcome === "behind";
        },
        onTimestampRefused: ({ origin, key, timestampUs }) => clockGuard.refused("replica", { origin, key, timestampUs }),
      },
    });
    await app.register(repairRoutes, {
      clusterSecret: config.clusterSecret,
      stats: repairStats,
      deps: {
        // Pushed records from the future are skipped one by one; the rest of the exchange applies.
        store: clockGuard.guardStore(store, "repair"),
        observeTimestamp: (timestampUs) => {
          const outcome = hlc.observe(timestampUs, wallUs());
          return outcome === "merged" || outcome === "behind";
        },
      },
    });
    await app.register(adminRepairRoutes, { repair: antiEntropy });
    await app.register(futureRecordsRoutes, {
      deps: {
        self: identity.id,
        store,
        wallUs,
        maxClockOffsetUs: clockGuard.maxOffsetUs,
        stamp: () => hlc.now(wallUs()),
      },
    });
    await app.register(kvRoutes, {
      coordinator: {
        write: (request) => coordinator.write(request),
        delete: (request) => coordinator.delete(request),
        read: (request) => readRepair.read(request),
      },
      replicationFactor: config.replicationFactor,
      readConsistency: config.readConsistency,
      writeConsistency: config.writeConsistency,
      maxValueBytes: config.maxValueBytes,
      observer: metrics,
    });
    await app.register(metricsRoutes, { metrics });
    await app.ready();
    app.server.maxConnections = NODE_LIMITS.httpConnectionsMax;
  } catch (error) {
    await closeAll();
    throw error;
  }
  try {
    await app.listen({ host: bareHost(config.listenHost), port: config.listenPort });
  } catch (error) {
    await closeAll();
    throw new NodeStartError(describeListenError(config.listen, error));
  }

  log.info(
    {
      id: identity.id,
      listen: config.listen,
      advertise: config.advertise,
      seeds: config.seeds,
      generation: identity.generation,
      tokens: identity.tokens.length,
      created: identity.created,
      dataDir: config.dataDir,
    },
    "node started",
  );
  log.debug({ randomSeed: deps.random === undefined ? randomSeed : null, tickIntervalMs: interval }, "engine ready");

  // The first tick goes out at once so seeds hear of us without waiting a round.
  nextDueMs = clock.nowMs();
  runTick();
  topology?.begin();

  let stopPromise: Promise<void> | null = null;
  return {
    id: identity.id,
    identity,
    config,
    url,
    engine,
    store,
    coordinator,
    logger: log,
    clockInRange: () => clockGuard.clockInRange(),
    clockVerdict: () => clockGuard.verdict(),
    exitRequested: topology?.exitRequested ?? new Promise(() => undefined),
    readiness,
    stop(): Promise<void> {
      if (stopPromise === null) {
        log.info("node stopping");
        stopPromise = closeAll().then(() => {
          log.info("node stopped");
        });
      }
      return stopPromise;
    },
  };
}
