// src/sim/history/types.ts — what a history is: the operations client workers ran against a
// cluster, each with its outcome and its start and end times, and what the cluster held at the end.
// The simulator and the real-process recorder (test/support/history/recorder.ts) build one; the
// checker (checker.ts) judges it. Plain data only, so a history is written to and read from a JSON
// file unchanged. Deletes are writes of a tombstone (value null); a read that returns null either
// saw a tombstone with its timestamp (the simulator reads through the coordinator and knows it) or
// just "not found" with no timestamp (all an HTTP client sees of a 404).

/** How an operation ended, from the client's side. */
export type OpOutcome =
  /** Acknowledged: a write reached its `w`; a read answered 200 or 404. */
  | "ok"
  /**
   * Known not to have happened: a write refused before anything was sent (503, 4xx); a read
   * without an answer.
   */
  | "failed"
  /** A write that may or may not have landed: 504 timeout, a transport error, no answer in time. */
  | "indeterminate";

interface OpBase {
  /** Unique in the history, in invocation order. */
  readonly id: number;
  /** The worker that ran it (one worker runs one operation at a time). */
  readonly worker: string;
  /** The node that coordinated it. */
  readonly node: string;
  readonly key: string;
  /** The consistency level asked for: "one", "quorum", "all" or a number. */
  readonly level: string;
  /**
   * Milliseconds on the recorder's monotonic clock (the simulator's virtual one) when the request
   * was sent and when its answer (or error) came.
   */
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: OpOutcome;
  /** HTTP status, when one came back. */
  readonly status?: number;
  /** Why it failed or is indeterminate: an error code or a transport error's message. */
  readonly error?: string;
}

export interface WriteOp extends OpBase {
  readonly kind: "write";
  /**
   * The value written: unique among the writes of its key (worker and sequence), so every read
   * value has one writer (an empty value may be written once per key). Null for a DELETE: the
   * write of a tombstone.
   */
  readonly value: string | null;
  /** The version's timestamp (X-Grapevine-Timestamp, HLC microseconds) of an acknowledged write. */
  readonly timestampUs?: number;
  /**
   * A put's time to live (X-Grapevine-TTL, issue 17 §3): the value expires this long after its
   * stamp and then reads as not found (history/expiry.ts). Absent: it never expires.
   */
  readonly ttlSeconds?: number;
}

export interface ReadOp extends OpBase {
  readonly kind: "read";
  /** The value returned by an ok read; null when the key was not found or is deleted. */
  readonly value?: string | null;
  /**
   * The returned version's timestamp: with a value, or with a null value when the read saw a
   * tombstone and knows its timestamp. A null value without one is a plain "not found".
   */
  readonly timestampUs?: number;
}

export type HistoryOp = WriteOp | ReadOp;

export interface ReplicaVersion {
  readonly timestampUs: number;
  readonly writer: string;
  readonly value: string;
  readonly tombstone: boolean;
  /** A value's expiry (HLC µs) when it was written with a time to live; replicas must agree. */
  readonly expiresAtUs?: number;
}

/** One replica's own copy of a key, read from its store directly (no coordinator in between). */
export interface ReplicaCopy {
  readonly node: string;
  /** Null when the replica holds nothing for the key. A tombstone's value is not compared. */
  readonly version: ReplicaVersion | null;
}

/** Every replica's copy of one key, read after the faults healed and the cluster settled. */
export interface ReplicaState {
  readonly key: string;
  readonly copies: readonly ReplicaCopy[];
}

/** An invariant a node broke during the run (sim/run-invariants.ts): which, where and when. */
export interface InvariantBreach {
  /** Its name: "hint-bytes", "hint-storage", or the `invariant` a node logged ("stream-cursor"). */
  readonly invariant: string;
  readonly node: string;
  /** Virtual ms since the workload started (negative: during the cluster's start). */
  readonly atMs: number;
  readonly message: string;
}

/** How far the nodes' clocks may be from the recorder's, ms (expiry.ts). */
export interface ExpiryClocks {
  /** The most any node's wall clock is off the recorder's clock (either way). */
  readonly wallOffsetMaxMs: number;
  /** The most a stamp runs ahead of its coordinator's wall clock (--max-clock-offset-ms). */
  readonly stampLeadMaxMs: number;
}

/** A machine that lost power: a kill that also loses its disk's unsynced tail. */
export interface PowerLoss {
  readonly node: string;
  /** On the operations' clock (startMs, endMs). */
  readonly atMs: number;
}

/** What the nodes' disks promised, and which of them lost power when (history/power-loss.ts). */
export interface Durability {
  /** The nodes' --sync: with it on, a replica fsyncs before it acknowledges. */
  readonly sync: "on" | "off";
  readonly powerLosses: readonly PowerLoss[];
  /**
   * How long after a write reaches a disk's log the kernel has written it back, so no power loss
   * takes it (Linux's dirty_expire; the simulated disk's writebackAfterMs); null when unknown.
   */
  readonly writebackHorizonMs: number | null;
}

/**
 * A whole run: the operations during the faults, the final quorum reads from every node (also
 * operations, kept apart because the lost-write check is about them), and the replicas' final
 * copies.
 */
export interface History {
  readonly name: string;
  /** When the run started, for the file. */
  readonly startedAt: string;
  /** The workload's operations, in invocation order. */
  readonly ops: readonly HistoryOp[];
  /** Reads at r=quorum of every written key from every node, after heal and settle. */
  readonly finalReads: readonly ReadOp[];
  /** Each written key's replicas' own copies, after heal and settle. */
  readonly replicas: readonly ReplicaState[];
  /** Faults and other notes with their times, for a reader of a failed run's file. */
  readonly events: readonly { readonly atMs: number; readonly what: string }[];
  /** Invariants the nodes broke during the run; absent or empty when none did. */
  readonly invariants?: readonly InvariantBreach[];
  /** Absent: no machine lost power (or the recorder does not know). */
  readonly durability?: Durability;
  /** How far the nodes' clocks may be from the recorder's, for expiry (absent: the default). */
  readonly clocks?: ExpiryClocks;
}
