// ring/balanced-tokens.ts — the token allocator nodes use: the tokens a joining node claims, placed
// by looking at the ring it joins.
//
// Theory of operation. A joining node places its tokens so that replicated ownership comes out
// even, as Cassandra's ReplicationAwareTokenAllocator does (CASSANDRA-7032), and so that its tokens
// are spread round the ring. Replicated ownership is what a node's disk and load follow: with
// SimpleStrategy (ring/placement.ts) a node holds its own ranges plus, for each, the ranges before
// it whose replica walk reaches it. The allocator lowers one objective over every member, the
// newcomer included (allocation-objective.ts): the sum of squared relative deviations from even of
// replicated ownership (even: rf/N) plus, weighted, of primary ownership (even: 1/N, a
// coordinator's share), of each range's width (even: 1/(N·T)), of how often one member neighbours
// the newcomer's tokens, and of every member's replicated ownership after each possible removal
// (removalCost).
//
// Spread (issue 21). Balancing ownership alone bunched a node's tokens: up to 7 of 16 in a stretch
// of 1/64 of the ring, balanced only through slivers between them, so a removed member's ranges
// fell to one or two neighbours (42% over even), a joining node streamed from few peers and Merkle
// ranges were uneven. Cassandra's allocator notes the same gap (its removals are not corrected). So
// the ring is cut into T equal arcs, T the newcomer's token count, and the newcomer takes exactly
// one token in each: any stretch of 1/(4T) of the ring meets at most two arcs and so holds at most
// two of its tokens (tokensInFullestStretch, token-spread.ts, measures it). Within its arc a token
// goes where the objective is lowest, which makes it split a wide range of an over-loaded member
// near the middle. The removal term needs no re-tokening: removing X changes no other token, so a
// range whose first rf distinct owners include X gains the next distinct owner after them; one walk
// per range gives, for every X and Y, what Y would gain. Existing members' tokens are never moved;
// only the newcomer's are chosen. Where a token may go, and how candidates are ranked, is
// allocation-candidates.ts.
//
// Greedy then refinement. Each token goes to the best candidate given those placed before it; then
// up to REFINEMENT_ROUNDS_MAX passes take each token out and put it where it now does most good
// within its arc, kept only if the whole objective drops (early tokens were placed knowing least).
// Tokens stay bigints and are placed exactly (allocation-ring.ts).
//
// It is a heuristic, not an optimum: it cannot move existing members' tokens, so an imbalance
// already on the ring (a member that left, or tokens from an older allocator) is only reduced by
// where newcomers land. On an empty ring (the first node of a cluster) the tokens are evenly spaced
// from a random offset. The result depends only on the ring, the replication factor and the Random,
// so it is reproducible and testable. bench/token-allocation.ts measures spread, ownership and the
// spread after a removal for random join/leave sequences at 8, 16 and 32 vnodes against the
// allocator before issue 21; at 16 vnodes a join into 64 nodes takes a few hundred ms.

import { assert } from "../core/assert.js";
import type { Random } from "../core/random.js";
import type { NodeId } from "../core/ids.js";
import { compareTokens, type Token } from "./partitioner.js";
import { rangeContains, rangeWidth, type TokenMap } from "./token-map.js";
import { evenlySpacedTokens, TOKENS_PER_ALLOCATION_MAX } from "./random-tokens.js";
import { arcOf } from "./token-spread.js";
import {
  reinsert,
  RING,
  split,
  unsplit,
  type Allocation,
  type Split,
  type WorkRing,
} from "./allocation-ring.js";
import { objective } from "./allocation-objective.js";
import { bestSplits } from "./allocation-candidates.js";

/** The newcomer's name when the caller gives none: not a valid node id, so it cannot collide. */
const NEWCOMER: NodeId = "\u0000new";

/**
 * Candidates, ranked by the local gain, whose whole objective (with the removal term, which needs
 * the whole ring) is computed before one is taken: each costs one objective, O(N·T + N²). Twelve
 * instead of six doubled the time of a join and did not lower the worst after-removal deviation.
 */
const CANDIDATES_KEPT = 6;

/**
 * Passes that move each placed token to its best place given all the others. Allocation stops
 * early when a pass moves nothing. In bench/ownership.ts (4–32 nodes, median seed, weight 2) the
 * worst replicated deviation was 9–13% without refinement, 1.5–11.5% with 2 passes, 2.6–9.4% with
 * 8.
 */
const REFINEMENT_ROUNDS_MAX = 8;

/**
 * Range evaluations (one range, all its split points) the refinement may spend, which bounds its
 * passes: larger rings or vnode counts get fewer passes rather than a slow join. Each move also
 * computes the whole objective CANDIDATES_KEPT times; a join into 64 nodes × 16 vnodes (all 8
 * passes) takes 0.1–0.5 s on a shared 2-core machine, into 64 × 32 (6 passes) 0.5–1.1 s.
 */
const REFINEMENT_EVALUATIONS_MAX = 400_000;

/**
 * `count` distinct tokens, ascending, for a node joining `ring`, placed to even out replicated and
 * primary ownership at `replicationFactor`, one in each of `count` equal arcs of the ring (see the
 * theory of operation above). `self` must not own tokens on `ring` already.
 */
