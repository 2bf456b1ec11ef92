// replication/write-round.ts — one coordinated write in flight: counts acknowledgements against
// the level, answers the client as soon as it is reached (or can no longer be), and reports the
// replicas that missed the write once all settled or the deadline passed (coordinator.ts, "Writes").

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { StoredRecord } from "../storage/record.js";
import type { ReplicaMissReason, WriteOutcome } from "./coordinator-types.js";
import { isClockRefusal } from "./replica-transport.js";
import { ReplicaState, type RoundHost } from "./round-host.js";

/** One write: which replicas acknowledged, when the client is answered, what to report after. */
export class WriteRound {
  readonly #states: Uint8Array;
  /** Acknowledgements of every replica, pending ones included: what `required` is measured against. */
  #acknowledged = 0;
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

  constructor(
    private readonly coordinator: RoundHost,
    private readonly key: string,
    private readonly record: StoredRecord,
    /** The level's count plus one per pending replica (coordinator.ts, "Writes during a ring change"). */
    private readonly required: number,
    /** The current replicas, then the pending ones; every acknowledgement counts alike. */
    private readonly replicas: readonly NodeId[],
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
    assert(this.#pending >= this.required, "a write was started with fewer live replicas than required");
    this.#cancelTimer = this.coordinator.schedule(this);
  }

  acknowledge(index: number): void {
    if (this.#finished) return;
    this.#states[index] = ReplicaState.Acknowledged;
    this.#acknowledged++;
    this.#pending--;
    if (!this.#answered && this.#acknowledged >= this.required) {
      this.#answered = true;
      this.resolve({ timestampUs: this.record.timestampUs, acknowledged: this.#acknowledged });
    }
    if (this.#pending === 0) this.finish();
  }

  fail(index: number, clockRefused = false): void {
    if (this.#finished) return;
    this.#states[index] = clockRefused ? ReplicaState.ClockRefused : ReplicaState.Failed;
    this.#failed++;
    if (clockRefused) this.#clockRefused++;
    this.#pending--;
    this.coordinator.countReplicaFailure(this.replicas[index] as NodeId);
    if (!this.#answered && this.#acknowledged + this.#pending < this.required) {
      // The level can no longer be reached: waiting for the deadline would tell the client nothing new.
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
    if (this.#clockRefused === 0) return this.coordinator.timedOut(this.required, this.#acknowledged, this.#failed);
    this.coordinator.deps.onClockRefusal?.({ key: this.key, timestampUs: this.record.timestampUs, reason: "replicas-refused" });
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
    if (onMiss === undefined || this.#acknowledged === this.replicas.length) return;
    // Answered 503: every replica refused the stamp, so nothing was written and nothing is owed.
    if (this.#clockRefused === this.replicas.length) return;
    const missed: { replica: NodeId; reason: ReplicaMissReason }[] = [];
    for (let index = 0; index < this.#states.length; index++) {
      const state = this.#states[index];
      // No hint for a replica that refused the stamp: replayed once the clocks agree, it would
      // deliver a write its client was told failed (the simulator, seed 392755977).
      if (state === ReplicaState.Acknowledged || state === ReplicaState.ClockRefused) continue;
      const reason = state === ReplicaState.Down ? "down" : state === ReplicaState.Failed ? "failed" : "timeout";
      missed.push({ replica: this.replicas[index] as NodeId, reason });
    }
    if (missed.length > 0) onMiss({ key: this.key, record: this.record, missed });
  }
}
