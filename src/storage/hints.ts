// storage/hints.ts — the hints a coordinator keeps for replicas that missed a write, in the node's
// one LevelDB (the `h` namespace of layout.ts), so they survive the coordinator's restart.
//
// Theory of operation (Dynamo §4.6, Cassandra's hints). A hint is (target, key, encoded record,
// created time). Its storage key (hint-codec.ts) orders hints by (target, sequence): one target's
// hints are one contiguous scan, oldest first. The sequence grows across restarts: at open the
// store scans the namespace once, which also rebuilds the per-target totals (count, bytes) the
// byte bound needs, so the bound holds after a restart without a stored counter that could drift.
//
// Writes and deletes go through the LevelStore's single write lane (store.ts), so a hint batch is
// ordered with the data batches and is as durable as they are (`--sync`). Appends that arrive in
// one event-loop turn form one batch (one fsync with sync on), like data writes.
//
// Held hints (hint before acknowledgement, replication/write-round.ts). A coordinator may commit a
// hint for each replica that has not acknowledged a write yet before it answers the client, so a
// crash right after the answer loses no hint; most such replicas answer a moment later and the hint
// is withdrawn. hold() stores such a hint: it joins the turn's batch like an append, and while held
// it belongs to its write's round alone: replay and purge pass it over, and withdraw() deletes it
// (in the next turn's batch, with no read to check it is there, since nothing else deletes a held
// hint) or, when its batch has not left yet, takes it out of the batch so it is never written.
// keep() makes it an ordinary hint (the replica never answered). A restart forgets which hints
// were held: they come back as ordinary hints and are replayed, which is what a crash needs.
//
// Limits, and what happens at each: a hint larger than hintBytesMax is refused ("size"); a hint
// that would take its target past hintBytesPerTargetMax is refused ("bytes"): new hints are dropped
// and counted, old ones kept, and memory never grows with pending hints (only the per-target totals
// are held). Both decisions are taken synchronously at append, so concurrent appends cannot
// overshoot. Scans are bounded by their `limit`.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import { RECORD_BYTES_MAX } from "../core/limits.js";
import {
  decodeHint,
  decodeHintKey,
  encodeHintKey,
  encodeHintValue,
  targetBounds,
} from "./hint-codec.js";
import { LAYOUT_LIMITS, namespaceBounds } from "./layout.js";

/** A hint's storage key (target ≤ 255 bytes, sequence) and its msgpack envelope, generously. */
const HINT_FRAMING_BYTES_MAX = 1024;

export const HINT_STORE_DEFAULTS = {
  /**
   * Pending hint bytes per target: 128 MiB is about an hour of a busy replica's writes at 1 KiB
   * each.
   */
  hintBytesPerTargetMax: 128 * 1024 * 1024,
  /**
   * One hint: the largest record a node may be configured to take (--max-value-bytes up to
   * VALUE_BYTES_MAX, plus framing), its key, and the hint's own key and framing. Any smaller bound
   * would drop the hint of every write of a large value that a replica missed, acknowledged or not.
   */
  hintBytesMax: RECORD_BYTES_MAX + LAYOUT_LIMITS.keyBytesMax + HINT_FRAMING_BYTES_MAX,
  /** Hints read per scan when the caller names no limit. */
  scanLimitDefault: 256,
  /** Appends committed per LevelDB batch. */
  appendsPerBatchMax: 1_024,
} as const;

export interface HintStoreOptions {
  /** SPEC §1 --sync: hints are as durable as data writes. */
  readonly sync: boolean;
  readonly hintBytesPerTargetMax?: number;
  readonly hintBytesMax?: number;
}

/** A hint to store: the record `target` missed. */
export interface NewHint {
  readonly target: NodeId;
  readonly key: string;
  /** encodeRecord bytes, as the ReplicaTransport sends them. */
  readonly encodedRecord: Uint8Array;
  /** Wall-clock milliseconds: the hint window is measured against it, across restarts. */
  readonly createdMs: number;
}

