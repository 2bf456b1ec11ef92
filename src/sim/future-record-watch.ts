// sim/future-record-watch.ts — the `future-record` run invariant: no node stores a record stamped
// further ahead of its own wall clock than --max-clock-offset-ms (README, clock-offset guard: "a
// write stamped further ahead of a replica's clock is refused"). The history judge cannot see a
// breach: it orders versions by timestamp, as the store does, so a write from the future simply
// wins. The watch sees each batch a machine's disk takes (sim-disk.ts), decodes the data records in
// it, and compares their stamps with that machine's wall clock when its node took them.
//
// Every path a record enters a store by checks the stamp first (the coordinator against its own
// clock, a replica, hint replay, read repair, streams and repair against theirs), so a breach is a
// missing check. Pure: the wall clocks and the limit are arguments.
//
// When the node took it, not when the disk landed it: the node decides as it hands a record to its
// store (store.apply), and the write then waits in the store's lane and on the disk, on a slow disk
// for hundreds of ms. A wall clock stepped back meanwhile makes a record that was in range when
// taken look far ahead when it lands, and no check could have refused it (seed 356131291 --sync
// off: n1 stamped its own write at its wall clock, its clock stepped back 860 ms, and the slow disk
// landed the write 348 ms after it was taken, "512 ms ahead"). So the watch notes the wall clock at
// each apply (TakenClocks) and judges a landing record by it; a record it saw no apply of (a path
// that writes past the store's apply) is judged by the wall clock at landing.

import { assert } from "../core/assert.js";
import { NAMESPACE, decodeDataKey } from "../storage/layout.js";
import { decodeRecord, type KeyedRecord, type StoredRecord } from "../storage/record.js";
import type { DiskOperation } from "./sim-database.js";

export const FUTURE_RECORD_WATCH_LIMITS = {
  /**
   * Versions taken and not yet landed kept per machine. Versions that never land (superseded in
   * their batch, or lost with a killed process) stay until pushed out, oldest first; a run takes a
   * few thousand writes per node, so the bound is only a guard.
   */
  takenVersionsPerMachineMax: 50_000,
} as const;

/** A data record a batch stored with a stamp past the allowed offset. */
export interface FutureRecord {
  readonly key: string;
  readonly timestampUs: number;
  /** How far its stamp is ahead of the storing machine's wall clock when it took it, µs. */
  readonly aheadUs: number;
}

/** The wall clock (µs) at which a machine took a version, or undefined when it was not seen. */
export type TakenAt = (key: string, record: StoredRecord) => number | undefined;

/** (key, timestamp, writer) names one write (storage/record.ts). */
function versionOf(key: string, record: StoredRecord): string {
  return `${record.timestampUs}/${record.writer}/${key}`;
}

/** Each machine's wall clock at the moment its node handed each version to its store. */
export class TakenClocks {
  readonly #byMachine = new Map<string, Map<string, number>>();

  /** Machine `id` handed `writes` to its store at wall clock `wallUs`. */
  took(id: string, writes: readonly KeyedRecord[], wallUs: number): void {
    let taken = this.#byMachine.get(id);
    if (taken === undefined) {
      taken = new Map();
      this.#byMachine.set(id, taken);
    }
    for (const { key, record } of writes) {
      // Taken again (a hint replayed to a restarted node, a repair racing a write): the later
      // moment counts, since the path that took it then had to check it then; moved to the end.
      const version = versionOf(key, record);
      taken.delete(version);
      taken.set(version, wallUs);
    }
    const max = FUTURE_RECORD_WATCH_LIMITS.takenVersionsPerMachineMax;
    for (const version of taken.keys()) {
      if (taken.size <= max) break;
      taken.delete(version);
    }
    assert(taken.size <= max, "taken versions stay within their bound");
  }

  /** When machine `id` took the version, forgotten as it is asked for (the version landed). */
  landed(id: string): TakenAt {
    const taken = this.#byMachine.get(id);
    return (key, record) => {
      const version = versionOf(key, record);
      const wallUs = taken?.get(version);
      taken?.delete(version);
      return wallUs;
    };
  }
}

/**
 * The first data record in `operations` stamped more than `maxOffsetUs` ahead of the wall clock
 * when it was taken (`takenAt`, else `wallUs`, the wall clock now), or null.
 */
export function firstFutureRecord(
  operations: readonly DiskOperation[],
  wallUs: number,
  maxOffsetUs: number,
  takenAt: TakenAt = () => undefined,
): FutureRecord | null {
  let future: FutureRecord | null = null;
  for (const operation of operations) {
    if (operation.type !== "put" || operation.key[0] !== NAMESPACE.data) continue;
    const record = decodeRecord(operation.value);
    const { key } = decodeDataKey(operation.key);
    // Asked of every record, not only up to the first breach: each landed version is forgotten.
    const aheadUs = record.timestampUs - (takenAt(key, record) ?? wallUs);
    if (future === null && aheadUs > maxOffsetUs)
      future = { key, timestampUs: record.timestampUs, aheadUs };
  }
  return future;
}
