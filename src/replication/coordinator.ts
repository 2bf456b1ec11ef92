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
// replicas acknowledged — never before — with the version's timestamp. If so many replicas fail that
// `required` can no longer be reached, or the deadline (--request-timeout-ms) passes first, it
// answers `timeout` with how many acknowledged: like Cassandra, the write may still have landed on
// some replicas, and last-write-wins makes a retry harmless. Replicas that were down, failed or
// timed out are reported once every replica has settled (or the deadline passed) through the
// onReplicaMiss hook, with the record: the seam for hinted handoff.
//
// Writes during a ring change (topology/). A write also goes to the key's pending replicas: replicas
// of the key in the future ring that are not replicas now (ring/placement.ts pendingReplicasFor), so a
// node receiving a range by streaming misses none of the writes made meanwhile. As in Cassandra, `w`
// is counted on current replicas only: a pending replica's acknowledgement is not needed and does not
// count, but a pending replica that missed the write gets a hint like any other.
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
// Clocks (issue 14 §2). Last-write-wins trusts the coordinator's stamp, so a coordinator whose clock
// is wrong must not stamp writes. A write is refused with `unavailable`, reason `clock_offset`,
// before anything is sent, when this node's clock is off from most of its peers (clockInRange(),
// measured from heartbeats: time/clock-offset.ts) or when the stamp itself is more than the allowed
// offset ahead of this node's wall clock (a clock restarted from a generation taken while the wall
// clock was ahead). Replicas refuse a record stamped too far ahead of their own clocks; a write that
// cannot reach its level because replicas refused it so fails with the same code, never acknowledged.
// Reads are still served: they stamp nothing.
//
// Bounds. At most requestsInFlightMax requests are coordinated at once (past it: `unavailable`,
// reason overloaded, without trying). Every request arms exactly one deadline timer and clears it
// when it settles, so no timer outlives its request. Late answers after the deadline are ignored.
//
// Failures are thrown as core/errors.ts GrapevineErrors with their SPEC §2 code and details, which the
// API answers as they are: `unavailable` (`required`, `alive`, and `reason` when it is not the count)
// and `timeout` (`required`, `acknowledged`).

