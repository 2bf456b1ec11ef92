// replication/hinted-handoff.ts — keeps the writes a replica missed and hands them over when it
// returns.
//
// Theory of operation (Dynamo §4.6; Cassandra's HintsService). The coordinator reports each write
// that some replica did not acknowledge (coordinator.ts onReplicaMiss: down, failed or timed out).
// For each such replica this module stores a hint — (target, key, encoded record, created time) —
// durably in the coordinator's own LevelDB (storage/hints.ts), so a coordinator restart loses none.
// When the target is seen live again (a member-up event, or the periodic check on the tick, since
// an up event can be missed across a restart), its hints are replayed oldest first through the same
// ReplicaTransport the coordinator writes with. A hint is deleted only after the target
// acknowledged it; the first failure stops the replay (the target is likely gone again) and the
// periodic check retries later. Replaying a hint twice is harmless: the replica merges by
// last-write-wins. One refusal does not stop the replay: a replica refusing a hint's record for its
// timestamp (`clock_offset`: stamped further ahead of the replica's clock than allowed, issue 14
// §2) will refuse it on every retry, so that hint is deleted and counted (dropped, reason clock)
// and the replay goes on; otherwise one record from the future would hold every later hint for its
// target back for good.
//
// Bounds, and what happens at each. Replay is paced to replayRecordsPerSecondMax hint writes per
// second across all targets, with at most replayConcurrencyMax in flight, so a replica's return
// never starves client traffic; paced writes leave together on replayPaceQuantumMs boundaries, so
// the replica client coalesces them into one request per quantum instead of one per hint. One
// replay run handles at most the hints pending when it started, read replayBatchSize at a time, so
// hints arriving meanwhile cannot keep a run going forever. Hints older than the hint window
// (--hint-window-s) are dropped at replay and by the periodic purge and counted: anti-entropy
// repairs those keys. The byte bound per target and the size bound per hint are the storage's
// (hints.ts): past them new hints are dropped and counted. `--hinted-handoff off` stores no hints
// (and replays those left from before, which cost nothing to keep correct).
//
// Hint before acknowledgement (--hint-before-ack, issue 21 §4). With it the coordinator does not
// wait for the write to settle: when the level is reached and some replicas have not acknowledged,
// cover() holds a hint for each of them (storage/hints.ts hold()), committed in the turn's hint
// batch before the client is answered; a replica that then acknowledges withdraws its hint (never
// written when its batch had not left yet, else deleted in the next batch), and the hints of
// replicas that never do stay as ordinary hints. Held hints are their round's: replay and purge
// pass them over.
//
// This module owns hints: every writer of a hint (the coordinator's misses and covers, read
// repair's misses, and the sloppy quorum's fallback replicas when they come) goes through it, and
// nothing else holds the hint store (node/build-replication.ts hands it here only).
//
// Time: `clock` (monotonic) paces replay and schedules the housekeeping on the node's tick;
// `wallMs` stamps hints and measures the window, because a hint's age must survive a restart.

