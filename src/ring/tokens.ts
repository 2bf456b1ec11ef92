// Token allocation: the tokens a new node claims on the ring.
//
// Theory of operation. Two allocators live here.
//
// balancedTokens (what nodes use): a joining node looks at the ring it is joining and places its
// tokens so that replicated ownership comes out even, as Cassandra's ReplicationAwareTokenAllocator
// does (CASSANDRA-7032), and so that its tokens are spread round the ring. Replicated ownership is
// what a node's disk and load follow: with SimpleStrategy (ring/placement.ts) a node holds its own
// ranges plus, for each, the ranges before it whose replica walk reaches it. The allocator lowers one
// objective over every member, the newcomer included: the sum of squared relative deviations from even
// of replicated ownership (even: rf/N) plus, weighted, of primary ownership (even: 1/N, a coordinator's
// share), of each range's width (even: 1/(N·T)), of how often one member neighbours the newcomer's
// tokens, and of every member's replicated ownership after each possible removal (removalCost).
//
// Spread (issue 21). Balancing ownership alone bunched a node's tokens: up to 7 of 16 in a stretch of
// 1/64 of the ring, balanced only through slivers between them, so a removed member's ranges fell to
// one or two neighbours (42% over even), a joining node streamed from few peers and Merkle ranges were
// uneven. Cassandra's allocator notes the same gap (its removals are not corrected). So the ring is
// cut into T equal arcs, T the newcomer's token count, and the newcomer takes exactly one token in
// each: any stretch of 1/(4T) of the ring meets at most two arcs and so holds at most two of its
// tokens (tokensInFullestStretch measures it). Within its arc a token goes where the objective is
// lowest, which makes it split a wide range of an over-loaded member near the middle. The removal
// term needs no re-tokening: removing X changes no other token, so a range whose first rf distinct
// owners include X gains the next distinct owner after them; one walk per range gives, for every X
// and Y, what Y would gain. Existing members' tokens are never moved; only the newcomer's are chosen.
//
// Candidates. In every range with a part in an arc where the newcomer has no token yet, a token may go
// at 1/4, 1/2 or 3/4 of it or where the newcomer's part is 0.5–1.5 times its quota (primary share
// still needed / tokens still to place), each moved inside the arc if it falls outside, or at the
// middle of the range's part in the arc; the newcomer takes (start, token] and the owner keeps
// (token, end]. A candidate is scored by its change to the objective, computed locally: the
// newcomer's part moves primary from the owner and makes the newcomer a replica of it in place of its
// last replica; each range just before it whose replica walk reaches it before finding rf owners now
// meets the newcomer first, displacing that walk's last replica. The CANDIDATES_KEPT best by that
// score are then compared by the whole objective, which alone sees the removal term.
// Greedy then refinement. Each token goes to the best candidate given those placed before it; then up
// to REFINEMENT_ROUNDS_MAX passes take each token out and put it where it now does most good within
// its arc, kept only if the whole objective drops (early tokens were placed knowing least). Tokens are
// bigints: a split point is `amount` past the range's start with 1 ≤ amount < width, so it is strictly
// inside an existing range and can neither collide with the ring nor repeat; scoring uses doubles,
// kept ARC_EDGE_MARGIN inside an arc so rounding cannot carry a token into the next one (asserted).
//
// It is a heuristic, not an optimum: it cannot move existing members' tokens, so an imbalance already
// on the ring (a member that left, or tokens from an older allocator) is only reduced by where
// newcomers land. On an empty ring (the first node of a cluster) the tokens are evenly spaced from a
// random offset. The result depends only on the ring, the replication factor and the Random, so it is
// reproducible and testable. bench/token-allocation.ts measures spread, ownership and the spread after
// a removal for random join/leave sequences at 8, 16 and 32 vnodes against the allocator before issue
// 21; at 16 vnodes a join into 64 nodes takes a few hundred ms.
//
// randomTokens (the old way, kept for comparison and for tests): a node takes `vnodes` tokens
// chosen uniformly at random, as Cassandra did before its allocation algorithm and as the Dynamo
// paper's "strategy 1" (§6.2) does: many small random ranges per node even out each node's share of the ring (the spread narrows roughly as
// 1/sqrt(vnodes)) and let a joining node take load from many members at once. Chance comes from a
// seeded Random, so a node's tokens are reproducible from its seed. Each token is two 32-bit draws
// (high word, low word) since one draw carries only 32 bits. Collisions between nodes are possible
// but vanishingly rare (p ≈ n²/2^65) and TokenMap.build resolves them deterministically; collisions
// within one call are redrawn here, so the result is always `count` distinct tokens.

