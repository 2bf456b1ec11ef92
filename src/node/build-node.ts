// node/build-node.ts — one Grapevine node built from one validated config and its ports, without a
// socket: fastify's build-then-listen split, so a test (and one day the simulator) can build a
// whole node, answer requests through `app.inject`, and stop it. node/node.ts listens.
//
// This is the IO shell around the pure membership core (cluster/) and the data path. It owns the
// only periodic timer (tick-loop.ts: one tick every engine.tickIntervalMs, on a monotonic clock),
// the HTTP server (fastify: the client API /kv, the peer and replica routes, the cluster and
// metrics routes), the peer client for membership datagrams and the replica client for replica
// requests (undici), the store (LevelDB), and the hybrid logical clock. Housekeeping
// (housekeeping.ts) rides on the tick rather than on timers of its own. Hinted handoff replays at
// once on a member-up event; client reads go through read repair, which wraps the coordinator's
// read. The replica client resolves member ids through an address book (address-book.ts) rebuilt
// whenever the engine reports a membership event.
//
// Start-up order keeps a failed start from leaving anything behind: identity (which also takes the
// new generation) → store → engine → clients → HTTP server → (node.ts) listen → first tick. A
// failure at any step closes what was opened and surfaces as a NodeStartError whose message is one
// readable line (port in use, unusable data dir, identity mismatch, a database another process
// holds). Shutdown (SPEC §1, shutdown.ts) is the reverse: stop ticking, announce the shutdown to
// the peers (a stop, not a failed start), stop accepting and finish in-flight requests within a
// bounded drain time, let hint replays and read repairs settle, close the clients, and close the
// store last, once every acknowledged write and hint is committed.
//
// Readiness (GET /ready, api/ready-routes.ts) is composed here: `starting` until the ring is
// learned, `draining` from the first moment of shutdown (new requests then get 503 `draining`, see
// api/http-server.ts), `clock_offset` while the clock guard (node/clock-guard.ts) fences this node
// because its wall clock is out of range of most of its peers'.

import { bucketBookOf, openNodeMetadata, type NodeMetadata } from "./build-metadata.js";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../core/clock.js";
import { PeerClient } from "../net/peer-client.js";
import { PeerRouteStats } from "../net/peer-routes.js";
import type { PeerTls } from "../net/peer-tls.js";
import { NodeMetrics } from "../api/metrics.js";
import { readinessOf } from "../api/ready-routes.js";
import { stopRoutes } from "../api/stop-routes.js";
import type { HintStore } from "../storage/hints.js";
import type { NodeConfig } from "./config.js";
import type { NodeIdentity } from "./identity.js";
import { createLogger, resolveLogFormat, stdoutIsTerminal, type Logger } from "./logger.js";
import { AddressBook } from "./address-book.js";
import { buildAntiEntropy } from "./build-antientropy.js";
import { buildClocks, type NodeClocks } from "./build-clocks.js";
import { buildCluster, type NodeCluster } from "./build-cluster.js";
import { buildHttpServer } from "./build-http.js";
import { buildTokenRegistry, installClientGuard } from "./build-auth.js";
import { buildReplication } from "./build-replication.js";
import { openCrashRecovery, openNodeIdentity, openNodeStorage } from "./build-storage.js";
import type { CrashRecovery } from "./crash-recovery.js";
import { buildTopology } from "./build-topology.js";
import { Housekeeping } from "./housekeeping.js";
import { RefusalTally } from "./refusal-tally.js";
import { registerNodeRoutes } from "./http-routes.js";
import type { NodeCore, NodeObservers, NodeParts } from "./node-parts.js";
import type { NodeDeps } from "./node-ports.js";
import { NODE_LIMITS, NODE_MAINTENANCE, peerRequestTimeoutMs } from "./node-settings.js";
import { closeNode } from "./shutdown.js";
import { createSystemClock } from "./system-clock.js";
import { TickLoop } from "./tick-loop.js";
import { NodeTls } from "./node-tls.js";
import { PeerIdentityTls } from "./peer-identity.js";

/** What every builder after the store needs: the node so far. */
interface Foundation {
  readonly config: NodeConfig;
  readonly ports: NodeDeps;
  readonly clock: Clock;
  readonly log: Logger;
  readonly wallUs: () => number;
  readonly identity: NodeIdentity;
  readonly store: NodeParts["store"];
  readonly hints: HintStore;
  readonly fallbackHints: HintStore;
  readonly clocks: NodeClocks;
  readonly cluster: NodeCluster;
  readonly recovery: CrashRecovery;
  readonly tls: NodeTls | null;
  /** `tls` as the peer clients use it: each server they reach must name its member. */
  readonly peerTls: PeerTls | null;
  readonly metadata: NodeMetadata;
}

