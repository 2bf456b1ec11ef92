// node/node-parts.ts — everything one node is made of, once built: what the routes are registered
// with, what shutdown closes, and what node.ts hands its callers. One record, so each builder and
// the shutdown take the parts they need by name instead of a dozen positional arguments. The core
// (no HTTP server, no metrics) is what the simulator runs; NodeParts adds the HTTP edge.

import type { FastifyInstance } from "fastify";
import type { Clock } from "../core/clock.js";
import type { ClusterEngine } from "../cluster/engine.js";
import type { ClusterMetadata } from "../cluster/metadata.js";
import type { BucketBook } from "../api/bucket-book.js";
import type { TokenRegistry } from "../api/token-registry.js";
import type { RingSettle } from "../cluster/ring-settle.js";
import type { Coordinator } from "../replication/coordinator.js";
import type { FallbackCopies } from "../replication/fallback-copies.js";
import type { HintedHandoff } from "../replication/hinted-handoff.js";
import type { ReadRepair } from "../replication/read-repair.js";
import type { LevelStore } from "../storage/store.js";
import type { HybridClock } from "../time/hlc.js";
import type { PeerClient } from "../net/peer-client.js";
import type { PeerRouteStats } from "../net/peer-routes.js";
import type { PeerTls } from "../net/peer-tls.js";
import type { ReplicaClient } from "../net/replica-client.js";
import type { ReplicaRouteStats } from "../net/replica-routes.js";
import type { RepairClient } from "../net/repair-client.js";
import type { RepairRouteStats } from "../net/repair-routes.js";
import type { AntiEntropyService } from "../antientropy/anti-entropy-service.js";
import type { NodeMetrics } from "../api/metrics.js";
import type { Readiness } from "../api/ready-routes.js";
import type { KnownPeersWriter } from "../topology/known-peers.js";
import type { NodeConfig } from "./config.js";
import type { ClockGuard } from "./clock-guard.js";
import type { NodeIdentity } from "./identity.js";
import type { Logger } from "./logger.js";
import type { NodeTopology } from "./node-topology.js";
import type { CrashRecovery } from "./crash-recovery.js";
import type { TickLoop } from "./tick-loop.js";
import type { RefusalTally } from "./refusal-tally.js";
import type { NodeTls } from "./node-tls.js";

/** A node without its HTTP edge: what the simulator builds, and what the HTTP edge is built on. */
export interface NodeCore {
  readonly config: NodeConfig;
  readonly identity: NodeIdentity;
  readonly log: Logger;
  readonly clock: Clock;
  readonly wallUs: () => number;
  readonly hlc: HybridClock;
  readonly clockGuard: ClockGuard;
  readonly store: LevelStore;
  readonly engine: ClusterEngine;
  readonly ringSettle: RingSettle;
  readonly knownPeersWriter: KnownPeersWriter | null;
  /** Resolves once every cluster metadata change so far is in metadata.json (shutdown waits). */
  readonly metadataSaved: () => Promise<void>;
  readonly peerClient: PeerClient;
  readonly peerStats: PeerRouteStats;
  readonly replicaClient: ReplicaClient;
  readonly replicaStats: ReplicaRouteStats;
  readonly handoff: HintedHandoff;
  /** The copies this node holds as a fallback for down primaries (sloppy quorum). */
  readonly fallbacks: FallbackCopies;
  readonly coordinator: Coordinator;
  readonly readRepair: ReadRepair;
  readonly repairClient: RepairClient;
  readonly repairStats: RepairRouteStats;
  readonly antiEntropy: AntiEntropyService;
  readonly topology: NodeTopology | null;
  readonly tickLoop: TickLoop;
  /** With --certs-dir: the TLS material the server and the peer clients use; null: plain HTTP. */
  readonly tls: NodeTls | null;
  /** `tls` as the peer clients use it: each server they reach must name its member. */
  readonly peerTls: PeerTls | null;
  /**
   * Whether this start may have lost acknowledged writes, and the repair that ends it
   * (crash-recovery.ts).
   */
  readonly recovery: CrashRecovery;
  /** The cluster metadata (bucket properties), gossiped by the engine, saved (build-metadata). */
  readonly metadata: ClusterMetadata;
  /** Bucket properties over the metadata (api/bucket-book.ts). */
  readonly buckets: BucketBook;
  /** Refused requests: the HTTP edge notes them, housekeeping logs the count once a period. */
  readonly refusals: RefusalTally;
  /** Observers the HTTP edge's metrics set once they exist; the core reports to them. */
  readonly observers: NodeObservers;
  /** What /ready answers: ready, or why not (starting, draining, clock_offset). */
  readiness(): Readiness;
  isStopping(): boolean;
}

export interface NodeObservers {
  /** One replica request left with `ops` operations (the metrics' batch-size histogram). */
  replicaRequestSent: ((ops: number) => void) | null;
}

/** A whole node: the core, its metrics and its HTTP server. */
export interface NodeParts extends NodeCore {
  readonly metrics: NodeMetrics;
  readonly app: FastifyInstance;
  /** Bearer tokens over the metadata (api/token-registry.ts). */
  readonly tokens: TokenRegistry;
}
