// storage/store.ts — the storage port: what the rest of the node may ask of its one LevelDB
// database, and the one module callers import it from. The implementation is split by concern:
//
//   store-open.ts      opening, format check, restoring statistics and segment hashes
//   level-store.ts     LevelStore: the port over LevelDB, composing the parts below
//   write-lane.ts      the single lane: write queue, admission limits, group commit (theory there)
//   batch-commit.ts    one batch → one atomic db.batch: LWW against stored, statistics, row cache
//   read-coalescer.ts  get()s of one event-loop turn in one getMany
//   store-scans.ts     range scans (resumable after a key) and hashed scans
//   purge.ts           range deletes, tombstone purges, purges of records from the future
//   expiry-index.ts    the expiry index kept with every record that expires (issue 17 §3)
//   expiry-purge.ts    purges of expired records, walking that index
//   segment-log.ts     segment hashes kept durable: the log, its sweep, rebuild at open
//   store-meta.ts      the format marker and the exact statistics
//   store-state.ts     the state those parts share (totals, segments, row cache, counts)
//   store-limits.ts    STORE_DEFAULTS and the options;   store-errors.ts  the errors thrown
//
// The database lives in `<dataDir>/db` and holds data records under the token-ordered layout of
// layout.ts, plus this store's meta entries (format, statistics), the segment log and hints.

import type { Token } from "../ring/partitioner.js";
import type { TokenRangeBounds } from "./layout.js";
import type { KeyedRecord, StoredRecord } from "./record.js";
import type { RowCacheStats } from "./row-cache.js";
import type { SegmentReader } from "./segments.js";

export { StoreClosedError, StoreOverloadedError } from "./store-errors.js";
export { STORE_DEFAULTS, type StoreLimits } from "./store-limits.js";
export { LevelStore } from "./level-store.js";
export { openLevelStore } from "./store-open.js";

/** The storage port. LevelStore implements it; an in-memory store for the simulator may follow. */
export interface Store {
  /**
   * The stored version of a key (tombstones included), or undefined. Sees every resolved apply().
   */
  get(key: string): Promise<StoredRecord | undefined>;
  /**
   * Merges the writes into the store, last write wins against what is stored. Resolves once all of
   * them are committed (durable as `sync` promises); rejects with StoreOverloadedError when the
   * write queue is full, StoreClosedError after close().
   */
  apply(writes: readonly KeyedRecord[]): Promise<ApplyResult>;
  /** The records of the token range (start, end], in ring order from just after start. */
  scanRange(range: TokenRangeBounds, options?: ScanOptions): AsyncIterable<ScannedRecord>;
  /**
   * Deletes every record of the token range (start, end], tombstones included, and returns how
   * many. For ranges this node no longer replicates (cleanup after a ring change); writes that land
   * in the range while it runs are deleted too if the scan reaches them, so call it only once the
   * node has stopped being a replica of the range.
   */
  deleteRange(range: TokenRangeBounds): Promise<number>;
  /**
   * Deletes tombstones older than graceUs at nowUs (nowUs - timestampUs > graceUs), and records
   * expired more than graceUs ago (nowUs - expiresAtUs > graceUs, found through the expiry index);
   * returns how many.
   */
  purgeTombstones(nowUs: number, graceUs?: number): Promise<number>;
  /** Records, tombstones and bytes of committed data, for load reports. */
  load(): StoreLoad;
  /**
   * The hash and record count of every token segment (segments.ts), as of the last committed batch.
   */
  segments(): SegmentReader;
  /**
   * The records whose token lies in [first, last] (both inclusive, first <= last), with their
   * 128-bit record hashes, in token order: for segment pieces and the repair exchange. At most
   * `limit` entries; `truncated` says whether there were more. With `include`, only records whose
   * token it accepts are decoded, hashed and returned, and `limit` bounds the records visited: one
   * iterator reads a stretch holding several wanted pieces (antientropy/range-trees.ts scanPieces).
   */
  scanHashed(
    first: Token,
    last: Token,
    limit: number,
    include?: (token: Token) => boolean,
  ): Promise<HashedScan>;
  /** Commits queued writes, then closes. Idempotent. */
  close(): Promise<void>;
}

export interface ApplyResult {
  /** Writes that became the stored version. */
  readonly written: number;
  /**
   * Writes that lost to a stored version, or to another write of the same batch, or were already
   * there.
   */
  readonly superseded: number;
}

export interface ScannedRecord extends KeyedRecord {
  readonly token: Token;
}

export interface ScanOptions {
  /** Records fetched per LevelDB round trip; default 256, at most 4096. */
  readonly batchSize?: number;
  /** Stop after this many records. */
  readonly limit?: number;
  /** Include tombstones (repair and streaming need them). Default true. */
  readonly tombstones?: boolean;
  /**
   * Resume after the data key (range.start, afterKey): that token's keys above afterKey first, then
   * (start, end] (layout.ts dataRangeBoundsAfter). Range streaming's cursor.
   */
  readonly afterKey?: string | null;
}

export interface HashedEntry {
  readonly key: string;
  readonly token: Token;
  readonly timestampUs: number;
  /** segments.ts recordHash of (storage key, encoded record): 16 bytes. */
  readonly hash: Buffer;
}

export interface HashedScan {
  readonly entries: HashedEntry[];
  /** True when the stretch held more than `limit` records. */
  readonly truncated: boolean;
}

export interface StoreLoad {
  /** Live keys: records that are not tombstones. */
  readonly keys: number;
  readonly tombstones: number;
  /** Encoded bytes of data records, keys included (before LevelDB's compression). */
  readonly bytes: number;
}

export interface StoreCounters {
  readonly batchesCommitted: number;
  readonly writesApplied: number;
  readonly writesSuperseded: number;
  readonly overloadRefusals: number;
  readonly tombstonesPurged: number;
  /** Stored records that failed to decode and were replaced by an incoming write. */
  readonly unreadableRecordsReplaced: number;
  readonly queuedWrites: number;
  readonly queuedBytes: number;
  readonly rowCache: RowCacheStats;
}