/**
 * A node's lifecycle over its parts: the first tick, and shutdown (plain for a failed start, logged
 * for a stop).
 */
interface Lifecycle {
  /** The engine's seed when its chance was not injected (logged at debug), else null. */
  readonly randomSeed: number | null;
  /**
   * Resolves when the node asks to end its process: 0 after a decommission or `grapevine stop`, 1
   * after a failed bootstrap.
   */
  readonly exitRequested: Promise<{ readonly code: number; readonly reason: string }>;
  /** Starts ticking (the first tick at once) and the bootstrap when this start needs one. */
  begin(): void;
  /** Shuts down without log lines: what a failed start runs. */
  close(): Promise<void>;
  /** Logs, then shuts down (shutdown.ts). Idempotent. */
  stop(): Promise<void>;
}

/** A built node without an HTTP edge (the simulator's), not yet ticking. */
export interface BuiltNodeCore extends NodeCore, Lifecycle {}

/** A built node: every part, not yet ticking; `app` is ready and not listening. */
export interface BuiltNode extends NodeParts, Lifecycle {}

/** The node's parts without the HTTP edge, and the flag shutdown raises. */
interface AssembledCore {
  readonly core: NodeCore;
  readonly cluster: NodeCluster;
  readonly ports: NodeDeps;
  readonly markStopping: () => void;
}

async function assembleCore(config: NodeConfig, ports: NodeDeps): Promise<AssembledCore> {
  const clock = ports.clock ?? createSystemClock();
  const rootLogger =
    ports.logger ??
    createLogger({
      level: config.logLevel,
      format: resolveLogFormat(config.logFormat, stdoutIsTerminal()),
    });
  const wallUs = ports.wallUs ?? ((): number => Date.now() * 1000);
  // First: a certs dir that cannot serve fails the start before anything is opened.
  const tls =
    config.certsDir === null ? null : NodeTls.load(config.certsDir, new Date(wallUs() / 1000));
  const identity = await openNodeIdentity(config, ports, wallUs);
  const log = rootLogger.child({ node: identity.id });
  const { store, hints, fallbackHints } = await openNodeStorage(config, ports);
  const recovery = await openCrashRecovery(config, ports, log);
  const clocks = buildClocks({ config, identity, clock, wallUs, log });
  const nodeMetadata = await openNodeMetadata({ config, ports, log });
  const { metadata } = nodeMetadata;
  const cluster = await buildCluster({
    config,
    ports,
    identity,
    store,
    clock,
    wallUs,
    log,
    metadata,
  });
  const foundation: Foundation = {
    config,
    ports,
    clock,
    log,
    wallUs,
    identity,
    store,
    hints,
    fallbackHints,
    clocks,
    cluster,
    recovery,
    tls,
    peerTls: tls === null ? null : new PeerIdentityTls({ tls, engine: cluster.engine, clock, log }),
    metadata: nodeMetadata,
  };
  const lifecycle = { stopping: false };
  const core = wireSubsystems(foundation, () => lifecycle.stopping);
  return {
    core,
    cluster,
    ports,
    markStopping: () => {
      lifecycle.stopping = true;
    },
  };
}

/** A stop asked for over HTTP (`grapevine stop`): the same clean stop as SIGTERM, exit 0. */
interface StopRequest {
  readonly requested: Promise<{ readonly code: number; readonly reason: string }>;
  readonly request: () => void;
}

function stopRequest(): StopRequest {
  let request = (): void => undefined;
  const requested = new Promise<{ code: number; reason: string }>((resolve) => {
    request = () => resolve({ code: 0, reason: "grapevine stop" });
  });
  return { requested, request };
}

function lifecycleOf(
  assembled: AssembledCore,
  app?: FastifyInstance,
  stop?: StopRequest,
): Lifecycle {
  const { core, cluster, ports } = assembled;
  const never = new Promise<{ code: number; reason: string }>(() => undefined);
  const closeWith = (announce: boolean): Promise<void> =>
    closeNode({ ...core, app }, () => assembled.markStopping(), { announce });
  const close = (): Promise<void> => closeWith(false);
  let stopPromise: Promise<void> | null = null;
  return {
    randomSeed:
      ports.random === undefined && ports.randomFor === undefined ? cluster.randomSeed : null,
    exitRequested: Promise.race([core.topology?.exitRequested ?? never, stop?.requested ?? never]),
    begin(): void {
      core.tickLoop.begin();
      core.topology?.begin();
    },
    close,
    stop(): Promise<void> {
      if (stopPromise === null) {
        core.log.info("node stopping");
        stopPromise = closeWith(true).then(() => {
          core.log.info("node stopped");
        });
      }
      return stopPromise;
    },
  };
}

