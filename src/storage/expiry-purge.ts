// storage/expiry-purge.ts — purging expired records (issue 17 §3): once the tombstone grace period
// has passed since a record expired (storage/expiry.ts), it goes like a tombstone. The purge walks
// the expiry index (expiry-index.ts) from its start to the cutoff, so it reads only the entries of
// records due, never the data, and deletes chunk by chunk inside the write lane, re-checking each
// record there (a version written after the walk looked is judged by itself).

import { decodeExpiryIndexKey, expiryIndexBefore } from "./expiry-index.js";
import { purgeableExpired } from "./expiry.js";
import { deleteStored } from "./purge.js";
import { STORE_DEFAULTS } from "./store-limits.js";
import {
  decodeStored,
  type BatchOperation,
  type DatabaseWriteOptions,
  type StoreState,
} from "./store-state.js";
import type { WriteLane } from "./write-lane.js";

/** When to purge: expired more than graceUs before nowUs (expiry.ts purgeableExpired). */
export interface ExpiredPurge {
  readonly nowUs: number;
  readonly graceUs: number;
}

/**
 * Deletes the records expired more than graceUs before nowUs (and their index entries), walking the
 * index chunk by chunk in the write lane; returns how many records it deleted.
 */
export async function purgeExpired(
  state: StoreState,
  lane: WriteLane,
  purge: ExpiredPurge,
): Promise<number> {
  const bounds = expiryIndexBefore(purge.nowUs - purge.graceUs);
  const iterator = state.db.keys({ gte: bounds.gte, lt: bounds.lt });
  let purged = 0;
  try {
    for (;;) {
      const indexKeys = await iterator.nextv(STORE_DEFAULTS.purgeBatchSizeMax);
      if (indexKeys.length === 0) break;
      purged += await lane.exclusive(() => purgeExpiredChunk(state, indexKeys, purge));
    }
  } finally {
    await iterator.close();
  }
  return purged;
}

/**
 * One chunk of the walk, inside the lane: records that still carry the indexed expiry are deleted
 * (deleteStored drops their entries in the same batch); entries whose record was replaced or is
 * gone are deleted alone.
 */
async function purgeExpiredChunk(
  state: StoreState,
  indexKeys: readonly Buffer[],
  purge: ExpiredPurge,
): Promise<number> {
  const entries = indexKeys.map(decodeExpiryIndexKey);
  const stored = (await state.db.getMany(entries.map((entry) => entry.dataKey))) as (
    Buffer | undefined
  )[];
  const doomed: Buffer[] = [];
  const dangling: BatchOperation[] = [];
  entries.forEach((entry, index) => {
    const record = decodeStored(stored[index]);
    const current = record !== undefined && record !== "unreadable" ? record.expiresAtUs : null;
    if (current === entry.expiresAtUs) doomed.push(entry.dataKey);
    else dangling.push({ type: "del", key: indexKeys[index] as Buffer });
  });
  if (dangling.length > 0) {
    const options: DatabaseWriteOptions = { sync: state.sync };
    await state.db.batch(dangling, options);
  }
  if (doomed.length === 0) return 0;
  const purged = await deleteStored(
    state,
    doomed,
    (record) => record !== "unreadable" && purgeableExpired(record, purge.nowUs, purge.graceUs),
  );
  state.counts.tombstonesPurged += purged;
  return purged;
}
