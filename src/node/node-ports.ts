// node/node-ports.ts — what a node can be given instead of the real machine: the clock, the wall
// clock, chance, the engine, and the few settings a test or a measurement needs changed. Every
// absent port falls back to the real one, so the CLI passes none.

import { randomInt } from "node:crypto";
import type { RouteOptions } from "fastify";
import type { Clock } from "../core/clock.js";
import { createRandom, type Random } from "../core/random.js";
import type { ClusterEngineFactory } from "../cluster/engine.js";
import type { HttpServerLimits } from "../api/http-server.js";
import type { ReplicaClientOptions } from "../net/replica-client.js";
import type { PeerHttp } from "../net/peer-http.js";
import type { KeyedRecord } from "../storage/record.js";
import type { Database } from "../storage/store-state.js";
import type { StateFiles } from "../storage/state-files.js";
import type { Logger } from "./logger.js";

/** Replica client settings a measurement may change (coalescing on or off, pool sizes). */
export type ReplicaClientTuning = Partial<
  Pick<
    ReplicaClientOptions,
    "coalesce" | "connectionsPerPeer" | "requestsInFlightPerPeerMax" | "queuedOpsPerPeerMax"
  >
>;

/**
 * What a node draws chance for, each from its own stream, so one subsystem's draws never shift
 * another's: the engine's peer choices, read repair's, the topology service's, the first start's
 * tokens, and the ids of repair jobs.
 */
export type RandomPurpose = "engine" | "read-repair" | "topology" | "tokens" | "repair-jobs";

/** Ports the node can be given instead of the real ones (tests and the simulator). */
export interface NodeDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Chance for the engine (peer choice); by default seeded from the OS's entropy. */
  readonly random?: Random;
  /**
   * Every other stream of chance, by purpose (the simulator derives each from its run seed); by
   * default each is seeded from the OS's entropy.
   */
  readonly randomFor?: (purpose: RandomPurpose) => Random;
  /** The store's database; LevelDB in the data dir by default, the simulator's disk in the sim. */
  readonly openDatabase?: (location: string) => Database;
  /** node.json, ring.json and peers.json; the data dir's files by default. */
  readonly stateFiles?: StateFiles;
  /** The kernel's boot id (boot-id.ts); the simulator's machines have their own. */
  readonly bootId?: () => string;
  /**
   * The transport of every node-to-node client (replica, repair, stream, peer); by default each
   * client keeps its own undici pools. The simulator's network in the sim.
   */
  readonly peerHttp?: PeerHttp;
  readonly createEngine?: ClusterEngineFactory;
  /** The wall clock in microseconds, for the hybrid logical clock and tombstone purges. */
  readonly wallUs?: () => number;
  readonly replicaClientTuning?: ReplicaClientTuning;
  /**
   * Pending hint bytes per target (storage/hints.ts); its default is far above what a short run
   * stores, so the simulator sets it low enough to reach.
   */
  readonly hintBytesPerTargetMax?: number;
  /**
   * Records per range-stream page (topology/stream.ts); its default holds a whole range of a short
   * run, so the simulator sets it low enough that streams resume from their cursor.
   */
  readonly streamPageRecordsMax?: number;
  /**
   * The HTTP server's bounds where a test needs them short (a request timeout of 1 s); NODE_LIMITS
   * otherwise.
   */
  readonly httpLimits?: Partial<HttpServerLimits>;
  /**
   * Stands in for the clock guard's verdict in /ready (a test that needs a fenced node without a
   * shifted clock). Absent: the clock guard's own verdict.
   */
  readonly clockInRange?: () => boolean;
  /**
   * Told of every route the HTTP server registers, from the first (the OpenAPI test compares them
   * with the document). Absent: nobody is.
   */
  readonly onRoute?: (route: RouteOptions) => void;
  /**
   * Told of every write the store is handed, as it is handed (storage/store-limits.ts onApply; the
   * simulator's future-record watch). Absent: nobody is.
   */
  readonly onStoreApply?: (writes: readonly KeyedRecord[]) => void;
}

/** The node's stream of chance for `purpose`: the injected one, else one seeded from the OS. */
export function randomOf(ports: NodeDeps, purpose: RandomPurpose): Random {
  return ports.randomFor?.(purpose) ?? createRandom(randomInt(0, 2 ** 32));
}
