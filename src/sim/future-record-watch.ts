// sim/future-record-watch.ts — the `future-record` run invariant: no node stores a record stamped
// further ahead of its own wall clock than --max-clock-offset-ms (README, clock-offset guard: "a
// write stamped further ahead of a replica's clock is refused"). The history judge cannot see a
// breach: it orders versions by timestamp, as the store does, so a write from the future simply
// wins. The watch sees each batch a machine's disk takes (sim-disk.ts), decodes the data records in
// it, and compares their stamps with that machine's wall clock at that moment.
//
// Every path a record enters a store by checks the stamp first (the coordinator against its own
// clock, a replica, hint replay, read repair, streams and repair against theirs), so a breach is a
// missing check. Pure: the wall clock and the limit are arguments.

import { NAMESPACE, decodeDataKey } from "../storage/layout.js";
import { decodeRecord } from "../storage/record.js";
import type { DiskOperation } from "./sim-database.js";

/** A data record a batch stored with a stamp past the allowed offset. */
export interface FutureRecord {
  readonly key: string;
  readonly timestampUs: number;
  /** How far its stamp is ahead of the storing machine's wall clock, µs. */
  readonly aheadUs: number;
}

/**
 * The first data record in `operations` stamped more than `maxOffsetUs` ahead of `wallUs`, or null.
 */
export function firstFutureRecord(
  operations: readonly DiskOperation[],
  wallUs: number,
  maxOffsetUs: number,
): FutureRecord | null {
  for (const operation of operations) {
    if (operation.type !== "put" || operation.key[0] !== NAMESPACE.data) continue;
    const { timestampUs } = decodeRecord(operation.value);
    const aheadUs = timestampUs - wallUs;
    if (aheadUs > maxOffsetUs)
      return { key: decodeDataKey(operation.key).key, timestampUs, aheadUs };
  }
  return null;
}
