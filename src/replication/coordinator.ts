// replication/coordinator.ts — any node coordinates a client's read or write of any key: it finds
// the key's replicas, asks them, and answers at the consistency level the client named.
//
// Theory of operation (Dynamo §4.5, as Cassandra's StorageProxy does it). The replicas of a key are
// the preference list of its token (ring/placement.ts, the shared list: no copy per request); which
// of them are live comes from the failure detector (cluster/). A request needs `required` replicas
// (replication/consistency.ts); if fewer are live it fails at once with `unavailable`, before
// anything is sent: nothing was written, so the client may safely retry elsewhere.
//
// Writes. The coordinator stamps the record with its hybrid logical clock (time/hlc.ts), so the
// version is ordered after every version this node has seen, encodes it once, and sends it to every
// live replica in parallel: the local replica through the store directly (no HTTP to itself), the
// others through the ReplicaTransport port (replica-transport.ts). It answers as soon as `required`
// replicas acknowledged — never before — with the version's timestamp. If so many replicas fail
// that `required` can no longer be reached, or the deadline (--request-timeout-ms) passes first, it
// answers `timeout` with how many acknowledged: like Cassandra, the write may still have landed on
// some replicas, and last-write-wins makes a retry harmless. Replicas that were down, failed or
// timed out are reported once every replica has settled (or the deadline passed) through the
// onReplicaMiss hook, with the record: the seam for hinted handoff.
//
// Writes during a ring change (topology/). A write also goes to the key's pending replicas:
// replicas of the key in the future ring that are not replicas now (ring/placement.ts
// pendingReplicasFor), so a node receiving a range by streaming misses none of the writes made
// meanwhile. As in Cassandra (CASSANDRA-833, blockFor = level + pending), the write then needs one
// more acknowledgement per pending replica, counted over current and pending replicas alike, and
// that many of them live to start. Counting `w` on the current replicas alone is not enough: once
// the change completes, reads go to the future replicas, and a quorum of them may be exactly the
// replicas the write missed. (Simulator, seed 4089250117: a write acknowledged by b and c of
// current {a, b, c}, refused by a and the pending d, was missed by a quorum read of the future {a,
// d, b} from a and d.) With one more acknowledgement per pending replica, at most (rf − quorum) of
// current ∪ pending lack the write, so a quorum of either ring holds it. A pending replica that
// missed the write gets a hint.
//
// Reads. The coordinator asks `required` live replicas, by a stable preference: itself first when
// it is a replica (a local read costs no network), then the others in preference-list order. One
// is asked for data, the rest for digests (the version each holds). When the versions agree, the
// data is the answer. When a digest is newer than the data, the coordinator fetches the record from
// the replica(s) that claimed the newer version and answers with the newest; a failed replica is
// replaced by the next live one not yet asked. The answer lists the replicas that answered with an
// older version (`stale`): the seam for read repair. A tombstone is returned as such; the API
// answers it as not found.
//
// Clocks (issue 14 §2). Last-write-wins trusts the coordinator's stamp, so a coordinator whose
// clock is wrong must not stamp writes. A write is refused with `unavailable`, reason
// `clock_offset`, before anything is sent, when this node's clock is off from most of its peers
// (clockInRange(), measured from heartbeats: time/clock-offset.ts) or when the stamp itself is more
// than the allowed offset ahead of this node's wall clock (a clock restarted from a generation
// taken while the wall clock was ahead). Replicas refuse a record stamped too far ahead of their
// own clocks; a write that cannot reach its level because replicas refused it so fails with the
// same code, never acknowledged. Reads are still served: they stamp nothing.
//
// Bounds. At most requestsInFlightMax requests are coordinated at once (past it: `unavailable`,
// reason overloaded, without trying). Every request arms exactly one deadline timer and clears it
// when it settles, so no timer outlives its request. Late answers after the deadline are ignored.
//
// Failures are thrown as core/errors.ts GrapevineErrors with their SPEC §2 code and details, which
// the API answers as they are: `unavailable` (`required`, `alive`, and `reason` when it is not the
// count) and `timeout` (`required`, `acknowledged`).

