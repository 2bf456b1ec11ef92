// antientropy/range-trees.ts — a range's tree and its leaves' records, read from the store.
//
// The thin IO layer between the store and the pure tree code: whole pieces take the segment table's
// hash (no disk read), partial pieces are summed from a scan of their few records (at most two per
// range), and a leaf span's records are listed with their hashes for the exchange. Both sides of a
// session use these same functions, so a piece is hashed the same way on each.
//
// A round of the exchange asks about hundreds of leaves or buckets at once, most of them a few
// records a few segments apart. Opening one LevelDB iterator per piece made the iterator the cost
// of a large repair (three async hops to read ~15 records), so the batch functions
// (leafBucketHashesMany, listEntriesMany) read all their pieces through scanPieces: pieces sorted
// by token, neighbours whose gap holds few records (by the segment table's counts) read by one
// iterator that skips the gap's records without decoding or hashing them, then each piece's records
// cut out of the sorted result.

import { assert } from "../core/assert.js";
import type { Token } from "../ring/partitioner.js";
import {
  RecordDigest,
  SEGMENT_BITS,
  segmentFirstToken,
  segmentOf,
  type SegmentReader,
} from "../storage/segments.js";
import type { HashedEntry, Store } from "../storage/store.js";
import { RangeHashTree, RangeLayout, type PieceDigest, type RangeBounds } from "./hash-tree.js";
import type { VersionEntry } from "./tree-diff.js";

export type TreeStore = Pick<Store, "segments" | "scanHashed">;

/**
 * Records summed for one partial piece: a segment holds ~15 records at 1M keys; this is far above.
 */
const PIECE_RECORDS_MAX = 10_000_000;

const ZERO_HASH = new Uint8Array(16);

/**
 * Recently built trees, by range and segment-table version: a session asks about the same ranges
 * round after round, and while nothing was written in between the tree is the same. Any committed
 * write bumps the version, so a cached tree is never stale.
 */
export class TreeCache {
  private readonly trees = new Map<string, { version: number; tree: RangeHashTree }>();

  constructor(private readonly entriesMax = TREE_CACHE_ENTRIES_MAX) {}

  async get(store: TreeStore, range: RangeBounds): Promise<RangeHashTree> {
    const key = `${range.start}:${range.end}`;
    const version = store.segments().version;
    const cached = this.trees.get(key);
    if (cached !== undefined && cached.version === version) return cached.tree;
    const tree = await buildRangeTree(store, range);
    // Only kept if nothing committed while it was built (a partial piece's scan may have seen it).
    if (store.segments().version === version) {
      this.trees.delete(key);
      this.trees.set(key, { version, tree });
      while (this.trees.size > this.entriesMax) {
        const [oldest] = this.trees.keys();
        if (oldest === undefined) break;
        this.trees.delete(oldest);
      }
    }
    return tree;
  }
}

/**
 * Trees cached per node: a node with 256 vnodes and rf 3 has ~768 ranges; a session works on a
 * chunk.
 */
const TREE_CACHE_ENTRIES_MAX = 256;

/** The range's tree from the store as it is now. */
export async function buildRangeTree(store: TreeStore, range: RangeBounds): Promise<RangeHashTree> {
  const layout = new RangeLayout(range);
  const segments = store.segments();
  const leaves: PieceDigest[] = new Array<PieceDigest>(layout.leafCount);
  for (let index = 0; index < layout.leafCount; index++) {
    const { segment, whole } = layout.segmentAt(index);
    if (whole) {
      const count = segments.countOf(segment);
      leaves[index] = { hash: count === 0 ? ZERO_HASH : segments.hashOf(segment), count };
      continue;
    }
    const piece = layout.pieceAt(index);
    const scan = await store.scanHashed(piece.first, piece.last, PIECE_RECORDS_MAX);
    const digest = new RecordDigest();
    for (const entry of scan.entries) digest.addHash(entry.hash);
    leaves[index] = { hash: digest.hash(), count: digest.count };
  }
  return new RangeHashTree(leaves);
}

/** A stretch of tokens, both ends inclusive (first <= last). */
export interface TokenPiece {
  readonly first: Token;
  readonly last: Token;
}

