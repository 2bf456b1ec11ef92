// bench/lib/ring-measures.ts — how evenly a ring is shared, for the token benches: each node's
// primary and replicated ownership (SimpleStrategy, as ring/placement.ts places replicas), the
// worst deviation from the mean, and the worst replicated deviation left after removing one member.

import type { NodeId } from "../../src/core/ids.js";
import { TOKEN_SPACE, type Token } from "../../src/ring/partitioner.js";
import { replicatedRanges } from "../../src/ring/placement.js";
import { rangeWidth, TokenMap } from "../../src/ring/token-map.js";
import { tokensInFullestStretch } from "../../src/ring/tokens.js";

const RING = Number(TOKEN_SPACE);

/**
 * Each member's share of the ring it holds a replica of at `replicationFactor` (what its disk
 * holds).
 */
export function replicatedShares(ring: TokenMap, replicationFactor: number): Map<NodeId, number> {
  const shares = new Map<NodeId, number>(ring.nodes().map((node) => [node, 0]));
  for (const range of replicatedRanges(ring, replicationFactor)) {
    const width = Number(rangeWidth(range)) / RING;
    for (const replica of range.replicas) shares.set(replica, (shares.get(replica) ?? 0) + width);
  }
  return shares;
}

/** Largest |share − mean| / mean over the members. */
export function worstDeviation(shares: Iterable<number>): number {
  const values = [...shares];
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return Math.max(...values.map((value) => Math.abs(value - mean) / mean));
}

export interface RingFigures {
  /** Most tokens of one node in any stretch of 1/(4·T) of the ring (T: its token count). */
  readonly fullestStretch: number;
  readonly primaryDeviation: number;
  readonly replicatedDeviation: number;
  /**
   * The worst replicated deviation over every choice of one member to remove (others keep their
   * tokens).
   */
  readonly afterRemovalDeviation: number;
}

export function ringFigures(
  owners: ReadonlyMap<NodeId, readonly Token[]>,
  replicationFactor: number,
): RingFigures {
  const ring = TokenMap.build(owners);
  let fullestStretch = 0;
  for (const tokens of owners.values()) {
    fullestStretch = Math.max(
      fullestStretch,
      tokensInFullestStretch(tokens, TOKEN_SPACE / BigInt(4 * tokens.length)),
    );
  }
  let afterRemovalDeviation = 0;
  if (owners.size >= 2) {
    for (const removed of owners.keys()) {
      const left = TokenMap.build(new Map([...owners].filter(([id]) => id !== removed)));
      afterRemovalDeviation = Math.max(
        afterRemovalDeviation,
        worstDeviation(replicatedShares(left, replicationFactor).values()),
      );
    }
  }
  return {
    fullestStretch,
    primaryDeviation: worstDeviation(ring.ownership().values()),
    replicatedDeviation: worstDeviation(replicatedShares(ring, replicationFactor).values()),
    afterRemovalDeviation,
  };
}