/**
 * A node without HTTP server or metrics: what the simulator runs, with its own transports given as
 * ports. The same builders as buildNode's, so a simulated node is a real one minus its sockets.
 */
export async function buildNodeCore(
  config: NodeConfig,
  ports: NodeDeps = {},
): Promise<BuiltNodeCore> {
  const assembled = await assembleCore(config, ports);
  return { ...assembled.core, ...lifecycleOf(assembled) };
}

export async function buildNode(config: NodeConfig, ports: NodeDeps = {}): Promise<BuiltNode> {
  const assembled = await assembleCore(config, ports);
  const { core } = assembled;
  const metrics = buildMetrics(core);
  core.observers.replicaRequestSent = (ops): void => metrics.observeReplicaRequest(ops);
  const app = buildHttpServer({
    config,
    ports,
    log: core.log,
    isStopping: () => core.isStopping(),
    refusals: core.refusals,
    tls: core.tls,
  });
  const parts: NodeParts = { ...core, metrics, app, tokens: buildTokenRegistry(core) };
  installClientGuard(app, core, parts.tokens, metrics);
  const stop = stopRequest();
  const lifecycle = lifecycleOf(assembled, app, stop);
  try {
    await registerNodeRoutes(app, parts);
    await app.register(stopRoutes, { nodeId: core.identity.id, requestStop: stop.request });
    await app.ready();
    app.server.maxConnections = NODE_LIMITS.httpConnectionsMax;
  } catch (error) {
    await lifecycle.close();
    throw error;
  }
  return { ...parts, ...lifecycle };
}

function buildPeerClient(foundation: Foundation): PeerClient {
  const { config, ports, log, clocks } = foundation;
  const { clockGuard } = clocks;
  return new PeerClient(
    { clusterSecret: config.clusterSecret, requestTimeoutMs: peerRequestTimeoutMs(config) },
    log.child({ component: "peer-client" }),
    // Heartbeat replies carry the monitor's receive and reply times: the offset measurement.
    {
      wallMs: () => clockGuard.wallMs(),
      onHeartbeatReply: (reply, t3) => clockGuard.onHeartbeatReply(reply, t3),
      ...(ports.peerHttp === undefined ? {} : { http: ports.peerHttp }),
      ...(foundation.peerTls === null ? {} : { tls: foundation.peerTls }),
    },
  );
}

interface TickLoopParts {
  readonly peerClient: PeerClient;
  readonly addressBook: AddressBook;
  readonly handoff: Pick<NodeCore["handoff"], "tick" | "onMemberUp">;
  readonly antiEntropy: NodeCore["antiEntropy"];
  readonly topology: NodeCore["topology"];
  readonly refusals: RefusalTally;
  readonly isStopping: () => boolean;
}

/**
 * This node's hints and its fallback copies are handed off alike: ticked together, and replayed
 * together when a member comes up.
 */
function bothHandoffs(
  hints: NodeCore["handoff"],
  fallbacks: NodeCore["handoff"],
): Pick<NodeCore["handoff"], "tick" | "onMemberUp"> {
  return {
    tick: (nowMs) => {
      hints.tick(nowMs);
      fallbacks.tick(nowMs);
    },
    onMemberUp: (id) => {
      hints.onMemberUp(id);
      fallbacks.onMemberUp(id);
    },
  };
}

/** The periodic work: gossip, detection, housekeeping, handoff and anti-entropy rounds. */
function buildTickLoop(foundation: Foundation, parts: TickLoopParts): TickLoop {
  const { clock, log, wallUs, identity, store, clocks, cluster } = foundation;
  const { clockGuard } = clocks;
  const { engine, ringSettle } = cluster;
  const { peerClient, addressBook, handoff, antiEntropy, topology, refusals, isStopping } = parts;
  const housekeeping = new Housekeeping({
    refusals,
    engine,
    store,
    clock,
    wallUs,
    clockGuard,
    handoff,
    antiEntropy,
    topology,
    log,
    isStopping,
    ringSettle,
    self: identity.id,
    recovery: foundation.recovery,
  });
  return new TickLoop({
    engine,
    clock,
    log,
    peerClient,
    clockGuard,
    addressBook,
    ringSettle,
    housekeeping,
    handoff,
    antiEntropy,
    isStopping,
    startedMs: cluster.startedMs,
    saveKnownPeers: cluster.saveKnownPeers,
  });
}

