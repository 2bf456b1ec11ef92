// storage/write-lane.ts — the store's single lane: writes queue here and leave as group commits,
// and every task that changes stored data (batches, purge chunks, hint batches) runs in it one
// after another, so a read-merge-write never races another write to the same key.
//
// Write path. A replica receives many small writes. Measured here (100-byte values, ext4): an
// awaited db.put costs ~57 µs of round trip, a record in a db.batch of 64 to 1024 costs 3 to 5 µs,
// and a sync write costs an fsync (~200 µs). So writes are not written one by one: apply() queues
// them, and the writes that arrive in one event-loop turn form ONE batch, committed after the turn
// (setImmediate; batch-commit.ts). At most one batch is in flight; the next one forms while it runs
// and starts as soon as it commits. With sync on that batch is also the group commit: one fsync
// serves every writer in it (SPEC §4).
//
// Because only one batch runs at a time, the read-merge-write of a batch never races another write
// to the same key. Tombstone purges take the same single lane, chunk by chunk, and re-check each
// tombstone inside it, so a purge never deletes a version written after it looked (purge.ts).
//
// Limits, and what happens at each: a batch takes at most recordsPerBatchMax writes and
// bytesPerBatchMax encoded bytes (always at least one write, so a single large value still goes
// through alone). The queue of writes not yet in a batch is bounded by queuedWritesMax and
// queuedBytesMax: an apply() that would pass either bound is refused whole with a
// StoreOverloadedError, which the coordinator answers as 503/timeout, rather than letting memory
// and latency grow without bound. An apply() into an empty queue is always admitted, so no single
// call can be refused forever.

import { assert } from "../core/assert.js";
import type { StoredRecord } from "./record.js";
import { StoreOverloadedError } from "./store-errors.js";
import type { StoreLimits } from "./store-limits.js";
import type { ApplyResult } from "./store.js";

/** One apply() call: settles once every one of its writes is in a committed batch. */
export interface PendingApply {
  remaining: number;
  written: number;
  superseded: number;
  settled: boolean;
  readonly resolve: (result: ApplyResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface PendingWrite {
  readonly key: string;
  readonly storageKey: Buffer;
  readonly record: StoredRecord;
  readonly encoded: Buffer;
  readonly bytes: number;
  readonly owner: PendingApply;
}

/** A write of an apply() call, encoded, before it joins the queue. */
export interface EncodedWrite {
  readonly key: string;
  readonly storageKey: Buffer;
  readonly record: StoredRecord;
  readonly value: Buffer;
  readonly bytes: number;
}

export interface WriteLaneDeps {
  /** Commits one batch and settles its writers; never throws (a failure rejects the writers). */
  readonly commit: (batch: PendingWrite[]) => Promise<void>;
  /** Counts an apply() refused for a full queue. */
  readonly onOverload: () => void;
}

export class WriteLane {
  private queue: PendingWrite[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  /** The single lane: batches and purge chunks run one after another, never concurrently. */
  private laneTail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly limits: StoreLimits,
    private readonly deps: WriteLaneDeps,
  ) {}

  get queuedWrites(): number {
    return this.queue.length;
  }

  get bytesQueued(): number {
    return this.queuedBytes;
  }

  /**
   * Admits one apply() call's writes (bytes: their encoded total) or throws StoreOverloadedError.
   * Synchronous up to the queue push, so admission sees the queue as it is.
   */
  admit(encoded: readonly EncodedWrite[], bytes: number): Promise<ApplyResult> {
    if (this.queue.length > 0) {
      if (this.queue.length + encoded.length > this.limits.queuedWritesMax) {
        this.deps.onOverload();
        throw new StoreOverloadedError(
          "queuedWritesMax",
          `the store's write queue is full (${this.queue.length} of ${this.limits.queuedWritesMax} writes queued)`,
        );
      }
      if (this.queuedBytes + bytes > this.limits.queuedBytesMax) {
        this.deps.onOverload();
        throw new StoreOverloadedError(
          "queuedBytesMax",
          `the store's write queue is full (${this.queuedBytes} of ${this.limits.queuedBytesMax} bytes queued)`,
        );
      }
    }

    return new Promise<ApplyResult>((resolve, reject) => {
      const owner: PendingApply = {
        remaining: encoded.length,
        written: 0,
        superseded: 0,
        settled: false,
        resolve,
        reject,
      };
      for (const write of encoded) {
        this.queue.push({
          key: write.key,
          storageKey: write.storageKey,
          record: write.record,
          encoded: write.value,
          bytes: write.bytes,
          owner,
        });
      }
      this.queuedBytes += bytes;
      this.scheduleFlush();
    });
  }

  /** Runs the task in the lane, after every task queued before it. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.laneTail.then(task);
    this.laneTail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once the queue is empty and no batch is being drained. */
  whenIdle(): Promise<void> {
    if (!this.draining && !this.flushScheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The lane's last task, settled (never rejects). */
  tail(): Promise<unknown> {
    return this.laneTail;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.draining) return;
    this.flushScheduled = true;
    // After this event-loop turn, so every write that arrives in the turn joins the same batch.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        await this.exclusive(() => this.deps.commit(batch));
      }
    } finally {
      this.draining = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private takeBatch(): PendingWrite[] {
    let count = 0;
    let bytes = 0;
    for (const write of this.queue) {
      if (count >= this.limits.recordsPerBatchMax) break;
      if (count > 0 && bytes + write.bytes > this.limits.bytesPerBatchMax) break;
      count += 1;
      bytes += write.bytes;
    }
    assert(count > 0, "a batch takes at least one write");
    const batch = this.queue.splice(0, count);
    this.queuedBytes -= bytes;
    return batch;
  }
}
