// bench/lib/tokens-before-issue-21.ts — the balancedTokens of ring/tokens.ts as it was before issue
// 21 (commit 531e086), kept unchanged below this header so bench/token-allocation.ts can show the
// old allocator beside the new one on the same join/leave sequences. It balances replicated and
// primary ownership but lets a node's tokens bunch together (9 of 16 in one narrow stretch); nodes
// no longer use it. Only this header, the import paths and the function's name differ from the
// original; the token helpers it shared with today's allocator (evenlySpacedTokens, the allocation
// bound) are imported from src/ring/random-tokens.ts, where they are unchanged since.

import { assert } from "../../src/core/assert.js";
import type { Random } from "../../src/core/random.js";
import type { NodeId } from "../../src/core/ids.js";
import { compareTokens, TOKEN_SPACE, type Token } from "../../src/ring/partitioner.js";
import { evenlySpacedTokens, TOKENS_PER_ALLOCATION_MAX } from "../../src/ring/random-tokens.js";
import { rangeContains, rangeWidth, type TokenMap } from "../../src/ring/token-map.js";

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
 * even, relative to even. Primary counts double: it is what the ±15% check of issue 5 reads and
 * what a coordinator's share of requests follows. With two refinement passes, weight 1 let the
 * worst primary deviation reach 12.6% at 16 nodes in bench/ownership.ts, weight 2 10.4%; with eight
 * passes and weight 2 it stays under 6% from 3 to 32 nodes, replicated under 11%.
 */
const PRIMARY_WEIGHT = 2;

/**
 * Newcomer shares tried in each range, as multiples of its quota (what it still needs per token).
 */
const QUOTA_MULTIPLES = [0.5, 0.75, 1, 1.25, 1.5] as const;

/**
 * Passes that move each placed token to its best place given all the others. Allocation stops
 * early when a pass moves nothing. In bench/ownership.ts (4–32 nodes, median seed, weight 2) the
 * worst replicated deviation was 9–13% without refinement, 1.5–11.5% with 2 passes, 2.6–9.4% with
 * 8.
 */
const REFINEMENT_ROUNDS_MAX = 8;

/**
 * Range evaluations (one range, all its split points) the refinement may spend: about 1.3 µs each,
 * so about 0.5 s. A join into 32 nodes × 16 vnodes needs ~75k (all passes, ~90 ms); larger rings or
 * vnode counts get fewer passes rather than a slow join (32 nodes × 256 vnodes: ~1.5 s, mostly the
 * greedy placement itself).
 */