import { assert } from "../core/assert.js";
import type { Random } from "../core/random.js";
import type { NodeId } from "../core/ids.js";
import { compareTokens, TOKEN_SPACE, type Token } from "./partitioner.js";
import { rangeContains, rangeWidth, type TokenMap } from "./token-map.js";

/** Tokens one call may allocate: far above any vnodes setting (config caps it at 256). */
export const TOKENS_PER_ALLOCATION_MAX = 65_536;

/**
 * Extra draws allowed beyond `count` for redrawing duplicates. A sound 64-bit source needs none; a
 * source that keeps repeating itself is broken, and at this limit the allocation fails an assertion
 * instead of looping forever.
 */
export const REDRAWS_PER_ALLOCATION_MAX = 64;

const WORD_SPACE = 0x1_0000_0000;

/** One 32-bit draw. Random.next() is in [0, 1), so the floor stays below 2^32. */
function drawWord(random: Random): bigint {
  return BigInt(Math.floor(random.next() * WORD_SPACE));
}

/** `count` distinct tokens, ascending, from a seeded Random (the same seed gives the same tokens). */
export function randomTokens(random: Random, count: number): Token[] {
  assert(Number.isSafeInteger(count) && count >= 0, () => `token count must be a non-negative integer, got ${count}`);
  assert(count <= TOKENS_PER_ALLOCATION_MAX, () => `token count ${count} exceeds ${TOKENS_PER_ALLOCATION_MAX}`);
  const chosen = new Set<Token>();
  let draws = 0;
  while (chosen.size < count) {
    draws += 1;
    assert(draws <= count + REDRAWS_PER_ALLOCATION_MAX, "random source keeps repeating tokens; is it seeded properly?");
    chosen.add((drawWord(random) << 32n) | drawWord(random));
  }
  return [...chosen].sort(compareTokens);
}

/** A 64-bit draw: a random offset on the ring. */
function drawToken(random: Random): Token {
  return (drawWord(random) << 32n) | drawWord(random);
}

/** `count` tokens evenly spaced around the ring from a random offset: the first node of a cluster. */
export function evenlySpacedTokens(random: Random, count: number): Token[] {
  assert(Number.isSafeInteger(count) && count >= 1, () => `token count must be a positive integer, got ${count}`);
  assert(count <= TOKENS_PER_ALLOCATION_MAX, () => `token count ${count} exceeds ${TOKENS_PER_ALLOCATION_MAX}`);
  const step = TOKEN_SPACE / BigInt(count);
  const offset = drawToken(random) % step;
  const tokens: Token[] = [];
  for (let index = 0; index < count; index++) tokens.push(offset + step * BigInt(index));
  return tokens.sort(compareTokens);
}

/** The newcomer's name when the caller gives none: not a valid node id, so it cannot collide. */
const NEWCOMER: NodeId = "\u0000new";

/**
 * Where in a range a candidate token may go, as a fraction of the range: the newcomer takes
 * (start, start + fraction × width]. With the quota points (below) this is Cassandra's choice of a
 * few split points per range; finer steps were not tried.
 */
const CANDIDATE_FRACTIONS = [0.25, 0.5, 0.75] as const;

