// replication/coordinator-types.ts — the coordinator's public shapes (options, ports, requests,
// outcomes, stats), kept apart so the rounds and the API can name them without the class.

import type { Clock } from "../core/clock.js";
import type { NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import type { Token } from "../ring/partitioner.js";
import type { TokenMap } from "../ring/token-map.js";
import type { HybridClock } from "../time/hlc.js";
import type { StoredRecord } from "../storage/record.js";
import type { Store } from "../storage/store.js";
import type { ConsistencyLevel } from "./consistency.js";
import type { FallbackCopies } from "./fallback-copies.js";
import type { ReplicaTransport } from "./replica-transport.js";
import type { PrimaryLevel } from "./sloppy-quorum.js";

export const COORDINATOR_DEFAULTS = {
  /**
   * Requests coordinated at once. The HTTP server admits at most 4,096 connections, so this is
   * reached only when a client pipelines heavily; past it new requests fail fast rather than
   * queueing memory and latency without bound.
   */
  requestsInFlightMax: 4_096,
} as const;

export interface CoordinatorOptions {
  /** This node: its replica is written and read through the store, not the transport. */
  readonly self: NodeId;
  readonly replicationFactor: number;
  /** The deadline for replica answers (SPEC §1 --request-timeout-ms). */
  readonly requestTimeoutMs: number;
  readonly requestsInFlightMax?: number;
}

export type ReplicaMissReason = "down" | "failed" | "timeout";

/** A write some replicas did not acknowledge: what hinted handoff needs to replay it. */
export interface ReplicaMiss {
  readonly key: string;
  readonly record: StoredRecord;
  readonly missed: readonly { readonly replica: NodeId; readonly reason: ReplicaMissReason }[];
}

/**
 * Hint before acknowledgement (issue 21 §4; write-round.ts): hints for the replicas of a write that
 * have not acknowledged it when its level is reached, committed before the client's answer, so a
 * coordinator crash right after the answer loses none. hinted-handoff.ts implements it.
 */
export interface AckHints {
  cover(key: string, encodedRecord: Uint8Array, replicas: readonly NodeId[]): AckCover;
}

/** The hints of one write's outstanding replicas. */
export interface AckCover {
  /** Resolves once every hint is committed, refused or withdrawn; never rejects. */
  readonly committed: Promise<void>;
  /** `replica` acknowledged the write after all: its hint goes. */
  acknowledged(replica: NodeId): void;
  /**
   * The round ended: the hints of replicas that never acknowledged stay, replayed like any other.
   */
  settle(): void;
}

export interface CoordinatorDeps {
  readonly cluster: Pick<ClusterEngine, "ring" | "isLive"> & {
    /**
     * The ring once the ring changes in progress complete; the same object as ring() when none is.
     */
    readonly futureRing?: () => TokenMap;
  };
  readonly store: Pick<Store, "apply" | "get">;
  readonly transport: ReplicaTransport;
  /** Deadlines only; the coordinator reads no time from it. */
  readonly clock: Pick<Clock, "schedule">;
  readonly hlc: Pick<HybridClock, "now" | "observe">;
  /** The wall clock in microseconds, for the hybrid logical clock. */
  readonly wallUs: () => number;
  /** Key → token; the partitioner's by default. */
  readonly tokenOf?: (key: string) => Token;
  /**
   * Called once per write that some replica did not acknowledge, after all settled or the deadline
   * (the replicas ackHints covered are left out: their hints are stored already).
   */
  readonly onReplicaMiss?: (miss: ReplicaMiss) => void;
  /**
   * Hint before acknowledgement (--hint-before-ack); when absent a hint follows the answer
   * (onReplicaMiss).
   */
  readonly ackHints?: AckHints;
  /**
   * False while this node, just started, is still learning the ring (cluster/ring-settle.ts): its
   * replica sets would be computed from a partial ring, so requests are refused. Always true when
   * absent.
   */
  readonly ringSettled?: () => boolean;
  /**
   * False while this node may have lost acknowledged writes and is repairing (node/run-record.ts):
   * its own copy does not count toward a read's quorum. Always true when absent.
   */
  readonly localReadable?: () => boolean;
  /**
   * False while this node's clock is off from most of its peers (node/clock-guard.ts): writes are
   * refused with `unavailable`, reason `clock_offset`. Always true when absent.
   */
  readonly clockInRange?: () => boolean;
  /** A stamp further ahead of wallUs than this (µs) is refused; no bound when absent. */
  readonly maxClockOffsetUs?: number;
  /**
   * The fallback copies this node holds (sloppy quorum): used when this node is itself the fallback
   * of a write it coordinates. Without it this node is never chosen as a fallback.
   */
  readonly fallbacks?: Pick<FallbackCopies, "store" | "find">;
  /** Called with each write refused for its clock, for the node's log and metrics. */
  readonly onClockRefusal?: (details: {
    readonly key: string;
    readonly timestampUs: number;
    readonly reason: "fenced" | "stamp-ahead" | "replicas-refused";
  }) => void;
}

export interface WriteRequest {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly level: ConsistencyLevel;
  /** `pw`: acknowledgements that must be primaries' (sloppy-quorum.ts); absent: = level. */
  readonly primaryLevel?: PrimaryLevel;
  /**
   * Time to live (issue 17 §3), 1 to TTL_LIMITS.ttlSecondsMax: the value expires this long after
   * the write's stamp (storage/expiry.ts). Absent: it never expires.
   */
  readonly ttlSeconds?: number;
}

export interface DeleteRequest {
  readonly key: string;
  readonly level: ConsistencyLevel;
  readonly primaryLevel?: PrimaryLevel;
}

export interface ReadRequest {
  readonly key: string;
  readonly level: ConsistencyLevel;
  /** `pr`: answers that must be primaries'; below the level, fallbacks are read too. */
  readonly primaryLevel?: PrimaryLevel;
}

export interface WriteOutcome {
  /** The written version's timestamp (X-Grapevine-Timestamp). */
  readonly timestampUs: number;
  /** Replicas that had acknowledged when the coordinator answered: the level's count. */
  readonly acknowledged: number;
}

export interface ReadOutcome {
  /**
   * The newest version among the replicas that answered (a tombstone included); undefined for none.
   */
  readonly record: StoredRecord | undefined;
  /** Replicas that answered with a version older than `record`: read repair's targets. */
  readonly stale: readonly NodeId[];
  /** Replicas that answered. */
  readonly answered: number;
}

export interface CoordinatorStats {
  readonly writes: number;
  readonly reads: number;
  readonly unavailable: number;
  readonly timeouts: number;
  readonly overloaded: number;
  /**
   * Writes refused for the clock: this node fenced, its stamp too far ahead, or replicas refusing
   * it.
   */
  readonly clockRefusals: number;
  readonly inFlight: number;
  /** Replica operations that got no answer by the deadline, per replica. */
  readonly replicaTimeouts: ReadonlyMap<NodeId, number>;
  /**
   * Replica operations that failed (refused, unreachable, overloaded, local store error), per
   * replica.
   */
  readonly replicaFailures: ReadonlyMap<NodeId, number>;
}
