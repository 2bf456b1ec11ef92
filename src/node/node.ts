// node/node.ts — a node on the network: build it (build-node.ts), listen, then tick. This is what
// the CLI's `grapevine start` and the tests that need real sockets call; the order of a start and
// of a shutdown, and why, is told at the top of build-node.ts and shutdown.ts.

import type { NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import type { Coordinator } from "../replication/coordinator.js";
import type { LevelStore } from "../storage/store.js";
import type { Readiness } from "../api/ready-routes.js";
import type { ClockVerdict } from "../time/clock-offset.js";
import type { NodeConfig } from "./config.js";
import type { NodeIdentity } from "./identity.js";
import type { Logger } from "./logger.js";
import { buildNode, type BuiltNode } from "./build-node.js";
import type { NodeDeps } from "./node-ports.js";
import { describeListenError, NodeStartError } from "./start-errors.js";

export type { BuiltNode } from "./build-node.js";
export type { NodeDeps } from "./node-ports.js";
export { peerRequestTimeoutMs } from "./node-settings.js";
export { NodeStartError } from "./start-errors.js";

export interface GrapevineNode {
  readonly id: NodeId;
  readonly identity: NodeIdentity;
  readonly config: NodeConfig;
  /** Where the node serves, e.g. `http://127.0.0.1:7001` (`https://` with --certs-dir). */
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
  /**
   * Resolves when the node asks to end its process: 0 after a decommission or `grapevine stop`, 1
   * after a failed bootstrap.
   */
  readonly exitRequested: Promise<{ readonly code: number; readonly reason: string }>;
  /** What /ready answers: ready, or why not (starting, draining, clock_offset). */
  readiness(): Readiness;
  /**
   * Stops ticking, stops accepting, finishes in-flight requests, closes the clients, then the
   * store. Idempotent.
   */
  stop(): Promise<void>;
  /**
   * With --certs-dir: reads the certs dir again and, when its files hold together, serves and calls
   * peers with them from the next connection on; otherwise logs why at warn and keeps the old.
   * Resolves true when the new files were taken. Without --certs-dir: false, nothing read.
   */
  reloadTls(): Promise<boolean>;
}

/** Builds, listens, and sends the first tick. */
export async function startNode(config: NodeConfig, deps: NodeDeps = {}): Promise<GrapevineNode> {
  const node = await buildNode(config, deps);
  await listen(node);
  node.begin();
  return {
    id: node.identity.id,
    identity: node.identity,
    config,
    url: `${node.tls === null ? "http" : "https"}://${config.listenHost}:${config.listenPort}`,
    engine: node.engine,
    store: node.store,
    coordinator: node.coordinator,
    logger: node.log,
    clockInRange: () => node.clockGuard.clockInRange(),
    clockVerdict: () => node.clockGuard.verdict(),
    exitRequested: node.exitRequested,
    readiness: () => node.readiness(),
    stop: () => node.stop(),
    reloadTls: () => reloadTls(node),
  };
}

async function reloadTls(node: BuiltNode): Promise<boolean> {
  const { tls, log } = node;
  if (tls === null) return false;
  try {
    const loaded = await tls.reload(new Date(node.wallUs() / 1000));
    log.info({ certsDir: tls.certsDir, notAfter: loaded.notAfter.toISOString() }, "TLS reloaded");
    return true;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    log.warn({ certsDir: tls.certsDir, why }, "TLS reload refused; the old certificates stay");
    return false;
  }
}

/** fastify's listen() wants `::1`, not the `[::1]` of a HOST:PORT address. */
function bareHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * Opens the node's socket; a node that cannot listen is shut down and the cause named in one line.
 */
export async function listen(node: BuiltNode): Promise<void> {
  const { app, config, identity, log } = node;
  try {
    await app.listen({ host: bareHost(config.listenHost), port: config.listenPort });
  } catch (error) {
    await node.close();
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
  log.debug(
    { randomSeed: node.randomSeed, tickIntervalMs: node.tickLoop.intervalMs },
    "engine ready",
  );
}
