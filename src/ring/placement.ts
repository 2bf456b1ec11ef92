// Placement: which nodes hold the replicas of a range.
//
// Theory of operation. This is the Dynamo paper's preference list (§4.3) and Cassandra's
// SimpleStrategy: the replicas of a range are its owner, then the owners met walking clockwise from
// it, skipping nodes already chosen (a node with many vnodes appears once), until
// `replicationFactor` distinct nodes are found or every node is chosen. The primary is always
// first; a ring with fewer nodes than the replication factor places on all of them. Being a
// function of the TokenMap alone, every node that sees the same ring picks the same replicas.
//
// The coordinator asks for replicas on every request, so the lists for a whole ring are computed
// once per TokenMap and replication factor (memoized on the immutable map) and a lookup is then one
// binary search. Computing them walks clockwise from each range: expected O(size · rf) with random
// tokens, O(size²) at worst for adversarial token layouts.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { Token } from "./partitioner.js";
import type { RangeBounds, ReplicaLists, TokenMap, TokenRange } from "./token-map.js";

export interface ReplicatedRange {
  readonly start: Token;
  readonly end: Token;
  readonly replicas: readonly NodeId[];
}

const EMPTY_REPLICAS: readonly NodeId[] = Object.freeze([]);

function assertReplicationFactor(replicationFactor: number): void {
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
    assert(false, () => `replication factor must be a positive integer, got ${replicationFactor}`);
  }
}

/**
 * SimpleStrategy over a whole ring: for each range, the first `replicationFactor` distinct owners
 * walking clockwise from it. `replicationFactor` is already clamped to the number of nodes.
 */
export function simpleStrategy(ring: TokenMap, replicationFactor: number): ReplicaLists {
  const ranges = ring.ranges();
  const size = ranges.length;
  const wanted = Math.min(replicationFactor, ring.nodes().length);
  const lists: (readonly NodeId[])[] = [];
  for (let first = 0; first < size; first++) {
    const replicas: NodeId[] = [];
    for (let step = 0; step < size && replicas.length < wanted; step++) {
      const owner = (ranges[(first + step) % size] as TokenRange).owner;
      if (!replicas.includes(owner)) replicas.push(owner);
    }
    // A replica set has `rf` distinct nodes, or all nodes when there are fewer (ARCHITECTURE §6.4).
    assert(
      replicas.length === wanted,
      () => `range ${first} has ${replicas.length} replicas, wanted ${wanted}`,
    );
    assert(
      new Set(replicas).size === replicas.length,
      () => `range ${first} has a repeated replica: ${replicas.join(",")}`,
    );
    // Not frozen: slice() of a frozen array is an order of magnitude slower in V8, and replicasFor
    // copies each list per request. The readonly type keeps our own code from mutating it.
    lists.push(replicas);
  }
  return Object.freeze(lists);
}

function listsFor(ring: TokenMap, replicationFactor: number): ReplicaLists {
  assertReplicationFactor(replicationFactor);
  // Clamped so that every factor at or above the node count shares one cache entry.
  return ring.replicaLists(simpleStrategy, Math.min(replicationFactor, ring.nodes().length));
}

/**
 * The replicas of the range containing token, primary first: min(replicationFactor, nodes) distinct
 * nodes, none for an empty ring. The returned array is the caller's own; sharedReplicasFor avoids
 * the copy.
 */
export function replicasFor(ring: TokenMap, token: Token, replicationFactor: number): NodeId[] {
  return sharedReplicasFor(ring, token, replicationFactor).slice();
}

/**
 * As replicasFor, without allocating: the list shared by every caller of this ring; do not mutate
 * it.
 */
export function sharedReplicasFor(
  ring: TokenMap,
  token: Token,
  replicationFactor: number,
): readonly NodeId[] {
  if (ring.size === 0) {
    assertReplicationFactor(replicationFactor);
    return EMPTY_REPLICAS;
  }
  return listsFor(ring, replicationFactor)[ring.rangeIndexOf(token)] as readonly NodeId[];
}

/** One entry per range of ring.ranges(), in the same order, with its replicas (primary first). */
export function replicatedRanges(ring: TokenMap, replicationFactor: number): ReplicatedRange[] {
  if (ring.size === 0) {
    assertReplicationFactor(replicationFactor);
    return [];
  }
  const lists = listsFor(ring, replicationFactor);
  return ring.ranges().map((range, index) => ({
    start: range.start,
    end: range.end,
    replicas: lists[index] as readonly NodeId[],
  }));
}

