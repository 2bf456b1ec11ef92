// storage/purge.ts — deletions: dropping the ranges a node no longer replicates, purging
// tombstones past their grace period, and removing records stamped in the future. Each runs in the
// write lane chunk by chunk and re-checks every key inside it, so a deletion never removes a
// version written after it looked, and keeps the statistics and segment hashes exact in the same
// batch.
//
// Tombstones are kept for a grace period (10 days by default, longer than any repair cycle, as
// Cassandra's gc_grace_seconds) and purged by purgeTombstones after it; expired records the same
// time after they expired (expiry-purge.ts). A deleted record with an expiry takes its expiry index
// entry (expiry-index.ts) with it, in the same batch.

import { expiryIndexKey } from "./expiry-index.js";
import {
  dataRangeBounds,
  decodeDataKey,
  metaKey,
  namespaceBounds,
  type TokenRangeBounds,
} from "./layout.js";
import type { StoredRecord } from "./record.js";
import { installSegments, logSegments } from "./segment-log.js";
import { Staging } from "./segments.js";
import { STORE_DEFAULTS } from "./store-limits.js";
import { encodeTotals, META_STATS } from "./store-meta.js";
import {
  decodeStored,
  type BatchOperation,
  type DatabaseWriteOptions,
  type StoreState,
  type Totals,
} from "./store-state.js";
import type { WriteLane } from "./write-lane.js";

/**
 * Deletes every record of the token range (start, end], tombstones included (Store.deleteRange).
 */
export async function deleteRange(
  state: StoreState,
  lane: WriteLane,
  range: TokenRangeBounds,
): Promise<number> {
  let deleted = 0;
  for (const bounds of dataRangeBounds(range)) {
    const iterator = state.db.keys({ gte: bounds.gte, lt: bounds.lt });
    try {
      for (;;) {
        const storageKeys = await iterator.nextv(STORE_DEFAULTS.purgeBatchSizeMax);
        if (storageKeys.length === 0) break;
        deleted += await lane.exclusive(() => deleteChunk(state, storageKeys));
      }
    } finally {
      await iterator.close();
    }
  }
  return deleted;
}

/**
 * Deletes those of the keys whose stored record, read inside the lane, is stamped above
 * timestampUsAbove.
 */
export function deleteStampedAbove(
  state: StoreState,
  lane: WriteLane,
  storageKeys: Buffer[],
  timestampUsAbove: number,
): Promise<number> {
  return lane.exclusive(() =>
    deleteStored(
      state,
      storageKeys,
      (record) => record !== "unreadable" && record.timestampUs > timestampUsAbove,
    ),
  );
}

/** Deletes the tombstones stamped before cutoffUs, chunk by chunk in the lane; returns how many. */
export async function purgeTombstonesBefore(
  state: StoreState,
  lane: WriteLane,
  cutoffUs: number,
): Promise<number> {
  const bounds = namespaceBounds("data");
  const iterator = state.db.iterator({ gte: bounds.gte, lt: bounds.lt });
  let purged = 0;
  let candidates: Buffer[] = [];
  try {
    for (;;) {
      const entries = await iterator.nextv(STORE_DEFAULTS.scanBatchSizeDefault);
      if (entries.length === 0) break;
      for (const [storageKey, value] of entries) {
        const record = decodeStored(value);
        if (record === undefined || record === "unreadable") continue;
        if (record.tombstone && record.timestampUs < cutoffUs) candidates.push(storageKey);
        if (candidates.length >= STORE_DEFAULTS.purgeBatchSizeMax) {
          const chunk = candidates;
          candidates = [];
          purged += await lane.exclusive(() => purgeChunk(state, chunk, cutoffUs));
        }
      }
    }
  } finally {
    await iterator.close();
  }
  if (candidates.length > 0) {
    const chunk = candidates;
    purged += await lane.exclusive(() => purgeChunk(state, chunk, cutoffUs));
  }
  return purged;
}

/** Deletes the keys that are still stored, inside the lane, keeping the statistics exact. */
function deleteChunk(state: StoreState, storageKeys: Buffer[]): Promise<number> {
  return deleteStored(state, storageKeys, () => true);
}

/** Deletes the keys that are still tombstones older than cutoffUs, inside the lane. */
async function purgeChunk(
  state: StoreState,
  storageKeys: Buffer[],
  cutoffUs: number,
): Promise<number> {
  const purged = await deleteStored(
    state,
    storageKeys,
    (record) => record !== "unreadable" && record.tombstone && record.timestampUs < cutoffUs,
  );
  state.counts.tombstonesPurged += purged;
  return purged;
}

/**
 * Deletes those of the keys whose stored record (as read now, inside the lane) is `doomed`, with
 * the statistics, segment hashes and expiry index in the same batch; returns how many it deleted.
 * Only inside the write lane.
 */
export async function deleteStored(
  state: StoreState,
  storageKeys: Buffer[],
  doomed: (record: StoredRecord | "unreadable") => boolean,
): Promise<number> {
  const stored = (await state.db.getMany(storageKeys)) as (Buffer | undefined)[];
  const operations: BatchOperation[] = [];
  const indexed: BatchOperation[] = [];
  const totals: Totals = { ...state.totals };
  const staging = new Staging(state.segmentState.table);
  storageKeys.forEach((storageKey, index) => {
    const bytes = stored[index];
    const record = decodeStored(bytes);
    if (bytes === undefined || record === undefined || !doomed(record)) return;
    operations.push({ type: "del", key: storageKey });
    staging.remove(storageKey, bytes);
    totals.records -= 1;
    if (record !== "unreadable" && record.tombstone) totals.tombstones -= 1;
    totals.bytes -= storageKey.length + bytes.length;
    if (record !== "unreadable" && record.expiresAtUs !== undefined)
      indexed.push({ type: "del", key: expiryIndexKey(record.expiresAtUs, storageKey) });
  });
  if (operations.length === 0) return 0;
  const deleted = operations.length;
  const deletedKeys = operations.map((operation) => decodeDataKey(operation.key).key);
  operations.push(...indexed);
  const logged = logSegments(state.segmentState, operations, staging);
  operations.push({ type: "put", key: metaKey(META_STATS), value: encodeTotals(totals) });
  try {
    const options: DatabaseWriteOptions = { sync: state.sync };
    await state.db.batch(operations, options);
  } finally {
    state.commits += 1;
    for (const key of deletedKeys) state.rowCache.delete(key);
  }
  state.totals = totals;
  installSegments(state.segmentState, staging, logged);
  return deleted;
}
