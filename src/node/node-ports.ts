// node/node-ports.ts — what a node can be given instead of the real machine: the clock, the wall
// clock, chance, the engine, and the few settings a test or a measurement needs changed. Every
// absent port falls back to the real one, so the CLI passes none.

import type { Clock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import type { ClusterEngineFactory } from "../cluster/engine.js";
import type { HttpServerLimits } from "../api/http-server.js";
import type { ReplicaClientOptions } from "../net/replica-client.js";
import type { Logger } from "./logger.js";

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
