// node/build-replication.ts — the data path: the replica client (undici, batched per peer), hinted
// handoff, the coordinator, and read repair wrapped around the coordinator's read. The clock guard
// is wired into each, because each is a place a record from the future can enter or be refused.

import type { PeerTls } from "../net/peer-tls.js";
import type { Clock } from "../core/clock.js";
import type { Address, NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import type { RingSettle } from "../cluster/ring-settle.js";
import { Coordinator } from "../replication/coordinator.js";
import { FallbackCopies } from "../replication/fallback-copies.js";
import { HintedHandoff } from "../replication/hinted-handoff.js";
import { ReadRepair } from "../replication/read-repair.js";
import type { HintStore } from "../storage/hints.js";
import type { LevelStore } from "../storage/store.js";
import type { HybridClock } from "../time/hlc.js";
import { ReplicaClient } from "../net/replica-client.js";
import { ReplicaRouteStats } from "../net/replica-routes.js";
import type { NodeConfig } from "./config.js";
import type { ClockGuard } from "./clock-guard.js";
import type { NodeIdentity } from "./identity.js";
import type { Logger } from "./logger.js";
import { randomOf, type NodeDeps } from "./node-ports.js";

export interface NodeReplicationInput {
  readonly config: NodeConfig;
  readonly ports: NodeDeps;
  /** With --certs-dir: the mutual TLS the node's clients speak to peers (node/node-tls.ts). */
  readonly peerTls?: PeerTls | undefined;
  readonly identity: NodeIdentity;
  readonly engine: ClusterEngine;
  readonly store: LevelStore;
  readonly hints: HintStore;
  readonly fallbackHints: HintStore;
  readonly clock: Clock;
  readonly wallUs: () => number;
  readonly hlc: HybridClock;
  readonly clockGuard: ClockGuard;
  readonly ringSettle: RingSettle;
  readonly addressOf: (id: NodeId) => Address | undefined;
  readonly log: Logger;
  readonly isStopping: () => boolean;
  /** False while this node repairs after a possible loss of writes: its copy is not read. */
  readonly localReadable: () => boolean;
  /** One replica request left with `ops` operations (the metrics' batch-size histogram). */
  readonly onReplicaRequestSent: (ops: number) => void;
}

export interface NodeReplication {
  readonly replicaClient: ReplicaClient;
  readonly replicaStats: ReplicaRouteStats;
  readonly handoff: HintedHandoff;
  /** The copies this node holds as a fallback for down primaries, and their hand-off. */
  readonly fallbacks: FallbackCopies;
  readonly coordinator: Coordinator;
  readonly readRepair: ReadRepair;
}

export function buildReplication(input: NodeReplicationInput): NodeReplication {
  const replicaClient = buildReplicaClient(input);
  const handoff = buildHandoff(input, replicaClient);
  const fallbacks = buildFallbacks(input, replicaClient);
  const coordinator = buildCoordinator(input, replicaClient, handoff, fallbacks);
  const readRepair = buildReadRepair(input, replicaClient, handoff, coordinator);
  return {
    replicaClient,
    replicaStats: new ReplicaRouteStats(),
    handoff,
    fallbacks,
    coordinator,
    readRepair,
  };
}

function buildReplicaClient({
  config,
  ports,
  identity,
  clock,
  addressOf,
  log,
  onReplicaRequestSent,
  peerTls,
}: NodeReplicationInput): ReplicaClient {
  return new ReplicaClient(
    {
      self: identity.id,
      clusterSecret: config.clusterSecret,
      requestTimeoutMs: config.requestTimeoutMs,
      maxValueBytes: config.maxValueBytes,
      ...ports.replicaClientTuning,
    },
    {
      nowMs: () => clock.nowMs(),
      addressOf,
      log: log.child({ component: "replica-client" }),
      onRequestSent: onReplicaRequestSent,
      tls: peerTls,
      ...(ports.peerHttp === undefined ? {} : { http: ports.peerHttp }),
    },
  );
}

function buildHandoff(input: NodeReplicationInput, replicaClient: ReplicaClient): HintedHandoff {
  const { config, identity, engine, hints, clock, wallUs, clockGuard, log, isStopping } = input;
  return new HintedHandoff(
    { self: identity.id, enabled: config.hintedHandoff, hintWindowMs: config.hintWindowS * 1000 },
    {
      hints,
      transport: replicaClient,
      cluster: engine,
      clock,
      wallMs: () => Math.floor(wallUs() / 1000),
      onError: (error, what) => {
        if (!isStopping()) log.warn({ err: error }, `hinted handoff failed ${what}`);
      },
      // The origin is this node's hint for `target`, which refused the record as from the future.
      onFutureDropped: (target, key) =>
        clockGuard.refused("hint", { origin: `hint for ${target}`, key }),
    },
  );
}

/** Fallback copies: handed off to their primaries like hints, but never dropped for age. */
function buildFallbacks(input: NodeReplicationInput, replicaClient: ReplicaClient): FallbackCopies {
  const { config, identity, engine, fallbackHints, clock, wallUs, clockGuard, log, isStopping } =
    input;
  return new FallbackCopies(
    { self: identity.id, bytesMax: config.fallbackBytesMax },
    {
      hints: fallbackHints,
      transport: replicaClient,
      cluster: engine,
      clock,
      wallMs: () => Math.floor(wallUs() / 1000),
      onError: (error, what) => {
        if (!isStopping()) log.warn({ err: error }, `fallback hand-off failed ${what}`);
      },
      onFutureDropped: (target, key) =>
        clockGuard.refused("hint", { origin: `fallback copy for ${target}`, key }),
    },
  );
}

function buildCoordinator(
  input: NodeReplicationInput,
  replicaClient: ReplicaClient,
  handoff: HintedHandoff,
  fallbacks: FallbackCopies,
): Coordinator {
  const { config, identity, engine, store, clock, hlc, wallUs, clockGuard, ringSettle } = input;
  return new Coordinator(
    {
      self: identity.id,
      replicationFactor: config.replicationFactor,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    {
      cluster: engine,
      store,
      transport: replicaClient,
      clock,
      hlc,
      wallUs,
      onReplicaMiss: (miss) => handoff.onReplicaMiss(miss),
      ...(config.fallbackBytesMax > 0 ? { fallbacks } : {}),
      ...(config.hintBeforeAck ? { ackHints: handoff } : {}),
      ringSettled: () => ringSettle.settled,
      localReadable: input.localReadable,
      clockInRange: () => clockGuard.clockInRange(),
      maxClockOffsetUs: clockGuard.maxOffsetUs,
      onClockRefusal: ({ key, timestampUs, reason }) => {
        // A fenced node refuses every write: the fence itself was logged once, at warn, by the
        // guard.
        if (reason !== "fenced")
          clockGuard.refused("coordinator", {
            origin: `${identity.id} (${reason})`,
            key,
            timestampUs,
          });
      },
    },
  );
}

function buildReadRepair(
  input: NodeReplicationInput,
  replicaClient: ReplicaClient,
  handoff: HintedHandoff,
  coordinator: Coordinator,
): ReadRepair {
  const { config, ports, identity, engine, store, clock, clockGuard } = input;
  return new ReadRepair(
    {
      self: identity.id,
      replicationFactor: config.replicationFactor,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    {
      coordinator,
      cluster: engine,
      store,
      transport: replicaClient,
      clock,
      // Its own stream of chance, so read repair's draws do not shift the engine's peer choices.
      random: randomOf(ports, "read-repair"),
      onRepairMiss: (miss) => handoff.onReplicaMiss(miss),
      // A version from the future (stored before issue 14's fix) is not written back to other
      // replicas.
      isFromTheFuture: (timestampUs) => clockGuard.isFromTheFuture(timestampUs),
      onFutureSkipped: (key, record) =>
        clockGuard.refused("read-repair", {
          origin: record.writer,
          key,
          timestampUs: record.timestampUs,
        }),
    },
  );
}
