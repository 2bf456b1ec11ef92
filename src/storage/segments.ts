// storage/segments.ts — hashes of fixed token segments, kept current on every write.
//
// Theory of operation. The ring's 2^64 tokens are cut into SEGMENT_COUNT fixed segments by the top
// SEGMENT_BITS bits of the token (the first two bytes of a data key after its namespace byte, so
// the segment of a stored key is read straight from its bytes). Segments do not depend on the ring:
// they survive restarts and ring changes, and the hash tree of any token range is built from the
// segments it covers (antientropy/hash-tree.ts). This is riak_core's hashtree.erl idea (trees kept
// up to date as data is written, so an in-sync range costs one root comparison) with the segment
// fixed by token rather than by the ring's partition.
//
// A segment's state is (hash, count): the hash is the sum modulo 2^128 of the record hashes of the
// records whose token lies in it, the count is how many there are. A record hash is 128 bits of
// xxHash64 over (storage key, encoded record): two 64-bit halves with different seeds, each chained
// through the key's hash, so the key, the timestamp, the writer, the tombstone flag and the value
// all count. A sum is order-independent (writes commute: replicas that hold the same records hold
// the same hashes, whatever order the records arrived in), removable (a newer version subtracts the
// old record's hash and adds its own; a purge subtracts), and, unlike XOR, two records never cancel
// out: a record held twice counts twice, and equal sums of different sets are as likely as a
// 128-bit collision. Not cryptographic: replicas trust each other (a cluster secret guards the
// routes).
//
// Persistence is a log, so the write path pays one extra LevelDB put per batch, not one per touched
// segment: each data batch carries one log entry holding the new states of the segments it changed
// (SEGMENT_STATE_BYTES each), in the same LevelDB batch, so the table on disk and the data agree
// after any crash. At open the log is replayed in order (a later state of a segment replaces an
// earlier one). The log is kept short by a rolling sweep rather than by checkpoints: each entry
// also carries the current states of the next sweepSegmentsPerEntry segments of a cursor that
// cycles through all of them, so once entries after some entry E have swept SEGMENT_COUNT segments,
// every segment's state is in a later entry than E, and E (with everything before it) is deleted in
// the same batch. A checkpoint of the whole table every 4,096 batches cost one batch ~200 KiB and
// ~4,096 deletes, which held the write lane for tens of ms (the p99 of a client at half load
// tripled); the sweep spreads that cost over the entries, ~350 bytes and one delete each.
//
// The module is pure arithmetic on typed arrays and bytes; store.ts does the IO.

import xxhash from "xxhash-wasm";
import { assert } from "../core/assert.js";
import type { Token } from "../ring/partitioner.js";

/**
 * Top token bits naming a segment: 65,536 segments, ~15 keys each at 1M keys, 1.25 MiB of table.
 */
export const SEGMENT_BITS = 16;
export const SEGMENT_COUNT = 2 ** SEGMENT_BITS;
/** Tokens per segment: 2^48. */
export const SEGMENT_SPAN: bigint = 1n << BigInt(64 - SEGMENT_BITS);

/** A segment or record hash: 128 bits, four little-endian 32-bit limbs. */
export const SEGMENT_HASH_BYTES = 16;
/** A stored segment entry: the hash, then the record count (uint32 LE). */
export const SEGMENT_ENTRY_BYTES = SEGMENT_HASH_BYTES + 4;

const LIMBS = 4;
const SEED_KEY = 0x5e9_0001n;
const SEED_LOW = 0x5e9_0002n;
const SEED_HIGH = 0x5e9_0003n;

// One WebAssembly hasher, created once: it holds no state, the same input always gives the same
// hash.
const hasher = await xxhash();

/** The segment of a token. */
export function segmentOf(token: Token): number {
  return Number(token >> BigInt(64 - SEGMENT_BITS));
}

/** The first token of a segment. */
export function segmentFirstToken(segment: number): Token {
  return BigInt(segment) << BigInt(64 - SEGMENT_BITS);
}

/** The last token of a segment. */
export function segmentLastToken(segment: number): Token {
  return segmentFirstToken(segment) + SEGMENT_SPAN - 1n;
}

/** The segment of a data key (namespace byte, then the token big-endian): its bytes 1 and 2. */
export function segmentOfDataKey(storageKey: Uint8Array): number {
  return ((storageKey[1] ?? 0) << 8) | (storageKey[2] ?? 0);
}

