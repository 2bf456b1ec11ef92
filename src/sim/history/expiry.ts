// src/sim/history/expiry.ts — time to live (issue 17 §3) as the history checker judges it.
//
// A put with ttlSeconds expires at its stamp + ttl by the HLC (storage/expiry.ts), and a node
// answers "not found" for it once its own wall clock reaches that point. The history's times are
// the recorder's clock, not the nodes', so the checker brackets the expiry with what the clocks
// may do:
// - the stamp was taken between the write's start and end (later for an unacknowledged write: a
//   paused coordinator may stamp it long after the client gave up), by the coordinator's HLC,
//   which is at least its wall clock and at most stampLeadMaxMs ahead of it (a node refuses to
//   stamp further ahead: the clock guard);
// - every node's wall clock is within wallOffsetMaxMs of the recorder's.
// So a value written at [start, end] with ttl T may read as expired from start + T − 2·offset on
// (before that it is *definitely live*, and every usual promise holds), and must read as expired
// from end + T + 2·offset + lead on (*definitely expired*); between the two, either answer is
// right. Expiry explains a "not found" the way a delete does: a TTL write that could have been
// the key's newest version by the read, and may have expired by its end. A value returned when it
// was definitely expired is a *resurrected expired value*; an older value returned once a newer
// TTL write expired is a stale read or lost write as before (expiry never brings an older value
// back). Pure: no clock, no IO.

import type { ExpiryClocks, ReadOp, WriteOp } from "./types.js";

const MS_PER_SECOND = 1_000;

/** The node's default --max-clock-offset-ms for both: real processes share one machine's clock. */
export const EXPIRY_CLOCKS_DEFAULT: ExpiryClocks = { wallOffsetMaxMs: 500, stampLeadMaxMs: 500 };

/** When, on the recorder's clock, the write's value may first read as expired; undefined: never. */
export function mayExpireFromMs(write: WriteOp, clocks: ExpiryClocks): number | undefined {
  if (write.ttlSeconds === undefined || write.value === null) return undefined;
  return write.startMs + write.ttlSeconds * MS_PER_SECOND - 2 * clocks.wallOffsetMaxMs;
}

/**
 * From when the write's value must read as expired; undefined when the write has no time to live
 * or was not acknowledged (its stamp may have come after its end).
 */
export function mustExpireByMs(write: WriteOp, clocks: ExpiryClocks): number | undefined {
  if (write.ttlSeconds === undefined || write.value === null || write.outcome !== "ok") {
    return undefined;
  }
  const slackMs = 2 * clocks.wallOffsetMaxMs + clocks.stampLeadMaxMs;
  return write.endMs + write.ttlSeconds * MS_PER_SECOND + slackMs;
}

/** Whether the write's value may read as expired by the end of `read`. */
export function mayHaveExpired(write: WriteOp, read: ReadOp, clocks: ExpiryClocks): boolean {
  const fromMs = mayExpireFromMs(write, clocks);
  return fromMs !== undefined && read.endMs >= fromMs;
}

/**
 * Whether a TTL write of the key could have superseded `write` (stamped at or after it, or not
 * known not to be) and expired by the end of `read`, so that "not found" is a right answer.
 */
export function expiryExplainsAbsence(
  writes: Iterable<WriteOp>,
  read: ReadOp,
  write: WriteOp,
  clocks: ExpiryClocks,
): boolean {
  const writtenAt = write.timestampUs ?? 0;
  for (const candidate of writes) {
    if (candidate.outcome === "failed" || candidate.startMs > read.endMs) continue;
    const after =
      candidate === write ||
      (candidate.timestampUs === undefined
        ? candidate.endMs > write.startMs
        : candidate.timestampUs >= writtenAt);
    if (after && mayHaveExpired(candidate, read, clocks)) return true;
  }
  return false;
}

/**
 * How long after its value had to read as expired the read started, ms; undefined when the read
 * may rightly have returned it.
 */
export function resurrectedByMs(
  write: WriteOp,
  read: ReadOp,
  clocks: ExpiryClocks,
): number | undefined {
  const byMs = mustExpireByMs(write, clocks);
  if (byMs === undefined || read.startMs < byMs) return undefined;
  return read.startMs - byMs;
}
