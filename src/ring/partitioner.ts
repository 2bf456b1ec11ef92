// Partitioner: key → token.
//
// Theory of operation. Every key is placed on a ring of 2^64 tokens by hashing its UTF-8 bytes
// (SPEC §2 keys are UTF-8 strings) with xxHash64, seed 0. This is the role of Cassandra's
// Murmur3Partitioner and of the MD5 ring of the Dynamo paper (§4.2): a hash that is fast and
// spreads any key set evenly, so that a node's share of keys follows its share of the token space.
// The hash is not cryptographic and need not be: tokens only have to be evenly spread and identical
// on every node and in every release. Changing the function or the seed would move every key, so
// both are fixed here for the life of the on-disk format.
//
// Tokens are unsigned 64-bit bigints. Their text form (identity files, gossip, /cluster/ring) is
// exactly 16 lowercase hex digits, so that text order equals numeric order and parsing is strict.
//
// The WebAssembly hasher is created once, by a top-level await, so that tokenOf stays synchronous.
// It is the only module-level value here and it holds no protocol state: the same input always
// yields the same token.

import xxhash from "xxhash-wasm";
import { assert } from "../core/assert.js";

/** A position on the ring: an unsigned 64-bit integer, 0n .. TOKEN_MAX. */
export type Token = bigint;

/** The number of tokens on the ring. */
export const TOKEN_SPACE: bigint = 2n ** 64n;

/** The largest token; the ring wraps from here to 0n. */
export const TOKEN_MAX: Token = TOKEN_SPACE - 1n;

/** The smallest token. */
export const TOKEN_MIN: Token = 0n;

/** Hex digits in a token's text form: 64 bits, zero-padded so text order is numeric order. */
export const TOKEN_TEXT_LENGTH = 16;

/** xxHash64's seed. Fixed forever: a different seed would put every stored key on another token. */
const HASH_SEED = 0n;

export const TOKEN_TEXT_PATTERN = /^[0-9a-f]{16}$/;

const hasher = await xxhash();

/**
 * The token of a key: xxHash64 (seed 0) of its UTF-8 bytes. A string is encoded as UTF-8 first
 * (lone surrogates become U+FFFD, as TextEncoder does); raw bytes are hashed as they are.
 */
export function tokenOf(key: string | Uint8Array): Token {
  return typeof key === "string" ? hasher.h64(key, HASH_SEED) : hasher.h64Raw(key, HASH_SEED);
}

/** True for a bigint in 0n .. TOKEN_MAX. */
export function isToken(value: bigint): boolean {
  return value >= TOKEN_MIN && value <= TOKEN_MAX;
}

/** Exactly 16 lowercase hex digits, zero-padded. */
export function tokenToString(token: Token): string {
  assert(isToken(token), () => `not a 64-bit token: ${token}`);
  return token.toString(16).padStart(TOKEN_TEXT_LENGTH, "0");
}

/**
 * The inverse of tokenToString. Text comes from disk and from peers, so anything but exactly 16
 * lowercase hex digits is refused with an Error (an input error, not an invariant failure).
 */
export function tokenFromString(text: string): Token {
  if (!TOKEN_TEXT_PATTERN.test(text)) {
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    throw new Error(
      `invalid token ${JSON.stringify(shown)}: expected ${TOKEN_TEXT_LENGTH} lowercase hex digits`,
    );
  }
  return BigInt(`0x${text}`);
}

/**
 * Orders tokens ascending, for Array.prototype.sort (the default sort compares bigints as strings).
 */
export function compareTokens(a: Token, b: Token): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
