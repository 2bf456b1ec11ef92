// storage/layout.ts — how Grapevine's keys are laid out in LevelDB's one sorted key space.
//
// Theory of operation. LevelDB orders keys bytewise, so the layout chooses bytes whose order is the
// order we scan in. Every storage key starts with one namespace byte, so data, hints and node meta
// state share one database (one log, one fsync) without colliding: `d` data, `f` fallback copies
// (fallback-db.ts), `h` hints, `m` meta, `s` segment hashes (segments.ts), `x` the expiry index
// (expiry-index.ts).
// A data key is `d` ++ token as 8 bytes big-endian ++ the key's UTF-8 bytes. Big-endian unsigned
// bytes compare like the numbers, and the token field has a fixed width, so bytewise order of
// storage keys is the order of (token, UTF-8 key bytes): one token range is one contiguous scan.
// That is what repair and range streaming depend on (Cassandra's sstables are sorted by token for
// the same reason, and Riak's leveled backend prefixes keys by bucket the same way).
//
// A token range is (start, end] going clockwise and wrapping past TOKEN_MAX to 0n, as in
// ring/token-map.ts; start === end is the whole ring. A wrapping range is two contiguous scans,
// returned in ring order (from just after start, clockwise), so a scan walks the range as the ring
// does. The module is pure: bytes in, bytes out.

import { assert } from "../core/assert.js";
import { STORED_KEY_BYTES_MAX } from "./bucket-keys.js";
import { isToken, TOKEN_MAX, TOKEN_MIN, type Token } from "../ring/partitioner.js";

/**
 * The first byte of every storage key. Chosen as letters so a raw dump of the DB stays readable.
 */
export const NAMESPACE = {
  data: 0x64, // "d"
  /**
   * Fallback copies (issue 16 §4 sloppy quorum): writes this node holds for a down primary replica,
   * stored as hints are (hint-codec.ts) but apart from this node's own (fallback-db.ts).
   */
  fallbacks: 0x66, // "f"
  hints: 0x68, // "h"
  meta: 0x6d, // "m"
  /**
   * Segment hashes (segments.ts): `s` ++ log sequence (8 bytes, big-endian) → changed segment
   * states.
   */
  segments: 0x73, // "s"
  /**
   * The expiry index (issue 17 §3, expiry-index.ts): `x` ++ expiresAtUs (8 bytes, big-endian) ++
   * the data key of a record that expires then, so expired records are found in time order.
   */
  expiry: 0x78, // "x"
} as const;

export type Namespace = keyof typeof NAMESPACE;

/** A token as stored: 64 bits, big-endian, so bytewise order is numeric order. */
export const TOKEN_BYTES = 8;

export const LAYOUT_LIMITS = {
  /**
   * A stored key's bytes at most: a user's key (SPEC §2, 1 to 1024 bytes of UTF-8) with its bucket
   * (bucket-keys.ts). The API refuses longer user keys; here it is an invariant.
   */
  keyBytesMax: STORED_KEY_BYTES_MAX,
  /** Meta entries are named by code, never by users. */
  metaNameBytesMax: 64,
} as const;

/**
 * A token range (start, end], clockwise; start === end is the whole ring. Same shape as ring's
 * RangeBounds.
 */
export interface TokenRangeBounds {
  readonly start: Token;
  readonly end: Token;
}

/** A contiguous stretch of storage keys: every key k with gte <= k < lt, bytewise. */
export interface KeyBounds {
  readonly gte: Buffer;
  readonly lt: Buffer;
}

/** A data key split back into its parts. */
export interface DecodedDataKey {
  readonly token: Token;
  readonly key: string;
}

const DATA_HEADER_BYTES = 1 + TOKEN_BYTES;

function tokenBytes(namespace: number, token: Token): Buffer {
  const bytes = Buffer.allocUnsafe(DATA_HEADER_BYTES);
  bytes[0] = namespace;
  bytes.writeBigUInt64BE(token, 1);
  return bytes;
}

/** `d` ++ token (8 bytes, big-endian) ++ UTF-8 key. */
export function encodeDataKey(token: Token, key: string): Buffer {
  assert(isToken(token), () => `not a 64-bit token: ${token}`);
  const keyBytes = Buffer.byteLength(key, "utf8");
  assert(
    keyBytes >= 1 && keyBytes <= LAYOUT_LIMITS.keyBytesMax,
    () => `a key is 1 to ${LAYOUT_LIMITS.keyBytesMax} UTF-8 bytes, got ${keyBytes}`,
  );
  const bytes = Buffer.allocUnsafe(DATA_HEADER_BYTES + keyBytes);
  bytes[0] = NAMESPACE.data;
  bytes.writeBigUInt64BE(token, 1);
  bytes.write(key, DATA_HEADER_BYTES, "utf8");
  return bytes;
}

/**
 * The inverse of encodeDataKey. Only data keys read back from our own DB reach it: a bad one is a
 * bug.
 */
export function decodeDataKey(storageKey: Uint8Array): DecodedDataKey {
  assert(
    storageKey.length > DATA_HEADER_BYTES && storageKey[0] === NAMESPACE.data,
    "not a data key: wrong namespace or too short",
  );
  const bytes = Buffer.from(storageKey.buffer, storageKey.byteOffset, storageKey.byteLength);
  return { token: bytes.readBigUInt64BE(1), key: bytes.toString("utf8", DATA_HEADER_BYTES) };
}

