// node/node.ts — one Grapevine node: builds every part from one validated config, starts it, stops it.
//
// This is the IO shell around the pure membership core (cluster/). It owns the only timer (one tick
// every engine.tickIntervalMs, on a monotonic clock), the HTTP server (fastify: the peer route, the
// cluster and metrics routes) and the peer client (undici), and it is the only place that turns the
// core's Outbound lists into network sends and its events into log lines. The core never waits on
// IO: a tick or a receive returns what to send, and sends are fire-and-forget datagrams.
//
// Start-up order keeps a failed start from leaving anything behind: identity (which also takes the
// new generation) → engine → peer client → HTTP server → listen → first tick. A failure at any
// step closes what was opened and surfaces as a NodeStartError whose message is one readable line
// (port in use, unusable data dir, identity mismatch). Shutdown (SPEC §1) is the reverse: stop
// ticking, stop accepting and finish in-flight requests (fastify close), close the peer client.

import { randomInt } from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Clock, Cancel } from "../core/clock.js";
import type { NodeId } from "../core/ids.js";
import { createRandom, type Random } from "../core/random.js";
import type { ClusterEngine, ClusterEngineFactory, ClusterEvent, Outbound } from "../cluster/engine.js";
import { createClusterEngine } from "../cluster/cluster-view.js";
import type { PeerMessage } from "../cluster/peer-messages.js";
import { PeerClient } from "../net/peer-client.js";
import { PeerRouteStats, peerRoutes } from "../net/peer-routes.js";
import { registerErrorHandling } from "../api/errors.js";
import { clusterRoutes } from "../api/cluster-routes.js";
import { metricsRoutes, NodeMetrics } from "../api/metrics.js";
import type { NodeConfig } from "./config.js";
import { IdentityError, openIdentity, type NodeIdentity } from "./identity.js";
import { createLogger, httpLogLevel, type Logger } from "./logger.js";
import { createSystemClock } from "./system-clock.js";

/** Bounds of the HTTP server; each is what a healthy client or peer never comes near. */
export const NODE_LIMITS = {
  /** A request (headers and body) must arrive within this; a stalled client cannot hold a socket forever. */
  httpRequestTimeoutMs: 30_000,
  /** Idle keep-alive connections are closed after this; peers reconnect on their next message. */
  httpKeepAliveTimeoutMs: 15_000,
  /** Open sockets past this are refused at once (Node closes them), so a flood cannot exhaust fds. */
  httpConnectionsMax: 4_096,
  /** A plugin that takes longer than this to register fails the start instead of hanging it. */
  pluginTimeoutMs: 10_000,
} as const;

/** Ports the node can be given instead of the real ones (tests, and one day the simulator). */
export interface NodeDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Chance for the engine (peer choice); by default seeded from the OS's entropy. */
  readonly random?: Random;
  readonly createEngine?: ClusterEngineFactory;
}

export interface GrapevineNode {
  readonly id: NodeId;
  readonly identity: NodeIdentity;
  readonly config: NodeConfig;
  /** Where the node serves, e.g. `http://127.0.0.1:7001`. */
  readonly url: string;
  readonly engine: ClusterEngine;
  readonly logger: Logger;
  /** Stops ticking, stops accepting, finishes in-flight requests, closes the peer client. Idempotent. */
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

/** fastify's per-request lines go to debug: at info a node logs membership, not traffic. */
class QuietLogController extends LogController {
  override incomingRequest(request: Parameters<LogController["incomingRequest"]>[0]): void {
    request.log.debug({ method: request.method, url: request.url }, "incoming request");
  }
  override requestCompleted(...[error, request, reply]: Parameters<LogController["requestCompleted"]>): void {
    const details = { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime };
    if (error) request.log.warn({ ...details, err: error }, "request failed");
    else request.log.debug(details, "request completed");
  }
  override routeNotFound(request: Parameters<LogController["routeNotFound"]>[0]): void {
    request.log.debug({ method: request.method, url: request.url }, "route not found");
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
  const randomSeed = randomInt(0, 2 ** 32);
  const random = deps.random ?? createRandom(randomSeed);
  const createEngine: ClusterEngineFactory = deps.createEngine ?? createClusterEngine;
  const engine: ClusterEngine = createEngine(
    {
      id: identity.id,
      address: config.advertise,
      generation: identity.generation,
      tokens: identity.tokens,
      // Bootstrap (joining, streaming ranges in) comes with topology/; until then a node is normal at once.
      status: "normal",
      seeds: config.seeds,
      replicationFactor: config.replicationFactor,
      gossipIntervalMs: config.gossipIntervalMs,
      phiThreshold: config.phiThreshold,
    },
    random,
  );

  const peerClient = new PeerClient(
    { clusterSecret: config.clusterSecret, requestTimeoutMs: peerRequestTimeoutMs(config) },
    log.child({ component: "peer-client" }),
  );

  let stopping = false;
  let cancelTick: Cancel = () => undefined;
  const debug = (): boolean => log.isLevelEnabled("debug");

  const send = (outbounds: readonly Outbound[]): void => {
    for (const outbound of outbounds) {
      if (debug()) {
        log.debug({ to: outbound.to, address: outbound.address, kind: outbound.message.kind }, "peer message sent");
      }
      peerClient.send(outbound.address, outbound.message);
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
    for (const event of engine.takeEvents()) logEvent(event);
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

  // Ticks are due on a fixed grid. After a stall (a GC pause, SIGSTOP) the node ticks once and goes
  // back to the grid from now: a burst of catch-up ticks would send a burst of stale heartbeats, and
  // the detector is the one that must notice the gap.
  const interval = engine.tickIntervalMs;
  let nextDueMs = 0;
  const runTick = (): void => {
    if (stopping) return;
    tickOnce();
    const now = clock.nowMs();
    nextDueMs += interval;
    if (nextDueMs <= now) nextDueMs = now + interval;
    cancelTick = clock.schedule(nextDueMs - now, runTick);
  };

  const peerStats = new PeerRouteStats();
  const metrics = new NodeMetrics({ engine, peerClient, peerRoutes: peerStats, nowMs: () => clock.nowMs() });
  const httpLogger = log.child({ component: "http" }, { level: httpLogLevel(config.logLevel) });
  const app: FastifyInstance = Fastify({
    loggerInstance: httpLogger as FastifyBaseLogger,
    logController: new QuietLogController(),
    requestTimeout: NODE_LIMITS.httpRequestTimeoutMs,
    keepAliveTimeout: NODE_LIMITS.httpKeepAliveTimeoutMs,
    pluginTimeout: NODE_LIMITS.pluginTimeoutMs,
    // Idle keep-alive sockets are closed at once on close(); in-flight requests are finished.
    forceCloseConnections: "idle",
    return503OnClosing: true,
  });

  const closeAll = async (): Promise<void> => {
    stopping = true;
    cancelTick();
    await app.close().catch((error: unknown) => log.warn({ err: error }, "http server did not close cleanly"));
    await peerClient.close();
  };

  const url = `http://${config.listenHost}:${config.listenPort}`;
  try {
    registerErrorHandling(app);
    await app.register(peerRoutes, {
      clusterSecret: config.clusterSecret,
      stats: peerStats,
      deps: { receive, send, nowMs: () => clock.nowMs() },
    });
    await app.register(clusterRoutes, {
      nodeId: identity.id,
      replicationFactor: config.replicationFactor,
      engine,
      nowMs: () => clock.nowMs(),
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

  let stopPromise: Promise<void> | null = null;
  return {
    id: identity.id,
    identity,
    config,
    url,
    engine,
    logger: log,
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
