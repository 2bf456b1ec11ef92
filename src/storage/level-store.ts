// storage/level-store.ts — the Store port over LevelDB: composes the write lane, the batch commit,
// read coalescing with the row cache, scans, deletions and hints over one database and one shared
// state, and checks at each entry that the store is still open.

import { assert } from "../core/assert.js";
import { tokenOf as partitionerTokenOf, type Token } from "../ring/partitioner.js";
import { commitBatch } from "./batch-commit.js";
import { purgeExpired } from "./expiry-purge.js";
import { fallbackDatabase } from "./fallback-db.js";
import { HintStore, type HintStoreOptions } from "./hints.js";
import { encodeDataKey, type TokenRangeBounds } from "./layout.js";
import { ReadCoalescer } from "./read-coalescer.js";
import { decodeRecord, encodeRecord, type KeyedRecord, type StoredRecord } from "./record.js";
import { RowCache } from "./row-cache.js";
import { deleteRange, deleteStampedAbove, purgeTombstonesBefore } from "./purge.js";
import type { SegmentState } from "./segment-log.js";
import type { SegmentReader } from "./segments.js";
import { StoreClosedError } from "./store-errors.js";
import {
  STORE_DEFAULTS,
  type LevelStoreOptions,
  type StoreDeps,
  type StoreLimits,
} from "./store-limits.js";
import { scanHashed, scanRecords } from "./store-scans.js";
import { rowOf, type Database, type StoreState, type Totals } from "./store-state.js";
import type {
  ApplyResult,
  HashedScan,
  ScannedRecord,
  ScanOptions,
  Store,
  StoreCounters,
  StoreLoad,
} from "./store.js";
import { WriteLane } from "./write-lane.js";

export class LevelStore implements Store {
  private readonly limits: StoreLimits;
  private readonly tombstoneGraceUs: number;
  private readonly tokenOf: (key: string) => Token;
  private readonly onApply: StoreDeps["onApply"];
  private readonly state: StoreState;
  private readonly lane: WriteLane;
  private readonly reads: ReadCoalescer;
  private closed = false;
  private closing: Promise<void> | null = null;
  private hintStore: HintStore | null = null;
  private fallbackStore: HintStore | null = null;

  constructor(
    private readonly db: Database,
    private readonly options: LevelStoreOptions,
    deps: StoreDeps,
    totals: Totals,
    segmentState: SegmentState,
  ) {
    this.limits = {
      recordsPerBatchMax: options.limits?.recordsPerBatchMax ?? STORE_DEFAULTS.recordsPerBatchMax,
      bytesPerBatchMax: options.limits?.bytesPerBatchMax ?? STORE_DEFAULTS.bytesPerBatchMax,
      queuedWritesMax: options.limits?.queuedWritesMax ?? STORE_DEFAULTS.queuedWritesMax,
      queuedBytesMax: options.limits?.queuedBytesMax ?? STORE_DEFAULTS.queuedBytesMax,
      rowCacheBytesMax: options.limits?.rowCacheBytesMax ?? STORE_DEFAULTS.rowCacheBytesMax,
    };
    const rowCache = new RowCache(this.limits.rowCacheBytesMax);
    for (const [name, value] of Object.entries(this.limits)) {
      assert(
        Number.isSafeInteger(value) && value >= 1,
        () => `store limit ${name} must be a positive integer`,
      );
    }
    this.tombstoneGraceUs = options.tombstoneGraceUs ?? STORE_DEFAULTS.tombstoneGraceUs;
    assert(
      Number.isSafeInteger(this.tombstoneGraceUs) && this.tombstoneGraceUs >= 0,
      "tombstoneGraceUs must be >= 0",
    );
    this.tokenOf = deps.tokenOf ?? partitionerTokenOf;
    this.onApply = deps.onApply;
    const counts = {
      batchesCommitted: 0,
      writesApplied: 0,
      writesSuperseded: 0,
      overloadRefusals: 0,
      tombstonesPurged: 0,
      unreadableRecordsReplaced: 0,
    };
    this.state = { db, sync: options.sync, rowCache, segmentState, totals, commits: 0, counts };
    this.lane = new WriteLane(this.limits, {
      commit: (batch) => commitBatch(this.state, batch),
      onOverload: () => {
        counts.overloadRefusals += 1;
      },
    });
    this.reads = new ReadCoalescer(db);
  }

  async get(key: string): Promise<StoredRecord | undefined> {
    if (this.closed) throw new StoreClosedError("the store is closed");
    const cached = this.state.rowCache.get(key);
    if (cached !== undefined) return decodeRecord(cached.bytes);
    const commitsBefore = this.state.commits;
    const bytes = await this.reads.read(encodeDataKey(this.tokenOf(key), key));
    if (bytes === undefined) return undefined;
    const record = decodeRecord(bytes);
    // Only when no batch committed meanwhile: one that did may have replaced what this read found.
    if (this.state.commits === commitsBefore)
      this.state.rowCache.set(key, rowOf(bytes, record, null));
    return record;
  }