/** A stored hint, as a scan returns it. */
export interface StoredHint extends NewHint {
  /** Creation order among all hints of this store. */
  readonly sequence: number;
  /** Bytes it occupies (storage key and value), as counted against the per-target bound. */
  readonly bytes: number;
}

export type HintAppendOutcome = "stored" | "dropped-bytes" | "dropped-size";

/**
 * How a held hint ended up: an append's outcome, "withdrawn" before its batch left, or "failed" (a
 * storage error).
 */
export type HeldHintOutcome = HintAppendOutcome | "withdrawn" | "failed";

/** A hint held for a write in flight (see the header); hold() returns it. */
export interface HeldHint {
  /**
   * Settles once the hint is committed, refused, withdrawn before its batch left, or failed; never
   * rejects.
   */
  readonly stored: Promise<HeldHintOutcome>;
  /**
   * Its target acknowledged the write: the hint goes (is never written, when its batch has not
   * left).
   */
  withdraw(): void;
  /**
   * Its target did not acknowledge: an ordinary hint from now on, replayed and purged like any
   * other.
   */
  keep(): void;
}

export interface PendingHints {
  readonly count: number;
  readonly bytes: number;
}

/** The hint storage port; HintStore implements it over LevelDB, tests may fake it. */
export interface Hints {
  /**
   * Stores a hint durably; resolves with "stored" once committed, or at once with why it was
   * dropped.
   */
  append(hint: NewHint): Promise<HintAppendOutcome>;
  /** The oldest `limit` hints for `target`, oldest first. */
  scan(target: NodeId, limit?: number): Promise<StoredHint[]>;
  /** Deletes these hints (those already gone are ignored). */
  delete(hints: readonly StoredHint[]): Promise<void>;
  /** Deletes every hint created before `cutoffMs`; resolves with how many were deleted. */
  purgeCreatedBefore(cutoffMs: number): Promise<number>;
  /** Hints pending per target (targets with none are absent). */
  pending(): ReadonlyMap<NodeId, PendingHints>;
  /** Stores a hint its write's round may still withdraw (see the header). */
  hold(hint: NewHint): HeldHint;
  /** Whether a scanned hint is still held: replay leaves it to its round. */
  isHeld(hint: StoredHint): boolean;
}

/** The slice of a Level database hints need; store.ts hands its own over. */
export interface HintDatabase {
  batch(
    operations: ({ type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer })[],
    options: { sync: boolean },
  ): Promise<void>;
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  iterator(options: { gte: Buffer; lt: Buffer; limit?: number }): {
    nextv(size: number): Promise<[Buffer, Buffer][]>;
    close(): Promise<void>;
  };
}

/** Runs a task in the store's single write lane. */
export type Lane = <T>(task: () => Promise<T>) => Promise<T>;

interface QueuedAppend {
  readonly storageKey: Buffer;
  readonly value: Buffer;
  readonly resolve: (outcome: HintAppendOutcome) => void;
  readonly reject: (error: unknown) => void;
  /** Withdrawn (held hints only) before its batch left: not written. */
  withdrawn: boolean;
  /** Its batch is being written: a withdrawal now needs a delete. */
  writing: boolean;
  /** Its batch failed: it was never stored (and its bytes were uncounted). */
  failed: boolean;
}

/** A held hint's delete, queued for the next batch; its bytes are uncounted once committed. */
interface QueuedDelete {
  readonly storageKey: Buffer;
  readonly target: NodeId;
  readonly bytes: number;
  readonly sequence: number;
  /** The append that wrote it: if that batch failed there is nothing to delete. */
  readonly append: QueuedAppend;
}

/** Where a held hint is: queued (its batch not left), written (or being written), or done with. */
const HeldState = { Queued: 0, Written: 1, Done: 2 } as const;
type HeldState = (typeof HeldState)[keyof typeof HeldState];