/**
 * Weight of primary against replicated ownership in the objective. Both are squared deviations from
 * even, relative to even. Primary counts double: it is what the ±15% check of issue 5 reads and what
 * a coordinator's share of requests follows. With two refinement passes, weight 1 let the worst
 * primary deviation reach 12.6% at 16 nodes in bench/ownership.ts, weight 2 10.4%; with eight passes
 * and weight 2 it stays under 6% from 3 to 32 nodes, replicated under 11%.
 */
const PRIMARY_WEIGHT = 2;

/**
 * Weight of the range-width term: squared deviation of each range's width from even, relative to
 * even. Small, since there are N·T ranges against N members; it makes a token split a wide range
 * near its middle rather than shave a sliver off it. Wide ranges are what a removal hands over in
 * one piece: before it, the widest range of a 64-node ring was ~5 times even, and one neighbour took
 * 18% of a removed node's load. Each term (this, NEIGHBOUR_WEIGHT, REMOVAL_WEIGHT) was measured by
 * growing 3 → 64 nodes at 16 vnodes, at 16 of the sizes, with the removal term still squared:
 * dropping this one took the worst after-removal deviation from 13% to 17%, primary from 6% to 8%.
 */
const RANGE_WEIGHT = 0.001;

/**
 * Weight of the neighbour term: for each member, the square of how many newcomer tokens have it among
 * their rf nearest distinct owners on one side. A member beside many of the newcomer's tokens is the
 * one that takes over when either leaves; dropping this term took the worst after-removal deviation
 * from 13% to 17% (measured as for RANGE_WEIGHT).
 */
const NEIGHBOUR_WEIGHT = 0.001;

/**
 * Weight of the removal term (removalCost): the deviations left after removing each member in turn.
 * At 16 vnodes, growing to 64 nodes, the worst after-removal deviation at 16 sizes measured was 18.6%
 * at weight 0, 15.5% at 1, 13.1% at 3; at 10 primary ownership reached 12%.
 */
const REMOVAL_WEIGHT = 3;

/**
 * The removal term takes each deviation to the fourth power over this squared, so deviations above it
 * weigh more than their square and smaller ones less: the target is the worst node after the worst
 * removal, not the average. With the square alone the worst after-removal deviation over every size
 * from 4 to 64 nodes (16 vnodes) was 16.4%, with the fourth power 14.5% (primary 6.8%, replicated 6.7%).
 */
const REMOVAL_DEVIATION_SCALE = 0.1;

/**
 * Candidates, ranked by the local gain, whose whole objective (with the removal term, which needs the
 * whole ring) is computed before one is taken: each costs one objective, O(N·T + N²). Twelve
 * instead of six doubled the time of a join and did not lower the worst after-removal deviation.
 */
const CANDIDATES_KEPT = 6;

/** Newcomer shares tried in each range, as multiples of its quota (what it still needs per token). */
const QUOTA_MULTIPLES = [0.5, 0.75, 1, 1.25, 1.5] as const;

/**
 * Passes that move each placed token to its best place given all the others. Allocation stops
 * early when a pass moves nothing. In bench/ownership.ts (4–32 nodes, median seed, weight 2) the
 * worst replicated deviation was 9–13% without refinement, 1.5–11.5% with 2 passes, 2.6–9.4% with 8.
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
 * How far inside its arc a token is kept, as a share of the ring (1.8e10 tokens): far wider than the
 * rounding of a double share into a bigint token (~2^11 tokens), so a token never lands in the arc
 * next to the one it was chosen for.
 */
const ARC_EDGE_MARGIN = 1e-9;

/** Ranges narrower than this many tokens are not split (a token must fall strictly inside). */
const MIN_SPLIT_WIDTH = 4;

/** Width of a range as a fraction of the ring, for scoring only (tokens stay bigint). */
const RING = Number(TOKEN_SPACE);

/**
 * The ring being allocated, as parallel arrays in token order: entry i is the range
 * (tokens[i-1], tokens[i]] owned by owners[i] (a member index; the newcomer is the last index).
 */
interface WorkRing {
  readonly tokens: Token[];
  readonly owners: number[];
  /** widths[i] / RING: the share of the ring range i covers. */
  readonly widths: number[];
}

