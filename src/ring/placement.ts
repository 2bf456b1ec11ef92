// Placement: which nodes hold the replicas of a range.
//
// Theory of operation. This is the Dynamo paper's preference list (§4.3) and Cassandra's
// SimpleStrategy: the replicas of a range are its owner, then the owners met walking clockwise from
// it, skipping nodes already chosen (a node with many vnodes appears once), until `replicationFactor`
// distinct nodes are found or every node is chosen. The primary is always first; a ring with fewer
// nodes than the replication factor places on all of them. Being a function of the TokenMap alone,
// every node that sees the same ring picks the same replicas.
//
// The coordinator asks for replicas on every request, so the lists for a whole ring are computed
// once per TokenMap and replication factor (memoized on the immutable map) and a lookup is then one
// binary search. Computing them walks clockwise from each range: expected O(size · rf) with random
// tokens, O(size²) at worst for adversarial token layouts.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { Token } from "./partitioner.js";
import type { ReplicaLists, TokenMap, TokenRange } from "./token-map.js";

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
    assert(replicas.length === wanted, () => `range ${first} has ${replicas.length} replicas, wanted ${wanted}`);
    assert(new Set(replicas).size === replicas.length, () => `range ${first} has a repeated replica: ${replicas.join(",")}`);
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

/** As replicasFor, without allocating: the list shared by every caller of this ring; do not mutate it. */
export function sharedReplicasFor(ring: TokenMap, token: Token, replicationFactor: number): readonly NodeId[] {
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
  return ring.ranges().map((range, index) => ({ start: range.start, end: range.end, replicas: lists[index] as readonly NodeId[] }));
}

/** The ranges of which `node` holds a replica (as primary or not), in ring order. */
export function rangesReplicatedOn(ring: TokenMap, node: NodeId, replicationFactor: number): ReplicatedRange[] {
  return replicatedRanges(ring, replicationFactor).filter((range) => range.replicas.includes(node));
}
