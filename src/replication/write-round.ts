// replication/write-round.ts — one coordinated write in flight: counts acknowledgements against
// the level, answers the client as soon as it is reached (or can no longer be), and reports the
// replicas that missed the write once all settled or the deadline passed (coordinator.ts,
// "Writes").
//
// Hint before acknowledgement (issue 21 §4, `ackHints`). Without it, a replica that has not
// answered when the level is reached gets its hint only once the round ends (every replica settled,
// or the deadline): a coordinator killed in between loses that hint, and if the replica's write was
// still queued here it too, so only anti-entropy brings the write to that replica. With it,
// reaching the level first commits a hint for every replica that has not acknowledged (down, failed
// or still in flight), and only then answers; a replica acknowledging later withdraws its hint.
// This node's own replica cannot be hinted: when it is the one outstanding, the answer also waits
// for its local write (or its failure, or the deadline).

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { StoredRecord } from "../storage/record.js";
import type { AckCover, ReplicaMissReason, WriteOutcome } from "./coordinator-types.js";
import { isClockRefusal } from "./replica-transport.js";
import { ReplicaState, type RoundHost } from "./round-host.js";

/**
 * The order kept by default (issue 21 §4; without --hint-before-ack): a replica that has not
 * answered when the client is answered gets its hint when the round ends, i.e. when it fails or at
 * the latest when the round's one deadline (--request-timeout-ms) passes: at most this many request
 * deadlines after the write started, never at some later sweep. A coordinator killed inside that
 * window loses the hint (and the write to that replica, if it was still queued here); anti-entropy
 * recovers it. Committing the hint before the answer instead (--hint-before-ack) cost 17% more node
 * CPU per quorum PUT (bench/results/hint-before-ack.json), past the 5% bound.
 */
export const UNHINTED_AFTER_ACK_DEADLINES_MAX = 1;

/** One write: which replicas acknowledged, when the client is answered, what to report after. */
export class WriteRound {
  readonly #states: Uint8Array;
  /**
   * Acknowledgements of every replica, pending ones included: what `required` is measured against.
   */
  #acknowledged = 0;
  /** Acknowledgements of primaries (current and pending replicas): what `pw` counts. */
  #primaryAcknowledged = 0;
  #failed = 0;
  /** Replicas that refused the write for its timestamp (replica-protocol.ts clock_offset). */
  #clockRefused = 0;
  /** Outstanding operations. */
  #pending = 0;
  /** The client has its answer. */
  #answered = false;
  /** Every replica settled or the deadline passed; nothing more is counted. */
  #finished = false;
  #cancelTimer: (() => void) | null = null;
  #encoded: Uint8Array | null = null;
  /**
   * Hint before acknowledgement: the hints of the replicas outstanding when the level was reached.
   */
  #cover: AckCover | null = null;
  /** Which replicas the cover holds a hint for (by index). */
  #covered: Uint8Array | null = null;
  /**
   * The level was reached; the answer waits for the cover's commit and/or this node's own write.
   */
  #waitingForCover = false;
  #waitingForSelf = false;
  #succeeded = false;

  constructor(
    private readonly coordinator: RoundHost,
    private readonly key: string,
    private readonly record: StoredRecord,
    /**
     * The level's count plus one per pending replica (coordinator.ts, "Writes during a ring
     * change").
     */
    private readonly required: number,
    /**
     * The current replicas, then the pending ones, then the fallbacks (sloppy quorum); every
     * acknowledgement counts alike toward `required`.
     */
    private readonly replicas: readonly NodeId[],
    private readonly resolve: (outcome: WriteOutcome) => void,
    private readonly reject: (error: Error) => void,
    /** The acknowledgements that must be primaries' (`pw`); `required` when strict. */
    private readonly primaryRequired: number = required,
    /** The primary each fallback (the last entries of `replicas`) stands in for, in order. */
    private readonly standsFor: readonly NodeId[] = NO_FALLBACKS,
    /** Candidates not asked, in order: the next one takes over from a fallback that refused. */
    private readonly spares: NodeId[] = [],
  ) {
    this.#states = new Uint8Array(replicas.length);
    this.#primaries = replicas.length - standsFor.length;
    assert(this.#primaries >= 0, "more fallbacks than replicas");
    this.#fallbackNodes = replicas.slice(this.#primaries);
    assert(primaryRequired <= required, "pw above w");
  }

  /** How many entries of `replicas` are primaries (current or pending); the rest are fallbacks. */
  readonly #primaries: number;
  /** The node asked to stand in for each down primary now (a spare replaces one that refused). */
  readonly #fallbackNodes: NodeId[];

  start(encoded: Buffer): void {
    const { deps, self } = this.coordinator;
    const { key, record } = this;
    this.#encoded = encoded;
    for (let index = 0; index < this.replicas.length; index++) {
      const replica = this.replicas[index] as NodeId;
      // A fallback first: this node may be one, and its copy is then no data of its own.
      if (index >= this.#primaries) {
        this.#pending++;
        this.#sendFallback(index, encoded);
      } else if (replica === self) {
        this.#pending++;
        deps.store.apply([{ key, record, encoded }]).then(
          () => this.acknowledge(index),
          () => this.fail(index),
        );
      } else if (deps.cluster.isLive(replica)) {
        this.#pending++;
        deps.transport.write(replica, key, encoded).then(
          () => this.acknowledge(index),
          (error: unknown) => this.fail(index, isClockRefusal(error)),
        );
      } else {
        this.#states[index] = ReplicaState.Down;
      }
    }
    assert(
      this.#pending >= this.required,
      "a write was started with fewer live replicas than required",
    );
    this.#cancelTimer = this.coordinator.schedule(this);
  }

  /** Asks fallback `index` to hold the write for the primary it stands in for. */
  #sendFallback(index: number, encoded: Buffer): void {
    const { deps, self } = this.coordinator;
    const node = this.#fallbackNodes[index - this.#primaries] as NodeId;
    const primary = this.standsFor[index - this.#primaries] as NodeId;
    const held: Promise<unknown> | undefined =
      node === self
        ? deps.fallbacks?.store(primary, this.key, encoded).then((outcome) => {
            if (outcome !== "stored") throw new Error(`fallback copy ${outcome}`);
          })
        : deps.transport.writeFallback?.(node, primary, this.key, encoded);
    (held ?? Promise.reject(new Error("no fallback transport"))).then(
      () => this.acknowledge(index),
      (error: unknown) => this.fail(index, isClockRefusal(error)),
    );
  }

  /** Whether `required` (and `pw`) can still be reached with the replicas still pending. */
  #reachable(): boolean {
    return this.#acknowledged + this.#pending >= this.required && this.#primariesReachable();
  }