const REFINEMENT_EVALUATIONS_MAX = 400_000;

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
function shares(
  ring: WorkRing,
  members: number,
  replicas: number,
): { primary: Float64Array; replicated: Float64Array } {
  const primary = new Float64Array(members);
  const replicated = new Float64Array(members);
  for (let index = 0; index < ring.owners.length; index++) {
    const width = ring.widths[index] as number;
    const owner = ring.owners[index] as number;
    primary[owner] = (primary[owner] as number) + width;
    for (const replica of distinctOwnersFrom(ring, index, replicas))
      replicated[replica] = (replicated[replica] as number) + width;
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
}

/** Squared deviation from even, relative to even. */
function cost(value: number, even: number): number {
  return ((value - even) / even) ** 2;
}

/**
 * The objective the allocator lowers: replicated plus weighted primary spread, over all members.
 */
function objective(allocation: Allocation): number {
  const { primary, replicated } = shares(allocation.work, allocation.members, allocation.replicas);
  let total = 0;
  for (let member = 0; member < allocation.members; member++) {
    total += PRIMARY_WEIGHT * cost(primary[member] as number, allocation.primaryEven);
    total += cost(replicated[member] as number, allocation.replicatedEven);
  }
  return total;
}

/** The best place for one more newcomer token: a range and a fraction of it, or none. */
function bestSplit(
  allocation: Allocation,
  tokensLeft: number,
): { range: number; fraction: number } | undefined {
  const { work, newcomer, replicas, primaryEven, replicatedEven } = allocation;
  const { primary, replicated } = shares(work, allocation.members, replicas);
  const size = work.owners.length;
  // The newcomer's primary share still to take, spread over the tokens still to place.
  const quota = Math.max(0, primaryEven - (primary[newcomer] as number)) / tokensLeft;
  let best: { range: number; fraction: number; gain: number } | undefined;
  for (let split = 0; split < size; split++) {
    const owner = work.owners[split] as number;
    const width = work.widths[split] as number;
    // The newcomer's own ranges are not split, nor ranges too narrow to hold a token inside.
    if (owner === newcomer || width * RING < MIN_SPLIT_WIDTH) continue;
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
      const completion = ahead
        .filter((member) => !behind.includes(member))
        .slice(0, replicas - behind.length);
      if (completion.includes(newcomer)) continue;
      const share = work.widths[range] as number;
      addChange(fixed, newcomer, 0, share);
      if (completion.length === replicas - behind.length)
        addChange(fixed, completion[completion.length - 1] as number, 0, -share);
    }
    // This range: the newcomer's part (start, token] moves its primary from the owner, and the
    // newcomer becomes a replica of it in place of the last one (unless it already was one). On a
    // ring with fewer members than replicas the walk from the owner's part laps round to the
    // newcomer.
    const current = ahead.slice(0, replicas);
    const already = current.includes(newcomer);
    const full = current.length === replicas;
    const fractions: number[] = [...CANDIDATE_FRACTIONS];
    for (const multiple of QUOTA_MULTIPLES) {
      const fraction = (quota * multiple) / width;
      if (fraction > 0 && fraction < 1) fractions.push(fraction);
    }
    for (const fraction of fractions) {
      const taken = width * fraction;
      const changes = fixed.map((change) => ({ ...change }));
      addChange(changes, owner, -taken, 0);
      addChange(changes, newcomer, taken, already ? 0 : full ? taken : width);
      if (!already && full) addChange(changes, current[replicas - 1] as number, 0, -taken);
      let gain = 0;
      for (const change of changes) {
        const oldPrimary = primary[change.member] as number;
        const oldReplicated = replicated[change.member] as number;
        gain +=
          PRIMARY_WEIGHT *
          (cost(oldPrimary, primaryEven) - cost(oldPrimary + change.primary, primaryEven));
        gain +=
          cost(oldReplicated, replicatedEven) -
          cost(oldReplicated + change.replicated, replicatedEven);
      }
      if (best === undefined || gain > best.gain) best = { range: split, fraction, gain };
    }
  }
  return best;
}

/** Places a newcomer token `fraction` into range `range`: the exact token, strictly inside it. */
function split(allocation: Allocation, range: number, fraction: number): Token {
  const { work } = allocation;
  const size = work.owners.length;
  const end = work.tokens[range] as Token;
  const previous = work.tokens[(range - 1 + size) % size] as Token;
  const width = rangeWidth({ start: previous, end });
  assert(width >= 2n, "a range one token wide cannot be split");
  let amount = BigInt(Math.floor(Number(width) * fraction));
  if (amount >= width) amount = width - 1n;
  if (amount < 1n) amount = 1n;
  const token = (previous + amount) % TOKEN_SPACE;
  assert(token !== end && token !== previous, "a split point is strictly inside its range");
  // The arrays are in ring order from an arbitrary start, so inserting before `range` keeps them
  // so.
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
 * primary ownership at `replicationFactor` (see the theory of operation above). `self` must not own
 * tokens on `ring` already.
 */
export function balancedTokensBeforeIssue21(
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
  };

  // Greedy: each token where it lowers the objective most, given the tokens placed before it.
  const chosen: Token[] = [];
  for (let placed = 0; placed < count; placed++) {
    const best = bestSplit(allocation, count - placed);
    assert(best !== undefined, "the ring has a range wide enough to split");
    chosen.push(split(allocation, best.range, best.fraction));
  }
  // Refinement: the first tokens were placed knowing least; move each to where it now does most
  // good, keeping a move only when the objective drops.
  const rounds = Math.min(
    REFINEMENT_ROUNDS_MAX,
    Math.floor(REFINEMENT_EVALUATIONS_MAX / (count * (ring.size + count))),
  );
  for (let round = 0; round < rounds; round++) {
    let moved = false;
    for (let position = 0; position < chosen.length; position++) {
      const before = objective(allocation);
      const old = chosen[position] as Token;
      unsplit(allocation, old);
      const best = bestSplit(allocation, 1);
      assert(best !== undefined, "the ring has a range wide enough to split");
      const token = split(allocation, best.range, best.fraction);
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
  const result = [...chosen].sort(compareTokens);
  assert(new Set(result).size === count, "the allocated tokens are distinct");
  for (const token of result)
    assert(!ring.tokens().includes(token), "an allocated token is not on the ring already");
  return result;
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
