// ring/random-tokens.ts — tokens chosen without looking at the ring: at random, or evenly spaced
// from a random offset (the first node of a cluster, which has no ring to look at).
//
// randomTokens (the old way, kept for comparison and for tests): a node takes `vnodes` tokens
// chosen uniformly at random, as Cassandra did before its allocation algorithm and as the Dynamo
// paper's "strategy 1" (§6.2) does: many small random ranges per node even out each node's share of
// the ring (the spread narrows roughly as 1/sqrt(vnodes)) and let a joining node take load from
// many members at once. Chance comes from a seeded Random, so a node's tokens are reproducible from
// its seed. Each token is two 32-bit draws (high word, low word) since one draw carries only 32
// bits. Collisions between nodes are possible but vanishingly rare (p ≈ n²/2^65) and TokenMap.build
// resolves them deterministically; collisions within one call are redrawn here, so the result is
// always `count` distinct tokens.

import { assert } from "../core/assert.js";
import type { Random } from "../core/random.js";
import { compareTokens, TOKEN_SPACE, type Token } from "./partitioner.js";

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

/**
 * `count` distinct tokens, ascending, from a seeded Random (the same seed gives the same tokens).
 */
export function randomTokens(random: Random, count: number): Token[] {
  assert(
    Number.isSafeInteger(count) && count >= 0,
    () => `token count must be a non-negative integer, got ${count}`,
  );
  assert(
    count <= TOKENS_PER_ALLOCATION_MAX,
    () => `token count ${count} exceeds ${TOKENS_PER_ALLOCATION_MAX}`,
  );
  const chosen = new Set<Token>();
  let draws = 0;
  while (chosen.size < count) {
    draws += 1;
    assert(
      draws <= count + REDRAWS_PER_ALLOCATION_MAX,
      "random source keeps repeating tokens; is it seeded properly?",
    );
    chosen.add((drawWord(random) << 32n) | drawWord(random));
  }
  return [...chosen].sort(compareTokens);
}

/** A 64-bit draw: a random offset on the ring. */
function drawToken(random: Random): Token {
  return (drawWord(random) << 32n) | drawWord(random);
}

/**
 * `count` tokens evenly spaced around the ring from a random offset: the first node of a cluster.
 */
export function evenlySpacedTokens(random: Random, count: number): Token[] {
  assert(
    Number.isSafeInteger(count) && count >= 1,
    () => `token count must be a positive integer, got ${count}`,
  );
  assert(
    count <= TOKENS_PER_ALLOCATION_MAX,
    () => `token count ${count} exceeds ${TOKENS_PER_ALLOCATION_MAX}`,
  );
  const step = TOKEN_SPACE / BigInt(count);
  const offset = drawToken(random) % step;
  const tokens: Token[] = [];
  for (let index = 0; index < count; index++) tokens.push(offset + step * BigInt(index));
  return tokens.sort(compareTokens);
}
