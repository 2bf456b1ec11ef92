// antientropy/tree-diff.ts — which parts of a range two replicas hold differently, and who sends
// what.
//
// Theory of operation. Two replicas of a range build the same-shaped tree (hash-tree.ts) and
// compare it top-down, as Dynamo (§4.7) and riak_core's hashtree.erl do, in rounds. The initiator
// holds its own tree and a frontier of nodes whose hashes differ from the peer's (at first only the
// root). In a round it asks the peer for the hashes of every descendant `levelsPerRound` levels
// below each frontier node (or at the leaves, when they are closer): several levels per round trip
// trade a few hashes that turn out equal for fewer round trips. The descendants whose hashes differ
// form the next frontier. A differing node stops the descent once it is a leaf, or once the
// initiator holds at most entryKeysMax records under it: from there, exchanging the keys and
// versions of its leaves costs less than hashing further down. Equal hashes prune whole subtrees,
// so an in-sync range costs the single root comparison, and the work grows with the number of
// differing leaves, not the data.
//
// For the leaves reached, each side lists its records as (key, timestamp, hash prefix), and
// diffEntries decides, per key, what moves: a key only one side holds goes to the other; a key both
// hold with equal hashes moves nowhere; otherwise the newer timestamp's holder sends it, and on a
// tie of timestamps (different writer, tombstone or value) both send, so the receiving stores
// resolve it by their own last-write-wins (storage/record.ts) and neither side has to know the rule
// here. Tombstones are records like any other, so deletes move exactly as writes do.
//
// Hash windows are compared rather than whole hashes because the wire carries windows
// (repair-protocol.ts): 4 bytes of a node hash (rotating per session, see NODE_HASH_BYTES), 8 bytes
// of a record hash.
// The module is pure.

import { assert } from "../core/assert.js";
import type { TreeNode } from "./hash-tree.js";

/**
 * Bytes of each record hash the entry lists carry: a false "same version" is a 2^-64 event per key.
 */
export const WIRE_HASH_BYTES = 8;

/**
 * Bytes of each tree node hash on the wire: a window of the node's 16-byte hash. Descent is most of
 * a repair's bytes, so windows are short (a false "equal" is a 2^-32 event per differing node), and
 * a session picks one of NODE_HASH_WINDOWS disjoint windows (repair-session.ts, by session number):
 * a subtree that a false match hid in one session is compared on other bytes in the next, so no
 * divergence stays hidden unless the full 128-bit hashes collide.
 */
export const NODE_HASH_BYTES = 4;
export const NODE_HASH_WINDOWS = 16 / NODE_HASH_BYTES;

export const TREE_DIFF_DEFAULTS = {
  /**
   * Levels descended per round trip: 4 hashes per differing node a round, half the round trips of
   * binary descent.
   */
  levelsPerRound: 2,
  /**
   * Below this many records under a differing node, exchange its keys and versions instead of
   * descending.
   */
  entryKeysMax: 2,
} as const;

/** What the diff needs of a tree: its shape, its hashes and its counts. */
export interface TreeView {
  readonly height: number;
  widthAt(depth: number): number;
  hashOf(node: TreeNode): Uint8Array;
  countUnder(node: TreeNode): number;
}

export interface DescentOptions {
  readonly levelsPerRound: number;
  readonly entryKeysMax: number;
  /** Bytes of each node hash compared: the window the wire carries. */
  readonly hashBytes: number;
  /** Where the window starts in our 16-byte node hashes (0 when absent). */
  readonly hashOffset?: number;
}

/** The nodes `levels` below `node`, or its leaves when they are closer, left to right. */
export function descendants(
  tree: Pick<TreeView, "height" | "widthAt">,
  node: TreeNode,
  levels: number,
): TreeNode[] {
  assert(Number.isSafeInteger(levels) && levels >= 1, "descend at least one level");
  assert(node.depth < tree.height, "a leaf has no descendants");
  const depth = Math.min(node.depth + levels, tree.height);
  const fanout = 2 ** (depth - node.depth);
  const first = node.index * fanout;
  const end = Math.min(first + fanout, tree.widthAt(depth));
  const out: TreeNode[] = [];
  for (let index = first; index < end; index++) out.push({ depth, index });
  return out;
}

