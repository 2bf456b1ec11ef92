// time/hlc.ts — the node's hybrid logical clock, in microseconds since the epoch.
//
// Theory of operation. Last-write-wins (storage/record.ts) needs timestamps that follow real time
// closely, never go back on one node, and order a write after every version its coordinator has
// seen. A hybrid logical clock gives that (Kulkarni, Demirbas et al., "Logical Physical Clocks",
// 2014): it keeps one number, the last timestamp issued or observed, `lastUs`.
//
//   - now(wallUs) issues max(wallUs, lastUs + 1). It follows the wall clock while the wall clock
//     moves forward, and counts up one microsecond per event while it stalls or goes back, so
//     timestamps on one node are strictly increasing and never repeat. (The paper keeps the logical
//     counter in separate bits; folding it into the microsecond, as Cassandra's client timestamps
//     do, keeps a timestamp a plain microsecond number that the SPEC can show users.)
//   - observe(remoteUs, wallUs) merges a timestamp seen from a peer: lastUs = max(lastUs,
//     remoteUs), so the next local write is ordered after it even when this node's wall clock lags.
//
// Bounded drift: a peer whose clock runs far ahead would drag every clock in the cluster ahead with
// it, and its writes would win over later ones for as long as it is ahead. A remote timestamp more
// than driftUsMax ahead of the local wall clock is refused (not merged) and counted; the caller
// decides what to do with the write that carried it. Hence merging never lifts lastUs past the
// largest wall clock seen plus driftUsMax; only now()'s one-microsecond steps go beyond it.
//
// The clock is pure: the wall clock is an argument, so the node passes Date.now() * 1000 and the
// simulator its virtual time.

import { assert } from "../core/assert.js";

export const HLC_DEFAULTS = {
  /**
   * A remote timestamp more than this far ahead of our wall clock is refused: 60 s in microseconds.
   */
  driftUsMax: 60_000_000,
} as const;

/**
 * Timestamps are doubles; above 2^53 they lose microseconds (the year 2255), so that is the end.
 */
export const HLC_TIMESTAMP_US_MAX = Number.MAX_SAFE_INTEGER;

export interface HybridClockOptions {
  /** Refuse remote timestamps further ahead of the wall clock than this (µs). Default 60 s. */
  readonly driftUsMax?: number;
  /**
   * The clock starts above this (µs): a restarted node passes the newest timestamp it knows it
   * issued, so a wall clock that went back across the restart cannot reorder its writes.
   */
  readonly initialUs?: number;
}

/** What observe did with a remote timestamp. */
export type ObserveOutcome = "merged" | "behind" | "refused-ahead" | "refused-invalid";

export class HybridClock {
  private lastUs: number;
  private readonly driftUsMax: number;
  private refusedAhead = 0;
  private refusedInvalid = 0;

  constructor(options: HybridClockOptions = {}) {
    this.driftUsMax = options.driftUsMax ?? HLC_DEFAULTS.driftUsMax;
    this.lastUs = options.initialUs ?? 0;
    assert(
      Number.isSafeInteger(this.driftUsMax) && this.driftUsMax >= 0,
      "driftUsMax must be a non-negative integer",
    );
    assert(
      Number.isSafeInteger(this.lastUs) && this.lastUs >= 0,
      "initialUs must be a non-negative integer",
    );
  }

  /** A new timestamp, strictly above every timestamp this clock issued or merged before. */
  now(wallUs: number): number {
    checkWall(wallUs);
    const next = Math.max(wallUs, this.lastUs + 1);
    assert(next <= HLC_TIMESTAMP_US_MAX, "the hybrid logical clock ran past 2^53 microseconds");
    assert(next > this.lastUs, "the hybrid logical clock went back");
    this.lastUs = next;
    return next;
  }

  /**
   * Merges a timestamp seen from a peer (a write it coordinated, a version read back). Refused and
   * counted when it is not a timestamp, or is more than driftUsMax ahead of wallUs.
   */
  observe(remoteUs: number, wallUs: number): ObserveOutcome {
    checkWall(wallUs);
    if (!Number.isSafeInteger(remoteUs) || remoteUs < 0) {
      this.refusedInvalid += 1;
      return "refused-invalid";
    }
    if (remoteUs - wallUs > this.driftUsMax) {
      this.refusedAhead += 1;
      return "refused-ahead";
    }
    if (remoteUs <= this.lastUs) return "behind";
    this.lastUs = remoteUs;
    return "merged";
  }

  /** The last timestamp issued or merged (what a restart should pass back as initialUs). */
  peekUs(): number {
    return this.lastUs;
  }

  /** Remote timestamps refused for being too far ahead, and for not being timestamps at all. */
  refusals(): { readonly aheadCount: number; readonly invalidCount: number } {
    return { aheadCount: this.refusedAhead, invalidCount: this.refusedInvalid };
  }
}

function checkWall(wallUs: number): void {
  // The wall clock comes from our own shell (Date.now() * 1000): a fraction or NaN is a bug there.
  assert(
    Number.isSafeInteger(wallUs) && wallUs >= 0,
    () => `wallUs must be a non-negative integer, got ${wallUs}`,
  );
}