export class HintStore implements Hints {
  readonly #db: HintDatabase;
  readonly #lane: Lane;
  readonly #sync: boolean;
  readonly #bytesPerTargetMax: number;
  readonly #hintBytesMax: number;
  readonly #pending = new Map<NodeId, { count: number; bytes: number }>();
  #nextSequence: number;
  #queue: QueuedAppend[] = [];
  #deletes: QueuedDelete[] = [];
  /** Sequences of the hints held now (hold() to withdraw() or keep()). */
  readonly #held = new Set<number>();
  #flushScheduled = false;

  private constructor(
    db: HintDatabase,
    lane: Lane,
    options: HintStoreOptions,
    nextSequence: number,
  ) {
    this.#db = db;
    this.#lane = lane;
    this.#sync = options.sync;
    this.#bytesPerTargetMax =
      options.hintBytesPerTargetMax ?? HINT_STORE_DEFAULTS.hintBytesPerTargetMax;
    this.#hintBytesMax = options.hintBytesMax ?? HINT_STORE_DEFAULTS.hintBytesMax;
    assert(
      Number.isSafeInteger(this.#bytesPerTargetMax) && this.#bytesPerTargetMax >= 1,
      "hintBytesPerTargetMax >= 1",
    );
    assert(
      Number.isSafeInteger(this.#hintBytesMax) && this.#hintBytesMax >= 1,
      "hintBytesMax >= 1",
    );
    this.#nextSequence = nextSequence;
  }

  /**
   * Opens the hints of `db`, rebuilding the per-target totals and the next sequence from one scan.
   */
  static async open(db: HintDatabase, lane: Lane, options: HintStoreOptions): Promise<HintStore> {
    const bounds = namespaceBounds("hints");
    const iterator = db.iterator({ gte: bounds.gte, lt: bounds.lt });
    const totals = new Map<NodeId, { count: number; bytes: number }>();
    let nextSequence = 0;
    try {
      for (;;) {
        const entries = await iterator.nextv(HINT_STORE_DEFAULTS.scanLimitDefault);
        if (entries.length === 0) break;
        for (const [storageKey, value] of entries) {
          const { target, sequence } = decodeHintKey(storageKey);
          const total = totals.get(target) ?? { count: 0, bytes: 0 };
          total.count += 1;
          total.bytes += storageKey.length + value.length;
          totals.set(target, total);
          nextSequence = Math.max(nextSequence, sequence + 1);
        }
      }
    } finally {
      await iterator.close();
    }
    const store = new HintStore(db, lane, options, nextSequence);
    for (const [target, total] of totals) store.#pending.set(target, total);
    return store;
  }

  append(hint: NewHint): Promise<HintAppendOutcome> {
    const admitted = this.#admit(hint);
    if (typeof admitted === "string") return Promise.resolve(admitted);
    return new Promise<HintAppendOutcome>((resolve, reject) => {
      this.#queue.push({
        storageKey: admitted.storageKey,
        value: admitted.value,
        resolve,
        reject,
        withdrawn: false,
        writing: false,
        failed: false,
      });
      this.#scheduleFlush();
    });
  }