/** The descendants of every frontier node, in frontier order: what one round asks the peer for. */
export function roundQuestions(
  tree: Pick<TreeView, "height" | "widthAt">,
  frontier: readonly TreeNode[],
  levels: number,
): TreeNode[] {
  return frontier.flatMap((node) => descendants(tree, node, levels));
}

function samePrefix(a: Uint8Array, b: Uint8Array, bytes: number): boolean {
  if (a.length < bytes || b.length < bytes) return false;
  for (let i = 0; i < bytes; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * True when our hash's window [offset, offset + hashBytes) equals the peer's (which is just that
 * window).
 */
export function hashesMatch(
  own: Uint8Array,
  peer: Uint8Array,
  hashBytes: number,
  offset = 0,
): boolean {
  return samePrefix(own.subarray(offset, offset + hashBytes), peer, hashBytes);
}

export interface RoundOutcome {
  /** Differing nodes to descend further next round. */
  readonly descend: TreeNode[];
  /** Differing nodes whose leaves' keys and versions are exchanged. */
  readonly exchange: TreeNode[];
  /** Nodes compared this round. */
  readonly compared: number;
}

/** Decides what a differing node needs: more descent, or the exchange of its keys and versions. */
export function classify(
  tree: TreeView,
  differing: readonly TreeNode[],
  options: DescentOptions,
): Omit<RoundOutcome, "compared"> {
  const descend: TreeNode[] = [];
  const exchange: TreeNode[] = [];
  for (const node of differing) {
    if (node.depth >= tree.height || tree.countUnder(node) <= options.entryKeysMax)
      exchange.push(node);
    else descend.push(node);
  }
  return { descend, exchange };
}

/**
 * Compares the peer's hashes of `asked` (same order) with ours and classifies the ones that differ.
 */
export function compareRound(
  tree: TreeView,
  asked: readonly TreeNode[],
  peerHashes: readonly Uint8Array[],
  options: DescentOptions,
): RoundOutcome {
  assert(asked.length === peerHashes.length, "one peer hash per node asked");
  const differing: TreeNode[] = [];
  asked.forEach((node, index) => {
    if (
      !hashesMatch(
        tree.hashOf(node),
        peerHashes[index] as Uint8Array,
        options.hashBytes,
        options.hashOffset ?? 0,
      )
    ) {
      differing.push(node);
    }
  });
  return { ...classify(tree, differing, options), compared: asked.length };
}

/** One record's version as listed for the exchange. */
export interface VersionEntry {
  readonly key: string;
  readonly timestampUs: number;
  /** The record hash, or a prefix of it at least hashBytes long. */
  readonly hash: Uint8Array;
}

export interface EntryDiff {
  /** Keys the initiator sends: the peer lacks them or holds an older or conflicting version. */
  readonly push: string[];
  /** Keys the initiator asks for: it lacks them or holds an older or conflicting version. */
  readonly pull: string[];
}

/** Per key, who sends what (see the theory of operation). Keys are unique within each list. */
export function diffEntries(
  own: readonly VersionEntry[],
  peer: readonly VersionEntry[],
  hashBytes: number,
): EntryDiff {
  const theirs = new Map<string, VersionEntry>();
  for (const entry of peer) theirs.set(entry.key, entry);
  const push: string[] = [];
  const pull: string[] = [];
  const seen = new Set<string>();
  for (const mine of own) {
    seen.add(mine.key);
    const other = theirs.get(mine.key);
    if (other === undefined) {
      push.push(mine.key);
      continue;
    }
    if (samePrefix(mine.hash, other.hash, hashBytes)) continue;
    if (mine.timestampUs >= other.timestampUs) push.push(mine.key);
    if (other.timestampUs >= mine.timestampUs) pull.push(mine.key);
  }
  for (const other of peer) if (!seen.has(other.key)) pull.push(other.key);
  return { push, pull };
}