import { assert } from "../core/assert.js";
import { GrapevineError } from "../core/errors.js";
import type { NodeId } from "../core/ids.js";
import { tokenOf as partitionerTokenOf, type Token } from "../ring/partitioner.js";
import { pendingReplicasFor, sharedReplicasFor } from "../ring/placement.js";
import { expiryOf } from "../storage/expiry.js";
import { encodeRecord, tombstoneRecord, type StoredRecord } from "../storage/record.js";
import { requiredReplicas, type ConsistencyLevel } from "./consistency.js";
import {
  COORDINATOR_DEFAULTS,
  type CoordinatorDeps,
  type CoordinatorOptions,
  type CoordinatorStats,
  type DeleteRequest,
  type ReadOutcome,
  type ReadRequest,
  type WriteOutcome,
  type WriteRequest,
} from "./coordinator-types.js";
import { ReadRound } from "./read-round.js";
import {
  checkedPrimaries,
  planFallbacks,
  preferenceListLength,
  type FallbackPlan,
} from "./sloppy-quorum.js";

/** No fallback asked, none spare: strict requests, and transports without fallbacks. */
const NO_FALLBACKS: FallbackPlan = Object.freeze({ fallbacks: [], spares: [] });
import type { RoundHost } from "./round-host.js";
import { WriteRound } from "./write-round.js";

export {
  type AckCover,
  type CoordinatorDeps,
  type CoordinatorOptions,
  type CoordinatorStats,
  type DeleteRequest,
  type ReadOutcome,
  type ReadRequest,
  type ReplicaMiss,
  type WriteOutcome,
  type WriteRequest,
} from "./coordinator-types.js";

export class Coordinator implements RoundHost {
  readonly #self: NodeId;
  readonly #replicationFactor: number;
  readonly #timeoutMs: number;
  readonly #inFlightMax: number;
  readonly #deps: CoordinatorDeps;
  readonly #tokenOf: (key: string) => Token;
  #inFlight = 0;
  #writes = 0;
  #reads = 0;
  #unavailable = 0;
  #timeouts = 0;
  #overloaded = 0;
  #clockRefusals = 0;
  readonly #replicaTimeouts = new Map<NodeId, number>();
  readonly #replicaFailures = new Map<NodeId, number>();