  hold(hint: NewHint): HeldHint {
    const admitted = this.#admit(hint);
    if (typeof admitted === "string")
      return {
        stored: Promise.resolve(admitted),
        withdraw: () => undefined,
        keep: () => undefined,
      };
    const { storageKey, value, sequence } = admitted;
    const bytes = storageKey.length + value.length;
    let state: HeldState = HeldState.Queued;
    let settle: (outcome: HeldHintOutcome) => void = () => undefined;
    const stored = new Promise<HeldHintOutcome>((resolve) => {
      settle = resolve;
    });
    const queued: QueuedAppend = {
      storageKey,
      value,
      withdrawn: false,
      writing: false,
      failed: false,
      resolve: (outcome) => {
        if (state === HeldState.Queued) state = HeldState.Written;
        settle(outcome);
      },
      reject: () => {
        // The batch failed: the hint is not stored (its bytes were uncounted) and nothing is left
        // to withdraw.
        state = HeldState.Done;
        this.#held.delete(sequence);
        settle("failed");
      },
    };
    this.#held.add(sequence);
    this.#queue.push(queued);
    this.#scheduleFlush();
    return {
      stored,
      withdraw: () => {
        if (state === HeldState.Done) return;
        if (state === HeldState.Queued && !queued.writing) {
          // Its batch has not left: it is never written.
          queued.withdrawn = true;
          this.#uncount(hint.target, bytes);
          settle("withdrawn");
          this.#held.delete(sequence);
        } else {
          // Still held until the delete commits, so no purge or replay deletes it meanwhile.
          this.#deletes.push({ storageKey, target: hint.target, bytes, sequence, append: queued });
          this.#scheduleFlush();
        }
        state = HeldState.Done;
      },
      keep: () => {
        if (state === HeldState.Done) return;
        state = HeldState.Done;
        this.#held.delete(sequence);
      },
    };
  }

  isHeld(hint: StoredHint): boolean {
    return this.#held.has(hint.sequence);
  }

  async scan(
    target: NodeId,
    limit: number = HINT_STORE_DEFAULTS.scanLimitDefault,
  ): Promise<StoredHint[]> {
    assert(Number.isSafeInteger(limit) && limit >= 1, "a hint scan limit is a positive integer");
    const bounds = targetBounds(target);
    const iterator = this.#db.iterator({ gte: bounds.gte, lt: bounds.lt, limit });
    const hints: StoredHint[] = [];
    try {
      while (hints.length < limit) {
        const entries = await iterator.nextv(limit - hints.length);
        if (entries.length === 0) break;
        for (const [storageKey, value] of entries) hints.push(decodeHint(storageKey, value));
      }
    } finally {
      await iterator.close();
    }
    return hints;
  }

