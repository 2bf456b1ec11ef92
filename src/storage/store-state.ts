// storage/store-state.ts — what the store's parts share. The batch commit, the purges and the
// facade all change the same statistics, segment table and row cache, and only inside the one
// write lane (write-lane.ts); naming that state in one object keeps the sharing visible instead of
// spread over private fields.

import type { AbstractBatchOptions, AbstractLevel } from "abstract-level";
import { decodeRecord, type StoredRecord } from "./record.js";
import type { CachedRow, RowCache } from "./row-cache.js";
import type { SegmentState } from "./segment-log.js";

/**
 * The LevelDB the store runs on, as abstract-level's interface with buffer keys and values: the
 * node's classic-level (`level`) and the simulator's in-memory one (sim/sim-disk.ts) satisfy it.
 */
export type Database = AbstractLevel<Buffer | Uint8Array | string, Buffer, Buffer>;

/** abstract-level's batch options lack LevelDB's `sync`, which classic-level and SimDisk read. */
export type DatabaseWriteOptions = AbstractBatchOptions<Buffer, Buffer> & {
  readonly sync: boolean;
};

export type BatchOperation =
  { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

export interface Totals {
  records: number;
  tombstones: number;
  bytes: number;
}

/** Counts for StoreCounters, changed by the lane's tasks. */
export interface StoreCounts {
  batchesCommitted: number;
  writesApplied: number;
  writesSuperseded: number;
  overloadRefusals: number;
  tombstonesPurged: number;
  unreadableRecordsReplaced: number;
}

export interface StoreState {
  readonly db: Database;
  /** SPEC §1 --sync: every batch is written with this. */
  readonly sync: boolean;
  /** Stored records of recently used keys, exact as of the last committed batch (row-cache.ts). */
  readonly rowCache: RowCache;
  readonly segmentState: SegmentState;
  totals: Totals;
  /**
   * Data batches (and range deletes) whose LevelDB write finished or failed: reads in flight
   * compare it.
   */
  commits: number;
  readonly counts: StoreCounts;
}

export function rowOf(
  bytes: Uint8Array,
  record: StoredRecord,
  hash: Uint32Array | null,
): CachedRow {
  const row = {
    bytes,
    timestampUs: record.timestampUs,
    writer: record.writer,
    tombstone: record.tombstone,
    hash,
  };
  return record.expiresAtUs === undefined ? row : { ...row, expiresAtUs: record.expiresAtUs };
}

export function decodeStored(
  bytes: Uint8Array | undefined,
): StoredRecord | "unreadable" | undefined {
  if (bytes === undefined) return undefined;
  try {
    return decodeRecord(bytes);
  } catch {
    return "unreadable";
  }
}