  async apply(writes: readonly KeyedRecord[]): Promise<ApplyResult> {
    // Everything up to the queue push runs synchronously, so admission sees the queue as it is.
    if (this.closed) throw new StoreClosedError("the store is closed");
    if (writes.length === 0) return { written: 0, superseded: 0 };
    this.onApply?.(writes);

    const encoded = writes.map(({ key, record, encoded: given }) => {
      const storageKey = encodeDataKey(this.tokenOf(key), key);
      const value = given ?? encodeRecord(record);
      return { key, storageKey, record, value, bytes: storageKey.length + value.length };
    });
    const bytes = encoded.reduce((sum, write) => sum + write.bytes, 0);
    return this.lane.admit(encoded, bytes);
  }

  async *scanRange(
    range: TokenRangeBounds,
    options: ScanOptions = {},
  ): AsyncGenerator<ScannedRecord> {
    if (this.closed) throw new StoreClosedError("the store is closed");
    yield* scanRecords(this.db, range, options);
  }

  async deleteRange(range: TokenRangeBounds): Promise<number> {
    if (this.closed) throw new StoreClosedError("the store is closed");
    return deleteRange(this.state, this.lane, range);
  }

  /**
   * Deletes those of the keys whose stored record is stamped above timestampUsAbove, as read inside
   * the write lane (a record replaced meanwhile is judged by its replacement). For the operator's
   * purge of records from the future (issue 14 §2): last-write-wins cannot replace them, so they
   * are removed outright. At most purgeBatchSizeMax keys per call. Returns how many it deleted.
   */
  async deleteStampedAbove(keys: readonly string[], timestampUsAbove: number): Promise<number> {
    if (this.closed) throw new StoreClosedError("the store is closed");
    if (keys.length === 0) return 0;
    assert(
      keys.length <= STORE_DEFAULTS.purgeBatchSizeMax,
      "deleteStampedAbove takes one purge batch at a time",
    );
    const storageKeys = keys.map((key) => encodeDataKey(this.tokenOf(key), key));
    return deleteStampedAbove(this.state, this.lane, storageKeys, timestampUsAbove);
  }

  async purgeTombstones(nowUs: number, graceUs: number = this.tombstoneGraceUs): Promise<number> {
    if (this.closed) throw new StoreClosedError("the store is closed");
    assert(
      Number.isSafeInteger(nowUs) && Number.isSafeInteger(graceUs) && graceUs >= 0,
      "purge needs integer µs",
    );
    // Purged when nowUs - timestampUs > graceUs, i.e. timestampUs < cutoffUs; an expired record
    // when nowUs - expiresAtUs > graceUs (storage/expiry.ts), found through the expiry index.
    const cutoffUs = nowUs - graceUs;
    const tombstones = await purgeTombstonesBefore(this.state, this.lane, cutoffUs);
    return tombstones + (await purgeExpired(this.state, this.lane, { nowUs, graceUs }));
  }

  load(): StoreLoad {
    const totals = this.state.totals;
    return {
      keys: totals.records - totals.tombstones,
      tombstones: totals.tombstones,
      bytes: totals.bytes,
    };
  }

  segments(): SegmentReader {
    return this.state.segmentState.table;
  }

  async scanHashed(
    first: Token,
    last: Token,
    limit: number,
    include?: (token: Token) => boolean,
  ): Promise<HashedScan> {
    if (this.closed) throw new StoreClosedError("the store is closed");
    return scanHashed(this.db, first, last, limit, include);
  }

  counters(): StoreCounters {
    const counts = this.state.counts;
    return {
      batchesCommitted: counts.batchesCommitted,
      writesApplied: counts.writesApplied,
      writesSuperseded: counts.writesSuperseded,
      overloadRefusals: counts.overloadRefusals,
      tombstonesPurged: counts.tombstonesPurged,
      unreadableRecordsReplaced: counts.unreadableRecordsReplaced,
      queuedWrites: this.lane.queuedWrites,
      queuedBytes: this.lane.bytesQueued,
      rowCache: this.state.rowCache.stats(),
    };
  }

  /**
   * The hints kept in this database (hints.ts), sharing this store's write lane so hint batches are
   * ordered with data batches and as durable. Opened once; later calls return the same HintStore.
   */
  async openHints(options: Omit<HintStoreOptions, "sync"> = {}): Promise<HintStore> {
    if (this.closed) throw new StoreClosedError("the store is closed");
    if (this.hintStore === null) {
      this.hintStore = await HintStore.open(this.db, (task) => this.lane.exclusive(task), {
        ...options,
        sync: this.options.sync,
      });
    }
    return this.hintStore;
  }

  /**
   * The fallback copies this node holds for down primaries (fallback-db.ts): a second hint store,
   * in its own namespace, sharing the write lane. Opened once, like openHints.
   */
  async openFallbacks(options: Omit<HintStoreOptions, "sync"> = {}): Promise<HintStore> {
    if (this.closed) throw new StoreClosedError("the store is closed");
    if (this.fallbackStore === null) {
      this.fallbackStore = await HintStore.open(
        fallbackDatabase(this.db),
        (task) => this.lane.exclusive(task),
        { ...options, sync: this.options.sync },
      );
    }
    return this.fallbackStore;
  }

  /** Commits queued writes, then closes. Idempotent. */
  close(): Promise<void> {
    if (this.closing === null) {
      this.closed = true;
      this.closing = (async () => {
        await this.hintStore?.flush();
        await this.fallbackStore?.flush();
        await this.lane.whenIdle();
        await this.lane.tail();
        await this.db.close();
      })();
    }
    return this.closing;
  }
}