/** A walk clockwise from range `from`: the first `limit` distinct owners, bounded by one lap. */
function distinctOwnersFrom(ring: WorkRing, from: number, limit: number): number[] {
  const size = ring.owners.length;
  const found: number[] = [];
  for (let step = 0; step < size && found.length < limit; step++) {
    const owner = ring.owners[(from + step) % size] as number;
    if (!found.includes(owner)) found.push(owner);
  }
  return found;
}

/** Primary and replicated share of every member (SimpleStrategy, as ring/placement.ts). */
function shares(ring: WorkRing, members: number, replicas: number): { primary: Float64Array; replicated: Float64Array } {
  const primary = new Float64Array(members);
  const replicated = new Float64Array(members);
  for (let index = 0; index < ring.owners.length; index++) {
    const width = ring.widths[index] as number;
    const owner = ring.owners[index] as number;
    primary[owner] = (primary[owner] as number) + width;
    for (const replica of distinctOwnersFrom(ring, index, replicas)) replicated[replica] = (replicated[replica] as number) + width;
  }
  return { primary, replicated };
}

/** One candidate's effect on a member's shares. */
interface Change {
  member: number;
  primary: number;
  replicated: number;
}

function addChange(changes: Change[], member: number, primary: number, replicated: number): void {
  const existing = changes.find((change) => change.member === member);
  if (existing === undefined) changes.push({ member, primary, replicated });
  else {
    existing.primary += primary;
    existing.replicated += replicated;
  }
}

/** The allocation in progress: the ring, its members, and what even means for them. */
interface Allocation {
  readonly work: WorkRing;
  readonly members: number;
  readonly newcomer: number;
  readonly replicas: number;
  readonly primaryEven: number;
  readonly replicatedEven: number;
  /** Even width of one range once the newcomer is in: 1 / (tokens on the ring + its tokens). */
  readonly rangeEven: number;
}

/** Squared deviation from even, relative to even. */
function cost(value: number, even: number): number {
  return ((value - even) / even) ** 2;
}

/**
 * What removing one member would do: for each member X and each other Y, Y's replicated share once X
 * is gone, compared with even among the others (rf/(N−1)), to the fourth power, summed, over N. Removing X
 * changes no other token, so a range whose first `replicas` distinct owners include X gains the next
 * distinct owner after them; one walk of `replicas + 1` owners per range gives every pair at once.
 */
function removalCost(allocation: Allocation, replicated: Float64Array): number {
  const { work, members, replicas } = allocation;
  if (members < 2) return 0;
  const gained = new Float64Array(members * members);
  for (let range = 0; range < work.owners.length; range++) {
    const walk = distinctOwnersFrom(work, range, replicas + 1);
    if (walk.length <= replicas) continue;
    const next = walk[replicas] as number;
    const width = work.widths[range] as number;
    for (let position = 0; position < replicas; position++) {
      const removed = walk[position] as number;
      gained[removed * members + next] = (gained[removed * members + next] as number) + width;
    }
  }
  const even = Math.min(replicas, members - 1) / (members - 1);
  let total = 0;
  for (let removed = 0; removed < members; removed++) {
    for (let other = 0; other < members; other++) {
      if (other === removed) continue;
      const squared = cost((replicated[other] as number) + (gained[removed * members + other] as number), even);
      // Fourth power, scaled to equal the square at REMOVAL_DEVIATION_SCALE: the worst pairs count.
      total += (squared * squared) / REMOVAL_DEVIATION_SCALE ** 2;
    }
  }
  return total / members;
}

/** The objective the allocator lowers: replicated plus weighted primary spread, over all members. */
function objective(allocation: Allocation): number {
  const { primary, replicated } = shares(allocation.work, allocation.members, allocation.replicas);
  let total = 0;
  for (const width of allocation.work.widths) total += RANGE_WEIGHT * cost(width, allocation.rangeEven);
  total += REMOVAL_WEIGHT * removalCost(allocation, replicated);
  const neighbours = neighbourCounts(allocation);
  for (let member = 0; member < allocation.members; member++) {
    total += NEIGHBOUR_WEIGHT * ((neighbours.before[member] as number) ** 2 + (neighbours.after[member] as number) ** 2);
  }
  for (let member = 0; member < allocation.members; member++) {
    total += PRIMARY_WEIGHT * cost(primary[member] as number, allocation.primaryEven);
    total += cost(replicated[member] as number, allocation.replicatedEven);
  }
  return total;
}

