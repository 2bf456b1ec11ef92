// node/clock-guard.ts — the node's defence against wrong clocks (issue 14 §2): the per-peer offsets
// measured from heartbeats, the fence verdict the coordinator and /ready consult, and the one place
// that counts and logs records from the future, whichever path brought them.
//
// Why here and not in time/: this is the IO shell around the pure ClockOffsetTracker. It reads the
// wall and monotonic clocks, logs, and wraps the store given to the bulk paths (streams, repair),
// so that a record stamped more than --max-clock-offset-ms ahead of this node's clock is skipped
// and counted one record at a time instead of refusing the page or batch that carried it (a stream
// must still advance; a repair must still converge on everything else).
//
// The verdict is recomputed on the node's tick (every few hundred ms), not per write: a write only
// reads a boolean. A change of verdict is logged once, at warn when fencing and info when lifting.

import type { NodeId } from "../core/ids.js";
import type { HeartbeatReply } from "../cluster/peer-messages.js";
import type { KeyedRecord } from "../storage/record.js";
import type { ApplyResult, Store } from "../storage/store.js";
import { ClockOffsetTracker, isFromTheFuture, type ClockVerdict } from "../time/clock-offset.js";

/** Where a record from the future was met. */
export const FUTURE_RECORD_PATHS = [
  "coordinator",
  "replica",
  "hint",
  "read-repair",
  "stream",
  "repair",
] as const;
export type FutureRecordPath = (typeof FUTURE_RECORD_PATHS)[number];

export const CLOCK_GUARD_LIMITS = {
  /**
   * At most one warn line per path this often: a flood of future records must not flood the log.
   */
  warnIntervalMs: 10_000,
} as const;

export interface ClockGuardLog {
  warn(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
}

export interface ClockGuardOptions {
  readonly self: NodeId;
  readonly maxClockOffsetMs: number;
}

export interface ClockGuardDeps {
  /** The wall clock in microseconds (Date.now() * 1000 in the node). */
  readonly wallUs: () => number;
  /** The monotonic clock, for ageing samples. */
  readonly nowMs: () => number;
  readonly log: ClockGuardLog;
}

/** What a future record's warn line says about it. */
export interface FutureRecordDetails {
  /** The node it came from, when known (a coordinator, a stream source, a repair peer). */
  readonly origin?: string;
  readonly key?: string;
  /** Absent when the path did not decode the record (a hint its target refused). */
  readonly timestampUs?: number;
}

export class ClockGuard {
  readonly maxOffsetUs: number;
  readonly #tracker: ClockOffsetTracker;
  readonly #deps: ClockGuardDeps;
  readonly #self: NodeId;
  #verdict: ClockVerdict;
  readonly #future = Object.fromEntries(FUTURE_RECORD_PATHS.map((path) => [path, 0])) as Record<
    FutureRecordPath,
    number
  >;
  readonly #lastWarnMs = new Map<FutureRecordPath, number>();
  readonly #unwarned = new Map<FutureRecordPath, number>();
  #fencedCount = 0;

  constructor(options: ClockGuardOptions, deps: ClockGuardDeps) {
    this.#self = options.self;
    this.maxOffsetUs = options.maxClockOffsetMs * 1000;
    this.#tracker = new ClockOffsetTracker({ maxOffsetMs: options.maxClockOffsetMs });
    this.#deps = deps;
    this.#verdict = this.#tracker.verdict(deps.nowMs());
  }

  /**
   * True while this node may coordinate writes: its clock is in range of most peers it measured.
   */
  clockInRange(): boolean {
    return this.#verdict.inRange;
  }

  /** The last verdict, with each measured peer's offset: for /cluster/status and the metrics. */
  verdict(): ClockVerdict {
    return this.#verdict;
  }

  /** Times this node went from in range to fenced. */
  fencedCount(): number {
    return this.#fencedCount;
  }

  /** Records from the future skipped or refused, by path. */
  futureRecords(): Readonly<Record<FutureRecordPath, number>> {
    return this.#future;
  }

  /** The wall clock in ms, as heartbeats and replies carry it (t0, t3). */
  wallMs(): number {
    return this.#deps.wallUs() / 1000;
  }