export const PIECE_SCAN_LIMITS = {
  /**
   * Records between two wanted pieces that one iterator steps over rather than opening another.
   * Measured on 1M keys (1,024 one-segment pieces): a new iterator costs ~0.2 ms, about what
   * stepping over ~100 records costs; 64 was fastest both for sparse (14% of segments) and dense
   * (60%) asks.
   */
  gapRecordsMax: 64,
  /**
   * Records one grouped scan may visit (wanted and skipped, by the segment counts): bounds memory.
   */
  groupRecordsMax: 65_536,
} as const;

/** Records in segments [from, to] by the table's counts, stopping early once past `stopAbove`. */
function countSegments(
  segments: SegmentReader,
  from: number,
  to: number,
  stopAbove: number,
): number {
  let sum = 0;
  for (let segment = from; segment <= to && sum <= stopAbove; segment++)
    sum += segments.countOf(segment);
  return sum;
}

/** Index of the first entry whose token is >= token (entries in token order). */
function lowerBound(entries: readonly HashedEntry[], token: Token): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((entries[middle] as HashedEntry).token < token) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The records of each piece, in token order, with their hashes; null for a piece holding more than
 * `limitEach`. Pieces may come in any order and may overlap. Neighbouring pieces are read by one
 * iterator (PIECE_SCAN_LIMITS); a group that held far more than the segment counts said (writes
 * landed meanwhile) is read again piece by piece, so the bounds hold whatever the counts were.
 */
export async function scanPieces(
  store: TreeStore,
  pieces: readonly TokenPiece[],
  limitEach: number,
): Promise<(HashedEntry[] | null)[]> {
  const out: (HashedEntry[] | null)[] = new Array<HashedEntry[] | null>(pieces.length).fill(null);
  const order = pieces
    .map((_, index) => index)
    .sort((a, b) => {
      const x = (pieces[a] as TokenPiece).first;
      const y = (pieces[b] as TokenPiece).first;
      return x < y ? -1 : x > y ? 1 : 0;
    });
  const segments = store.segments();
  let at = 0;
  while (at < order.length) {
    const group = nextGroup(segments, pieces, order, at);
    // Between groups, client requests that arrived meanwhile run first (a repair reads beside
    // them).
    if (at !== 0) await new Promise<void>((resolve) => setImmediate(resolve));
    at += group.members.length;
    if (group.members.length === 1) {
      const index = group.members[0] as number;
      const piece = pieces[index] as TokenPiece;
      const scan = await store.scanHashed(piece.first, piece.last, limitEach);
      out[index] = scan.truncated ? null : scan.entries;
      continue;
    }
    await scanGroup(store, pieces, group, limitEach, out);
  }
  return out;
}

/**
 * Pieces read by one iterator: their indexes, the stretch [first, last] it covers, its records by
 * the counts.
 */
interface PieceGroup {
  readonly members: readonly number[];
  readonly first: Token;
  readonly last: Token;
  readonly estimate: number;
}

/**
 * A group: pieces in token order from `start` while the gap to the next is small and the whole
 * stays bounded.
 */
function nextGroup(
  segments: SegmentReader,
  pieces: readonly TokenPiece[],
  order: readonly number[],
  start: number,
): PieceGroup {
  const head = pieces[order[start] as number] as TokenPiece;
  const members: number[] = [order[start] as number];
  let groupLast = head.last;
  let lastSegment = segmentOf(head.last);
  let estimate = countSegments(segments, segmentOf(head.first), lastSegment, Infinity);
  for (let at = start + 1; at < order.length; at++) {
    const piece = pieces[order[at] as number] as TokenPiece;
    const firstSegment = segmentOf(piece.first);
    const pieceLastSegment = segmentOf(piece.last);
    const gap =
      firstSegment > lastSegment + 1
        ? countSegments(
            segments,
            lastSegment + 1,
            firstSegment - 1,
            PIECE_SCAN_LIMITS.gapRecordsMax,
          )
        : 0;
    if (gap > PIECE_SCAN_LIMITS.gapRecordsMax) break;
    const added =
      pieceLastSegment > lastSegment
        ? countSegments(
            segments,
            Math.max(firstSegment, lastSegment + 1),
            pieceLastSegment,
            Infinity,
          )
        : 0;
    if (estimate + gap + added > PIECE_SCAN_LIMITS.groupRecordsMax) break;
    estimate += gap + added;
    members.push(order[at] as number);
    if (piece.last > groupLast) groupLast = piece.last;
    if (pieceLastSegment > lastSegment) lastSegment = pieceLastSegment;
  }
  return { members, first: head.first, last: groupLast, estimate };
}

