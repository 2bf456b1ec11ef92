// ring/token-spread.ts — where one node's tokens fall round the ring: the equal arcs the allocator
// places one token in each of, and how bunched a set of tokens is. Bunched tokens hand a removed
// node's ranges to one or two neighbours (issue 21), so both the allocator and its tests measure
// it.

import { compareTokens, TOKEN_SPACE, type Token } from "./partitioner.js";

/**
 * The arc of `arcs` equal arcs of the ring (arc k is [k/arcs, (k+1)/arcs) of the token space)
 * holding token.
 */
export function arcOf(token: Token, arcs: number): number {
  return Number((token * BigInt(arcs)) / TOKEN_SPACE);
}

/**
 * The most of `tokens` (one node's) that any stretch of the ring `stretch` tokens long holds: how
 * bunched a node's tokens are. Issue 21 bounds it at 2 for stretches of 1/(4·T) of the ring, T
 * being the node's token count; one token per arc (balancedTokens) keeps it so, since such a
 * stretch meets at most two arcs.
 */
export function tokensInFullestStretch(tokens: readonly Token[], stretch: bigint): number {
  const sorted = [...tokens].sort(compareTokens);
  const count = sorted.length;
  let fullest = 0;
  // Stretches starting at each token, [token, token + stretch), wrapping; the fullest starts at
  // one.
  let last = 0;
  for (let first = 0; first < count; first++) {
    if (last < first) last = first;
    const from = sorted[first] as Token;
    while (last + 1 < first + count) {
      const next = sorted[(last + 1) % count] as Token;
      const distance = (next - from + TOKEN_SPACE) % TOKEN_SPACE;
      if (distance >= stretch) break;
      last += 1;
    }
    fullest = Math.max(fullest, last - first + 1);
  }
  return fullest;
}