import { assert } from "../core/assert.js";
import type { Clock } from "../core/clock.js";
import { GrapevineError } from "../core/errors.js";
import type { NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import { tokenOf as partitionerTokenOf, type Token } from "../ring/partitioner.js";
import { pendingReplicasFor, sharedReplicasFor } from "../ring/placement.js";
import type { TokenMap } from "../ring/token-map.js";
import type { HybridClock } from "../time/hlc.js";
import { compareRecords, encodeRecord, tombstoneRecord, type StoredRecord } from "../storage/record.js";
import type { Store } from "../storage/store.js";
import { requiredReplicas, type ConsistencyLevel } from "./consistency.js";
import { compareDigests, digestOf, isClockRefusal, type ReplicaTransport, type VersionDigest } from "./replica-transport.js";

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

export interface CoordinatorDeps {
  readonly cluster: Pick<ClusterEngine, "ring" | "isLive"> & {
    /** The ring once the ring changes in progress complete; the same object as ring() when none is. */
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
  /** Called once per write that some replica did not acknowledge, after all settled or the deadline. */
  readonly onReplicaMiss?: (miss: ReplicaMiss) => void;
  /**
   * False while this node, just started, is still learning the ring (cluster/ring-settle.ts): its
   * replica sets would be computed from a partial ring, so requests are refused. Always true when absent.
   */
  readonly ringSettled?: () => boolean;
  /**
   * False while this node's clock is off from most of its peers (node/clock-guard.ts): writes are
   * refused with `unavailable`, reason `clock_offset`. Always true when absent.
   */
  readonly clockInRange?: () => boolean;
  /** A stamp further ahead of wallUs than this (µs) is refused; no bound when absent. */
  readonly maxClockOffsetUs?: number;
  /** Called with each write refused for its clock, for the node's log and metrics. */
  readonly onClockRefusal?: (details: { readonly key: string; readonly timestampUs: number; readonly reason: "fenced" | "stamp-ahead" | "replicas-refused" }) => void;
}

export interface WriteRequest {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly level: ConsistencyLevel;
}

export interface DeleteRequest {
  readonly key: string;
  readonly level: ConsistencyLevel;
}

export interface ReadRequest {
  readonly key: string;
  readonly level: ConsistencyLevel;
}

export interface WriteOutcome {
  /** The written version's timestamp (X-Grapevine-Timestamp). */
  readonly timestampUs: number;
  /** Replicas that had acknowledged when the coordinator answered: the level's count. */
  readonly acknowledged: number;
}

export interface ReadOutcome {
  /** The newest version among the replicas that answered (a tombstone included); undefined for none. */
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
  /** Writes refused for the clock: this node fenced, its stamp too far ahead, or replicas refusing it. */
  readonly clockRefusals: number;
  readonly inFlight: number;
  /** Replica operations that got no answer by the deadline, per replica. */
  readonly replicaTimeouts: ReadonlyMap<NodeId, number>;
  /** Replica operations that failed (refused, unreachable, overloaded, local store error), per replica. */
  readonly replicaFailures: ReadonlyMap<NodeId, number>;
}

/** Where one replica stands in a round. */
const ReplicaState = { Pending: 0, Acknowledged: 1, Failed: 2, Down: 3, TimedOut: 4 } as const;
type ReplicaState = (typeof ReplicaState)[keyof typeof ReplicaState];

export class Coordinator {
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
    assert(Number.isSafeInteger(this.#inFlightMax) && this.#inFlightMax >= 1, "requestsInFlightMax must be >= 1");
    this.#deps = deps;
    this.#tokenOf = deps.tokenOf ?? partitionerTokenOf;
    // Fails on a bad replication factor now rather than on the first request.
    requiredReplicas("all", options.replicationFactor);
  }

  /** Stores a value on the key's replicas; resolves once `level` of them acknowledged. */
  write(request: WriteRequest): Promise<WriteOutcome> {
    return this.#write(request.key, request.level, request.value, request.contentType);
  }

  /** Stores a tombstone on the key's replicas; resolves once `level` of them acknowledged. */
  delete(request: DeleteRequest): Promise<WriteOutcome> {
    return this.#write(request.key, request.level, null, "");
  }

  /** The newest version among `level` replicas of the key. */
  read(request: ReadRequest): Promise<ReadOutcome> {
    try {
      return this.#read(request);
    } catch (error) {
      // A refusal before trying (unavailable, a bad level) is a rejection like any other outcome.
      return Promise.reject(error as Error);
    }
  }

  #read(request: ReadRequest): Promise<ReadOutcome> {
    const { key, level } = request;
    const required = requiredReplicas(level, this.#replicationFactor);
    const replicas = this.#replicasOf(key);
    const cluster = this.#deps.cluster;
    // Stable preference: self first when it is a live replica, then the preference list's order.
    const candidates: NodeId[] = [];
    if (replicas.includes(this.#self)) candidates.push(this.#self);
    for (const replica of replicas) {
      if (replica !== this.#self && cluster.isLive(replica)) candidates.push(replica);
    }
    this.#admit(required, candidates.length, level);
    this.#reads++;
    this.#inFlight++;
    return new Promise<ReadOutcome>((resolve, reject) => {
      const round = new ReadRound(this, key, required, candidates, resolve, reject);
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
  /** @internal */ timedOut(required: number, acknowledged: number, failed: number): GrapevineError {
    this.#timeouts++;
    const why = failed > 0 ? ` (${failed} failed)` : "";
    return new GrapevineError(
      "timeout",
      `${acknowledged} of ${required} required replicas answered in time${why}`,
      { required, acknowledged },
    );
  }
  /** @internal */ clockRefused(message: string, details: Readonly<Record<string, number>>): GrapevineError {
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
    return sharedReplicasFor(this.#deps.cluster.ring(), this.#tokenOf(key), this.#replicationFactor);
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
  #write(key: string, level: ConsistencyLevel, value: Uint8Array | null, contentType: string): Promise<WriteOutcome> {
    try {
      return this.#startWrite(key, level, value, contentType);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  #startWrite(key: string, level: ConsistencyLevel, value: Uint8Array | null, contentType: string): Promise<WriteOutcome> {
    const required = requiredReplicas(level, this.#replicationFactor);
    const cluster = this.#deps.cluster;
    const ring = cluster.ring();
    const token = this.#tokenOf(key);
    const current = sharedReplicasFor(ring, token, this.#replicationFactor);
    let replicas = current;
    if (cluster.futureRing !== undefined) {
      const future = cluster.futureRing();
      if (future !== ring) {
        const pending = pendingReplicasFor(ring, future, token, this.#replicationFactor);
        if (pending.length > 0) replicas = [...current, ...pending];
      }
    }
    let alive = 0;
    for (let index = 0; index < current.length; index++) {
      const replica = current[index] as NodeId;
      if (replica === this.#self || cluster.isLive(replica)) alive++;
    }
    this.#admit(required, alive, level);
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
    const record: StoredRecord =
      value === null
        ? tombstoneRecord(timestampUs, this.#self)
        : { value, contentType, timestampUs, writer: this.#self, tombstone: false };
    // Encoded once, shared by the local replica's store and every remote replica's request.
    const encoded = encodeRecord(record);
    this.#writes++;
    this.#inFlight++;
    return new Promise<WriteOutcome>((resolve, reject) => {
      const round = new WriteRound(this, key, record, required, replicas, current.length, resolve, reject);
      round.start(encoded);
    });
  }
}

/** One write: which replicas acknowledged, when the client is answered, what to report after. */
class WriteRound {
  readonly #states: Uint8Array;
  /** Acknowledgements of counted (current) replicas: what `required` is measured against. */
  #acknowledged = 0;
  /** Acknowledgements of every replica, pending ones included. */
  #acknowledgedAll = 0;
  #failed = 0;
  /** Counted replicas that refused the write for its timestamp (replica-protocol.ts clock_offset). */
  #clockRefused = 0;
  /** Outstanding operations, and those of counted replicas. */
  #pending = 0;
  #pendingCounted = 0;
  /** The client has its answer. */
  #answered = false;
  /** Every replica settled or the deadline passed; nothing more is counted. */
  #finished = false;
  #cancelTimer: (() => void) | null = null;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly key: string,
    private readonly record: StoredRecord,
    private readonly required: number,
    private readonly replicas: readonly NodeId[],
    /** The first `counted` replicas are the current ones; the rest are pending (a ring change). */
    private readonly counted: number,
    private readonly resolve: (outcome: WriteOutcome) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.#states = new Uint8Array(replicas.length);
  }

  start(encoded: Buffer): void {
    const { deps, self } = this.coordinator;
    const { key, record } = this;
    for (let index = 0; index < this.replicas.length; index++) {
      const replica = this.replicas[index] as NodeId;
      if (replica === self) {
        this.#pending++;
        if (index < this.counted) this.#pendingCounted++;
        deps.store.apply([{ key, record, encoded }]).then(
          () => this.acknowledge(index),
          () => this.fail(index),
        );
      } else if (deps.cluster.isLive(replica)) {
        this.#pending++;
        if (index < this.counted) this.#pendingCounted++;
        deps.transport.write(replica, key, encoded).then(
          () => this.acknowledge(index),
          (error: unknown) => this.fail(index, isClockRefusal(error)),
        );
      } else {
        this.#states[index] = ReplicaState.Down;
      }
    }
    assert(this.#pendingCounted >= this.required, "a write was started with fewer live replicas than required");
    this.#cancelTimer = this.coordinator.schedule(this);
  }

  acknowledge(index: number): void {
    if (this.#finished) return;
    this.#states[index] = ReplicaState.Acknowledged;
    this.#acknowledgedAll++;
    this.#pending--;
    if (index >= this.counted) {
      // A pending replica: acknowledged, but not part of the level's count.
      if (this.#pending === 0) this.finish();
      return;
    }
    this.#acknowledged++;
    this.#pendingCounted--;
    if (!this.#answered && this.#acknowledged >= this.required) {
      this.#answered = true;
      this.resolve({ timestampUs: this.record.timestampUs, acknowledged: this.#acknowledged });
    }
    if (this.#pending === 0) this.finish();
  }

  fail(index: number, clockRefused = false): void {
    if (this.#finished) return;
    this.#states[index] = ReplicaState.Failed;
    this.#failed++;
    if (clockRefused && index < this.counted) this.#clockRefused++;
    this.#pending--;
    if (index < this.counted) this.#pendingCounted--;
    this.coordinator.countReplicaFailure(this.replicas[index] as NodeId);
    if (!this.#answered && this.#acknowledged + this.#pendingCounted < this.required) {
      // The level can no longer be reached: waiting for the deadline would tell the client nothing new.
      this.#answered = true;
      this.reject(this.#failure());
    }
    if (this.#pending === 0) this.finish();
  }

  /** Why the level was not reached: replicas refusing the stamp say more than a count of failures. */
  #failure(): Error {
    if (this.#clockRefused === 0) return this.coordinator.timedOut(this.required, this.#acknowledged, this.#failed);
    this.coordinator.deps.onClockRefusal?.({ key: this.key, timestampUs: this.record.timestampUs, reason: "replicas-refused" });
    return this.coordinator.clockRefused(
      `${this.#clockRefused} replicas refused the write: its timestamp is further ahead of their clocks than the allowed clock offset (this node's clock is likely ahead); ${this.#acknowledged} of ${this.required} required replicas acknowledged`,
      { required: this.required, acknowledged: this.#acknowledged },
    );
  }

  expire(): void {
    this.#cancelTimer = null;
    if (this.#finished) return;
    for (let index = 0; index < this.#states.length; index++) {
      if (this.#states[index] !== ReplicaState.Pending) continue;
      this.#states[index] = ReplicaState.TimedOut;
      this.coordinator.countReplicaTimeout(this.replicas[index] as NodeId);
    }
    if (!this.#answered) {
      this.#answered = true;
      this.reject(this.#failure());
    }
    this.finish();
  }

  private finish(): void {
    this.#finished = true;
    if (this.#cancelTimer !== null) {
      this.#cancelTimer();
      this.#cancelTimer = null;
    }
    this.coordinator.finished();
    const onMiss = this.coordinator.deps.onReplicaMiss;
    if (onMiss === undefined || this.#acknowledgedAll === this.replicas.length) return;
    const missed: { replica: NodeId; reason: ReplicaMissReason }[] = [];
    for (let index = 0; index < this.#states.length; index++) {
      const state = this.#states[index];
      if (state === ReplicaState.Acknowledged) continue;
      const reason = state === ReplicaState.Down ? "down" : state === ReplicaState.Failed ? "failed" : "timeout";
      missed.push({ replica: this.replicas[index] as NodeId, reason });
    }
    onMiss({ key: this.key, record: this.record, missed });
  }
}

/** What a replica is asked for in a read: its record, or only its version. */
const ReadMode = { Data: 0, Digest: 1 } as const;
type ReadMode = (typeof ReadMode)[keyof typeof ReadMode];

/** One read: who was asked for what, the versions seen, the newest record in hand. */
class ReadRound {
  /** Replicas asked, in order; parallel arrays hold how and in what state. */
  readonly #asked: NodeId[] = [];
  readonly #askedMode: ReadMode[] = [];
  readonly #askedState: ReplicaState[] = [];
  /** Replicas that answered, with the version each answered last. */
  readonly #answeredIds: NodeId[] = [];
  readonly #answeredVersions: (VersionDigest | null)[] = [];
  #nextCandidate = 0;
  #pending = 0;
  #failed = 0;
  #best: StoredRecord | undefined = undefined;
  #hasData = false;
  #settled = false;
  #cancelTimer: (() => void) | null = null;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly key: string,
    private readonly required: number,
    private readonly candidates: readonly NodeId[],
    private readonly resolve: (outcome: ReadOutcome) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  start(): void {
    // Data from the first (the local replica when there is one), digests from the rest.
    this.askNext(ReadMode.Data);
    for (let count = 1; count < this.required; count++) this.askNext(ReadMode.Digest);
    this.#cancelTimer = this.coordinator.schedule(this);
  }

  expire(): void {
    this.#cancelTimer = null;
    if (this.#settled) return;
    for (let index = 0; index < this.#asked.length; index++) {
      if (this.#askedState[index] === ReplicaState.Pending) {
        this.#askedState[index] = ReplicaState.TimedOut;
        this.coordinator.countReplicaTimeout(this.#asked[index] as NodeId);
      }
    }
    this.settle(this.coordinator.timedOut(this.required, this.#answeredIds.length, this.#failed));
  }

  /** Asks the next candidate not asked yet; false when none is left. */
  private askNext(mode: ReadMode): boolean {
    const candidate = this.candidates[this.#nextCandidate];
    if (candidate === undefined) return false;
    this.#nextCandidate++;
    this.ask(candidate, mode);
    return true;
  }

  private ask(replica: NodeId, mode: ReadMode): void {
    const index = this.#asked.length;
    this.#asked.push(replica);
    this.#askedMode.push(mode);
    this.#askedState.push(ReplicaState.Pending);
    this.#pending++;
    const { deps, self } = this.coordinator;
    if (mode === ReadMode.Data) {
      const read = replica === self ? deps.store.get(this.key) : deps.transport.readData(replica, this.key);
      read.then(
        (record) => this.onData(index, record),
        () => this.onFailure(index),
      );
    } else {
      deps.transport.readDigest(replica, this.key).then(
        (digest) => this.onDigest(index, digest),
        () => this.onFailure(index),
      );
    }
  }

  private onData(index: number, record: StoredRecord | undefined): void {
    if (this.#settled) return;
    this.#askedState[index] = ReplicaState.Acknowledged;
    this.#pending--;
    this.#hasData = true;
    if (record !== undefined && (this.#best === undefined || compareRecords(record, this.#best) > 0)) this.#best = record;
    this.noteVersion(this.#asked[index] as NodeId, digestOf(record));
    this.evaluate();
  }

  private onDigest(index: number, digest: VersionDigest | null): void {
    if (this.#settled) return;
    this.#askedState[index] = ReplicaState.Acknowledged;
    this.#pending--;
    this.noteVersion(this.#asked[index] as NodeId, digest);
    this.evaluate();
  }

  private onFailure(index: number): void {
    if (this.#settled) return;
    this.#askedState[index] = ReplicaState.Failed;
    this.#pending--;
    this.#failed++;
    this.coordinator.countReplicaFailure(this.#asked[index] as NodeId);
    // A replica that failed is replaced by the next live one, in the same role.
    this.askNext(this.#askedMode[index] as ReadMode);
    this.evaluate();
  }

  private noteVersion(replica: NodeId, version: VersionDigest | null): void {
    const at = this.#answeredIds.indexOf(replica);
    if (at < 0) {
      this.#answeredIds.push(replica);
      this.#answeredVersions.push(version);
    } else if (compareDigests(version, this.#answeredVersions[at] ?? null) > 0) {
      // A replica fetched for data may have taken a newer write since its digest.
      this.#answeredVersions[at] = version;
    }
  }

  private newestVersion(): VersionDigest | null {
    let newest: VersionDigest | null = null;
    for (const version of this.#answeredVersions) if (compareDigests(version, newest) > 0) newest = version;
    return newest;
  }

  private evaluate(): void {
    if (this.#settled) return;
    const answered = this.#answeredIds.length;
    if (answered < this.required) {
      // Failed replicas were already replaced; wait while the level can still be reached.
      if (answered + this.#pending < this.required) {
        this.settle(this.coordinator.timedOut(this.required, answered, this.#failed));
      }
      return;
    }
    const newest = this.newestVersion();
    const bestVersion = digestOf(this.#best);
    if (newest === null || (this.#hasData && compareDigests(bestVersion, newest) >= 0)) {
      this.succeed(newest);
      return;
    }
    // Some replica claimed a newer version than the data in hand: fetch it from those replicas.
    let fetching = false;
    for (let at = 0; at < answered; at++) {
      if (compareDigests(this.#answeredVersions[at] ?? null, bestVersion) <= 0) continue;
      const replica = this.#answeredIds[at] as NodeId;
      if (this.askedForData(replica)) {
        fetching ||= this.dataPendingFrom(replica);
        continue;
      }
      this.ask(replica, ReadMode.Data);
      fetching = true;
    }
    if (fetching || this.#pending > 0) return;
    // Every replica that claimed the newer version failed to hand it over: try one not asked yet.
    // Answering with an older version instead could hide an acknowledged write.
    if (this.askNext(ReadMode.Data)) return;
    this.settle(this.coordinator.timedOut(this.required, answered, this.#failed));
  }

  private askedForData(replica: NodeId): boolean {
    for (let index = 0; index < this.#asked.length; index++) {
      if (this.#asked[index] === replica && this.#askedMode[index] === ReadMode.Data) return true;
    }
    return false;
  }

  private dataPendingFrom(replica: NodeId): boolean {
    for (let index = 0; index < this.#asked.length; index++) {
      if (
        this.#asked[index] === replica &&
        this.#askedMode[index] === ReadMode.Data &&
        this.#askedState[index] === ReplicaState.Pending
      ) {
        return true;
      }
    }
    return false;
  }

  private succeed(newest: VersionDigest | null): void {
    let stale: NodeId[] | null = null;
    for (let at = 0; at < this.#answeredIds.length; at++) {
      if (compareDigests(this.#answeredVersions[at] ?? null, newest) < 0) {
        stale ??= [];
        stale.push(this.#answeredIds[at] as NodeId);
      }
    }
    const best = this.#best;
    if (best !== undefined) {
      const { hlc, wallUs } = this.coordinator.deps;
      // A version read back is a timestamp seen: later writes from here are ordered after it.
      hlc.observe(best.timestampUs, wallUs());
    }
    this.settle(null, { record: best, stale: stale ?? NO_REPLICAS, answered: this.#answeredIds.length });
  }

  private settle(error: Error | null, outcome?: ReadOutcome): void {
    this.#settled = true;
    if (this.#cancelTimer !== null) {
      this.#cancelTimer();
      this.#cancelTimer = null;
    }
    this.coordinator.finished();
    if (error !== null) this.reject(error);
    else this.resolve(outcome as ReadOutcome);
  }
}

/** The `stale` of a read whose replicas agreed: shared, frozen, allocated once. */
const NO_REPLICAS: readonly NodeId[] = Object.freeze([]);
