// antientropy/hash-tree.ts — the hash tree of one token range, built from segment hashes.
//
// Theory of operation. A range (start, end] covers a run of the store's fixed token segments
// (storage/segments.ts) in ring order. The run is cut into pieces: a piece is the part of one
// segment inside the range, so every segment strictly inside the range is a whole piece and at most
// the two boundary segments are partial (a range that wraps past TOKEN_MAX, or the whole ring, is
// walked as its stretches, exactly as storage/layout.ts scans it). A whole piece's hash is the
// segment's kept hash; a partial piece's hash is summed on the fly from the few records of that
// segment inside the range (store.scanHashed). Either way a piece's hash is the same function of
// the records it holds, so two replicas with the same records in the range get the same leaves,
// whatever else they hold.
//
// The pieces' hashes are the leaves of a binary Merkle tree built with merkletreejs (a 128-bit
// xxHash64 pair over the two children; an odd last node is carried up unchanged, merkletreejs's
// default). The tree's shape depends only on the number of pieces, which depends only on the range,
// so both replicas address the same node by (depth, index): depth 0 is the root, the children of
// (d, i) are (d + 1, 2i) and (d + 1, 2i + 1) when they exist, and (d, i) spans the leaves
// [i · 2^(height − d), (i + 1) · 2^(height − d)) clipped to the leaf count. The tree also keeps a
// prefix sum of the pieces' record counts, so the records under any node are known without a scan.
//
// The module is pure: pieces and leaves in, tree out. Trees are not maintained per range: the
// segment table is current after every write, and a range's tree is rebuilt from it in a few
// milliseconds per thousand pieces (cached while the table's version is unchanged, range-trees.ts),
// so ranges that change with the ring need no bookkeeping.

import { MerkleTree } from "merkletreejs";
import { assert } from "../core/assert.js";
import { TOKEN_MAX, TOKEN_MIN, isToken, type Token } from "../ring/partitioner.js";
import {
  hash128,
  SEGMENT_HASH_BYTES,
  segmentFirstToken,
  segmentLastToken,
  segmentOf,
} from "../storage/segments.js";

/** A token range (start, end], clockwise; start === end is the whole ring. */
export interface RangeBounds {
  readonly start: Token;
  readonly end: Token;
}

/** The part of one segment inside a range: tokens [first, last], both inclusive. */
export interface RangePiece {
  readonly segment: number;
  readonly first: Token;
  readonly last: Token;
  /** The piece is the whole segment: its hash is the segment's kept hash. */
  readonly whole: boolean;
}

/** A piece's digest: the sum of its records' hashes (16 bytes) and how many there are. */
export interface PieceDigest {
  readonly hash: Uint8Array;
  readonly count: number;
}

/** A node of a range's tree: depth 0 is the root. */
export interface TreeNode {
  readonly depth: number;
  readonly index: number;
}

interface Stretch {
  readonly first: Token;
  readonly last: Token;
  readonly firstSegment: number;
  readonly lastSegment: number;
  /** Index of this stretch's first piece among the range's pieces. */
  readonly offset: number;
}

/**
 * The pieces of a range without listing them: piece i is computed in O(1), so a leaf span costs its
 * own length, not the range's (a whole-ring range has 65,537 pieces).
 */
export class RangeLayout {
  private readonly stretches: Stretch[] = [];
  readonly leafCount: number;

  constructor(readonly range: RangeBounds) {
    const { start, end } = range;
    assert(isToken(start) && isToken(end), () => `not a token range: (${start}, ${end}]`);
    const bounds: [Token, Token][] = [];
    if (start < end) bounds.push([start + 1n, end]);
    else {
      if (start < TOKEN_MAX) bounds.push([start + 1n, TOKEN_MAX]);
      bounds.push([TOKEN_MIN, end]);
    }
    let offset = 0;
    for (const [first, last] of bounds) {
      const stretch = {
        first,
        last,
        firstSegment: segmentOf(first),
        lastSegment: segmentOf(last),
        offset,
      };
      this.stretches.push(stretch);
      offset += stretch.lastSegment - stretch.firstSegment + 1;
    }
    this.leafCount = offset;
  }