  constructor(options: CoordinatorOptions, deps: CoordinatorDeps) {
    assert(options.self.length > 0, "the coordinator needs its node id");
    assert(
      Number.isSafeInteger(options.requestTimeoutMs) && options.requestTimeoutMs > 0,
      "requestTimeoutMs must be a positive integer",
    );
    this.#self = options.self;
    this.#replicationFactor = options.replicationFactor;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#inFlightMax = options.requestsInFlightMax ?? COORDINATOR_DEFAULTS.requestsInFlightMax;
    assert(
      Number.isSafeInteger(this.#inFlightMax) && this.#inFlightMax >= 1,
      "requestsInFlightMax must be >= 1",
    );
    this.#deps = deps;
    this.#tokenOf = deps.tokenOf ?? partitionerTokenOf;
    // Fails on a bad replication factor now rather than on the first request.
    requiredReplicas("all", options.replicationFactor);
  }

  /** Stores a value on the key's replicas; resolves once `level` of them acknowledged. */
  write(request: WriteRequest): Promise<WriteOutcome> {
    return this.#write(request, request.value, request.contentType);
  }

  /** Stores a tombstone on the key's replicas; resolves once `level` of them acknowledged. */
  delete(request: DeleteRequest): Promise<WriteOutcome> {
    return this.#write(request, null, "");
  }

  /** The newest version among `level` replicas of the key. */
  read(request: ReadRequest): Promise<ReadOutcome> {
    try {
      return this.#read(request);
    } catch (error) {
      // A refusal before trying (unavailable, a bad level) is a rejection like any other outcome.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #read(request: ReadRequest): Promise<ReadOutcome> {
    const { key, level } = request;
    const required = requiredReplicas(level, this.#replicationFactor);
    const primaryRequired = checkedPrimaries(
      "pr",
      request.primaryLevel,
      level,
      this.#replicationFactor,
    );
    const replicas = this.#replicasOf(key);
    const cluster = this.#deps.cluster;
    // Stable preference: self first when it is a live replica, then the preference list's order.
    const candidates: NodeId[] = [];
    if (replicas.includes(this.#self) && this.#deps.localReadable?.() !== false)
      candidates.push(this.#self);
    for (const replica of replicas) {
      if (replica !== this.#self && cluster.isLive(replica)) candidates.push(replica);
    }
    const primaries = candidates.length;
    // Sloppy quorum: below `pr`, the down primaries' fallbacks are read too (their copies).
    const fallbacks =
      primaryRequired < required && primaries < required
        ? this.#fallbacksOf(key, replicas, this.#deps.transport.readFallback !== undefined)
            .fallbacks
        : [];
    for (const { node } of fallbacks) candidates.push(node);
    this.#admit(required, candidates.length, level);
    this.#admitPrimaries(primaryRequired, primaries, level);
    this.#reads++;
    this.#inFlight++;
    return new Promise<ReadOutcome>((resolve, reject) => {
      const round = new ReadRound(
        this,
        key,
        required,
        candidates,
        resolve,
        reject,
        new Set(fallbacks.map(({ node }) => node)),
        primaryRequired,
      );
      round.start();
    });
  }

  stats(): CoordinatorStats {
    return {
      writes: this.#writes,
      reads: this.#reads,
      unavailable: this.#unavailable,
      timeouts: this.#timeouts,
      overloaded: this.#overloaded,
      clockRefusals: this.#clockRefusals,
      inFlight: this.#inFlight,
      replicaTimeouts: this.#replicaTimeouts,
      replicaFailures: this.#replicaFailures,
    };
  }

  // --- shared by the rounds ---------------------------------------------------------------------

  /** @internal */ get self(): NodeId {
    return this.#self;
  }
  /** @internal */ get deps(): CoordinatorDeps {
    return this.#deps;
  }
  /** @internal */ schedule(round: { expire(): void }): () => void {
    return this.#deps.clock.schedule(this.#timeoutMs, () => round.expire());
  }
  /** @internal */ countReplicaFailure(replica: NodeId): void {
    this.#replicaFailures.set(replica, (this.#replicaFailures.get(replica) ?? 0) + 1);
  }
  /** @internal */ countReplicaTimeout(replica: NodeId): void {
    this.#replicaTimeouts.set(replica, (this.#replicaTimeouts.get(replica) ?? 0) + 1);
  }
  /** @internal */ timedOut(
    required: number,
    acknowledged: number,
    failed: number,
  ): GrapevineError {
    this.#timeouts++;
    const why = failed > 0 ? ` (${failed} failed)` : "";
    return new GrapevineError(
      "timeout",
      `${acknowledged} of ${required} required replicas answered in time${why}`,
      { required, acknowledged },
    );
  }
  /** @internal */ clockRefused(
    message: string,
    details: Readonly<Record<string, number>>,
  ): GrapevineError {
    this.#unavailable++;
    this.#clockRefusals++;
    return new GrapevineError("unavailable", message, { ...details, reason: "clock_offset" });
  }
  /** @internal */ finished(): void {
    this.#inFlight--;
    assert(this.#inFlight >= 0, "coordinator in-flight count went negative");
  }

  // --- private ----------------------------------------------------------------------------------

  #replicasOf(key: string): readonly NodeId[] {
    return sharedReplicasFor(
      this.#deps.cluster.ring(),
      this.#tokenOf(key),
      this.#replicationFactor,
    );
  }

  /**
   * The nodes past the key's replicas that stand in for its down primaries (sloppy-quorum.ts):
   * none without a transport for fallbacks. This node is a candidate only when it keeps fallbacks.
   */
  #fallbacksOf(
    key: string,
    replicas: readonly NodeId[],
    carried = this.#deps.transport.writeFallback !== undefined,
  ): FallbackPlan {
    if (!carried) return NO_FALLBACKS;
    const preference = sharedReplicasFor(
      this.#deps.cluster.ring(),
      this.#tokenOf(key),
      preferenceListLength(this.#replicationFactor),
    );
    const isLive = (node: NodeId): boolean => this.#deps.cluster.isLive(node);
    return planFallbacks(
      preference,
      replicas,
      (node) => node === this.#self || isLive(node),
      (node) => (node === this.#self ? this.#deps.fallbacks !== undefined : isLive(node)),
    );
  }

  /** Refuses, before anything is sent, a request with fewer live primaries than `pw`/`pr`. */
  #admitPrimaries(required: number, alive: number, level: ConsistencyLevel): void {
    if (alive >= required) return;
    this.#unavailable++;
    throw new GrapevineError(
      "unavailable",
      `consistency ${String(level)} needs ${required} live primary replicas (pw/pr), ${alive} alive`,
      { required, alive, reason: "primaries" },
    );
  }

  /** Refuses, before anything is sent, a request that cannot succeed or must not start. */
  #admit(required: number, alive: number, level: ConsistencyLevel): void {
    if (this.#deps.ringSettled?.() === false) {
      this.#unavailable++;
      throw new GrapevineError(
        "unavailable",
        "this node has just started and is still learning the ring from its peers; retry shortly or ask another node",
        { required, alive, reason: "starting" },
      );
    }
    if (alive < required) {
      this.#unavailable++;
      throw new GrapevineError(
        "unavailable",
        `consistency ${String(level)} needs ${required} live replicas, ${alive} alive`,
        { required, alive },
      );
    }
    if (this.#inFlight >= this.#inFlightMax) {
      this.#unavailable++;
      this.#overloaded++;
      throw new GrapevineError(
        "unavailable",
        `the coordinator is overloaded (${this.#inFlight} requests in flight)`,
        { required, alive, reason: "overloaded" },
      );
    }
  }

  /** A write of `value`, or of a tombstone when `value` is null. */
  #write(
    request: WriteRequest | DeleteRequest,
    value: Uint8Array | null,
    contentType: string,
  ): Promise<WriteOutcome> {
    try {
      return this.#startWrite(request, value, contentType);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * The key's current replicas, then its pending ones (none unless a ring change moves its range).
   */
  #writeReplicasOf(key: string): { replicas: readonly NodeId[]; pending: number } {
    const cluster = this.#deps.cluster;
    const ring = cluster.ring();
    const token = this.#tokenOf(key);
    const current = sharedReplicasFor(ring, token, this.#replicationFactor);
    if (cluster.futureRing === undefined) return { replicas: current, pending: 0 };
    const future = cluster.futureRing();
    if (future === ring) return { replicas: current, pending: 0 };
    const pending = pendingReplicasFor(ring, future, token, this.#replicationFactor);
    return pending.length === 0
      ? { replicas: current, pending: 0 }
      : { replicas: [...current, ...pending], pending: pending.length };
  }

  #startWrite(
    request: WriteRequest | DeleteRequest,
    value: Uint8Array | null,
    contentType: string,
  ): Promise<WriteOutcome> {
    const { key, level } = request;
    const { replicas, pending } = this.#writeReplicasOf(key);
    // Cassandra's blockFor during a range movement: one more acknowledgement per pending replica.
    const required = requiredReplicas(level, this.#replicationFactor) + pending;
    const primaryRequired =
      checkedPrimaries("pw", request.primaryLevel, level, this.#replicationFactor) + pending;
    const isUp = (node: NodeId): boolean => node === this.#self || this.#deps.cluster.isLive(node);
    let alive = 0;
    for (const replica of replicas) if (isUp(replica)) alive++;
    // Sloppy quorum: the down primaries' fallbacks count toward `w`, never toward `pw`.
    const plan =
      primaryRequired < required && alive < required
        ? this.#fallbacksOf(key, replicas)
        : NO_FALLBACKS;
    const fallbacks = plan.fallbacks;
    this.#admit(required, alive + fallbacks.length, level);
    this.#admitPrimaries(primaryRequired, alive, level);
    if (this.#deps.clockInRange?.() === false) {
      this.#deps.onClockRefusal?.({ key, timestampUs: 0, reason: "fenced" });
      throw this.clockRefused(
        "this node's clock is off from most of its peers by more than the allowed clock offset; it coordinates no writes until its clock is back in range: ask another node",
        { required, alive },
      );
    }
    const wallUs = this.#deps.wallUs();
    const timestampUs = this.#deps.hlc.now(wallUs);
    const maxOffsetUs = this.#deps.maxClockOffsetUs;
    if (maxOffsetUs !== undefined && timestampUs - wallUs > maxOffsetUs) {
      this.#deps.onClockRefusal?.({ key, timestampUs, reason: "stamp-ahead" });
      throw this.clockRefused(
        `this node's hybrid clock (${timestampUs}) is further ahead of its wall clock than the allowed clock offset; it coordinates no writes until the wall clock catches up: ask another node`,
        { required, alive },
      );
    }
    const ttlSeconds = "ttlSeconds" in request ? request.ttlSeconds : undefined;
    const live = { value, contentType, timestampUs, writer: this.#self, tombstone: false };
    const record: StoredRecord =
      value === null
        ? tombstoneRecord(timestampUs, this.#self)
        : ttlSeconds === undefined
          ? { ...live, value }
          : { ...live, value, expiresAtUs: expiryOf(timestampUs, ttlSeconds) };
    // Encoded once, shared by the local replica's store and every remote replica's request.
    const encoded = encodeRecord(record);
    this.#writes++;
    this.#inFlight++;
    return new Promise<WriteOutcome>((resolve, reject) => {
      const round = new WriteRound(
        this,
        key,
        record,
        required,
        fallbacks.length === 0 ? replicas : [...replicas, ...fallbacks.map(({ node }) => node)],
        resolve,
        reject,
        primaryRequired,
        fallbacks.map(({ primary }) => primary),
        [...plan.spares],
      );
      round.start(encoded);
    });
  }
}