/**
 * Reads a group with one iterator and hands each piece its slice (null past `limitEach`); when the
 * group held far more than its counts said, each piece is read again alone.
 */
async function scanGroup(
  store: TreeStore,
  pieces: readonly TokenPiece[],
  group: PieceGroup,
  limitEach: number,
  out: (HashedEntry[] | null)[],
): Promise<void> {
  // The wanted tokens as disjoint stretches, for the iterator's filter (tokens arrive ascending).
  const wanted: { first: Token; last: Token }[] = [];
  for (const index of group.members) {
    const piece = pieces[index] as TokenPiece;
    const previous = wanted.at(-1);
    if (previous !== undefined && piece.first <= previous.last + 1n) {
      if (piece.last > previous.last) previous.last = piece.last;
    } else wanted.push({ first: piece.first, last: piece.last });
  }
  let cursor = 0;
  const include = (token: Token): boolean => {
    while (cursor < wanted.length && (wanted[cursor] as TokenPiece).last < token) cursor += 1;
    const stretch = wanted[cursor];
    return stretch !== undefined && stretch.first <= token;
  };
  const scan = await store.scanHashed(
    group.first,
    group.last,
    2 * group.estimate + PIECE_SCAN_LIMITS.gapRecordsMax,
    include,
  );
  for (const index of group.members) {
    const piece = pieces[index] as TokenPiece;
    if (scan.truncated) {
      const alone = await store.scanHashed(piece.first, piece.last, limitEach);
      out[index] = alone.truncated ? null : alone.entries;
      continue;
    }
    const from = lowerBound(scan.entries, piece.first);
    const to = lowerBound(scan.entries, piece.last + 1n);
    out[index] = to - from > limitEach ? null : scan.entries.slice(from, to);
  }
}

/**
 * A question about a range's records: leaves [first, end), or bucket `bucket` of 2^bits of leaf
 * `first`.
 */
export interface EntriesQuestion {
  readonly range: RangeBounds;
  readonly first: number;
  readonly end: number;
  readonly bits?: number | undefined;
  readonly bucket?: number | undefined;
}

/** The token pieces a question covers, in ring order (a span is at most two: one per stretch). */
function questionPieces(question: EntriesQuestion): TokenPiece[] {
  const { range, first, end, bits, bucket } = question;
  if (bits !== undefined && bucket !== undefined) {
    const bounds = leafBucketBounds(range, first, bits, bucket);
    return bounds === null ? [] : [bounds];
  }
  const layout = new RangeLayout(range);
  assert(
    first >= 0 && first < end && end <= layout.leafCount,
    () => `leaves [${first}, ${end}) outside a range of ${layout.leafCount}`,
  );
  const pieces: TokenPiece[] = [];
  let index = first;
  while (index < end) {
    const { stretch } = layout.segmentAt(index);
    const stretchEnd = Math.min(
      end,
      stretch.offset + (stretch.lastSegment - stretch.firstSegment + 1),
    );
    pieces.push({ first: layout.pieceAt(index).first, last: layout.pieceAt(stretchEnd - 1).last });
    index = stretchEnd;
  }
  return pieces;
}

/**
 * Each question's records in ring order with their hashes; null for one holding more than
 * `limitEach` (the caller descends further, or skips the leaf and says so). One batch of scans for
 * all of them.
 */
