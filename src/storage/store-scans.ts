// storage/store-scans.ts — the read-only walks over token order: range scans for streaming and
// repair (resumable after a key), and hashed scans for segment pieces. They read LevelDB iterators
// directly, outside the write lane: an iterator reads from an implicit snapshot, so writes
// committed meanwhile do not tear a scan.

import { assert } from "../core/assert.js";
import type { Token } from "../ring/partitioner.js";
import {
  dataRangeBoundsAfter,
  decodeDataKey,
  tokenOfDataKey,
  tokenStretch,
  type TokenRangeBounds,
} from "./layout.js";
import { decodeRecord } from "./record.js";
import { recordHash } from "./segments.js";
import { STORE_DEFAULTS } from "./store-limits.js";
import { decodeStored, type Database } from "./store-state.js";
import type { HashedEntry, HashedScan, ScannedRecord, ScanOptions } from "./store.js";

/**
 * The records of the token range (start, end], in ring order from just after start
 * (Store.scanRange).
 */
export async function* scanRecords(
  db: Database,
  range: TokenRangeBounds,
  options: ScanOptions,
): AsyncGenerator<ScannedRecord> {
  const batchSize = Math.min(
    options.batchSize ?? STORE_DEFAULTS.scanBatchSizeDefault,
    STORE_DEFAULTS.scanBatchSizeMax,
  );
  assert(
    Number.isSafeInteger(batchSize) && batchSize >= 1,
    "scan batchSize must be a positive integer",
  );
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  assert(remaining >= 0, "scan limit must not be negative");
  const includeTombstones = options.tombstones ?? true;

  for (const bounds of dataRangeBoundsAfter(range, options.afterKey ?? null)) {
    if (remaining <= 0) return;
    // An iterator reads from an implicit snapshot: writes committed meanwhile do not tear the scan.
    const iterator = db.iterator({ gte: bounds.gte, lt: bounds.lt });
    try {
      while (remaining > 0) {
        const entries = await iterator.nextv(batchSize);
        if (entries.length === 0) break;
        for (const [storageKey, value] of entries) {
          const record = decodeRecord(value);
          if (record.tombstone && !includeTombstones) continue;
          const { token, key } = decodeDataKey(storageKey);
          yield { token, key, record };
          remaining -= 1;
          if (remaining <= 0) break;
        }
      }
    } finally {
      await iterator.close();
    }
  }
}

/** The records whose token lies in [first, last] with their record hashes (Store.scanHashed). */
export async function scanHashed(
  db: Database,
  first: Token,
  last: Token,
  limit: number,
  include?: (token: Token) => boolean,
): Promise<HashedScan> {
  assert(first <= last, "scanHashed needs first <= last");
  assert(
    Number.isSafeInteger(limit) && limit >= 0,
    "scanHashed limit must be a non-negative integer",
  );
  const bounds = tokenStretch(first, last);
  const entries: HashedEntry[] = [];
  // One more than the limit, to know whether the stretch held more.
  const iterator = db.iterator({ gte: bounds.gte, lt: bounds.lt, limit: limit + 1 });
  let truncated = false;
  let visited = 0;
  try {
    for (;;) {
      // Small batches: each record is decoded and hashed between two awaits, and a repair's scans
      // run beside client requests, so a batch is what a client may wait behind (256: well under 1
      // ms).
      const batch = await iterator.nextv(STORE_DEFAULTS.scanBatchSizeDefault);
      if (batch.length === 0) break;
      for (const [storageKey, value] of batch) {
        if (visited >= limit) {
          truncated = true;
          break;
        }
        visited += 1;
        if (include !== undefined && !include(tokenOfDataKey(storageKey))) continue;
        const { token, key } = decodeDataKey(storageKey);
        const stored = decodeStored(value);
        // An unreadable record still counts in its segment's hash; timestamp 0 makes any readable
        // version from a peer win over it.
        const timestampUs =
          stored === undefined || stored === "unreadable" ? 0 : stored.timestampUs;
        entries.push({ key, token, timestampUs, hash: recordHash(storageKey, value) });
      }
      if (truncated) break;
    }
  } finally {
    await iterator.close();
  }
  return { entries, truncated };
}