  delete(hints: readonly StoredHint[]): Promise<void> {
    if (hints.length === 0) return Promise.resolve();
    return this.#lane(async () => {
      // Deduplicated so a hint deleted twice (two replays racing) is not uncounted twice.
      const unique = new Map<string, StoredHint>();
      for (const hint of hints) unique.set(`${hint.target}\u0000${hint.sequence}`, hint);
      const keys = [...unique.values()].map((hint) => encodeHintKey(hint.target, hint.sequence));
      const present = await this.#present(keys);
      const operations: { type: "del"; key: Buffer }[] = [];
      const gone: StoredHint[] = [];
      [...unique.values()].forEach((hint, index) => {
        if (!present[index]) return;
        operations.push({ type: "del", key: keys[index] as Buffer });
        gone.push(hint);
      });
      if (operations.length === 0) return;
      await this.#db.batch(operations, { sync: this.#sync });
      for (const hint of gone) this.#uncount(hint.target, hint.bytes);
    });
  }

  async purgeCreatedBefore(cutoffMs: number): Promise<number> {
    let purged = 0;
    for (const target of [...this.#pending.keys()]) {
      // Oldest first: the scan stops at the first hint young enough to keep.
      for (;;) {
        const batch = await this.scan(target, HINT_STORE_DEFAULTS.scanLimitDefault);
        // A held hint is its write's round's to delete or keep; a later purge takes it if kept.
        const expired = batch.filter(
          (hint) => hint.createdMs < cutoffMs && !this.#held.has(hint.sequence),
        );
        if (expired.length > 0) {
          await this.delete(expired);
          purged += expired.length;
        }
        if (expired.length < batch.length || batch.length < HINT_STORE_DEFAULTS.scanLimitDefault)
          break;
      }
    }
    return purged;
  }

  pending(): ReadonlyMap<NodeId, PendingHints> {
    return this.#pending;
  }

  /** The bounds this store enforces, for a checker of its invariant (the simulator's). */
  limits(): { readonly bytesPerTargetMax: number; readonly hintBytesMax: number } {
    return { bytesPerTargetMax: this.#bytesPerTargetMax, hintBytesMax: this.#hintBytesMax };
  }

  /**
   * Commits appends and held hints' deletes still queued; store.ts calls it before closing the
   * database.
   */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#deletes.length > 0) await this.#commitQueued();
  }

  /** Takes a sequence and counts the hint against its target, or says why it is dropped. */
  #admit(
    hint: NewHint,
  ): { storageKey: Buffer; value: Buffer; sequence: number } | HintAppendOutcome {
    const sequence = this.#nextSequence;
    const storageKey = encodeHintKey(hint.target, sequence);
    const value = encodeHintValue(hint);
    const bytes = storageKey.length + value.length;
    if (bytes > this.#hintBytesMax) return "dropped-size";
    const total = this.#pending.get(hint.target) ?? { count: 0, bytes: 0 };
    if (total.bytes + bytes > this.#bytesPerTargetMax) return "dropped-bytes";
    // Counted at admission, so appends racing in one turn cannot pass the bound together.
    this.#nextSequence += 1;
    total.count += 1;
    total.bytes += bytes;
    this.#pending.set(hint.target, total);
    return { storageKey, value, sequence };
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // After this event-loop turn, so every hint of the turn joins one batch (one fsync).
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#commitQueued();
    });
  }

  #commitQueued(): Promise<void> {
    const batch = this.#queue.splice(0, HINT_STORE_DEFAULTS.appendsPerBatchMax);
    const queuedDeletes = this.#deletes.splice(0, HINT_STORE_DEFAULTS.appendsPerBatchMax);
    if (this.#queue.length > 0 || this.#deletes.length > 0) this.#scheduleFlush();
    if (batch.length === 0 && queuedDeletes.length === 0) return Promise.resolve();
    return this.#lane(async () => {
      // The lane is serial: every append a delete names has committed or failed by now.
      const deletes = queuedDeletes.filter((held) => !held.append.failed);
      for (const held of queuedDeletes) if (held.append.failed) this.#held.delete(held.sequence);
      // Held hints withdrawn while the batch waited for the lane are left out; the rest can no
      // longer be.
      const appends = batch.filter((append) => !append.withdrawn);
      for (const append of appends) append.writing = true;
      if (appends.length === 0 && deletes.length === 0) return;
      const operations: (
        { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer }
      )[] = [];
      for (const append of appends)
        operations.push({ type: "put", key: append.storageKey, value: append.value });
      for (const held of deletes) operations.push({ type: "del", key: held.storageKey });
      try {
        await this.#db.batch(operations, { sync: this.#sync });
      } catch (error) {
        for (const append of appends) {
          const { target } = decodeHintKey(append.storageKey);
          this.#uncount(target, append.storageKey.length + append.value.length);
          append.failed = true;
          append.reject(error);
        }
        // A withdrawn hint whose delete failed stays stored and counted, no longer held: replayed
        // later.
        for (const held of deletes) this.#held.delete(held.sequence);
        return;
      }
      for (const held of deletes) {
        this.#uncount(held.target, held.bytes);
        this.#held.delete(held.sequence);
      }
      for (const append of appends) append.resolve("stored");
    });
  }

  async #present(keys: Buffer[]): Promise<boolean[]> {
    const stored = await this.#db.getMany(keys);
    return keys.map((_, index) => stored[index] !== undefined);
  }

  #uncount(target: NodeId, bytes: number): void {
    const total = this.#pending.get(target);
    assert(
      total !== undefined && total.count >= 1 && total.bytes >= bytes,
      "hint totals went negative",
    );
    total.count -= 1;
    total.bytes -= bytes;
    if (total.count === 0) this.#pending.delete(target);
  }
}