const scratch = Buffer.alloc(SEGMENT_HASH_BYTES);

/**
 * The 128-bit hash of one stored record, written into `out` as four 32-bit limbs at `offset`.
 * storageKey is the data key (it holds the token and the key), encoded the record's bytes.
 */
export function recordHashInto(
  storageKey: Uint8Array,
  encoded: Uint8Array,
  out: Uint32Array,
  offset = 0,
): void {
  const keyHash = hasher.h64Raw(storageKey, SEED_KEY);
  scratch.writeBigUInt64LE(hasher.h64Raw(encoded, keyHash ^ SEED_LOW), 0);
  scratch.writeBigUInt64LE(hasher.h64Raw(encoded, keyHash ^ SEED_HIGH), 8);
  out[offset] = scratch.readUInt32LE(0);
  out[offset + 1] = scratch.readUInt32LE(4);
  out[offset + 2] = scratch.readUInt32LE(8);
  out[offset + 3] = scratch.readUInt32LE(12);
}

/**
 * 128 bits of xxHash64 (two seeds) of arbitrary bytes: the tree's inner node hash (hash-tree.ts).
 */
export function hash128(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(SEGMENT_HASH_BYTES);
  out.writeBigUInt64LE(hasher.h64Raw(bytes, SEED_LOW), 0);
  out.writeBigUInt64LE(hasher.h64Raw(bytes, SEED_HIGH), 8);
  return out;
}

/** The record hash as 16 bytes (what scans and the exchange carry). */
export function recordHash(storageKey: Uint8Array, encoded: Uint8Array): Buffer {
  const limbs = new Uint32Array(LIMBS);
  recordHashInto(storageKey, encoded, limbs);
  return limbsToBytes(limbs, 0);
}

/** target[t..t+4) += source[s..s+4) modulo 2^128. */
export function addLimbs(target: Uint32Array, t: number, source: Uint32Array, s: number): void {
  let carry = 0;
  for (let limb = 0; limb < LIMBS; limb++) {
    const sum = (target[t + limb] ?? 0) + (source[s + limb] ?? 0) + carry;
    target[t + limb] = sum >>> 0;
    carry = sum > 0xffff_ffff ? 1 : 0;
  }
}

/** target[t..t+4) -= source[s..s+4) modulo 2^128. */
export function subtractLimbs(
  target: Uint32Array,
  t: number,
  source: Uint32Array,
  s: number,
): void {
  let borrow = 0;
  for (let limb = 0; limb < LIMBS; limb++) {
    const difference = (target[t + limb] ?? 0) - (source[s + limb] ?? 0) - borrow;
    target[t + limb] = difference >>> 0;
    borrow = difference < 0 ? 1 : 0;
  }
}

function limbsToBytes(limbs: Uint32Array, offset: number): Buffer {
  const bytes = Buffer.allocUnsafe(SEGMENT_HASH_BYTES);
  for (let limb = 0; limb < LIMBS; limb++) bytes.writeUInt32LE(limbs[offset + limb] ?? 0, limb * 4);
  return bytes;
}

/** The order-independent digest of a set of records: the same (hash, count) a segment keeps. */
export class RecordDigest {
  readonly limbs = new Uint32Array(LIMBS);
  count = 0;

  /** Adds a record hash given as 16 bytes. */
  addHash(hash: Uint8Array): void {
    assert(hash.length === SEGMENT_HASH_BYTES, "a record hash is 16 bytes");
    const view = Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength);
    const limbs = new Uint32Array([
      view.readUInt32LE(0),
      view.readUInt32LE(4),
      view.readUInt32LE(8),
      view.readUInt32LE(12),
    ]);
    addLimbs(this.limbs, 0, limbs, 0);
    this.count += 1;
  }

  hash(): Buffer {
    return limbsToBytes(this.limbs, 0);
  }
}

/** A read-only view of the segment table. */
export interface SegmentReader {
  /**
   * Grows by one with every committed change: equal versions mean equal tables (trees can be
   * cached).
   */
  readonly version: number;
  /** The 16-byte hash of a segment (all zero when it holds no record). */
  hashOf(segment: number): Buffer;
  /** Records (tombstones included) in a segment. */
  countOf(segment: number): number;
}

