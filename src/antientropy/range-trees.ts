// antientropy/range-trees.ts — a range's tree and its leaves' records, read from the store.
//
// The thin IO layer between the store and the pure tree code: whole pieces take the segment table's
// hash (no disk read), partial pieces are summed from a scan of their few records (at most two per
// range), and a leaf span's records are listed with their hashes for the exchange. Both sides of a
// session use these same functions, so a piece is hashed the same way on each.

import { assert } from "../core/assert.js";
import { RecordDigest, SEGMENT_BITS, segmentFirstToken } from "../storage/segments.js";
import type { Store } from "../storage/store.js";
import { RangeHashTree, RangeLayout, type PieceDigest, type RangeBounds } from "./hash-tree.js";
import type { VersionEntry } from "./tree-diff.js";

export type TreeStore = Pick<Store, "segments" | "scanHashed">;

/** Records summed for one partial piece: a segment holds ~15 records at 1M keys; this is far above. */
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

/** Trees cached per node: a node with 256 vnodes and rf 3 has ~768 ranges; a session works on a chunk. */
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

/**
 * The records of leaves [first, end) of the range, in ring order, with their hashes; null when there
 * are more than `limit` (the caller descends further, or skips the leaf and says so).
 */
export async function listLeafEntries(
  store: TreeStore,
  range: RangeBounds,
  first: number,
  end: number,
  limit: number,
): Promise<VersionEntry[] | null> {
  const layout = new RangeLayout(range);
  assert(first >= 0 && first < end && end <= layout.leafCount, () => `leaves [${first}, ${end}) outside a range of ${layout.leafCount}`);
  // Consecutive pieces are consecutive tokens within a stretch of the range, so a span is at most two
  // scans (one per stretch it touches), not one per leaf.
  const out: VersionEntry[] = [];
  let index = first;
  while (index < end) {
    const startPiece = layout.pieceAt(index);
    const { stretch } = layout.segmentAt(index);
    const stretchEnd = Math.min(end, stretch.offset + (stretch.lastSegment - stretch.firstSegment + 1));
    const lastPiece = layout.pieceAt(stretchEnd - 1);
    const scan = await store.scanHashed(startPiece.first, lastPiece.last, limit - out.length);
    if (scan.truncated) return null;
    for (const entry of scan.entries) out.push({ key: entry.key, timestampUs: entry.timestampUs, hash: entry.hash });
    index = stretchEnd;
  }
  return out;
}

/** The number of leaves of a range's tree, without building it. */
export function leafCountOf(range: RangeBounds): number {
  return new RangeLayout(range).leafCount;
}

/**
 * Buckets below a leaf. At 1M keys a segment holds ~15 records, so a differing leaf's full list costs
 * far more than the record that differs. Both sides then cut the leaf into 2^bits buckets by the next
 * token bits below the segment's (bucket b of segment s: tokens s·2^48 + b·2^(48−bits) onwards),
 * compare the buckets' digests (computed from one scan of the leaf) and list only the buckets that
 * differ: a virtual extra level of tree, built on the fly from a few records.
 */
export const LEAF_BUCKET_BITS_MAX = 8;

function bucketOf(token: bigint, segmentFirst: bigint, bits: number): number {
  return Number((token - segmentFirst) >> BigInt(64 - SEGMENT_BITS - bits));
}

/** The tokens of bucket `bucket` (of 2^bits) of leaf `leaf`, clipped to the leaf's piece; null when outside it. */
export function leafBucketBounds(range: RangeBounds, leaf: number, bits: number, bucket: number): { first: bigint; last: bigint } | null {
  assert(Number.isInteger(bits) && bits >= 1 && bits <= LEAF_BUCKET_BITS_MAX, "bucket bits out of bounds");
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

/** The 16-byte digest of each of the leaf's 2^bits buckets; null when the leaf holds more than `limit` records. */
export async function leafBucketHashes(store: TreeStore, range: RangeBounds, leaf: number, bits: number, limit: number): Promise<Buffer[] | null> {
  assert(Number.isInteger(bits) && bits >= 1 && bits <= LEAF_BUCKET_BITS_MAX, "bucket bits out of bounds");
  const layout = new RangeLayout(range);
  const piece = layout.pieceAt(leaf);
  const scan = await store.scanHashed(piece.first, piece.last, limit);
  if (scan.truncated) return null;
  const digests = Array.from({ length: 2 ** bits }, () => new RecordDigest());
  const segmentFirst = segmentFirstToken(piece.segment);
  for (const entry of scan.entries) (digests[bucketOf(entry.token, segmentFirst, bits)] as RecordDigest).addHash(entry.hash);
  return digests.map((digest) => digest.hash());
}

/** The records of one bucket of a leaf, as listLeafEntries lists a span; null past `limit`. */
export async function listBucketEntries(
  store: TreeStore,
  range: RangeBounds,
  leaf: number,
  bits: number,
  bucket: number,
  limit: number,
): Promise<VersionEntry[] | null> {
  const bounds = leafBucketBounds(range, leaf, bits, bucket);
  if (bounds === null) return [];
  const scan = await store.scanHashed(bounds.first, bounds.last, limit);
  if (scan.truncated) return null;
  return scan.entries.map((entry) => ({ key: entry.key, timestampUs: entry.timestampUs, hash: entry.hash }));
}
