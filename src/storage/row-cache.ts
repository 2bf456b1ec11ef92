// storage/row-cache.ts — the stored bytes of recently written or read keys, in memory, so that the
// store can answer a read, and know the version a write replaces, without a LevelDB read. Beside
// the bytes an entry keeps what a write compares and subtracts: the version (timestamp, writer,
// tombstone) and, when known, the record hash of the segment table, so a write that replaces a
// cached record neither decodes nor hashes it again.
//
// Why. Every LevelDB read is a round trip through libuv's thread pool: a futex wake of a worker,
// the read, an eventfd wake of the event loop; on this machine's two cores those context switches
// cost more than the read itself. A write needs the stored version first (last write wins, the
// segment hashes, the statistics), so a replica paid that round trip for every write batch and
// every read batch. Measured on a 3-node local cluster (rf 3, quorum, 10,000 keys, all cached):
// node CPU per GET −25%, per PUT −6% (bench/cpu-per-op.ts). Like Cassandra's row cache, but on by
// default and small, because the store keeps it exact (below) and it costs no extra IO.
//
// Exactness is the store's job (store.ts): an entry is set only from bytes that are what LevelDB
// holds for the key as of the last committed batch — after a batch commits (its winners, and the
// versions its read found and kept), after a range delete or purge (entries dropped), and after a
// read only when no batch committed while it was in flight. Entries are exact-size copies: msgpackr
// and classic-level hand out slices of larger buffers, which a long-lived cache would pin.
//
// Bounds: bytesMax over keys, values and a per-entry overhead; the least recently used entries are
// evicted first (a Map in recency order: a hit moves its key to the end).

import { assert } from "../core/assert.js";

/**
 * What one entry costs beyond its key and bytes: Map slot, the entry object, string, ArrayBuffer
 * and hash.
 */
export const ROW_CACHE_ENTRY_OVERHEAD_BYTES = 256;

/** A cached stored record: its bytes, exactly as LevelDB holds them, and facts about them. */
export interface CachedRow {
  readonly bytes: Uint8Array;
  readonly timestampUs: number;
  readonly writer: string;
  readonly tombstone: boolean;
  /** The record's expiry (record.ts), when it has one: the expiry index entry a write replaces. */
  readonly expiresAtUs?: number;
  /**
   * The record's hash in the segment table (segments.ts Staging.add), or null when not computed.
   */
  readonly hash: Uint32Array | null;
}

export interface RowCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly entries: number;
  readonly bytes: number;
}

/**
 * The bytes in an ArrayBuffer of their own. Not bytes.slice(): on a Buffer that is a view of the
 * same memory (Buffer.prototype.slice is subarray), so each entry pinned the 8 KiB msgpackr buffer
 * its record was encoded into; nor Buffer.from(), which carves small copies out of Node's shared
 * pool.
 */
function ownCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  copy.set(bytes);
  return copy;
}

export class RowCache {
  readonly #entries = new Map<string, CachedRow>();
  readonly #bytesMax: number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(bytesMax: number) {
    assert(
      Number.isSafeInteger(bytesMax) && bytesMax >= 0,
      "the row cache's bytesMax is a non-negative integer",
    );
    this.#bytesMax = bytesMax;
  }

  /**
   * What is stored under `key`, or undefined when not cached (which says nothing about the store).
   */
  get(key: string): CachedRow | undefined {
    const row = this.peek(key);
    if (row !== undefined) {
      // Most recently used goes last: a Map iterates in insertion order, and eviction starts at the
      // front.
      this.#entries.delete(key);
      this.#entries.set(key, row);
    }
    return row;
  }

  /**
   * What get() answers, but leaves the key's recency alone: for a write's read of the version it
   * replaces, which set() refreshes anyway once the batch commits. Moving the key there too cost a
   * Map delete and insert per write (2.5% of node CPU under a PUT load).
   */
  peek(key: string): CachedRow | undefined {
    const row = this.#entries.get(key);
    if (row === undefined) this.#misses++;
    else this.#hits++;
    return row;
  }

  /** Caches what is stored under `key` (the bytes are copied), replacing what was cached for it. */
  set(key: string, row: CachedRow): void {
    const cost = RowCache.#cost(key, row.bytes.length);
    this.delete(key);
    if (cost > this.#bytesMax) return;
    this.#entries.set(key, { ...row, bytes: ownCopy(row.bytes) });
    this.#bytes += cost;
    if (this.#bytes > this.#bytesMax) this.#evict();
  }

  /** Forgets `key` (its stored version changed, or it was deleted). */
  delete(key: string): void {
    const row = this.#entries.get(key);
    if (row === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= RowCache.#cost(key, row.bytes.length);
  }

  stats(): RowCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      entries: this.#entries.size,
      bytes: this.#bytes,
    };
  }

  #evict(): void {
    for (const [key, row] of this.#entries) {
      if (this.#bytes <= this.#bytesMax) break;
      this.#entries.delete(key);
      this.#bytes -= RowCache.#cost(key, row.bytes.length);
      this.#evictions++;
    }
    assert(
      this.#bytes >= 0 && this.#bytes <= this.#bytesMax,
      "the row cache's byte count stays within its bound",
    );
  }

  static #cost(key: string, valueBytes: number): number {
    return key.length * 2 + valueBytes + ROW_CACHE_ENTRY_OVERHEAD_BYTES;
  }
}