/** Hash limbs, then the count: one segment's state in a flat array. */
const STATE_WORDS = LIMBS + 1;

/** The in-memory table of every segment's (hash, count), one flat array (no object per segment). */
export class SegmentTable implements SegmentReader {
  private readonly states = new Uint32Array(SEGMENT_COUNT * STATE_WORDS);
  version = 0;

  hashOf(segment: number): Buffer {
    checkSegment(segment);
    return limbsToBytes(this.states, segment * STATE_WORDS);
  }

  countOf(segment: number): number {
    checkSegment(segment);
    return this.states[segment * STATE_WORDS + LIMBS] ?? 0;
  }

  /** Copies a segment's state into `target` at `at` (a batch's staging). */
  readState(segment: number, target: Uint32Array, at: number): void {
    target.set(
      this.states.subarray(segment * STATE_WORDS, segment * STATE_WORDS + STATE_WORDS),
      at,
    );
  }

  /**
   * Installs a batch's staged states: called only after the batch that persisted them committed.
   */
  install(staging: Staging): void {
    this.version += 1;
    staging.forEachState((segment, states, at) => {
      const base = segment * STATE_WORDS;
      for (let word = 0; word < STATE_WORDS; word++)
        this.states[base + word] = states[at + word] ?? 0;
    });
  }

  /** Loads one persisted entry (at open). */
  load(segment: number, entry: Uint8Array): void {
    checkSegment(segment);
    this.version += 1;
    this.states.set(decodeSegmentEntry(entry), segment * STATE_WORDS);
  }

  /** A log entry holding every segment that holds at least one record: a checkpoint. */
  encodeCheckpoint(): Buffer {
    const segments: number[] = [];
    for (let segment = 0; segment < SEGMENT_COUNT; segment++) {
      if ((this.states[segment * STATE_WORDS + LIMBS] ?? 0) > 0) segments.push(segment);
    }
    return this.encodeSegments(segments);
  }

  /** Log-entry bytes of these segments' current states. */
  encodeSegments(segments: readonly number[]): Buffer {
    return encodeStates(segments, this.states, (segment) => segment * STATE_WORDS);
  }
}

function checkSegment(segment: number): void {
  assert(
    Number.isInteger(segment) && segment >= 0 && segment < SEGMENT_COUNT,
    () => `not a segment: ${segment}`,
  );
}

/**
 * The segment changes of one batch: each touched segment's state is copied from the table once,
 * changed here, persisted in the batch, and installed in the table only after the batch committed,
 * so a failed batch leaves the table as the disk is. Flat arrays, so a batch of a thousand writes
 * allocates a few arrays, not a thousand.
 */
export class Staging {
  private readonly slots = new Map<number, number>();
  private readonly segments: number[] = [];
  private states = new Uint32Array(64 * STATE_WORDS);
  private readonly hash = new Uint32Array(LIMBS);

  constructor(private readonly table: SegmentTable) {}

  private slotOf(segment: number): number {
    let slot = this.slots.get(segment);
    if (slot === undefined) {
      slot = this.segments.length;
      if ((slot + 1) * STATE_WORDS > this.states.length) {
        const grown = new Uint32Array(this.states.length * 2);
        grown.set(this.states);
        this.states = grown;
      }
      this.table.readState(segment, this.states, slot * STATE_WORDS);
      this.slots.set(segment, slot);
      this.segments.push(segment);
    }
    return slot * STATE_WORDS;
  }

  /**
   * A record now stored under storageKey with these bytes. Returns its record hash (LIMBS words),
   * to be handed back to remove() when it is replaced: the caller may keep it (the store's row
   * cache).
   */
  add(storageKey: Uint8Array, encoded: Uint8Array): Uint32Array {
    const at = this.slotOf(segmentOfDataKey(storageKey));
    const hash = new Uint32Array(LIMBS);
    recordHashInto(storageKey, encoded, hash);
    addLimbs(this.states, at, hash, 0);
    this.states[at + LIMBS] = (this.states[at + LIMBS] ?? 0) + 1;
    return hash;
  }

