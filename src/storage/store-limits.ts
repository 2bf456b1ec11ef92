// storage/store-limits.ts — the store's limits and options, gathered where they can be seen
// together (ARCHITECTURE §6.3): each limit says why it has its value and what happens at it.

import type { Token } from "../ring/partitioner.js";
import type { KeyedRecord } from "./record.js";
import type { Database } from "./store-state.js";

export const STORE_DEFAULTS = {
  /**
   * At ~7 µs per record, a full batch holds the lane ~7 ms: long enough to amortize, short for
   * latency.
   */
  recordsPerBatchMax: 1_024,
  /**
   * LevelDB's default write buffer is 4 MiB; a larger batch would force a memtable switch
   * mid-batch.
   */
  bytesPerBatchMax: 4 * 1024 * 1024,
  /**
   * About 0.2 s of backlog at 80k writes/s: past it a replica is overloaded and should say so fast.
   */
  queuedWritesMax: 16_384,
  /** Memory held by writes waiting for a batch. */
  queuedBytesMax: 64 * 1024 * 1024,
  /** Stored records kept in memory (row-cache.ts): ~150,000 records of 100 B. */
  rowCacheBytesMax: 32 * 1024 * 1024,
  /** Records read per LevelDB round trip during a scan. */
  scanBatchSizeDefault: 256,
  scanBatchSizeMax: 4_096,
  /** Keys read in one getMany; a turn with more reads sends several. */
  readsPerGetManyMax: 1_024,
  /** Tombstones deleted per lane turn during a purge, so a purge never stalls writes for long. */
  purgeBatchSizeMax: 1_024,
  /**
   * Ten days in microseconds: Cassandra's gc_grace_seconds default, longer than any repair cycle.
   */
  tombstoneGraceUs: 10 * 24 * 3600 * 1_000_000,
} as const;

export interface StoreLimits {
  readonly recordsPerBatchMax: number;
  readonly bytesPerBatchMax: number;
  readonly queuedWritesMax: number;
  readonly queuedBytesMax: number;
  readonly rowCacheBytesMax: number;
}

export interface LevelStoreOptions {
  readonly dataDir: string;
  /** SPEC §1 --sync: fsync LevelDB's log before a write is acknowledged. */
  readonly sync: boolean;
  readonly tombstoneGraceUs?: number;
  readonly limits?: Partial<StoreLimits>;
}

export interface StoreDeps {
  /** Key → token. Defaults to ring/partitioner's tokenOf; tests inject explicit tokens. */
  readonly tokenOf?: (key: string) => Token;
  /**
   * The database of `<dataDir>/db`, not yet opened (openLevelStore opens it). Defaults to LevelDB
   * on the file system; the simulator gives its disk's (sim/sim-disk.ts).
   */
  readonly openDatabase?: (location: string) => Database;
  /**
   * Told of every apply() as it is made, before its writes queue in the lane: the simulator notes
   * the wall clock at which the node took each record, since the disk lands it later
   * (sim/future-record-watch.ts). Absent: nobody is.
   */
  readonly onApply?: (writes: readonly KeyedRecord[]) => void;
}