/** The arc of `arcs` equal arcs of the ring (arc k is [k/arcs, (k+1)/arcs) of the token space) holding token. */
export function arcOf(token: Token, arcs: number): number {
  return Number((token * BigInt(arcs)) / TOKEN_SPACE);
}

/** The first `limit` distinct owners other than `skip` walking counter-clockwise from range `from` - 1. */
function distinctOwnersBefore(ring: WorkRing, from: number, limit: number, skip: number): number[] {
  const size = ring.owners.length;
  const found: number[] = [];
  for (let back = 1; back < size && found.length < limit; back++) {
    const owner = ring.owners[(from - back + size) % size] as number;
    if (owner !== skip && !found.includes(owner)) found.push(owner);
  }
  return found;
}

/** The first `limit` distinct owners other than `skip` walking clockwise from range `from`. */
function distinctOwnersAfter(ring: WorkRing, from: number, limit: number, skip: number): number[] {
  const size = ring.owners.length;
  const found: number[] = [];
  for (let step = 0; step < size && found.length < limit; step++) {
    const owner = ring.owners[(from + step) % size] as number;
    if (owner !== skip && !found.includes(owner)) found.push(owner);
  }
  return found;
}

/**
 * For each member, how many newcomer tokens have it among the `replicas` distinct owners just before
 * (`before`) or just after (`after`) them: the pairs whose repetition concentrates a removal.
 */
function neighbourCounts(allocation: Allocation): { before: Int32Array; after: Int32Array } {
  const { work, members, newcomer, replicas } = allocation;
  const before = new Int32Array(members);
  const after = new Int32Array(members);
  for (let range = 0; range < work.owners.length; range++) {
    if (work.owners[range] !== newcomer) continue;
    for (const member of distinctOwnersBefore(work, range, replicas, newcomer)) before[member] = (before[member] as number) + 1;
    for (const member of distinctOwnersAfter(work, range + 1, replicas, newcomer)) after[member] = (after[member] as number) + 1;
  }
  return { before, after };
}

/** A place for one more newcomer token: `taken` of range `range` (share of the ring), landing in `arc`. */
interface Split {
  readonly range: number;
  readonly taken: number;
  readonly arc: number;
  readonly gain: number;
}

/**
 * The best place for one more newcomer token in an arc where it has none yet (`freeArcs`), or none.
 * Gain is the drop of the objective; it may be negative when every place makes things worse, and
 * the token must go somewhere all the same.
 */