export function balancedTokens(
  ring: TokenMap,
  count: number,
  replicationFactor: number,
  random: Random,
  self?: NodeId,
): Token[] {
  if (ring.size === 0) return evenlySpacedTokens(random, count);
  assert(
    Number.isSafeInteger(count) && count >= 1,
    () => `token count must be a positive integer, got ${count}`,
  );
  assert(
    count <= TOKENS_PER_ALLOCATION_MAX,
    () => `token count ${count} exceeds ${TOKENS_PER_ALLOCATION_MAX}`,
  );
  assert(
    Number.isSafeInteger(replicationFactor) && replicationFactor >= 1,
    () => `replication factor must be a positive integer, got ${replicationFactor}`,
  );
  assert(
    self === undefined || !ring.nodes().includes(self),
    () => `${self} already owns tokens on this ring`,
  );
  const allocation = startAllocation(ring, count, replicationFactor, self);
  // One token per arc: freeArcs[k] while the newcomer has no token in arc k.
  const freeArcs: boolean[] = new Array<boolean>(count).fill(true);
  const chosen = placeGreedily(allocation, count, freeArcs);
  const rounds = Math.min(
    REFINEMENT_ROUNDS_MAX,
    Math.floor(REFINEMENT_EVALUATIONS_MAX / (count * (ring.size + count))),
  );
  refine(allocation, chosen, freeArcs, rounds);
  const result = [...chosen].sort(compareTokens);
  assert(new Set(result).size === count, "the allocated tokens are distinct");
  assert(
    new Set(result.map((token) => arcOf(token, count))).size === count,
    "one allocated token in each arc",
  );
  for (const token of result)
    assert(!ring.tokens().includes(token), "an allocated token is not on the ring already");
  return result;
}

/** The ring as the allocator works on it, the newcomer (`self`, or NEWCOMER) its last member. */
function startAllocation(
  ring: TokenMap,
  count: number,
  replicationFactor: number,
  self: NodeId | undefined,
): Allocation {
  const names = [...ring.nodes(), self ?? NEWCOMER];
  const index = new Map(names.map((name, position) => [name, position]));
  const members = names.length;
  const replicas = Math.min(replicationFactor, members);
  const work: WorkRing = { tokens: [], owners: [], widths: [] };
  for (const range of ring.ranges()) {
    work.tokens.push(range.end);
    work.owners.push(index.get(range.owner) as number);
    work.widths.push(Number(rangeWidth(range)) / RING);
  }
  return {
    work,
    members,
    newcomer: members - 1,
    replicas,
    primaryEven: 1 / members,
    replicatedEven: replicas / members,
    rangeEven: 1 / (ring.size + count),
  };
}

/** Greedy: each token where it lowers the objective most, among the arcs still free. */
function placeGreedily(allocation: Allocation, count: number, freeArcs: boolean[]): Token[] {
  const chosen: Token[] = [];
  for (let placed = 0; placed < count; placed++) {
    const candidates = bestSplits(allocation, count - placed, freeArcs, CANDIDATES_KEPT);
    assert(candidates.length > 0, "a free arc has a range wide enough to split");
    const best = lowestObjective(allocation, candidates, count);
    chosen.push(split(allocation, best, count));
    freeArcs[best.arc] = false;
  }
  return chosen;
}

/**
 * Refinement: the first tokens were placed knowing least; move each, within its own arc, to where
 * it now does most good, keeping a move only when the objective drops. Updates `chosen` in place.
 */
function refine(
  allocation: Allocation,
  chosen: Token[],
  freeArcs: boolean[],
  rounds: number,
): void {
  const { work } = allocation;
  const count = freeArcs.length;
  for (let round = 0; round < rounds; round++) {
    let moved = false;
    for (let position = 0; position < chosen.length; position++) {
      const before = objective(allocation);
      const old = chosen[position] as Token;
      const arc = arcOf(old, count);
      unsplit(allocation, old);
      freeArcs[arc] = true;
      const candidates = bestSplits(allocation, 1, freeArcs, CANDIDATES_KEPT);
      assert(
        candidates.length > 0 && candidates.every((candidate) => candidate.arc === arc),
        "the arc just freed has a range wide enough to split",
      );
      const best = lowestObjective(allocation, candidates, count);
      const token = split(allocation, best, count);
      freeArcs[arc] = false;
      if (objective(allocation) < before - 1e-12 && !chosen.includes(token)) {
        chosen[position] = token;
        moved = true;
        continue;
      }
      unsplit(allocation, token);
      const back = work.tokens.findIndex((candidate, at) =>
        rangeContains(
          {
            start: work.tokens[(at - 1 + work.tokens.length) % work.tokens.length] as Token,
            end: candidate,
          },
          old,
        ),
      );
      assert(back >= 0, "the ring covers every token");
      reinsert(allocation, back, old);
    }
    if (!moved) break;
  }
}

/**
 * Of a few candidates ranked by their local gain, the one whose whole objective is lowest: the
 * local gain leaves out what a removal would do (removalCost), which only the whole ring shows.
 */
function lowestObjective(
  allocation: Allocation,
  candidates: readonly Split[],
  arcs: number,
): Split {
  let best = candidates[0] as Split;
  if (candidates.length === 1) return best;
  let lowest = Infinity;
  for (const candidate of candidates) {
    const token = split(allocation, candidate, arcs);
    const value = objective(allocation);
    unsplit(allocation, token);
    if (value < lowest) {
      lowest = value;
      best = candidate;
    }
  }
  return best;
}
