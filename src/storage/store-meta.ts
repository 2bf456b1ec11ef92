// storage/store-meta.ts — the store's meta entries: the format marker checked at open and the
// statistics kept exact in every batch. Statistics (records, tombstones, bytes) are kept exactly:
// each batch knows which keys are new and how each stored size changes, and writes the new totals
// in the same atomic batch, so they survive crashes without a recount; only a database without
// (readable) statistics is recounted, once, at open.

import { Packr } from "msgpackr";
import { metaKey, namespaceBounds } from "./layout.js";
import { decodeRecord } from "./record.js";
import { StoreFormatError } from "./store-errors.js";
import { STORE_DEFAULTS } from "./store-limits.js";
import type { Database, Totals } from "./store-state.js";

/**
 * The on-disk layout of the store (these meta entries, segment-log.ts) and layout.ts; bump it with
 * a migration when either changes.
 */
export const STORE_FORMAT = 1;
const META_FORMAT = "format";
export const META_STATS = "stats";
/** Present (holding SEGMENT_LOG_FORMAT) once the `s` namespace holds the segment log. */
export const META_SEGMENTS = "segments";

export const metaPackr = new Packr({ useRecords: false });

export async function checkFormat(db: Database): Promise<void> {
  const stored = await db.get(metaKey(META_FORMAT));
  if (stored === undefined) {
    await db.put(metaKey(META_FORMAT), metaPackr.pack(STORE_FORMAT));
    return;
  }
  const format: unknown = metaPackr.unpack(stored);
  if (format !== STORE_FORMAT) {
    throw new StoreFormatError(
      `the database has store format ${String(format)}; this build reads ${STORE_FORMAT}`,
    );
  }
}

export async function readTotals(db: Database): Promise<Totals | null> {
  const stored = await db.get(metaKey(META_STATS));
  if (stored === undefined) return null;
  const value: unknown = metaPackr.unpack(stored);
  if (
    !Array.isArray(value) ||
    value.length !== 3 ||
    !value.every((n) => Number.isSafeInteger(n) && n >= 0)
  ) {
    return null;
  }
  const [records, tombstones, bytes] = value as number[];
  return { records: records ?? 0, tombstones: tombstones ?? 0, bytes: bytes ?? 0 };
}

/** Only for a database without (readable) statistics: one full scan. */
export async function recountTotals(db: Database): Promise<Totals> {
  const totals: Totals = { records: 0, tombstones: 0, bytes: 0 };
  const bounds = namespaceBounds("data");
  const iterator = db.iterator({ gte: bounds.gte, lt: bounds.lt });
  try {
    for (;;) {
      const entries = await iterator.nextv(STORE_DEFAULTS.scanBatchSizeMax);
      if (entries.length === 0) break;
      for (const [key, value] of entries) {
        totals.records += 1;
        totals.bytes += key.length + value.length;
        try {
          if (decodeRecord(value).tombstone) totals.tombstones += 1;
        } catch {
          // An unreadable record still occupies its bytes; the next write to its key replaces it.
        }
      }
    }
  } finally {
    await iterator.close();
  }
  await db.put(metaKey(META_STATS), encodeTotals(totals));
  return totals;
}

export function encodeTotals(totals: Totals): Buffer {
  return metaPackr.pack([totals.records, totals.tombstones, totals.bytes]);
}