  /**
   * A record that was stored under storageKey with these bytes is replaced or deleted; `hash`, when
   * known, is its record hash as add() returned it (saves hashing the bytes again).
   */
  remove(storageKey: Uint8Array, encoded: Uint8Array, hash: Uint32Array | null = null): void {
    const at = this.slotOf(segmentOfDataKey(storageKey));
    if (hash === null) recordHashInto(storageKey, encoded, this.hash);
    subtractLimbs(this.states, at, hash ?? this.hash, 0);
    assert((this.states[at + LIMBS] ?? 0) > 0, "a segment's record count went below zero");
    this.states[at + LIMBS] = (this.states[at + LIMBS] ?? 0) - 1;
  }

  get size(): number {
    return this.segments.length;
  }

  forEachState(visit: (segment: number, states: Uint32Array, at: number) => void): void {
    this.segments.forEach((segment, slot) => visit(segment, this.states, slot * STATE_WORDS));
  }

  /** The log entry persisting this batch's segment states. */
  encode(): Buffer {
    return encodeStates(this.segments, this.states, (_segment, slot) => slot * STATE_WORDS);
  }

  /**
   * The log entry persisting this batch's segment states, then the table's states of the non-empty
   * segments among `count` segments from `from` (cyclic) that this batch does not touch: one step
   * of the rolling sweep (see the header).
   */
  encodeWithSweep(from: number, count: number): Buffer {
    checkSegment(from);
    assert(
      Number.isInteger(count) && count >= 0 && count <= SEGMENT_COUNT,
      "a sweep covers 0 to SEGMENT_COUNT segments",
    );
    const touched = this.encode();
    const swept: number[] = [];
    for (let step = 0; step < count; step++) {
      const segment = (from + step) % SEGMENT_COUNT;
      if (!this.slots.has(segment) && this.table.countOf(segment) > 0) swept.push(segment);
    }
    if (swept.length === 0) return touched;
    const sweep = this.table.encodeSegments(swept);
    return Buffer.concat([touched, sweep], touched.length + sweep.length);
  }
}

function encodeStates(
  segments: readonly number[],
  states: Uint32Array,
  offsetOf: (segment: number, slot: number) => number,
): Buffer {
  const bytes = Buffer.allocUnsafe(segments.length * SEGMENT_STATE_BYTES);
  segments.forEach((segment, slot) => {
    const at = slot * SEGMENT_STATE_BYTES;
    const from = offsetOf(segment, slot);
    bytes.writeUInt16BE(segment, at);
    for (let word = 0; word < STATE_WORDS; word++)
      bytes.writeUInt32LE(states[from + word] ?? 0, at + 2 + word * 4);
  });
  return bytes;
}

/** A segment's persisted value: 16 hash bytes, then the count (uint32 LE). */

/** One segment in a log entry: the segment (uint16 BE), then its entry. */
export const SEGMENT_STATE_BYTES = 2 + SEGMENT_ENTRY_BYTES;

export const SEGMENT_LOG_LIMITS = {
  /**
   * Entries one full sweep takes, so about how many the log keeps (up to twice as many just after
   * an open, whose loaded entries wait for a full sweep): replaying them at open takes well under a
   * second.
   */
  segmentLogEntriesMax: 4_096,
  /** Segments each entry sweeps: one full sweep per segmentLogEntriesMax entries. */
  sweepSegmentsPerEntry: SEGMENT_COUNT / 4_096,
} as const;

/** Replays one log entry into the table. */
export function replaySegmentLogEntry(table: SegmentTable, entry: Uint8Array): void {
  assert(entry.length % SEGMENT_STATE_BYTES === 0, "a segment log entry is whole segment states");
  for (let at = 0; at < entry.length; at += SEGMENT_STATE_BYTES) {
    const segment = ((entry[at] ?? 0) << 8) | (entry[at + 1] ?? 0);
    table.load(segment, entry.subarray(at + 2, at + SEGMENT_STATE_BYTES));
  }
}

export function decodeSegmentEntry(entry: Uint8Array): Uint32Array {
  assert(
    entry.length === SEGMENT_ENTRY_BYTES,
    () => `a segment entry is ${SEGMENT_ENTRY_BYTES} bytes, got ${entry.length}`,
  );
  const view = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength);
  const state = new Uint32Array(LIMBS + 1);
  for (let limb = 0; limb <= LIMBS; limb++) state[limb] = view.readUInt32LE(limb * 4);
  return state;
}