function bestSplits(allocation: Allocation, tokensLeft: number, freeArcs: readonly boolean[], keep: number): Split[] {
  const { work, newcomer, replicas, primaryEven, replicatedEven, rangeEven } = allocation;
  const arcs = freeArcs.length;
  const { primary, replicated } = shares(work, allocation.members, replicas);
  const size = work.owners.length;
  // The newcomer's primary share still to take, spread over the tokens still to place.
  const quota = Math.max(0, primaryEven - (primary[newcomer] as number)) / tokensLeft;
  const neighbours = neighbourCounts(allocation);
  // The `keep` best so far, best first: a short list, so insertion is cheap.
  const best: Split[] = [];
  const offer = (candidate: Split): void => {
    if (best.length === keep && candidate.gain <= (best[keep - 1] as Split).gain) return;
    let at = best.length;
    while (at > 0 && (best[at - 1] as Split).gain < candidate.gain) at--;
    best.splice(at, 0, candidate);
    if (best.length > keep) best.pop();
  };
  for (let split = 0; split < size; split++) {
    const owner = work.owners[split] as number;
    const width = work.widths[split] as number;
    // Ranges too narrow to hold a token inside are not split.
    if (width * RING < MIN_SPLIT_WIDTH) continue;
    // The parts of this range that lie in a free arc: where a token may go, as (lo, hi) of the
    // share taken. The walk is over unwrapped arc numbers, so a range across the wrap works too.
    const startPosition = Number(work.tokens[(split - 1 + size) % size] as Token) / RING;
    const windows: { arc: number; lo: number; hi: number }[] = [];
    const lastArc = Math.floor((startPosition + width) * arcs);
    for (let unwrapped = Math.floor(startPosition * arcs); unwrapped <= lastArc; unwrapped++) {
      const arc = unwrapped % arcs;
      if (!freeArcs[arc]) continue;
      const lo = Math.max(0, unwrapped / arcs - startPosition) + ARC_EDGE_MARGIN;
      const hi = Math.min(width, (unwrapped + 1) / arcs - startPosition) - ARC_EDGE_MARGIN;
      if (hi > lo) windows.push({ arc, lo, hi });
    }
    if (windows.length === 0) continue;
    if (owner === newcomer) {
      // Splitting its own range changes nobody's share: a neutral place, for an arc that the
      // newcomer's range covers whole (a stretch of an old ring with no other token in it).
      const window = windows[0] as { arc: number; lo: number; hi: number };
      const taken = (window.lo + window.hi) / 2;
      const gain = RANGE_WEIGHT * (cost(width, rangeEven) - cost(taken, rangeEven) - cost(width - taken, rangeEven));
      offer({ range: split, taken, arc: window.arc, gain });
      continue;
    }
    // Changes that do not depend on where in the range the token goes: each range before this one
    // whose replica walk reaches it before finding `replicas` owners now meets the newcomer first,
    // which displaces the last replica it had (unless the newcomer was already among them).
    const fixed: Change[] = [];
    const ahead = distinctOwnersFrom(work, split, 2 * replicas);
    const behind: number[] = [];
    for (let back = 1; back < size; back++) {
      const range = (split - back + size) % size;
      const rangeOwner = work.owners[range] as number;
      if (!behind.includes(rangeOwner)) behind.push(rangeOwner);
      if (behind.length >= replicas) break;
      if (behind.includes(newcomer)) continue;
      const completion = ahead.filter((member) => !behind.includes(member)).slice(0, replicas - behind.length);
      if (completion.includes(newcomer)) continue;
      const share = work.widths[range] as number;
      addChange(fixed, newcomer, 0, share);
      if (completion.length === replicas - behind.length) addChange(fixed, completion[completion.length - 1] as number, 0, -share);
    }
    // This range: the newcomer's part (start, token] moves its primary from the owner, and the
    // newcomer becomes a replica of it in place of the last one (unless it already was one). On a
    // ring with fewer members than replicas the walk from the owner's part laps round to the newcomer.
    // Repeating a neighbour: each further newcomer token beside the same member adds 2c + 1 to c².
    let repeats = 0;
    for (const member of distinctOwnersBefore(work, split, replicas, newcomer)) repeats += 2 * (neighbours.before[member] as number) + 1;
    for (const member of distinctOwnersAfter(work, split, replicas, newcomer)) repeats += 2 * (neighbours.after[member] as number) + 1;
    const current = ahead.slice(0, replicas);
    const already = current.includes(newcomer);
    const full = current.length === replicas;
    const wanted: number[] = CANDIDATE_FRACTIONS.map((fraction) => fraction * width);
    for (const multiple of QUOTA_MULTIPLES) if (quota > 0) wanted.push(quota * multiple);
    for (const window of windows) {
      // Each wanted share, moved into this window if it falls outside, and the window's middle.
      const takens = wanted.map((taken) => Math.min(window.hi, Math.max(window.lo, taken)));
      takens.push((window.lo + window.hi) / 2);
      for (const taken of takens) {
        const changes = fixed.map((change) => ({ ...change }));
        addChange(changes, owner, -taken, 0);
        addChange(changes, newcomer, taken, already ? 0 : full ? taken : width);
        if (!already && full) addChange(changes, current[replicas - 1] as number, 0, -taken);
        // Splitting a wide range near its middle evens range widths; a sliver off one does not.
        let gain = RANGE_WEIGHT * (cost(width, rangeEven) - cost(taken, rangeEven) - cost(width - taken, rangeEven)) - NEIGHBOUR_WEIGHT * repeats;
        for (const change of changes) {
          const oldPrimary = primary[change.member] as number;
          const oldReplicated = replicated[change.member] as number;
          gain += PRIMARY_WEIGHT * (cost(oldPrimary, primaryEven) - cost(oldPrimary + change.primary, primaryEven));
          gain += cost(oldReplicated, replicatedEven) - cost(oldReplicated + change.replicated, replicatedEven);
        }
        offer({ range: split, taken, arc: window.arc, gain });
      }
    }
  }
  return best;
}