  /**
   * The segment of piece i, and whether the piece is the whole segment (no bigint work for those).
   */
  segmentAt(index: number): { segment: number; whole: boolean; stretch: Stretch } {
    assert(
      Number.isSafeInteger(index) && index >= 0 && index < this.leafCount,
      () => `no piece ${index} of ${this.leafCount}`,
    );
    const stretch = (
      index >= (this.stretches[1]?.offset ?? Infinity) ? this.stretches[1] : this.stretches[0]
    ) as Stretch;
    const segment = stretch.firstSegment + (index - stretch.offset);
    const wholeAtStart =
      segment !== stretch.firstSegment || stretch.first === segmentFirstToken(segment);
    const wholeAtEnd =
      segment !== stretch.lastSegment || stretch.last === segmentLastToken(segment);
    return { segment, whole: wholeAtStart && wholeAtEnd, stretch };
  }

  pieceAt(index: number): RangePiece {
    const { segment, whole, stretch } = this.segmentAt(index);
    const segmentFirst = segmentFirstToken(segment);
    const segmentLast = segmentLastToken(segment);
    const first = stretch.first > segmentFirst ? stretch.first : segmentFirst;
    const last = stretch.last < segmentLast ? stretch.last : segmentLast;
    return { segment, first, last, whole };
  }
}

/**
 * The pieces of a range in ring order from just after its start (layout.ts dataRangeBounds order).
 */
export function rangePieces(range: RangeBounds): RangePiece[] {
  const layout = new RangeLayout(range);
  const pieces: RangePiece[] = [];
  for (let index = 0; index < layout.leafCount; index++) pieces.push(layout.pieceAt(index));
  return pieces;
}

// Inner nodes hash their two children's 32 bytes with the segments' 128-bit xxHash64 pair: the tree
// only has to tell replicas apart, not resist an adversary, and this is ~5x cheaper than SHA-256.
function nodeHash(data: Buffer): Buffer {
  return hash128(data);
}

/** The Merkle tree of one range over its pieces' digests. */
export class RangeHashTree {
  /**
   * Layers bottom-up, as merkletreejs builds them: layers[0] are the leaves, the last is the root.
   */
  private readonly layers: Buffer[][];
  /** countPrefix[i] = records in pieces [0, i). */
  private readonly countPrefix: Float64Array;

  constructor(leaves: readonly PieceDigest[]) {
    assert(leaves.length >= 1, "a range has at least one piece");
    const leafHashes = leaves.map((leaf) => {
      assert(leaf.hash.length === SEGMENT_HASH_BYTES, "a piece hash is 16 bytes");
      return Buffer.from(leaf.hash);
    });
    this.layers = new MerkleTree(leafHashes, nodeHash).getLayers();
    this.countPrefix = new Float64Array(leaves.length + 1);
    leaves.forEach((leaf, index) => {
      this.countPrefix[index + 1] = (this.countPrefix[index] ?? 0) + leaf.count;
    });
  }

  /** Levels below the root: 0 for a one-piece range. */
  get height(): number {
    return this.layers.length - 1;
  }

  get leafCount(): number {
    return (this.layers[0] as Buffer[]).length;
  }

  root(): Buffer {
    return this.hashOf({ depth: 0, index: 0 });
  }

  /** Nodes at a depth. */
  widthAt(depth: number): number {
    const layer = this.layers[this.height - depth];
    assert(layer !== undefined, () => `no depth ${depth} in a tree of height ${this.height}`);
    return layer.length;
  }

  has(node: TreeNode): boolean {
    return (
      Number.isSafeInteger(node.depth) &&
      node.depth >= 0 &&
      node.depth <= this.height &&
      Number.isSafeInteger(node.index) &&
      node.index >= 0 &&
      node.index < this.widthAt(node.depth)
    );
  }

  hashOf(node: TreeNode): Buffer {
    assert(this.has(node), () => `no node (${node.depth}, ${node.index})`);
    return (this.layers[this.height - node.depth] as Buffer[])[node.index] as Buffer;
  }

  /** The leaves under a node: [first, end). */
  leafSpan(node: TreeNode): { first: number; end: number } {
    assert(this.has(node), () => `no node (${node.depth}, ${node.index})`);
    const width = 2 ** (this.height - node.depth);
    return { first: node.index * width, end: Math.min((node.index + 1) * width, this.leafCount) };
  }

  /** Records (this replica's) under a node. */
  countUnder(node: TreeNode): number {
    const { first, end } = this.leafSpan(node);
    return this.countInSpan(first, end);
  }

  /** Records (this replica's) in leaves [first, end). */
  countInSpan(first: number, end: number): number {
    return (this.countPrefix[end] ?? 0) - (this.countPrefix[first] ?? 0);
  }
}