/** What every data subsystem is built from. */
function commonInput(foundation: Foundation, addressOf: AddressBook["addressOf"]) {
  const { config, ports, identity, store, clock, log } = foundation;
  const { engine } = foundation.cluster;
  const { clockGuard } = foundation.clocks;
  const peerTls = foundation.peerTls ?? undefined;
  return { config, ports, identity, engine, store, clock, clockGuard, addressOf, log, peerTls };
}

/** The clients, the data path, anti-entropy, ring changes and the tick loop. */
function wireSubsystems(foundation: Foundation, isStopping: () => boolean): NodeCore {
  const { config, clock, log, wallUs, identity, store, hints, clocks, cluster } = foundation;
  const { fallbackHints } = foundation;
  const { hlc, clockGuard } = clocks;
  const { engine, ringSettle } = cluster;
  const peerClient = buildPeerClient(foundation);
  const addressBook = new AddressBook(engine, clock);
  const { addressOf } = addressBook;
  // The metrics, built later by the HTTP edge, observe the replica client through this.
  const observers: NodeObservers = { replicaRequestSent: null };
  const common = commonInput(foundation, addressOf);
  const replication = buildReplication({
    ...common,
    hints,
    fallbackHints,
    wallUs,
    hlc,
    ringSettle,
    isStopping,
    localReadable: () => !foundation.recovery.recovering(),
    onReplicaRequestSent: (ops) => observers.replicaRequestSent?.(ops),
  });
  const repair = buildAntiEntropy(common);
  const topology = buildTopology({ ...common, isStopping, ringStart: cluster.ringStart });
  const refusals = new RefusalTally(NODE_MAINTENANCE.refusalReportIntervalMs, clock.nowMs());
  const tickLoop = buildTickLoop(foundation, {
    refusals,
    peerClient,
    addressBook,
    handoff: bothHandoffs(replication.handoff, replication.fallbacks.handoff),
    antiEntropy: repair.antiEntropy,
    topology,
    isStopping,
  });
  const peerStats = new PeerRouteStats();
  return {
    config,
    identity,
    log,
    clock,
    wallUs,
    hlc,
    clockGuard,
    store,
    engine,
    ringSettle,
    knownPeersWriter: cluster.knownPeersWriter,
    peerClient,
    peerStats,
    ...replication,
    ...repair,
    topology,
    tickLoop,
    tls: foundation.tls,
    peerTls: foundation.peerTls,
    refusals,
    observers,
    isStopping,
    recovery: foundation.recovery,
    ...metadataAndReadiness(foundation, isStopping),
  };
}

/** The cluster metadata and its bucket book, and the node's readiness (GET /ready). */
function metadataAndReadiness(foundation: Foundation, isStopping: () => boolean) {
  const { config, identity, wallUs, ports } = foundation;
  const { hlc, clockGuard } = foundation.clocks;
  const { ringSettle } = foundation.cluster;
  const { metadata } = foundation.metadata;
  const clockInRange = ports.clockInRange ?? ((): boolean => clockGuard.clockInRange());
  return {
    metadata,
    metadataSaved: () => foundation.metadata.flushed(),
    buckets: bucketBookOf(config, identity.id, metadata, () => hlc.now(wallUs())),
    // Draining is `stopping`: set the moment shutdown begins, before the server stops accepting.
    readiness: () =>
      readinessOf({
        draining: isStopping(),
        ringSettled: ringSettle.settled,
        clockInRange: clockInRange(),
      }),
  };
}

/** Every subsystem's counters, read when Prometheus scrapes (api/metrics.ts). */
function buildMetrics(core: NodeCore): NodeMetrics {
  const { engine, peerClient, clock, hlc, clockGuard, store, topology } = core;
  return new NodeMetrics({
    engine,
    peerClient,
    peerRoutes: core.peerStats,
    nowMs: () => clock.nowMs(),
    dataPath: {
      store: {
        load: () => store.load(),
        counters: () => store.counters(),
        recovering: () => core.recovery.recovering(),
      },
      coordinator: core.coordinator,
      replicaClient: core.replicaClient,
      replicaRoutes: core.replicaStats,
      clock: hlc,
      handoff: core.handoff,
      fallbacks: core.fallbacks,
      readRepair: core.readRepair,
    },
    repair: { service: core.antiEntropy, routes: core.repairStats },
    clock: clockGuard,
    ...(core.tls === null
      ? {}
      : {
          tls: {
            certNotAfterMs: () => core.tls?.current().notAfter.getTime() ?? 0,
            nowMs: () => core.wallUs() / 1000,
          },
        }),
    ...(topology === null
      ? {}
      : {
          topology: {
            streams: topology.service.streams,
            routes: topology.routeStats,
            cleanup: topology.service.cleanup,
          },
        }),
  });
}