/** Places a newcomer token at `chosen`: the exact token, strictly inside its range and in its arc. */
function split(allocation: Allocation, chosen: Split, arcs: number): Token {
  const { work } = allocation;
  const { range } = chosen;
  const size = work.owners.length;
  const end = work.tokens[range] as Token;
  const previous = work.tokens[(range - 1 + size) % size] as Token;
  const width = rangeWidth({ start: previous, end });
  assert(width >= 2n, "a range one token wide cannot be split");
  let amount = BigInt(Math.floor(chosen.taken * RING));
  if (amount >= width) amount = width - 1n;
  if (amount < 1n) amount = 1n;
  const token = (previous + amount) % TOKEN_SPACE;
  assert(token !== end && token !== previous, "a split point is strictly inside its range");
  // ARC_EDGE_MARGIN is far wider than the rounding of a double share into tokens.
  assert(arcOf(token, arcs) === chosen.arc, () => `token ${token} meant for arc ${chosen.arc} landed in arc ${arcOf(token, arcs)}`);
  // The arrays are in ring order from an arbitrary start, so inserting before `range` keeps them so.
  const share = Number(amount) / RING;
  work.tokens.splice(range, 0, token);
  work.owners.splice(range, 0, allocation.newcomer);
  work.widths.splice(range, 0, share);
  work.widths[range + 1] = (work.widths[range + 1] as number) - share;
  return token;
}

/** Takes a newcomer token back out: its range returns to the range after it. */
function unsplit(allocation: Allocation, token: Token): void {
  const { work } = allocation;
  const at = work.tokens.indexOf(token);
  assert(at >= 0 && work.owners[at] === allocation.newcomer, "only a newcomer token is taken back");
  const next = (at + 1) % work.tokens.length;
  work.widths[next] = (work.widths[next] as number) + (work.widths[at] as number);
  work.tokens.splice(at, 1);
  work.owners.splice(at, 1);
  work.widths.splice(at, 1);
}

/**
 * `count` distinct tokens, ascending, for a node joining `ring`, placed to even out replicated and
 * primary ownership at `replicationFactor`, one in each of `count` equal arcs of the ring (see the
 * theory of operation above). `self` must not own tokens on `ring` already.
 */