export async function listEntriesMany(
  store: TreeStore,
  questions: readonly EntriesQuestion[],
  limitEach: number,
): Promise<(VersionEntry[] | null)[]> {
  const owners: number[] = [];
  const pieces: TokenPiece[] = [];
  questions.forEach((question, index) => {
    for (const piece of questionPieces(question)) {
      owners.push(index);
      pieces.push(piece);
    }
  });
  const scanned = await scanPieces(store, pieces, limitEach);
  const out: (VersionEntry[] | null)[] = questions.map(() => []);
  scanned.forEach((entries, at) => {
    const owner = owners[at] as number;
    const list = out[owner];
    if (list === null || list === undefined) return;
    if (entries === null || list.length + entries.length > limitEach) {
      out[owner] = null;
      return;
    }
    for (const entry of entries)
      list.push({ key: entry.key, timestampUs: entry.timestampUs, hash: entry.hash });
  });
  return out;
}

/** The number of leaves of a range's tree, without building it. */
export function leafCountOf(range: RangeBounds): number {
  return new RangeLayout(range).leafCount;
}

/**
 * Buckets below a leaf. At 1M keys a segment holds ~15 records, so a differing leaf's full list
 * costs far more than the record that differs. Both sides then cut the leaf into 2^bits buckets by
 * the next token bits below the segment's (bucket b of segment s: tokens s·2^48 + b·2^(48−bits)
 * onwards), compare the buckets' digests (computed from one scan of the leaf) and list only the
 * buckets that differ: a virtual extra level of tree, built on the fly from a few records.
 */
export const LEAF_BUCKET_BITS_MAX = 8;

function bucketOf(token: bigint, segmentFirst: bigint, bits: number): number {
  return Number((token - segmentFirst) >> BigInt(64 - SEGMENT_BITS - bits));
}

/**
 * The tokens of bucket `bucket` (of 2^bits) of leaf `leaf`, clipped to the leaf's piece; null when
 * outside it.
 */
export function leafBucketBounds(
  range: RangeBounds,
  leaf: number,
  bits: number,
  bucket: number,
): { first: bigint; last: bigint } | null {
  assert(
    Number.isInteger(bits) && bits >= 1 && bits <= LEAF_BUCKET_BITS_MAX,
    "bucket bits out of bounds",
  );
  assert(Number.isInteger(bucket) && bucket >= 0 && bucket < 2 ** bits, "no such bucket");
  const layout = new RangeLayout(range);
  const piece = layout.pieceAt(leaf);
  const width = 1n << BigInt(64 - SEGMENT_BITS - bits);
  const bucketFirst = segmentFirstToken(piece.segment) + BigInt(bucket) * width;
  const bucketLast = bucketFirst + width - 1n;
  const first = bucketFirst > piece.first ? bucketFirst : piece.first;
  const last = bucketLast < piece.last ? bucketLast : piece.last;
  return first <= last ? { first, last } : null;
}

/** A question about one leaf's 2^bits buckets. */
export interface BucketsQuestion {
  readonly range: RangeBounds;
  readonly leaf: number;
  readonly bits: number;
}

/**
 * Per question, the 16-byte digest of each of the leaf's 2^bits buckets; null for a leaf holding
 * more than `limitEach` records.
 */
export async function leafBucketHashesMany(
  store: TreeStore,
  questions: readonly BucketsQuestion[],
  limitEach: number,
): Promise<(Buffer[] | null)[]> {
  const pieces = questions.map(({ range, leaf, bits }) => {
    assert(
      Number.isInteger(bits) && bits >= 1 && bits <= LEAF_BUCKET_BITS_MAX,
      "bucket bits out of bounds",
    );
    return new RangeLayout(range).pieceAt(leaf);
  });
  const scanned = await scanPieces(store, pieces, limitEach);
  return scanned.map((entries, index) => {
    if (entries === null) return null;
    const piece = pieces[index] as (typeof pieces)[number];
    const { bits } = questions[index] as BucketsQuestion;
    const digests = Array.from({ length: 2 ** bits }, () => new RecordDigest());
    const segmentFirst = segmentFirstToken(piece.segment);
    for (const entry of entries)
      (digests[bucketOf(entry.token, segmentFirst, bits)] as RecordDigest).addHash(entry.hash);
    return digests.map((digest) => digest.hash());
  });
}