/** The ranges of which `node` holds a replica (as primary or not), in ring order. */
export function rangesReplicatedOn(
  ring: TokenMap,
  node: NodeId,
  replicationFactor: number,
): ReplicatedRange[] {
  return replicatedRanges(ring, replicationFactor).filter((range) => range.replicas.includes(node));
}

// --- Ring changes
// ----------------------------------------------------------------------------------
//
// While a member joins, leaves or is removed there are two rings: the current one (reads) and the
// future one (once the change completes). A replica of a token in the future ring that is not one
// in the current ring is a *pending* replica (Cassandra's pending ranges): writes go to it as well,
// so nothing written while its data streams in is missed, and a write needs one more
// acknowledgement per pending replica (replication/coordinator.ts), so a quorum of either ring
// holds it. The data it will hold is streamed from the current replicas range by range:
// rangeMovements lists, over the ranges cut by the tokens of both rings, which nodes gain a range
// (targets) and which hold it now (sources).

/** A range that gains replicas in a ring change: stream it from one of `sources` to each target. */
export interface RangeMovement {
  readonly start: Token;
  readonly end: Token;
  /** The current replicas, primary first: where the data is now. */
  readonly sources: readonly NodeId[];
  /** Replicas in the future ring that are not replicas now. */
  readonly targets: readonly NodeId[];
}

/** Future replicas of token that are not current replicas: where writes also go during a change. */
export function pendingReplicasFor(
  current: TokenMap,
  future: TokenMap,
  token: Token,
  replicationFactor: number,
): NodeId[] {
  if (future === current || future.size === 0) return [];
  const now = sharedReplicasFor(current, token, replicationFactor);
  const next = sharedReplicasFor(future, token, replicationFactor);
  let pending: NodeId[] | null = null;
  for (const replica of next) {
    if (!now.includes(replica)) (pending ??= []).push(replica);
  }
  return pending ?? [];
}

/**
 * Every range that gains replicas between `current` and `future`, cut at the tokens of both rings
 * and merged where neighbours move the same way, in ring order. Nothing moves out of an empty ring:
 * the first members of a cluster have no data to receive.
 */
export function rangeMovements(
  current: TokenMap,
  future: TokenMap,
  replicationFactor: number,
): RangeMovement[] {
  if (current.size === 0 || future.size === 0) return [];
  const cuts = [...new Set([...current.tokens(), ...future.tokens()])].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const movements: {
    start: Token;
    end: Token;
    sources: readonly NodeId[];
    targets: readonly NodeId[];
  }[] = [];
  for (let index = 0; index < cuts.length; index++) {
    const end = cuts[index] as Token;
    const start = cuts[index === 0 ? cuts.length - 1 : index - 1] as Token;
    const sources = sharedReplicasFor(current, end, replicationFactor);
    const targets = sharedReplicasFor(future, end, replicationFactor).filter(
      (node) => !sources.includes(node),
    );
    if (targets.length === 0) continue;
    const last = movements[movements.length - 1];
    if (
      last !== undefined &&
      last.end === start &&
      sameList(last.sources, sources) &&
      sameList(last.targets, targets)
    ) {
      last.end = end;
    } else {
      movements.push({ start, end, sources, targets });
    }
  }
  // The first and last movement meet across the wrap when they move the same way.
  const first = movements[0];
  const last = movements[movements.length - 1];
  if (
    movements.length > 1 &&
    first !== undefined &&
    last !== undefined &&
    last.end === first.start &&
    sameList(first.sources, last.sources) &&
    sameList(first.targets, last.targets)
  ) {
    first.start = last.start;
    movements.pop();
  }
  return movements;
}

/**
 * The ranges of `ring` that `node` does not replicate, merged where adjacent: what cleanup deletes.
 */
export function rangesNotReplicatedOn(
  ring: TokenMap,
  node: NodeId,
  replicationFactor: number,
): RangeBounds[] {
  if (ring.size === 0 || !ring.nodes().includes(node)) return [];
  const result: { start: Token; end: Token }[] = [];
  for (const range of replicatedRanges(ring, replicationFactor)) {
    if (range.replicas.includes(node)) continue;
    const last = result[result.length - 1];
    if (last !== undefined && last.end === range.start) last.end = range.end;
    else result.push({ start: range.start, end: range.end });
  }
  const first = result[0];
  const last = result[result.length - 1];
  if (result.length > 1 && first !== undefined && last !== undefined && last.end === first.start) {
    first.start = last.start;
    result.pop();
  }
  return result;
}

function sameList(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