import { assert } from "../core/assert.js";
import type { Clock } from "../core/clock.js";
import type { NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import { encodeRecord } from "../storage/record.js";
import type {
  HeldHint,
  HeldHintOutcome,
  Hints,
  PendingHints,
  StoredHint,
} from "../storage/hints.js";
import type { AckCover, ReplicaMiss } from "./coordinator.js";
import { isClockRefusal, type ReplicaTransport } from "./replica-transport.js";

export const HINTED_HANDOFF_DEFAULTS = {
  /**
   * Hint writes per second across all targets: an upper bound; the quantum and concurrency below
   * bind first.
   */
  replayRecordsPerSecondMax: 2_000,
  /**
   * Hint writes in flight at once; the replica client coalesces them into few requests. With the
   * quantum below, at most this many leave per quantum: 32 per 20 ms caps replay near 1,600/s, and
   * measured 10k hints in ~11 s with client p99 ×1.2-1.3 on two cores (bench/hint-replay.ts).
   */
  replayConcurrencyMax: 32,
  /**
   * Paced hint writes are released on boundaries of this many milliseconds, so the ones due within
   * one quantum leave in one event-loop turn and the replica client sends them as one request:
   * spacing them 1000/rate ms apart would cost the returning replica one HTTP request per hint
   * (measured in bench/hint-replay.ts: client p99 ×2.5 during replay without this, at the same
   * rate).
   */
  replayPaceQuantumMs: 20,
  /** Hints read from storage per scan during replay. */
  replayBatchSize: 256,
  /** How often live targets still holding hints get a replay (an up event may have been missed). */
  replayCheckIntervalMs: 10_000,
  /** How often hints past the window are purged from storage. */
  purgeIntervalMs: 60_000,
} as const;

export interface HintedHandoffOptions {
  /** This node: it never hints itself (a failed local write is the client's error, not a miss). */
  readonly self: NodeId;
  /** SPEC §1 --hinted-handoff: when false no hint is stored. */
  readonly enabled: boolean;
  /** SPEC §1 --hint-window-s, in milliseconds. */
  readonly hintWindowMs: number;
  readonly replayRecordsPerSecondMax?: number;
  readonly replayConcurrencyMax?: number;
  readonly replayPaceQuantumMs?: number;
  readonly replayBatchSize?: number;
  readonly replayCheckIntervalMs?: number;
  readonly purgeIntervalMs?: number;
}

export interface HintedHandoffDeps {
  readonly hints: Hints;
  readonly transport: Pick<ReplicaTransport, "write">;
  readonly cluster: Pick<ClusterEngine, "isLive">;
  /** Paces replay (nowMs, schedule) on the monotonic clock. */
  readonly clock: Clock;
  /** Wall-clock milliseconds: hints' created time and the window, across restarts. */
  readonly wallMs: () => number;
  /** A storage error: logged by the node, never thrown into the write path. */
  readonly onError?: (error: unknown, what: string) => void;
  /** A hint dropped because its target refused its record's timestamp (clock_offset). */
  readonly onFutureDropped?: (target: NodeId, key: string) => void;
}

export type HintDropReason = "window" | "bytes" | "size" | "store" | "clock";

export interface ReplayResult {
  readonly target: NodeId;
  /** Hints the target acknowledged (and that were deleted). */
  readonly replayed: number;
  /** Hints dropped because they were past the window. */
  readonly expired: number;
  /** False when a write failed or the handoff closed: hints remain for a later replay. */
  readonly complete: boolean;
}

/** A cover with nothing to commit (hints off, closed, or no target but this node). */
const NOTHING_TO_COVER: AckCover = {
  committed: Promise.resolve(),
  acknowledged: () => undefined,
  settle: () => undefined,
};

export interface HintedHandoffStats {
  readonly stored: number;
  /**
   * Hints held before an acknowledgement (cover()); most are withdrawn, the rest counted in
   * `stored`.
   */
  readonly covered: number;
  /** Held hints withdrawn because their replica acknowledged after all. */
  readonly withdrawn: number;
  readonly replayed: number;
  readonly dropped: Readonly<Record<HintDropReason, number>>;
  readonly replaysStarted: number;
  readonly replaysFailed: number;
  readonly pending: ReadonlyMap<NodeId, PendingHints>;
}

export class HintedHandoff {
  readonly #options: Required<HintedHandoffOptions>;
  readonly #deps: HintedHandoffDeps;
  readonly #replays = new Map<NodeId, Promise<ReplayResult>>();
  /** The monotonic time before which the next hint write may not start (the rate bound). */
  #nextSlotMs = Number.NEGATIVE_INFINITY;
  #nextPurgeMs: number;
  #nextReplayCheckMs: number;
  #purging: Promise<void> | null = null;
  #closed = false;
  #stored = 0;
  #covered = 0;
  #withdrawn = 0;
  #replayed = 0;
  readonly #dropped: Record<HintDropReason, number> = {
    window: 0,
    bytes: 0,
    size: 0,
    store: 0,
    clock: 0,
  };
  #replaysStarted = 0;
  #replaysFailed = 0;

  constructor(options: HintedHandoffOptions, deps: HintedHandoffDeps) {
    const d = HINTED_HANDOFF_DEFAULTS;
    this.#options = {
      self: options.self,
      enabled: options.enabled,
      hintWindowMs: options.hintWindowMs,
      replayRecordsPerSecondMax: options.replayRecordsPerSecondMax ?? d.replayRecordsPerSecondMax,
      replayConcurrencyMax: options.replayConcurrencyMax ?? d.replayConcurrencyMax,
      replayPaceQuantumMs: options.replayPaceQuantumMs ?? d.replayPaceQuantumMs,
      replayBatchSize: options.replayBatchSize ?? d.replayBatchSize,
      replayCheckIntervalMs: options.replayCheckIntervalMs ?? d.replayCheckIntervalMs,
      purgeIntervalMs: options.purgeIntervalMs ?? d.purgeIntervalMs,
    };
    const o = this.#options;
    assert(
      Number.isSafeInteger(o.hintWindowMs) && o.hintWindowMs >= 0,
      "hintWindowMs must be >= 0",
    );
    assert(o.replayRecordsPerSecondMax > 0, "replayRecordsPerSecondMax must be positive");
    for (const name of [
      "replayConcurrencyMax",
      "replayPaceQuantumMs",
      "replayBatchSize",
      "replayCheckIntervalMs",
      "purgeIntervalMs",
    ] as const) {
      assert(
        Number.isSafeInteger(o[name]) && o[name] >= 1,
        () => `${name} must be a positive integer`,
      );
    }
    this.#deps = deps;
    const nowMs = deps.clock.nowMs();
    this.#nextPurgeMs = nowMs + o.purgeIntervalMs;
    this.#nextReplayCheckMs = nowMs + o.replayCheckIntervalMs;
  }

  /**
   * The coordinator's onReplicaMiss: a hint per missed replica. Never throws into the write path.
   */
  onReplicaMiss(miss: ReplicaMiss): void {
    if (!this.#options.enabled || this.#closed) return;
    const targets = miss.missed.filter(({ replica }) => replica !== this.#options.self);
    if (targets.length === 0) return;
    const encodedRecord = encodeRecord(miss.record);
    const createdMs = this.#deps.wallMs();
    for (const { replica } of targets) {
      this.#deps.hints.append({ target: replica, key: miss.key, encodedRecord, createdMs }).then(
        (outcome) => {
          if (outcome === "stored") this.#stored++;
          else if (outcome === "dropped-bytes") this.#dropped.bytes++;
          else this.#dropped.size++;
        },
        (error: unknown) => {
          this.#dropped.store++;
          this.#deps.onError?.(error, "storing a hint");
        },
      );
    }
  }

  /**
   * Hint before acknowledgement: a held hint per replica of `replicas` other than this node, for
   * the coordinator to await before it answers (coordinator-types.ts AckCover). Never throws.
   */
  cover(key: string, encodedRecord: Uint8Array, replicas: readonly NodeId[]): AckCover {
    if (!this.#options.enabled || this.#closed) return NOTHING_TO_COVER;
    const createdMs = this.#deps.wallMs();
    const held = new Map<NodeId, HeldHint>();
    for (const target of replicas) {
      if (target !== this.#options.self)
        held.set(target, this.#deps.hints.hold({ target, key, encodedRecord, createdMs }));
    }
    if (held.size === 0) return NOTHING_TO_COVER;
    this.#covered += held.size;
    const committed = Promise.all(
      [...held.values()].map((hint) => hint.stored.then((outcome) => this.#countHeld(outcome))),
    ).then(() => undefined);
    return {
      committed,
      acknowledged: (replica) => {
        const hint = held.get(replica);
        if (hint === undefined) return;
        held.delete(replica);
        hint.withdraw();
        this.#withdrawn++;
      },
      settle: () => {
        for (const hint of held.values()) {
          hint.keep();
          void hint.stored.then((outcome) => {
            if (outcome === "stored") this.#stored++;
          });
        }
        held.clear();
      },
    };
  }

  /** A held hint's drop is counted once, as an append's would be. */
  #countHeld(outcome: HeldHintOutcome): void {
    if (outcome === "dropped-bytes") this.#dropped.bytes++;
    else if (outcome === "dropped-size") this.#dropped.size++;
    else if (outcome === "failed") {
      this.#dropped.store++;
      this.#deps.onError?.(
        new Error("the hint batch failed"),
        "storing a hint before an acknowledgement",
      );
    }
  }

  /** The cluster saw `id` live again: replay its hints now. */
  onMemberUp(id: NodeId): void {
    if (this.#deps.hints.pending().has(id)) void this.replay(id);
  }

  /** Housekeeping on the node's tick: the periodic purge and the replay check for live targets. */
  tick(nowMs: number): void {
    if (this.#closed) return;
    if (nowMs >= this.#nextPurgeMs && this.#purging === null) {
      this.#nextPurgeMs = nowMs + this.#options.purgeIntervalMs;
      this.#purging = this.purgeExpired()
        .then(
          () => undefined,
          (error: unknown) => this.#deps.onError?.(error, "purging expired hints"),
        )
        .finally(() => {
          this.#purging = null;
        });
    }
    if (nowMs >= this.#nextReplayCheckMs) {
      this.#nextReplayCheckMs = nowMs + this.#options.replayCheckIntervalMs;
      for (const target of this.#deps.hints.pending().keys()) {
        if (this.#deps.cluster.isLive(target)) void this.replay(target);
      }
    }
  }

  /** Deletes hints past the window; resolves with how many. */
  async purgeExpired(): Promise<number> {
    const purged = await this.#deps.hints.purgeCreatedBefore(
      this.#deps.wallMs() - this.#options.hintWindowMs,
    );
    this.#dropped.window += purged;
    return purged;
  }

  /**
   * Replays `target`'s hints, oldest first; one run at a time per target (a second call joins the
   * first). Never rejects: a storage error ends the run incomplete and is reported through onError.
   */
  replay(target: NodeId): Promise<ReplayResult> {
    const running = this.#replays.get(target);
    if (running !== undefined) return running;
    this.#replaysStarted++;
    const run = this.#replay(target)
      .catch((error: unknown): ReplayResult => {
        this.#deps.onError?.(error, "replaying hints");
        return { target, replayed: 0, expired: 0, complete: false };
      })
      .then((result) => {
        if (!result.complete) this.#replaysFailed++;
        return result;
      })
      .finally(() => this.#replays.delete(target));
    this.#replays.set(target, run);
    return run;
  }

  stats(): HintedHandoffStats {
    return {
      stored: this.#stored,
      covered: this.#covered,
      withdrawn: this.#withdrawn,
      replayed: this.#replayed,
      dropped: this.#dropped,
      replaysStarted: this.#replaysStarted,
      replaysFailed: this.#replaysFailed,
      pending: this.#deps.hints.pending(),
    };
  }

  /** Stops storing and replaying; resolves once running replays and purges settled. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#replays.values(), this.#purging]);
  }

  async #replay(target: NodeId): Promise<ReplayResult> {
    const { hints, transport } = this.#deps;
    const { replayBatchSize, replayConcurrencyMax, hintWindowMs } = this.#options;
    // Only the hints pending now: later ones wait for the next run.
    let budget = hints.pending().get(target)?.count ?? 0;
    let replayed = 0;
    let expired = 0;
    while (budget > 0) {
      if (this.#closed) return { target, replayed, expired, complete: false };
      const batch = await hints.scan(target, Math.min(replayBatchSize, budget));
      if (batch.length === 0) break;
      budget -= batch.length;
      const cutoffMs = this.#deps.wallMs() - hintWindowMs;
      // A held hint is its write's round's: withdrawn when the replica answers, kept when it does
      // not.
      const own = batch.filter((hint) => !hints.isHeld(hint));
      const stale = own.filter((hint) => hint.createdMs < cutoffMs);
      const due = own.filter((hint) => hint.createdMs >= cutoffMs);
      if (stale.length > 0) {
        await hints.delete(stale);
        this.#dropped.window += stale.length;
        expired += stale.length;
      }
      const acknowledged: StoredHint[] = [];
      const refused: StoredHint[] = [];
      let failed = false;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (!failed && !this.#closed && next < due.length) {
          const hint = due[next++] as StoredHint;
          await this.#pace();
          // A failure seen while waiting: leave this hint stored for the next run.
          // Other workers set `failed` while this one awaited.
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
          if (failed || this.#closed) return;
          try {
            await transport.write(target, hint.key, hint.encodedRecord);
            acknowledged.push(hint);
          } catch (error) {
            // Refused for its timestamp: it would be refused forever, so it goes (counted), the
            // replay goes on.
            if (isClockRefusal(error)) refused.push(hint);
            else failed = true;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(replayConcurrencyMax, due.length) }, worker));
      // Acknowledged hints are deleted even when a later one failed: they were delivered.
      await hints.delete(acknowledged);
      if (refused.length > 0) {
        await hints.delete(refused);
        this.#dropped.clock += refused.length;
        for (const hint of refused) this.#deps.onFutureDropped?.(target, hint.key);
      }
      replayed += acknowledged.length;
      this.#replayed += acknowledged.length;
      // Set by the workers above, which narrowing cannot see.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (failed || this.#closed) return { target, replayed, expired, complete: false };
    }
    return { target, replayed, expired, complete: true };
  }

  /** Waits for the next slot of the replay rate, shared by every target. */
  async #pace(): Promise<void> {
    const { clock } = this.#deps;
    const slotMs = 1_000 / this.#options.replayRecordsPerSecondMax;
    const nowMs = clock.nowMs();
    const startMs = Math.max(nowMs, this.#nextSlotMs);
    this.#nextSlotMs = startMs + slotMs;
    // Never before the slot (the rate holds), but on a quantum boundary (the writes coalesce).
    const quantumMs = this.#options.replayPaceQuantumMs;
    const releaseMs = startMs > nowMs ? Math.ceil(startMs / quantumMs) * quantumMs : nowMs;
    if (releaseMs > nowMs)
      await new Promise<void>((resolve) => clock.schedule(releaseMs - nowMs, resolve));
  }
}