  /** Whether `pw` can still be reached with the primaries still pending. */
  #primariesReachable(): boolean {
    let primariesPending = 0;
    for (let index = 0; index < this.#primaries; index++) {
      if (this.#states[index] === ReplicaState.Pending) primariesPending++;
    }
    return this.#primaryAcknowledged + primariesPending >= this.primaryRequired;
  }

  acknowledge(index: number): void {
    if (this.#finished) return;
    this.#states[index] = ReplicaState.Acknowledged;
    this.#pending--;
    if (index < this.#primaries) this.#primaryAcknowledged++;
    if (this.#covered?.[index] === 1) this.#cover?.acknowledged(this.replicas[index] as NodeId);
    // Before the count: the answer reports the acknowledgements that reached the level.
    if (this.#waitingForSelf && this.replicas[index] === this.coordinator.self) this.#selfSettled();
    this.#acknowledged++;
    if (
      !this.#answered &&
      this.#acknowledged >= this.required &&
      this.#primaryAcknowledged >= this.primaryRequired
    )
      this.#levelReached();
    if (this.#pending === 0) this.finish();
  }

  /** The level is reached: answer now, or once the outstanding replicas' hints are committed. */
  #levelReached(): void {
    this.#answered = true;
    const ackHints = this.coordinator.deps.ackHints;
    if (ackHints === undefined) {
      this.#succeed();
      return;
    }
    const self = this.coordinator.self;
    const outstanding: NodeId[] = [];
    const covered = new Uint8Array(this.replicas.length);
    for (let index = 0; index < this.replicas.length; index++) {
      const state = this.#states[index];
      const replica = this.replicas[index] as NodeId;
      // A replica that refused the stamp gets no hint (finish() says why); a fallback gets none.
      if (state === ReplicaState.Acknowledged || state === ReplicaState.ClockRefused) continue;
      if (index >= this.#primaries) continue;
      if (replica === self) {
        this.#waitingForSelf = state === ReplicaState.Pending;
        continue;
      }
      outstanding.push(replica);
      covered[index] = 1;
    }
    if (outstanding.length === 0) {
      // Only this node's own write is outstanding (or nothing): no hint to commit.
      this.#answerIfCovered();
      return;
    }
    this.#covered = covered;
    const encoded = this.#encoded;
    assert(encoded !== null, "the level was reached before the write started");
    this.#cover = ackHints.cover(this.key, encoded, outstanding);
    this.#waitingForCover = true;
    void this.#cover.committed.then(() => {
      this.#waitingForCover = false;
      this.#answerIfCovered();
    });
  }

  #selfSettled(): void {
    if (!this.#waitingForSelf) return;
    this.#waitingForSelf = false;
    this.#answerIfCovered();
  }

  /**
   * Called when the cover commits and when this node's write settles: answers once both are done.
   */
  #answerIfCovered(): void {
    if (!this.#waitingForCover && !this.#waitingForSelf) this.#succeed();
  }

  #succeed(): void {
    if (this.#succeeded) return;
    this.#succeeded = true;
    this.resolve({ timestampUs: this.record.timestampUs, acknowledged: this.#acknowledged });
  }

  /** The node asked at `index`: a replica, or the fallback standing in now. */
  #nodeAt(index: number): NodeId {
    return (
      index < this.#primaries ? this.replicas[index] : this.#fallbackNodes[index - this.#primaries]
    ) as NodeId;
  }

  /** Asks the next spare to stand in where fallback `index` refused; false when none is left. */
  #nextFallback(index: number): boolean {
    const spare = this.spares.shift();
    const encoded = this.#encoded;
    if (spare === undefined || encoded === null) return false;
    const at = index - this.#primaries;
    this.coordinator.countReplicaFailure(this.#fallbackNodes[at] as NodeId);
    this.#fallbackNodes[at] = spare;
    this.#sendFallback(index, Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength));
    return true;
  }

  fail(index: number, clockRefused = false): void {
    if (this.#finished) return;
    // A fallback that refused (full, failed) is replaced while candidates remain; still pending.
    if (index >= this.#primaries && !clockRefused && this.#nextFallback(index)) return;
    this.#states[index] = clockRefused ? ReplicaState.ClockRefused : ReplicaState.Failed;
    this.#failed++;
    if (clockRefused) this.#clockRefused++;
    this.#pending--;
    this.coordinator.countReplicaFailure(this.#nodeAt(index));
    // This node's write failed after the level was reached: the others hold the write, answer.
    if (this.#waitingForSelf && this.replicas[index] === this.coordinator.self) this.#selfSettled();
    if (!this.#answered && !this.#reachable()) {
      // The level can no longer be reached: waiting for the deadline would tell the client nothing
      // new.
      this.#answered = true;
      this.reject(this.#failure());
    }
    if (this.#pending === 0) this.finish();
  }

  /**
   * Why the level was not reached: replicas refusing the stamp say more than a count of failures.
   * But 503 says nothing was written (SPEC §2: known before trying), so it is the answer only when
   * every replica refused the stamp; when some replica may hold the write (it acknowledged, failed
   * or did not answer), the write is indeterminate: 504, as any write short of its level. Found by
   * the simulator (seed 52404903): a write refused with 503 by two replicas whose clocks were
   * behind was stored by the third, and read back.
   */
  #failure(): Error {
    // `pw` is what cannot be met (sloppy quorum): the count the client is told is the primaries'.
    if (this.primaryRequired < this.required && !this.#primariesReachable())
      return this.coordinator.timedOut(
        this.primaryRequired,
        this.#primaryAcknowledged,
        this.#failed,
      );
    if (this.#clockRefused === 0)
      return this.coordinator.timedOut(this.required, this.#acknowledged, this.#failed);
    this.coordinator.deps.onClockRefusal?.({
      key: this.key,
      timestampUs: this.record.timestampUs,
      reason: "replicas-refused",
    });
    if (this.#clockRefused < this.replicas.length) {
      return this.coordinator.timedOut(this.required, this.#acknowledged, this.#failed);
    }
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
      this.coordinator.countReplicaTimeout(this.#nodeAt(index));
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
    // The deadline passed with this node's own write still queued: the level was met without it.
    if (this.#waitingForSelf) this.#selfSettled();
    // Hints of covered replicas that never acknowledged stay; they are not reported again below.
    this.#cover?.settle();
    const onMiss = this.coordinator.deps.onReplicaMiss;
    if (onMiss === undefined || this.#acknowledged === this.replicas.length) return;
    // Answered 503: every replica refused the stamp, so nothing was written and nothing is owed.
    if (this.#clockRefused === this.replicas.length) return;
    const missed: { replica: NodeId; reason: ReplicaMissReason }[] = [];
    for (let index = 0; index < this.#states.length; index++) {
      const state = this.#states[index];
      // No hint for a replica that refused the stamp: replayed once the clocks agree, it would
      // deliver a write its client was told failed (the simulator, seed 392755977).
      if (state === ReplicaState.Acknowledged || state === ReplicaState.ClockRefused) continue;
      if (this.#covered?.[index] === 1) continue;
      // A fallback is no replica; a down primary whose fallback holds the write is owed nothing
      // more by this node: the fallback hands it off.
      if (index >= this.#primaries || this.#heldByFallback(index)) continue;
      const reason =
        state === ReplicaState.Down ? "down" : state === ReplicaState.Failed ? "failed" : "timeout";
      missed.push({ replica: this.replicas[index] as NodeId, reason });
    }
    if (missed.length > 0) onMiss({ key: this.key, record: this.record, missed });
  }

  /** Whether the fallback standing in for primary `index` acknowledged the write. */
  #heldByFallback(index: number): boolean {
    const primary = this.replicas[index] as NodeId;
    for (let at = 0; at < this.standsFor.length; at++) {
      if (
        this.standsFor[at] === primary &&
        this.#states[this.#primaries + at] === ReplicaState.Acknowledged
      )
        return true;
    }
    return false;
  }
}

const NO_FALLBACKS: readonly NodeId[] = Object.freeze([]);