export function balancedTokens(ring: TokenMap, count: number, replicationFactor: number, random: Random, self?: NodeId): Token[] {
  if (ring.size === 0) return evenlySpacedTokens(random, count);
  assert(Number.isSafeInteger(count) && count >= 1, () => `token count must be a positive integer, got ${count}`);
  assert(count <= TOKENS_PER_ALLOCATION_MAX, () => `token count ${count} exceeds ${TOKENS_PER_ALLOCATION_MAX}`);
  assert(Number.isSafeInteger(replicationFactor) && replicationFactor >= 1, () => `replication factor must be a positive integer, got ${replicationFactor}`);
  assert(self === undefined || !ring.nodes().includes(self), () => `${self} already owns tokens on this ring`);
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
  const allocation: Allocation = {
    work,
    members,
    newcomer: members - 1,
    replicas,
    primaryEven: 1 / members,
    replicatedEven: replicas / members,
    rangeEven: 1 / (ring.size + count),
  };
  // One token per arc: freeArcs[k] while the newcomer has no token in arc k.
  const freeArcs: boolean[] = new Array<boolean>(count).fill(true);

  // Greedy: each token where it lowers the objective most, among the arcs still free.
  const chosen: Token[] = [];
  for (let placed = 0; placed < count; placed++) {
    const candidates = bestSplits(allocation, count - placed, freeArcs, CANDIDATES_KEPT);
    assert(candidates.length > 0, "a free arc has a range wide enough to split");
    const best = lowestObjective(allocation, candidates, count);
    chosen.push(split(allocation, best, count));
    freeArcs[best.arc] = false;
  }
  // Refinement: the first tokens were placed knowing least; move each, within its own arc, to where
  // it now does most good, keeping a move only when the objective drops.
  const rounds = Math.min(REFINEMENT_ROUNDS_MAX, Math.floor(REFINEMENT_EVALUATIONS_MAX / (count * (ring.size + count))));
  for (let round = 0; round < rounds; round++) {
    let moved = false;
    for (let position = 0; position < chosen.length; position++) {
      const before = objective(allocation);
      const old = chosen[position] as Token;
      const arc = arcOf(old, count);
      unsplit(allocation, old);
      freeArcs[arc] = true;
      const candidates = bestSplits(allocation, 1, freeArcs, CANDIDATES_KEPT);
      assert(candidates.length > 0 && candidates.every((candidate) => candidate.arc === arc), "the arc just freed has a range wide enough to split");
      const best = lowestObjective(allocation, candidates, count);
      const token = split(allocation, best, count);
      freeArcs[arc] = false;
      if (objective(allocation) < before - 1e-12 && !chosen.includes(token)) {
        chosen[position] = token;
        moved = true;
        continue;
      }
      unsplit(allocation, token);
      const back = work.tokens.findIndex((candidate, at) => rangeContains({ start: work.tokens[(at - 1 + work.tokens.length) % work.tokens.length] as Token, end: candidate }, old));
      assert(back >= 0, "the ring covers every token");
      reinsert(allocation, back, old);
    }
    if (!moved) break;
  }
  const result = [...chosen].sort(compareTokens);
  assert(new Set(result).size === count, "the allocated tokens are distinct");
  assert(new Set(result.map((token) => arcOf(token, count))).size === count, "one allocated token in each arc");
  for (const token of result) assert(!ring.tokens().includes(token), "an allocated token is not on the ring already");
  return result;
}

/**
 * Of a few candidates ranked by their local gain, the one whose whole objective is lowest: the local
 * gain leaves out what a removal would do (removalCost), which only the whole ring shows.
 */
function lowestObjective(allocation: Allocation, candidates: readonly Split[], arcs: number): Split {
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

/** Puts `token` back as a newcomer token inside range `range` (undoing a move). */
function reinsert(allocation: Allocation, range: number, token: Token): void {
  const { work } = allocation;
  const size = work.owners.length;
  const previous = work.tokens[(range - 1 + size) % size] as Token;
  const share = Number(rangeWidth({ start: previous, end: token })) / RING;
  work.tokens.splice(range, 0, token);
  work.owners.splice(range, 0, allocation.newcomer);
  work.widths.splice(range, 0, share);
  work.widths[range + 1] = (work.widths[range + 1] as number) - share;
}

/**
 * The most of `tokens` (one node's) that any stretch of the ring `stretch` tokens long holds: how
 * bunched a node's tokens are. Issue 21 bounds it at 2 for stretches of 1/(4·T) of the ring, T being
 * the node's token count; one token per arc (balancedTokens) keeps it so, since such a stretch meets
 * at most two arcs.
 */
export function tokensInFullestStretch(tokens: readonly Token[], stretch: bigint): number {
  const sorted = [...tokens].sort(compareTokens);
  const count = sorted.length;
  let fullest = 0;
  // Stretches starting at each token, [token, token + stretch), wrapping; the fullest starts at one.
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
