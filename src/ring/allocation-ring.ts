// ring/allocation-ring.ts — the ring a token allocation works on (balanced-tokens.ts): owners and
// widths in token order, with the edits that place a newcomer token and take it back out.
//
// The allocator tries many places and keeps few, so placing and undoing must be cheap and exact.
// Tokens are bigints: a split point is `amount` past the range's start with 1 ≤ amount < width, so
// it is strictly inside an existing range and can neither collide with the ring nor repeat; scoring
// uses doubles (shares of the ring), kept ARC_EDGE_MARGIN (allocation-candidates.ts) inside an arc
// so rounding cannot carry a token into the next one (asserted in split).

import { assert } from "../core/assert.js";
import { TOKEN_SPACE, type Token } from "./partitioner.js";
import { rangeWidth } from "./token-map.js";
import { arcOf } from "./token-spread.js";

/** Width of a range as a fraction of the ring, for scoring only (tokens stay bigint). */
export const RING = Number(TOKEN_SPACE);

/**
 * The ring being allocated, as parallel arrays in token order: entry i is the range
 * (tokens[i-1], tokens[i]] owned by owners[i] (a member index; the newcomer is the last index).
 */
export interface WorkRing {
  readonly tokens: Token[];
  readonly owners: number[];
  /** widths[i] / RING: the share of the ring range i covers. */
  readonly widths: number[];
}

/** The allocation in progress: the ring, its members, and what even means for them. */
export interface Allocation {
  readonly work: WorkRing;
  readonly members: number;
  readonly newcomer: number;
  readonly replicas: number;
  readonly primaryEven: number;
  readonly replicatedEven: number;
  /** Even width of one range once the newcomer is in: 1 / (tokens on the ring + its tokens). */
  readonly rangeEven: number;
}

/**
 * A place for one more newcomer token: `taken` of range `range` (share of the ring), landing in
 * `arc`.
 */
export interface Split {
  readonly range: number;
  readonly taken: number;
  readonly arc: number;
  readonly gain: number;
}

/** A walk clockwise from range `from`: the first `limit` distinct owners, bounded by one lap. */
export function distinctOwnersFrom(ring: WorkRing, from: number, limit: number): number[] {
  const size = ring.owners.length;
  const found: number[] = [];
  for (let step = 0; step < size && found.length < limit; step++) {
    const owner = ring.owners[(from + step) % size] as number;
    if (!found.includes(owner)) found.push(owner);
  }
  return found;
}

/**
 * The first `limit` distinct owners other than `skip` walking counter-clockwise from range `from` -
 * 1.
 */
export function distinctOwnersBefore(
  ring: WorkRing,
  from: number,
  limit: number,
  skip: number,
): number[] {
  const size = ring.owners.length;
  const found: number[] = [];
  for (let back = 1; back < size && found.length < limit; back++) {
    const owner = ring.owners[(from - back + size) % size] as number;
    if (owner !== skip && !found.includes(owner)) found.push(owner);
  }
  return found;
}

/** The first `limit` distinct owners other than `skip` walking clockwise from range `from`. */
export function distinctOwnersAfter(
  ring: WorkRing,
  from: number,
  limit: number,
  skip: number,
): number[] {
  const size = ring.owners.length;
  const found: number[] = [];
  for (let step = 0; step < size && found.length < limit; step++) {
    const owner = ring.owners[(from + step) % size] as number;
    if (owner !== skip && !found.includes(owner)) found.push(owner);
  }
  return found;
}

/**
 * Places a newcomer token at `chosen`: the exact token, strictly inside its range and in its arc.
 */
export function split(allocation: Allocation, chosen: Split, arcs: number): Token {
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
  assert(
    arcOf(token, arcs) === chosen.arc,
    () => `token ${token} meant for arc ${chosen.arc} landed in arc ${arcOf(token, arcs)}`,
  );
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
export function unsplit(allocation: Allocation, token: Token): void {
  const { work } = allocation;
  const at = work.tokens.indexOf(token);
  assert(at >= 0 && work.owners[at] === allocation.newcomer, "only a newcomer token is taken back");
  const next = (at + 1) % work.tokens.length;
  work.widths[next] = (work.widths[next] as number) + (work.widths[at] as number);
  work.tokens.splice(at, 1);
  work.owners.splice(at, 1);
  work.widths.splice(at, 1);
}

/** Puts `token` back as a newcomer token inside range `range` (undoing a move). */
export function reinsert(allocation: Allocation, range: number, token: Token): void {
  const { work } = allocation;
  const size = work.owners.length;
  const previous = work.tokens[(range - 1 + size) % size] as Token;
  const share = Number(rangeWidth({ start: previous, end: token })) / RING;
  work.tokens.splice(range, 0, token);
  work.owners.splice(range, 0, allocation.newcomer);
  work.widths.splice(range, 0, share);
  work.widths[range + 1] = (work.widths[range + 1] as number) - share;
}