/** The token of a data key, without decoding the key text. */
export function tokenOfDataKey(storageKey: Uint8Array): Token {
  assert(
    storageKey.length > DATA_HEADER_BYTES && storageKey[0] === NAMESPACE.data,
    "not a data key",
  );
  return Buffer.from(
    storageKey.buffer,
    storageKey.byteOffset,
    storageKey.byteLength,
  ).readBigUInt64BE(1);
}

/** All storage keys of one namespace. */
export function namespaceBounds(namespace: Namespace): KeyBounds {
  const byte = NAMESPACE[namespace];
  return { gte: Buffer.from([byte]), lt: Buffer.from([byte + 1]) };
}

/**
 * `m` ++ name: one entry of node meta state (store statistics, format version, later tree state).
 */
export function metaKey(name: string): Buffer {
  const nameBytes = Buffer.byteLength(name, "utf8");
  assert(
    nameBytes >= 1 && nameBytes <= LAYOUT_LIMITS.metaNameBytesMax,
    () => `bad meta name ${JSON.stringify(name)}`,
  );
  const bytes = Buffer.allocUnsafe(1 + nameBytes);
  bytes[0] = NAMESPACE.meta;
  bytes.write(name, 1, "utf8");
  return bytes;
}

/**
 * `s` ++ sequence (8 bytes, big-endian): one entry of the segment log (segments.ts), the segment
 * states one batch changed (with a step of the rolling sweep), or a checkpoint of all of them.
 * Bytewise order is log order.
 */
export function segmentLogKey(sequence: number): Buffer {
  assert(Number.isSafeInteger(sequence) && sequence >= 0, () => `not a log sequence: ${sequence}`);
  const bytes = Buffer.allocUnsafe(1 + 8);
  bytes[0] = NAMESPACE.segments;
  bytes.writeBigUInt64BE(BigInt(sequence), 1);
  return bytes;
}

/** The inverse of segmentLogKey; only keys read back from our own DB reach it. */
export function decodeSegmentLogKey(storageKey: Uint8Array): number {
  assert(storageKey.length === 9 && storageKey[0] === NAMESPACE.segments, "not a segment log key");
  return Number(
    Buffer.from(storageKey.buffer, storageKey.byteOffset, storageKey.byteLength).readBigUInt64BE(1),
  );
}

/** Data keys whose token lies in [first, last], both inclusive (for segment pieces and scans). */
export function tokenStretch(first: Token, last: Token): KeyBounds {
  return inclusiveTokenBounds(first, last);
}

/** Data keys whose token lies in [first, last], both inclusive. */
function inclusiveTokenBounds(first: Token, last: Token): KeyBounds {
  assert(first <= last, "inclusive token bounds must not be empty");
  // The stretch ends before the first key of the next token; past TOKEN_MAX, at the next namespace.
  const lt =
    last === TOKEN_MAX ? Buffer.from([NAMESPACE.data + 1]) : tokenBytes(NAMESPACE.data, last + 1n);
  return { gte: tokenBytes(NAMESPACE.data, first), lt };
}

/**
 * The storage-key stretches holding exactly the data of the range (start, end], in ring order from
 * just after start: one stretch, or two when the range wraps past TOKEN_MAX (start >= end).
 */
export function dataRangeBounds(range: TokenRangeBounds): KeyBounds[] {
  const { start, end } = range;
  assert(isToken(start) && isToken(end), () => `not a token range: (${start}, ${end}]`);
  if (start < end) return [inclusiveTokenBounds(start + 1n, end)];
  // Wrapping, or the whole ring when start === end: (start, TOKEN_MAX] then [TOKEN_MIN, end].
  const stretches: KeyBounds[] = [];
  if (start < TOKEN_MAX) stretches.push(inclusiveTokenBounds(start + 1n, TOKEN_MAX));
  stretches.push(inclusiveTokenBounds(TOKEN_MIN, end));
  return stretches;
}

/**
 * The storage-key stretches of what is left of a range once a scan has passed the data key
 * (start, afterKey): the keys of token `start` that sort after afterKey (UTF-8 bytewise, as
 * stored), then the range (start, end] as dataRangeBounds gives it; when start === end, that token
 * was the range's last and only its tail is left. afterKey null is dataRangeBounds itself. This is
 * the resume point of range streaming (topology/stream.ts): a position between two storage keys, so
 * a resumed scan never repeats a key nor skips one, however many keys share a token.
 */
export function dataRangeBoundsAfter(
  range: TokenRangeBounds,
  afterKey: string | null,
): KeyBounds[] {
  if (afterKey === null) return dataRangeBounds(range);
  const { start, end } = range;
  // The smallest byte string above a storage key is that key followed by a zero byte.
  const gte = Buffer.concat([encodeDataKey(start, afterKey), Buffer.from([0])]);
  const lt =
    start === TOKEN_MAX
      ? Buffer.from([NAMESPACE.data + 1])
      : tokenBytes(NAMESPACE.data, start + 1n);
  const tail: KeyBounds = { gte, lt };
  return start === end ? [tail] : [tail, ...dataRangeBounds(range)];
}