  /** A monitor answered a timed heartbeat. */
  onHeartbeatReply(reply: HeartbeatReply, t3: number): void {
    if (reply.from === this.#self) return;
    this.#tracker.record(
      reply.from,
      { t0: reply.t0, t1: reply.t1, t2: reply.t2, t3 },
      this.#deps.nowMs(),
    );
  }

  /**
   * Recomputes the verdict (on the node's tick) and logs a change. `expectedPeers`: the live peers
   * this node heartbeats (its monitors), so that a majority is never of fewer peers than that.
   */
  tick(nowMs: number, expectedPeers = 0): void {
    const before = this.#verdict.inRange;
    this.#verdict = this.#tracker.verdict(nowMs, expectedPeers);
    if (before === this.#verdict.inRange) return;
    const offsets = this.#verdict.peers.map((peer) => ({
      peer: peer.peer,
      offsetMs: peer.offsetMs,
      errorMs: peer.errorMs,
    }));
    if (!this.#verdict.inRange) {
      this.#fencedCount += 1;
      this.#deps.log.warn(
        {
          maxClockOffsetMs: this.#verdict.maxOffsetMs,
          outOfRange: this.#verdict.outOfRange,
          measured: this.#verdict.measured,
          offsets,
        },
        "clock offset from most peers exceeds --max-clock-offset-ms: refusing to coordinate writes until it is back in range",
      );
    } else {
      this.#deps.log.info({ offsets }, "clock offset back in range: coordinating writes again");
    }
  }

  /** Whether a timestamp is more than the allowed offset ahead of this node's wall clock now. */
  isFromTheFuture(timestampUs: number): boolean {
    return isFromTheFuture(timestampUs, this.#deps.wallUs(), this.maxOffsetUs);
  }

  /**
   * Counts a record from the future met on `path` and logs it at warn (at most once per interval
   * per path).
   */
  refused(path: FutureRecordPath, details: FutureRecordDetails): void {
    this.#future[path] += 1;
    const nowMs = this.#deps.nowMs();
    const last = this.#lastWarnMs.get(path);
    if (last !== undefined && nowMs - last < CLOCK_GUARD_LIMITS.warnIntervalMs) {
      this.#unwarned.set(path, (this.#unwarned.get(path) ?? 0) + 1);
      return;
    }
    const aheadMs =
      details.timestampUs === undefined
        ? undefined
        : Math.round((details.timestampUs - this.#deps.wallUs()) / 1000);
    const alsoSince = this.#unwarned.get(path) ?? 0;
    this.#lastWarnMs.set(path, nowMs);
    this.#unwarned.delete(path);
    this.#deps.log.warn(
      {
        path,
        origin: details.origin ?? "unknown",
        key: details.key,
        timestampUs: details.timestampUs,
        aheadMs,
        alsoSince,
      },
      "refused a record stamped further ahead of this node's clock than --max-clock-offset-ms",
    );
  }

  /** The records that are not from the future; the others are counted on `path`. */
  keepPresent<R extends KeyedRecord>(
    path: FutureRecordPath,
    records: readonly R[],
    origin?: string,
  ): readonly R[] {
    let kept: R[] | null = null;
    for (let index = 0; index < records.length; index++) {
      const write = records[index] as R;
      if (!this.isFromTheFuture(write.record.timestampUs)) {
        kept?.push(write);
        continue;
      }
      kept ??= records.slice(0, index);
      this.refused(path, { origin, key: write.key, timestampUs: write.record.timestampUs });
    }
    return kept ?? records;
  }

  /**
   * The store as a bulk path should see it: apply() skips records from the future one by one
   * (counted on `path`) and merges the rest; every other method is the store's own.
   */
  guardStore<S extends Pick<Store, "apply">>(store: S, path: FutureRecordPath): S {
    return new Proxy(store, {
      get: (target, property) => {
        if (property === "apply") {
          return (writes: readonly KeyedRecord[]): Promise<ApplyResult> =>
            target.apply(this.keepPresent(path, writes));
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function"
          ? (value as (...args: unknown[]) => unknown).bind(target)
          : value;
      },
    });
  }
}
